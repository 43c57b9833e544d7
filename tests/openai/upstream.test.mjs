// The official OpenAI client through the tunnel: broker R's space "relay" is
// served by an agent whose --upstream is broker U's /v1, where a torch agent
// serves a Hugging Face model folder (a random-weight Llama the project
// writes, tests/llm/make_models.py). Greedy answers through the tunnel equal
// the upstream's own, streamed and whole; usage and finish_reason come back.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { root, tether_env } from './harness.mjs';

describe('an OpenAI-compatible upstream through the tunnel', () => {
  const upstream = new tether_env();
  const relay = new tether_env();
  let direct, tunnel;

  before(async () => {
    const models = path.join(upstream.dir, 'models');
    execFileSync('/usr/bin/python3', [path.join(root, 'tests/llm/make_models.py'), models], { stdio: 'pipe' });
    upstream.add_user('alice');
    const llm_token = upstream.add_space('llm', { timeout: 60 });
    const up_key = upstream.add_api_key('alice');
    await upstream.start_broker();
    upstream.start_agent({ llm: llm_token },
      ['--backend', 'torch', '--device', 'cpu', '--model', `llm=${path.join(models, 'llama3-gqa-bf16')}`]);
    await upstream.wait_connected(up_key, 'llm', 60000);

    relay.add_user('bob');
    const relay_token = relay.add_space('relay', { timeout: 60 });
    const key = relay.add_api_key('bob');
    await relay.start_broker();
    relay.start_mock_agent({ relay: relay_token },
      ['--upstream', `relay=openai+${upstream.api_url}#model=llm&key_env=UPSTREAM_KEY`, '--capacity', '2'],
      { UPSTREAM_KEY: up_key });
    await relay.wait_connected(key, 'relay', 30000);
    direct = new OpenAI({ apiKey: up_key, baseURL: upstream.api_url, maxRetries: 0, timeout: 60000 });
    tunnel = new OpenAI({ apiKey: key, baseURL: relay.api_url, maxRetries: 0, timeout: 60000 });
  });

  after(async () => { await relay.stop(); await upstream.stop(); });

  const messages = [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'And God said' }];

  test('a chat completion equals the upstream answer', async () => {
    const want = await direct.chat.completions.create({ model: 'llm', messages, max_tokens: 8, temperature: 0 });
    const got = await tunnel.chat.completions.create({ model: 'relay', messages, max_tokens: 8, temperature: 0 });
    assert.equal(got.object, 'chat.completion');
    assert.equal(got.model, 'relay');
    assert.equal(got.choices[0].message.content, want.choices[0].message.content);
    assert.equal(got.choices[0].finish_reason, want.choices[0].finish_reason);
    assert.deepEqual(got.usage, want.usage);
  });

  test('streamed through the tunnel, the deltas add up to the same answer, with a usage chunk', async () => {
    const want = await direct.chat.completions.create({ model: 'llm', messages, max_tokens: 10, temperature: 0 });
    const stream = await tunnel.chat.completions.create({
      model: 'relay', messages, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let chunks = 0;
    let usage = null;
    let finish = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const c = chunk.choices[0];
      if (!c) continue;
      if (c.delta?.content) { text += c.delta.content; ++chunks; }
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(text, want.choices[0].message.content);
    assert.ok(chunks >= 2, `${chunks} content chunks`);
    assert.equal(finish, want.choices[0].finish_reason);
    assert.equal(usage.completion_tokens, want.usage.completion_tokens);
  });

  test('a text completion with a stop string and a seed passes every parameter through', async () => {
    const params = { prompt: 'In the beginning', max_tokens: 12, temperature: 0.8, top_p: 0.9, seed: 7 };
    const want = await direct.completions.create({ model: 'llm', ...params });
    const got = await tunnel.completions.create({ model: 'relay', ...params });
    assert.equal(got.choices[0].text, want.choices[0].text);
    assert.equal(got.usage.completion_tokens, want.usage.completion_tokens);
  });

  test('a request the upstream refuses is an error the client raises', async () => {
    await assert.rejects(
      tunnel.chat.completions.create({ model: 'relay', messages, max_tokens: 100000 }),
      (e) => e instanceof OpenAI.APIError && e.status >= 400 && e.status < 500);
  });
});
