#!/usr/bin/env bash
# Installs what is missing, builds everything with warnings as errors, and runs
# every test: unit and integration (CTest; the tokenizer and chat-template
# tests against the Hugging Face `tokenizers` Node package and Python's
# Jinja2), end-to-end (mock and torch backends, CPU), seven libFuzzer targets
# (protocol, multipart, HTTP, media, tokenizer, template, upstream) for a bounded time
# each, and the browser tests. Exits non-zero on any failure.
#   scripts/test.sh                    everything
#   FUZZ_SECONDS=30 (per fuzz target) BUILD_DIR=build    (defaults)
#   SKIP_BROWSER=1 / SKIP_FUZZ=1       to leave those out locally (browser also skips
#                                      the npm-based OpenAI client tests)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
build=${BUILD_DIR:-build}
jobs=${JOBS:-$(nproc)}

setup_flags=(--torch --text)
[ -z "${SKIP_BROWSER:-}" ] && setup_flags+=(--browser)
scripts/setup.sh "${setup_flags[@]}"

# The tokenizer tests' reference (tests/text: the `tokenizers` package, whose
# linux-x64 binary comes with it); npm ci only when the lock file changed.
stamp=tests/text/node_modules/.tether-lock
if [ ! -f "$stamp" ] || ! cmp -s tests/text/package-lock.json "$stamp"; then
  (cd tests/text && npm ci --no-audit --no-fund)
  cp tests/text/package-lock.json "$stamp"
fi

test_start=$(date +%s)
echo "== configure ($build)"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTETHER_WERROR=ON -DTETHER_BUILD_TESTS=ON -DTETHER_REQUIRE_TORCH=ON
# The fuzzers' clang build (ASan+UBSan, a build dir of its own) goes on at
# the lowest priority beside the main build (whose links leave a core idle)
# and while the CTest and Node suites run (much of their time is spent
# waiting on processes); after them it would add many minutes.
fuzz_build_pid=
if [ -z "${SKIP_FUZZ:-}" ] && [ -x scripts/fuzz.sh ]; then
  mkdir -p "$build"
  echo "== building the fuzzers in the background (log: $build/fuzz-build.log)"
  FUZZ_BUILD_ONLY=1 nice -n 19 scripts/fuzz.sh >"$build/fuzz-build.log" 2>&1 &
  fuzz_build_pid=$!
  trap 'kill "$fuzz_build_pid" 2>/dev/null || true' EXIT
fi
echo "== build"
phase_start=$(date +%s)
cmake --build "$build" -j "$jobs"
echo "== build took $(($(date +%s) - phase_start)) s"

phase_start=$(date +%s)
echo "== unit, integration and end-to-end tests"
(cd "$build" && ctest --output-on-failure -j "$jobs" --timeout 300)
echo "== ctest took $(($(date +%s) - phase_start)) s"
# A test name CTest cannot pass through to Catch (a ';' splits it, a leading
# '-' reads as a flag) runs nothing and still "passes": refuse that.
if grep -q "No test cases matched" "$build/Testing/Temporary/LastTest.log"; then
  echo "test.sh: some CTest entries matched no Catch test (rename them: no ';', no leading '-'):" >&2
  grep "No test cases matched" "$build/Testing/Temporary/LastTest.log" | sort -u >&2
  exit 1
fi

# The Node suites (browser, OpenAI client) before the fuzzers: they run while
# the fuzz build finishes in the background.
phase_start=$(date +%s)
if [ -z "${SKIP_BROWSER:-}" ] && [ -x scripts/browser-tests.sh ]; then
  echo "== browser tests"
  TETHER_BROKER_BIN="$root/$build/broker/tether-broker" TETHER_AGENT_BIN="$root/$build/agent/tether-agent" \
    scripts/browser-tests.sh
fi
if [ -z "${SKIP_BROWSER:-}" ] && [ -x scripts/openai-tests.sh ]; then
  echo "== OpenAI client tests"
  TETHER_BROKER_BIN="$root/$build/broker/tether-broker" TETHER_AGENT_BIN="$root/$build/agent/tether-agent" \
    scripts/openai-tests.sh
fi
echo "== browser and OpenAI client tests took $(($(date +%s) - phase_start)) s"

if [ -n "$fuzz_build_pid" ]; then
  wait_start=$(date +%s)
  if ! wait "$fuzz_build_pid"; then
    echo "test.sh: building the fuzzers failed:" >&2
    tail -40 "$build/fuzz-build.log" >&2
    exit 1
  fi
  echo "== waited $(($(date +%s) - wait_start)) s more for the fuzz build"
  phase_start=$(date +%s)
  echo "== fuzzers: protocol, multipart, HTTP, media, tokenizer, template, upstream (${FUZZ_SECONDS:-30} s each)"
  scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
  echo "== fuzzing took $(($(date +%s) - phase_start)) s"
fi

echo "== all tests passed ($(($(date +%s) - test_start)) s after setup)"
