# upscale2x: an ESPCN-style 2x super-resolution net (convolutions, pixel
# shuffle, added to a bicubic upsampling), trained on synthetic pictures the
# script draws. Exported as a TorchScript image model:
# forward(Float[B,3,H,W]) -> Float[B,3,2H,2W] in [0, 1], any H, W.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

NAME = "upscale2x"
SEED = 8004
SCALE = 2
PATCH = 64           # high-resolution training patch
BATCH = 16
STEPS = 1500
PEAK_LR = 5e-3
HELD_OUT = 48
HELD_SIZE = 128

DATA = ("synthetic, generated deterministically by scripts/models/upscale2x.py: "
        "colour gradients with anti-aliased rectangles, ellipses, thick lines, "
        "rows of thin text-like strokes and a little noise, downscaled 2x by "
        "averaging 2x2 blocks")
LICENCE = "synthetic data made by the project (Apache-2.0 with the rest of the repository)"


class Upscale2x(nn.Module):
    """forward(image: Float[B, 3, H, W] in [0, 1]) -> Float[B, 3, 2H, 2W] in
    [0, 1]: bicubic upsampling plus a learned sub-pixel correction."""

    def __init__(self):
        super().__init__()
        self.scale = SCALE
        self.conv1 = nn.Conv2d(3, 48, 5, padding=2)
        self.conv2 = nn.Conv2d(48, 32, 3, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.conv4 = nn.Conv2d(32, 3 * SCALE * SCALE, 3, padding=1)
        self.shuffle = nn.PixelShuffle(SCALE)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        base = F.interpolate(image, scale_factor=float(self.scale), mode="bicubic",
                             align_corners=False)
        h = torch.tanh(self.conv1(image))
        h = torch.tanh(self.conv2(h))
        h = h + torch.tanh(self.conv3(h))
        detail = self.shuffle(self.conv4(h))
        return (base + detail.to(base.dtype)).clamp(0.0, 1.0)


def draw(gen: torch.Generator, size: int) -> torch.Tensor:
    """One synthetic RGB picture, Float[3, size, size] in [0, 1]."""
    def u(lo=0.0, hi=1.0):
        return lo + (hi - lo) * torch.rand((), generator=gen).item()

    def colour():
        return torch.rand(3, 1, 1, generator=gen)

    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32) + 0.5,
                            torch.arange(size, dtype=torch.float32) + 0.5, indexing="ij")
    angle = u(0, 2 * math.pi)
    ramp = (xs * math.cos(angle) + ys * math.sin(angle)) / (size * 1.5) + 0.5
    img = colour() * (1 - ramp) + colour() * ramp

    def paint(alpha, c):
        nonlocal img
        alpha = alpha.clamp(0, 1).unsqueeze(0)
        img = img * (1 - alpha) + c * alpha

    def segment_distance(x0, y0, x1, y1):
        dx, dy = x1 - x0, y1 - y0
        t = (((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-6)).clamp(0, 1)
        return ((xs - x0 - t * dx) ** 2 + (ys - y0 - t * dy) ** 2).sqrt()

    for _ in range(int(torch.randint(3, 9, (), generator=gen))):
        kind = int(torch.randint(0, 4, (), generator=gen))
        cx, cy = u(0, size), u(0, size)
        if kind == 0:      # rectangle (anti-aliased edges)
            w, h = u(3, size / 2), u(3, size / 2)
            inside = torch.minimum(w / 2 - (xs - cx).abs(), h / 2 - (ys - cy).abs())
            paint(inside + 0.5, colour())
        elif kind == 1:    # ellipse
            rx, ry = u(3, size / 3), u(3, size / 3)
            d = ((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2
            paint((1 - d.sqrt()) * min(rx, ry) + 0.5, colour())
        elif kind == 2:    # thick line
            a = u(0, 2 * math.pi)
            length = u(size / 4, size)
            d = segment_distance(cx, cy, cx + length * math.cos(a), cy + length * math.sin(a))
            paint(u(0.5, 3) - d + 0.5, colour())
        else:              # a row of thin strokes, like small text
            c = colour()
            height = u(4, 10)
            x = cx
            for _ in range(int(torch.randint(3, 12, (), generator=gen))):
                top, bottom = cy - height / 2, cy + height / 2
                x0, x1 = x + u(-height / 3, height / 3), x + u(-height / 3, height / 3)
                if torch.rand((), generator=gen).item() < 0.5:
                    d = segment_distance(x0, top, x1, bottom)
                else:
                    yy = u(top, bottom)
                    d = segment_distance(x, yy, x + u(2, height * 0.7), yy)
                paint(u(0.4, 1.0) - d + 0.5, c)
                x += u(2, height * 0.8)
    img = img + 0.01 * torch.randn(img.shape, generator=gen)
    return img.clamp(0, 1)


def pairs(gen, count, size):
    high = torch.stack([draw(gen, size) for _ in range(count)])
    low = F.avg_pool2d(high, SCALE)
    return low, high


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a - b).pow(2).mean(dim=(1, 2, 3)).clamp_min(1e-10)
    return (10 * torch.log10(1.0 / mse)).mean().item()


def train(out_dir, log):
    common.make_deterministic(SEED)
    model = Upscale2x()
    opt = torch.optim.Adam(model.parameters(), lr=PEAK_LR)
    log(f"{NAME}: {common.param_count(model)} parameters, {STEPS} steps of "
        f"{BATCH} {PATCH}x{PATCH} patches")

    held_low, held_high = pairs(torch.Generator().manual_seed(SEED + 1), HELD_OUT, HELD_SIZE)
    gen = torch.Generator().manual_seed(SEED)

    clock = common.Stopwatch()
    running = None
    for step in range(STEPS):
        common.set_lr(opt, common.cosine_lr(step, STEPS, PEAK_LR, 50))
        low, high = pairs(gen, BATCH, PATCH)
        with common.bf16_autocast():
            out = model(low)
        loss = F.mse_loss(out.float(), high)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % 200 == 0:
            log(f"{NAME}: step {step + 1}/{STEPS} train MSE {running:.5f} ({clock.seconds():.0f} s)")
    seconds = clock.seconds()

    model.eval()
    with torch.no_grad():
        out = model(held_low)
        bicubic = F.interpolate(held_low, scale_factor=2.0, mode="bicubic",
                                align_corners=False).clamp(0, 1)
        bilinear = F.interpolate(held_low, scale_factor=2.0, mode="bilinear",
                                 align_corners=False)
    metrics = {
        "held_out_psnr_db": round(psnr(out, held_high), 2),
        "held_out_psnr_bicubic_db": round(psnr(bicubic, held_high), 2),
        "held_out_psnr_bilinear_db": round(psnr(bilinear, held_high), 2),
    }
    log(f"{NAME}: trained in {seconds:.1f} s; held-out PSNR {metrics['held_out_psnr_db']} dB "
        f"(bicubic {metrics['held_out_psnr_bicubic_db']} dB, "
        f"bilinear {metrics['held_out_psnr_bilinear_db']} dB)")

    sidecar = {
        "name": NAME,
        "task": "image",
        "description": f"ESPCN-style 2x upscaler ({common.param_count(model)} parameters) "
                       f"trained on synthetic shapes, gradients and strokes",
        "input": {"channels": 3},
        "output": {"scale": SCALE},
        "limits": {"max_width": 512, "max_height": 512},
        "training": {"data": DATA, "licence": LICENCE, "steps": STEPS,
                     "batch": [BATCH, 3, PATCH // SCALE, PATCH // SCALE], "metrics": metrics},
    }
    common.export(model, out_dir, NAME, sidecar)
    common.check_exported(out_dir, NAME, held_low[:2], [2, 3, HELD_SIZE, HELD_SIZE], model)
    common.check_exported(out_dir, NAME, torch.rand(1, 3, 1, 1), [1, 3, 2, 2], model)
    common.check_exported(out_dir, NAME, torch.rand(1, 3, 37, 52), [1, 3, 74, 104], model)
    return {
        "summary": sidecar["description"] + ": four convolutions and a pixel shuffle "
                   f"added to bicubic upsampling, MSE loss, {STEPS} steps of {BATCH} "
                   f"{PATCH // SCALE}x{PATCH // SCALE} -> {PATCH}x{PATCH} patches. Metrics "
                   f"over {HELD_OUT} held-out {HELD_SIZE}x{HELD_SIZE} pictures.",
        "seconds": seconds,
        "metrics": metrics,
        "data": DATA,
        "licence": LICENCE,
    }
