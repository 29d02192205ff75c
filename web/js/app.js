// Entry point: sign-in, the connection, and wiring between the model and the views.

import { api, setToken, setUnauthorized, ApiError } from './api.js';
import { Connection } from './connection.js';
import { storage, deviceId } from './util.js';
import {
  state, subscribe, changed, resetState, loadPeerRead, applyEvent, applyFrame, refreshConversations,
  refreshGroups, refreshFriends, totalUnread, conversation,
} from './state.js';
import { initSidebar, renderSidebar } from './sidebar.js';
import { initChat, renderChat, openConversation, markReadIfVisible, onAcked, onSendFailed } from './chat.js';

const $ = (id) => document.getElementById(id);
let connection = null;

export function toast(text) {
  // The same text already on screen is not stacked again.
  for (const shown of $('toasts').children) if (shown.textContent === text) return;
  const el = document.createElement('div');
  el.className = 'toast';
  el.textContent = text;
  $('toasts').append(el);
  setTimeout(() => el.remove(), 4000);
}

export function getConnection() {
  return connection;
}

// ---- sign-in ----

function showAuth(message = '') {
  $('app-view').hidden = true;
  $('auth-view').hidden = false;
  $('auth-error').textContent = message;
  document.title = 'imserver';
  $('auth-username').focus();
}

async function signIn(register) {
  const username = $('auth-username').value.trim();
  const password = $('auth-password').value;
  $('auth-error').textContent = '';
  if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username)) {
    $('auth-error').textContent = 'Username: 3–32 letters, digits, _ . -';
    return;
  }
  if (password.length < 8) {
    $('auth-error').textContent = 'Password: at least 8 characters';
    return;
  }
  try {
    if (register) await api.register(username, password);
    const login = await api.login(username, password);
    storage.set('im.session', { token: login.token, user: login.user, username });
    $('auth-password').value = '';
    await start({ token: login.token, user: login.user, username });
  } catch (e) {
    const messages = {
      username_taken: 'That username is taken.',
      bad_credentials: 'Wrong username or password.',
      invalid: 'Username: 3–32 letters, digits, _ . -; password: 8–128 characters.',
      network: 'The server cannot be reached.',
    };
    $('auth-error').textContent = messages[e.code] || e.message;
  }
}

async function logout() {
  try {
    await api.logout();
  } catch {
    /* the token is forgotten either way */
  }
  endSession('');
}

function endSession(message) {
  connection?.stop();
  connection = null;
  storage.remove('im.session');
  setToken(null);
  resetState();
  showAuth(message);
}

// ---- the session ----

async function start(session) {
  setToken(session.token);
  resetState();
  try {
    const me = await api.me();
    state.me = { user: me.user, username: me.username };
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return endSession('Your session has ended. Please log in again.');
    state.me = { user: session.user, username: session.username };
  }
  loadPeerRead();
  $('auth-view').hidden = true;
  $('app-view').hidden = false;
  $('me-name').textContent = state.me.username;
  renderSidebar('all');
  renderChat('all');

  connection = new Connection(
    { user: state.me.user, token: session.token, device: deviceId() },
    {
      onState: (s) => {
        const el = $('conn-state');
        el.dataset.state = s;
        el.textContent = s;
      },
      onAuthOk: () => refreshAll(),
      onGap: () => {
        for (const c of state.convs.values()) {
          c.messages.clear();
          c.oldest = null;
          c.hasMore = true;
        }
      },
      onEvent: (ev) =>
        applyEvent(ev, {
          onIncoming: (c) => markReadIfVisible(c.conv),
          onNotice: (text) => toast(text),
        }),
      onFrame: (frame) => {
        if (frame.type === 'error') {
          if (frame.code !== 'auth_required') toast(`Error: ${frame.code}${frame.message ? ` (${frame.message})` : ''}`);
          return;
        }
        applyFrame(frame);
      },
      onAck: (ack, entry) => onAcked(ack, entry),
      onSendError: (entry, err) => onSendFailed(entry, err),
      onFatal: (why) => {
        if (why === 'replaced') {
          $('conn-state').textContent = 'opened in another tab';
          return;
        }
        endSession(why === 'logout' ? 'You were logged out.' : 'Your session has ended. Please log in again.');
      },
    },
  );
  connection.start();
  refreshAll();
}

let refreshing = null;
function refreshAll() {
  // Coalesce: a reconnect storm must not start a pile of identical requests.
  if (refreshing) return refreshing;
  refreshing = Promise.allSettled([refreshConversations(), refreshGroups(), refreshFriends()]).finally(() => {
    refreshing = null;
    if (state.current) markReadIfVisible(state.current);
  });
  return refreshing;
}

function updateTitle() {
  const n = totalUnread();
  document.title = n > 0 ? `(${n}) imserver` : 'imserver';
  const badge = $('total-unread');
  badge.hidden = n === 0;
  badge.textContent = String(n);
}

subscribe((what) => {
  if (!state.me) return;
  renderSidebar(what);
  renderChat(what);
  if (what === 'convs' || what === 'messages' || what === 'all') updateTitle();
});

function boot() {
  setUnauthorized(() => endSession('Your session has ended. Please log in again.'));
  $('auth-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn(false);
  });
  $('register-button').addEventListener('click', () => signIn(true));
  $('logout-button').addEventListener('click', logout);
  initSidebar({ open: (conv) => openConversation(conv), toast });
  initChat({ toast, connection: () => connection });
  window.addEventListener('online', () => connection?.nudge());
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') {
      connection?.nudge();
      if (state.current) markReadIfVisible(state.current);
    }
  });
  const session = storage.get('im.session');
  if (session?.token) start(session);
  else showAuth();
}

// Exposed for debugging from the console and for the end-to-end tests' assertions.
window.imClient = { state, conversation, changed, connection: () => connection };

boot();
