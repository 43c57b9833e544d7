#!/usr/bin/python3
"""tiny-chat: the demo's chat model, a Hugging Face model folder the agent
serves natively (tether-agent --model chat=models/tiny-chat).

A Llama-architecture model (RMSNorm, rotary positions, grouped-query
attention, SwiGLU, tied embeddings) with a byte-level BPE tokenizer this
script trains and a ChatML chat template, trained on the King James Bible
(Debian's bible-kjv-text) as conversations: the user says a verse, the
assistant answers with the verse that follows it, then <|im_end|>. It learns
the format and KJV English, not the Bible by heart (2M parameters).

Deterministic: fixed seeds, one thread, the same corpus and merges. Writes
OUT_DIR/{config.json, model.safetensors (F16), tokenizer.json,
tokenizer_config.json, generation_config.json, training.json}.

usage: tiny_chat.py OUT_DIR [--steps N]
"""
import collections
import json
import math
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'text'))   # the project's tokenizer.json writers
sys.path.insert(0, os.path.join(HERE, '..', '..', 'tests', 'llm'))    # its safetensors writer

import common  # noqa: E402
import make_tokenizers as mt  # noqa: E402
import safetensors_io  # noqa: E402
from tiny_lm import read_bible  # noqa: E402

NAME = 'tiny-chat'
SEED = 9001
MERGES = 1789           # 256 bytes + merges + 3 specials = 2048 ids
HIDDEN, LAYERS, HEADS, KV_HEADS, INTER = 192, 4, 6, 2, 512
CONTEXT = 256
BATCH, SEQ = 24, 128
STEPS = 900
PEAK_LR, WARMUP = 3e-3, 60
SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']
CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
          "{% endif %}")


# --- the tokenizer ---------------------------------------------------------------

def train_bpe(counts, merges_wanted):
    """BPE over byte-level words with incremental pair counts (the most
    frequent pair first, ties by the pair): the same merges as the naive
    trainer in tests/text/make_tokenizers.py, in seconds."""
    words = [[list(w), c] for w, c in sorted(counts.items())]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, (sym, c) in enumerate(words):
        for a, b in zip(sym, sym[1:]):
            pairs[(a, b)] += c
            where[(a, b)].add(i)
    merges = []
    while len(merges) < merges_wanted and pairs:
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if best[1] < 2:
            break
        (a, b), _ = best
        merged = a + b
        merges.append((a, b))
        for i in sorted(where.pop((a, b), ())):
            sym, c = words[i]
            for x, y in zip(sym, sym[1:]):
                pairs[(x, y)] -= c
                if pairs[(x, y)] <= 0:
                    del pairs[(x, y)]
            out, k = [], 0
            while k < len(sym):
                if k + 1 < len(sym) and sym[k] == a and sym[k + 1] == b:
                    out.append(merged)
                    k += 2
                else:
                    out.append(sym[k])
                    k += 1
            words[i][0] = out
            for x, y in zip(out, out[1:]):
                pairs[(x, y)] += c
                where[(x, y)].add(i)
        pairs.pop((a, b), None)
    return merges


def make_tokenizer(text):
    counts = collections.Counter(mt.byte_word(s, w) for s, w in mt.words_of(text))
    counts.update({mt.BYTES[10]: text.count('\n')})
    merges = train_bpe(counts, MERGES)
    alphabet = [mt.BYTES[b] for b in range(256)]
    vocab = {t: i for i, t in enumerate(alphabet)}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    added = mt.added_tokens(vocab, [(s, True, {}) for s in SPECIALS])
    tok = mt.tokenizer(mt.bpe(vocab, merges), pre=mt.byte_level_pre(), post=mt.byte_level_pre(),
                       decoder=mt.BYTE_LEVEL_DECODER, added=added)
    return tok, {a['content']: a['id'] for a in added}, len(vocab) + len(added)


class Encoder:
    """Greedy application of the merges in rank order, per pre-tokenized word
    (what the tokenizers library does for a byte-level BPE)."""

    def __init__(self, tok):
        self.vocab = tok['model']['vocab']
        self.ranks = {tuple(m.split(' ')): r for r, m in enumerate(tok['model']['merges'])}
        self.cache = {}

    def word(self, w):
        if w in self.cache:
            return self.cache[w]
        sym = list(w)
        while len(sym) > 1:
            ranked = [(self.ranks.get((x, y), 1 << 30), k) for k, (x, y) in enumerate(zip(sym, sym[1:]))]
            r, k = min(ranked)
            if r == 1 << 30:
                break
            sym[k:k + 2] = [sym[k] + sym[k + 1]]
        ids = [self.vocab[s] for s in sym]
        self.cache[w] = ids
        return ids

    def encode(self, text):
        ids = []
        for line_no, line in enumerate(text.split('\n')):
            if line_no:
                ids.append(self.vocab[mt.BYTES[10]])
            for s, w in mt.words_of(line):
                ids.extend(self.word(mt.byte_word(s, w)))
        return ids


