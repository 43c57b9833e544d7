# tiny-lm: a byte-level causal transformer trained on the King James Bible
# (Debian's bible-kjv-text, read with the `bible` command). Exported as a
# TorchScript text-generation model: forward(Long[B,T]) -> Float[B,T,256].
import math
import os
import re
import subprocess
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

NAME = "tiny-lm"
SEED = 8001
CONTEXT = 128
WIDTH = 128
LAYERS = 3
HEADS = 4
BATCH = 32
STEPS = 2400
PEAK_LR = 3e-3
WARMUP = 100
BLOCK = 65536      # held-out split: every HOLDOUT_EVERY-th block of the text
HOLDOUT_EVERY = 20
PROMPT = "And God said"

DATA = ("the King James Version of the Bible, Genesis 1:1 to Revelation 22:21, "
        "as printed by `bible -f` (Debian packages bible-kjv 4.38 and "
        "bible-kjv-text 4.38), verse labels removed, one verse a line")
LICENCE = ("public domain: the 1611 translation's copyright has expired "
           "(/usr/share/doc/bible-kjv-text/copyright). In the United Kingdom "
           "the Crown's letters patent still restrict printing the KJV")


class Block(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.fc = nn.Linear(width, 4 * width)
        self.out = nn.Linear(4 * width, width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        q = q.reshape(b, t, self.heads, hd).transpose(1, 2)
        k = k.reshape(b, t, self.heads, hd).transpose(1, 2)
        v = v.reshape(b, t, self.heads, hd).transpose(1, 2)
        scores = torch.matmul(q, k.transpose(2, 3)) * (1.0 / math.sqrt(hd))
        # Softmax in float32 whatever the matmul precision (bf16 in training,
        # fp16 under the agent's --half).
        weights = scores.float().masked_fill(mask, float("-inf")).softmax(-1).to(v.dtype)
        y = torch.matmul(weights, v).transpose(1, 2).reshape(b, t, d)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.norm2(x))))


class TinyLM(nn.Module):
    """forward(tokens: Long[B, T]) -> logits Float[B, T, 256], T <= context;
    position i sees tokens 0..i only."""

    def __init__(self, context: int, width: int, layers: int, heads: int):
        super().__init__()
        self.context = context
        self.embed = nn.Embedding(256, width)
        self.position = nn.Parameter(torch.zeros(context, width))
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 256)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        t = tokens.size(1)
        h = self.embed(tokens) + self.position[:t]
        mask = torch.ones(t, t, dtype=torch.bool, device=tokens.device).triu(1)
        for block in self.blocks:
            h = block(h, mask)
        return self.head(self.norm(h))


def init_weights(model: TinyLM, layers: int):
    for name, p in model.named_parameters():
        if p.dim() == 2:
            std = 0.02
            if name.endswith("proj.weight") or name.endswith("out.weight"):
                std = 0.02 / math.sqrt(2 * layers)
            nn.init.normal_(p, 0.0, std)
        elif name.endswith("bias"):
            nn.init.zeros_(p)


def read_bible() -> bytes:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], check=True, env=env,
                         stdout=subprocess.PIPE).stdout.decode("utf-8")
    label = re.compile(r"^[0-9]?[A-Za-z]+[0-9]+:[0-9]+ (.*)$")
    verses: List[str] = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = label.match(line)
        if m is None:
            raise RuntimeError(f"tiny-lm: unexpected line from `bible`: {line[:80]!r}")
        verses.append(m.group(1).strip())
    if len(verses) != 31102:
        raise RuntimeError(f"tiny-lm: expected 31102 verses from `bible`, got {len(verses)}")
    return ("\n".join(verses) + "\n").encode("utf-8")


def split(text: bytes):
    data = torch.frombuffer(bytearray(text), dtype=torch.uint8).long()
    blocks = list(data.split(BLOCK))
    held = [b for i, b in enumerate(blocks) if i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1]
    train = [b for i, b in enumerate(blocks) if i % HOLDOUT_EVERY != HOLDOUT_EVERY - 1]
    return torch.cat(train), torch.cat(held)


def windows(data, starts):
    x = torch.stack([data[s:s + CONTEXT] for s in starts])
    y = torch.stack([data[s + 1:s + CONTEXT + 1] for s in starts])
    return x, y


