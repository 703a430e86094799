#!/usr/bin/env python3
"""Reference token ids for the default model's tokenizer (SmolLM2-135M-Instruct GGUF), for test/tokenizer.test.ts.

Writes data/reference/tokenizer-smollm2.json: the model file's sha256, library versions, date, and cases
[{name, text, ids}] for data/texts/mixed.txt (whole, and split into paragraphs) plus edge cases.

Where the ids come from (all independent of our TypeScript GGUF reader and of tokenizers.js):
  1. transformers' GGUF loader (AutoTokenizer.from_pretrained(dir, gguf_file=...)) reads vocab, merges and token types
     from the GGUF with the `gguf` package and builds a Rust `tokenizers` tokenizer.
  2. That loader ignores `tokenizer.ggml.pre` (it always uses the plain GPT-2 ByteLevel pre-tokenizer). SmolLM2's
     GGUF says pre='smollm', whose pre-tokenizer (llama.cpp: split '\\p{N}' first, then the GPT-2 regex; the original
     SmolLM2 tokenizer.json: Sequence[Digits(individual_digits), ByteLevel]) splits digits off before the GPT-2 regex.
     So `ids` = the transformers tokenizer with that pre-tokenizer put back. The unpatched transformers ids are
     stored too, as `transformers_gguf_ids`, where they differ (whitespace runs before a digit).
  3. If llama-cpp-python is installed, llama.cpp's own tokenizer (vocab_only, parse_special=True) is run on every
     case and must agree with `ids`; its version is recorded. Without it the script says so and goes on.

Needs: pip install transformers==4.57.1 tokenizers==0.22.1 gguf==0.17.1 (no torch: transformers' torch check is
bypassed for the metadata-only GGUF read, which does not use torch). Optional: llama-cpp-python==0.3.36 (builds
llama.cpp from source, ~10 min on 2 cores).

Run from the repository root:  python3 scripts/reference/tokenizer_ids.py [--model data/models/...gguf]
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys

DEFAULT_MODEL = "data/models/SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT = "data/texts/mixed.txt"
OUT = "data/reference/tokenizer-smollm2.json"

EDGE_CASES = [
    ("empty", ""),
    ("single space", " "),
    ("leading spaces", "  leading spaces"),
    ("trailing spaces", "trailing spaces   "),
    ("two newlines", "\n\n"),
    ("crlf", "line\r\nnext\r\n"),
    ("tabs", "\t\tindented\t"),
    ("digits", "1234567"),
    ("decimal", "3.14159"),
    ("spaces before digit", "x  1 and y   22"),
    ("newline before digit", "a\n1\n\n2"),
    ("contractions", "don't, I'LL, we've, she'd, it's"),
    ("emoji", "😀"),
    ("emoji zwj family", "👨‍👩‍👧‍👦"),
    ("emoji skin tone and flag", "👍🏽🇫🇷"),
    ("cjk", "日本語のテキスト"),
    ("accents nfc", "Café déjà vu."),
    ("accents nfd", "Cafe\u0301"),
    ("nbsp and zero-width", "a\u00a0b\u200bc"),
    ("nel and bom", "a\u0085b \ufeffBOM \ufeff\ufeff x"),
    ("unicode spaces", "a\u3000b\u2028c\u202fd  \u1680x\u000bx\u000cx"),
    ("non-ascii digits", "x\u00b2\u00b3 \U0001d7d9\u00bd \u0661\u0662 \uff14\uff15"),
    ("special tokens", "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"),
]


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_transformers(model: str):
    import transformers
    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    # transformers refuses GGUF without torch even for return_tensors=False, which only reads metadata with `gguf`.
    gguf_utils.is_torch_available = lambda: True
    return transformers.AutoTokenizer.from_pretrained(os.path.dirname(model) or ".", gguf_file=os.path.basename(model))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()

    import gguf
    import tokenizers
    import transformers
    from tokenizers import decoders, pre_tokenizers

    reader = gguf.GGUFReader(args.model)
    pre = reader.fields["tokenizer.ggml.pre"].contents() if "tokenizer.ggml.pre" in reader.fields else ""
    if pre != "smollm":
        print(f"{args.model}: tokenizer.ggml.pre is '{pre}'; this script knows the 'smollm' pre-tokenizer only", file=sys.stderr)
        return 1

    tok_tf = load_transformers(args.model)
    backend_tf = tok_tf.backend_tokenizer
    backend = tokenizers.Tokenizer.from_str(backend_tf.to_str())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)]
    )
    backend.decoder = decoders.ByteLevel()

    llama = None
    llama_version = None
    try:
        import llama_cpp

        llama = llama_cpp.Llama(model_path=args.model, vocab_only=True, verbose=False)
        llama_version = llama_cpp.__version__
    except ImportError:
        print("llama-cpp-python not installed: skipping the llama.cpp cross-check", file=sys.stderr)

    with open(TEXT, encoding="utf-8", newline="") as f:
        text = f.read()
    cases = [("mixed.txt", text)]
    for i, para in enumerate(text.split("\n\n")):
        if para:
            cases.append((f"mixed.txt paragraph {i}", para))
    cases += EDGE_CASES

    out_cases = []
    n_tf_diff = 0
    for name, s in cases:
        ids = backend.encode(s, add_special_tokens=False).ids
        case = {"name": name, "text": s, "ids": ids}
        tf_ids = tok_tf(s, add_special_tokens=False)["input_ids"]
        if tf_ids != ids:
            case["transformers_gguf_ids"] = tf_ids
            n_tf_diff += 1
        if llama is not None:
            ll = llama.tokenize(s.encode("utf-8"), add_bos=False, special=True)
            if ll != ids:
                print(f"llama.cpp disagrees on {name!r}:\n  llama.cpp {ll}\n  ours      {ids}", file=sys.stderr)
                return 1
        dec = backend.decode(ids, skip_special_tokens=False)
        if dec != s:
            print(f"round trip fails on {name!r}: {dec!r}", file=sys.stderr)
            return 1
        out_cases.append(case)

    doc = {
        "format": "codecllm tokenizer reference v1",
        "model_file": os.path.basename(args.model),
        "model_sha256": sha256(args.model),
        "tokenizer_ggml_pre": pre,
        "bos_id": int(reader.fields["tokenizer.ggml.bos_token_id"].contents()),
        "eos_id": int(reader.fields["tokenizer.ggml.eos_token_id"].contents()),
        "vocab_size": len(reader.fields["tokenizer.ggml.tokens"].data),
        "ids_from": "transformers GGUF tokenizer (Rust tokenizers) with the 'smollm' pre-tokenizer "
        "Sequence[Digits(individual_digits=True), ByteLevel]; add_special_tokens=False, special tokens in text parsed",
        "llama_cpp_agrees": llama is not None,
        "versions": {
            "python": sys.version.split()[0],
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "gguf": getattr(gguf, "__version__", None) or _dist_version("gguf"),
            "llama_cpp_python": llama_version,
        },
        "date": datetime.date.today().isoformat(),
        "command": "python3 scripts/reference/tokenizer_ids.py",
        "cases": out_cases,
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    # One line per case (ids stay readable in diffs), ASCII-escaped so the file's bytes never depend on an editor.
    cases_json = ",\n  ".join(json.dumps(c) for c in doc.pop("cases"))
    head = json.dumps(doc, indent=1)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(head[:-2] + ',\n "cases": [\n  ' + cases_json + "\n ]\n}\n")
    print(
        f"wrote {args.out}: {len(out_cases)} cases; transformers' unpatched GGUF tokenizer differs on {n_tf_diff}; "
        f"llama.cpp cross-check: {'agrees' if llama is not None else 'skipped'}"
    )
    return 0


def _dist_version(name: str):
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    sys.exit(main())