# --- the model (Hugging Face's Llama layout and names) ---------------------------

def rotary(x, positions, theta=10000.0):
    d = x.shape[-1]
    inv = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = positions[:, None].float() * inv[None, :]
    cos, sin = torch.cat([ang.cos(), ang.cos()], -1), torch.cat([ang.sin(), ang.sin()], -1)
    half = d // 2
    rot = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rot * sin


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return self.weight * (x.float() * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5)).to(x.dtype)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        hd = HIDDEN // HEADS
        self.input_layernorm = RMSNorm(HIDDEN)
        self.post_attention_layernorm = RMSNorm(HIDDEN)
        self.q_proj = nn.Linear(HIDDEN, HEADS * hd, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * hd, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * hd, bias=False)
        self.o_proj = nn.Linear(HEADS * hd, HIDDEN, bias=False)
        self.gate_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.down_proj = nn.Linear(INTER, HIDDEN, bias=False)

    def forward(self, x, positions, mask):
        b, t, _ = x.shape
        hd = HIDDEN // HEADS
        h = self.input_layernorm(x)
        q = rotary(self.q_proj(h).view(b, t, HEADS, hd).transpose(1, 2), positions)
        k = rotary(self.k_proj(h).view(b, t, KV_HEADS, hd).transpose(1, 2), positions)
        v = self.v_proj(h).view(b, t, KV_HEADS, hd).transpose(1, 2)
        k = k.repeat_interleave(HEADS // KV_HEADS, dim=1)
        v = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
        scores = (q @ k.transpose(2, 3)).float() / math.sqrt(hd)
        w = scores.masked_fill(mask, float('-inf')).softmax(-1).to(v.dtype)
        x = x + self.o_proj((w @ v).transpose(1, 2).reshape(b, t, HEADS * hd))
        h = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(h)) * self.up_proj(h))


class TinyChat(nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab, HIDDEN)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.norm = RMSNorm(HIDDEN)

    def forward(self, tokens):
        t = tokens.shape[1]
        positions = torch.arange(t)
        mask = torch.ones(t, t, dtype=torch.bool).triu(1)
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, positions, mask)
        return self.norm(x) @ self.embed_tokens.weight.t()  # tied head

    def hf_weights(self):
        w = {'model.embed_tokens.weight': self.embed_tokens.weight, 'model.norm.weight': self.norm.weight}
        for i, l in enumerate(self.layers):
            p = 'model.layers.%d.' % i
            w[p + 'input_layernorm.weight'] = l.input_layernorm.weight
            w[p + 'post_attention_layernorm.weight'] = l.post_attention_layernorm.weight
            for n in ('q', 'k', 'v', 'o'):
                w[p + 'self_attn.%s_proj.weight' % n] = getattr(l, n + '_proj').weight
            for n in ('gate', 'up', 'down'):
                w[p + 'mlp.%s_proj.weight' % n] = getattr(l, n + '_proj').weight
        return {k: v.detach().to(torch.float16).contiguous() for k, v in w.items()}


@torch.no_grad()
def reply(model, enc, ids, user, max_tokens=60):
    prompt = '<|im_start|>user\n' + user + '<|im_end|>\n<|im_start|>assistant\n'
    tokens = []
    for piece in prompt.replace('<|im_start|>', '\0S').replace('<|im_end|>', '\0E').split('\0'):
        if piece.startswith('S'):
            tokens.append(ids['<|im_start|>'])
            piece = piece[1:]
        elif piece.startswith('E'):
            tokens.append(ids['<|im_end|>'])
            piece = piece[1:]
        tokens.extend(enc.encode(piece))
    out = []
    for _ in range(max_tokens):
        nxt = int(model(torch.tensor([tokens[-CONTEXT:]]))[0, -1].argmax())
        if nxt == ids['<|im_end|>']:
            break
        out.append(nxt)
        tokens.append(nxt)
    inv = {v: k for k, v in enc.vocab.items()}
    raw = ''.join(inv.get(i, '') for i in out)
    return bytes(mt_bytes_back(raw)).decode('utf-8', errors='replace')


def mt_bytes_back(s):
    back = {c: b for b, c in mt.BYTES.items()}
    return [back[c] for c in s if c in back]


