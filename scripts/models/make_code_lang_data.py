# Builds models/data/code-lang.tsv (label<TAB>line) for the code-lang
# classifier from this repository's own files, plus PyTorch's Python sources
# for the python class. Run once; the TSV is committed so that training does
# not change when the repository does. Usage:
#   /usr/bin/python3 scripts/models/make_code_lang_data.py [OUT.tsv]
import os
import random
import re
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TORCH_PY = "/usr/lib/python3/dist-packages/torch"   # BSD-3-Clause (python3-torch)
PER_CLASS = 1000
SEED = 8002
SKIP_DIRS = {"node_modules", ".git"}

SOURCES = {  # label -> (folders under ROOT, file suffixes)
    "cpp": (["broker", "agent", "protocol", "shared"], (".cpp", ".hpp", ".h")),
    "javascript": (["web", "tests/browser"], (".js", ".mjs")),
    "shell": (["scripts"], (".sh",)),
    "python": (["scripts/models"], (".py",)),
}


def files_under(folder, suffixes):
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.startswith("build"))
        found.extend(os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(suffixes))
    return found


def clean(line):
    line = line.replace("\t", " ").strip()
    if len(line) < 12 or sum(c.isalpha() for c in line) < 4:
        return None
    return line[:240]


def code_lines(paths):
    out = []
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = clean(line)
                if line:
                    out.append(line)
    return out


def prose_lines(paths):
    """Lines of running text from Markdown: no code blocks, tables or
    headings, list markers removed."""
    out = []
    for path in paths:
        fenced = False
        with open(path, encoding="utf-8") as f:
            for raw in f:
                if raw.lstrip().startswith("```"):
                    fenced = not fenced
                    continue
                if fenced or raw.startswith("    ") or raw.lstrip().startswith(("|", "#", "<")):
                    continue
                line = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", raw)
                line = clean(line)
                if not line:
                    continue
                letters = sum(c.isalpha() or c == " " for c in line)
                if letters / len(line) >= 0.75 and " " in line:
                    out.append(line)
    return out


def unique(lines):
    seen = set()
    out = []
    for line in lines:
        if line not in seen:
            seen.add(line)
            out.append(line)
    return out


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "data",
                                                                  "code-lang.tsv")
    rng = random.Random(SEED)
    by_label = {}
    for label, (folders, suffixes) in SOURCES.items():
        paths = []
        for folder in folders:
            paths.extend(files_under(os.path.join(ROOT, folder), suffixes))
        by_label[label] = unique(code_lines(paths))
    docs = sorted(os.path.join(ROOT, "docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                  if f.endswith(".md"))
    by_label["english"] = unique(prose_lines(docs + [os.path.join(ROOT, "README.md")]))

    # Too little Python of our own: top up from PyTorch's own modules.
    own_python = len(by_label["python"])
    if own_python < PER_CLASS:
        extra = unique(code_lines(files_under(TORCH_PY, (".py",))))
        extra = [line for line in extra if line not in set(by_label["python"])]
        rng.shuffle(extra)
        by_label["python"] += extra[:PER_CLASS - own_python]

    # A line seen in two languages (`return 0;` vs `return 0`) teaches nothing.
    owners = {}
    for label, lines in by_label.items():
        for line in lines:
            owners.setdefault(line, set()).add(label)
    rows = []
    for label in sorted(by_label):
        lines = [line for line in by_label[label] if len(owners[line]) == 1]
        rng.shuffle(lines)
        rows.extend((label, line) for line in lines[:PER_CLASS])
        print(f"{label}: {min(len(lines), PER_CLASS)} lines (of {len(lines)})"
              + (f", {own_python} from scripts/models" if label == "python" else ""))
    rng.shuffle(rows)
    os.makedirs(os.path.dirname(out_path), exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        for label, line in rows:
            f.write(f"{label}\t{line}\n")
    print(f"wrote {len(rows)} lines, {os.path.getsize(out_path)} bytes to {out_path}")


if __name__ == "__main__":
    main()
