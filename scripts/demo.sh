#!/usr/bin/env bash
# Installs what is missing, builds, and starts a demo: one tether-broker on
# 127.0.0.1 (SQLite under demo-data/) and one tether-agent serving the space
# "demo". Prints the address and the sign-in; Ctrl-C stops both.
#   PORT=8080  DEMO_PASSWORD=tether-demo  BUILD_DIR=build   (defaults)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
port=${PORT:-8080}
data=${DEMO_DATA:-$root/demo-data}
password=${DEMO_PASSWORD:-tether-demo}

scripts/setup.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" --target tether-broker tether-agent -j "$(nproc)"
broker="$build/broker/tether-broker"
agent="$build/agent/tether-agent"

mkdir -p "$data"
if [ ! -f "$data/demo-token" ]; then
  TETHER_PASSWORD="$password" "$broker" user add admin --admin --data "$data"
  "$broker" space add demo --features prompt,audio,video,file --timeout 120 \
    --description "Demo space answered by the mock backend" --data "$data" >"$data/demo-token"
  chmod 600 "$data/demo-token"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$broker" serve --listen "127.0.0.1:$port" --data "$data" --web "$root/web" &
pids+=($!)
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

TETHER_SPACES="demo=$(cat "$data/demo-token")" "$agent" --broker "ws://127.0.0.1:$port/agent" \
  --backend mock --delay 1-3 --name demo-agent &
pids+=($!)

cat <<MSG

  Tether demo is running:   http://127.0.0.1:$port/
  Sign in as:               admin / $password
  Space:                    demo (answered by tether-agent --backend mock)
  Try the API:
    curl -s -c /tmp/tether.cookie -H 'Content-Type: application/json' \\
      -d '{"username":"admin","password":"$password"}' http://127.0.0.1:$port/api/login
    curl -s -b /tmp/tether.cookie -H 'Content-Type: application/json' \\
      -d '{"prompt":"hello"}' http://127.0.0.1:$port/api/spaces/demo/requests

  Ctrl-C stops the broker and the agent.
MSG
wait -n "${pids[@]}"
