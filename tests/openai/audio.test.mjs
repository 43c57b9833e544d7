// Speech recognition end to end: the official OpenAI client's
// audio.transcriptions / audio.translations against a real tether-broker and
// a tether-agent serving a Whisper folder (random weights, the real Whisper
// tokenizer and configs: tests/audio/make_whisper.py) with --backend torch.
// Every response format, the streamed form, the request API's SSE deltas,
// and clear 400s for bad audio while the agent keeps serving.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI, { toFile } from 'openai';
import { root, tether_env, wait_for } from './harness.mjs';

// A WAV of `seconds` of gliding tones with a little noise (never silent), as
// 16-bit PCM at `rate` Hz with `channels` channels.
function wav(seconds, { rate = 16000, channels = 1, seed = 1 } = {}) {
  const frames = Math.round(seconds * rate);
  const data = Buffer.alloc(frames * channels * 2);
  let x = seed;
  const noise = () => { x = (x * 1103515245 + 12345) % 2147483648; return x / 2147483648 - 0.5; };
  for (let i = 0; i < frames; i++) {
    const t = i / rate;
    const f = 220 + 120 * Math.sin(2 * Math.PI * 0.4 * t) + 30 * seed;
    const v = 0.3 * (0.5 + 0.5 * Math.sin(2 * Math.PI * 2 * t)) * Math.sin(2 * Math.PI * f * t) + 0.03 * noise();
    for (let c = 0; c < channels; c++) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v * 32767))), (i * channels + c) * 2);
  }
  const h = Buffer.alloc(44);
  h.write('RIFF', 0); h.writeUInt32LE(36 + data.length, 4); h.write('WAVE', 8);
  h.write('fmt ', 12); h.writeUInt32LE(16, 16); h.writeUInt16LE(1, 20); h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24); h.writeUInt32LE(rate * channels * 2, 28); h.writeUInt16LE(channels * 2, 32); h.writeUInt16LE(16, 34);
  h.write('data', 36); h.writeUInt32LE(data.length, 40);
  return Buffer.concat([h, data]);
}

function srt_seconds(t) {
  const [hms, ms] = t.split(/[,.]/);
  const [h, m, s] = hms.split(':').map(Number);
  return h * 3600 + m * 60 + s + Number(ms) / 1000;
}

