#!/usr/bin/env python3
"""Independent reference logits from PyTorch + transformers (CPU, float32), for the TS reference to match.

Runs where torch + transformers are installed (the GPU host has both; the `gguf` package travels as a wheel).
For each case: the model (GGUF via transformers' own dequantizer and q/k un-permutation, or an HF folder),
a prompt tokenized by transformers' tokenizer, the full float32 logits (T, vocab) and a greedy continuation.

Writes <out>/<name>.json (metadata, ids, greedy ids) and <out>/<name>.logits.f32 (little-endian float32, T*vocab).

Usage: python3 scripts/reference/torch_logits.py --out data/reference
"""
import argparse, datetime, hashlib, json, os, platform, sys

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPTS = {
    # name: (model path relative to root, gguf file or None, prompt, greedy tokens)
    "smollm2": ("data/models", "SmolLM2-135M-Instruct.Q4_1.gguf",
                "The capital of France is Paris. The capital of Germany is", 24),
    "tiny-llama": ("data/reference/tiny-llama", None, None, 8),
    "tiny-qwen2": ("data/reference/tiny-qwen2", None, None, 8),
}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def run(name, rel, gguf_file, prompt, n_greedy, out):
    path = os.path.join(ROOT, rel)
    kw = {"gguf_file": gguf_file} if gguf_file else {}
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype=torch.float32, **kw).eval()
    if prompt is not None:
        tok = AutoTokenizer.from_pretrained(path, **kw)
        ids = tok(prompt, add_special_tokens=False)["input_ids"]
        weights_file = os.path.join(path, gguf_file)
    else:  # tiny fixtures carry fixed ids in ids.json
        ids = json.load(open(os.path.join(path, "ids.json")))
        weights_file = os.path.join(path, "model.safetensors")
    with torch.no_grad():
        x = torch.tensor([ids])
        logits = model(x).logits[0].float().numpy()
        greedy = model.generate(x, max_new_tokens=n_greedy, do_sample=False, attention_mask=torch.ones_like(x),
                                pad_token_id=0)[0, len(ids):].tolist()
    logits.astype("<f4").tofile(os.path.join(out, f"{name}.logits.f32"))
    meta = {
        "format_version": 1,
        "name": name,
        "weights_file": os.path.relpath(weights_file, ROOT),
        "weights_sha256": sha256(weights_file),
        "prompt": prompt,
        "ids": ids,
        "greedy_ids": greedy,
        "logits_shape": list(logits.shape),
        "logits_file": f"{name}.logits.f32",
        "reference": {"torch": torch.__version__, "transformers": transformers.__version__, "device": "cpu",
                      "dtype": "float32", "python": platform.python_version(),
                      "date": datetime.date.today().isoformat()},
    }
    json.dump(meta, open(os.path.join(out, f"{name}.json"), "w"), indent=1)
    print(f"{name}: T={len(ids)} vocab={logits.shape[1]} greedy={greedy[:8]}...")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "data/reference"))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args()
    torch.manual_seed(0)
    for name, (rel, g, p, n) in PROMPTS.items():
        if a.only and name not in a.only:
            continue
        if not os.path.exists(os.path.join(ROOT, rel, g) if g else os.path.join(ROOT, rel)):
            print(f"{name}: skipped (missing {rel})", file=sys.stderr)
            continue
        run(name, rel, g, p, n, a.out)


if __name__ == "__main__":
    main()
