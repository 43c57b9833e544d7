# denoise: a small 1-D convolutional net that removes white noise from
# 16 kHz audio, trained on synthetic tones and chirps the script generates.
# Exported as a TorchScript audio model: forward(Float[B,N]) -> Float[B,N].
import math
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

NAME = "denoise"
SEED = 8003
RATE = 16000
CLIP = 4096          # training clip length (samples); the net takes any length
STRIDE = 8
CHANNELS = 64
KERNEL = 3
DILATIONS = [1, 2, 4, 8, 16, 1]
BATCH = 16
STEPS = 1400
PEAK_LR = 2e-3
HELD_OUT = 64

DATA = ("synthetic, generated deterministically by scripts/models/denoise.py: "
        "sums of 1-4 tones and linear chirps (60 Hz-4 kHz, some with harmonics up to 5 kHz, "
        "amplitude envelopes and gaps) plus white Gaussian noise at 0-20 dB SNR")
LICENCE = "synthetic data made by the project (Apache-2.0 with the rest of the repository)"


class Denoiser(nn.Module):
    """forward(noisy: Float[B, N]) -> Float[B, N], any N >= 1. A small
    Conv-TasNet: a learned strided encoder, a mask computed by dilated
    convolutions over the encoded frames, and a transposed-conv decoder."""

    def __init__(self, channels: int, kernel: int, dilations: List[int]):
        super().__init__()
        self.stride = STRIDE
        self.encoder = nn.Conv1d(1, channels, 2 * STRIDE, stride=STRIDE, bias=False)
        self.hidden = nn.ModuleList([
            nn.Conv1d(channels, channels, kernel, padding=d * (kernel // 2), dilation=d)
            for d in dilations])
        self.mask = nn.Conv1d(channels, channels, 1)
        self.decoder = nn.ConvTranspose1d(channels, 1, 2 * STRIDE, stride=STRIDE, bias=False)

    def forward(self, noisy: torch.Tensor) -> torch.Tensor:
        n = noisy.size(1)
        s = self.stride
        # Pad to whole frames plus one frame each side so that every output
        # sample is covered by two overlapping frames.
        x = F.pad(noisy.unsqueeze(1), (s, s + (s - n % s) % s))
        frames = F.relu(self.encoder(x))
        h = frames
        for conv in self.hidden:
            h = h + F.relu(conv(h))
        y = self.decoder(frames * torch.sigmoid(self.mask(h)))
        return y[:, 0, s:s + n].to(noisy.dtype)


def clean_clip(gen: torch.Generator, n: int) -> torch.Tensor:
    t = torch.arange(n, dtype=torch.float64) / RATE
    out = torch.zeros(n, dtype=torch.float64)

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand((), generator=gen, dtype=torch.float64).item()

    for _ in range(int(torch.randint(1, 5, (), generator=gen))):
        f0 = math.exp(u(math.log(60), math.log(4000)))
        if torch.rand((), generator=gen).item() < 0.4:   # linear chirp
            f1 = math.exp(u(math.log(60), math.log(4000)))
            phase = 2 * math.pi * (f0 * t + (f1 - f0) * t * t / (2 * t[-1].item()))
        else:
            phase = 2 * math.pi * f0 * t
        phase = phase + u(0, 2 * math.pi)
        tone = torch.sin(phase)
        if torch.rand((), generator=gen).item() < 0.5:   # a few harmonics
            for k in (2, 3):
                if f0 * k < 5000:
                    tone = tone + u(0, 0.5) / k * torch.sin(k * phase)
        # Envelope: a slow swell, sometimes gated into notes with gaps.
        env = 0.6 + 0.4 * torch.sin(2 * math.pi * u(0.5, 4) * t + u(0, 6.3))
        if torch.rand((), generator=gen).item() < 0.4:
            period = int(u(0.05, 0.2) * RATE)
            gate = ((torch.arange(n) % period) < int(period * u(0.4, 0.9))).double()
            env = env * F.avg_pool1d(gate.view(1, 1, -1), 33, 1, 16).view(-1)
        out = out + u(0.1, 1.0) * env * tone
    return (out / out.abs().max().clamp_min(1e-6) * u(0.2, 0.9)).float()


def noisy_pair(gen: torch.Generator, n: int):
    clean = clean_clip(gen, n)
    snr_db = 20 * torch.rand((), generator=gen).item()
    power = clean.pow(2).mean().item()
    sigma = math.sqrt(power / (10 ** (snr_db / 10)))
    noise = torch.randn(n, generator=gen) * sigma
    return clean + noise, clean


def batch(gen, count, n):
    pairs = [noisy_pair(gen, n) for _ in range(count)]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])


