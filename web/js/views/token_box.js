// Shows a space's new agent token once, with the exact command that starts an
// agent for it, and a copy button. The token is never stored by the page.

import { h } from '../dom.js';

export function agent_command(space, token) {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `tether-agent --broker ${scheme}://${location.host}/agent --space ${space}=${token} --backend mock`;
}

function copy_button(text, label) {
  const button = h('button', { type: 'button', class: 'secondary' }, label);
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = 'Copied';
    } catch {
      // No clipboard (plain http on another host): select the text so Ctrl+C works.
      const code = button.parentElement?.querySelector('code');
      if (code) window.getSelection()?.selectAllChildren(code);
      button.textContent = 'Press Ctrl+C to copy';
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
  return button;
}

export function token_box(space, token) {
  const command = agent_command(space, token);
  return h('section', { class: 'card token-box', dataset: { testid: 'token-box' }, role: 'status' },
    h('h2', {}, `Agent token for ${space}`),
    h('p', {}, h('strong', {}, 'Shown once. '), 'Copy it now: the broker keeps only its hash. Agents must register with this token from now on.'),
    h('div', { class: 'copy-row' }, h('code', { class: 'mono', dataset: { testid: 'token' } }, token), copy_button(token, 'Copy token')),
    h('p', {}, 'Start a mock agent for it with:'),
    h('div', { class: 'copy-row' }, h('code', { class: 'mono command', dataset: { testid: 'agent-command' } }, command), copy_button(command, 'Copy command')));
}
