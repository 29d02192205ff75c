// The HTTP API (PROTOCOL.md section 3). Every call returns parsed JSON or throws an ApiError that
// carries the protocol's error code; a 401 calls the handler given to setUnauthorized (log out).

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
}

let token = null;
let onUnauthorized = () => {};

export function setToken(value) {
  token = value;
}
export function getToken() {
  return token;
}
export function setUnauthorized(handler) {
  onUnauthorized = handler;
}

async function request(method, path, body, { raw = false, contentType } = {}) {
  const headers = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (raw) {
    payload = body;
    headers['Content-Type'] = contentType || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['Content-Type'] = 'application/json';
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached');
  }
  if (res.status === 204) return {};
  const text = await res.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = {};
  }
  if (!res.ok) {
    const code = data.error?.code || `http_${res.status}`;
    if (res.status === 401 && token && path !== '/api/logout') onUnauthorized();
    throw new ApiError(res.status, code, data.error?.message || res.statusText);
  }
  return data;
}

export const api = {
  register: (username, password) => request('POST', '/api/register', { username, password }),
  login: (username, password) => request('POST', '/api/login', { username, password }),
  logout: () => request('POST', '/api/logout'),
  me: () => request('GET', '/api/me'),
  user: (id) => request('GET', `/api/users/${id}`),
  userByName: (name) => request('GET', `/api/users?username=${encodeURIComponent(name)}`),
  friends: () => request('GET', '/api/friends'),
  befriend: (id) => request('PUT', `/api/friends/${id}`),
  unfriend: (id) => request('DELETE', `/api/friends/${id}`),
  blocks: () => request('GET', '/api/blocks'),
  block: (id) => request('PUT', `/api/blocks/${id}`),
  unblock: (id) => request('DELETE', `/api/blocks/${id}`),
  createGroup: (name, members) => request('POST', '/api/groups', { name, members }),
  groups: () => request('GET', '/api/groups'),
  group: (id) => request('GET', `/api/groups/${id}`),
  addMembers: (id, users) => request('POST', `/api/groups/${id}/members`, { users }),
  removeMember: (id, user) => request('DELETE', `/api/groups/${id}/members/${user}`),
  conversations: () => request('GET', '/api/conversations'),
  messages: (conv, before, limit = 30) =>
    request('GET', `/api/conversations/${encodeURIComponent(conv)}/messages?limit=${limit}${before ? `&before=${before}` : ''}`),
  upload: (blob, type) => request('POST', '/api/files', blob, { raw: true, contentType: type }),
};

/** A URL for a stored file that an <img> or <a> can load (the token rides in the query). */
export function fileUrl(url) {
  if (!url || !url.startsWith('/files/')) return '#';
  return `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token || '')}`;
}
