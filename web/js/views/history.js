// The signed-in user's own requests (admins see everyone's, as the broker
// decides), newest first, each linking to its page.

import * as api from '../api.js';
import { format_ms, format_time, h, message, replace } from '../dom.js';
import { describe_api_error, is_terminal, read_requests } from '../model.js';
import { poll } from '../poll.js';

const POLL_MS = 5000;

function row(req) {
  const preview = req.output ?? req.prompt ?? '';
  return h('tr', { dataset: { request: req.id } },
    h('td', {}, h('a', { href: `#/requests/${encodeURIComponent(req.id)}`, class: 'mono' }, req.id.slice(0, 8))),
    h('td', {}, req.space),
    h('td', {}, h('span', { class: `state state-${req.status}` }, req.status)),
    h('td', {}, format_time(req.created)),
    h('td', {}, is_terminal(req.status) && req.total_ms !== undefined ? format_ms(req.total_ms) : ''),
    h('td', { class: 'clip' }, preview.length > 80 ? `${preview.slice(0, 80)}…` : preview));
}

export function render_history(main) {
  document.title = 'My requests · Tether';
  const status = h('div', { class: 'form-status' });
  const body = h('tbody', {});
  const table = h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', { class: 'visually-hidden' }, 'Your requests, newest first'),
    h('thead', {}, h('tr', {}, ['Request', 'Space', 'State', 'Created', 'Time', 'Prompt / output'].map((t) => h('th', { scope: 'col' }, t)))),
    body));
  // "Show older" asks for a longer first page rather than paging, so the
  // polled list never shows a request twice.
  let limit = 50;
  let last = '';
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Show older requests');
  replace(main, h('h1', {}, 'My requests'), status, table, h('div', { class: 'actions' }, more));

  const load = async () => {
    try {
      const answer = await api.list_requests(limit);
      more.hidden = !answer.next_cursor || limit >= 500;
      const list = read_requests(answer);
      const when = (r) => (typeof r.created === 'number' ? r.created : Date.parse(r.created ?? '') || 0);
      list.sort((a, b) => when(b) - when(a));
      replace(status);
      // Redraw only on change, so keyboard focus in the table survives polling.
      const key = JSON.stringify(list);
      if (key === last) return;
      last = key;
      if (list.length === 0) replace(body, h('tr', {}, h('td', { colspan: '6', class: 'muted' }, 'No requests yet.')));
      else replace(body, list.map(row));
    } catch (err) {
      replace(status, message('error', describe_api_error(err)));
    }
  };
  more.addEventListener('click', () => {
    limit = Math.min(500, limit + 50);
    load();
  });
  return poll(load, POLL_MS);
}
