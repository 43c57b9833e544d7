#!/usr/bin/python3
"""Hugging Face model folders with random weights, for the language-model
tests: one per architecture variant the agent must run natively. Each folder
has config.json, weights in safetensors (single or sharded, F32/F16/BF16),
a byte-level BPE tokenizer.json the project trains on tests/text/corpus.txt,
tokenizer_config.json with a ChatML chat template, and generation_config.json.

usage: make_models.py OUT_DIR [NAME ...]     (all variants when no NAME)
Deterministic: the same seed gives the same files.
"""
import collections
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'text'))
import make_tokenizers as mt  # noqa: E402
import safetensors_io  # noqa: E402

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def make_tokenizer(merges_wanted=400):
    text = open(os.path.join(HERE, '..', 'text', 'corpus.txt'), encoding='utf-8').read()
    counts = collections.Counter(mt.byte_word(s, w) for s, w in mt.words_of(text))
    alphabet = [mt.BYTES[b] for b in range(256)]
    v, merges = mt.train_bpe(counts, alphabet, merges_wanted)
    vocab = mt.ordered_vocab(alphabet, v)
    specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
    added = mt.added_tokens(vocab, [(s, True, {}) for s in specials])
    tok = mt.tokenizer(mt.bpe(vocab, merges), pre=mt.byte_level_pre(), post=mt.byte_level_pre(),
                       decoder=mt.BYTE_LEVEL_DECODER, added=added)
    ids = {a['content']: a['id'] for a in added}
    return tok, len(vocab) + len(added), ids


VARIANTS = {
    # Llama 3 style: GQA, llama3 rope scaling, tied embeddings, stored in BF16.
    'llama3-gqa-bf16': dict(model_type='llama', hidden=64, layers=2, heads=4, kv=2, inter=160, tie=True,
                            rope={'rope_type': 'llama3', 'factor': 8.0, 'low_freq_factor': 1.0,
                                  'high_freq_factor': 4.0, 'original_max_position_embeddings': 64},
                            theta=500000.0, dtype=torch.bfloat16),
    # Llama 2 style: multi-head, untied head, linear rope scaling, F16, two shards.
    'llama2-mha-f16-sharded': dict(model_type='llama', hidden=64, layers=3, heads=4, kv=4, inter=128, tie=False,
                                   rope={'type': 'linear', 'factor': 2.0}, dtype=torch.float16, shards=2),
    # Biases everywhere and a head_dim that is not hidden / heads.
    'llama-bias-headdim': dict(model_type='llama', hidden=64, layers=2, heads=4, kv=2, inter=96, tie=False,
                               head_dim=24, attention_bias=True, mlp_bias=True, dtype=torch.float32),
    # Mistral with a sliding window short enough for the tests' prompts.
    'mistral-window': dict(model_type='mistral', hidden=64, layers=2, heads=4, kv=2, inter=128, tie=False,
                           sliding_window=8, dtype=torch.float32),
    # Qwen2: q/k/v biases, tied, rope_theta 1e6.
    'qwen2-tied': dict(model_type='qwen2', hidden=64, layers=2, heads=4, kv=1, inter=128, tie=True, theta=1e6,
                       dtype=torch.float32),
    # GPT-2 as GPT2LMHeadModel saves it (transformer. prefix, attention mask buffers).
    'gpt2-prefixed': dict(model_type='gpt2', hidden=64, layers=2, heads=4, prefix='transformer.', buffers=True,
                          dtype=torch.float32),
    # GPT-2 as GPT2Model saves it (no prefix), in F16.
    'gpt2-plain-f16': dict(model_type='gpt2', hidden=64, layers=2, heads=4, prefix='', dtype=torch.float16),
}


def randn(g, *shape, std=0.5):
    return torch.randn(*shape, generator=g) * std


