# Helpers shared by the demo-model trainers (scripts/models/*.py): the
# determinism settings, TorchScript export, sidecar writing and the checks
# that an exported module matches its sidecar. No model-specific code here.
import json
import math
import os
import random
import time

import torch

# One thread: the reference BLAS Debian's torch links is single-threaded
# anyway, and on a machine shared with compilers a second OpenMP thread
# mostly waits at barriers (measured 7x slower per step under load).
# Changing this changes the trained weights.
THREADS = 1


def make_deterministic(seed):
    """Resets every random source; called before each model so that
    exporting one model gives the same bytes as exporting all of them."""
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    random.seed(seed)
    torch.manual_seed(seed)


def bf16_autocast():
    """Matrix products in bfloat16 through oneDNN (about 40x the float32
    reference BLAS on this CPU); weights, losses and the export stay float32."""
    return torch.autocast("cpu", dtype=torch.bfloat16)


class Stopwatch:
    def __init__(self):
        self.start = time.monotonic()

    def seconds(self):
        return time.monotonic() - self.start


def cosine_lr(step, total, peak, warmup, floor=0.1):
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return peak * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def set_lr(optimizer, lr):
    for group in optimizer.param_groups:
        group["lr"] = lr


def param_count(module):
    return sum(p.numel() for p in module.parameters())


def export(module, out_dir, name, sidecar):
    """Scripts `module` and writes NAME.pt and NAME.json into out_dir.
    Returns the scripted module."""
    module = module.eval()
    scripted = torch.jit.script(module)
    pt_path = os.path.join(out_dir, name + ".pt")
    torch.jit.save(scripted, pt_path)
    with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(sidecar, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return scripted


def check_exported(out_dir, name, example, expect_shape, eager=None):
    """Loads NAME.pt back as the agent would (torch.jit.load, eval, no grad),
    runs `example` and checks the output's shape and dtype; with `eager`,
    also that the scripted module computes what the trained one did.
    Raises on any mismatch."""
    loaded = torch.jit.load(os.path.join(out_dir, name + ".pt"), map_location="cpu")
    loaded.eval()
    with torch.no_grad():
        out = loaded(example)
        if not isinstance(out, torch.Tensor):
            raise RuntimeError(f"{name}: forward returned {type(out)}, not a tensor")
        if list(out.shape) != list(expect_shape):
            raise RuntimeError(f"{name}: forward{tuple(example.shape)} gave {tuple(out.shape)}, "
                               f"the sidecar says {tuple(expect_shape)}")
        if out.dtype != torch.float32:
            raise RuntimeError(f"{name}: forward gave {out.dtype}, expected float32")
        if not torch.isfinite(out).all():
            raise RuntimeError(f"{name}: forward gave non-finite values")
        if eager is not None:
            want = eager.eval()(example)
            if not torch.allclose(out, want, atol=1e-5, rtol=1e-4):
                raise RuntimeError(f"{name}: the scripted module differs from the trained one")
    return loaded
