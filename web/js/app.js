// The page's entry point: who is signed in, the header, and a small hash router
// that mounts one view at a time into <main>. Each view returns a cleanup
// function that stops its timers and streams when the user navigates away.

import * as api from './api.js';
import { h, message, replace } from './dom.js';
import { describe_api_error, read_user } from './model.js';
import { render_login } from './views/login.js';
import { render_spaces } from './views/spaces.js';
import { render_space } from './views/space.js';
import { render_request } from './views/request.js';
import { render_history } from './views/history.js';
import { render_admin_spaces } from './views/admin_spaces.js';
import { render_admin_space_edit } from './views/admin_space_edit.js';
import { render_admin_agents } from './views/admin_agents.js';
import { render_admin_users } from './views/admin_users.js';

const main = document.getElementById('main');
const state = { user: null, cleanup: null, after_login: '#/' };

const routes = [
  { re: /^\/?$/, view: render_spaces, nav: 'spaces' },
  { re: /^\/spaces\/([^/]+)$/, view: render_space, nav: 'spaces' },
  { re: /^\/requests\/([^/]+)$/, view: render_request, nav: 'history' },
  { re: /^\/history$/, view: render_history, nav: 'history' },
  { re: /^\/admin\/spaces$/, view: render_admin_spaces, nav: 'admin-spaces', admin: true },
  { re: /^\/admin\/spaces\/([^/]+)$/, view: render_admin_space_edit, nav: 'admin-spaces', admin: true },
  { re: /^\/admin\/agents$/, view: render_admin_agents, nav: 'admin-agents', admin: true },
  { re: /^\/admin\/users$/, view: render_admin_users, nav: 'admin-users', admin: true },
];

function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function notify(text, kind = 'info') {
  const box = document.getElementById('notice');
  box.className = `notice notice-${kind}`;
  replace(box, text);
  box.hidden = !text;
}

function show_user() {
  const signed_in = Boolean(state.user);
  document.getElementById('nav').hidden = !signed_in;
  document.getElementById('user-box').hidden = !signed_in;
  document.getElementById('user-name').textContent = signed_in
    ? `${state.user.username}${state.user.admin ? ' (admin)' : ''}`
    : '';
  for (const el of document.querySelectorAll('.admin-only')) el.hidden = !(signed_in && state.user.admin);
}

function mark_nav(name) {
  for (const a of document.querySelectorAll('#nav a')) {
    if (a.dataset.nav === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function unmount() {
  if (state.cleanup) {
    try {
      state.cleanup();
    } catch {
      // a view that fails to clean up must not block the next one
    }
  }
  state.cleanup = null;
}

function mount(view, params) {
  unmount();
  main.replaceChildren();
  const ctx = { user: state.user, navigate, notify, on_signed_in };
  let cleanup;
  try {
    cleanup = view(main, ctx, ...params);
  } catch {
    replace(main, message('error', 'This page could not be shown.'));
  }
  state.cleanup = typeof cleanup === 'function' ? cleanup : null;
}

function route() {
  notify('');
  const path = decodeURIComponent(location.hash.replace(/^#/, '')) || '/';
  if (!state.user) {
    if (path !== '/login') state.after_login = location.hash || '#/';
    mark_nav('');
    document.title = 'Sign in · Tether';
    mount(render_login, []);
    return;
  }
  if (path === '/login') {
    navigate('#/');
    return;
  }
  for (const r of routes) {
    const m = r.re.exec(path);
    if (!m) continue;
    mark_nav(r.nav);
    if (r.admin && !state.user.admin) {
      unmount();
      replace(main, message('error', 'Only administrators can open this page.'));
      return;
    }
    mount(r.view, m.slice(1));
    main.focus({ preventScroll: true });
    return;
  }
  unmount();
  replace(main, h('h1', {}, 'Not found'), h('p', {}, h('a', { href: '#/' }, 'Back to the spaces')));
}

function on_signed_in(user) {
  state.user = read_user(user);
  show_user();
  const target = state.after_login && state.after_login !== '#/login' ? state.after_login : '#/';
  state.after_login = '#/';
  navigate(target);
}

function on_signed_out() {
  state.user = null;
  show_user();
  route();
}

api.set_unauthorized_handler(() => {
  if (state.user) {
    state.user = null;
    show_user();
    route();
    notify('Your session ended. Sign in again.', 'warn');
  }
});

document.getElementById('logout').addEventListener('click', async () => {
  try {
    await api.logout();
  } catch {
    // signed out locally either way
  }
  state.after_login = '#/';
  on_signed_out();
});

window.addEventListener('hashchange', route);

async function start() {
  try {
    state.user = read_user(await api.me());
  } catch (err) {
    state.user = null;
    if (err.status !== 401) notify(describe_api_error(err), 'error');
  }
  show_user();
  route();
}

start();
