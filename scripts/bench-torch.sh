#!/usr/bin/env bash
# The torch backend's benchmark on one machine (CPU, loopback only): builds
# Release with libtorch, measures the demo models in one process with
# tether-torch-bench (raw forward loop, torch_backend::run, generation
# tokens/s, batch sizes, dynamic batching), then starts tether-broker,
# `tether-agent --backend torch` and a mock agent on 127.0.0.1 and runs
# tether-loadgen's latency mode (concurrency 1) against them. Prints a table
# and stops everything it started (also on Ctrl-C or a failure).
#   scripts/bench-torch.sh [quick|full]   quick: about 3 minutes; full: about 8
#   BUILD_DIR=build-torchbench JOBS=2 THREADS=1 (torch intra-op threads) MODELS=models KEEP=1
#   QUIET_LOAD=1.0 QUIET_WAIT=900: before measuring (and again before the
#   end-to-end runs), wait up to QUIET_WAIT s for the 1-minute load average to
#   be at most QUIET_LOAD; QUIET_LOAD=off skips that.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-quick}
build=${BUILD_DIR:-$root/build-torchbench}
jobs=${JOBS:-2}
threads=${THREADS:-1}
models=${MODELS:-$root/models}

case "$mode" in
quick)
  fast_iter=2000 fast_time=5s img_iter=300 img_time=5s # code-lang, upscale2x: forward / run() calls
  gen_iter=3 gen_time=40s                              # tiny-lm: whole requests of 200 tokens
  batch_time=2s dyn_iter=4000 dyn_time=5s
  e2e_requests=2000 e2e_warmup=100 e2e_time=30s lm_requests=5 lm_warmup=1
  ;;
full)
  fast_iter=20000 fast_time=20s img_iter=2000 img_time=20s
  gen_iter=10 gen_time=120s
  batch_time=5s dyn_iter=20000 dyn_time=15s
  e2e_requests=10000 e2e_warmup=500 e2e_time=60s lm_requests=20 lm_warmup=2
  ;;
*)
  echo "usage: scripts/bench-torch.sh [quick|full]" >&2
  exit 2
  ;;
esac

echo "== build (Release, libtorch, $build)"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTETHER_WITH_TORCH=ON -DTETHER_REQUIRE_TORCH=ON \
  -DTETHER_BUILD_BENCH=ON -DTETHER_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" --target tether-broker tether-agent tether-loadgen tether-torch-bench -j "$jobs" >/dev/null
broker_bin=$build/broker/tether-broker
agent_bin=$build/agent/tether-agent
loadgen=$build/bench/tether-loadgen
tbench=$build/bench/tether-torch-bench
for m in code-lang tiny-lm upscale2x; do
  if [ ! -f "$models/$m.pt" ] || [ ! -f "$models/$m.json" ]; then
    echo "missing $models/$m.pt or .json (scripts/export-models.sh makes them)" >&2
    exit 1
  fi
done

# shellcheck source=scripts/lib/bench-common.sh
. "$root/scripts/lib/bench-common.sh"
bench_workdir tether-bench-torch

