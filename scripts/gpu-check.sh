#!/usr/bin/env bash
# The CUDA check of the language-model engine (issue 15), for a machine with
# an NVIDIA GPU and PyTorch (its libtorch: python3 -c 'import torch' works)
# but perhaps none of Debian's -dev packages and no network.
#
# Here, on Debian 12 (with network to Debian's mirror), first:
#   scripts/gpu-check.sh --prepare      # .gpu-deps/: the build's Debian packages as .deb
# There (the device tool carries .gpu-deps):
#   scripts/gpu-check.sh [OUT_DIR]      # < 10 minutes on an H200
# It unpacks the .debs into a private prefix, builds tether-agent, the lm
# tests and tether-lm-bench against PyTorch's libtorch, runs the reference
# tests and the engine tests with the models on CUDA (float32, so the
# reference's tolerances hold), then the generation benchmark on CUDA in the
# stored dtype and in float32. Logs and figures go to OUT_DIR (default
# build-gpu/out).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
deps_dir=$root/.gpu-deps

# What the agent, the lm tests and the bench link (headers and libraries),
# beside libtorch.
packages=(libboost1.81-dev libssl-dev libssl3 libfmt-dev libfmt9 libsimdjson-dev libsimdjson14 libsqlitecpp-dev
  libsqlite3-dev libsqlite3-0 libpng-dev libpng16-16 libjpeg62-turbo-dev libjpeg62-turbo
  libicu-dev libicu72 libonig-dev libonig5 catch2 zlib1g-dev pkgconf-bin libpkgconf3)

if [[ ${1:-} == --prepare ]]; then
  grep -qx '/.gpu-deps/' .git/info/exclude 2>/dev/null || echo '/.gpu-deps/' >>.git/info/exclude
  mkdir -p "$deps_dir"
  (cd "$deps_dir" && apt-get download "${packages[@]}")
  # The Whisper tests' real tokenizer and configs live beside the repo, not in it.
  rm -rf "$deps_dir/whisper-base"
  cp -r "$root/../shared/tokenizers/whisper/whisper-base" "$deps_dir/whisper-base"
  # The encoder tests' tokenizers (WordPiece, byte-level BPE, Unigram).
  rm -rf "$deps_dir/tokenizers" && mkdir -p "$deps_dir/tokenizers"
  for t in bert roberta t5; do cp -r "$root/../shared/tokenizers/$t" "$deps_dir/tokenizers/$t"; done
  du -sh "$deps_dir"
  exit 0
fi

out=${1:-$root/build-gpu/out}
mkdir -p "$out"
exec > >(tee "$out/gpu-check.log") 2>&1
start=$(date +%s)
step() { echo "== $(( $(date +%s) - start )) s: $*"; }

python=${PYTHON:-python3}
[[ -d $deps_dir/whisper-base ]] && export TETHER_WHISPER_TOKENIZER=$deps_dir/whisper-base
[[ -d $deps_dir/tokenizers ]] && export TETHER_TOKENIZERS=$deps_dir/tokenizers
torch_prefix=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)')
"$python" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true

prefix=/tmp/tether-gpu-deps
if ! ls "$deps_dir"/*.deb >/dev/null 2>&1; then
  echo "gpu-check: no .debs in $deps_dir: run scripts/gpu-check.sh --prepare on Debian first (or install the -dev packages)" >&2
else
  step "unpacking $(ls "$deps_dir"/*.deb | wc -l) Debian packages into $prefix"
  mkdir -p "$prefix"
  for f in "$deps_dir"/*.deb; do dpkg-deb -x "$f" "$prefix"; done
fi
multiarch=$prefix/usr/lib/x86_64-linux-gnu
export CPATH=$prefix/usr/include${CPATH:+:$CPATH}
export LIBRARY_PATH=$multiarch${LIBRARY_PATH:+:$LIBRARY_PATH}
export LD_LIBRARY_PATH=$multiarch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export PKG_CONFIG_PATH=$multiarch/pkgconfig:$prefix/usr/share/pkgconfig
export PATH=$prefix/usr/bin:$PATH

step "configure against $torch_prefix"
build=$root/build-gpu
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTETHER_REQUIRE_TORCH=ON \
  -DCMAKE_PREFIX_PATH="$torch_prefix;$prefix/usr;$multiarch/cmake" -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DICU_ROOT="$prefix/usr" -DOPENSSL_ROOT_DIR="$prefix/usr" -DPKG_CONFIG_EXECUTABLE="$prefix/usr/bin/pkgconf" >"$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
step "build"
cmake --build "$build" --target tether-agent lm_tests tether-lm-bench tether-whisper-bench tether-encoder-bench -j "$(nproc)" >"$out/build.log" 2>&1 ||
  { grep -m 20 -A 5 'error' "$out/build.log"; exit 1; }

step "lm tests on CUDA (reference logits, greedy, KV cache, continuous batching; Whisper against its reference)"
TETHER_TEST_DEVICE=cuda TETHER_PYTHON=$python "$build/tests/lm_tests" --durations yes >"$out/lm_tests.log" 2>&1 &&
  tail -3 "$out/lm_tests.log" || { tail -60 "$out/lm_tests.log"; status=1; }

step "generation benchmark on CUDA"
"$python" bench/lm/make_bench_model.py /tmp/llama-100m
"$build/bench/tether-lm-bench" /tmp/llama-100m --device cuda --decode 256 --prompt 512 --streams 1,4,16,64 \
  --stream-tokens 128 | tee "$out/bench-100m-cuda.txt"
"$build/bench/tether-lm-bench" models/tiny-chat --device cuda --decode 200 --prompt 64 --streams 1,16 \
  --stream-tokens 128 | tee "$out/bench-tiny-chat-cuda.txt"
step "speech recognition benchmark on CUDA (whisper-tiny and -base shapes, random weights)"
"$python" tests/audio/make_whisper.py /tmp/whisper whisper-tiny-shape whisper-base-shape
for shape in whisper-tiny-shape whisper-base-shape; do
  "$build/bench/tether-whisper-bench" /tmp/whisper/$shape --device cuda --seconds 300 --streams 1,8 |
    tee "$out/bench-$shape-cuda.txt"
done
step "encoder benchmark on CUDA (bert-base, ViT-base, bart-base shapes, random weights)"
"$python" tests/encoders/make_encoders.py /tmp/encoders bert-base-shape vit-base-shape bart-base-shape
for shape in bert-base-shape vit-base-shape bart-base-shape; do
  "$build/bench/tether-encoder-bench" /tmp/encoders/$shape --device cuda --seconds 10 | tee "$out/bench-$shape-cuda.txt"
done
step "done"
exit "${status:-0}"
