#!/usr/bin/python3
"""An independent float32 Whisper in Python (Debian's python3-torch), the
reference for the agent's C++ Whisper: the front end (log_mel_reference.py),
the encoder and decoder written from the architecture (no KV cache: every
step recomputes the whole sequence), and the decoding rules of OpenAI's
whisper (suppressed tokens, timestamp rules, language detection, seeking
window after window, the silence gates), implemented here on their own.

    whisper_reference.py JOB.json

JOB.json: {"folder": DIR, "jobs": [{"samples": F32_FILE, "language": "en" or null,
"task": "transcribe"|"translate", "timestamps": bool, "prompt": [ids],
"max_tokens": N or 0}], "encoder_out": F32_FILE (optional: the encoder
output of the first job's first window)}. Prints {"results": [{"language",
"windows", "skipped", "segments": [{"start", "end", "tokens"}]}]}.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'llm'))
import log_mel_reference as lmr  # noqa: E402
import safetensors_io  # noqa: E402

NEG = float('-inf')


class Folder:
    def __init__(self, path):
        self.config = json.load(open(os.path.join(path, 'config.json')))
        self.gen = json.load(open(os.path.join(path, 'generation_config.json')))
        tok = json.load(open(os.path.join(path, 'tokenizer.json')))
        self.ids = {a['content']: a['id'] for a in tok['added_tokens']}
        self.w = {k: v.to(torch.float32) for k, v in safetensors_io.read(os.path.join(path, 'model.safetensors')).items()}
        c = self.config
        self.d = c['d_model']
        self.vocab = c['vocab_size']
        self.n_ctx = c['max_target_positions']
        self.eot = self.ids['<|endoftext|>']
        self.sot = self.ids['<|startoftranscript|>']
        self.sot_prev = self.ids['<|startofprev|>']
        self.no_ts = self.ids['<|notimestamps|>']
        self.ts_begin = self.ids['<|0.00|>']
        self.no_speech = self.ids.get('<|nospeech|>', self.ids.get('<|nocaptions|>'))
        self.multilingual = self.gen.get('is_multilingual', True)
        langs = self.gen.get('lang_to_id', {})
        self.lang_ids = sorted(langs.values())
        self.lang_of = {v: k[2:-2] for k, v in langs.items()}
        self.id_of_lang = {k[2:-2]: v for k, v in langs.items()}
        self.suppress = set(self.gen.get('suppress_tokens', []))
        for name in ('<|startoftranscript|>', '<|startofprev|>', '<|startoflm|>', '<|transcribe|>', '<|translate|>'):
            if name in self.ids:
                self.suppress.add(self.ids[name])
        if self.no_speech is not None:
            self.suppress.add(self.no_speech)
        self.begin_suppress = set(self.gen.get('begin_suppress_tokens', []))
        self.max_initial = self.gen.get('max_initial_timestamp_index', 50)

    # --- the network -----------------------------------------------------
    def ln(self, x, p):
        return torch.nn.functional.layer_norm(x, (self.d,), self.w[p + '.weight'], self.w[p + '.bias'], 1e-5)

    def lin(self, x, p, bias=True):
        y = x @ self.w[p + '.weight'].T
        return y + self.w[p + '.bias'] if bias else y

    def mha(self, x, kv, p, heads, causal):
        hd = self.d // heads
        q = self.lin(x, p + '.q_proj') * hd ** -0.5
        k = self.lin(kv, p + '.k_proj', bias=False)
        v = self.lin(kv, p + '.v_proj')
        T, S = x.shape[0], kv.shape[0]
        q = q.view(T, heads, hd).transpose(0, 1)
        k = k.view(S, heads, hd).transpose(0, 1)
        v = v.view(S, heads, hd).transpose(0, 1)
        s = q @ k.transpose(1, 2)
        if causal:
            s = s.masked_fill(torch.ones(T, S).triu(1).bool(), NEG)
        o = (s.softmax(-1) @ v).transpose(0, 1).reshape(T, self.d)
        return self.lin(o, p + '.out_proj')

    def mlp(self, x, p):
        return self.lin(torch.nn.functional.gelu(self.lin(self.ln(x, p + 'final_layer_norm'), p + 'fc1')), p + 'fc2')

    def encode(self, mel):
        c, w = self.config, self.w
        x = torch.nn.functional.gelu(torch.nn.functional.conv1d(mel[None], w['model.encoder.conv1.weight'],
                                                                w['model.encoder.conv1.bias'], padding=1))
        x = torch.nn.functional.gelu(torch.nn.functional.conv1d(x, w['model.encoder.conv2.weight'],
                                                                w['model.encoder.conv2.bias'], stride=2, padding=1))
        x = x[0].T + w['model.encoder.embed_positions.weight']
        for i in range(c['encoder_layers']):
            p = f'model.encoder.layers.{i}.'
            h = self.ln(x, p + 'self_attn_layer_norm')
            x = x + self.mha(h, h, p + 'self_attn', c['encoder_attention_heads'], False)
            x = x + self.mlp(x, p)
        return self.ln(x, 'model.encoder.layer_norm')

    def decode_logits(self, tokens, enc):
        c, w = self.config, self.w
        emb = w['model.decoder.embed_tokens.weight']
        x = emb[torch.tensor(tokens)]
        if c.get('scale_embedding'):
            x = x * math.sqrt(self.d)
        x = x + w['model.decoder.embed_positions.weight'][:len(tokens)]
        for i in range(c['decoder_layers']):
            p = f'model.decoder.layers.{i}.'
            h = self.ln(x, p + 'self_attn_layer_norm')
            x = x + self.mha(h, h, p + 'self_attn', c['decoder_attention_heads'], True)
            h = self.ln(x, p + 'encoder_attn_layer_norm')
            x = x + self.mha(h, enc, p + 'encoder_attn', c['decoder_attention_heads'], False)
            x = x + self.mlp(x, p)
        return self.ln(x, 'model.decoder.layer_norm') @ emb.T

    # --- the decoding rules --------------------------------------------
    def filter(self, logits, sampled, timestamps):
        logits = logits.clone()
        logits[list(self.suppress)] = NEG
        if not sampled:
            logits[list(self.begin_suppress)] = NEG
        logits[self.no_ts] = NEG
        tb = self.ts_begin
        if not timestamps:
            logits[tb:] = NEG
            return logits
        last_ts = len(sampled) >= 1 and sampled[-1] >= tb
        penult_ts = len(sampled) < 2 or sampled[-2] >= tb
        if last_ts:
            if penult_ts:
                logits[tb:] = NEG
            else:
                logits[:self.eot] = NEG
        stamps = [t for t in sampled if t >= tb]
        if stamps:
            floor = stamps[-1] if (last_ts and not penult_ts) else stamps[-1] + 1
            logits[tb:floor] = NEG
        if not sampled:
            logits[:tb] = NEG
            logits[tb + self.max_initial + 1:] = NEG
        lp = torch.log_softmax(logits.double(), -1)
        if torch.logsumexp(lp[tb:], -1) > lp[:tb].max():
            logits[:tb] = NEG
        return logits

    def decode_window(self, mel, previous, language, task, timestamps, max_tokens):
        enc = self.encode(mel)
        if self.multilingual and language is None:
            lg = self.decode_logits([self.sot], enc)[-1]
            language = max(self.lang_ids, key=lambda i: (lg[i].item(), -i))
        prompt = []
        if previous:
            prompt = [self.sot_prev] + previous[-(self.n_ctx // 2 - 1):]
        sot_at = len(prompt)
        prompt.append(self.sot)
        if self.multilingual:
            prompt += [language, self.ids['<|translate|>' if task == 'translate' else '<|transcribe|>']]
        if not timestamps:
            prompt.append(self.no_ts)
        budget = self.n_ctx // 2
        if max_tokens:
            budget = min(budget, max_tokens)
        sampled, sum_lp, picks, no_speech = [], 0.0, 0, 0.0
        while True:
            lg = self.decode_logits(prompt + sampled, enc)
            if not sampled and self.no_speech is not None:
                no_speech = torch.softmax(lg[sot_at].double(), -1)[self.no_speech].item()
            f = self.filter(lg[-1], sampled, timestamps)
            tok = int(torch.argmax(f).item())
            sum_lp += torch.log_softmax(f.double(), -1)[tok].item()
            picks += 1
            if tok == self.eot:
                break
            sampled.append(tok)
            if len(sampled) >= budget or len(prompt) + len(sampled) > self.n_ctx:
                break
        return language, sampled, sum_lp / picks, no_speech, enc


def split(tokens, tb, content_frames, timestamps):
    window_s = content_frames * 0.01
    if not timestamps:
        return ([(0.0, window_s, tokens)] if tokens else []), content_frames
    is_ts = [t >= tb for t in tokens]
    cuts = [i for i in range(1, len(tokens)) if is_ts[i - 1] and is_ts[i]]
    single_end = len(tokens) >= 2 and not is_ts[-2] and is_ts[-1]
    if cuts:
        if single_end:
            cuts.append(len(tokens))
        segs, last = [], 0
        for c in cuts:
            part = tokens[last:c]
            start = (part[0] - tb) * 0.02 if part[0] >= tb else 0.0
            segs.append((start, max(start, (part[-1] - tb) * 0.02), part))
            last = c
        advance = content_frames
        if not single_end:
            stamp = tokens[last - 1] - tb
            if stamp > 0:
                advance = min(stamp * 2, content_frames)
        return segs, advance
    end = window_s
    stamps = [t for t in tokens if t >= tb]
    if stamps and stamps[-1] != tb:
        end = (stamps[-1] - tb) * 0.02
    return ([(0.0, end, tokens)] if tokens else []), content_frames


def transcribe(m, samples, job, first_encoder):
    filters = torch.from_numpy(lmr.slaney_filters(m.config['num_mel_bins'])).to(torch.float32)
    content = (len(samples) + 159) // 160
    duration = len(samples) / 16000
    language = job.get('language')
    lang_id = m.id_of_lang[language] if language else None
    previous = list(job.get('prompt') or [])
    seek, windows, skipped, segments = 0, 0, 0, []
    encoder_out = None
    while seek < content:
        size = min(3000, content - seek)
        chunk = samples[seek * 160: seek * 160 + size * 160]
        offset = seek * 160 / 16000
        windows += 1
        if np.abs(chunk).max() < 1e-3:
            skipped += 1
            seek += size
            continue
        wave = np.zeros(480000, dtype=np.float32)
        wave[:len(chunk)] = chunk
        st = torch.stft(torch.from_numpy(wave), 400, 160, window=torch.hann_window(400), center=True,
                        pad_mode='reflect', return_complex=True)
        mel = (filters @ (st[..., :-1].abs() ** 2)).clamp(min=1e-10).log10()
        mel = (torch.maximum(mel, mel.max() - 8.0) + 4.0) / 4.0
        lang, toks, avg_lp, no_speech, enc = m.decode_window(mel, previous, lang_id, job.get('task', 'transcribe'),
                                                             job.get('timestamps', True), job.get('max_tokens', 0))
        if encoder_out is None:
            encoder_out = enc
        if m.multilingual and lang_id is None:
            lang_id = lang
        previous = []
        if no_speech > 0.6 and avg_lp < -1.0:
            skipped += 1
            seek += size
            continue
        segs, advance = split(toks, m.ts_begin, size, job.get('timestamps', True))
        for s, e, part in segs:
            start = min(offset + s, duration)
            segments.append({'start': start, 'end': min(max(offset + e, start), duration), 'tokens': part})
        seek += max(advance, 1)
    return {'language': m.lang_of.get(lang_id, '') if m.multilingual else '', 'windows': windows, 'skipped': skipped,
            'segments': segments}, encoder_out


def main():
    torch.set_grad_enabled(False)
    job = json.load(open(sys.argv[1]))
    m = Folder(job['folder'])
    results = []
    for i, j in enumerate(job['jobs']):
        samples = np.fromfile(j['samples'], dtype=np.float32)
        r, enc = transcribe(m, samples, j, i == 0)
        if i == 0 and job.get('encoder_out') and enc is not None:
            enc.numpy().astype(np.float32).tofile(job['encoder_out'])
        results.append(r)
    json.dump({'results': results}, sys.stdout)


if __name__ == '__main__':
    main()
