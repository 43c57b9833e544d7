#!/usr/bin/env bash
# Runs the OpenAI client tests (tests/openai: the official `openai` npm
# package, node's built-in test runner) against built tether-broker and
# tether-agent binaries. Installs the npm dependencies (npm ci) when the lock
# file changed since the last install.
#   scripts/openai-tests.sh
#   TETHER_BROKER_BIN=... TETHER_AGENT_BIN=...   (default build/broker/tether-broker, build/agent/tether-agent)
# Exits non-zero when a test fails or something is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

export TETHER_BROKER_BIN=${TETHER_BROKER_BIN:-$root/build/broker/tether-broker}
export TETHER_AGENT_BIN=${TETHER_AGENT_BIN:-$root/build/agent/tether-agent}

for bin in "$TETHER_BROKER_BIN" "$TETHER_AGENT_BIN"; do
  if [ ! -x "$bin" ]; then
    echo "openai-tests: $bin is not built (set TETHER_BROKER_BIN / TETHER_AGENT_BIN)" >&2
    exit 1
  fi
done
command -v node >/dev/null 2>&1 || { echo "openai-tests: node is missing (scripts/setup.sh)" >&2; exit 1; }

stamp=tests/openai/node_modules/.tether-lock
if [ ! -f "$stamp" ] || ! cmp -s tests/openai/package-lock.json "$stamp"; then
  (cd tests/openai && npm ci --no-audit --no-fund)
  cp tests/openai/package-lock.json "$stamp"
fi

# A whole-run bound on top of each test's own timeouts.
timeout --kill-after=10 300 node --test --test-concurrency=1 --test-reporter=spec tests/openai/
