#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan+UBSan) and runs each for SECONDS.
#   scripts/fuzz.sh [SECONDS] [TARGET...]    default 60 s each, all targets
# Targets (tests/fuzz/): protocol, multipart, http, media, tokenizer, template, upstream. SECONDS is per
# target, so `scripts/fuzz.sh 45` fuzzes for 4.5 minutes in all.
# Build dir: $FUZZ_BUILD_DIR if set, else $BUILD_DIR/fuzz when BUILD_DIR is set
# (relative paths are from the repo root), else <repo>/build-fuzz.
# JOBS: build parallelism (default 2). FUZZ_FLAGS: extra libFuzzer flags.
# FUZZ_BUILD_ONLY=1: build, do not fuzz.
# Runs every target even after a crash, prints one summary line per target
# (runs, exec/s, cov, ft, corpus), and exits non-zero if any target crashed;
# crashing inputs are kept in <build>/artifacts/<target>/, logs in <build>/logs/.
set -euo pipefail

all_targets=(protocol multipart http media tokenizer template upstream)
seconds="${1:-60}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]]; then
  echo "usage: $0 [SECONDS] [TARGET...]   targets: ${all_targets[*]}" >&2
  exit 2
fi
shift || true
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if ! [[ " ${all_targets[*]} " == *" $t "* ]]; then
    echo "fuzz.sh: unknown target '$t' (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
abs() { case "$1" in /*) echo "$1" ;; *) echo "$root/$1" ;; esac; }
if [[ -n "${FUZZ_BUILD_DIR:-}" ]]; then
  build="$(abs "$FUZZ_BUILD_DIR")"
elif [[ -n "${BUILD_DIR:-}" ]]; then
  build="$(abs "$BUILD_DIR")/fuzz"
else
  build="$root/build-fuzz"
fi

generator=()
if command -v ninja >/dev/null 2>&1; then generator=(-G Ninja); fi

CXX=clang++ cmake -S "$root" -B "$build" "${generator[@]}" \
  -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTETHER_FUZZ=ON -DTETHER_BUILD_TESTS=ON -DTETHER_WITH_TORCH=OFF -DTETHER_BUILD_BENCH=OFF >/dev/null
build_targets=()
for t in "${targets[@]}"; do build_targets+=("${t}_fuzz"); done
cmake --build "$build" --target "${build_targets[@]}" -j "${JOBS:-2}"
# FUZZ_BUILD_ONLY=1: build the targets and stop (test.sh builds them while
# the other tests run, then fuzzes).
if [[ -n "${FUZZ_BUILD_ONLY:-}" ]]; then exit 0; fi

# Per-target limits: inputs long enough for what each parser bounds (the
# multipart header block is 16 KiB), and for media a malloc limit far above
# what small uploads may legitimately cost, so a blow-up counts as a crash.
target_flags() {
  case "$1" in
    protocol) echo "-max_len=16384" ;;
    multipart) echo "-max_len=32768" ;;
    http) echo "-max_len=16384" ;;
    media) echo "-max_len=16384 -malloc_limit_mb=64" ;;
    tokenizer) echo "-max_len=32768 -malloc_limit_mb=512" ;;
    template) echo "-max_len=8192 -malloc_limit_mb=512" ;;
    upstream) echo "-max_len=16384 -malloc_limit_mb=256" ;;
  esac
}

mkdir -p "$build/logs"
# One target: fuzz it, then write its summary line (and "CRASH" or "ok") to
# $build/logs/$t.status.
run_target() {
  local t=$1
  local fuzzer="$build/tests/fuzz/${t}_fuzz"
  # The fuzzer adds what it finds to its corpus: work on a copy, so the seeds
  # in the repository stay the small hand-written set.
  local corpus="$build/corpus/$t" artifacts="$build/artifacts/$t" log="$build/logs/$t.log"
  rm -rf "$corpus"
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$t/"* "$corpus/"
  local dict=()
  if [[ -f "$root/tests/fuzz/$t.dict" ]]; then dict=(-dict="$root/tests/fuzz/$t.dict"); fi
  echo "fuzz.sh: running ${t}_fuzz for ${seconds}s (log: $log)"
  local status
  # shellcheck disable=SC2046,SC2086
  if "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $(target_flags "$t") \
      "${dict[@]}" -artifact_prefix="$artifacts/" -print_final_stats=1 ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1; then
    status=ok
  else
    status=CRASH
    tail -n 60 "$log" >&2
  fi
  local runs speed last cov ft corp
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[A-Za-z]*\).*/\1/p' <<<"$last")
  printf '%-10s %-6s runs %-10s exec/s %-7s cov %-6s ft %-7s corpus %s\n' \
    "$t" "$status" "${runs:-?}" "${speed:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" >"$build/logs/$t.status"
}

for t in "${targets[@]}"; do
  if [[ ! -x "$build/tests/fuzz/${t}_fuzz" ]]; then
    echo "fuzz.sh: $build/tests/fuzz/${t}_fuzz was not built" >&2
    exit 1
  fi
done
# FUZZ_JOBS targets at once (default: the cores, at most 2): each fuzzer is
# one process on one core.
jobs=${FUZZ_JOBS:-$(( $(nproc) < 2 ? 1 : 2 ))}
running=0
for t in "${targets[@]}"; do
  rm -f "$build/logs/$t.status"
  run_target "$t" &
  running=$((running + 1))
  if (( running >= jobs )); then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

failed=()
summary=()
for t in "${targets[@]}"; do
  line=$(cat "$build/logs/$t.status" 2>/dev/null || echo "$t CRASH (no status: the run did not finish)")
  summary+=("$line")
  [[ $line == *" ok "* ]] || failed+=("$t")
done

echo "fuzz.sh: ${seconds}s per target"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: crashes in: ${failed[*]} (inputs in $build/artifacts/)" >&2
  exit 1
fi
