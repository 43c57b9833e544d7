// Admin: the agents connected right now, with the spaces each serves. Polls,
// so a new agent appears (and a lost one disappears) without a reload.

import * as api from '../api.js';
import { format_time, h, message, replace } from '../dom.js';
import { describe_api_error } from '../model.js';
import { poll } from '../poll.js';

const POLL_MS = 3000;

function read_agents(body) {
  const list = Array.isArray(body) ? body : Array.isArray(body?.agents) ? body.agents : [];
  return list.map((a) => ({
    name: String(a.name ?? a.agent?.name ?? ''),
    version: String(a.version ?? a.agent?.version ?? ''),
    instance: String(a.instance ?? a.agent?.instance ?? ''),
    connected_at: a.connected_since ?? a.connected_at ?? '',
    in_flight: typeof a.in_flight === 'number' ? a.in_flight : undefined,
    draining: Boolean(a.draining),
    spaces: (Array.isArray(a.spaces) ? a.spaces : []).map((s) => (typeof s === 'string' ? s : String(s?.space ?? s?.name ?? ''))),
  }));
}

export function render_admin_agents(main) {
  document.title = 'Agents · Tether';
  const status = h('div', { class: 'form-status' });
  const body = h('tbody', {});
  replace(main,
    h('h1', {}, 'Connected agents'),
    status,
    h('div', { class: 'table-wrap' }, h('table', { dataset: { testid: 'agents' } },
      h('caption', { class: 'visually-hidden' }, 'Connected agents'),
      h('thead', {}, h('tr', {}, ['Agent', 'Version', 'Spaces', 'In flight', 'Connected since', 'Instance'].map((t) => h('th', { scope: 'col' }, t)))),
      body)));

  return poll(async () => {
    try {
      const agents = read_agents(await api.admin_list_agents());
      replace(status);
      replace(body, agents.length
        ? agents.map((a) => h('tr', { dataset: { agent: a.instance || a.name } },
          h('th', { scope: 'row' }, a.name || '(unnamed)'),
          h('td', {}, a.version),
          h('td', {}, a.spaces.join(', ')),
          h('td', {}, `${a.in_flight ?? ''}${a.draining ? ' (draining)' : ''}`),
          h('td', {}, format_time(a.connected_at)),
          h('td', { class: 'mono' }, a.instance.slice(0, 8))))
        : h('tr', {}, h('td', { colspan: '6', class: 'muted' }, 'No agent is connected.')));
    } catch (err) {
      replace(status, message('error', describe_api_error(err)));
    }
  }, POLL_MS);
}
