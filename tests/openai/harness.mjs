// Starts what the OpenAI client tests talk to: a real tether-broker on
// 127.0.0.1 with a temporary data directory (users, spaces and API keys made
// with its own admin subcommands) and tether-agent processes with the mock
// backend. Every wait is bounded; every process is killed at the end, also
// when a test fails or the runner is interrupted.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const broker_bin = process.env.TETHER_BROKER_BIN || path.join(root, 'build', 'broker', 'tether-broker');
export const agent_bin = process.env.TETHER_AGENT_BIN || path.join(root, 'build', 'agent', 'tether-agent');

const children = new Set();
function kill_all_now() {
  for (const child of children) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}
process.on('exit', kill_all_now);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => { kill_all_now(); process.exit(130); });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls `fn` until it returns a truthy value or `timeout_ms` passes.
export async function wait_for(what, fn, timeout_ms = 15000, every_ms = 100) {
  const until = Date.now() + timeout_ms;
  let last_error;
  while (Date.now() < until) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last_error = err;
    }
    await sleep(every_ms);
  }
  throw new Error(`timed out after ${timeout_ms} ms waiting for ${what}${last_error ? ` (last error: ${last_error.message})` : ''}`);
}

function free_port() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function admin(data_dir, args, env = {}) {
  const res = spawnSync(broker_bin, [...args, '--data', data_dir], {
    env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20000, stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (res.error || res.status !== 0) {
    throw new Error(`tether-broker ${args.join(' ')} failed (${res.error?.message ?? `exit ${res.status}`}):\n${res.stdout}\n${res.stderr}`);
  }
  return res.stdout;
}

// The secret printed by `space add` / `apikey add`: the longest token-looking word.
function last_secret(stdout, pattern = /[A-Za-z0-9_\-]{20,}/g) {
  const found = stdout.match(pattern) || [];
  if (!found.length) throw new Error(`no secret in:\n${stdout}`);
  return found[found.length - 1];
}

function start_process(name, bin, args, log_dir) {
  const log_path = path.join(log_dir, `${name}.log`);
  const log = fs.openSync(log_path, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log], env: { ...process.env } });
  fs.closeSync(log);
  child.log_path = log_path;
  children.add(child);
  child.exit_promise = new Promise((resolve) => child.on('exit', (code, sig) => {
    children.delete(child);
    resolve({ code, sig });
  }));
  return child;
}

async function stop_process(child, grace_ms = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([child.exit_promise, sleep(grace_ms).then(() => null)]);
  if (!done) {
    child.kill('SIGKILL');
    await Promise.race([child.exit_promise, sleep(grace_ms)]);
  }
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

  start_mock_agent(spaces, extra = []) {
    const args = ['--broker', `ws://127.0.0.1:${this.port}/agent`, '--backend', 'mock', ...extra];
    for (const [space, token] of Object.entries(spaces)) args.push('--space', `${space}=${token}`);
    const child = start_process(`agent-${this.agents.length + 1}`, agent_bin, args, this.dir);
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
