#!/usr/bin/python3
"""An independent Swin2SR forward in float32 (Debian's python3-torch and
numpy), written from the Swin Transformer V2 and SwinIR papers' description
and transformers' documented behaviour, for checking the agent's native one:
the image padded with numpy's "symmetric" mode (as Swin2SRImageProcessor
does) to a multiple of the window, windows taken one by one with explicit
loops, the relative position bias built pair by pair, the shifted windows'
mask from each token's region (masked pairs get no weight at all), the
upsamplers as their modules describe.

usage: swin2sr_reference.py JOB.json
JOB: {"folder": DIR, "pixels": FILE (float32, C order, in [0, 1]), "shape": [B, 3, H, W], "out": FILE}
Writes the reconstruction [B, 3, H*scale, W*scale] (float32) to "out" and
prints {"shape": [...]}.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'llm'))
import safetensors_io  # noqa: E402


def conv(w, name, x, pad=None):
    weight = w[name + '.weight']
    return F.conv2d(x, weight, w[name + '.bias'], padding=weight.shape[-1] // 2 if pad is None else pad)


def layer_norm(w, name, x, eps):
    return F.layer_norm(x, (x.shape[-1],), w[name + '.weight'], w[name + '.bias'], eps)


def lin(w, name, x):
    b = w.get(name + '.bias')
    y = x @ w[name + '.weight'].t()
    return y if b is None else y + b


def position_bias(w, a, win, heads):
    # The MLP's input for every relative offset (dy, dx), scaled as Swin V2 does.
    def scaled(o):
        v = o / (win - 1) * 8 if win > 1 else o * 8.0
        return math.copysign(math.log2(abs(v) + 1) / math.log2(8), v) if v != 0 else 0.0
    n = win * win
    bias = torch.zeros(heads, n, n)
    cache = {}
    for i in range(n):
        for j in range(n):
            off = (i // win - j // win, i % win - j % win)
            if off not in cache:
                inp = torch.tensor([scaled(off[0]), scaled(off[1])])
                h = torch.relu(lin(w, a + 'continuous_position_bias_mlp.0', inp))
                cache[off] = 16 * torch.sigmoid(lin(w, a + 'continuous_position_bias_mlp.2', h))
            bias[:, i, j] = cache[off]
    return bias


def region(i, size, win, shift):
    return 0 if i < size - win else (1 if i < size - shift else 2)


def swin_layer(cfg, w, q, x, H, W, heads, shifted, win, shift):
    C = x.shape[-1]
    a = q + 'attention.self.'
    img = x.view(H, W, C)
    ph, pw = (win - H % win) % win, (win - W % win) % win
    img = F.pad(img, (0, 0, 0, pw, 0, ph))
    Hp, Wp = H + ph, W + pw
    s = shift if shifted else 0
    if s:
        img = torch.roll(img, shifts=(-s, -s), dims=(0, 1))
    scale = torch.exp(torch.clamp(w[a + 'logit_scale'], max=math.log(100))).view(heads, 1, 1)
    bias = position_bias(w, a, win, heads)
    out = torch.zeros_like(img)
    hd = C // heads
    for wy in range(0, Hp, win):
        for wx in range(0, Wp, win):
            tokens = img[wy:wy + win, wx:wx + win].reshape(win * win, C)
            qh = lin(w, a + 'query', tokens).view(-1, heads, hd).transpose(0, 1)
            kh = lin(w, a + 'key', tokens).view(-1, heads, hd).transpose(0, 1)
            vh = lin(w, a + 'value', tokens).view(-1, heads, hd).transpose(0, 1)
            scores = F.normalize(qh, dim=-1) @ F.normalize(kh, dim=-1).transpose(1, 2) * scale + bias
            if s:
                ids = [region(wy + t // win, Hp, win, s) * 3 + region(wx + t % win, Wp, win, s) for t in range(win * win)]
                ids = torch.tensor(ids)
                scores = scores.masked_fill(ids.view(1, -1, 1) != ids.view(1, 1, -1), float('-inf'))
            ctx = (torch.softmax(scores, -1) @ vh).transpose(0, 1).reshape(-1, C)
            out[wy:wy + win, wx:wx + win] = lin(w, q + 'attention.output.dense', ctx).view(win, win, C)
    if s:
        out = torch.roll(out, shifts=(s, s), dims=(0, 1))
    out = out[:H, :W].reshape(H * W, C)
    eps = cfg.get('layer_norm_eps', 1e-5)
    y = x + layer_norm(w, q + 'layernorm_before', out, eps)
    m = lin(w, q + 'output.dense', F.gelu(lin(w, q + 'intermediate.dense', y)))
    return y + layer_norm(w, q + 'layernorm_after', m, eps)


def forward(cfg, w, px):
    """px: [3, H, W] in [0, 1] -> [3, H*scale, W*scale]"""
    _, H, W = px.shape
    ws = cfg['window_size']
    a = np.pad(px.numpy(), ((0, 0), (0, (ws - H % ws) % ws), (0, (ws - W % ws) % ws)), mode='symmetric')
    raw = torch.from_numpy(a.copy()).unsqueeze(0)
    mean = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1)
    rng = cfg.get('img_range', 1.0)
    x = (raw - mean) * rng
    p = 'swin2sr.'
    shallow = conv(w, p + 'first_convolution', x)
    Hp, Wp = shallow.shape[2:]
    d = cfg['embed_dim']
    tok = conv(w, p + 'embeddings.patch_embeddings.projection', shallow).view(d, -1).t()
    tok = layer_norm(w, p + 'embeddings.patch_embeddings.layernorm', tok, 1e-5)
    win = min(ws, cfg['image_size'])
    shift = 0 if cfg['image_size'] <= win else ws // 2
    for s, (depth, heads) in enumerate(zip(cfg['depths'], cfg['num_heads'])):
        res = tok
        for i in range(depth):
            tok = swin_layer(cfg, w, f'{p}encoder.stages.{s}.layers.{i}.', tok, Hp, Wp, heads, i % 2 == 1, win, shift)
        img = tok.t().reshape(1, d, Hp, Wp)
        sp = f'{p}encoder.stages.{s}.'
        if cfg.get('resi_connection', '1conv') == '3conv':
            img = F.leaky_relu(conv(w, sp + 'conv.0', img), 0.2)
            img = F.leaky_relu(conv(w, sp + 'conv.2', img), 0.2)
            img = conv(w, sp + 'conv.4', img)
        else:
            img = conv(w, sp + 'conv', img)
        tok = conv(w, sp + 'patch_embed.projection', img).view(d, -1).t() + res
    tok = layer_norm(w, p + 'layernorm', tok, cfg.get('layer_norm_eps', 1e-5))
    body = conv(w, p + 'conv_after_body', tok.t().reshape(1, d, Hp, Wp)) + shallow
    up, r = cfg.get('upsampler', 'pixelshuffle'), cfg['upscale']
    if up == 'pixelshuffle':
        y = F.leaky_relu(conv(w, 'upsample.conv_before_upsample', body), 0.01)
        if r == 3:
            y = F.pixel_shuffle(conv(w, 'upsample.upsample.convolution', y), 3)
        else:
            for i in range(int(math.log2(r))):
                y = F.pixel_shuffle(conv(w, f'upsample.upsample.convolution_{i}', y), 2)
        y = conv(w, 'upsample.final_convolution', y)
    elif up == 'pixelshuffledirect':
        y = F.pixel_shuffle(conv(w, 'upsample.conv', body), r)
    elif up == 'nearest+conv':
        y = F.leaky_relu(conv(w, 'upsample.conv_before_upsample', body), 0.01)
        y = F.leaky_relu(conv(w, 'upsample.conv_up1', F.interpolate(y, scale_factor=2, mode='nearest')), 0.2)
        y = F.leaky_relu(conv(w, 'upsample.conv_up2', F.interpolate(y, scale_factor=2, mode='nearest')), 0.2)
        y = conv(w, 'upsample.final_convolution', F.leaky_relu(conv(w, 'upsample.conv_hr', y), 0.2))
        r = 4
    else:
        y = raw + conv(w, 'final_convolution', body)
        r = 1
    y = y / rng + mean
    return y[0, :, :H * r, :W * r]


def main():
    job = json.load(open(sys.argv[1]))
    cfg = json.load(open(os.path.join(job['folder'], 'config.json')))
    w = {k: v.float() for k, v in safetensors_io.read(os.path.join(job['folder'], 'model.safetensors')).items()}
    B, C, H, W = job['shape']
    px = torch.from_numpy(np.fromfile(job['pixels'], dtype=np.float32).copy()).view(B, C, H, W)
    with torch.no_grad():
        out = torch.stack([forward(cfg, w, px[b]) for b in range(B)])
    out.contiguous().numpy().astype(np.float32).tofile(job['out'])
    print(json.dumps({'shape': list(out.shape)}))


if __name__ == '__main__':
    main()