results=$work/results.txt
: >"$results"
# run NAME LIMIT_SECONDS CMD...: one bounded run; its RESULT lines tagged NAME/label.
run() {
  local name=$1 limit=$2
  shift 2
  echo "== $name (load $(load)): ${*/#$build\//}"
  local rc=0
  timeout --signal=TERM --kill-after=5 "$limit" "$@" >"$work/$name.log" 2>&1 || rc=$?
  grep -v -e '^RESULT' -e ' INFO ' "$work/$name.log" || true
  grep '^RESULT' "$work/$name.log" | sed -E "s|^RESULT label=([^ ]*)|$name/\\1|" >>"$results" || true
  [ "$rc" = 0 ] || echo "!! $name exited with $rc"
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
# Quiet-machine gate (as scripts/bench.sh's long modes): wait while the
# 1-minute load average is above QUIET_LOAD, up to QUIET_WAIT seconds, then
# measure anyway and say so. Its own build just ran, so this also lets that
# load decay. QUIET_LOAD=off skips the wait.
quiet_load=${QUIET_LOAD:-1.0}
quiet_wait=${QUIET_WAIT:-900}
wait_quiet() {
  [ "$quiet_load" != off ] || return 0
  local l waited=0
  while l=$(cut -d' ' -f1 /proc/loadavg) && awk -v l="$l" -v m="$quiet_load" 'BEGIN { exit !(l > m) }'; do
    if [ "$waited" -ge "$quiet_wait" ]; then
      echo "!! load $l is still above $quiet_load after ${waited} s: measuring anyway"
      return 0
    fi
    [ $((waited % 60)) = 0 ] && echo "   load $l > $quiet_load: waiting (${waited} s so far)"
    sleep 15
    waited=$((waited + 15))
  done
}

# Debian's libtorch calls the BLAS that libblas.so.3 resolves to (reference
# BLAS unless another is installed, or LD_LIBRARY_PATH picks one): say which.
blas=$(ldd "$tbench" | awk '$1 == "libblas.so.3" {print $3}')
wait_quiet
echo "== machine: $(nproc) cores, load $(load), $(date -u +%FT%TZ), torch threads $threads, libblas.so.3 = $(readlink -f "$blas")"
load_start=$(load)

# 1. In one process: the raw forward loop (a) and torch_backend::run (b) on the same request.
t=(--threads "$threads")
run direct-code-lang 120 "$tbench" direct --model "$models/code-lang.pt" "${t[@]}" --warmup 200 \
  --iterations "$fast_iter" --duration "$fast_time"
run backend-code-lang 120 "$tbench" backend --model "$models/code-lang.pt" "${t[@]}" --warmup 200 \
  --iterations "$fast_iter" --duration "$fast_time"
run direct-upscale2x 120 "$tbench" direct --model "$models/upscale2x.pt" "${t[@]}" --image 128 --warmup 20 \
  --iterations "$img_iter" --duration "$img_time"
run backend-upscale2x 120 "$tbench" backend --model "$models/upscale2x.pt" "${t[@]}" --image 128 --warmup 20 \
  --iterations "$img_iter" --duration "$img_time"
# tiny-lm: 200 tokens (the sidecar's default, which the end-to-end run gets), fixed seed;
# the raw loop replays the windows the backend fed the model.
run generate-tiny-lm 400 "$tbench" generate --model "$models/tiny-lm.pt" "${t[@]}" --max-tokens 200 --seed 8001 \
  --warmup 1 --iterations "$gen_iter" --duration "$gen_time"
# Two torch threads on the same request: what libtorch's default would do here.
run direct-code-lang-2t 120 "$tbench" direct --model "$models/code-lang.pt" --threads 2 --warmup 200 \
  --iterations "$fast_iter" --duration "$fast_time"
run direct-upscale2x-2t 120 "$tbench" direct --model "$models/upscale2x.pt" --threads 2 --image 128 --warmup 20 \
  --iterations "$img_iter" --duration "$img_time"

# 2. Batches: raw forward items/s at each size; then dynamic batching through the backend.
run batch-code-lang 300 "$tbench" batch --model "$models/code-lang.pt" "${t[@]}" --sizes 1,2,4,8,16,32 \
  --warmup 20 --iterations 100000 --duration "$batch_time"
run batch-upscale2x 300 "$tbench" batch --model "$models/upscale2x.pt" "${t[@]}" --image 64 --sizes 1,2,4,8,16,32 \
  --warmup 5 --iterations 100000 --duration "$batch_time"
for m in code-lang upscale2x; do
  run "dyn1-$m" 120 "$tbench" dynamic --model "$models/$m.pt" "${t[@]}" --image 64 --capacity 1 --submitters 1 \
    --warmup 20 --iterations "$dyn_iter" --duration "$dyn_time"
  run "dyn8-$m" 120 "$tbench" dynamic --model "$models/$m.pt" "${t[@]}" --image 64 --capacity 8 --max-batch 8 \
    --submitters 8 --batch-wait-ms 5 --warmup 20 --iterations "$dyn_iter" --duration "$dyn_time"
done

data=$work/data
mkdir -p "$data"
admin() { "$broker_bin" "$@" --data "$data" 2>>"$work/admin.log"; }
new_space() { admin space add "$1" --queue-limit 100000 --timeout 600 | awk 'length($NF) >= 16 {t=$NF} END {print t}'; }
echo "== setup ($work)"
TETHER_PASSWORD=$(head -c 18 /dev/urandom | base64) admin user add bench --admin >/dev/null
key=$(admin apikey add bench | awk 'length($NF) >= 16 {t=$NF} END {print t}')
export TETHER_BENCH_KEY=$key
code_token=$(new_space code-lang)
lm_token=$(new_space tiny-lm)
mock_token=$(new_space mock)
port=$(free_port)
target=127.0.0.1:$port
"$broker_bin" serve --listen "$target" --data "$data" --web "$root/web" --log-level warn \
  >"$work/broker.out" 2>"$work/broker.err" &
pids+=("$!")
wait_for 15 curl -sf "http://$target/healthz" || { echo "broker did not start:"; cat "$work/broker.err"; exit 1; }
"$agent_bin" --broker "ws://$target/agent" --backend torch --device cpu --torch-threads "$threads" --capacity 1 \
  --space "code-lang=$code_token" --model "code-lang=$models/code-lang.pt" \
  --space "tiny-lm=$lm_token" --model "tiny-lm=$models/tiny-lm.pt" --name torch --log-level warn \
  >"$work/agent-torch.out" 2>"$work/agent-torch.err" &
pids+=("$!")
"$agent_bin" --broker "ws://$target/agent" --backend mock --delay 0 --capacity 1 --space "mock=$mock_token" \
  --name mock --log-level warn >"$work/agent-mock.out" 2>"$work/agent-mock.err" &
pids+=("$!")
all_connected() {
  [ "$(curl -sf "http://$target/metrics" | grep -c '^tether_space_connected{.*} 1$')" -ge 3 ]
}
wait_for 60 all_connected || { echo "agents did not register:"; tail -5 "$work"/agent-*.err; exit 1; }

wait_quiet
lat=(latency --target "$target" --concurrency 1)
run e2e-mock 120 "$loadgen" "${lat[@]}" --space mock --requests "$e2e_requests" --warmup "$e2e_warmup" \
  --duration "$e2e_time"
run e2e-code-lang 120 "$loadgen" "${lat[@]}" --space code-lang --prompt 'std::vector<int> values{1, 2, 3};' \
  --requests "$e2e_requests" --warmup "$e2e_warmup" --duration "$e2e_time"
run e2e-tiny-lm 400 "$loadgen" "${lat[@]}" --space tiny-lm --prompt 'And God said' --requests "$lm_requests" \
  --warmup "$lm_warmup" --duration 300s --timeout 120s
load_end=$(load)
echo "== machine after: load $load_end"

# The table, from the RESULT lines: get NAME KEY [FIELD=VALUE] (the last matching line).
get() {
  awk -v n="$1" -v k="$2" -v f="${3:-}" '$1 == n && (f == "" || index(" " $0 " ", " " f " ")) {
    for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == k) v = kv[2] } } END { print (v == "" ? "-" : v) }' "$results"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
