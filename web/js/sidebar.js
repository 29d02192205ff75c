// The sidebar: conversation list (newest first, unread badges), starting chats and groups, and the
// friends tab (requests, presence dots, blocks).

import { api } from './api.js';
import { h, formatTime, previewOf, directConv, parseConv } from './util.js';
import {
  state, convTitle, userName, sortedConversations, conversation, refreshFriends, changed, ensureUser,
} from './state.js';

const $ = (id) => document.getElementById(id);
let ctx = null;

const COLORS = ['#3b6ef5', '#e0593c', '#1f9d55', '#a347d1', '#d98a00', '#0f8fa8', '#c62f6a', '#5a6b8c'];
export function avatar(label, key, online) {
  const color = COLORS[Math.abs(hash(String(key))) % COLORS.length];
  return h('span', { class: 'avatar', style: `background:${color}`, 'aria-hidden': 'true' },
    (label || '?').replace(/^#/, '').slice(0, 1).toUpperCase(),
    online === undefined ? null : h('span', { class: `dot${online ? ' online' : ''}` }));
}
function hash(s) {
  let x = 0;
  for (const ch of s) x = (x * 31 + ch.charCodeAt(0)) | 0;
  return x;
}

/** Finds a user by username (GET /api/users?username=); a number is taken as a user id. */
export async function lookupUser(text) {
  const value = text.trim().replace(/^@/, '');
  if (/^\d+$/.test(value)) return api.user(Number(value));
  return api.userByName(value);
}

export function initSidebar(context) {
  ctx = context;
  $('tab-chats').addEventListener('click', () => selectTab('chats'));
  $('tab-friends').addEventListener('click', () => selectTab('friends'));
  $('new-chat-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('new-chat-username');
    if (!input.value.trim()) return;
    try {
      const user = await lookupUser(input.value);
      if (user.user === state.me.user) return ctx.toast('That is you.');
      state.users.set(user.user, user);
      input.value = '';
      const conv = directConv(state.me.user, user.user);
      conversation(conv).touched = Date.now();
      ctx.open(conv);
    } catch (err) {
      ctx.toast(err.code === 'not_found' ? `No user "${input.value.trim()}"` : `Cannot start chat: ${err.message}`);
    }
  });
  $('add-friend-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('add-friend-username');
    if (!input.value.trim()) return;
    try {
      const user = await lookupUser(input.value);
      state.users.set(user.user, user);
      const res = await api.befriend(user.user);
      input.value = '';
      ctx.toast(res.state === 'friends' ? `You and ${user.username} are friends` : `Friend request sent to ${user.username}`);
      await refreshFriends();
    } catch (err) {
      ctx.toast(err.code === 'not_found' ? `No user "${input.value.trim()}"` : `Cannot add friend: ${err.message}`);
    }
  });

  const dialog = $('group-dialog');
  $('new-group-button').addEventListener('click', () => {
    $('group-error').textContent = '';
    $('group-name').value = '';
    $('group-members').value = '';
    dialog.showModal();
    $('group-name').focus();
  });
  $('group-cancel').addEventListener('click', () => dialog.close());
  $('group-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = $('group-name').value.trim();
    if (!name) return ($('group-error').textContent = 'The group needs a name.');
    const names = $('group-members').value.split(/[,\s]+/).filter(Boolean);
    try {
      const members = [];
      for (const n of names) {
        const user = await lookupUser(n).catch(() => null);
        if (!user) return ($('group-error').textContent = `No user "${n}"`);
        state.users.set(user.user, user);
        if (user.user !== state.me.user) members.push(user.user);
      }
      const { group } = await api.createGroup(name, [...new Set(members)].sort((a, b) => a - b));
      state.groups.set(group, { group, name, owner: state.me.user, members: [state.me.user, ...members] });
      conversation(`g:${group}`).touched = Date.now();
      dialog.close();
      changed('convs');
      ctx.open(`g:${group}`);
    } catch (err) {
      $('group-error').textContent = `Cannot create the group: ${err.message}`;
    }
  });
}

function selectTab(which) {
  const chats = which === 'chats';
  $('tab-chats').setAttribute('aria-selected', String(chats));
  $('tab-friends').setAttribute('aria-selected', String(!chats));
  $('panel-chats').hidden = !chats;
  $('panel-friends').hidden = chats;
}

