#!/usr/bin/env bash
# The encoders' benchmark (issue 18): embeddings per second of a random-weight
# folder of bert-base's shape (12 layers, width 768, the MiniLM tokenizer) at
# forward batches of 1, 8 and 32, and images per second of ViT-base's shape
# (224x224, 16x16 patches) at 1 and 8, and summarization tokens/s of bart-base's
# shape (greedy, 4 beams, and 1/4/8 concurrent summaries sharing the BART
# engine's decoder steps), made by tests/encoders/make_encoders.py; each beside
# the bare GEMM bound of the same matrix products in the same run.
#   BUILD_DIR=build-lmbench JOBS=2 THREADS=2 DEVICE=cpu|cuda SECONDS_EACH=5 NO_BUILD=1 KEEP=1 scripts/bench-encoders.sh
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} # as the agent runs
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-lmbench}
work=$(mktemp -d /tmp/tether-bench-encoders.XXXXXX)
cleanup() { [[ -n ${KEEP:-} ]] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

if [[ ! -x $build/bench/tether-encoder-bench || -z ${NO_BUILD:-} ]]; then
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTETHER_BUILD_BENCH=ON \
      -DTETHER_WITH_TORCH=ON -DTETHER_REQUIRE_TORCH=ON -DTETHER_BUILD_TESTS=OFF ${TETHER_CMAKE_ARGS:-} >/dev/null
  fi
  cmake --build "$build" --target tether-encoder-bench -j "${JOBS:-2}" >/dev/null
fi
/usr/bin/python3 "$root/tests/encoders/make_encoders.py" "$work" bert-base-shape vit-base-shape bart-base-shape
for shape in bert-base-shape vit-base-shape bart-base-shape; do
  echo "== $shape"
  "$build/bench/tether-encoder-bench" "$work/$shape" --threads "${THREADS:-2}" --device "${DEVICE:-cpu}" \
    --seconds "${SECONDS_EACH:-5}"
done
