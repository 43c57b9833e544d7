// The official OpenAI client library against a real tether-broker and a mock
// tether-agent: models, chat completions with and without streaming, stop
// sequences, parameters reaching the agent, and OpenAI-shaped errors.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { tether_env, wait_for } from './harness.mjs';

describe('OpenAI-compatible API', () => {
  const env = new tether_env();
  let key;
  let client;

  before(async () => {
    env.add_user('alice');
    const echo = env.add_space('echo', { timeout: 30 });
    env.add_space('lonely', { timeout: 1 });
    env.add_space('uploads', { features: 'file' });
    key = env.add_api_key('alice');
    await env.start_broker();
    env.start_mock_agent({ echo }, ['--delay', '0.2']);
    await env.wait_connected(key, 'echo');
    client = new OpenAI({ apiKey: key, baseURL: env.api_url, maxRetries: 0, timeout: 20000 });
  });

  after(async () => { await env.stop(); });

  test('models are the spaces that take text', async () => {
    const ids = [];
    for await (const m of client.models.list()) ids.push(m.id);
    assert.deepEqual(ids.sort(), ['echo', 'lonely']);
    const one = await client.models.retrieve('echo');
    assert.equal(one.id, 'echo');
    assert.equal(one.object, 'model');
  });

  test('a chat completion answers with the agent output', async () => {
    const c = await client.chat.completions.create({
      model: 'echo', messages: [{ role: 'user', content: 'Hello world' }],
    });
    assert.equal(c.object, 'chat.completion');
    assert.match(c.id, /^chatcmpl-[0-9a-f-]{36}$/);
    assert.equal(c.model, 'echo');
    assert.equal(c.choices.length, 1);
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(c.choices[0].message.content, 'echo: Hello world');
    assert.equal(c.choices[0].finish_reason, 'stop');
  });

  test('a streamed chat completion arrives as chunks, then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'echo', stream: true, messages: [{ role: 'user', content: 'one two three four' }],
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    assert.ok(chunks.length >= 4, `only ${chunks.length} chunks`);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    for (const c of chunks) {
      assert.equal(c.object, 'chat.completion.chunk');
      assert.equal(c.id, chunks[0].id);
    }
    const text = chunks.map((c) => c.choices[0].delta.content ?? '').join('');
    assert.equal(text, 'echo: one two three four');
    const content_chunks = chunks.filter((c) => c.choices[0].delta.content);
    assert.ok(content_chunks.length >= 2, 'the text came in one piece: not streamed');
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.ok(chunks.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
  });

  test('stop sequences end the answer, streamed or not', async () => {
    const messages = [{ role: 'user', content: 'alpha beta gamma delta' }];
    const plain = await client.chat.completions.create({ model: 'echo', messages, stop: ['gamma'] });
    assert.equal(plain.choices[0].message.content, 'echo: alpha beta ');
    assert.equal(plain.choices[0].finish_reason, 'stop');
    const stream = await client.chat.completions.create({ model: 'echo', messages, stop: 'ta g', stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0].delta.content ?? '';
    assert.equal(text, 'echo: alpha be');
  });

  test('the request reaches the agent with messages, a prompt and the parameters', async () => {
    const messages = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi' },
    ];
    const c = await client.chat.completions.create({
      model: 'echo', messages, max_tokens: 7, temperature: 0.25, stop: ['\n\n'],
    });
    const id = c.id.slice('chatcmpl-'.length);
    // The stop sequence ended the answer early; the agent still finishes the request.
    const json = await wait_for('the request to complete', async () => {
      const r = await env.get(key, `/api/requests/${id}`);
      return r.json?.status === 'completed' && r.json;
    });
    assert.equal(json.prompt, 'System: Be brief.\n\nUser: Hi\n\nAssistant:');
    assert.deepEqual(json.params, { max_tokens: 7, temperature: 0.25, stop: ['\n\n'] });
    assert.equal(c.choices[0].message.content, 'echo: System: Be brief.');
  });

  test('errors come in OpenAI shape with fitting status codes', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.NotFoundError && err.code === 'model_not_found' && err.param === 'model');
    await assert.rejects(
      client.chat.completions.create({ model: 'echo', messages: [] }),
      (err) => err instanceof OpenAI.BadRequestError && err.param === 'messages' && err.type === 'invalid_request_error');
    await assert.rejects(
      client.chat.completions.create({ model: 'echo', messages: [{ role: 'user', content: 'x' }], n: 3 }),
      (err) => err instanceof OpenAI.BadRequestError && err.param === 'n');
    await assert.rejects(
      client.chat.completions.create({ model: 'uploads', messages: [{ role: 'user', content: 'x' }] }),
      (err) => err instanceof OpenAI.BadRequestError && err.param === 'model');
    const stranger = new OpenAI({ apiKey: 'tk_not_a_key', baseURL: env.api_url, maxRetries: 0 });
    await assert.rejects(stranger.models.list(),
      (err) => err instanceof OpenAI.AuthenticationError && err.code === 'invalid_api_key');
    const res = await fetch(`${env.api_url}/chat/completions`, { method: 'POST', body: '{}' });
    assert.equal(res.status, 401);
    const body = await res.json();
    assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  });

  test('an agent failure is an error, streamed or not', async () => {
    const messages = [{ role: 'user', content: 'please #fail now' }];
    await assert.rejects(client.chat.completions.create({ model: 'echo', messages }),
      (err) => err instanceof OpenAI.APIError && err.status === 502);
    const stream = await client.chat.completions.create({ model: 'echo', messages, stream: true });
    await assert.rejects((async () => { for await (const _ of stream) { /* drain */ } })(),
      (err) => err instanceof OpenAI.APIError);
  });

  test('a request nobody serves times out at the space deadline', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'lonely', messages: [{ role: 'user', content: 'anyone?' }] }),
      (err) => err instanceof OpenAI.APIError && err.status === 504 && err.code === 'timeout');
  });
});
