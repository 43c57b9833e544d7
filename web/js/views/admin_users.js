// Admin: users (create, disable or enable, delete) and API keys (create for a
// user, shown once; revoke). Programs use a key as `Authorization: Bearer <key>`.

import * as api from '../api.js';
import { checkbox, field, format_time, h, message, replace } from '../dom.js';
import { describe_api_error } from '../model.js';

const list_of = (body, key) => (Array.isArray(body) ? body : Array.isArray(body?.[key]) ? body[key] : []);

function confirm_button(label, run) {
  const button = h('button', { type: 'button', class: 'danger small' }, label);
  let armed = false;
  button.addEventListener('click', async () => {
    if (!armed) {
      armed = true;
      button.textContent = 'Click again to confirm';
      setTimeout(() => { armed = false; button.textContent = label; }, 5000);
      return;
    }
    button.disabled = true;
    await run();
    button.disabled = false;
  });
  return button;
}

export function render_admin_users(main, ctx) {
  document.title = 'Users & keys · Tether';
  const status = h('div', { class: 'form-status', 'aria-live': 'polite' });
  const users_body = h('tbody', {});
  const keys_body = h('tbody', {});
  const key_slot = h('div', { 'aria-live': 'polite' });

  const username = h('input', { name: 'username', required: true, autocomplete: 'off', maxlength: '64' });
  const password = h('input', { name: 'password', type: 'password', required: true, autocomplete: 'new-password', minlength: '8' });
  const admin = checkbox('Administrator', { name: 'admin' });
  const user_status = h('div', { class: 'form-status' });
  const user_form = h('form', { class: 'card', 'aria-labelledby': 'new-user' },
    h('h2', { id: 'new-user' }, 'New user'), field('Username', username), field('Password', password, 'At least 8 characters.'),
    admin.el, h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create user')), user_status);

  const key_user = h('select', { name: 'username', required: true });
  const key_status = h('div', { class: 'form-status' });
  const key_form = h('form', { class: 'card', 'aria-labelledby': 'new-key' },
    h('h2', { id: 'new-key' }, 'New API key'), field('For user', key_user),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Create key')), key_status);

  const table = (caption, heads, tbody) => h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)))), tbody));

  replace(main, h('h1', {}, 'Users & API keys'), status,
    h('h2', {}, 'Users'), table('Users', ['User', 'Role', 'Created', 'Actions'], users_body), user_form,
    h('h2', {}, 'API keys'), key_slot, table('API keys', ['Key', 'User', 'Created', 'Last used', 'Actions'], keys_body), key_form);

  // Disabling signs the user out everywhere and refuses its API keys until
  // it is enabled again.
  function toggle_button(name, disabled) {
    const button = h('button', { type: 'button', class: 'small', dataset: { testid: `toggle-${name}` } },
      disabled ? 'Enable' : 'Disable');
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        await api.admin_update_user(name, { disabled: !disabled });
        replace(status, message('ok', disabled ? `User ${name} enabled.` : `User ${name} disabled: signed out everywhere, its API keys refused.`));
      } catch (err) {
        replace(status, message('error', `Could not change ${name}: ${describe_api_error(err)}`));
      }
      load();
    });
    return button;
  }

  async function load() {
    try {
      const users = list_of(await api.admin_list_users(), 'users');
      replace(users_body, users.map((u) => {
        const name = String(u.username ?? u.name ?? '');
        return h('tr', { dataset: { user: name } },
          h('th', { scope: 'row' }, name),
          h('td', {}, (u.admin ? 'admin' : 'user') + (u.disabled ? ' (disabled)' : '')),
          h('td', {}, format_time(u.created ?? u.created_at)),
          h('td', {}, name === ctx.user.username ? h('span', { class: 'muted' }, 'you') : [
            toggle_button(name, Boolean(u.disabled)),
            ' ',
            confirm_button('Delete', async () => {
              try {
                await api.admin_delete_user(name);
                replace(status, message('ok', `User ${name} deleted.`));
              } catch (err) {
                replace(status, message('error', `Could not delete ${name}: ${describe_api_error(err)}`));
              }
              load();
            })]));
      }));
      const chosen = key_user.value;
      replace(key_user, users.map((u) => h('option', { value: String(u.username ?? u.name ?? '') }, String(u.username ?? u.name ?? ''))));
      if (chosen) key_user.value = chosen;
    } catch (err) {
      replace(status, message('error', describe_api_error(err)));
    }
    try {
      const keys = list_of(await api.admin_list_keys(), 'api_keys');
      replace(keys_body, keys.length ? keys.map((k) => {
        const id = String(k.id ?? k.prefix ?? '');
        return h('tr', {},
          h('th', { scope: 'row', class: 'mono' }, String(k.prefix ?? k.label ?? id).slice(0, 12)),
          h('td', {}, String(k.username ?? k.user ?? '')),
          h('td', {}, format_time(k.created ?? k.created_at)),
          h('td', {}, format_time(k.last_used ?? k.last_used_at)),
          h('td', {}, confirm_button('Revoke', async () => {
            try {
              await api.admin_delete_key(id);
              replace(key_slot, message('ok', 'Key revoked.'));
            } catch (err) {
              replace(key_slot, message('error', `Could not revoke the key: ${describe_api_error(err)}`));
            }
            load();
          })));
      }) : h('tr', {}, h('td', { colspan: '5', class: 'muted' }, 'No API keys.')));
    } catch (err) {
      replace(keys_body, h('tr', {}, h('td', { colspan: '5' }, message('error', describe_api_error(err)))));
    }
  }

  user_form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(user_status);
    try {
      await api.admin_create_user({ username: username.value.trim(), password: password.value, admin: admin.input.checked });
      replace(user_status, message('ok', `User ${username.value.trim()} created.`));
      user_form.reset();
      load();
    } catch (err) {
      replace(user_status, message('error', err.status === 409 ? 'That user already exists.' : describe_api_error(err)));
    }
  });

  key_form.addEventListener('submit', async (e) => {
    e.preventDefault();
    replace(key_status);
    try {
      const answer = await api.admin_create_key(key_user.value);
      const key = String(answer.key ?? answer.api_key ?? '');
      replace(key_slot, h('section', { class: 'card token-box', dataset: { testid: 'api-key-box' } },
        h('h3', {}, `API key for ${key_user.value}`),
        h('p', {}, h('strong', {}, 'Shown once. '), 'Programs send it as Authorization: Bearer <key>.'),
        h('code', { class: 'mono', dataset: { testid: 'api-key' } }, key)));
      load();
    } catch (err) {
      replace(key_status, message('error', describe_api_error(err)));
    }
  });

  load();
}
