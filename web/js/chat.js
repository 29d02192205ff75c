// The conversation pane: history (paged backwards on scroll), live and pending messages, read
// receipts (1:1) and read counts (groups), recall, typing, file and image upload, group members.

import { api, fileUrl } from './api.js';
import { h, formatTime, formatBytes, parseConv } from './util.js';
import {
  state, changed, conversation, convTitle, userName, loadOlder, addMessage, sendTarget, convOfTarget,
  ensureGroup, refreshFriends,
} from './state.js';
import { lookupUser } from './sidebar.js';

const $ = (id) => document.getElementById(id);
const RECALL_WINDOW_MS = 120000; // the server's default recall_window_ms; the server has the last word
let ctx = null;
const rendered = new Map(); // message key -> {sig, el}, so re-rendering keeps images and focus
const failed = new Map(); // cid -> {entry, code}
let lastTypingSent = 0;
let membersOpen = false;

export function initChat(context) {
  ctx = context;
  const input = $('message-input');
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      sendText();
    }
  });
  input.addEventListener('input', () => {
    autosize(input);
    const now = Date.now();
    if (state.current && input.value && now - lastTypingSent > 1500) {
      lastTypingSent = now;
      ctx.connection()?.sendFrame({ type: 'typing', to: sendTarget(state.current) });
    }
  });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    sendText();
  });
  $('attach-button').addEventListener('click', () => $('file-input').click());
  $('file-input').addEventListener('change', async (e) => {
    const files = [...e.target.files];
    e.target.value = '';
    for (const file of files) await uploadAndSend(file);
  });
  $('back-button').addEventListener('click', () => {
    state.current = null;
    changed('open');
  });
  $('messages').addEventListener('scroll', () => maybeLoadOlder());
  setInterval(() => state.current && changed('tick'), 15000); // recall buttons expire, typing fades
}

