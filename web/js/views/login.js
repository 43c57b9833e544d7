// The sign-in form. On success it asks the app to continue where the user was
// going; a wrong password shows the broker's message, never more.

import * as api from '../api.js';
import { field, h, message, replace } from '../dom.js';
import { describe_api_error } from '../model.js';

export function render_login(main, ctx) {
  const username = h('input', { name: 'username', autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h('form', { class: 'card narrow', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Sign in'),
    field('Username', username),
    field('Password', password),
    h('div', { class: 'actions' }, button),
    status);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    replace(status);
    try {
      await api.login(username.value.trim(), password.value);
      const user = await api.me();
      ctx.on_signed_in(user);
    } catch (err) {
      const text = err.status === 401 || err.status === 403
        ? 'Wrong username or password.'
        : describe_api_error(err);
      replace(status, message('error', text));
      button.disabled = false;
      password.select();
    }
  });

  replace(main, form);
  username.focus();
}
