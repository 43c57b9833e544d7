# code-lang: guesses whether a line of text is C++, Python, JavaScript, shell
# or English prose, from its bytes. Trained on models/data/code-lang.tsv
# (made once by make_code_lang_data.py). Exported as a TorchScript text
# classifier: forward(Long[B,128]) -> Float[B,5] logits.
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

import common

NAME = "code-lang"
SEED = 8002
LABELS = ["cpp", "python", "javascript", "shell", "english"]
LENGTH = 128
EMBED = 48
CHANNELS = 96
BATCH = 64
STEPS = 1500
PEAK_LR = 3e-3
DROPOUT = 0.3
HOLDOUT_EVERY = 10   # every 10th line of the TSV is held out
TSV = os.path.join("models", "data", "code-lang.tsv")

DATA = ("models/data/code-lang.tsv: lines of this repository's C++ (broker/, agent/, "
        "protocol/, shared/), JavaScript (web/, tests/browser/), shell (scripts/), "
        "Python (scripts/models/, topped up with PyTorch 1.13's torch/*.py) and English "
        "prose (docs/*.md, README.md), extracted once by scripts/models/make_code_lang_data.py")
LICENCE = ("the repository's own files: Apache-2.0; the Python lines from PyTorch "
           "(Debian python3-torch, /usr/lib/python3/dist-packages/torch/*.py): BSD-3-Clause")


class CodeLang(nn.Module):
    """forward(text: Long[B, length] of bytes, right-padded with 0) ->
    Float[B, labels] logits."""

    def __init__(self, labels: int, embed: int, channels: int):
        super().__init__()
        self.embed = nn.Embedding(256, embed)
        self.conv1 = nn.Conv1d(embed, channels, 3, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 5, padding=2)
        self.drop = nn.Dropout(DROPOUT)
        self.classify = nn.Linear(2 * channels, labels)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        h = self.drop(self.embed(text)).transpose(1, 2)
        h = F.relu(self.conv1(h))
        h = F.relu(self.conv2(h))
        # Max finds telling n-grams anywhere; the mean over real bytes (not
        # padding) says how much of the line looks like each.
        real = (text != 0).to(h.dtype).unsqueeze(1)
        mean = (h * real).sum(2) / real.sum(2).clamp_min(1.0)
        return self.classify(self.drop(torch.cat([h.max(2)[0], mean], 1)))


def encode(line: str) -> torch.Tensor:
    """As the agent does: the bytes, truncated, right-padded with 0."""
    data = line.encode("utf-8")[:LENGTH]
    out = torch.zeros(LENGTH, dtype=torch.long)
    if data:
        out[:len(data)] = torch.tensor(list(data), dtype=torch.long)
    return out


def load():
    rows = []
    with open(TSV, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            label, sep, text = line.rstrip("\n").partition("\t")
            if not sep or label not in LABELS:
                raise RuntimeError(f"{TSV}:{number}: expected LABEL<TAB>LINE")
            rows.append((LABELS.index(label), text))
    x = torch.stack([encode(text) for _, text in rows])
    y = torch.tensor([label for label, _ in rows])
    held = torch.tensor([i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1 for i in range(len(rows))])
    return x[~held], y[~held], x[held], y[held]


def train(out_dir, log):
    common.make_deterministic(SEED)
    train_x, train_y, held_x, held_y = load()
    counts = torch.bincount(torch.cat([train_y, held_y]), minlength=len(LABELS)).tolist()
    composition = ", ".join(f"{label} {n}" for label, n in zip(LABELS, counts))
    model = CodeLang(len(LABELS), EMBED, CHANNELS)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=PEAK_LR, weight_decay=0.01)
    log(f"{NAME}: {train_x.size(0)} train / {held_x.size(0)} held-out lines, "
        f"{common.param_count(model)} parameters, {STEPS} steps of {BATCH}")

    gen = torch.Generator().manual_seed(SEED)
    clock = common.Stopwatch()
    running = None
    for step in range(STEPS):
        common.set_lr(opt, common.cosine_lr(step, STEPS, PEAK_LR, 50))
        pick = torch.randint(0, train_x.size(0), (BATCH,), generator=gen)
        with common.bf16_autocast():
            logits = model(train_x[pick])
        loss = F.cross_entropy(logits.float(), train_y[pick])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        if (step + 1) % 300 == 0:
            log(f"{NAME}: step {step + 1}/{STEPS} train loss {running:.3f} ({clock.seconds():.0f} s)")
    seconds = clock.seconds()

    model.eval()
    with torch.no_grad():
        guess = model(held_x).argmax(1)
        train_guess = model(train_x).argmax(1)
    metrics = {
        "held_out_accuracy": round((guess == held_y).float().mean().item(), 4),
        "train_accuracy": round((train_guess == train_y).float().mean().item(), 4),
    }
    for i, label in enumerate(LABELS):
        mine = held_y == i
        metrics[f"held_out_accuracy_{label}"] = round((guess[mine] == i).float().mean().item(), 4)
    log(f"{NAME}: trained in {seconds:.1f} s; held-out accuracy {metrics['held_out_accuracy']} "
        f"over {held_x.size(0)} lines")

    sidecar = {
        "name": NAME,
        "task": "classification",
        "description": f"byte-level convolutional classifier ({common.param_count(model)} "
                       f"parameters): is a line C++, Python, JavaScript, shell or English?",
        "input": {"kind": "text", "length": LENGTH},
        "output": {"labels": LABELS, "top": len(LABELS)},
        "limits": {"max_input_bytes": 65536},
        "training": {"data": DATA, "licence": LICENCE, "steps": STEPS, "batch": [BATCH, LENGTH],
                     "metrics": metrics},
    }
    common.export(model, out_dir, NAME, sidecar)
    common.check_exported(out_dir, NAME, held_x[:8], [8, len(LABELS)], model)
    common.check_exported(out_dir, NAME, torch.zeros(1, LENGTH, dtype=torch.long),
                          [1, len(LABELS)], model)
    loaded = common.check_exported(out_dir, NAME, encode("def forward(self, x):").unsqueeze(0),
                                   [1, len(LABELS)], model)
    # Checked absent from the TSV (which holds an older copy of this file).
    examples = ["auto it = std::find(names.begin(), names.end(), key);",
                "with open(path) as f: rows = [l.split() for l in f]",
                "document.querySelector('#name').textContent = user.name;",
                "for f in *.log; do gzip -9 \"$f\"; done",
                "The river was cold, so we walked home along the hill."]
    with torch.no_grad():
        shown = loaded(torch.stack([encode(e) for e in examples])).softmax(1)
    lines = []
    for text, p in zip(examples, shown):
        best = int(p.argmax())
        lines.append(f"{text}  ->  {LABELS[best]} ({p[best].item():.2f})")
    log(f"{NAME}: examples:\n  " + "\n  ".join(lines))
    return {
        "summary": sidecar["description"] + f" Byte embeddings, two convolutions, max and "
                   f"mean pooling; {STEPS} steps of {BATCH} lines. Held out: every "
                   f"{HOLDOUT_EVERY}th line of the TSV ({held_x.size(0)} lines). The TSV's "
                   f"{sum(counts)} lines: {composition}.",
        "seconds": seconds,
        "metrics": metrics,
        "samples": {"Lines not in the data, with the top label": "\n".join(lines)},
        "data": DATA,
        "licence": LICENCE,
    }
