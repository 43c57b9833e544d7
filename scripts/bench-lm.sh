#!/usr/bin/env bash
# The language-model engine's benchmark (issue 15), every ratio against a
# bound measured in the same run:
#   1. a random-weight Llama of ~100M parameters in float32
#      (bench/lm/make_bench_model.py): single-stream decode tokens/s against
#      the memory-bandwidth bound (weight bytes per token / the read bandwidth
#      of a bare libtorch sum over 1 GiB), time to first token for a 512-token
#      prompt, aggregate tokens/s at 1, 4 and 16 concurrent streams;
#   2. the demo chat model (models/tiny-chat, the engine) against the
#      byte-level TorchScript demo model (models/tiny-lm.pt, one forward over
#      the whole window a token), 200 tokens each.
# Prints the figures and the BLAS libtorch runs on. A few minutes on 2 cores.
#   BUILD_DIR=build-lmbench JOBS=2 THREADS="1 2" DEVICE=cpu|cuda KEEP=1 scripts/bench-lm.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-lmbench}
threads=${THREADS:-1 2}
device=${DEVICE:-cpu}

work=$(mktemp -d /tmp/tether-bench-lm.XXXXXX)
cleanup() { [[ -n ${KEEP:-} ]] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTETHER_BUILD_BENCH=ON \
  -DTETHER_WITH_TORCH=ON -DTETHER_REQUIRE_TORCH=ON -DTETHER_BUILD_TESTS=OFF ${TETHER_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" --target tether-lm-bench tether-torch-bench -j "${JOBS:-2}" >/dev/null
lmbench=$build/bench/tether-lm-bench
tbench=$build/bench/tether-torch-bench

echo "bench-lm: $(date -u +%FT%TZ), $(nproc) cores, $(uname -m), device $device"
/usr/bin/python3 "$root/bench/lm/make_bench_model.py" "$work/llama-100m"

declare -A decode bound
for t in $threads; do
  echo "== llama-100m, $t thread(s)"
  "$lmbench" "$work/llama-100m" --threads "$t" --device "$device" --decode 128 --prompt 512 \
    --streams 1,4,16 --stream-tokens 64 | tee "$work/llama-$t.txt"
  decode[$t]=$(awk '$1=="decode"{print $2}' "$work/llama-$t.txt")
  bound[$t]=$(awk '$1=="bound"{print $2}' "$work/llama-$t.txt")
done

echo "== demo models, 1 thread"
"$lmbench" "$root/models/tiny-chat" --threads 1 --device "$device" --decode 200 --prompt 64 --streams 1 \
  --stream-tokens 200 | tee "$work/tiny-chat.txt"
"$tbench" generate --model "$root/models/tiny-lm.pt" --threads 1 --max-tokens 200 --seed 8001 --warmup 1 \
  --iterations 5 --duration 30s 2>/dev/null | tee "$work/tiny-lm.txt"
chat=$(awk '$1=="decode"{print $2}' "$work/tiny-chat.txt")
byte=$(grep -o 'label=generate-backend .*tokens_per_s=[0-9.]*' "$work/tiny-lm.txt" | grep -o 'tokens_per_s=[0-9.]*' | cut -d= -f2)

echo
echo "== summary"
for t in $threads; do
  awk -v t="$t" -v d="${decode[$t]}" -v b="${bound[$t]}" \
    'BEGIN { printf "llama-100m, %d thread(s): decode %.1f tokens/s = %.0f%% of the bandwidth bound %.1f\n", t, d, 100 * d / b, b }'
done
awk -v c="$chat" -v b="$byte" \
  'BEGIN { printf "tiny-chat (engine) %.1f tokens/s vs tiny-lm.pt (TorchScript, byte tokens) %.1f tokens/s: %.2fx\n", c, b, c / b }'