function autosize(el) {
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight, 140)}px`;
}

function sendText() {
  const input = $('message-input');
  const text = input.value.replace(/\s+$/, '');
  if (!text.trim() || !state.current) return;
  input.value = '';
  autosize(input);
  ctx.connection()?.send(sendTarget(state.current), { text });
  changed('messages');
  scrollToBottom();
}

async function uploadAndSend(file) {
  if (!state.current) return;
  const conv = state.current;
  ctx.toast(`Uploading ${file.name}…`);
  try {
    const mime = file.type || 'application/octet-stream';
    const { url } = await api.upload(file, mime);
    ctx.connection()?.send(sendTarget(conv), { file: url, name: file.name, mime, size: file.size });
    changed('messages');
    scrollToBottom();
  } catch (err) {
    ctx.toast(err.status === 413 ? `${file.name} is too large` : `Upload failed: ${err.message}`);
  }
}

export async function openConversation(conv) {
  state.current = conv;
  membersOpen = false;
  rendered.clear();
  const c = conversation(conv);
  changed('open');
  $('message-input').focus();
  if (!c.loaded) {
    try {
      await loadOlder(conv);
      // Fill the pane: a short page leaves nothing to scroll, so the scroll trigger would never fire.
      const box = $('messages');
      while (state.current === conv && c.hasMore && box.scrollHeight <= box.clientHeight) {
        if ((await loadOlder(conv)) === 0) break;
      }
    } catch {
      c.loaded = true;
      c.hasMore = false;
      changed('messages');
    }
    if (state.current === conv) scrollToBottom();
  }
  const info = parseConv(conv, state.me.user);
  if (info.kind === 'group') ensureGroup(info.group, true);
  markReadIfVisible(conv);
}

/** Sends `read` for an open, visible conversation whose newest message is past the read cursor. */
export function markReadIfVisible(conv) {
  if (state.current !== conv || document.visibilityState !== 'visible') return;
  const c = conversation(conv);
  let newest = 0;
  for (const m of c.messages.values()) if (m.seq > newest) newest = m.seq;
  if (newest <= c.read_seq && c.unread === 0) return;
  if (newest > c.read_seq && ctx.connection()?.sendFrame({ type: 'read', conv, seq: newest })) c.read_seq = newest;
  c.unread = 0;
  changed('convs');
}

export function onAcked(ack, entry) {
  if (entry) addMessage({ conv: ack.conv, seq: ack.seq, from: state.me.user, body: entry.body, ts: ack.ts, ...(ack.conv.startsWith('g:') ? { read_count: 0 } : {}) });
  const c = conversation(ack.conv);
  if (ack.seq > c.read_seq) c.read_seq = ack.seq; // one's own message is read by oneself
  changed('convs');
}

export function onSendFailed(entry, err) {
  failed.set(entry.cid, { entry, code: err.code });
  const reasons = { blocked: 'you are blocked', not_member: 'you are not a member', no_such_user: 'no such user', too_large: 'too large' };
  ctx.toast(`Not sent: ${reasons[err.code] || err.code}`);
  changed('messages');
}

async function maybeLoadOlder() {
  const box = $('messages');
  const conv = state.current;
  if (!conv || box.scrollTop > 80) return;
  const c = conversation(conv);
  if (!c.hasMore || c.loadingOlder) return;
  const fromBottom = box.scrollHeight - box.scrollTop;
  await loadOlder(conv).catch(() => {});
  if (state.current === conv) box.scrollTop = box.scrollHeight - fromBottom; // keep the view still
}

function scrollToBottom() {
  const box = $('messages');
  requestAnimationFrame(() => (box.scrollTop = box.scrollHeight));
}

// ---- rendering ----

export function renderChat(what) {
  const conv = state.current;
  $('app-view').classList.toggle('in-chat', !!conv);
  $('chat-empty').hidden = !!conv;
  $('chat-pane').hidden = !conv;
  if (!conv) return;
  renderHeader(conv);
  if (what !== 'friends') renderMessages(conv);
  renderTyping(conv);
}

function renderHeader(conv) {
  const info = parseConv(conv, state.me.user);
  $('chat-title').textContent = convTitle(conv);
  const actions = [];
  if (info.kind === 'user') {
    const u = state.users.get(info.peer);
    const blocked = state.blocks.has(info.peer);
    $('chat-sub').textContent = blocked ? 'blocked' : u?.online ? 'online' : 'offline';
    $('chat-sub').dataset.online = String(!!u?.online);
    actions.push(h('button', { type: 'button', class: 'small', id: 'block-button', onclick: () => toggleBlock(info.peer, blocked) }, blocked ? 'Unblock' : 'Block'));
    $('members-panel').hidden = true;
  } else {
    const g = state.groups.get(info.group);
    const members = g?.members || [];
    $('chat-sub').textContent = `${members.length} member${members.length === 1 ? '' : 's'}`;
    actions.push(h('button', { type: 'button', class: 'small', id: 'members-button', 'aria-expanded': String(membersOpen), onclick: () => {
      membersOpen = !membersOpen;
      changed('groups');
    } }, 'Members'));
    renderMembers(info.group, g);
  }
  $('chat-actions').replaceChildren(...actions);
}

async function toggleBlock(peer, blocked) {
  try {
    if (blocked) await api.unblock(peer);
    else await api.block(peer);
    await refreshFriends();
    ctx.toast(blocked ? `Unblocked ${userName(peer)}` : `Blocked ${userName(peer)}`);
  } catch (err) {
    ctx.toast(`Failed: ${err.message}`);
  }
}

function renderMembers(group, g) {
  const panel = $('members-panel');
  panel.hidden = !membersOpen;
  if (!membersOpen || !g) return;
  const owner = g.owner === state.me.user;
  const member = (id) => h('li', { class: 'person', dataset: { user: id } },
    h('span', { class: 'name' }, userName(id), id === g.owner ? h('span', { class: 'muted small' }, ' · owner') : null),
    owner && id !== state.me.user ? h('button', { type: 'button', class: 'small danger', 'aria-label': `Remove ${userName(id)}`, onclick: () => removeMember(group, id) }, 'Remove') : null,
    id === state.me.user && !owner ? h('button', { type: 'button', class: 'small danger', onclick: () => removeMember(group, id) }, 'Leave') : null);
  const form = owner ? h('form', { class: 'inline-form', id: 'add-member-form', onsubmit: (e) => addMember(e, group) },
    h('input', { id: 'add-member-username', 'aria-label': 'Username to add', placeholder: 'Add member by username…', autocapitalize: 'none' }),
    h('button', { type: 'submit' }, 'Add')) : null;
  panel.replaceChildren(h('ul', { class: 'list', 'aria-label': 'Members' }, g.members.map(member)), form);
}

async function addMember(e, group) {
  e.preventDefault();
  const input = $('add-member-username');
  try {
    const user = await lookupUser(input.value);
    state.users.set(user.user, user);
    await api.addMembers(group, [user.user]);
    await ensureGroup(group, true);
  } catch (err) {
    ctx.toast(err.code === 'not_found' ? `No user "${input.value}"` : `Cannot add: ${err.message}`);
  }
}

async function removeMember(group, id) {
  try {
    await api.removeMember(group, id);
    if (id !== state.me.user) await ensureGroup(group, true);
  } catch (err) {
    ctx.toast(`Cannot remove: ${err.message}`);
  }
}

function renderTyping(conv) {
  const t = state.typing.get(conv);
  const active = t && t.until > Date.now();
  $('typing').textContent = active ? `${userName(t.from)} is typing…` : '';
}

function renderMessages(conv) {
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  const c = conversation(conv);
  const isGroup = conv.startsWith('g:');
  const peerRead = state.peerRead[conv] || 0;
  const items = [];
  if (c.loaded && !c.hasMore) items.push(['start', 'start', () => h('p', { class: 'history-note' }, 'Start of the conversation')]);
  else if (c.loadingOlder) items.push(['loading', 'loading', () => h('p', { class: 'history-note' }, 'Loading…')]);
  for (const m of [...c.messages.values()].sort((a, b) => a.seq - b.seq)) {
    const mine = m.from === state.me.user;
    let status = '';
    if (mine) status = isGroup ? `read:${m.read_count || 0}` : peerRead >= m.seq ? 'read' : 'sent';
    const canRecall = mine && !m.recalled && Date.now() - m.ts < RECALL_WINDOW_MS;
    const sig = `${status}|${m.recalled ? 1 : 0}|${canRecall ? 1 : 0}|${userName(m.from)}`;
    items.push([`s${m.seq}`, sig, () => messageElement(m, { mine, isGroup, status, canRecall })]);
  }
  const connection = ctx.connection();
  for (const p of connection ? connection.pendingSends() : []) {
    if (convOfTarget(p.to) !== conv) continue;
    items.push([`c${p.cid}`, 'pending', () => messageElement({ cid: p.cid, from: state.me.user, body: p.body, ts: p.created }, { mine: true, isGroup, status: 'pending' })]);
  }
  for (const { entry, code } of failed.values()) {
    if (convOfTarget(entry.to) !== conv) continue;
    items.push([`f${entry.cid}`, code, () => messageElement({ cid: entry.cid, from: state.me.user, body: entry.body, ts: entry.created }, { mine: true, isGroup, status: 'failed', code })]);
  }
  const keep = new Set();
  const elements = items.map(([key, sig, make]) => {
    keep.add(key);
    const known = rendered.get(key);
    if (known && known.sig === sig) return known.el;
    const el = make();
    rendered.set(key, { sig, el });
    return el;
  });
  for (const key of rendered.keys()) if (!keep.has(key)) rendered.delete(key);
  box.replaceChildren(...elements);
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function messageElement(m, { mine, isGroup, status, canRecall = false, code }) {
  const body = m.body || {};
  let content;
  if (m.recalled) content = h('div', { class: 'text' }, mine ? 'You recalled a message' : 'Message recalled');
  else if (body.file) {
    const isImage = (body.mime || '').startsWith('image/');
    const url = fileUrl(body.file);
    content = isImage
      ? h('a', { href: url, target: '_blank', rel: 'noopener', 'aria-label': `Open image ${body.name || ''}` },
        h('img', { class: 'preview', src: url, alt: body.name || 'image' }))
      : h('a', { class: 'file', href: url, download: body.name || 'file' }, 'File: ', body.name || 'file', body.size ? h('span', { class: 'muted small' }, ` (${formatBytes(body.size)})`) : null);
  } else content = h('div', { class: 'text' }, typeof body.text === 'string' ? body.text : JSON.stringify(body));

  let statusText = '';
  if (status === 'pending') statusText = 'Sending…';
  else if (status === 'failed') statusText = `Not sent (${code})`;
  else if (status === 'sent') statusText = '✓ Sent';
  else if (status === 'read') statusText = '✓✓ Read';
  else if (status.startsWith('read:')) statusText = `Read by ${status.slice(5)}`;

  const recall = canRecall ? h('button', { type: 'button', class: 'ghost recall', 'aria-label': 'Recall message', onclick: () => recallMessage(m) }, 'Recall') : null;
  const retry = status === 'failed' ? h('button', { type: 'button', class: 'ghost recall', onclick: () => {
    failed.delete(m.cid);
    changed('messages');
  } }, 'Dismiss') : null;
  return h('div', {
    class: `msg${mine ? ' mine' : ''}${m.recalled ? ' recalled' : ''}`,
    dataset: { seq: m.seq ?? '', cid: m.cid ?? '', status: status.startsWith('read:') ? 'group' : status || 'theirs', from: m.from },
  },
  isGroup && !mine ? h('div', { class: 'from' }, userName(m.from)) : null,
  content,
  h('div', { class: 'meta' }, recall, retry, h('time', { datetime: new Date(m.ts).toISOString() }, formatTime(m.ts)),
    statusText ? h('span', { class: 'status', 'aria-label': statusText }, statusText) : null));
}

function recallMessage(m) {
  if (!ctx.connection()?.sendFrame({ type: 'recall', conv: m.conv, seq: m.seq })) ctx.toast('Offline: try again when connected');
}
