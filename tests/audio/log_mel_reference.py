#!/usr/bin/env python3
"""Whisper's log-mel features, written independently of the agent's C++, as
the Hugging Face WhisperFeatureExtractor defines them, with python3-torch's
stft: the reference for tests/unit/agent/log_mel_test.cpp.

    log_mel_reference.py SAMPLES.f32 N_MELS OUT.f32 [FILTERS_OUT.f32]

SAMPLES.f32: raw float32 16 kHz mono samples. OUT.f32: n_mels x 3000 float32
features (row-major); FILTERS_OUT.f32, when given: the mel filter bank.
"""
import math
import sys

import numpy as np
import torch

SR, N_FFT, HOP, CHUNK = 16000, 400, 160, 30


def slaney_filters(n_mels, n_fft=N_FFT, sr=SR, fmin=0.0, fmax=8000.0):
    # librosa.filters.mel(htk=False, norm="slaney") in closed form
    def hz_to_mel(f):
        f = np.asanyarray(f, dtype=np.float64)
        lin = 3.0 * f / 200.0
        log = 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) / (math.log(6.4) / 27.0)
        return np.where(f >= 1000.0, log, lin)

    def mel_to_hz(m):
        m = np.asanyarray(m, dtype=np.float64)
        lin = 200.0 * m / 3.0
        log = 1000.0 * np.exp((math.log(6.4) / 27.0) * (m - 15.0))
        return np.where(m >= 15.0, log, lin)

    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_pts = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_pts[2:n_mels + 2] - mel_pts[:n_mels])
    return weights * enorm[:, None]


def main():
    samples = np.fromfile(sys.argv[1], dtype=np.float32)
    n_mels = int(sys.argv[2])
    n = SR * CHUNK
    wave = np.zeros(n, dtype=np.float32)
    wave[:min(n, len(samples))] = samples[:n]
    filters = torch.from_numpy(slaney_filters(n_mels)).to(torch.float32)
    x = torch.from_numpy(wave)
    stft = torch.stft(x, N_FFT, HOP, window=torch.hann_window(N_FFT), center=True, pad_mode="reflect",
                      return_complex=True)
    power = stft[..., :-1].abs() ** 2
    mel = filters @ power
    log_spec = torch.clamp(mel, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
    log_spec = (log_spec + 4.0) / 4.0
    log_spec.numpy().astype(np.float32).tofile(sys.argv[3])
    if len(sys.argv) > 4:
        filters.numpy().astype(np.float32).tofile(sys.argv[4])


if __name__ == "__main__":
    main()
