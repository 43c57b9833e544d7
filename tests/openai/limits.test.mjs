// Rate limits through the OpenAI client: a key may make its burst of
// requests, the next is refused with 429 and Retry-After, and another user's
// key is not affected.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { tether_env } from './harness.mjs';

describe('OpenAI-compatible API rate limits', () => {
  const env = new tether_env();
  const keys = {};

  before(async () => {
    env.add_user('alice');
    env.add_user('bob');
    const echo = env.add_space('echo');
    keys.alice = env.add_api_key('alice');
    keys.bob = env.add_api_key('bob');
    // Three requests at once per key, then one every 100 s: the test never sees a refill.
    await env.start_broker(['--rate-limit', 'echo:key=0.01/3']);
    env.start_mock_agent({ echo }, ['--delay', '0']);
    await env.wait_connected(keys.alice, 'echo');
  });

  after(async () => { await env.stop(); });

  test('429 with Retry-After comes past the limit and not before', async () => {
    const alice = new OpenAI({ apiKey: keys.alice, baseURL: env.api_url, maxRetries: 0, timeout: 20000 });
    const messages = [{ role: 'user', content: 'hi' }];
    for (let i = 0; i < 3; i++) {
      const c = await alice.chat.completions.create({ model: 'echo', messages });
      assert.equal(c.choices[0].message.content, 'echo: hi');
    }
    await assert.rejects(alice.chat.completions.create({ model: 'echo', messages }), (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, String(err));
      assert.equal(err.code, 'rate_limit_exceeded');
      const retry = Number(err.headers.get('retry-after'));
      assert.ok(retry >= 1 && retry <= 100, `Retry-After ${retry}`);
      return true;
    });
    const bob = new OpenAI({ apiKey: keys.bob, baseURL: env.api_url, maxRetries: 0, timeout: 20000 });
    const c = await bob.chat.completions.create({ model: 'echo', messages });
    assert.equal(c.choices[0].message.content, 'echo: hi');
  });
});
