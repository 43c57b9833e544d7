// Admin: every space with its live state, a form to create one, and per space
// edit, rotate token and delete. A new or rotated token is shown once.

import * as api from '../api.js';
import { h, message, replace } from '../dom.js';
import { describe_api_error, read_spaces } from '../model.js';
import { poll } from '../poll.js';
import { space_fields, read_space_fields } from './space_form.js';
import { connection_badge } from './spaces.js';
import { token_box } from './token_box.js';

const POLL_MS = 3000;

// The admin list has the queue limit; the public one is enough when the broker
// has no admin list.
export async function load_admin_spaces() {
  try {
    return read_spaces(await api.admin_list_spaces());
  } catch (err) {
    if (err.status === 404 || err.status === 405) return read_spaces(await api.list_spaces());
    throw err;
  }
}

export function token_of(answer) {
  const t = answer?.token ?? answer?.agent_token ?? answer?.space?.token;
  return typeof t === 'string' ? t : '';
}

export function render_admin_spaces(main) {
  document.title = 'Admin: spaces · Tether';
  const token_slot = h('div', { 'aria-live': 'polite' });
  const list_status = h('div', { class: 'form-status' });
  const body = h('tbody', {});
  const { controls, parts } = space_fields();
  const form_status = h('div', { class: 'form-status', dataset: { testid: 'create-status' } });
  const create_btn = h('button', { type: 'submit', dataset: { testid: 'create-space' } }, 'Create space');
  const form = h('form', { class: 'card', 'aria-labelledby': 'create-title' },
    h('h2', { id: 'create-title' }, 'New space'), parts, h('div', { class: 'actions' }, create_btn), form_status);

  replace(main,
    h('h1', {}, 'Admin: spaces'),
    token_slot,
    list_status,
    h('div', { class: 'table-wrap' }, h('table', { dataset: { testid: 'admin-spaces' } },
      h('caption', { class: 'visually-hidden' }, 'Spaces'),
      h('thead', {}, h('tr', {}, ['Space', 'State', 'Queue', 'Inputs', 'Time limit', 'Queue limit', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      body)),
    form);

  let refresh_now = () => {};
  async function rotate(name, button) {
    button.disabled = true;
    try {
      const token = token_of(await api.admin_rotate_token(name));
      if (!token) throw new api.api_error(0, 'bad_response', 'The broker did not return a token.');
      replace(token_slot, token_box(name, token));
      token_slot.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      replace(token_slot, message('error', `Could not rotate the token: ${describe_api_error(err)}`));
    } finally {
      button.disabled = false;
    }
  }

  // Delete asks once more in the page itself (no window.confirm, which blocks).
  function delete_button(name) {
    const button = h('button', { type: 'button', class: 'danger small' }, 'Delete');
    let armed = false;
    button.addEventListener('click', async () => {
      if (!armed) {
        armed = true;
        button.textContent = `Really delete ${name}?`;
        setTimeout(() => { armed = false; button.textContent = 'Delete'; }, 5000);
        return;
      }
      button.disabled = true;
      try {
        await api.admin_delete_space(name);
        replace(token_slot, message('ok', `Space ${name} deleted.`));
        refresh_now();
      } catch (err) {
        replace(token_slot, message('error', `Could not delete ${name}: ${describe_api_error(err)}`));
        button.disabled = false;
      }
    });
    return button;
  }

  function row(s) {
    const rotate_btn = h('button', { type: 'button', class: 'secondary small', dataset: { testid: 'rotate-token' } }, 'Rotate token');
    rotate_btn.addEventListener('click', () => rotate(s.name, rotate_btn));
    return h('tr', { dataset: { space: s.name } },
      h('th', { scope: 'row' }, h('a', { href: `#/spaces/${encodeURIComponent(s.name)}` }, s.name)),
      h('td', {}, connection_badge(s)),
      h('td', {}, String(s.queue_length)),
      h('td', {}, [...s.features].join(', ')),
      h('td', {}, s.timeout_s !== undefined ? `${s.timeout_s} s` : ''),
      h('td', {}, s.queue_limit !== undefined ? String(s.queue_limit) : ''),
      h('td', { class: 'row-actions' },
        h('a', { href: `#/admin/spaces/${encodeURIComponent(s.name)}`, class: 'button-link small' }, 'Edit'),
        rotate_btn, delete_button(s.name)));
  }

  let last = '';
  async function refresh() {
    try {
      const spaces = await load_admin_spaces();
      replace(list_status);
      const key = JSON.stringify(spaces, (k, v) => (v instanceof Set ? [...v] : v));
      if (key === last) return;
      last = key;
      // Keep a half-pressed delete button alive: only redraw rows without focus.
      if (body.contains(document.activeElement)) { last = ''; return; }
      replace(body, spaces.length ? spaces.map(row) : h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No spaces yet.')));
    } catch (err) {
      replace(list_status, message('error', describe_api_error(err)));
    }
  }
  refresh_now = () => { last = ''; refresh(); };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(form_status);
    const body_json = read_space_fields(controls);
    if (typeof body_json === 'string') {
      replace(form_status, message('error', body_json));
      return;
    }
    create_btn.disabled = true;
    try {
      const answer = await api.admin_create_space(body_json);
      const token = token_of(answer);
      replace(token_slot, token
        ? token_box(body_json.name, token)
        : message('warn', `Space ${body_json.name} created, but the broker returned no token. Use Rotate token to get one.`));
      form.reset();
      controls.feature_prompt.checked = true;
      refresh_now();
      token_slot.scrollIntoView({ block: 'nearest' });
    } catch (err) {
      const text = err.status === 409 ? `A space named ${body_json.name} already exists.` : describe_api_error(err);
      replace(form_status, message('error', text));
    } finally {
      create_btn.disabled = false;
    }
  });

  return poll(refresh, POLL_MS);
}
