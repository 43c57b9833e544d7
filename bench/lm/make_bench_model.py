#!/usr/bin/python3
"""Writes the model folder the generation benchmark runs: a random-weight
Llama of about 100M parameters (hidden 768, 10 layers, 12 heads / 4 KV heads,
MLP 2048, vocabulary 32000, untied head), stored in float32, with the
project's small byte-level BPE tokenizer (tokens past its vocabulary decode
to nothing, which a benchmark does not mind). Deterministic.

usage: make_bench_model.py OUT_DIR
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'llm'))

import torch  # noqa: E402

import make_models as mm  # noqa: E402


def main():
    out = sys.argv[1]
    tok, tok_vocab, ids = mm.make_tokenizer()
    v = dict(model_type='llama', hidden=768, layers=10, heads=12, kv=4, inter=2048, tie=False, dtype=torch.float32)
    vocab = 32000
    g = torch.Generator().manual_seed(100)
    weights = mm.llama_weights(v, vocab, g)
    config = mm.llama_config(v, vocab, ids)
    config['max_position_embeddings'] = 2048
    os.makedirs(out, exist_ok=True)
    mm.save_weights(out, weights, torch.float32, 1)
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(out, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(out, 'tokenizer_config.json'), 'w') as f:
        json.dump({'eos_token': '<|im_end|>', 'chat_template': mm.CHATML, 'model_max_length': 2048}, f)
    params = sum(t.numel() for t in weights.values())
    print('%s: %d parameters' % (out, params))


if __name__ == '__main__':
    main()
