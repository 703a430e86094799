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

With --tiny it writes data/reference/tokenizer-tiny.json instead: a small byte-level BPE vocabulary (all 256 byte
symbols, a few merges, control and user-defined tokens) and llama.cpp's ids for it under each supported
tokenizer.ggml.pre family, on texts that tell the pre-tokenizers apart. Needs llama-cpp-python. The TS test builds
the same vocabulary from that file and must give the same ids.

Run from the repository root:  python3 scripts/reference/tokenizer_ids.py [--model data/models/...gguf] [--tiny]
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


TINY_OUT = "data/reference/tokenizer-tiny.json"
# One name per llama.cpp regex family that src/model/tokenizer.ts supports; dbrx is llama3's regex without
# ignore_merges.
TINY_PRES = ["gpt-2", "smollm", "llama-bpe", "dbrx", "qwen2", "default"]
TINY_MERGES = [
    "Ġ Ġ", "ĠĠ Ġ", "ĠĠ ĠĠ", "Ċ Ċ", "Ġ Ċ", "Ġ 1", "1 2", "12 3", "Ġ1 2", "h e", "l l", "he ll", "hell o", "Ġ w", "o r",
    "Ġw or", "Ġwor l", "Ġworl d", "' s", "' S", "' t", "Ġ t", "Ġt he", "! !", "!! !", "Â ½", "Ġ Â", "ĠÂ ½", "e Ì", "Ã ©",
    "Ġ (", "( )", ". .", ".. .",
]
TINY_EXTRA = ["Ġhello"]  # in the vocabulary but not reachable by merges: only ignore_merges (llama3) produces it
TINY_TEXTS = [
    "hello world", "hello 1", "  12", "x  1234567 y", "1234567", " ½²", "it's HE'S don't WON'T",
    "hello\n\n\nworld \n  \n", "a\r\nb", "wow!!! ...(x)", "  hello", "\tthe  the   the",
    "Café 日本語 😀 👍🏽", "<|im_start|>hello<|endoftext|>", "<tool>hello  12<tool>", "",
]


def tiny_reference(out: str) -> int:
    import tempfile

    import gguf
    import llama_cpp
    import numpy as np

    # byte-level symbols, in byte order (GPT-2's bytes_to_unicode)
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    sym = dict(zip(bs, map(chr, cs)))
    tokens = ["<|endoftext|>", "<|im_start|>"] + [sym[b] for b in range(256)]
    for m in TINY_MERGES:
        merged = m.replace(" ", "")
        if merged not in tokens:
            tokens.append(merged)
    tokens += TINY_EXTRA + ["<tool>"]
    types = [3, 3] + [1] * (len(tokens) - 3) + [4]
    vocab = {"tokens": tokens, "merges": TINY_MERGES, "token_type": types, "bos_id": 1, "eos_id": 0}

    cases = []
    with tempfile.TemporaryDirectory() as d:
        for pre in TINY_PRES:
            path = os.path.join(d, f"tiny-{pre}.gguf")
            w = gguf.GGUFWriter(path, "llama")
            w.add_context_length(64)
            w.add_embedding_length(8)
            w.add_block_count(1)
            w.add_feed_forward_length(16)
            w.add_head_count(1)
            w.add_head_count_kv(1)
            w.add_layer_norm_rms_eps(1e-5)
            w.add_rope_dimension_count(8)
            w.add_tokenizer_model("gpt2")
            w.add_tokenizer_pre(pre)
            w.add_token_list(tokens)
            w.add_token_merges(TINY_MERGES)
            w.add_token_types(types)
            w.add_bos_token_id(1)
            w.add_eos_token_id(0)
            w.add_add_bos_token(False)
            w.add_tensor("token_embd.weight", np.zeros((len(tokens), 8), dtype=np.float32))
            w.write_header_to_file()
            w.write_kv_data_to_file()
            w.write_tensors_to_file()
            w.close()
            ll = llama_cpp.Llama(model_path=path, vocab_only=True, verbose=False)
            for text in TINY_TEXTS:
                ids = ll.tokenize(text.encode("utf-8"), add_bos=False, special=True) if text else []
                cases.append({"pre": pre, "text": text, "ids": ids})
            del ll
    doc = {
        "format": "codecllm tokenizer reference v1 (tiny)",
        "ids_from": "llama.cpp (llama-cpp-python) tokenize(add_bos=False, special=True) of a GGUF holding this vocabulary",
        "versions": {"llama_cpp_python": llama_cpp.__version__, "gguf": _dist_version("gguf")},
        "date": datetime.date.today().isoformat(),
        "command": "python3 scripts/reference/tokenizer_ids.py --tiny",
        "vocab": vocab,
    }
    cases_json = ",\n  ".join(json.dumps(c) for c in cases)
    head = json.dumps(doc, indent=1)
    with open(out, "w", encoding="utf-8") as f:
        f.write(head[:-2] + ',\n "cases": [\n  ' + cases_json + "\n ]\n}\n")
    print(f"wrote {out}: {len(tokens)} tokens, {len(cases)} cases over pre types {', '.join(TINY_PRES)}")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--out", default=None)
    ap.add_argument("--tiny", action="store_true", help="write the tiny-vocabulary llama.cpp reference instead")
    args = ap.parse_args()
    if args.tiny:
        return tiny_reference(args.out or TINY_OUT)
    args.out = args.out or OUT

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