row() { printf '%-46s %-18s %-18s %-18s\n' "$@"; }
a_code=$(get direct-code-lang/direct p50_ms) b_code=$(get backend-code-lang/backend p50_ms)
a_img=$(get direct-upscale2x/direct p50_ms) b_img=$(get backend-upscale2x/backend p50_ms)
a_lm=$(get generate-tiny-lm/generate-raw p50_ms) b_lm=$(get generate-tiny-lm/generate-backend p50_ms)
c_code=$(get e2e-code-lang/tether p50_ms) c_lm=$(get e2e-tiny-lm/tether p50_ms)
echo
echo "torch backend, $mode, $(date -u +%FT%TZ), $(nproc) cores, torch threads $threads, load $load_start -> $load_end"
echo "libblas.so.3 = $(readlink -f "$blas")"
row "latency per request (ms)" "code-lang" "tiny-lm 200 tok" "upscale2x 128px"
row "(a) raw forward loop p50" "$a_code" "$a_lm" "$a_img"
row "(b) torch_backend::run p50" "$b_code" "$b_lm" "$b_img"
row "    of which inference_ms p50" "$(get backend-code-lang/backend inference_p50_ms)" "" \
  "$(get backend-upscale2x/backend inference_p50_ms)"
row "(c) broker + agent p50 / p99 (conc 1)" "$c_code / $(get e2e-code-lang/tether p99_ms)" \
  "$c_lm / $(get e2e-tiny-lm/tether p99_ms)" "- (no PNG upload mode)"
