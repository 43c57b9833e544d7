// Admin: edit one space (description, inputs, time limit, queue limit) and
// rotate its agent token.

import * as api from '../api.js';
import { h, message, replace } from '../dom.js';
import { describe_api_error } from '../model.js';
import { load_admin_spaces, token_of } from './admin_spaces.js';
import { read_space_fields, space_fields } from './space_form.js';
import { connection_badge } from './spaces.js';
import { token_box } from './token_box.js';

export function render_admin_space_edit(main, ctx, name) {
  document.title = `Edit ${name} · Tether`;
  const crumbs = h('p', { class: 'crumbs' }, h('a', { href: '#/admin/spaces' }, 'Admin: spaces'), ' / ', name);
  const status = h('div', { class: 'form-status' });
  replace(main, crumbs, h('h1', {}, `Edit ${name}`), status);
  let stopped = false;

  load_admin_spaces().then((spaces) => {
    if (stopped) return;
    const space = spaces.find((s) => s.name === name);
    if (!space) {
      replace(status, message('error', 'This space does not exist.'));
      return;
    }
    const { controls, parts } = space_fields(space);
    const token_slot = h('div', { 'aria-live': 'polite' });
    const save_status = h('div', { class: 'form-status', dataset: { testid: 'save-status' } });
    const save = h('button', { type: 'submit' }, 'Save');
    const rotate = h('button', { type: 'button', class: 'secondary', dataset: { testid: 'rotate-token' } }, 'Rotate token');
    const form = h('form', { class: 'card', 'aria-label': `Settings of ${name}` }, parts, h('div', { class: 'actions' }, save), save_status);

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = read_space_fields(controls);
      if (typeof body === 'string') {
        replace(save_status, message('error', body));
        return;
      }
      save.disabled = true;
      try {
        await api.admin_update_space(name, body);
        replace(save_status, message('ok', 'Saved.'));
      } catch (err) {
        replace(save_status, message('error', describe_api_error(err)));
      } finally {
        save.disabled = false;
      }
    });

    rotate.addEventListener('click', async () => {
      rotate.disabled = true;
      try {
        const token = token_of(await api.admin_rotate_token(name));
        if (!token) throw new api.api_error(0, 'bad_response', 'The broker did not return a token.');
        replace(token_slot, token_box(name, token));
      } catch (err) {
        replace(token_slot, message('error', `Could not rotate the token: ${describe_api_error(err)}`));
      } finally {
        rotate.disabled = false;
      }
    });

    replace(main, crumbs,
      h('div', { class: 'space-head' }, h('h1', {}, `Edit ${name}`), connection_badge(space)),
      form,
      h('section', { class: 'card', 'aria-labelledby': 'token-title' },
        h('h2', { id: 'token-title' }, 'Agent token'),
        h('p', {}, 'A new token replaces the old one; the broker shows it once.'),
        h('div', { class: 'actions' }, rotate)),
      token_slot);
  }).catch((err) => {
    if (!stopped) replace(status, message('error', describe_api_error(err)));
  });

  return () => { stopped = true; };
}
