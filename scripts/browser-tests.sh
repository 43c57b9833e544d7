#!/usr/bin/env bash
# Runs the browser tests (tests/browser, Playwright core driving Debian's
# Chromium) against built tether-broker and tether-agent binaries. Installs
# Chromium (apt-get) and the npm dependencies (npm ci) when missing.
#   scripts/browser-tests.sh
#   TETHER_BROKER_BIN=... TETHER_AGENT_BIN=...   (default build/broker/tether-broker, build/agent/tether-agent)
#   TETHER_ARTIFACTS=dir                          screenshots and logs (default build/browser-artifacts)
# Exits non-zero when a test fails or something is missing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

export TETHER_BROKER_BIN=${TETHER_BROKER_BIN:-$root/build/broker/tether-broker}
export TETHER_AGENT_BIN=${TETHER_AGENT_BIN:-$root/build/agent/tether-agent}
export TETHER_ARTIFACTS=${TETHER_ARTIFACTS:-$root/build/browser-artifacts}
export CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}

for bin in "$TETHER_BROKER_BIN" "$TETHER_AGENT_BIN"; do
  if [ ! -x "$bin" ]; then
    echo "browser-tests: $bin is not built (set TETHER_BROKER_BIN / TETHER_AGENT_BIN)" >&2
    exit 1
  fi
done

if [ ! -x "$CHROMIUM_BIN" ]; then
  echo "browser-tests: installing chromium"
  sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium
fi
command -v node >/dev/null 2>&1 || { echo "browser-tests: node is missing (scripts/setup.sh --browser)" >&2; exit 1; }

# npm ci only when the lock file changed since the last install.
stamp=tests/browser/node_modules/.tether-lock
if [ ! -f "$stamp" ] || ! cmp -s tests/browser/package-lock.json "$stamp"; then
  (cd tests/browser && npm ci --no-audit --no-fund)
  cp tests/browser/package-lock.json "$stamp"
fi

mkdir -p "$TETHER_ARTIFACTS"
rm -f "$TETHER_ARTIFACTS"/*.png "$TETHER_ARTIFACTS"/logs/*.log 2>/dev/null || true
# A whole-run bound on top of each test's own timeouts.
timeout --kill-after=10 600 node --test --test-concurrency=1 --test-reporter=spec tests/browser/
