// The client's model: conversations, their messages, users, groups, friends. Inbox events and
// server frames are applied here; views read it and re-render on `changed(what)`.
// Messages are kept per conversation by seq, so a message can never be shown twice even if it
// arrives both from history and live.

import { api } from './api.js';
import { storage, parseConv, directConv } from './util.js';

export const state = {
  me: null, // {user, username}
  convs: new Map(), // conv -> Conversation
  users: new Map(), // user id -> {user, username, online}
  groups: new Map(), // group id -> {group, name, owner, members}
  friends: { friends: [], incoming: [], outgoing: [] },
  blocks: new Set(),
  current: null, // open conv id
  typing: new Map(), // conv -> {from, until}
  peerRead: {}, // 1:1 conv -> highest seq the peer has read (persisted)
  listeners: new Set(),
};

/** Views subscribe with a function (what) => void; `what` is 'convs', 'messages', 'friends', ... */
export function subscribe(fn) {
  state.listeners.add(fn);
}
export function changed(what) {
  for (const fn of state.listeners) fn(what);
}

export function resetState() {
  state.me = null;
  state.convs.clear();
  state.users.clear();
  state.groups.clear();
  state.friends = { friends: [], incoming: [], outgoing: [] };
  state.blocks.clear();
  state.current = null;
  state.typing.clear();
  state.peerRead = {};
}

export function conversation(conv) {
  let c = state.convs.get(conv);
  if (!c) {
    c = { conv, last: null, unread: 0, read_seq: 0, messages: new Map(), oldest: null, hasMore: true, loaded: false, touched: Date.now() };
    state.convs.set(conv, c);
  }
  return c;
}

export function loadPeerRead() {
  state.peerRead = storage.get(`im.peerread.${state.me.user}`, {}) || {};
}

// ---- names ----

const userRequests = new Map();
/** Fetches a user's name and presence once; views re-render when it arrives. */
export function ensureUser(id) {
  if (state.users.has(id) || userRequests.has(id)) return;
  const p = api
    .user(id)
    .then((u) => {
      state.users.set(id, u);
      changed('users');
    })
    .catch(() => state.users.set(id, { user: id, username: `#${id}`, online: false }))
    .finally(() => userRequests.delete(id));
  userRequests.set(id, p);
}

export function userName(id) {
  if (id === state.me?.user) return state.me.username;
  ensureUser(id);
  return state.users.get(id)?.username || `#${id}`;
}

const groupRequests = new Map();
export function ensureGroup(id, force = false) {
  if ((!force && state.groups.has(id)) || groupRequests.has(id)) return groupRequests.get(id);
  const p = api
    .group(id)
    .then((g) => {
      state.groups.set(id, g);
      changed('groups');
      return g;
    })
    .catch(() => null)
    .finally(() => groupRequests.delete(id));
  groupRequests.set(id, p);
  return p;
}

export function convTitle(conv) {
  const info = parseConv(conv, state.me.user);
  if (info.kind === 'user') return userName(info.peer);
  ensureGroup(info.group);
  return state.groups.get(info.group)?.name || `Group ${info.group}`;
}

export function sendTarget(conv) {
  const info = parseConv(conv, state.me.user);
  return info.kind === 'user' ? { user: info.peer } : { group: info.group };
}

export function convOfTarget(to) {
  return to.user !== undefined ? directConv(state.me.user, to.user) : `g:${to.group}`;
}

// ---- loading ----

export async function refreshConversations() {
  const { conversations } = await api.conversations();
  for (const item of conversations) {
    const c = conversation(item.conv);
    c.last = item.last || c.last;
    c.unread = item.unread || 0;
    c.read_seq = item.read_seq || 0;
    // `unread` counts everything up to base; live events count only what comes after it, so a
    // replay after reconnect does not count a message twice.
    c.base = item.last?.seq || 0;
    if (item.last) addMessage(item.last, { quiet: true });
  }
  changed('convs');
}

export async function refreshGroups() {
  const { groups } = await api.groups();
  for (const g of groups) {
    const known = state.groups.get(g.group);
    state.groups.set(g.group, { ...(known || { members: [] }), ...g });
    conversation(`g:${g.group}`);
  }
  changed('convs');
}

export async function refreshFriends() {
  const [friends, blocks] = await Promise.all([api.friends(), api.blocks()]);
  state.friends = friends;
  state.blocks = new Set(blocks.blocks || []);
  for (const id of [...friends.friends, ...friends.incoming, ...friends.outgoing]) ensureUser(id);
  changed('friends');
}

/** Loads the page of history before the oldest loaded message. Returns how many arrived. */
export async function loadOlder(conv) {
  const c = conversation(conv);
  if (!c.hasMore || c.loadingOlder) return 0;
  c.loadingOlder = true;
  try {
    const { messages } = await api.messages(conv, c.oldest ?? undefined, 30);
    for (const m of messages) addMessage(m, { quiet: true });
    if (messages.length < 30) c.hasMore = false;
    c.loaded = true;
    changed('messages');
    return messages.length;
  } finally {
    c.loadingOlder = false;
  }
}

// ---- applying messages and events ----

