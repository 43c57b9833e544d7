#!/usr/bin/env bash
# Installs what is missing, builds, and starts a demo: one tether-broker on
# 127.0.0.1 (SQLite under demo-data/) and one tether-agent --backend torch
# serving the project's demo models (models/, see models/README.md):
#   chat      tiny-chat: a Llama-architecture model folder (BPE tokenizer, chat
#             template) run natively by the agent; the page shows a conversation
#   kjv       tiny-lm: a byte-level TorchScript language model; streams its text
#   code-lang a classifier: which language is this line of code?
#   denoise   WAV in, WAV out
#   upscale   PNG/JPEG in, a PNG twice the size out
# Prints the address and the sign-in; Ctrl-C stops both.
#   PORT=8080  DEMO_PASSWORD=tether-demo  BUILD_DIR=build   (defaults)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
port=${PORT:-8080}
data=${DEMO_DATA:-$root/demo-data}
password=${DEMO_PASSWORD:-tether-demo}

scripts/setup.sh --torch
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTETHER_REQUIRE_TORCH=ON >/dev/null
cmake --build "$build" --target tether-broker tether-agent -j "$(nproc)"
broker="$build/broker/tether-broker"
agent="$build/agent/tether-agent"

# space  features  model  description
spaces=(
  "chat|prompt|tiny-chat|A small Llama-style chat model trained on the King James Bible: say a verse, it answers with one"
  "kjv|prompt|tiny-lm.pt|A small byte-level language model trained on the King James Bible; it streams its text"
  "code-lang|prompt|code-lang.pt|Which language is this line? (cpp, python, javascript, shell, english)"
  "denoise|audio|denoise.pt|Upload a WAV; get it back with less noise"
  "upscale|file|upscale2x.pt|Upload a PNG or JPEG (up to 512x512); get it back twice the size"
)

mkdir -p "$data/tokens"
if [ ! -f "$data/admin-created" ]; then
  TETHER_PASSWORD="$password" "$broker" user add admin --admin --data "$data"
  touch "$data/admin-created"
fi
agent_args=()
space_list=()
for entry in "${spaces[@]}"; do
  IFS='|' read -r name features model description <<<"$entry"
  if [ ! -f "$data/tokens/$name" ]; then
    "$broker" space add "$name" --features "$features" --timeout 120 --description "$description" \
      --data "$data" >"$data/tokens/$name"
    chmod 600 "$data/tokens/$name"
  fi
  space_list+=("$name=$(cat "$data/tokens/$name")")
  agent_args+=(--model "$name=$root/models/$model")
done

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$broker" serve --listen "127.0.0.1:$port" --data "$data" --web "$root/web" &
pids+=($!)
for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break; sleep 0.2; done

# Tokens through the environment, so they do not show in the process list.
TETHER_SPACES="$(IFS=,; echo "${space_list[*]}")" "$agent" --broker "ws://127.0.0.1:$port/agent" \
  --backend torch "${agent_args[@]}" --capacity 4 --name demo-agent &
pids+=($!)

cat <<MSG

  Tether demo is running:   http://127.0.0.1:$port/
  Sign in as:               admin / $password
  Spaces:                   chat, kjv, code-lang, denoise, upscale (tether-agent --backend torch, models/)
  Try the API:
    curl -s -c /tmp/tether.cookie -H 'Content-Type: application/json' \\
      -d '{"username":"admin","password":"$password"}' http://127.0.0.1:$port/api/login
    curl -s -b /tmp/tether.cookie -H 'Content-Type: application/json' \\
      -d '{"prompt":"And God said","params":{"max_tokens":120}}' http://127.0.0.1:$port/api/spaces/kjv/requests
    KEY=\$("$broker" apikey add admin --data "$data" | grep -o 'tk_[0-9a-f]*')   # for OpenAI clients
    curl -s http://127.0.0.1:$port/v1/chat/completions -H "Authorization: Bearer \$KEY" -H 'Content-Type: application/json' \\
      -d '{"model":"chat","messages":[{"role":"user","content":"And God said, Let there be light"}]}'


  Ctrl-C stops the broker and the agent.
MSG
wait -n "${pids[@]}"
