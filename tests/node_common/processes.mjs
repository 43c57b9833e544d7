// Process plumbing shared by the Node test suites (browser, OpenAI client):
// where the built binaries are, the broker's admin subcommands, starting and
// stopping tether-broker / tether-agent with their logs, bounded waits. Every
// child is killed when the runner exits, also on failure or interruption.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
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

// Runs `tether-broker ARGS --data DIR` (user add, space add, apikey add…) and
// returns its stdout; throws with both outputs when it fails.
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

// Starts `bin` with stdout and stderr appended to LOG_DIR/NAME.log.
export function start_process(name, bin, args, log_dir, extra_env = {}) {
  const log_path = path.join(log_dir, `${name}.log`);
  const log = fs.openSync(log_path, 'a');
  const child = spawn(bin, args, { stdio: ['ignore', log, log], env: { ...process.env, ...extra_env } });
  fs.closeSync(log);
  child.log_path = log_path;
  children.add(child);
  child.exit_promise = new Promise((resolve) => child.on('exit', (code, sig) => {
    children.delete(child);
    resolve({ code, sig });
  }));
  return child;
}

// SIGTERM, then SIGKILL after `grace_ms`; resolves once the child is gone.
export async function stop_process(child, grace_ms = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const done = await Promise.race([child.exit_promise, sleep(grace_ms).then(() => null)]);
  if (!done) {
    child.kill('SIGKILL');
    await Promise.race([child.exit_promise, sleep(grace_ms)]);
  }
}
