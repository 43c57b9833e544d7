// Browser tests of Tether's page: Chromium (through playwright-core) against a
// real tether-broker and tether-agent --backend mock on 127.0.0.1.
//   node --test --test-concurrency=1 tests/browser/
// Needs TETHER_BROKER_BIN / TETHER_AGENT_BIN (or build/broker/tether-broker,
// build/agent/tether-agent); screenshots and process logs go to
// $TETHER_ARTIFACTS (default build/browser-artifacts).

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import path from 'node:path';
import { launch_browser, root, screenshot, tether_env } from './harness.mjs';
import { assert_no_problems, log_of, open_page, open_space, sign_in, submit_prompt, wait_state } from './page_helpers.mjs';

const ADMIN = ['admin', 'admin-password-1'];
const ALICE = ['alice', 'alice-password-1'];

describe('the Tether page', { timeout: 180000 }, () => {
  const env = new tether_env();
  let browser;
  let admin_cookie;

  before(async () => {
    env.add_user(...ADMIN, true);
    env.add_user(...ALICE, false);
    const echo = env.add_space('Echo', { features: 'prompt,file', description: 'Mock agent answering every prompt' });
    env.add_space('Idle', { features: 'prompt', description: 'No agent serves this one' });
    env.add_space('Tiny', { features: 'prompt', queue_limit: 1 });
    env.add_space('Quick', { features: 'prompt', timeout: 2 });
    const chat = env.add_space('Chat', { features: 'prompt', description: 'The demo language model' });
    const lines = env.add_space('Lines', { features: 'prompt', description: 'The demo code-language classifier' });
    const talk = env.add_space('Talk', { features: 'prompt', description: 'The demo chat model (a model folder)' });
    await env.start_broker();
    env.start_mock_agent({ Echo: echo }, ['--delay', '1']);
    // The demo models, as scripts/demo.sh serves them (on the CPU).
    env.start_agent(['--broker', env.agent_url, '--backend', 'torch', '--device', 'cpu',
      '--space', `Chat=${chat}`, '--model', `Chat=${path.join(root, 'models', 'tiny-lm.pt')}`,
      '--space', `Lines=${lines}`, '--model', `Lines=${path.join(root, 'models', 'code-lang.pt')}`,
      '--space', `Talk=${talk}`, '--model', `Talk=${path.join(root, 'models', 'tiny-chat')}`]);
    admin_cookie = await env.api_cookie(...ADMIN);
    await env.wait_connected(admin_cookie, 'Echo');
    await env.wait_connected(admin_cookie, 'Chat');
    await env.wait_connected(admin_cookie, 'Talk');
    browser = await launch_browser();
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    await env.stop();
  });

  test('a user signs in, sees the spaces with their state, and signs out', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await page.goto('/');
      await page.getByLabel('Username').fill(ALICE[0]);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();

      await page.getByLabel('Password').fill(ALICE[1]);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Spaces' }).waitFor();
      const echo = page.locator('[data-space="Echo"]');
      await echo.getByTestId('connection').filter({ hasText: /^connected$/ }).waitFor();
      await page.locator('[data-space="Idle"]').getByTestId('connection').filter({ hasText: 'not connected' }).waitFor();
      assert.match(await echo.textContent(), /Mock agent answering every prompt/);
      assert.equal(await page.getByRole('link', { name: 'Admin: spaces' }).isVisible(), false, 'a user sees no admin links');
      await screenshot(page, '01-spaces');

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      await page.reload();
      await page.getByRole('heading', { name: 'Sign in' }).waitFor(); // the session is really gone
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('the demo language model streams its text into the page, piece by piece', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Chat');
      const { panel, id } = await submit_prompt(page, 'And God said');
      await wait_state(panel, 'completed', 60000);
      const log = await log_of(page, id);
      const first_done = log.findIndex((e) => e.state === 'completed');
      const lengths = log.slice(0, first_done).filter((e) => e.state === 'streaming').map((e) => e.text_length);
      assert.ok(new Set(lengths).size >= 3, `the text should grow over several updates; saw ${JSON.stringify(log)}`);
      const text = await panel.getByTestId('output').textContent();
      assert.ok(text.length >= 100, `the model's default 200 tokens should give a page of text; got ${JSON.stringify(text)}`);
      await screenshot(page, '02b-language-model');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('a chat model gets a conversation: the reply streams in and the next message continues it', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      const bodies = [];
      page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) bodies.push(JSON.parse(r.postData())); });
      await sign_in(page, ...ALICE);
      await page.goto('/#/spaces/Talk');
      await page.getByTestId('chat-input').waitFor();
      await page.getByText('Settings').click();
      await page.getByLabel('Temperature').fill('0');
      await page.getByLabel('Max tokens').fill('40');
      // Every state an assistant message goes through, as it happens.
      await page.evaluate(() => {
        window.__chat_states = [];
        new MutationObserver(() => {
          for (const li of document.querySelectorAll('[data-role="assistant"]')) {
            const text = li.querySelector('.chat-text').textContent;
            window.__chat_states.push(`${li.dataset.state}:${text.length}`);
          }
        }).observe(document.querySelector('[data-testid="chat-log"]'), { subtree: true, childList: true, characterData: true, attributes: true });
      });
      const input = page.getByTestId('chat-input');
      await input.fill('And God said, Let there be light: and there was light.');
      await input.press('Enter');
      const first = page.locator('[data-role="assistant"]').nth(0);
      await page.locator('[data-role="assistant"][data-state="done"]').first().waitFor({ timeout: 60000 });
      const reply = await first.locator('.chat-text').textContent();
      assert.ok(reply.length > 0, 'the model answered');
      const states = await page.evaluate(() => window.__chat_states);
      const growing = new Set(states.filter((s) => s.startsWith('streaming:')));
      assert.ok(growing.size >= 2, `the reply should grow over several updates; saw ${JSON.stringify(states)}`);
      assert.match(await first.getByTestId('chat-note').textContent(), /tokens/);

      await input.fill('And God saw the light, that it was good.');
      await page.getByTestId('chat-send').click();
      await page.locator('[data-role="assistant"][data-state="done"]').nth(1).waitFor({ timeout: 60000 });
      assert.equal(bodies.length, 2);
      assert.equal(bodies[0].temperature, 0);
      assert.equal(bodies[0].max_tokens, 40);
      assert.deepEqual(bodies[1].messages.map((m) => m.role), ['user', 'assistant', 'user']);
      assert.equal(bodies[1].messages[1].content, reply);
      assert.equal(await page.getByTestId('chat-message').count(), 4);
      await screenshot(page, '02c-chat');

      await page.getByTestId('chat-reset').click();
      assert.equal(await page.getByTestId('chat-message').count(), 0);
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('the demo classifier shows its top label and the ranked labels', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Lines');
      const { panel } = await submit_prompt(page, 'for (const auto& item : items) { total += item.size(); }');
      await wait_state(panel, 'completed', 30000);
      await panel.getByTestId('confidence').waitFor();
      const labels = await panel.getByTestId('labels').locator('li').allTextContents();
      assert.ok(labels.length >= 2, `ranked labels should be listed; got ${JSON.stringify(labels)}`);
      assert.match(labels[0], /%$/);
      await screenshot(page, '02c-classifier');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('a prompt streams its text and then shows the result', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Echo');
      const { panel, id } = await submit_prompt(page, 'Hello <b>there</b> <img src=x>');
      await wait_state(panel, 'completed', 20000);
      const log = await log_of(page, id);
      const first_done = log.findIndex((e) => e.state === 'completed');
      assert.ok(log.slice(0, first_done).some((e) => e.state === 'streaming' && e.text_length > 0),
        `text should appear before the result; saw ${JSON.stringify(log)}`);
      // The mock agent answers "echo: " and the prompt, word by word.
      assert.equal(await panel.getByTestId('output').textContent(), 'echo: Hello <b>there</b> <img src=x>');
      assert.equal(await panel.getByTestId('output').locator('*').count(), 0, 'agent output is text, never markup');
      await panel.getByTestId('total-time').waitFor();
      await screenshot(page, '02-prompt-result');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('an uploaded file reaches the agent and its output file can be downloaded', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Echo');
      const bytes = Buffer.alloc(256 * 1024, 'tether ');
      const sha = crypto.createHash('sha256').update(bytes).digest('hex');
      await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: bytes });
      // "#file" makes the mock agent return an output file, echo.txt.
      const { panel } = await submit_prompt(page, 'check this #file');
      await wait_state(panel, 'completed', 20000);
      // The mock reports each input's size and SHA-256: the upload arrived whole.
      const extra = await panel.getByTestId('result-extra').textContent();
      assert.match(extra, new RegExp(sha), `the agent saw the uploaded bytes; result: ${extra}`);
      const link = panel.getByRole('link', { name: 'Download echo.txt' });
      const res = await context.request.get(await link.getAttribute('href'));
      assert.equal(res.status(), 200);
      assert.equal(await res.text(), 'echo: check this #file\n');
      await screenshot(page, '03-file-result');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('a failing model shows the failure and its code', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Echo');
      const { panel } = await submit_prompt(page, 'please #fail');
      await wait_state(panel, 'failed', 20000);
      await panel.getByText('(model_error)').waitFor();
      await screenshot(page, '03-failed');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('three queued requests show positions that go down', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      const pages = [page, await context.newPage(), await context.newPage()];
      for (const p of pages.slice(1)) await p.goto('/');
      for (const p of pages) await open_space(p, 'Echo');
      // Fill all three, then send them back to back, so the second and third
      // wait behind the first (the mock agent takes about a second each).
      for (const [i, p] of pages.entries()) await p.getByLabel('Prompt').fill(`queued prompt ${i + 1}`);
      // A DOM click, not Playwright's: its actionability checks are slow in background tabs.
      for (const p of pages) await p.getByRole('button', { name: 'Send' }).evaluate((b) => b.click());
      const submitted = [];
      for (const p of pages) {
        const panel = p.getByTestId('request-panel').first();
        await panel.waitFor();
        submitted.push({ panel, id: await panel.getAttribute('data-request') });
      }
      for (const s of submitted) await wait_state(s.panel, 'completed', 30000);

      const last = await log_of(pages[2], submitted[2].id);
      const positions = last.map((e) => e.position).filter((p) => p !== null)
        .filter((p, i, all) => i === 0 || p !== all[i - 1]);
      assert.ok(positions.length >= 2, `the third request should see its position change; saw ${JSON.stringify(last)}`);
      for (let i = 1; i < positions.length; i += 1) assert.ok(positions[i] < positions[i - 1], `positions go down: ${positions}`);
      await screenshot(pages[2], '04-queue-done');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('a request waiting for a missing agent can be cancelled', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Idle');
      await page.getByText('No agent serves this space right now').waitFor();
      const { panel, id } = await submit_prompt(page, 'nobody will answer');
      await panel.getByTestId('queue-position').waitFor();
      await screenshot(page, '05-queued-not-connected');
      await panel.getByRole('button', { name: 'Cancel request' }).click();
      await wait_state(panel, 'cancelled');
      await panel.getByText('The request was cancelled').waitFor();

      await page.getByRole('link', { name: 'My requests' }).click();
      await page.locator(`tr[data-request="${id}"]`).getByText('cancelled').waitFor();
      await screenshot(page, '05-history');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('a full queue and a timeout each get a clear message', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Tiny');
      const first = await submit_prompt(page, 'takes the only place');
      await page.getByLabel('Prompt').fill('one too many');
      await page.getByRole('button', { name: 'Send' }).click();
      await page.getByTestId('submit-status').getByText('The queue for this space is full').waitFor();
      await screenshot(page, '06-queue-full');
      await first.panel.getByRole('button', { name: 'Cancel request' }).click();
      await wait_state(first.panel, 'cancelled');

      await open_space(page, 'Quick');
      const { panel } = await submit_prompt(page, 'will run out of time');
      await wait_state(panel, 'timeout', 20000);
      await panel.getByText("did not finish within the space's time limit").waitFor();
      await screenshot(page, '06-timeout');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('an admin creates a space and the token shown lets an agent connect', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ADMIN);
      await page.getByRole('link', { name: 'Admin: spaces' }).click();
      await page.getByLabel('Name', { exact: true }).fill('Fresh');
      await page.getByLabel('Description', { exact: true }).fill('Made in the browser test');
      await page.getByLabel('audio', { exact: true }).check();
      await page.getByLabel('Time limit (seconds)').fill('60');
      await page.getByLabel('Queue limit').fill('10');
      await page.getByRole('button', { name: 'Create space' }).click();
      const command = (await page.getByTestId('agent-command').textContent()).trim();
      await screenshot(page, '07-token-shown');

      const words = command.split(/\s+/);
      assert.equal(words[0], 'tether-agent');
      assert.deepEqual(words.slice(1, 3), ['--broker', env.agent_url]);
      assert.match(command, /--space Fresh=\S+ --backend mock$/);

      await page.getByRole('link', { name: 'Spaces', exact: true }).click();
      const badge = page.locator('[data-space="Fresh"]').getByTestId('connection');
      await badge.filter({ hasText: 'not connected' }).waitFor();
      env.start_agent(words.slice(1), 'agent-fresh');
      await badge.filter({ hasText: /^connected$/ }).waitFor({ timeout: 20000 }); // no reload: the list polls
      await screenshot(page, '07-fresh-connected');

      await page.getByRole('link', { name: 'Agents' }).click();
      await page.getByTestId('agents').getByText('Fresh').waitFor();
      await screenshot(page, '07-agents');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('the space page fits a phone screen', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url, { viewport: { width: 375, height: 740 } });
    try {
      await sign_in(page, ...ALICE);
      await open_space(page, 'Echo');
      const { panel } = await submit_prompt(page, 'small screen');
      await wait_state(panel, 'completed', 20000);
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `no horizontal scrolling at 375 px (overflow ${overflow} px)`);
      await screenshot(page, '08-phone');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });
});
