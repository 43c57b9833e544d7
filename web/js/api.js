// The broker's HTTP API as the page uses it: one function per call, JSON in
// and out, errors turned into api_error values with the broker's code. All
// paths live here so that a change in the broker is a change in one file.

export class api_error extends Error {
  constructor(status, code, message, retry_after) {
    super(message);
    this.status = status; // HTTP status, 0 when the network failed
    this.code = code; // the broker's error code, or a local one (network, bad_response)
    this.retry_after = retry_after; // seconds, from Retry-After, when given
  }
}

// Called with every 401 answer so the app can go back to the sign-in form.
let on_unauthorized = () => {};
export function set_unauthorized_handler(fn) {
  on_unauthorized = fn;
}

const seg = (s) => encodeURIComponent(String(s));

function parse_retry_after(value) {
  if (!value) return undefined;
  const secs = Number(value);
  if (Number.isFinite(secs)) return Math.max(0, Math.round(secs));
  const when = Date.parse(value);
  return Number.isNaN(when) ? undefined : Math.max(0, Math.round((when - Date.now()) / 1000));
}

// Builds an api_error from a status and a body text; the body is used only when
// it is the documented JSON error shape, so an HTML error page or a stack trace
// from a proxy is never shown.
function error_from(status, body_text, retry_after_header) {
  let code = `http_${status}`;
  let message = `The broker answered HTTP ${status}.`;
  try {
    const body = JSON.parse(body_text);
    if (body && body.error && typeof body.error === 'object') {
      if (typeof body.error.code === 'string') code = body.error.code;
      if (typeof body.error.message === 'string' && body.error.message.length < 500) message = body.error.message;
    }
  } catch {
    // not JSON: keep the generic message
  }
  return new api_error(status, code, message, parse_retry_after(retry_after_header));
}

async function call(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new api_error(0, 'network', 'The broker cannot be reached. Check your connection.');
  }
  const text = await res.text().catch(() => '');
  if (!res.ok) {
    const err = error_from(res.status, text, res.headers.get('Retry-After'));
    if (res.status === 401 && path !== '/api/login') on_unauthorized(err);
    throw err;
  }
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new api_error(res.status, 'bad_response', 'The broker sent an answer the page cannot read.');
  }
}

export const login = (username, password) => call('POST', '/api/login', { username, password });
export const logout = () => call('POST', '/api/logout', {});
export const me = () => call('GET', '/api/me');

export const list_spaces = () => call('GET', '/api/spaces');
export const get_request = (id) => call('GET', `/api/requests/${seg(id)}`);
export const cancel_request = (id) => call('DELETE', `/api/requests/${seg(id)}`);
export const list_requests = (limit = 50) => call('GET', `/api/requests?limit=${Number(limit) || 50}`);
export const events_url = (id) => `/api/requests/${seg(id)}/events`;
export const file_url = (id, blob) => `/api/requests/${seg(id)}/files/${seg(blob)}`;

// Submits a request as multipart/form-data with XMLHttpRequest, because fetch
// cannot report upload progress. on_progress(loaded, total) is called while
// the body goes up. Resolves with the broker's JSON ({request_id, status, position}).
export function submit_request(space, form_data, on_progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/spaces/${seg(space)}/requests`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.withCredentials = true;
    xhr.timeout = 30 * 60 * 1000; // a big upload on a slow link; never unbounded
    xhr.upload.addEventListener('progress', (e) => {
      if (on_progress) on_progress(e.loaded, e.lengthComputable ? e.total : 0);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText || '{}'));
        } catch {
          reject(new api_error(xhr.status, 'bad_response', 'The broker sent an answer the page cannot read.'));
        }
        return;
      }
      const err = error_from(xhr.status, xhr.responseText, xhr.getResponseHeader('Retry-After'));
      if (xhr.status === 401) on_unauthorized(err);
      reject(err);
    });
    // A 413 answered before the body is fully read often surfaces as a network
    // error in browsers; the caller says so when the files were big.
    xhr.addEventListener('error', () => reject(new api_error(0, 'network', 'The upload was interrupted.')));
    xhr.addEventListener('timeout', () => reject(new api_error(0, 'network', 'The upload took too long.')));
    xhr.addEventListener('abort', () => reject(new api_error(0, 'aborted', 'The upload was stopped.')));
    xhr.send(form_data);
  });
}

// Admin.
export const admin_list_spaces = () => call('GET', '/api/admin/spaces');
export const admin_create_space = (space) => call('POST', '/api/admin/spaces', space);
export const admin_update_space = (name, space) => call('PUT', `/api/admin/spaces/${seg(name)}`, space);
export const admin_delete_space = (name) => call('DELETE', `/api/admin/spaces/${seg(name)}`);
export const admin_rotate_token = (name) => call('POST', `/api/admin/spaces/${seg(name)}/token`, {});
export const admin_list_agents = () => call('GET', '/api/admin/agents');
export const admin_list_users = () => call('GET', '/api/admin/users');
export const admin_create_user = (user) => call('POST', '/api/admin/users', user);
export const admin_delete_user = (name) => call('DELETE', `/api/admin/users/${seg(name)}`);
export const admin_update_user = (name, changes) => call('PATCH', `/api/admin/users/${seg(name)}`, changes);
export const admin_list_keys = () => call('GET', '/api/admin/apikeys');
export const admin_create_key = (username) => call('POST', '/api/admin/apikeys', { username });
export const admin_delete_key = (id) => call('DELETE', `/api/admin/apikeys/${seg(id)}`);
