// Embeddings and classification end to end: the official OpenAI client's
// embeddings.create against a real tether-broker and a tether-agent serving
// encoder folders (random weights, real tokenizers: tests/encoders/make_encoders.py)
// with --backend torch. The vectors are checked against the independent
// Python reference (tests/encoders/encoder_reference.py) on the ids the
// folder's tokenizer gives (tether-agent tokenize; the tokenizers have their
// own tests against the Hugging Face library). Also the request API's ranked
// labels for a classifier, and clear 400s.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { agent_bin, root, tether_env } from './harness.mjs';

const texts = [
  'I love this!',
  'The weather in Lisbon was grey all week, and the trains were late, but the pastries made up for it.',
  'ok',
  'Ünïcödé façade — naïve café, 東京 and Zürich.',
];

function ids_of(folder, text) {
  return JSON.parse(execFileSync(agent_bin, ['tokenize', folder], { input: text }).toString());
}

function reference_script(env, script, job) {
  const file = path.join(env.dir, `ref-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(job));
  return JSON.parse(execFileSync('/usr/bin/python3', [path.join(root, script), file]).toString());
}

function reference(env, job) { return reference_script(env, 'tests/encoders/encoder_reference.py', job); }

function max_abs_diff(a, b) {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('embeddings and classification through the OpenAI client and the request API', () => {
  const env = new tether_env();
  let client;
  let key;
  let models;
  let expected; // the reference's embedding of each text

  before(async () => {
    models = path.join(env.dir, 'models');
    execFileSync('/usr/bin/python3', [path.join(root, 'tests/encoders/make_encoders.py'), models, 'xlmr-st', 'bert-cls', 'bart-test'],
      { stdio: 'pipe' });
    env.add_user('alice');
    const embed = env.add_space('embed', { features: 'prompt' });
    const cls = env.add_space('cls', { features: 'prompt' });
    const sum = env.add_space('sum', { features: 'prompt' });
    key = env.add_api_key('alice');
    await env.start_broker();
    env.start_agent({ embed, cls, sum }, ['--backend', 'torch', '--device', 'cpu', '--capacity', 'embed=4',
      '--model', `embed=${path.join(models, 'xlmr-st')}`, '--model', `cls=${path.join(models, 'bert-cls')}`,
      '--model', `sum=${path.join(models, 'bart-test')}`]);
    await env.wait_connected(key, 'embed', 60000);
    await env.wait_connected(key, 'cls', 60000);
    await env.wait_connected(key, 'sum', 60000);
    client = new OpenAI({ apiKey: key, baseURL: env.api_url, maxRetries: 0, timeout: 60000 });
    const folder = path.join(models, 'xlmr-st');
    expected = reference(env, { folder, inputs: texts.map((t) => ids_of(folder, t)) }).outputs;
  });

  after(async () => { await env.stop(); });

  test('a list of texts: one embedding each, in order, equal to the reference; usage counts the tokens', async () => {
    const folder = path.join(models, 'xlmr-st');
    const r = await client.embeddings.create({ model: 'embed', input: texts }); // the client asks for base64 and decodes it
    assert.equal(r.object, 'list');
    assert.equal(r.model, 'embed');
    assert.equal(r.data.length, texts.length);
    r.data.forEach((d, i) => {
      assert.equal(d.object, 'embedding');
      assert.equal(d.index, i);
      assert.equal(d.embedding.length, 64);
      assert.ok(max_abs_diff(d.embedding, expected[i]) < 1e-4, `text ${i}`);
    });
    const tokens = texts.map((t) => ids_of(folder, t).length).reduce((a, b) => a + b, 0);
    assert.equal(r.usage.prompt_tokens, tokens);
    assert.equal(r.usage.total_tokens, tokens);
  });

  test('float and base64 encodings carry the same float32 values; one string is a list of one', async () => {
    const f = await client.embeddings.create({ model: 'embed', input: texts[1], encoding_format: 'float' });
    assert.equal(f.data.length, 1);
    assert.ok(max_abs_diff(f.data[0].embedding, expected[1]) < 1e-4);
    const b = await client.embeddings.create({ model: 'embed', input: [texts[1]], encoding_format: 'base64' });
    assert.equal(typeof b.data[0].embedding, 'string');
    const bytes = Buffer.from(b.data[0].embedding, 'base64');
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4));
    assert.deepEqual(decoded, f.data[0].embedding.map((v) => Math.fround(v)));
  });

  test('concurrent calls are batched and each gets its own vectors', async () => {
    const all = await Promise.all(texts.map((t) => client.embeddings.create({ model: 'embed', input: t })));
    all.forEach((r, i) => assert.ok(max_abs_diff(r.data[0].embedding, expected[i]) < 1e-4, `text ${i}`));
  });

  test('the request API: a classifier ranks its labels; an embedding model answers one vector', async () => {
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const submit = async (space, prompt) => {
      const res = await fetch(`${env.base_url}/api/spaces/${space}/requests`, {
        method: 'POST', headers: auth, body: JSON.stringify({ prompt }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const { request_id } = await res.json();
      await (await fetch(`${env.base_url}/api/requests/${request_id}/events`, { headers: auth })).text();
      const done = await (await fetch(`${env.base_url}/api/requests/${request_id}`, { headers: auth })).json();
      assert.equal(done.status, 'completed', JSON.stringify(done));
      return done.result;
    };
    const folder = path.join(models, 'bert-cls');
    const [logits] = reference(env, { folder, inputs: [ids_of(folder, texts[1])] }).outputs;
    const top = Math.max(...logits);
    const exp = logits.map((l) => Math.exp(l - top));
    const sum = exp.reduce((a, b) => a + b, 0);
    const names = ['sadness', 'joy', 'anger'];
    const want = names.map((label, i) => ({ label, confidence: exp[i] / sum })).sort((a, b) => b.confidence - a.confidence);
    const result = await submit('cls', texts[1]);
    assert.equal(result.output, want[0].label);
    assert.ok(Math.abs(result.confidence - want[0].confidence) < 1e-5);
    assert.deepEqual(result.labels.map((l) => l.label), want.map((l) => l.label));
    result.labels.forEach((l, i) => assert.ok(Math.abs(l.confidence - want[i].confidence) < 1e-5));
    const e = await submit('embed', texts[0]);
    assert.ok(max_abs_diff(e.embedding, expected[0]) < 1e-4);
    assert.equal(e.dimensions, 64);
  });

  test('bad requests get a clear 400 (404 for no such model) and the agent keeps serving', async () => {
    const bad = async (body, status, pattern) => {
      await assert.rejects(client.embeddings.create(body), (e) => {
        assert.equal(e.status, status, `${e.status} ${e.message}`);
        assert.match(e.message, pattern);
        return true;
      });
    };
    await bad({ model: 'embed', input: '' }, 400, /empty/);
    await bad({ model: 'embed', input: ['ok', ''] }, 400, /input\[1\].*empty/);
    await bad({ model: 'embed', input: [] }, 400, /empty array/);
    await bad({ model: 'embed', input: Array(2049).fill('x') }, 400, /2049 items; at most 2048/);
    await bad({ model: 'embed', input: [[1, 2, 3]] }, 400, /token ids is not supported/);
    await bad({ model: 'embed', input: 'x', dimensions: 32 }, 400, /64 dimensions/);
    await bad({ model: 'embed', input: 'word '.repeat(100) }, 400, /over this model's maximum of 40/);
    await bad({ model: 'embed', input: 'x', encoding_format: 'int8' }, 400, /encoding_format/);
    await bad({ model: 'cls', input: 'x' }, 400, /does not make embeddings/);
    await bad({ model: 'nope', input: 'x' }, 404, /does not exist/);
    const ok = await client.embeddings.create({ model: 'embed', input: texts[2] });
    assert.ok(max_abs_diff(ok.data[0].embedding, expected[2]) < 1e-4);
  });

  test('summarization: a greedy summary streams in as deltas; beam search answers the reference\'s tokens', async () => {
    const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
    const run = async (params) => {
      const res = await fetch(`${env.base_url}/api/spaces/sum/requests`, {
        method: 'POST', headers: auth, body: JSON.stringify({ prompt: texts[1], params }),
      });
      assert.equal(res.status, 202, await res.clone().text());
      const { request_id } = await res.json();
      const body = await (await fetch(`${env.base_url}/api/requests/${request_id}/events`, { headers: auth })).text();
      const deltas = [...body.matchAll(/event: delta\ndata: (.*)\n/g)].map((m) => JSON.parse(m[1]).text);
      const done = await (await fetch(`${env.base_url}/api/requests/${request_id}`, { headers: auth })).json();
      assert.equal(done.status, 'completed', JSON.stringify(done));
      return { deltas, result: done.result };
    };
    const greedy = await run({ num_beams: 1 });
    assert.ok(greedy.deltas.length > 1);
    assert.equal(greedy.deltas.join(''), greedy.result.output);
    const folder = path.join(models, 'bart-test');
    const ids = ids_of(folder, texts[1]);
    const ref = reference_script(env, 'tests/encoders/bart_reference.py', {
      folder, jobs: [{ ids, num_beams: 4, max_length: 64, min_length: 8, no_repeat_ngram_size: 3, length_penalty: 2.0, early_stopping: true }],
    });
    const beams = await run({});
    assert.deepEqual(beams.result.tokens, ref.results[0].tokens);
    assert.equal(beams.result.num_beams, 4);
  });

  test('/v1/models lists the encoder spaces', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.ok(ids.includes('embed') && ids.includes('cls'), ids.join(','));
  });
});
