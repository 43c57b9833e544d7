#!/usr/bin/env python3
"""Assembles tokenizer.json files for families whose real file is too large to
keep in ../shared/tokenizers: Llama 3 (encoder.json + vocab.bpe + the 256
special tokens of its tokenizer_config.json) and Qwen2/2.5 (vocab.json +
merges.txt + the added tokens of its tokenizer_config.json), with the
normalizer, pre-tokenizer, post-processor and decoder the published
tokenizer.json files of those families have. The tests give the same file to
the reference library and to Tether, and check the reference against the
encodings Python transformers produced with the real files.

usage: assemble_tokenizers.py SHARED_TOKENIZERS_DIR OUT_DIR
writes OUT_DIR/llama3/tokenizer.json and OUT_DIR/qwen2/tokenizer.json (and
their tokenizer_config.json). Standard library only.
"""
import json
import os
import sys

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_level(add_prefix_space, trim_offsets, use_regex):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets,
            "use_regex": use_regex}


def bpe_model(vocab, merges, ignore_merges):
    return {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
            "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": ignore_merges,
            "vocab": vocab, "merges": merges}


def added_tokens(config):
    out = []
    for id_text, t in sorted(config["added_tokens_decoder"].items(), key=lambda kv: int(kv[0])):
        out.append({"id": int(id_text), "content": t["content"], "single_word": t["single_word"],
                    "lstrip": t["lstrip"], "rstrip": t["rstrip"], "normalized": t["normalized"],
                    "special": t["special"]})
    return out


def read_merges(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    return [line for line in lines if line and not line.startswith("#version")]


def llama3(shared):
    base = os.path.join(shared, "llama3")
    with open(os.path.join(base, "encoder.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    merges = read_merges(os.path.join(base, "vocab.bpe"))
    with open(os.path.join(base, "meta-llama-3-8b-instruct", "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    return config, {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added_tokens(config),
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            byte_level(False, True, False)]},
        "post_processor": {"type": "Sequence", "processors": [
            byte_level(True, False, True),
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                        {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                      {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}},
                      {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [128000],
                                                      "tokens": ["<|begin_of_text|>"]}}}]},
        "decoder": byte_level(True, True, True),
        "model": bpe_model(vocab, merges, True),
    }


def qwen2(shared):
    base = os.path.join(shared, "qwen2")
    with open(os.path.join(base, "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    merges = read_merges(os.path.join(base, "merges.txt"))
    with open(os.path.join(base, "qwen2.5-instruct", "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    return config, {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added_tokens(config),
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            byte_level(False, False, False)]},
        "post_processor": byte_level(False, False, False),
        "decoder": byte_level(False, False, False),
        "model": bpe_model(vocab, merges, False),
    }


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    shared, out = sys.argv[1], sys.argv[2]
    for name, build in (("llama3", llama3), ("qwen2", qwen2)):
        config, tok = build(shared)
        os.makedirs(os.path.join(out, name), exist_ok=True)
        with open(os.path.join(out, name, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tok, f, ensure_ascii=False)
        with open(os.path.join(out, name, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
