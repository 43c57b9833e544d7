// Starts what the browser tests drive: a real tether-broker on 127.0.0.1 with
// a temporary data directory (users and spaces made with its own admin
// subcommands), tether-agent processes with the mock backend, and Chromium
// through playwright-core. Every wait is bounded; every process is killed at
// the end, also when a test fails or the runner is interrupted.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, '..', '..');
export const broker_bin = process.env.TETHER_BROKER_BIN || path.join(root, 'build', 'broker', 'tether-broker');
export const agent_bin = process.env.TETHER_AGENT_BIN || path.join(root, 'build', 'agent', 'tether-agent');
export const artifacts = process.env.TETHER_ARTIFACTS || path.join(root, 'build', 'browser-artifacts');
export const chromium_bin = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

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

export function free_port() {
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

// Runs a broker admin subcommand; returns its stdout. Throws with its output on failure.
export function broker_admin(data_dir, args, env = {}) {
  const res = spawnSync(broker_bin, [...args, '--data', data_dir], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 20000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (res.error || res.status !== 0) {
    throw new Error(`tether-broker ${args.join(' ')} failed (${res.error?.message ?? `exit ${res.status}`}):\n${res.stdout}\n${res.stderr}`);
  }
  return res.stdout;
}

// The token printed by `space add` / `space token`: on a line of its own, or
// after "token:" when the command says more.
export function parse_token(stdout) {
  const lines = stdout.split('\n').map((l) => l.trim()).filter(Boolean);
  for (const line of lines) {
    const m = /token\W+([A-Za-z0-9_\-.~+/=]{16,})/i.exec(line);
    if (m) return m[1];
  }
  const last = lines[lines.length - 1] || '';
  return last.split(/\s+/).pop();
}

function start_process(name, bin, args, log_dir) {
  const log = fs.openSync(path.join(log_dir, `${name}.log`), 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log], env: { ...process.env } });
  fs.closeSync(log);
  children.add(child);
  child.exit_promise = new Promise((resolve) => child.on('exit', (code, sig) => {
    children.delete(child);
    resolve({ code, sig });
  }));
  return child;
}

export async function stop_process(child, grace_ms = 3000) {
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
    this.data_dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tether-browser-'));
    this.log_dir = path.join(artifacts, 'logs');
    fs.mkdirSync(this.log_dir, { recursive: true });
    this.agents = [];
    this.broker = null;
    this.port = 0;
  }

  get base_url() { return `http://127.0.0.1:${this.port}`; }
  get agent_url() { return `ws://127.0.0.1:${this.port}/agent`; }

  add_user(name, password, admin = false) {
    broker_admin(this.data_dir, ['user', 'add', name, ...(admin ? ['--admin'] : [])], { TETHER_PASSWORD: password });
  }

  add_space(name, { features = 'prompt', timeout, queue_limit, description } = {}) {
    const args = ['space', 'add', name, '--features', features];
    if (timeout !== undefined) args.push('--timeout', String(timeout));
    if (queue_limit !== undefined) args.push('--queue-limit', String(queue_limit));
    if (description !== undefined) args.push('--description', description);
    const token = parse_token(broker_admin(this.data_dir, args));
    if (!token) throw new Error(`no token in the output of space add ${name}`);
    return token;
  }

  async start_broker() {
    this.port = await free_port();
    this.broker = start_process('broker', broker_bin,
      ['serve', '--listen', `127.0.0.1:${this.port}`, '--data', this.data_dir, '--web', path.join(root, 'web')], this.log_dir);
    await wait_for('the broker to answer /healthz', async () => {
      if (this.broker.exitCode !== null) throw new Error(`broker exited with ${this.broker.exitCode}; see ${this.log_dir}/broker.log`);
      const res = await fetch(`${this.base_url}/healthz`, { signal: AbortSignal.timeout(1000) });
      return res.ok;
    }, 20000, 200);
  }

  // args: the agent's arguments after the binary (from a command line shown by the page, say).
  start_agent(args, name = `agent-${this.agents.length + 1}`) {
    const child = start_process(name, agent_bin, args, this.log_dir);
    this.agents.push(child);
    return child;
  }

  start_mock_agent(spaces, extra = []) {
    const args = ['--broker', this.agent_url, '--backend', 'mock', ...extra];
    for (const [space, token] of Object.entries(spaces)) args.push('--space', `${space}=${token}`);
    return this.start_agent(args);
  }

  // Signs in through the API (for setup and checks), returning a cookie header.
  async api_cookie(username, password) {
    const res = await fetch(`${this.base_url}/api/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }), signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`login ${username}: HTTP ${res.status} ${await res.text()}`);
    const cookies = res.headers.getSetCookie().map((c) => c.split(';')[0]);
    return cookies.join('; ');
  }

  async api(cookie, method, p, body) {
    const res = await fetch(`${this.base_url}${p}`, {
      method, headers: { Cookie: cookie, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined, signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text };
  }

  async wait_connected(cookie, space, connected = true, timeout_ms = 15000) {
    await wait_for(`space ${space} to be ${connected ? 'connected' : 'not connected'}`, async () => {
      const { json } = await this.api(cookie, 'GET', '/api/spaces');
      const s = (json?.spaces ?? []).find((x) => x.name === space);
      return s && Boolean(s.connected) === connected;
    }, timeout_ms, 200);
  }

  async stop() {
    await Promise.all(this.agents.map((a) => stop_process(a)));
    await stop_process(this.broker);
    fs.rmSync(this.data_dir, { recursive: true, force: true });
  }
}

export async function launch_browser() {
  // playwright-core gives every launch a fresh, temporary --user-data-dir of its own.
  return chromium.launch({
    executablePath: chromium_bin,
    headless: true,
    timeout: 30000,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function screenshot(page, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true, timeout: 10000 }).catch(() => {});
}
