#!/usr/bin/env bash
# The media layer's benchmark (issue 20): audio seconds decoded per second for
# MP3, Opus (WebM) and WAV beside Debian's ffmpeg command doing the same work,
# and video frames per second through a small image model at 256x256 beside
# the model alone, in one run of tether-media-bench.
#   BUILD_DIR=build THREADS=2 SECONDS_EACH=3 NO_BUILD=1 scripts/bench-media.sh
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive} # as the agent runs
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build}
if [[ ! -x $build/bench/tether-media-bench || -z ${NO_BUILD:-} ]]; then
  cmake --build "$build" --target tether-media-bench -j "${JOBS:-2}" >/dev/null
fi
"$build/bench/tether-media-bench" --seconds "${SECONDS_EACH:-3}" --threads "${THREADS:-2}"
