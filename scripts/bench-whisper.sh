#!/usr/bin/env bash
# Speech recognition's benchmark (issue 17): the real-time factor (audio
# seconds per wall second) of whole transcriptions with random-weight Whisper
# folders of whisper-tiny's shape (4+4 layers, width 384) and whisper-base's
# (6+6, width 512), made by tests/audio/make_whisper.py, at batch 1 and with 4
# requests at once sharing batched windows; plus one encoder window and one
# decoder step alone. Random weights never say <|endoftext|>, so every window
# decodes its full budget of tokens (224; MAX_TOKENS lowers it to what speech
# typically needs): a pessimistic bound on real speech.
#   BUILD_DIR=build-lmbench JOBS=2 THREADS=2 DEVICE=cpu|cuda CLIP_SECONDS=60 MAX_TOKENS=0 KEEP=1 scripts/bench-whisper.sh
set -euo pipefail
# As the agent runs (agent/app/main.cpp): OpenMP threads that wait passively.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-lmbench}
work=$(mktemp -d /tmp/tether-bench-whisper.XXXXXX)
cleanup() { [[ -n ${KEEP:-} ]] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

if [[ ! -x $build/bench/tether-whisper-bench || -z ${NO_BUILD:-} ]]; then
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTETHER_BUILD_BENCH=ON \
      -DTETHER_WITH_TORCH=ON -DTETHER_REQUIRE_TORCH=ON -DTETHER_BUILD_TESTS=OFF ${TETHER_CMAKE_ARGS:-} >/dev/null
  fi
  cmake --build "$build" --target tether-whisper-bench -j "${JOBS:-2}" >/dev/null
fi
/usr/bin/python3 "$root/tests/audio/make_whisper.py" "$work" whisper-tiny-shape whisper-base-shape
for shape in whisper-tiny-shape whisper-base-shape; do
  echo "== $shape"
  "$build/bench/tether-whisper-bench" "$work/$shape" --threads "${THREADS:-2}" --device "${DEVICE:-cpu}" \
    --seconds "${CLIP_SECONDS:-60}" --max-tokens "${MAX_TOKENS:-0}" --streams 1,4
done
