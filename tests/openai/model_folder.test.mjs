// The official OpenAI client against a Hugging Face model folder served by
// tether-agent --backend torch (a random-weight Llama the project writes,
// tests/llm/make_models.py): the client reads our completions, chat chunks,
// log-probabilities, usage chunk and model details without complaint, and
// greedy decoding answers the same text streamed or whole.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { root, tether_env } from './harness.mjs';

describe('a model folder through the OpenAI client', () => {
  const env = new tether_env();
  let client;

  before(async () => {
    const models = path.join(env.dir, 'models');
    execFileSync('/usr/bin/python3', [path.join(root, 'tests/llm/make_models.py'), models], { stdio: 'pipe' });
    env.add_user('alice');
    const token = env.add_space('llm', { timeout: 60 });
    const key = env.add_api_key('alice');
    await env.start_broker();
    env.start_agent({ llm: token },
      ['--backend', 'torch', '--device', 'cpu', '--model', `llm=${path.join(models, 'llama3-gqa-bf16')}`]);
    await env.wait_connected(key, 'llm', 60000);
    client = new OpenAI({ apiKey: key, baseURL: env.api_url, maxRetries: 0, timeout: 60000 });
  });

  after(async () => { await env.stop(); });

  test('the model shows its folder and context', async () => {
    const m = await client.models.retrieve('llm');
    assert.equal(m.id, 'llm');
    assert.equal(m.root, 'llama3-gqa-bf16');
    assert.equal(m.max_model_len, 256);
  });

  test('a text completion with logprobs', async () => {
    const c = await client.completions.create({
      model: 'llm', prompt: 'In the beginning', max_tokens: 6, temperature: 0, logprobs: 2,
      // vLLM's extension, passed through by the client as body fields
      ignore_eos: true,
    });
    assert.equal(c.object, 'text_completion');
    assert.match(c.id, /^cmpl-/);
    assert.equal(c.choices[0].finish_reason, 'length');
    assert.equal(c.usage.completion_tokens, 6);
    const lp = c.choices[0].logprobs;
    assert.equal(lp.tokens.length, 6);
    assert.equal(lp.tokens.join(''), c.choices[0].text);
    for (const [i, v] of lp.token_logprobs.entries()) {
      assert.ok(v <= 0, `logprob ${v}`);
      // greedy: the chosen token is the most likely alternative
      assert.ok(Math.max(...Object.values(lp.top_logprobs[i])) <= v + 1e-6);
    }
  });

  test('a streamed chat completion with logprobs and a usage chunk equals the whole answer', async () => {
    const request = {
      model: 'llm', max_tokens: 8, temperature: 0, ignore_eos: true,
      messages: [{ role: 'user', content: 'Who divided the light?' }],
    };
    const whole = await client.chat.completions.create(request);
    const stream = await client.chat.completions.create({
      ...request, stream: true, stream_options: { include_usage: true }, logprobs: true, top_logprobs: 2,
    });
    let text = '';
    let usage = null;
    let logprobs = null;
    let finish = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      if (chunk.choices.length === 0) continue;
      text += chunk.choices[0].delta.content ?? '';
      if (chunk.choices[0].logprobs) logprobs = chunk.choices[0].logprobs.content;
      if (chunk.choices[0].finish_reason) finish = chunk.choices[0].finish_reason;
    }
    assert.equal(text, whole.choices[0].message.content);
    assert.equal(finish, 'length');
    assert.equal(usage.completion_tokens, 8);
    assert.equal(usage.prompt_tokens, whole.usage.prompt_tokens);
    assert.equal(logprobs.length, 8);
    assert.equal(logprobs.map((t) => t.token).join(''), text);
    assert.equal(logprobs[0].top_logprobs.length, 2);
  });

  test('a prompt past the context is a 400 BadRequestError naming the context', async () => {
    await assert.rejects(
      client.completions.create({ model: 'llm', prompt: 'x', max_tokens: 4000 }),
      (e) => e instanceof OpenAI.BadRequestError && /context/.test(e.message));
  });
});
