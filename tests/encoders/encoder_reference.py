#!/usr/bin/python3
"""An independent float32 reference for the agent's encoders (Debian's
python3-torch): BERT, RoBERTa / XLM-RoBERTa, DistilBERT and ViT written from
the architectures, each input run alone (no padding, no mask), the heads and
sentence-transformers pooling read from the folder by this script; and
transformers' image preprocessing with PIL (python3-pil).

    encoder_reference.py JOB.json

JOB.json is one of
  {"folder": DIR, "inputs": [[ids], ...]}          -> {"outputs": [[floats], ...]}
      logits for a classifier, the pooled embedding otherwise
  {"folder": DIR, "pixels": F32_FILE, "count": N}  -> {"outputs": [[logits], ...]}
      N preprocessed images [3, S, S] (float32, C order) through a ViT
  {"folder": DIR, "images": [PNG, ...]}            -> {"pixels": [[floats], ...]}
      each image as ViTImageProcessor makes it (PIL resize, rescale, normalise)
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'llm'))
import safetensors_io  # noqa: E402


def load(folder):
    cfg = json.load(open(os.path.join(folder, 'config.json')))
    w = {k: v.to(torch.float32) for k, v in safetensors_io.read(os.path.join(folder, 'model.safetensors')).items()}
    return cfg, w


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + eps) * w + b


def lin(x, w, name, bias=True):
    y = x @ w[name + '.weight'].t()
    if bias and (name + '.bias') in w:
        y = y + w[name + '.bias']
    return y


def self_attention(x, w, names, heads):
    """x [T, d]; names: (q, k, v, out) weight prefixes."""
    T, d = x.shape
    hd = d // heads
    q = lin(x, w, names[0]).view(T, heads, hd).transpose(0, 1)
    k = lin(x, w, names[1]).view(T, heads, hd).transpose(0, 1)
    v = lin(x, w, names[2]).view(T, heads, hd).transpose(0, 1)
    scores = (q @ k.transpose(1, 2)) / math.sqrt(hd)
    p = torch.exp(scores - scores.max(-1, keepdim=True).values)
    p = p / p.sum(-1, keepdim=True)
    a = (p @ v).transpose(0, 1).reshape(T, d)
    return lin(a, w, names[3])


def find_prefix(w, candidates, probe):
    for p in candidates:
        if p + probe in w:
            return p
    raise SystemExit('no ' + probe)


def text_forward(cfg, w, ids):
    t = cfg['model_type']
    ids = torch.tensor(ids, dtype=torch.long)
    T = ids.shape[0]
    if t == 'distilbert':
        p = find_prefix(w, ['distilbert.', ''], 'embeddings.word_embeddings.weight')
        d, heads, eps = cfg['dim'], cfg['n_heads'], 1e-12
        x = w[p + 'embeddings.word_embeddings.weight'][ids] + w[p + 'embeddings.position_embeddings.weight'][:T]
        x = layer_norm(x, w[p + 'embeddings.LayerNorm.weight'], w[p + 'embeddings.LayerNorm.bias'], eps)
        for i in range(cfg['n_layers']):
            q = f'{p}transformer.layer.{i}.'
            a = self_attention(x, w, [q + 'attention.' + n for n in ('q_lin', 'k_lin', 'v_lin', 'out_lin')], heads)
            x = layer_norm(a + x, w[q + 'sa_layer_norm.weight'], w[q + 'sa_layer_norm.bias'], eps)
            f = lin(gelu(lin(x, w, q + 'ffn.lin1')), w, q + 'ffn.lin2')
            x = layer_norm(f + x, w[q + 'output_layer_norm.weight'], w[q + 'output_layer_norm.bias'], eps)
        return x, p
    p = find_prefix(w, ['bert.', 'roberta.', ''], 'embeddings.word_embeddings.weight')
    d, heads = cfg['hidden_size'], cfg['num_attention_heads']
    eps = cfg.get('layer_norm_eps', 1e-12)
    if t in ('roberta', 'xlm-roberta'):
        pad = cfg.get('pad_token_id', 1)
        positions = torch.arange(T) + pad + 1  # no padding in the input: positions pad+1, pad+2, ...
    else:
        positions = torch.arange(T)
    x = w[p + 'embeddings.word_embeddings.weight'][ids] + w[p + 'embeddings.position_embeddings.weight'][positions]
    x = x + w[p + 'embeddings.token_type_embeddings.weight'][0]
    x = layer_norm(x, w[p + 'embeddings.LayerNorm.weight'], w[p + 'embeddings.LayerNorm.bias'], eps)
    for i in range(cfg['num_hidden_layers']):
        q = f'{p}encoder.layer.{i}.'
        a = self_attention(x, w, [q + 'attention.self.query', q + 'attention.self.key', q + 'attention.self.value',
                                  q + 'attention.output.dense'], heads)
        x = layer_norm(a + x, w[q + 'attention.output.LayerNorm.weight'], w[q + 'attention.output.LayerNorm.bias'], eps)
        f = lin(gelu(lin(x, w, q + 'intermediate.dense')), w, q + 'output.dense')
        x = layer_norm(f + x, w[q + 'output.LayerNorm.weight'], w[q + 'output.LayerNorm.bias'], eps)
    return x, p


def classifier_head(cfg, w, x, p):
    t = cfg['model_type']
    first = x[0]
    if t == 'distilbert':
        return lin(torch.relu(lin(first, w, 'pre_classifier')), w, 'classifier')
    if t in ('roberta', 'xlm-roberta'):
        return lin(torch.tanh(lin(first, w, 'classifier.dense')), w, 'classifier.out_proj')
    return lin(torch.tanh(lin(first, w, p + 'pooler.dense')), w, 'classifier')


def pooling(folder):
    """(mode, normalise) as sentence-transformers would run the folder; mean and normalised without modules.json."""
    modules_file = os.path.join(folder, 'modules.json')
    if not os.path.exists(modules_file):
        return 'mean', True
    modules = json.load(open(modules_file))
    mode, normalise = None, False
    for m in modules:
        if m['type'].endswith('.Pooling'):
            pc = json.load(open(os.path.join(folder, m['path'], 'config.json')))
            for key, name in (('pooling_mode_cls_token', 'cls'), ('pooling_mode_mean_tokens', 'mean'),
                              ('pooling_mode_max_tokens', 'max'), ('pooling_mode_mean_sqrt_len_tokens', 'sqrt')):
                if pc.get(key):
                    mode = name
        elif m['type'].endswith('.Normalize'):
            normalise = True
    return mode, normalise


def embed(folder, x):
    mode, normalise = pooling(folder)
    if mode == 'cls':
        v = x[0]
    elif mode == 'max':
        v = x.max(0).values
    elif mode == 'sqrt':
        v = x.sum(0) / math.sqrt(x.shape[0])
    else:
        v = x.mean(0)
    if normalise:
        v = v / max(float(torch.sqrt((v * v).sum())), 1e-12)
    return v


def vit_forward(cfg, w, px):
    p = find_prefix(w, ['vit.', ''], 'embeddings.cls_token')
    d, heads, eps, P = cfg['hidden_size'], cfg['num_attention_heads'], cfg.get('layer_norm_eps', 1e-12), cfg['patch_size']
    S = cfg['image_size']
    n = S // P
    # Patches by hand: [3, S, S] -> [n*n, 3*P*P] in the conv weight's (c, y, x) order.
    patches = px.view(3, n, P, n, P).permute(1, 3, 0, 2, 4).reshape(n * n, 3 * P * P)
    proj = w[p + 'embeddings.patch_embeddings.projection.weight'].reshape(d, -1)
    x = patches @ proj.t() + w[p + 'embeddings.patch_embeddings.projection.bias']
    x = torch.cat([w[p + 'embeddings.cls_token'][0], x], 0) + w[p + 'embeddings.position_embeddings'][0]
    for i in range(cfg['num_hidden_layers']):
        q = f'{p}encoder.layer.{i}.'
        h = layer_norm(x, w[q + 'layernorm_before.weight'], w[q + 'layernorm_before.bias'], eps)
        x = x + self_attention(h, w, [q + 'attention.attention.query', q + 'attention.attention.key',
                                      q + 'attention.attention.value', q + 'attention.output.dense'], heads)
        h = layer_norm(x, w[q + 'layernorm_after.weight'], w[q + 'layernorm_after.bias'], eps)
        x = x + lin(gelu(lin(h, w, q + 'intermediate.dense')), w, q + 'output.dense')
    x = layer_norm(x, w[p + 'layernorm.weight'], w[p + 'layernorm.bias'], eps)
    return lin(x[0], w, 'classifier')


def preprocess(folder, path):
    from PIL import Image
    import numpy as np
    pc = json.load(open(os.path.join(folder, 'preprocessor_config.json')))
    img = Image.open(path).convert('RGB')
    if pc.get('do_resize', True):
        size = pc['size']
        img = img.resize((size['width'], size['height']), resample=pc.get('resample', 2))
    a = np.asarray(img)
    if pc.get('do_rescale', True):
        a = (a.astype(np.float64) * pc.get('rescale_factor', 1 / 255)).astype(np.float32)
    else:
        a = a.astype(np.float32)
    if pc.get('do_normalize', True):
        a = (a - np.array(pc['image_mean'], dtype=np.float32)) / np.array(pc['image_std'], dtype=np.float32)
    return a.transpose(2, 0, 1).reshape(-1).tolist()


def main():
    job = json.load(open(sys.argv[1]))
    folder = job['folder']
    if 'images' in job:
        print(json.dumps({'pixels': [preprocess(folder, p) for p in job['images']]}))
        return
    cfg, w = load(folder)
    out = []
    with torch.no_grad():
        if 'pixels' in job:
            S = cfg['image_size']
            import numpy as np
            px = torch.from_numpy(np.fromfile(job['pixels'], dtype=np.float32).copy()).view(job['count'], 3, S, S)
            for i in range(job['count']):
                out.append(vit_forward(cfg, w, px[i]).tolist())
        else:
            classify = any(a.endswith('ForSequenceClassification') for a in cfg.get('architectures', [])) and \
                not os.path.exists(os.path.join(folder, 'modules.json'))
            for ids in job['inputs']:
                x, p = text_forward(cfg, w, ids)
                out.append((classifier_head(cfg, w, x, p) if classify else embed(folder, x)).tolist())
    print(json.dumps({'outputs': out}))


if __name__ == '__main__':
    main()