row "(b) / (a) p50" "$(ratio "$b_code" "$a_code")" "$(ratio "$b_lm" "$a_lm")" "$(ratio "$b_img" "$a_img")"
row "(c) / (a) p50" "$(ratio "$c_code" "$a_code")" "$(ratio "$c_lm" "$a_lm")" "-"
row "mock agent, same broker, p50 / p99" "$(get e2e-mock/tether p50_ms) / $(get e2e-mock/tether p99_ms)" "" ""
row "(a) with 2 torch threads p50" "$(get direct-code-lang-2t/direct p50_ms)" "" "$(get direct-upscale2x-2t/direct p50_ms)"
echo
row "tiny-lm generation, 200 tokens, seed 8001" "tokens/s" "ms/token" ""
row "  torch_backend::run" "$(get generate-tiny-lm/generate-backend tokens_per_s)" \
  "$(get generate-tiny-lm/generate-backend ms_per_token)" ""
row "  raw forward loop, same windows" "$(get generate-tiny-lm/generate-raw tokens_per_s)" \
  "$(get generate-tiny-lm/generate-raw ms_per_token)" ""
row "  end to end (p50 request)" "$(awk -v c="$c_lm" 'BEGIN { if (c != "-" && c > 0) printf "%.1f", 200000 / c; else print "-" }')" "" ""
echo
row "raw forward, items/s (speedup vs 1)" "code-lang" "upscale2x 64px" ""
for b in 1 2 4 8 16 32; do
  row "  batch $b" "$(get batch-code-lang/batch items_per_s "batch=$b") ($(get batch-code-lang/batch speedup "batch=$b")x)" \
    "$(get batch-upscale2x/batch items_per_s "batch=$b") ($(get batch-upscale2x/batch speedup "batch=$b")x)" ""
done
row "torch_backend::run, items/s" "code-lang" "upscale2x 64px" ""
for c in 1 8; do
  row "  capacity $c, $c thread(s)" "$(get "dyn$c-code-lang/dynamic" items_per_s)" "$(get "dyn$c-upscale2x/dynamic" items_per_s)" ""
done
row "  capacity 8: batches / items (mean batch)" \
  "$(get dyn8-code-lang/dynamic batches) / $(get dyn8-code-lang/dynamic batched_items) ($(get dyn8-code-lang/dynamic mean_batch))" \
  "$(get dyn8-upscale2x/dynamic batches) / $(get dyn8-upscale2x/dynamic batched_items) ($(get dyn8-upscale2x/dynamic mean_batch))" ""
row "  latency p50 ms, capacity 1 -> 8" "$(get dyn1-code-lang/dynamic p50_ms) -> $(get dyn8-code-lang/dynamic p50_ms)" \
  "$(get dyn1-upscale2x/dynamic p50_ms) -> $(get dyn8-upscale2x/dynamic p50_ms)" ""
