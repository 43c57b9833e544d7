#!/usr/bin/python3
"""An independent float32 implementation of the language models the agent
runs natively (Llama/Mistral/Qwen2, GPT-2), written from the Hugging Face
modeling code's equations with plain torch operations and no KV cache: every
forward recomputes the whole sequence. The reference for the agent's logits
and generation.

usage: reference.py JOB.json
  JOB: {"folder": DIR, "sequences": [[ids], ...],         -> "logits": per sequence, per position
        "greedy": [{"prompt": [ids], "steps": N}, ...]}   -> "greedy": the N ids argmax picks
prints JSON.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import safetensors_io  # noqa: E402

torch.set_grad_enabled(False)


def load_weights(folder):
    index = os.path.join(folder, 'model.safetensors.index.json')
    if os.path.exists(index):
        w = {}
        for shard in sorted(set(json.load(open(index))['weight_map'].values())):
            w.update(safetensors_io.read(os.path.join(folder, shard)))
        return w
    return safetensors_io.read(os.path.join(folder, 'model.safetensors'))


def rope_inv_freq(c, head_dim):
    theta = c.get('rope_theta', 10000.0)
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    s = c.get('rope_scaling') or {}
    kind = s.get('rope_type', s.get('type', 'default'))
    if kind == 'linear':
        inv = inv / s['factor']
    elif kind == 'llama3':
        factor, low, high = s['factor'], s['low_freq_factor'], s['high_freq_factor']
        old = s['original_max_position_embeddings']
        low_wl, high_wl = old / low, old / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= high_wl) & (wavelen <= low_wl)
        inv = torch.where(medium, smoothed, scaled)
    return inv


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def attention(q, k, v, window=None):
    """q [heads, T, d], k/v [kv, T, d]; causal, optionally a sliding window."""
    heads, T, d = q.shape
    group = heads // k.shape[0]
    k = k.repeat_interleave(group, dim=0)
    v = v.repeat_interleave(group, dim=0)
    scores = q @ k.transpose(-1, -2) / math.sqrt(d)
    pos = torch.arange(T)
    allowed = pos[None, :] <= pos[:, None]
    if window is not None:
        allowed &= pos[None, :] > pos[:, None] - window
    scores = scores.masked_fill(~allowed, float('-inf'))
    return torch.softmax(scores, dim=-1) @ v


def llama_forward(c, w, ids):
    h = c['hidden_size']
    heads = c['num_attention_heads']
    kv = c.get('num_key_value_heads', heads)
    hd = c.get('head_dim', h // heads)
    eps = c.get('rms_norm_eps', 1e-6)
    window = c.get('sliding_window') if c['model_type'] == 'mistral' else None
    T = len(ids)
    x = w['model.embed_tokens.weight'][torch.tensor(ids)]
    inv = rope_inv_freq(c, hd)
    freqs = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos().float(), emb.sin().float()

    def lin(name, t):
        y = t @ w[name + '.weight'].T
        return y + w[name + '.bias'] if name + '.bias' in w else y

    for i in range(c['num_hidden_layers']):
        p = 'model.layers.%d.' % i
        r = rms_norm(x, w[p + 'input_layernorm.weight'], eps)
        q = lin(p + 'self_attn.q_proj', r).view(T, heads, hd).transpose(0, 1)
        k = lin(p + 'self_attn.k_proj', r).view(T, kv, hd).transpose(0, 1)
        v = lin(p + 'self_attn.v_proj', r).view(T, kv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        a = attention(q, k, v, window).transpose(0, 1).reshape(T, heads * hd)
        x = x + lin(p + 'self_attn.o_proj', a)
        r = rms_norm(x, w[p + 'post_attention_layernorm.weight'], eps)
        gate = lin(p + 'mlp.gate_proj', r)
        x = x + lin(p + 'mlp.down_proj', gate * torch.sigmoid(gate) * lin(p + 'mlp.up_proj', r))
    x = rms_norm(x, w['model.norm.weight'], eps)
    head = w['model.embed_tokens.weight'] if c.get('tie_word_embeddings') else w['lm_head.weight']
    return x @ head.T


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


def layer_norm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = (x - mean).pow(2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def gpt2_forward(c, w, ids):
    p = 'transformer.' if 'transformer.wte.weight' in w else ''
    h, heads = c['n_embd'], c['n_head']
    hd = h // heads
    eps = c.get('layer_norm_epsilon', 1e-5)
    T = len(ids)
    x = w[p + 'wte.weight'][torch.tensor(ids)] + w[p + 'wpe.weight'][:T]
    for i in range(c['n_layer']):
        q_ = p + 'h.%d.' % i
        r = layer_norm(x, w[q_ + 'ln_1.weight'], w[q_ + 'ln_1.bias'], eps)
        qkv = r @ w[q_ + 'attn.c_attn.weight'] + w[q_ + 'attn.c_attn.bias']
        q, k, v = qkv.split(h, dim=-1)
        q, k, v = (t.view(T, heads, hd).transpose(0, 1) for t in (q, k, v))
        a = attention(q, k, v).transpose(0, 1).reshape(T, h)
        x = x + a @ w[q_ + 'attn.c_proj.weight'] + w[q_ + 'attn.c_proj.bias']
        r = layer_norm(x, w[q_ + 'ln_2.weight'], w[q_ + 'ln_2.bias'], eps)
        m = gelu_new(r @ w[q_ + 'mlp.c_fc.weight'] + w[q_ + 'mlp.c_fc.bias'])
        x = x + m @ w[q_ + 'mlp.c_proj.weight'] + w[q_ + 'mlp.c_proj.bias']
    x = layer_norm(x, w[p + 'ln_f.weight'], w[p + 'ln_f.bias'], eps)
    return x @ w[p + 'wte.weight'].T


def forward(c, w, ids):
    return gpt2_forward(c, w, ids) if c['model_type'] == 'gpt2' else llama_forward(c, w, ids)


def main():
    job = json.load(open(sys.argv[1]))
    folder = job['folder']
    c = json.load(open(os.path.join(folder, 'config.json')))
    w = load_weights(folder)
    out = {'logits': [], 'greedy': []}
    for ids in job.get('sequences', []):
        out['logits'].append(forward(c, w, ids).tolist())
    for g in job.get('greedy', []):
        ids = list(g['prompt'])
        for _ in range(g['steps']):
            ids.append(int(forward(c, w, ids)[-1].argmax()))
        out['greedy'].append(ids[len(g['prompt']):])
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    main()
