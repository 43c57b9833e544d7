#!/usr/bin/env bash
# Installs the Debian 12 packages Tether needs to build and test, and nothing
# when all of them are already there. Needs root (or sudo) only to install.
#   scripts/setup.sh            build + unit/integration test dependencies
#   scripts/setup.sh --browser  also Chromium and Node for the browser and OpenAI client tests
#   scripts/setup.sh --torch    also libtorch (CPU) for the agent's torch backend, OpenBLAS (Debian's
#                               libtorch calls libblas.so.3, the slow reference BLAS unless OpenBLAS is
#                               installed), python3-torch (the model tests' reference) and python3-pil
#                               (the image preprocessing reference)
#   scripts/setup.sh --text     also Node and Python's Jinja2: the references of the tokenizer and chat-template tests
#   scripts/setup.sh --bench    also nginx and wrk for bench/
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libsimdjson-dev libsqlitecpp-dev libsqlite3-dev libfmt-dev
  catch2 libssl-dev openssl libcli11-dev libpng-dev libjpeg62-turbo-dev libonig-dev libicu-dev
  clang libclang-rt-14-dev
  libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libswscale-dev ffmpeg
  curl
)
for arg in "$@"; do
  case "$arg" in
    --browser) packages+=(chromium nodejs npm) ;;
    --torch) packages+=(libtorch-dev libopenblas0-pthread python3-torch python3-pil) ;;
    --text) packages+=(nodejs npm python3 python3-jinja2) ;;
    --bench) packages+=(nginx-light wrk) ;;
    *) echo "setup.sh: unknown option $arg (expected --browser, --torch, --text, --bench)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  # Another package may provide the tool already (e.g. node from elsewhere).
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup: all packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