def llama_weights(v, vocab, g):
    h, heads, kv = v['hidden'], v['heads'], v['kv']
    hd = v.get('head_dim', h // heads)
    # Tied heads read the embeddings back: small ones keep the last token from
    # simply repeating.
    w = {'model.embed_tokens.weight': randn(g, vocab, h, std=0.15 if v['tie'] else 1.0)}
    for i in range(v['layers']):
        p = 'model.layers.%d.' % i
        w[p + 'input_layernorm.weight'] = 1.0 + randn(g, h, std=0.1)
        for name, rows in [('q', heads * hd), ('k', kv * hd), ('v', kv * hd)]:
            w[p + 'self_attn.%s_proj.weight' % name] = randn(g, rows, h, std=h ** -0.5)
            if v.get('attention_bias') or v['model_type'] == 'qwen2':
                w[p + 'self_attn.%s_proj.bias' % name] = randn(g, rows, std=0.1)
        w[p + 'self_attn.o_proj.weight'] = randn(g, h, heads * hd, std=(heads * hd) ** -0.5)
        if v.get('attention_bias'):
            w[p + 'self_attn.o_proj.bias'] = randn(g, h, std=0.1)
        w[p + 'post_attention_layernorm.weight'] = 1.0 + randn(g, h, std=0.1)
        w[p + 'mlp.gate_proj.weight'] = randn(g, v['inter'], h, std=h ** -0.5)
        w[p + 'mlp.up_proj.weight'] = randn(g, v['inter'], h, std=h ** -0.5)
        w[p + 'mlp.down_proj.weight'] = randn(g, h, v['inter'], std=v['inter'] ** -0.5)
        if v.get('mlp_bias'):
            for name, rows in [('gate', v['inter']), ('up', v['inter']), ('down', h)]:
                w[p + 'mlp.%s_proj.bias' % name] = randn(g, rows, std=0.1)
    w['model.norm.weight'] = 1.0 + randn(g, h, std=0.1)
    if not v['tie']:
        w['lm_head.weight'] = randn(g, vocab, h, std=h ** -0.5 * 4)
    return w


def llama_config(v, vocab, ids):
    c = {'architectures': ['LlamaForCausalLM' if v['model_type'] == 'llama' else
                           'MistralForCausalLM' if v['model_type'] == 'mistral' else 'Qwen2ForCausalLM'],
         'model_type': v['model_type'], 'vocab_size': vocab, 'hidden_size': v['hidden'],
         'intermediate_size': v['inter'], 'num_hidden_layers': v['layers'], 'num_attention_heads': v['heads'],
         'num_key_value_heads': v['kv'], 'max_position_embeddings': 256, 'rms_norm_eps': 1e-5,
         'hidden_act': 'silu', 'tie_word_embeddings': v['tie'], 'rope_theta': v.get('theta', 10000.0),
         'rope_scaling': v.get('rope'), 'bos_token_id': ids['<|endoftext|>'], 'eos_token_id': ids['<|im_end|>'],
         'torch_dtype': {torch.float32: 'float32', torch.float16: 'float16', torch.bfloat16: 'bfloat16'}[v['dtype']]}
    if 'head_dim' in v:
        c['head_dim'] = v['head_dim']
    if v['model_type'] == 'llama':
        c['attention_bias'] = bool(v.get('attention_bias'))
        c['mlp_bias'] = bool(v.get('mlp_bias'))
    if v['model_type'] == 'mistral':
        c['sliding_window'] = v.get('sliding_window')
    if v['model_type'] == 'qwen2':
        c['use_sliding_window'] = False
        c['sliding_window'] = 4096
        c['max_window_layers'] = v['layers']
    return c


def gpt2_weights(v, vocab, g):
    h, p = v['hidden'], v['prefix']
    inter = 4 * h
    w = {p + 'wte.weight': randn(g, vocab, h, std=0.15), p + 'wpe.weight': randn(g, 256, h, std=0.3)}
    for i in range(v['layers']):
        q = p + 'h.%d.' % i
        w[q + 'ln_1.weight'] = 1.0 + randn(g, h, std=0.1)
        w[q + 'ln_1.bias'] = randn(g, h, std=0.1)
        if v.get('buffers'):
            w[q + 'attn.bias'] = torch.tril(torch.ones(256, 256, dtype=torch.bool)).view(1, 1, 256, 256)
        w[q + 'attn.c_attn.weight'] = randn(g, h, 3 * h, std=h ** -0.5)  # Conv1D: [in, out]
        w[q + 'attn.c_attn.bias'] = randn(g, 3 * h, std=0.1)
        w[q + 'attn.c_proj.weight'] = randn(g, h, h, std=h ** -0.5)
        w[q + 'attn.c_proj.bias'] = randn(g, h, std=0.1)
        w[q + 'ln_2.weight'] = 1.0 + randn(g, h, std=0.1)
        w[q + 'ln_2.bias'] = randn(g, h, std=0.1)
        w[q + 'mlp.c_fc.weight'] = randn(g, h, inter, std=h ** -0.5)
        w[q + 'mlp.c_fc.bias'] = randn(g, inter, std=0.1)
        w[q + 'mlp.c_proj.weight'] = randn(g, inter, h, std=inter ** -0.5)
        w[q + 'mlp.c_proj.bias'] = randn(g, h, std=0.1)
    w[p + 'ln_f.weight'] = 1.0 + randn(g, h, std=0.1)
    w[p + 'ln_f.bias'] = randn(g, h, std=0.1)
    return w


def gpt2_config(v, vocab, ids):
    return {'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': vocab, 'n_embd': v['hidden'],
            'n_layer': v['layers'], 'n_head': v['heads'], 'n_positions': 256, 'n_ctx': 256, 'n_inner': None,
            'layer_norm_epsilon': 1e-5, 'activation_function': 'gelu_new', 'bos_token_id': ids['<|endoftext|>'],
            'eos_token_id': ids['<|endoftext|>']}


def save_weights(folder, weights, dtype, shards):
    stored = {k: (t.to(dtype) if t.is_floating_point() else t) for k, t in weights.items()}
    if shards <= 1:
        safetensors_io.write(os.path.join(folder, 'model.safetensors'), stored, {'format': 'pt'})
        return
    names = list(stored)
    per = (len(names) + shards - 1) // shards
    weight_map = {}
    for s in range(shards):
        part = names[s * per:(s + 1) * per]
        fname = 'model-%05d-of-%05d.safetensors' % (s + 1, shards)
        safetensors_io.write(os.path.join(folder, fname), {k: stored[k] for k in part}, {'format': 'pt'})
        for k in part:
            weight_map[k] = fname
    total = sum(len(safetensors_io.tensor_bytes(t)) for t in stored.values())
    with open(os.path.join(folder, 'model.safetensors.index.json'), 'w') as f:
        json.dump({'metadata': {'total_size': total}, 'weight_map': weight_map}, f, indent=1)


def make(out, name, tok, vocab, ids, seed):
    v = VARIANTS[name]
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    if v['model_type'] == 'gpt2':
        weights, config = gpt2_weights(v, vocab, g), gpt2_config(v, vocab, ids)
    else:
        weights, config = llama_weights(v, vocab, g), llama_config(v, vocab, ids)
    save_weights(folder, weights, v['dtype'], v.get('shards', 1))
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config, f, indent=1)
    with open(os.path.join(folder, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(folder, 'tokenizer_config.json'), 'w') as f:
        json.dump({'bos_token': None, 'eos_token': '<|im_end|>', 'pad_token': '<|endoftext|>',
                   'chat_template': CHATML, 'model_max_length': 256}, f, indent=1)
    with open(os.path.join(folder, 'generation_config.json'), 'w') as f:
        json.dump({'eos_token_id': [ids['<|im_end|>'], ids['<|endoftext|>']], 'do_sample': True,
                   'temperature': 0.7, 'top_p': 0.9}, f, indent=1)


def main():
    out = sys.argv[1]
    names = sys.argv[2:] or list(VARIANTS)
    tok, vocab, ids = make_tokenizer()
    for k, name in enumerate(names):
        make(out, name, tok, vocab, ids, seed=1000 + k)


if __name__ == '__main__':
    main()
