#!/usr/bin/env bash
# Tokenizer encode throughput, Tether against the reference (the Hugging Face
# `tokenizers` library through its Node bindings, single-threaded), in the
# same run on the same texts: 1 MiB of English and 1 MiB of CJK
# (bench/text/make_texts.py), for GPT-2 (../shared/tokenizers) and a Llama-3
# tokenizer.json assembled from ../shared's vocabulary and merges. Prints a
# table of MB/s and the ratio Tether / reference. About a minute.
#   BUILD_DIR=build-bench JOBS=2 REPEAT=5 KEEP=1 scripts/bench-text.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
repeat=${REPEAT:-5}
shared=$root/../shared/tokenizers
[[ -d $shared ]] || { echo "bench-text.sh: $shared is missing (../shared beside the checkout)" >&2; exit 1; }

work=$(mktemp -d /tmp/tether-bench-text.XXXXXX)
cleanup() { [[ -n ${KEEP:-} ]] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT

generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DTETHER_BUILD_BENCH=ON >/dev/null
cmake --build "$build" --target tether-text-bench -j "${JOBS:-2}" >/dev/null
(cd "$root/tests/text" && { [[ -d node_modules/tokenizers ]] || npm ci --no-audit --no-fund >/dev/null; })

/usr/bin/python3 "$root/bench/text/make_texts.py" "$root/tests/text/corpus.txt" "$work"
/usr/bin/python3 "$root/tests/text/assemble_tokenizers.py" "$shared" "$work/assembled" >/dev/null

field() { /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
printf '%-10s %-8s %12s %12s %8s %10s\n' tokenizer text "Tether MB/s" "ref MB/s" ratio "id count"
for name in gpt2 llama3; do
  case $name in
    gpt2) file=$shared/gpt2/tokenizer.json ;;
    llama3) file=$work/assembled/llama3/tokenizer.json ;;
  esac
  for text in english cjk; do
    ours=$("$build/bench/tether-text-bench" "$file" "$work/$text.txt" "$repeat")
    /usr/bin/python3 - "$file" "$work/$text.txt" "$repeat" >"$work/job.json" <<'PY'
import json, sys
print(json.dumps({"tokenizer": sys.argv[1], "encode": [open(sys.argv[2], encoding="utf-8").read()],
                  "add_special_tokens": False,
                  "timing": {"text": open(sys.argv[2], encoding="utf-8").read(), "repeat": int(sys.argv[3])}}))
PY
    ref=$(cd "$root/tests/text" && RAYON_NUM_THREADS=1 node oracle.mjs "$work/job.json")
    ours_mb=$(field '["mb_per_s"]' <<<"$ours")
    ref_s=$(field '["timing"]["seconds"]' <<<"$ref")
    bytes=$(field '["timing"]["bytes"]' <<<"$ref")
    ref_ids=$(field '["ids"][0].__len__()' <<<"$ref")
    our_ids=$(field '["ids"]' <<<"$ours")
    /usr/bin/python3 - "$name" "$text" "$ours_mb" "$bytes" "$ref_s" "$our_ids" "$ref_ids" <<'PY'
import sys
name, text, ours, size, ref_s, our_ids, ref_ids = sys.argv[1:]
ref = int(size) / float(ref_s) / 1e6
print('%-10s %-8s %12.2f %12.2f %8.2f %10s' % (name, text, float(ours), ref, float(ours) / ref,
                                               'same' if our_ids == ref_ids else 'DIFFERS %s/%s' % (our_ids, ref_ids)))
PY
  done
done