@torch.no_grad()
def held_out_loss(model, held):
    model.eval()
    count = 256
    stride = (held.numel() - CONTEXT - 1) // count
    starts = [i * stride for i in range(count)]
    total = 0.0
    for i in range(0, count, 32):
        x, y = windows(held, starts[i:i + 32])
        total += F.cross_entropy(model(x).reshape(-1, 256), y.reshape(-1), reduction="sum").item()
    model.train()
    return total / (count * CONTEXT)


@torch.no_grad()
def generate(model, prompt: str, length: int, temperature: float, top_k: int, seed: int) -> str:
    """What the agent does: feed the last `context` bytes, take the last
    position's logits, greedy at temperature 0, else top-k sampling."""
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    tokens = list(prompt.encode("utf-8"))
    for _ in range(length):
        x = torch.tensor([tokens[-CONTEXT:]], dtype=torch.long)
        logits = model(x)[0, -1]
        if temperature == 0:
            nxt = int(logits.argmax())
        else:
            values, idx = torch.topk(logits / temperature, top_k)
            nxt = int(idx[torch.multinomial(values.softmax(-1), 1, generator=gen)])
        tokens.append(nxt)
    return bytes(tokens).decode("utf-8", errors="replace")


def train(out_dir, log):
    common.make_deterministic(SEED)
    text = read_bible()
    train_data, held = split(text)
    log(f"{NAME}: {len(text)} bytes of KJV text, {train_data.numel()} train / {held.numel()} held out")

    model = TinyLM(CONTEXT, WIDTH, LAYERS, HEADS)
    init_weights(model, LAYERS)
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=PEAK_LR, betas=(0.9, 0.95))
    log(f"{NAME}: {common.param_count(model)} parameters, {STEPS} steps of {BATCH}x{CONTEXT} bytes")

    clock = common.Stopwatch()
    gen = torch.Generator().manual_seed(SEED)
    running = None
    for step in range(STEPS):
        common.set_lr(opt, common.cosine_lr(step, STEPS, PEAK_LR, WARMUP))
        starts = torch.randint(0, train_data.numel() - CONTEXT - 1, (BATCH,), generator=gen).tolist()
        x, y = windows(train_data, starts)
        with common.bf16_autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, 256), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % 250 == 0:
            log(f"{NAME}: step {step + 1}/{STEPS} train loss {running:.3f} ({clock.seconds():.0f} s)")
    seconds = clock.seconds()

    held_loss = held_out_loss(model, held)
    greedy = generate(model, PROMPT, 200, 0.0, 0, SEED)
    sampled = generate(model, PROMPT, 200, 0.8, 40, SEED)
    metrics = {
        "held_out_loss_nats": round(held_loss, 4),
        "held_out_bits_per_byte": round(held_loss / math.log(2), 4),
        "final_train_loss_nats": round(running, 4),
    }
    log(f"{NAME}: trained in {seconds:.1f} s; held-out {metrics['held_out_bits_per_byte']} bits/byte")
    log(f"{NAME}: greedy:  {greedy!r}")
    log(f"{NAME}: sampled: {sampled!r}")

    sidecar = {
        "name": NAME,
        "task": "text-generation",
        "description": f"byte-level causal transformer ({LAYERS} layers, width {WIDTH}, "
                       f"{common.param_count(model)} parameters) trained on the King James Bible",
        "input": {"context": CONTEXT},
        "output": {"vocab": 256},
        "generation": {"max_tokens": 200, "temperature": 0.8, "top_k": 40},
        "limits": {"max_prompt_bytes": 4096, "max_tokens": 1024},
        "training": {"data": DATA, "licence": LICENCE, "steps": STEPS,
                     "batch": [BATCH, CONTEXT], "metrics": metrics},
    }
    common.export(model, out_dir, NAME, sidecar)
    common.check_exported(out_dir, NAME, torch.randint(0, 256, (2, CONTEXT)), [2, CONTEXT, 256], model)
    common.check_exported(out_dir, NAME, torch.randint(0, 256, (1, 1)), [1, 1, 256], model)
    return {
        "summary": sidecar["description"] + f", {STEPS} steps of {BATCH}x{CONTEXT} bytes "
                   f"(AdamW, cosine schedule); {CONTEXT}-byte context.",
        "seconds": seconds,
        "metrics": metrics,
        "samples": {f"Greedy continuation of `{PROMPT}`": greedy,
                    f"Sampled continuation of `{PROMPT}` (temperature 0.8, top_k 40, "
                    f"seed {SEED})": sampled},
        "data": DATA,
        "licence": LICENCE,
    }