/** Stores a message by seq; returns true if it was new. */
export function addMessage(m, { quiet = false } = {}) {
  const c = conversation(m.conv);
  const known = c.messages.get(m.seq);
  c.messages.set(m.seq, known ? { ...known, ...m } : m);
  if (c.oldest === null || m.seq < c.oldest) c.oldest = m.seq;
  if (!c.last || m.seq >= c.last.seq) c.last = c.messages.get(m.seq);
  if (!quiet) changed('messages');
  return !known;
}

/** An inbox event (PROTOCOL.md section 6), delivered exactly once by the connection. */
export function applyEvent(ev, hooks) {
  switch (ev.type) {
    case 'msg': {
      const message = { conv: ev.conv, seq: ev.seq, from: ev.from, body: ev.body, ts: ev.ts };
      if (ev.conv.startsWith('g:')) message.read_count = 0;
      // Read back from the server's store after a recall, the event carries no body (PROTOCOL.md 10).
      if (ev.recalled) message.recalled = true;
      const isNew = addMessage(message);
      const c = conversation(ev.conv);
      c.touched = Date.now();
      if (isNew && ev.from !== state.me.user && ev.seq > Math.max(c.read_seq, c.base || 0)) c.unread += 1;
      if (ev.from !== state.me.user) state.typing.delete(ev.conv);
      hooks.onIncoming?.(c);
      changed('convs');
      break;
    }
    case 'recalled': {
      const c = conversation(ev.conv);
      const m = c.messages.get(ev.seq);
      if (m) c.messages.set(ev.seq, { ...m, recalled: true, body: {} });
      if (c.last?.seq === ev.seq) c.last = c.messages.get(ev.seq) || { ...c.last, recalled: true, body: {} };
      changed('messages');
      changed('convs');
      break;
    }
    case 'read': {
      const c = conversation(ev.conv);
      if (ev.reader === state.me.user) {
        if (ev.seq > c.read_seq) {
          c.read_seq = ev.seq;
          // Count what is still unread among the messages we hold; the list refresh corrects it.
          let unread = 0;
          for (const m of c.messages.values()) if (m.seq > ev.seq && m.from !== state.me.user) unread += 1;
          c.unread = Math.min(c.unread, unread);
          hooks.onOwnRead?.(c);
        }
      } else if (!ev.conv.startsWith('g:')) {
        if ((state.peerRead[ev.conv] || 0) < ev.seq) {
          state.peerRead[ev.conv] = ev.seq;
          storage.set(`im.peerread.${state.me.user}`, state.peerRead);
        }
      }
      changed('messages');
      changed('convs');
      break;
    }
    case 'group': {
      const gone = (ev.event === 'removed' || ev.event === 'left') && ev.user === state.me.user;
      if (gone) {
        state.groups.delete(ev.group);
        state.convs.delete(`g:${ev.group}`);
        if (state.current === `g:${ev.group}`) state.current = null;
        changed('convs');
        changed('open');
      } else {
        conversation(`g:${ev.group}`).touched = Date.now();
        ensureGroup(ev.group, true);
        changed('convs');
      }
      hooks.onNotice?.(groupEventText(ev));
      break;
    }
    case 'friend':
      refreshFriends().catch(() => {});
      if (ev.state === 'requested') hooks.onNotice?.(`${userName(ev.user)} sent you a friend request`);
      break;
    case 'notice':
      hooks.onNotice?.(typeof ev.body?.text === 'string' ? ev.body.text : JSON.stringify(ev.body));
      break;
    default:
      break;
  }
}

function groupEventText(ev) {
  const who = ev.user === state.me.user ? 'You' : userName(ev.user);
  const name = state.groups.get(ev.group)?.name || `group ${ev.group}`;
  const verb = { created: 'are in the new', joined: 'joined', left: 'left', removed: 'were removed from' }[ev.event] || ev.event;
  return ev.event === 'created' ? `${who === 'You' ? 'You are' : `${who} is`} in the new group ${name}` : `${who} ${verb} ${name}`;
}

/** Non-inbox frames: typing, presence, read_count (PROTOCOL.md section 7). */
export function applyFrame(frame) {
  switch (frame.type) {
    case 'typing':
      if (frame.from === state.me.user) return;
      state.typing.set(frame.conv, { from: frame.from, until: Date.now() + 4000 });
      changed('typing');
      setTimeout(() => changed('typing'), 4100);
      break;
    case 'presence': {
      const u = state.users.get(frame.user);
      if (u) u.online = frame.online;
      else state.users.set(frame.user, { user: frame.user, username: `#${frame.user}`, online: frame.online }), ensureUser(frame.user);
      changed('users');
      break;
    }
    case 'read_count': {
      const c = conversation(frame.conv);
      const m = c.messages.get(frame.seq);
      if (m) c.messages.set(frame.seq, { ...m, read_count: Math.max(m.read_count || 0, frame.count) });
      changed('messages');
      break;
    }
    default:
      break;
  }
}

export function totalUnread() {
  let n = 0;
  for (const c of state.convs.values()) n += c.unread || 0;
  return n;
}

/** Conversations, most recent activity first. */
export function sortedConversations() {
  const key = (c) => Math.max(c.last?.ts || 0, c.last ? 0 : c.touched || 0);
  return [...state.convs.values()].sort((a, b) => key(b) - key(a));
}