def main():
    out = sys.argv[1]
    steps = int(sys.argv[sys.argv.index('--steps') + 1]) if '--steps' in sys.argv else STEPS
    common.make_deterministic(SEED)
    clock = common.Stopwatch()
    verses = read_bible().decode('utf-8').rstrip('\n').split('\n')
    tok, ids, vocab = make_tokenizer('\n'.join(verses))
    enc = Encoder(tok)
    print('%s: tokenizer of %d ids trained in %.0f s' % (NAME, vocab, clock.seconds()), flush=True)

    # One conversation per pair of consecutive verses, all in one stream of ids.
    start, end, nl = ids['<|im_start|>'], ids['<|im_end|>'], enc.vocab[mt.BYTES[10]]
    user, assistant = enc.encode('user\n'), enc.encode('assistant\n')
    encoded = [enc.encode(v) for v in verses]
    stream = []
    for a, b in zip(encoded, encoded[1:]):
        stream += [start] + user + a + [end, nl, start] + assistant + b + [end, nl]
    data = torch.tensor(stream, dtype=torch.long)
    print('%s: %d verses, %d tokens of conversations (%.0f s)' % (NAME, len(verses), data.numel(), clock.seconds()),
          flush=True)

    model = TinyChat(vocab)
    for name, p in model.named_parameters():
        if p.dim() == 2:
            nn.init.normal_(p, 0.0, 0.02 / (math.sqrt(2 * LAYERS) if name.endswith(('o_proj.weight', 'down_proj.weight')) else 1))
    opt = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, betas=(0.9, 0.95), weight_decay=0.05)
    params = common.param_count(model)
    gen = torch.Generator().manual_seed(SEED)
    running = None
    for step in range(steps):
        common.set_lr(opt, common.cosine_lr(step, steps, PEAK_LR, WARMUP))
        starts = torch.randint(0, data.numel() - SEQ - 1, (BATCH,), generator=gen)
        x = torch.stack([data[s:s + SEQ] for s in starts])
        y = torch.stack([data[s + 1:s + SEQ + 1] for s in starts])
        with common.bf16_autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, vocab), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % 100 == 0:
            print('%s: step %d/%d loss %.3f (%.0f s)' % (NAME, step + 1, steps, running, clock.seconds()), flush=True)

    os.makedirs(out, exist_ok=True)
    safetensors_io.write(os.path.join(out, 'model.safetensors'), model.hf_weights(), {'format': 'pt'})
    config = {'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'vocab_size': vocab,
              'hidden_size': HIDDEN, 'intermediate_size': INTER, 'num_hidden_layers': LAYERS,
              'num_attention_heads': HEADS, 'num_key_value_heads': KV_HEADS, 'max_position_embeddings': CONTEXT,
              'rms_norm_eps': 1e-5, 'hidden_act': 'silu', 'tie_word_embeddings': True, 'rope_theta': 10000.0,
              'rope_scaling': None, 'attention_bias': False, 'mlp_bias': False,
              'bos_token_id': ids['<|endoftext|>'], 'eos_token_id': ids['<|im_end|>'], 'torch_dtype': 'float16'}
    files = {
        'config.json': config,
        'tokenizer_config.json': {'bos_token': None, 'eos_token': '<|im_end|>', 'pad_token': '<|endoftext|>',
                                  'chat_template': CHATML, 'model_max_length': CONTEXT},
        'generation_config.json': {'eos_token_id': [ids['<|im_end|>'], ids['<|endoftext|>']], 'do_sample': True,
                                   'temperature': 0.8, 'top_k': 40},
    }
    for name, obj in files.items():
        with open(os.path.join(out, name), 'w') as f:
            json.dump(obj, f, indent=1)
    with open(os.path.join(out, 'tokenizer.json'), 'w', encoding='utf-8') as f:
        json.dump(tok, f, ensure_ascii=False)
    sample = reply(model, enc, ids, 'In the beginning God created the heaven and the earth.')
    training = {'data': 'the King James Bible (Debian bible-kjv-text), consecutive verses as user/assistant turns',
                'parameters': params, 'steps': steps, 'batch': [BATCH, SEQ], 'final_train_loss_nats': round(running, 4),
                'seconds': round(clock.seconds()), 'greedy_reply_to_genesis_1_1': sample}
    with open(os.path.join(out, 'training.json'), 'w') as f:
        json.dump(training, f, indent=1)
    print('%s: %d parameters, loss %.3f, %.0f s; greedy reply to Genesis 1:1: %r'
          % (NAME, params, running, clock.seconds(), sample), flush=True)


if __name__ == '__main__':
    main()
