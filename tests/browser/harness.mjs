// Starts what the browser tests drive: a real tether-broker on 127.0.0.1 with
// a temporary data directory (users and spaces made with its own admin
// subcommands), tether-agent processes (mock backend; torch for the demo models), and Chromium
// through playwright-core. Every wait is bounded; every process is killed at
// the end, also when a test fails or the runner is interrupted.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import {
  agent_bin, broker_admin, broker_bin, free_port, root, sleep, start_process, stop_process, wait_for,
} from '../node_common/processes.mjs';

export { agent_bin, broker_admin, broker_bin, free_port, root, sleep, stop_process, wait_for };
export const artifacts = process.env.TETHER_ARTIFACTS || path.join(root, 'build', 'browser-artifacts');
export const chromium_bin = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

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