describe('speech recognition through the OpenAI client', () => {
  const env = new tether_env();
  let client;
  let key;
  const clip = wav(12, { seed: 2 });

  before(async () => {
    const models = path.join(env.dir, 'models');
    execFileSync('/usr/bin/python3', [path.join(root, 'tests/audio/make_whisper.py'), models, 'whisper-test'], { stdio: 'pipe' });
    env.add_user('alice');
    const token = env.add_space('asr', { features: 'audio', timeout: 120 });
    env.add_space('chat', { features: 'prompt' });
    key = env.add_api_key('alice');
    await env.start_broker();
    env.start_agent({ asr: token }, ['--backend', 'torch', '--device', 'cpu', '--capacity', '2', '--max-audio-seconds', '60',
      '--model', `asr=${path.join(models, 'whisper-test')}`]);
    await env.wait_connected(key, 'asr', 60000);
    client = new OpenAI({ apiKey: key, baseURL: env.api_url, maxRetries: 0, timeout: 120000 });
  });

  after(async () => { await env.stop(); });

  test('json: the text, and the duration used', async () => {
    const r = await client.audio.transcriptions.create({ file: await toFile(clip, 'meeting.wav'), model: 'asr', language: 'en' });
    assert.equal(typeof r.text, 'string');
    assert.ok(r.text.length > 0, 'an empty transcript');
    assert.equal(r.usage.type, 'duration');
    assert.equal(r.usage.seconds, 12);
  });

  test('an MP3 (and an Opus WebM, as the page records) transcribes like its WAV', async () => {
    // Debian's ffmpeg makes them from the same clip; the agent probes the
    // bytes, so a wrong file name changes nothing.
    const dir = path.join(env.dir, 'media');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'clip.wav'), clip);
    const made = (name, args) => {
      execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-i', path.join(dir, 'clip.wav'), ...args, path.join(dir, name)]);
      return fs.readFileSync(path.join(dir, name));
    };
    const mp3 = made('clip.mp3', ['-c:a', 'libmp3lame', '-b:a', '128k']);
    const webm = made('clip.webm', ['-c:a', 'libopus', '-b:a', '64k']);
    for (const [bytes, name] of [[mp3, 'meeting.mp3'], [webm, 'recording.webm'], [mp3, 'mislabelled.wav']]) {
      const v = await client.audio.transcriptions.create({
        file: await toFile(bytes, name), model: 'asr', language: 'en', response_format: 'verbose_json',
      });
      assert.ok(Math.abs(v.duration - 12) < 0.05, `${name}: duration ${v.duration}`);
      assert.ok(v.text.length > 0, `${name}: an empty transcript`);
    }
  });

  test('verbose_json, text, srt and vtt tell the same transcript', async () => {
    const file = async () => toFile(clip, 'meeting.wav');
    const v = await client.audio.transcriptions.create({
      file: await file(), model: 'asr', language: 'en', response_format: 'verbose_json', timestamp_granularities: ['segment'],
    });
    assert.equal(v.task, 'transcribe');
    assert.equal(v.language, 'english');
    assert.ok(Math.abs(v.duration - 12) < 1e-6);
    assert.ok(v.segments.length >= 1);
    let last = 0;
    for (const [i, s] of v.segments.entries()) {
      assert.equal(s.id, i);
      assert.ok(s.start >= last - 1e-9 && s.end >= s.start && s.end <= 12 + 1e-9, `segment ${i}: ${s.start}-${s.end}`);
      last = s.start;
      assert.ok(Array.isArray(s.tokens) && s.tokens.length > 0);
      for (const k of ['avg_logprob', 'compression_ratio', 'no_speech_prob', 'seek', 'temperature']) assert.equal(typeof s[k], 'number', k);
    }
    assert.equal(v.text, v.segments.map((s) => s.text).join('').trim());

    const text = await client.audio.transcriptions.create({ file: await file(), model: 'asr', language: 'en', response_format: 'text' });
    assert.equal(text.trim(), v.text);

    const srt = await client.audio.transcriptions.create({ file: await file(), model: 'asr', language: 'en', response_format: 'srt' });
    const cues = srt.trim().split(/\n\n/).map((c) => c.split('\n'));
    assert.equal(cues.length, v.segments.length);
    for (const [i, c] of cues.entries()) {
      assert.equal(c[0], String(i + 1));
      const m = c[1].match(/^(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)$/);
      assert.ok(m, c[1]);
      assert.ok(Math.abs(srt_seconds(m[1]) - v.segments[i].start) < 0.0011);
      assert.ok(Math.abs(srt_seconds(m[2]) - v.segments[i].end) < 0.0011);
      assert.equal(c.slice(2).join('\n'), v.segments[i].text.trim());
    }

    const vtt = await client.audio.transcriptions.create({ file: await file(), model: 'asr', language: 'en', response_format: 'vtt' });
    assert.ok(vtt.startsWith('WEBVTT\n\n'));
    const vcues = vtt.slice(8).trim().split(/\n\n/);
    assert.equal(vcues.length, v.segments.length);
    assert.match(vcues[0], /^\d\d:\d\d:\d\d\.\d\d\d --> \d\d:\d\d:\d\d\.\d\d\d\n/);
  });

  test('a 44.1 kHz stereo file is resampled; language detection and translation', async () => {
    const stereo = wav(6, { rate: 44100, channels: 2, seed: 3 });
    const detected = await client.audio.transcriptions.create({ file: await toFile(stereo, 's.wav'), model: 'asr', response_format: 'verbose_json' });
    assert.ok(detected.language.length > 0);
    assert.ok(Math.abs(detected.duration - 6) < 1e-3);
    const tr = await client.audio.translations.create({ file: await toFile(stereo, 's.wav'), model: 'asr', response_format: 'verbose_json' });
    assert.equal(tr.task, 'translate');
    assert.ok(tr.segments.length >= 1);
  });

  test('streamed: transcript.text.delta events, one per segment, then transcript.text.done', async () => {
    const whole = await client.audio.transcriptions.create({ file: await toFile(clip, 'm.wav'), model: 'asr', language: 'en', response_format: 'verbose_json' });
    const stream = await client.audio.transcriptions.create({ file: await toFile(clip, 'm.wav'), model: 'asr', language: 'en', stream: true });
    const events = [];
    for await (const e of stream) events.push(e);
    const deltas = events.filter((e) => e.type === 'transcript.text.delta');
    const done = events.filter((e) => e.type === 'transcript.text.done');
    assert.equal(done.length, 1);
    assert.equal(events.at(-1).type, 'transcript.text.done');
    assert.equal(done[0].text, whole.text);
    assert.equal(deltas.map((d) => d.delta).join('').trim(), whole.text);
    assert.equal(deltas.length, whole.segments.filter((s) => s.text.trim().length > 0).length);
  });

  test('the request API gets segment deltas over SSE and the segments in the result', async () => {
    const form = new FormData();
    form.append('audio', new Blob([clip], { type: 'audio/wav' }), 'meeting.wav');
    form.append('params', JSON.stringify({ language: 'en' }));
    const auth = { authorization: `Bearer ${key}` };
    const res = await fetch(`${env.base_url}/api/spaces/asr/requests`, { method: 'POST', body: form, headers: auth });
    assert.equal(res.status, 202, await res.clone().text());
    const { request_id } = await res.json();
    const events = await fetch(`${env.base_url}/api/requests/${request_id}/events`, { headers: auth });
    const body = await events.text(); // ends with the terminal event
    const deltas = [...body.matchAll(/event: delta\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]).text);
    assert.match(body, /event: completed\n/);
    const done = await (await fetch(`${env.base_url}/api/requests/${request_id}`, { headers: auth })).json();
    assert.equal(done.status, 'completed');
    const result = done.result;
    assert.equal(result.language, 'en');
    assert.ok(result.segments.length >= 1);
    assert.equal(deltas.join('').trim(), result.output);
    assert.equal(result.metrics.windows, 1);
  });

  test('bad audio gets a clear 400 and the agent keeps serving', async () => {
    const bad = async (file, extra, pattern) => {
      await assert.rejects(client.audio.transcriptions.create({ file, model: 'asr', ...extra }), (e) => {
        assert.equal(e.status, 400, `${e.status} ${e.message}`);
        assert.match(e.message, pattern);
        return true;
      });
    };
    await bad(await toFile(Buffer.from('this is not a wave file at all'), 'notes.txt'), {}, /notes\.txt: not an audio or video file this agent can read/);
    await bad(await toFile(Buffer.alloc(0), 'empty.wav'), {}, /empty/);
    await bad(await toFile(wav(61, { rate: 8000 }), 'long.wav'), {}, /long\.wav: it is 61\.00 s long, over this model's limit of 60 s/);
    await bad(await toFile(clip, 'a.wav'), { timestamp_granularities: ['word'] }, /word timestamps are not supported/);
    await bad(await toFile(clip, 'a.wav'), { language: 'xx' }, /"xx" is not a language this model knows/);
    await assert.rejects(client.audio.transcriptions.create({ file: await toFile(clip, 'a.wav'), model: 'chat' }),
      (e) => e.status === 400 && /does not take audio/.test(e.message));
    await assert.rejects(client.audio.transcriptions.create({ file: await toFile(clip, 'a.wav'), model: 'nope' }),
      (e) => e.status === 404);
    const ok = await client.audio.transcriptions.create({ file: await toFile(clip, 'a.wav'), model: 'asr', language: 'en' });
    assert.ok(ok.text.length > 0);
  });

  test('without an API key the upload is refused before it is read', async () => {
    const form = new FormData();
    form.append('file', new Blob([clip]), 'a.wav');
    form.append('model', 'asr');
    const res = await fetch(`${env.api_url}/audio/transcriptions`, { method: 'POST', body: form });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).error.code, 'invalid_api_key');
  });
});
