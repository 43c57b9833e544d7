// What the browser tests do with a page: open one with a recorder of what the
// request panels showed over time, sign in, submit to a space.

import assert from 'node:assert/strict';

// Runs in the page before its own scripts: records every state, queue
// position and output length each request panel shows, so a test can check
// the sequence (positions going down, text before the final result) after
// the fact instead of racing the page.
function install_recorder() {
  window.__tether_log = [];
  const seen = new Map();
  const snap = () => {
    for (const panel of document.querySelectorAll('[data-testid="request-panel"]')) {
      const pos_el = panel.querySelector('[data-testid="queue-position"]');
      const out = panel.querySelector('[data-testid="output"]');
      const entry = {
        id: panel.dataset.request,
        state: panel.dataset.state,
        position: pos_el && !pos_el.hidden ? Number(pos_el.dataset.position) : null,
        text_length: out ? out.textContent.length : 0,
      };
      const key = JSON.stringify(entry);
      if (seen.get(entry.id) === key) continue;
      seen.set(entry.id, key);
      window.__tether_log.push(entry);
    }
  };
  new MutationObserver(snap).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
}

export async function open_page(browser, base_url, options = {}) {
  const context = await browser.newContext({ baseURL: base_url, viewport: options.viewport ?? { width: 1200, height: 900 } });
  context.setDefaultTimeout(options.timeout ?? 15000);
  await context.addInitScript(install_recorder);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    // Failed loads of 4xx answers are expected in some tests; anything else is not.
    if (msg.type() === 'error' && !/Failed to load resource|status of 4\d\d/.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  return { context, page, problems };
}

export async function sign_in(page, username, password) {
  await page.goto('/');
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('user-name').filter({ hasText: username }).waitFor();
}

export async function open_space(page, space) {
  await page.goto(`/#/spaces/${space}`);
  await page.getByRole('button', { name: 'Send' }).waitFor();
}

// Submits a prompt on the space page; returns the new request panel's locator and id.
export async function submit_prompt(page, text) {
  const before = await page.getByTestId('request-panel').count();
  await page.getByLabel('Prompt').fill(text);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="request-panel"]').length > n, before, { timeout: 10000 });
  const panel = page.getByTestId('request-panel').first();
  return { panel, id: await panel.getAttribute('data-request') };
}

export async function wait_state(panel, states, timeout = 15000) {
  const list = Array.isArray(states) ? states : [states];
  await panel.page().waitForFunction(([id, wanted]) => {
    const el = document.querySelector(`[data-testid="request-panel"][data-request="${id}"]`);
    return el && wanted.includes(el.dataset.state);
  }, [await panel.getAttribute('data-request'), list], { timeout });
}

export async function log_of(page, id) {
  return (await page.evaluate(() => window.__tether_log)).filter((e) => e.id === id);
}

export function assert_no_problems(problems) {
  assert.deepEqual(problems, [], `the page reported errors:\n${problems.join('\n')}`);
}
