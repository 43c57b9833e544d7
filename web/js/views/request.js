// One request on its own page (#/requests/ID): reached from the history or a
// link, it shows the current state first and then follows it live.

import { h, replace } from '../dom.js';
import { create_request_panel } from './request_panel.js';

export function render_request(main, ctx, id) {
  document.title = `Request ${id.slice(0, 8)} · Tether`;
  const panel = create_request_panel(id);
  replace(main, h('p', { class: 'crumbs' }, h('a', { href: '#/history' }, 'My requests'), ' / ', id.slice(0, 8)), panel.el);
  return () => panel.stop();
}
