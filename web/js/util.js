// Small helpers shared by the client's modules: DOM building without innerHTML (so no message text
// is ever parsed as HTML), localStorage access that survives private mode, and formatting.

/** h('div', {class: 'x', onclick: fn}, child, 'text') -> HTMLElement. null/false children are skipped. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const storage = {
  get(key, fallback = null) {
    try {
      const raw = localStorage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  },
  set(key, value) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      /* storage full or disabled: the client keeps working from memory */
    }
  },
  remove(key) {
    try {
      localStorage.removeItem(key);
    } catch {
      /* ignore */
    }
  },
};

/** Random lowercase hex of `bytes` bytes. */
export function randomHex(bytes) {
  const a = new Uint8Array(bytes);
  crypto.getRandomValues(a);
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A stable id for this browser profile, used as the protocol's `device`. */
export function deviceId() {
  let id = storage.get('im.device');
  if (typeof id !== 'string' || !id) {
    id = 'web-' + randomHex(6);
    storage.set('im.device', id);
  }
  return id;
}

/** The 1:1 conversation id of users a and b (PROTOCOL.md section 2). */
export function directConv(a, b) {
  const [lo, hi] = BigInt(a) < BigInt(b) ? [a, b] : [b, a];
  return `u:${lo}:${hi}`;
}

/** {kind:'user', peer} or {kind:'group', group} for a conv id, seen from user `me`. */
export function parseConv(conv, me) {
  if (conv.startsWith('g:')) return { kind: 'group', group: Number(conv.slice(2)) };
  const [, a, b] = conv.split(':').map(Number);
  return { kind: 'user', peer: a === me ? b : a };
}

export function formatTime(ts) {
  const d = new Date(ts);
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const time = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return sameDay ? time : `${d.toLocaleDateString([], { month: 'short', day: 'numeric' })} ${time}`;
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** A one-line preview of a message body for the conversation list. */
export function previewOf(message) {
  if (!message) return '';
  if (message.recalled) return 'Message recalled';
  const body = message.body || {};
  if (typeof body.text === 'string') return body.text;
  if (body.file) return (body.mime || '').startsWith('image/') ? `Photo: ${body.name || 'image'}` : `File: ${body.name || 'file'}`;
  return '';
}
