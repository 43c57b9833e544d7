// The list of spaces with their live state: connected or not, queue length,
// description, inputs. Polls GET /api/spaces so the state changes without a
// reload when an agent connects or leaves.

import * as api from '../api.js';
import { h, message, replace } from '../dom.js';
import { describe_api_error, read_spaces } from '../model.js';
import { poll } from '../poll.js';

const POLL_MS = 2000;

export function connection_badge(space) {
  return h('span', {
    class: `badge ${space.connected ? 'badge-ok' : 'badge-off'}`,
    dataset: { testid: 'connection' },
  }, space.connected ? 'connected' : 'not connected');
}

function space_card(space) {
  const agent = space.connected && space.agent_name
    ? `Agent ${space.agent_name}${space.agent_version ? ` ${space.agent_version}` : ''}`
    : null;
  return h('li', { class: 'card space-card', dataset: { space: space.name } },
    h('div', { class: 'space-head' },
      h('h2', {}, h('a', { href: `#/spaces/${encodeURIComponent(space.name)}` }, space.name)),
      connection_badge(space)),
    space.description ? h('p', { class: 'description' }, space.description) : null,
    h('dl', { class: 'facts' },
      h('div', {}, h('dt', {}, 'Queue'), h('dd', { dataset: { testid: 'queue-length' } }, String(space.queue_length))),
      h('div', {}, h('dt', {}, 'Inputs'), h('dd', {}, [...space.features].join(', ') || 'none')),
      space.timeout_s ? h('div', {}, h('dt', {}, 'Time limit'), h('dd', {}, `${space.timeout_s} s`)) : null,
      agent ? h('div', {}, h('dt', {}, 'Served by'), h('dd', {}, agent)) : null));
}

export function render_spaces(main, ctx) {
  document.title = 'Spaces · Tether';
  const list = h('ul', { class: 'space-list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const status = h('div', { class: 'form-status' });
  replace(main,
    h('h1', {}, 'Spaces'),
    h('p', { class: 'muted' }, 'Pick a space to send it a request. The state updates by itself.'),
    status,
    list);

  let last = '';
  return poll(async () => {
    try {
      const spaces = read_spaces(await api.list_spaces());
      replace(status);
      list.removeAttribute('aria-busy');
      // Re-render only on change, so focus and selection survive the polling.
      const key = JSON.stringify(spaces, (k, v) => (v instanceof Set ? [...v] : v));
      if (key === last) return;
      last = key;
      if (spaces.length === 0) {
        replace(list, h('li', { class: 'muted' }, ctx.user.admin
          ? 'No spaces yet. Create one under Admin: spaces.'
          : 'No spaces yet. Ask an administrator to create one.'));
        return;
      }
      replace(list, spaces.map(space_card));
    } catch (err) {
      replace(status, message('error', describe_api_error(err)));
    }
  }, POLL_MS);
}
