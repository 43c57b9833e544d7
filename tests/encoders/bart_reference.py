#!/usr/bin/python3
"""An independent float32 BART in Python (Debian's python3-torch), the
reference for the agent's summarization: the encoder and decoder written
from the architecture, every decoder step recomputing the whole sequence (no
cache), and generation as transformers 4.33 runs it for BART (its logits
processors and BeamSearchScorer), implemented here on their own.

    bart_reference.py JOB.json

JOB.json: {"folder": DIR, "jobs": [{"ids": [...], "num_beams", "max_length",
"min_length", "no_repeat_ngram_size", "length_penalty", "early_stopping"}],
"logits": {"ids": [...], "decoder": [...]} (optional)}. Prints
{"results": [{"tokens": [...]}], "logits": [[...], ...]}: tokens after the
decoder start token, with </s> when it came.
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'llm'))
import safetensors_io  # noqa: E402

NEG = float('-inf')


class Bart:
    def __init__(self, folder):
        self.c = json.load(open(os.path.join(folder, 'config.json')))
        gen_file = os.path.join(folder, 'generation_config.json')
        self.g = json.load(open(gen_file)) if os.path.exists(gen_file) else {}
        self.w = {k: v.to(torch.float32) for k, v in safetensors_io.read(os.path.join(folder, 'model.safetensors')).items()}
        self.d = self.c['d_model']

    def gen(self, key, default=None):
        return self.g.get(key, self.c.get(key, default))

    def lin(self, x, name):
        return x @ self.w[name + '.weight'].t() + self.w[name + '.bias']

    def ln(self, x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + 1e-5) * self.w[name + '.weight'] + self.w[name + '.bias']

    def attn(self, x, kv, name, heads, causal):
        T, S, d = x.shape[0], kv.shape[0], self.d
        hd = d // heads
        q = (self.lin(x, name + '.q_proj') * hd ** -0.5).view(T, heads, hd).transpose(0, 1)
        k = self.lin(kv, name + '.k_proj').view(S, heads, hd).transpose(0, 1)
        v = self.lin(kv, name + '.v_proj').view(S, heads, hd).transpose(0, 1)
        s = q @ k.transpose(1, 2)
        if causal:
            s = s + torch.triu(torch.full((T, S), NEG), 1)
        p = torch.softmax(s, -1)
        return self.lin((p @ v).transpose(0, 1).reshape(T, d), name + '.out_proj')

    def gelu(self, x):
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))

    def embed(self, ids, side):
        ids = torch.tensor(ids, dtype=torch.long)
        scale = math.sqrt(self.d) if self.c.get('scale_embedding') else 1.0
        x = self.w['model.shared.weight'][ids] * scale + self.w[f'model.{side}.embed_positions.weight'][torch.arange(len(ids)) + 2]
        return self.ln(x, f'model.{side}.layernorm_embedding')

    def encode(self, ids):
        x = self.embed(ids, 'encoder')
        for i in range(self.c['encoder_layers']):
            p = f'model.encoder.layers.{i}.'
            x = self.ln(x + self.attn(x, x, p + 'self_attn', self.c['encoder_attention_heads'], False), p + 'self_attn_layer_norm')
            x = self.ln(x + self.lin(self.gelu(self.lin(x, p + 'fc1')), p + 'fc2'), p + 'final_layer_norm')
        return x

    def logits(self, enc, dec_ids):
        x = self.embed(dec_ids, 'decoder')
        h = self.c['decoder_attention_heads']
        for i in range(self.c['decoder_layers']):
            p = f'model.decoder.layers.{i}.'
            x = self.ln(x + self.attn(x, x, p + 'self_attn', h, True), p + 'self_attn_layer_norm')
            x = self.ln(x + self.attn(x, enc, p + 'encoder_attn', h, False), p + 'encoder_attn_layer_norm')
            x = self.ln(x + self.lin(self.gelu(self.lin(x, p + 'fc1')), p + 'fc2'), p + 'final_layer_norm')
        return x @ self.w['model.shared.weight'].t() + self.w['final_logits_bias'][0]

    # transformers' processors for BART, on one row of log-probabilities.
    def process(self, seq, row, job):
        cur = len(seq)
        n = job['no_repeat_ngram_size']
        if n > 0 and cur + 1 >= n:
            prefix = tuple(seq[cur - n + 1:])
            for i in range(cur - n + 1):
                if tuple(seq[i:i + n - 1]) == prefix:
                    row[seq[i + n - 1]] = NEG
        eos = self.gen('eos_token_id')
        if cur < job['min_length']:
            row[eos] = NEG
        fb, fe = self.gen('forced_bos_token_id'), self.gen('forced_eos_token_id')
        if fb is not None and cur == 1:
            row[:] = NEG
            row[fb] = 0.0
        if fe is not None and cur == job['max_length'] - 1:
            row[:] = NEG
            row[fe] = 0.0
        return row

    def greedy(self, enc, job):
        seq = [self.gen('decoder_start_token_id')]
        eos = self.gen('eos_token_id')
        while len(seq) < job['max_length']:
            row = torch.log_softmax(self.logits(enc, seq)[-1], -1)
            row = self.process(seq, row, job)
            t = int(torch.argmax(row))
            seq.append(t)
            if t == eos:
                break
        return seq[1:]

    def beam(self, enc, job):
        nb, lp, early = job['num_beams'], job['length_penalty'], job['early_stopping']
        eos = self.gen('eos_token_id')
        seqs = [[self.gen('decoder_start_token_id')] for _ in range(nb)]
        scores = [0.0] + [-1e9] * (nb - 1)
        hyps = []  # (score, seq, ended)

        def add(seq, s, ended):
            score = s / (len(seq) ** lp)
            worst = min(h[0] for h in hyps) if hyps else 1e9
            if len(hyps) < nb or score > worst:
                hyps.append((score, seq, ended))
                if len(hyps) > nb:
                    hyps.remove(min(hyps, key=lambda h: h[0]))

        def done(best, cur):
            if len(hyps) < nb:
                return False
            if early:
                return True
            return min(h[0] for h in hyps) >= best / (cur ** lp)

        finished = False
        while len(seqs[0]) < job['max_length']:
            cur = len(seqs[0])
            rows = []
            for b in range(nb):
                row = torch.log_softmax(self.logits(enc, seqs[b])[-1], -1)
                rows.append(self.process(seqs[b], row, job) + scores[b])
            flat = torch.stack(rows).view(-1)
            vals, idx = torch.topk(flat, 2 * nb)
            vocab = rows[0].shape[0]
            new_seqs, new_scores = [], []
            for rank in range(2 * nb):
                beam, tok, s = int(idx[rank]) // vocab, int(idx[rank]) % vocab, float(vals[rank])
                if tok == eos:
                    if rank >= nb:
                        continue
                    add(list(seqs[beam]), s, True)
                else:
                    new_seqs.append(seqs[beam] + [tok])
                    new_scores.append(s)
                if len(new_seqs) == nb:
                    break
            if done(float(vals[0]), cur):
                finished = True
                break
            seqs, scores = new_seqs, new_scores
        if not finished:
            for b in range(nb):
                add(seqs[b], scores[b], False)
        best = max(hyps, key=lambda h: h[0])
        return best[1][1:] + ([eos] if best[2] else [])


def main():
    job = json.load(open(sys.argv[1]))
    m = Bart(job['folder'])
    out = {'results': []}
    with torch.no_grad():
        for j in job.get('jobs', []):
            enc = m.encode(j['ids'])
            out['results'].append({'tokens': m.greedy(enc, j) if j['num_beams'] == 1 else m.beam(enc, j)})
        if 'logits' in job:
            enc = m.encode(job['logits']['ids'])
            out['logits'] = m.logits(enc, job['logits']['decoder']).tolist()
    print(json.dumps(out))


if __name__ == '__main__':
    main()
