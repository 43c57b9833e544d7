#!/usr/bin/python3
"""Hostile copies of a model folder, for the load tests: each KIND breaks one
thing the agent must refuse with a clear message.

usage: break_folder.py GOOD_FOLDER OUT_DIR KIND...
kinds: truncated, huge-header, overlap, bad-json-header, int-weights,
       wrong-shape, missing-tensor, unknown-type, bad-kv-heads, no-weights,
       index-escape, index-missing, bad-rope
"""
import json
import os
import shutil
import struct
import sys


def header_of(path):
    data = open(path, 'rb').read()
    (n,) = struct.unpack('<Q', data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_with(path, header, body):
    text = json.dumps(header, separators=(',', ':')).encode()
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        f.write(body)


def break_one(good, out, kind):
    folder = os.path.join(out, kind)
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(good, folder)
    st = os.path.join(folder, 'model.safetensors')
    cfg_path = os.path.join(folder, 'config.json')
    cfg = json.load(open(cfg_path))
    if kind == 'truncated':
        data = open(st, 'rb').read()
        open(st, 'wb').write(data[:len(data) - 1000])
    elif kind == 'huge-header':
        data = open(st, 'rb').read()
        open(st, 'wb').write(struct.pack('<Q', 1 << 30) + data[8:])
    elif kind == 'overlap':
        h, body = header_of(st)
        names = [k for k in h if k != '__metadata__']
        a, b = h[names[0]], h[names[1]]
        size = b['data_offsets'][1] - b['data_offsets'][0]
        b['data_offsets'] = [a['data_offsets'][0], a['data_offsets'][0] + size]
        write_with(st, h, body)
    elif kind == 'bad-json-header':
        data = open(st, 'rb').read()
        (n,) = struct.unpack('<Q', data[:8])
        open(st, 'wb').write(data[:8] + b'{"x":' + b' ' * (n - 5) + data[8 + n:])
    elif kind == 'int-weights':
        h, body = header_of(st)
        h['model.norm.weight']['dtype'] = 'I16'  # same size as BF16
        write_with(st, h, body)
    elif kind == 'wrong-shape':
        cfg['intermediate_size'] += 8
        json.dump(cfg, open(cfg_path, 'w'))
    elif kind == 'missing-tensor':
        h, body = header_of(st)
        del h['model.layers.1.mlp.up_proj.weight']
        write_with(st, h, body)
    elif kind == 'unknown-type':
        cfg['model_type'] = 'mamba'
        json.dump(cfg, open(cfg_path, 'w'))
    elif kind == 'bad-kv-heads':
        cfg['num_key_value_heads'] = 3
        json.dump(cfg, open(cfg_path, 'w'))
    elif kind == 'bad-rope':
        cfg['rope_scaling'] = {'rope_type': 'yarn', 'factor': 4.0}
        json.dump(cfg, open(cfg_path, 'w'))
    elif kind == 'no-weights':
        os.remove(st)
    elif kind in ('index-escape', 'index-missing'):
        h, body = header_of(st)
        names = [k for k in h if k != '__metadata__']
        os.rename(st, os.path.join(folder, 'model-00001-of-00001.safetensors'))
        weight_map = {k: 'model-00001-of-00001.safetensors' for k in names}
        if kind == 'index-escape':
            weight_map[names[0]] = '../model.safetensors'
        else:
            weight_map['model.layers.9.mlp.up_proj.weight'] = 'model-00001-of-00001.safetensors'
        json.dump({'metadata': {}, 'weight_map': weight_map}, open(os.path.join(folder, 'model.safetensors.index.json'), 'w'))
    else:
        raise SystemExit('unknown kind ' + kind)


def main():
    good, out = sys.argv[1], sys.argv[2]
    for kind in sys.argv[3:]:
        break_one(good, out, kind)


if __name__ == '__main__':
    main()
