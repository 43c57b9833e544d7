#!/usr/bin/env bash
# Builds the protocol fuzzer (clang, libFuzzer, ASan+UBSan) and runs it.
#   scripts/fuzz.sh [SECONDS]      default 60
# Build dir: $BUILD_DIR/fuzz when BUILD_DIR is set (relative to the repo
# root unless absolute), else <repo>/build-fuzz. Exits non-zero on a crash;
# crashing inputs are kept in <build>/artifacts/.
set -euo pipefail

seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [SECONDS]" >&2
  exit 2
fi

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ -n "${BUILD_DIR:-}" ]]; then
  case "$BUILD_DIR" in
    /*) build="$BUILD_DIR/fuzz" ;;
    *) build="$root/$BUILD_DIR/fuzz" ;;
  esac
else
  build="$root/build-fuzz"
fi

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

CXX=clang++ cmake -S "$root" -B "$build" "${generator[@]}" \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTETHER_FUZZ=ON -DTETHER_BUILD_TESTS=ON -DTETHER_WITH_TORCH=OFF >/dev/null
cmake --build "$build" --target protocol_fuzz -j "${JOBS:-2}"

fuzzer="$(find "$build" -type f -name protocol_fuzz -perm -u+x | head -n 1)"
if [[ -z "$fuzzer" ]]; then
  echo "fuzz.sh: protocol_fuzz was not built" >&2
  exit 1
fi

# The fuzzer adds what it finds to its corpus: work on a copy, so the seeds
# in the repository stay the small hand-written set.
corpus="$build/corpus"
artifacts="$build/artifacts"
rm -rf "$corpus"
mkdir -p "$corpus" "$artifacts"
cp "$root/tests/fuzz/corpus/"* "$corpus/"

echo "fuzz.sh: running $fuzzer for ${seconds}s"
"$fuzzer" -max_total_time="$seconds" -max_len=16384 -timeout=10 -rss_limit_mb=2048 \
  -dict="$root/tests/fuzz/protocol.dict" -artifact_prefix="$artifacts/" -print_final_stats=1 "$corpus"
