# Trains and exports the demo models into models/ (run it through
# scripts/export-models.sh, which installs the Debian packages first).
#   export.py [--out DIR] [--check] [MODEL...]
# --check trains into a temporary folder and compares with the committed
# files; it never writes into models/.
import argparse
import datetime
import hashlib
import json
import linecache
import os
import shutil
import subprocess
import sys
import tempfile
import types

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODELS = {  # name -> trainer, in export order
    "tiny-lm": "scripts/models/tiny_lm.py",
    "code-lang": "scripts/models/code_lang.py",
    "denoise": "scripts/models/denoise.py",
    "upscale2x": "scripts/models/upscale2x.py",
}


def load_source(name, path):
    """Imports `path` (relative to the repository root) under that relative
    name. TorchScript stores the defining file's name in the exported .pt;
    an absolute path would make the bytes depend on where the checkout is."""
    with open(path, encoding="utf-8") as f:
        src = f.read()
    mod = types.ModuleType(name)
    mod.__file__ = path
    sys.modules[name] = mod
    linecache.cache[path] = (len(src), None, src.splitlines(True), path)
    exec(compile(src, path, "exec"), mod.__dict__)
    return mod


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def log(msg):
    print(msg, flush=True)


def same_tensors(a_path, b_path):
    """Compares two TorchScript files' parameters and buffers exactly;
    returns a list of differences (empty when equal)."""
    import torch
    a = torch.jit.load(a_path, map_location="cpu").state_dict()
    b = torch.jit.load(b_path, map_location="cpu").state_dict()
    diffs = []
    for key in sorted(set(a) | set(b)):
        if key not in a or key not in b:
            diffs.append(f"{key}: only in one file")
        elif a[key].shape != b[key].shape or a[key].dtype != b[key].dtype:
            diffs.append(f"{key}: shape/dtype differ")
        elif not torch.equal(a[key], b[key]):
            diffs.append(f"{key}: max |diff| {(a[key] - b[key]).abs().max().item():.3g}")
    return diffs


def check(names, fresh_dir, committed_dir):
    ok = True
    for name in names:
        for ext in (".pt", ".json"):
            fresh = os.path.join(fresh_dir, name + ext)
            committed = os.path.join(committed_dir, name + ext)
            if not os.path.exists(committed):
                log(f"check: {committed} is missing")
                ok = False
                continue
            if sha256(fresh) == sha256(committed):
                log(f"check: {name}{ext} identical ({sha256(fresh)[:16]}...)")
                continue
            ok = False
            if ext == ".pt":
                diffs = same_tensors(fresh, committed)
                what = "; ".join(diffs[:5]) if diffs else "tensors equal, archive bytes differ"
                log(f"check: {name}.pt DIFFERS: {what}")
            else:
                log(f"check: {name}.json DIFFERS")
    return ok


def train_in_child(name, out_dir):
    """Each model trains in a fresh interpreter: TorchScript numbers the
    classes it compiles per process (___torch_mangle_N), so a model scripted
    after another would not have the bytes it has when exported alone."""
    with tempfile.TemporaryDirectory(prefix="tether-model-") as tmp:
        result_path = os.path.join(tmp, "result.json")
        subprocess.run([sys.executable, os.path.abspath(__file__), "--train-one", name,
                        "--result", result_path, "--out", out_dir], check=True)
        with open(result_path, encoding="utf-8") as f:
            return json.load(f)


def train_one(name, out_dir, result_path):
    load_source("common", "scripts/models/common.py")
    trainer = load_source(MODELS[name].rsplit("/", 1)[1][:-3], MODELS[name])
    result = trainer.train(out_dir, log)
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump(result, f)


def main():
    if os.environ.get("PYTHONHASHSEED") != "0":
        # TorchScript's generated code lists some attributes in set order.
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)

    parser = argparse.ArgumentParser(prog="export-models.sh")
    parser.add_argument("models", nargs="*", metavar="MODEL",
                        help="models to export (default: all): " + ", ".join(MODELS))
    parser.add_argument("--out", help="output folder (default: models/)")
    parser.add_argument("--check", action="store_true",
                        help="export into a temporary folder and compare with models/")
    parser.add_argument("--train-one", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.train_one:
        os.chdir(ROOT)
        sys.path.insert(0, os.path.join(ROOT, "scripts", "models"))
        train_one(args.train_one, os.path.abspath(args.out), args.result)
        return 0
    names = args.models or list(MODELS)
    for name in names:
        if name not in MODELS:
            parser.error(f"unknown model {name!r} (known: {', '.join(MODELS)})")

    committed_dir = os.path.join(ROOT, "models")
    out_dir = os.path.abspath(args.out) if args.out else committed_dir
    os.chdir(ROOT)
    sys.path.insert(0, os.path.join(ROOT, "scripts", "models"))

    import torch
    readme = load_source("readme", "scripts/models/readme.py")

    temp = None
    if args.check:
        temp = tempfile.mkdtemp(prefix="tether-models-")
        out_dir = temp
    os.makedirs(out_dir, exist_ok=True)
    log(f"export: torch {torch.__version__}, writing {out_dir}")

    results = {}
    try:
        for name in names:
            results[name] = train_in_child(name, out_dir)
            for ext in (".pt", ".json"):
                path = os.path.join(out_dir, name + ext)
                results[name][ext] = (os.path.getsize(path), sha256(path))
        load_source("verify", "scripts/models/verify.py").main(
            [os.path.join(out_dir, name + ".pt") for name in names])
        log("")
        for name, r in results.items():
            metrics = ", ".join(f"{k} {v}" for k, v in r["metrics"].items())
            log(f"{name}: {r['seconds']:.1f} s training; {metrics}; "
                f"{r['.pt'][0]} bytes sha256 {r['.pt'][1]}")
        if args.check:
            return 0 if check(names, out_dir, committed_dir) else 1
        command = "scripts/export-models.sh" + "".join(" " + a for a in sys.argv[1:])
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        readme.update(os.path.join(out_dir, "README.md"), results, command, date,
                      torch.__version__)
        return 0
    finally:
        if temp:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
