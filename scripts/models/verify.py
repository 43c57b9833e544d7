# Checks exported models the way tether-agent's start-up dry run does: reads
# NAME.json, loads NAME.pt with torch.jit.load, runs the input the sidecar
# declares (batch first) and checks the output's shape, dtype and range.
#   /usr/bin/python3 scripts/models/verify.py models/*.pt
# With CUDA present it also runs each model on cuda:0 in float16 (--half).
import json
import os
import sys

import torch


def cases(sidecar):
    """(input, expected output shape) pairs for the sidecar's task."""
    task = sidecar["task"]
    inp, out = sidecar.get("input", {}), sidecar.get("output", {})
    if task == "text-generation":
        ctx, vocab = inp["context"], out["vocab"]
        return [(torch.randint(0, 256, (1, ctx)), [1, ctx, vocab]),
                (torch.randint(0, 256, (3, 1)), [3, 1, vocab]),
                (torch.randint(0, 256, (2, 17)), [2, 17, vocab])]
    if task == "classification":
        labels = len(out["labels"])
        if inp["kind"] == "text":
            text = torch.zeros(4, inp["length"], dtype=torch.long)
            text[:, :20] = torch.randint(1, 256, (4, 20))
            return [(text, [4, labels]), (text[:1], [1, labels])]
        if inp["kind"] == "audio":
            return [(torch.rand(2, inp["samples"]) * 2 - 1, [2, labels])]
        return [(torch.rand(2, inp["channels"], inp["height"], inp["width"]), [2, labels])]
    if task == "audio":
        rate_in, rate_out = inp["sample_rate"], out["sample_rate"]
        return [(torch.rand(1, n) * 2 - 1, [1, n * rate_out // rate_in])
                for n in (rate_in, 1, 12345)]
    if task == "image":
        s = out["scale"]
        return [(torch.rand(b, inp["channels"], h, w), [b, 3, h * s, w * s])
                for b, h, w in ((1, 64, 64), (2, 31, 47), (1, 1, 1))]
    raise ValueError(f"no check for task {task!r}")


def verify(pt_path, device="cpu", half=False):
    with open(os.path.splitext(pt_path)[0] + ".json", encoding="utf-8") as f:
        sidecar = json.load(f)
    module = torch.jit.load(pt_path, map_location=device)
    module.eval()
    if half:
        module.half()
    for x, shape in cases(sidecar):
        x = x.to(device)
        if half and x.is_floating_point():
            x = x.half()
        with torch.inference_mode():
            y = module(x)
        if list(y.shape) != shape:
            raise RuntimeError(f"{pt_path}: forward{tuple(x.shape)} -> {tuple(y.shape)}, "
                               f"sidecar implies {tuple(shape)}")
        want = torch.float16 if half else torch.float32
        if y.dtype != want or not torch.isfinite(y).all():
            raise RuntimeError(f"{pt_path}: output {y.dtype}, finite={bool(torch.isfinite(y).all())}")
        if sidecar["task"] == "image" and (y.min() < 0 or y.max() > 1):
            raise RuntimeError(f"{pt_path}: image output outside [0, 1]")
    return sidecar["task"]


def main(paths):
    for path in paths:
        task = verify(path)
        line = f"verify: {path}: {task}, shapes match the sidecar on cpu"
        if torch.cuda.is_available():
            verify(path, "cuda:0")
            verify(path, "cuda:0", half=True)
            line += ", cuda float32 and float16"
        print(line, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