def snr_db(reference: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
    err = (reference - estimate).pow(2).sum(-1)
    return 10 * torch.log10(reference.pow(2).sum(-1) / err.clamp_min(1e-12))


def train(out_dir, log):
    common.make_deterministic(SEED)
    model = Denoiser(CHANNELS, KERNEL, DILATIONS)
    opt = torch.optim.Adam(model.parameters(), lr=PEAK_LR)
    log(f"{NAME}: {common.param_count(model)} parameters, {STEPS} steps of {BATCH}x{CLIP} samples")

    held_gen = torch.Generator().manual_seed(SEED + 1)
    held_noisy, held_clean = batch(held_gen, HELD_OUT, RATE)   # one-second clips
    gen = torch.Generator().manual_seed(SEED)

    clock = common.Stopwatch()
    running = None
    for step in range(STEPS):
        common.set_lr(opt, common.cosine_lr(step, STEPS, PEAK_LR, 50))
        noisy, clean = batch(gen, BATCH, CLIP)
        with common.bf16_autocast():
            out = model(noisy)
        loss = -snr_db(clean, out.float()).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if (step + 1) % 200 == 0:
            log(f"{NAME}: step {step + 1}/{STEPS} train loss {running:.3f} (-SNR dB) ({clock.seconds():.0f} s)")
    seconds = clock.seconds()

    model.eval()
    with torch.no_grad():
        denoised = model(held_noisy).clamp(-1, 1)
    snr_in = snr_db(held_clean, held_noisy).mean().item()
    snr_out = snr_db(held_clean, denoised).mean().item()
    metrics = {
        "held_out_snr_in_db": round(snr_in, 2),
        "held_out_snr_out_db": round(snr_out, 2),
        "held_out_snr_gain_db": round(snr_out - snr_in, 2),
    }
    log(f"{NAME}: trained in {seconds:.1f} s; held-out SNR {snr_in:.2f} dB -> {snr_out:.2f} dB")

    sidecar = {
        "name": NAME,
        "task": "audio",
        "description": f"1-D convolutional white-noise remover ({common.param_count(model)} "
                       f"parameters) trained on synthetic tones and chirps at 16 kHz",
        "input": {"sample_rate": RATE},
        "output": {"sample_rate": RATE},
        "limits": {"max_seconds": 30},
        "training": {"data": DATA, "licence": LICENCE, "steps": STEPS,
                     "batch": [BATCH, CLIP], "metrics": metrics},
    }
    common.export(model, out_dir, NAME, sidecar)
    common.check_exported(out_dir, NAME, held_noisy[:1], [1, RATE], model)
    common.check_exported(out_dir, NAME, torch.zeros(1, 1), [1, 1], model)
    common.check_exported(out_dir, NAME, held_noisy[:3, :777], [3, 777], model)
    return {
        "summary": sidecar["description"] + f": a learned {2 * STRIDE}-sample encoder with "
                   f"stride {STRIDE}, a mask from {len(DILATIONS)} dilated convolutions "
                   f"(kernel {KERNEL}, dilations {DILATIONS}), a transposed-conv decoder; "
                   f"loss: minus the SNR in dB, "
                   f"{STEPS} steps of {BATCH} clips of {CLIP} samples. Metrics over "
                   f"{HELD_OUT} held-out one-second clips.",
        "seconds": seconds,
        "metrics": metrics,
        "data": DATA,
        "licence": LICENCE,
    }
