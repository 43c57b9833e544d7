// The page with a speech space: Chromium's fake microphone (fed a WAV file the
// test writes) records in the page, the page sends the take in the browser's
// own WebM/Opus (decoded by the agent's FFmpeg layer), and the transcript from a Whisper folder served by
// tether-agent --backend torch (random weights, the real Whisper tokenizer:
// tests/audio/make_whisper.py) comes back segment by segment with times and
// downloads as text and SRT. An uploaded file gets the same.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { after, before, describe, test } from 'node:test';
import { chromium_bin, root, screenshot, tether_env } from './harness.mjs';
import { assert_no_problems, open_page, sign_in, wait_state } from './page_helpers.mjs';

const ALICE = ['alice', 'alice-password-1'];

// 16-bit PCM mono at 48 kHz: gliding tones with a little noise.
function wav(seconds, rate = 48000) {
  const n = Math.round(seconds * rate);
  const data = Buffer.alloc(n * 2);
  let x = 7;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    x = (x * 1103515245 + 12345) % 2147483648;
    const v = 0.3 * Math.sin(2 * Math.PI * (250 + 100 * Math.sin(2 * Math.PI * 0.5 * t)) * t) + 0.02 * (x / 2147483648 - 0.5);
    data.writeInt16LE(Math.round(v * 32767), i * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8); h.write('fmt ', 12);
  h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(1, 22); h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * 2, 28); h.writeUInt16LE(2, 32); h.writeUInt16LE(16, 34); h.write('data', 36); h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

describe('a speech space in the page', { timeout: 240000 }, () => {
  const env = new tether_env();
  let browser;
  let cookie;
  let mic_file;

  before(async () => {
    const models = path.join(env.data_dir, 'models');
    execFileSync('/usr/bin/python3', [path.join(root, 'tests/audio/make_whisper.py'), models, 'whisper-test'], { stdio: 'pipe' });
    mic_file = path.join(env.data_dir, 'microphone.wav');
    fs.writeFileSync(mic_file, wav(20));
    env.add_user(...ALICE, false);
    const token = env.add_space('Speech', { features: 'audio', description: 'Whisper (random weights)', timeout: 120 });
    await env.start_broker();
    env.start_agent(['--broker', env.agent_url, '--backend', 'torch', '--device', 'cpu',
      '--space', `Speech=${token}`, '--model', `Speech=${path.join(models, 'whisper-test')}`]);
    cookie = await env.api_cookie(...ALICE);
    await env.wait_connected(cookie, 'Speech', true, 60000);
    browser = await chromium.launch({
      executablePath: chromium_bin, headless: true, timeout: 30000,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
        '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${mic_file}`,
        '--autoplay-policy=no-user-gesture-required'],
    });
  });

  after(async () => {
    if (browser) await browser.close().catch(() => {});
    await env.stop();
  });

  async function check_transcript(panel, page, id, min_seconds) {
    await wait_state(panel, 'completed', 120000);
    const segments = panel.getByTestId('segment');
    assert.ok(await segments.count() >= 1, 'no segment shown');
    const first = await segments.first().textContent();
    assert.match(first, /^\d\d:\d\d\.\d\d\d → \d\d:\d\d\.\d\d\d /);
    const { json } = await env.api(cookie, 'GET', `/api/requests/${id}`);
    const result = json.result;
    assert.ok(result.duration >= min_seconds, `the agent got ${result.duration} s of audio`);
    assert.equal(await segments.count(), result.segments.length);
    // The page's links are blob: URLs; the browser downloads them (the page's
    // Content-Security-Policy keeps its own fetches to the broker).
    const download = async (testid) => {
      const [d] = await Promise.all([page.waitForEvent('download'), panel.getByTestId(testid).click()]);
      return { name: d.suggestedFilename(), text: fs.readFileSync(await d.path(), 'utf8') };
    };
    const srt_file = await download('download-srt');
    assert.match(srt_file.name, /^transcript-[0-9a-f]{8}\.srt$/);
    const srt = srt_file.text;
    assert.match(srt, /^1\n\d\d:\d\d:\d\d,\d\d\d --> \d\d:\d\d:\d\d,\d\d\d\n/);
    assert.equal(srt.trim().split(/\n\n/).length, result.segments.length);
    const txt = (await download('download-txt')).text;
    assert.equal(txt.replace(/\n/g, ''), result.segments.map((s) => s.text.trim()).join(''));
    return result;
  }

  test('recording from the microphone sends WebM/Opus and shows the transcript with times', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await page.goto('/#/spaces/Speech');
      await page.getByRole('button', { name: 'Send' }).waitFor();
      await page.getByTestId('record').click();
      await page.getByTestId('record-status').filter({ hasText: /Recording… [1-9]/ }).waitFor({ timeout: 20000 });
      await page.waitForTimeout(2500);
      await page.getByTestId('record').click();
      await page.getByTestId('record-status').filter({ hasText: /Recorded \d+\.\d s/ }).waitFor();
      const status = await page.getByTestId('record-status').textContent();
      assert.match(status, /\(WebM\/Opus\)/);
      const seconds = Number(status.match(/Recorded (\d+\.\d)/)[1]);
      assert.ok(seconds >= 2, `recorded ${seconds} s`);
      await page.getByRole('button', { name: 'Send' }).click();
      const panel = page.getByTestId('request-panel').first();
      await panel.waitFor();
      const id = await panel.getAttribute('data-request');
      const result = await check_transcript(panel, page, id, seconds - 0.5);
      assert.ok(result.segments.length >= 1);
      await screenshot(page, '20-speech-recorded');
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });

  test('an uploaded WAV gets the same transcript view', async () => {
    const { context, page, problems } = await open_page(browser, env.base_url);
    try {
      await sign_in(page, ...ALICE);
      await page.goto('/#/spaces/Speech');
      await page.getByRole('button', { name: 'Send' }).waitFor();
      await page.getByLabel('Audio', { exact: true }).setInputFiles({ name: 'talk.wav', mimeType: 'audio/wav', buffer: wav(8) });
      await page.getByRole('button', { name: 'Send' }).click();
      const panel = page.getByTestId('request-panel').first();
      await panel.waitFor();
      const id = await panel.getAttribute('data-request');
      const result = await check_transcript(panel, page, id, 7.99);
      assert.ok(Math.abs(result.duration - 8) < 1e-3);
      assert_no_problems(problems);
    } finally {
      await context.close();
    }
  });
});
