#!/usr/bin/python3
"""Swin2SR model folders with random weights, for the image-to-image tests and
the bench: config.json and model.safetensors as transformers saves
Swin2SRForImageSuperResolution (the swin2sr. prefix, its upsampler's names).

usage: make_swin2sr.py OUT_DIR [NAME ...]     (the test variants when no NAME)

Test variants (training size 16, window 4, so odd layers are shifted):
  swin2sr-x2        pixelshuffle ×2, 1conv, two stages (2 and 4 heads), width 16
  swin2sr-light-x3  pixelshuffledirect ×3, 3conv, one stage, width 12, no q/v bias
  swin2sr-real-x4   nearest+conv ×4, one stage
  swin2sr-jpeg      no upsampler (denoising / JPEG), img_range 255
Bench shape: swin2sr-classical-x2-shape (caidas/swin2SR-classical-sr-x2-64's
shape: width 180, 6 stages of 6 layers, 6 heads, window 8).
Deterministic: the same seed gives the same files.
"""
import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', 'llm'))
import safetensors_io  # noqa: E402

SMALL = dict(image_size=16, window_size=4, mlp_ratio=2.0)
VARIANTS = {
    'swin2sr-x2': dict(SMALL, embed_dim=16, depths=[2, 2], num_heads=[2, 4], upscale=2, upsampler='pixelshuffle',
                       resi_connection='1conv', seed=31),
    'swin2sr-light-x3': dict(SMALL, embed_dim=12, depths=[2], num_heads=[3], upscale=3, upsampler='pixelshuffledirect',
                             resi_connection='3conv', qkv_bias=False, seed=32),
    'swin2sr-real-x4': dict(SMALL, embed_dim=16, depths=[2], num_heads=[2], upscale=4, upsampler='nearest+conv',
                            resi_connection='1conv', seed=33),
    'swin2sr-jpeg': dict(SMALL, embed_dim=16, depths=[2], num_heads=[4], upscale=1, upsampler='', img_range=255.0,
                         resi_connection='1conv', seed=34),
    'swin2sr-classical-x2-shape': dict(image_size=64, window_size=8, mlp_ratio=2.0, embed_dim=180, depths=[6] * 6,
                                       num_heads=[6] * 6, upscale=2, upsampler='pixelshuffle', resi_connection='1conv',
                                       seed=35),
}
TEST_VARIANTS = ['swin2sr-x2', 'swin2sr-light-x3', 'swin2sr-real-x4', 'swin2sr-jpeg']


def weights(v):
    g = torch.Generator().manual_seed(v['seed'])
    d = v['embed_dim']
    t = {}

    def rnd(*shape, std=0.02):
        return torch.randn(*shape, generator=g) * std

    def conv(name, out, inp, k):
        t[name + '.weight'] = rnd(out, inp, k, k, std=(inp * k * k) ** -0.5)
        t[name + '.bias'] = rnd(out, std=0.05)

    def linear(name, out, inp, bias=True):
        t[name + '.weight'] = rnd(out, inp, std=inp ** -0.5)
        if bias:
            t[name + '.bias'] = rnd(out, std=0.05)

    def ln(name):
        t[name + '.weight'] = 1.0 + rnd(d, std=0.1)
        t[name + '.bias'] = rnd(d, std=0.1)

    p = 'swin2sr.'
    conv(p + 'first_convolution', d, 3, 3)
    conv(p + 'embeddings.patch_embeddings.projection', d, d, 1)
    ln(p + 'embeddings.patch_embeddings.layernorm')
    hidden = int(v['mlp_ratio'] * d)
    bias = v.get('qkv_bias', True)
    for s, (depth, heads) in enumerate(zip(v['depths'], v['num_heads'])):
        for i in range(depth):
            q = f'{p}encoder.stages.{s}.layers.{i}.'
            a = q + 'attention.self.'
            t[a + 'logit_scale'] = math.log(10) + rnd(heads, 1, 1, std=0.5)
            linear(a + 'continuous_position_bias_mlp.0', 512, 2)
            linear(a + 'continuous_position_bias_mlp.2', heads, 512, bias=False)
            linear(a + 'query', d, d, bias)
            linear(a + 'key', d, d, False)
            linear(a + 'value', d, d, bias)
            linear(q + 'attention.output.dense', d, d)
            ln(q + 'layernorm_before')
            linear(q + 'intermediate.dense', hidden, d)
            linear(q + 'output.dense', d, hidden)
            ln(q + 'layernorm_after')
        sp = f'{p}encoder.stages.{s}.'
        if v['resi_connection'] == '3conv':
            conv(sp + 'conv.0', d // 4, d, 3)
            conv(sp + 'conv.2', d // 4, d // 4, 1)
            conv(sp + 'conv.4', d, d // 4, 3)
        else:
            conv(sp + 'conv', d, d, 3)
        conv(sp + 'patch_embed.projection', d, d, 1)
    ln(p + 'layernorm')
    conv(p + 'conv_after_body', d, d, 3)
    f, up = 64, v['upsampler']
    if up == 'pixelshuffle':
        conv('upsample.conv_before_upsample', f, d, 3)
        if v['upscale'] == 3:
            conv('upsample.upsample.convolution', 9 * f, f, 3)
        else:
            for i in range(int(math.log2(v['upscale']))):
                conv(f'upsample.upsample.convolution_{i}', 4 * f, f, 3)
        conv('upsample.final_convolution', 3, f, 3)
    elif up == 'pixelshuffledirect':
        conv('upsample.conv', v['upscale'] ** 2 * 3, d, 3)
    elif up == 'nearest+conv':
        conv('upsample.conv_before_upsample', f, d, 3)
        for n in ('conv_up1', 'conv_up2', 'conv_hr'):
            conv('upsample.' + n, f, f, 3)
        conv('upsample.final_convolution', 3, f, 3)
    else:
        conv('final_convolution', 3, d, 3)
    return t


def config(v, name):
    c = {'_name_or_path': name, 'architectures': ['Swin2SRForImageSuperResolution'], 'model_type': 'swin2sr',
         'torch_dtype': 'float32', 'transformers_version': '4.44.0', 'patch_size': 1, 'num_channels': 3,
         'num_channels_out': 3, 'hidden_act': 'gelu', 'layer_norm_eps': 1e-5, 'use_absolute_embeddings': False,
         'patch_norm': True, 'drop_path_rate': 0.1, 'hidden_dropout_prob': 0.0, 'attention_probs_dropout_prob': 0.0,
         'qkv_bias': v.get('qkv_bias', True), 'img_range': v.get('img_range', 1.0)}
    for k in ('image_size', 'window_size', 'mlp_ratio', 'embed_dim', 'depths', 'num_heads', 'upscale', 'upsampler',
              'resi_connection'):
        c[k] = v[k]
    return c


def make(out, name):
    v = VARIANTS[name]
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, 'config.json'), 'w') as f:
        json.dump(config(v, name), f, indent=2)
    with open(os.path.join(folder, 'preprocessor_config.json'), 'w') as f:
        json.dump({'image_processor_type': 'Swin2SRImageProcessor', 'do_rescale': True, 'rescale_factor': 1 / 255,
                   'do_pad': True, 'pad_size': v['window_size']}, f, indent=2)
    safetensors_io.write(os.path.join(folder, 'model.safetensors'), weights(v), metadata={'format': 'pt'})


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for name in sys.argv[2:] or TEST_VARIANTS:
        make(sys.argv[1], name)


if __name__ == '__main__':
    main()
