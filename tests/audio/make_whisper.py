#!/usr/bin/python3
"""Whisper model folders with random weights, for the speech tests and the
bench: config.json, model.safetensors (as WhisperForConditionalGeneration
saves it: a "model." prefix, the output projection tied to the token
embedding), and the real tokenizer, generation and preprocessor configs of
../shared/tokenizers/whisper/whisper-base.

usage: make_whisper.py OUT_DIR [NAME ...]     (the test variants when no NAME)

Variants: whisper-test (d_model 64, 2+2 layers, a decoder context of 64),
whisper-test-en (the same without the multilingual tokens' use: English-only
generation config), and the bench shapes whisper-tiny-shape (4+4 layers,
width 384) and whisper-base-shape (6+6 layers, width 512).
Deterministic: the same seed gives the same files.
"""
import json
import os
import shutil
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'llm'))
import safetensors_io  # noqa: E402

# The real whisper-base tokenizer and configs: beside the repository, or where
# TETHER_WHISPER_TOKENIZER says (scripts/gpu-check.sh carries a copy).
SHARED = os.environ.get('TETHER_WHISPER_TOKENIZER') or os.path.join(HERE, '..', '..', '..', 'shared', 'tokenizers',
                                                                    'whisper', 'whisper-base')

VARIANTS = {
    'whisper-test': dict(d=64, layers=2, heads=4, ffn=128, target=64, seed=1),
    'whisper-test-en': dict(d=64, layers=2, heads=4, ffn=128, target=64, seed=2, english=True),
    'whisper-tiny-shape': dict(d=384, layers=4, heads=6, ffn=1536, target=448, seed=3),
    'whisper-base-shape': dict(d=512, layers=6, heads=8, ffn=2048, target=448, seed=4),
}
TEST_VARIANTS = ['whisper-test', 'whisper-test-en']
VOCAB, MELS, SOURCE = 51865, 80, 1500


def weights(v):
    g = torch.Generator().manual_seed(v['seed'])
    d, ffn = v['d'], v['ffn']

    def rnd(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    def ln(prefix, out):
        out[prefix + '.weight'] = 1.0 + rnd(d, std=0.1)
        out[prefix + '.bias'] = rnd(d, std=0.1)

    def attn(prefix, out):
        for p in ('q_proj', 'k_proj', 'v_proj', 'out_proj'):
            out[f'{prefix}.{p}.weight'] = rnd(d, d, std=d ** -0.5)
            if p != 'k_proj':
                out[f'{prefix}.{p}.bias'] = rnd(d)

    def mlp(prefix, out):
        out[prefix + 'fc1.weight'] = rnd(ffn, d, std=d ** -0.5)
        out[prefix + 'fc1.bias'] = rnd(ffn)
        out[prefix + 'fc2.weight'] = rnd(d, ffn, std=ffn ** -0.5)
        out[prefix + 'fc2.bias'] = rnd(d)

    t = {}
    t['model.encoder.conv1.weight'] = rnd(d, MELS, 3, std=(3 * MELS) ** -0.5)
    t['model.encoder.conv1.bias'] = rnd(d)
    t['model.encoder.conv2.weight'] = rnd(d, d, 3, std=(3 * d) ** -0.5)
    t['model.encoder.conv2.bias'] = rnd(d)
    t['model.encoder.embed_positions.weight'] = rnd(SOURCE, d, std=0.1)
    for i in range(v['layers']):
        p = f'model.encoder.layers.{i}.'
        ln(p + 'self_attn_layer_norm', t)
        attn(p + 'self_attn', t)
        ln(p + 'final_layer_norm', t)
        mlp(p, t)
    ln('model.encoder.layer_norm', t)
    t['model.decoder.embed_tokens.weight'] = rnd(VOCAB, d, std=0.05)
    t['model.decoder.embed_positions.weight'] = rnd(v['target'], d, std=0.1)
    for i in range(v['layers']):
        p = f'model.decoder.layers.{i}.'
        ln(p + 'self_attn_layer_norm', t)
        attn(p + 'self_attn', t)
        ln(p + 'encoder_attn_layer_norm', t)
        attn(p + 'encoder_attn', t)
        ln(p + 'final_layer_norm', t)
        mlp(p, t)
    ln('model.decoder.layer_norm', t)
    return t


def make(out_dir, name):
    v = VARIANTS[name]
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    base = json.load(open(os.path.join(SHARED, 'config.json')))
    config = dict(base)
    config.update({'_name_or_path': name, 'd_model': v['d'], 'encoder_layers': v['layers'], 'decoder_layers': v['layers'],
                   'num_hidden_layers': v['layers'], 'encoder_attention_heads': v['heads'],
                   'decoder_attention_heads': v['heads'], 'encoder_ffn_dim': v['ffn'], 'decoder_ffn_dim': v['ffn'],
                   'max_target_positions': v['target'], 'max_length': v['target']})
    json.dump(config, open(os.path.join(folder, 'config.json'), 'w'), indent=2)
    for f in ('tokenizer.json', 'tokenizer_config.json', 'preprocessor_config.json', 'special_tokens_map.json',
              'added_tokens.json', 'vocab.json', 'merges.txt', 'normalizer.json'):
        shutil.copy(os.path.join(SHARED, f), os.path.join(folder, f))
    gen = json.load(open(os.path.join(SHARED, 'generation_config.json')))
    gen['max_length'] = v['target']
    if v.get('english'):
        gen['is_multilingual'] = False
        gen.pop('lang_to_id', None)
        gen.pop('task_to_id', None)
    json.dump(gen, open(os.path.join(folder, 'generation_config.json'), 'w'), indent=2)
    safetensors_io.write(os.path.join(folder, 'model.safetensors'), weights(v), metadata={'format': 'pt'})


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or TEST_VARIANTS
    for n in names:
        if n not in VARIANTS:
            sys.exit(f'make_whisper.py: no variant {n} ({", ".join(VARIANTS)})')
        make(out, n)


if __name__ == '__main__':
    main()