export function renderSidebar(what) {
  if (['all', 'convs', 'messages', 'users', 'groups', 'open', 'typing'].includes(what)) renderConversations();
  if (['all', 'friends', 'users'].includes(what)) renderFriends();
}

let lastListSig = '';
let lastFriendsSig = '';

function renderConversations() {
  const list = $('conv-list');
  const convs = sortedConversations();
  // Rebuild only when something visible changed: replacing a button under the pointer loses a click.
  const sig = JSON.stringify(convs.map((c) => {
    const info = parseConv(c.conv, state.me.user);
    const t = state.typing.get(c.conv);
    return [c.conv, convTitle(c.conv), c.unread, state.current === c.conv, previewOf(c.last), c.last?.ts,
      info.kind === 'user' ? state.users.get(info.peer)?.online : null, !!(t && t.until > Date.now())];
  }));
  if (sig === lastListSig && list.childElementCount === convs.length) return;
  lastListSig = sig;
  const items = convs.map((c) => {
    const info = parseConv(c.conv, state.me.user);
    const title = convTitle(c.conv);
    const online = info.kind === 'user' ? state.users.get(info.peer)?.online ?? false : undefined;
    const typing = state.typing.get(c.conv);
    const preview = typing && typing.until > Date.now() ? 'typing…' : previewOf(c.last);
    const unread = c.unread > 0 ? h('span', { class: 'badge unread', 'aria-label': `${c.unread} unread` }, c.unread) : null;
    return h('li', {},
      h('button', {
        class: 'conv-item', type: 'button', 'aria-current': state.current === c.conv ? 'true' : 'false',
        dataset: { conv: c.conv }, onclick: () => ctx.open(c.conv),
        'aria-label': `${title}${c.unread ? `, ${c.unread} unread` : ''}`,
      },
      avatar(title, c.conv, online),
      h('span', { class: 'conv-text' }, h('div', { class: 'conv-name' }, title), h('div', { class: 'conv-preview' }, preview)),
      h('span', { class: 'conv-meta' }, c.last ? formatTime(c.last.ts) : '', unread)));
  });
  list.replaceChildren(...items);
  $('conv-empty').hidden = items.length > 0;
}

function person(id, ...actions) {
  const u = state.users.get(id);
  ensureUser(id);
  return h('li', { class: 'person', dataset: { user: id } },
    avatar(userName(id), id, u?.online ?? false),
    h('span', { class: 'name' }, userName(id), h('span', { class: 'muted small' }, u?.online ? ' · online' : '')),
    ...actions);
}

function action(label, fn, cls = 'small') {
  return h('button', { type: 'button', class: cls, onclick: async () => {
    try {
      await fn();
      await refreshFriends();
    } catch (err) {
      ctx.toast(`${label} failed: ${err.message}`);
    }
  } }, label);
}

function renderFriends() {
  const f = state.friends;
  const sig = JSON.stringify([f, [...state.blocks], [...f.friends, ...f.incoming, ...f.outgoing, ...state.blocks].map((id) => [userName(id), state.users.get(id)?.online])]);
  if (sig === lastFriendsSig) return;
  lastFriendsSig = sig;
  const badge = $('requests-badge');
  badge.hidden = f.incoming.length === 0;
  badge.textContent = String(f.incoming.length);
  const section = (title, ids, make, id) =>
    h('section', { class: 'friends-section', 'aria-label': title, id },
      h('h3', {}, `${title} (${ids.length})`),
      ids.length ? h('ul', { class: 'list' }, ids.map(make)) : h('p', { class: 'muted small' }, 'None'));
  const chat = (id) => h('button', { type: 'button', class: 'small', onclick: () => ctx.open(directConv(state.me.user, id)) }, 'Chat');
  $('friends-content').replaceChildren(
    section('Requests', f.incoming, (id) => person(id, action('Accept', () => api.befriend(id), 'small primary'), action('Decline', () => api.unfriend(id))), 'friend-requests'),
    section('Friends', f.friends, (id) => person(id, chat(id), action('Remove', () => api.unfriend(id), 'small danger')), 'friend-list'),
    section('Sent requests', f.outgoing, (id) => person(id, action('Cancel', () => api.unfriend(id))), 'friend-outgoing'),
    section('Blocked', [...state.blocks], (id) => person(id, action('Unblock', () => api.unblock(id))), 'block-list'),
  );
}
