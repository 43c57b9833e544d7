#!/usr/bin/env bash
# Trains and exports the demo models for `tether-agent --backend torch` into
# models/ (NAME.pt + NAME.json, and models/README.md), deterministically, on
# the CPU, with Debian's python3-torch. Takes about 6 minutes (one thread).
#   scripts/export-models.sh [--out DIR] [MODEL...]   export (default: all)
#   scripts/export-models.sh --check [MODEL...]       retrain into a temp folder
#                                                     and compare with models/
# Installs python3-torch and the KJV Bible packages first when missing
# (needs root or sudo only then).
set -euo pipefail

packages=(python3-torch bible-kjv bible-kjv-text)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} > 0)); then
  echo "export-models: installing ${missing[*]}"
  sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "export-models: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cd "$(dirname "$0")/.."
# Debian's interpreter, not whatever python3 comes first on PATH (a pyenv one
# has no torch). PYTHONHASHSEED: TorchScript writes some attributes in set order.
export PYTHONHASHSEED=0
exec /usr/bin/python3 scripts/models/export.py "$@"
