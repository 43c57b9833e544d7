# Writes models/README.md: a fixed introduction, then one section per model
# between markers, so exporting one model rewrites only its own section.
import os
import re

ORDER = ["tiny-lm", "code-lang", "denoise", "upscale2x"]

INTRO = """# Demo models

Small TorchScript models for `tether-agent --backend torch`, each a `NAME.pt`
with its sidecar `NAME.json` (the contract is [docs/models.md](../docs/models.md)).
They are made by this repository, not downloaded:

```
scripts/export-models.sh [--out DIR] [--check] [MODEL...]
```

trains every model (or the ones named) on the CPU with Debian's
`python3-torch` 1.13 and writes them here; `--check` trains into a temporary
folder and compares the result with the files here. Training is deterministic:
fixed seeds, one thread, `torch.use_deterministic_algorithms`,
`PYTHONHASHSEED=0` (TorchScript writes some attributes in set order) and the
scripts loaded under their repository-relative names (TorchScript records the
source file's name). Matrix products run in bfloat16 through oneDNN, so the
exact bytes are those of this CPU kind (x86-64 with AVX-512 BF16) and this
torch build; elsewhere the rounding differs, training drifts apart, and
`--check` reports which tensors differ (the metrics should stay close). Each
model trains in its own interpreter (TorchScript numbers the classes it
compiles per process), so exporting one model gives the same bytes as
exporting all four. After exporting, the script loads every file back with
`torch.jit.load` and runs the input its sidecar declares
(`scripts/models/verify.py`, which can also be run on its own).

Serve one, for example:

```
tether-agent --backend torch --broker ws://127.0.0.1:8080/agent \\
    --space Chat=TOKEN --model Chat=models/tiny-lm.pt
```

Training data: `tiny-lm` reads the King James Bible from Debian's
`bible-kjv-text` (public domain); `code-lang` learns from
[data/code-lang.tsv](data/code-lang.tsv), lines of this repository's own files
(Apache-2.0) and of PyTorch's Python sources (BSD-3-Clause), extracted once by
`scripts/models/make_code_lang_data.py`; `denoise` and `upscale2x` learn from
synthetic signals and pictures their scripts generate.
"""


def section(name, r, command, date, torch_version):
    lines = [f"<!-- model:{name} -->", f"## {name}", ""]
    lines.append(r["summary"])
    lines.append("")
    lines.append(f"- Files: `{name}.pt` ({r['.pt'][0]:,} bytes, sha256 `{r['.pt'][1]}`), "
                 f"`{name}.json` (sha256 `{r['.json'][1]}`)")
    lines.append(f"- Data: {r['data']}")
    lines.append(f"- Licence of the data: {r['licence']}")
    lines.append(f"- Made by `{command}` on {date} with torch {torch_version}: "
                 f"{r['seconds']:.0f} s of training on one CPU thread")
    for key, value in r["metrics"].items():
        lines.append(f"- {key.replace('_', ' ')}: {value}")
    for title, text in r.get("samples", {}).items():
        lines.append("")
        lines.append(title + ":")
        lines.append("")
        lines.append("```")
        lines.extend(text.splitlines())
        lines.append("```")
    lines.append(f"<!-- end:{name} -->")
    return "\n".join(lines) + "\n"


def update(path, results, command, date, torch_version):
    sections = {}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            old = f.read()
        for m in re.finditer(r"<!-- model:([\w-]+) -->\n.*?<!-- end:\1 -->\n", old, re.S):
            sections[m.group(1)] = m.group(0)
    for name, r in results.items():
        sections[name] = section(name, r, command, date, torch_version)
    names = [n for n in ORDER if n in sections] + sorted(n for n in sections if n not in ORDER)
    with open(path, "w", encoding="utf-8") as f:
        f.write(INTRO)
        for name in names:
            f.write("\n" + sections[name])
