// Starts what the OpenAI client tests talk to: a real tether-broker on
// 127.0.0.1 with a temporary data directory (users, spaces and API keys made
// with its own admin subcommands) and tether-agent processes with the mock
// backend. Every wait is bounded; every process is killed at the end, also
// when a test fails or the runner is interrupted.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  agent_bin, broker_admin as admin, broker_bin, free_port, root, sleep, start_process, stop_process, wait_for,
} from '../node_common/processes.mjs';

export { agent_bin, broker_bin, root, sleep, wait_for };

// The secret printed by `space add` / `apikey add`: the longest token-looking word.
function last_secret(stdout, pattern = /[A-Za-z0-9_\-]{20,}/g) {
  const found = stdout.match(pattern) || [];
  if (!found.length) throw new Error(`no secret in:\n${stdout}`);
  return found[found.length - 1];
}

// A broker with its data directory and the processes started for it.
export class tether_env {
  constructor() {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-openai-'));
    this.data_dir = path.join(this.dir, 'data');
    this.agents = [];
    this.broker = null;
    this.port = 0;
  }

  get base_url() { return `http://127.0.0.1:${this.port}`; }
  get api_url() { return `${this.base_url}/v1`; }

  add_user(name, password = `${name}-password-1234`, is_admin = false) {
    admin(this.data_dir, ['user', 'add', name, ...(is_admin ? ['--admin'] : [])], { TETHER_PASSWORD: password });
  }

  add_space(name, { features = 'prompt', timeout, queue_limit } = {}) {
    const args = ['space', 'add', name, '--features', features];
    if (timeout !== undefined) args.push('--timeout', String(timeout));
    if (queue_limit !== undefined) args.push('--queue-limit', String(queue_limit));
    return last_secret(admin(this.data_dir, args));
  }

  add_api_key(user) { return last_secret(admin(this.data_dir, ['apikey', 'add', user]), /tk_[0-9a-f]{16,}/g); }

  async start_broker(extra = []) {
    this.port = await free_port();
    this.broker = start_process('broker', broker_bin,
      ['serve', '--listen', `127.0.0.1:${this.port}`, '--data', this.data_dir, ...extra], this.dir);
    await wait_for('the broker to answer /healthz', async () => {
      if (this.broker.exitCode !== null) throw new Error(`broker exited: ${this.log('broker')}`);
      const res = await fetch(`${this.base_url}/healthz`, { signal: AbortSignal.timeout(1000) });
      return res.ok;
    }, 20000, 100);
  }

  start_mock_agent(spaces, extra = [], env = {}) { return this.start_agent(spaces, ['--backend', 'mock', ...extra], env); }

  // tether-agent with the given backend flags (--backend torch --model …)
  // and environment variables (an upstream's key).
  start_agent(spaces, backend_args, env = {}) {
    const args = ['--broker', `ws://127.0.0.1:${this.port}/agent`, ...backend_args];
    for (const [space, token] of Object.entries(spaces)) args.push('--space', `${space}=${token}`);
    const child = start_process(`agent-${this.agents.length + 1}`, agent_bin, args, this.dir, env);
    this.agents.push(child);
    return child;
  }

  // GET with a bearer key; { status, json, text, headers }.
  async get(key, p) {
    const res = await fetch(`${this.base_url}${p}`, {
      headers: { Authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text, headers: res.headers };
  }

  async wait_connected(key, space, timeout_ms = 15000) {
    await wait_for(`space ${space} to have an agent`, async () => {
      const { json } = await this.get(key, '/api/spaces');
      return (json?.spaces ?? []).some((s) => s.name === space && s.connected);
    }, timeout_ms, 100);
  }

  log(name) {
    try { return fs.readFileSync(path.join(this.dir, `${name}.log`), 'utf8').slice(-4000); } catch { return ''; }
  }

  async stop() {
    await Promise.all(this.agents.map((a) => stop_process(a)));
    await stop_process(this.broker);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
