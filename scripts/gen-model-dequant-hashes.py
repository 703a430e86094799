#!/usr/bin/env python3
"""sha256 of every tensor of both named models, dequantized by an INDEPENDENT reference: gguf-py's numpy
`gguf.quants.dequantize` (pip install gguf==0.19.0 numpy==2.4.6).

Writes test/fixtures/formats/model-dequant-sha256.json:
  {<model file>: {"sha256": file hash, "tensors": {<gguf name>: {"type": "Q5_0", "n": elements, "sha256": hex}}}}
where the tensor hash is over the little-endian float32 values in GGUF element order. test/formats-models.test.ts
dequantizes every tensor with our TypeScript and compares hashes (bit-exact or the hash differs).

Usage: python3 scripts/gen-model-dequant-hashes.py   (needs data/models/ fetched: make setup)
"""
import hashlib, importlib.metadata, json, os, sys
import numpy as np
import gguf

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
MODELS = ['SmolLM2-135M-Instruct.Q4_1.gguf', 'gemma-3-270m-q4_k_m.gguf']
OUT = os.path.join(ROOT, 'test', 'fixtures', 'formats', 'model-dequant-sha256.json')


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()


def main():
    doc = {
        'generator': 'scripts/gen-model-dequant-hashes.py',
        'reference': f'gguf-py {importlib.metadata.version("gguf")} (gguf.quants.dequantize), numpy {np.__version__}',
        'models': {},
    }
    for name in MODELS:
        path = os.path.join(ROOT, 'data', 'models', name)
        r = gguf.GGUFReader(path)
        tensors = {}
        for t in r.tensors:
            f32 = gguf.quants.dequantize(t.data, t.tensor_type).astype('<f4', copy=False).reshape(-1)
            assert f32.size == int(t.n_elements), t.name
            tensors[t.name] = {'type': t.tensor_type.name, 'n': int(f32.size), 'sha256': hashlib.sha256(f32.tobytes()).hexdigest()}
        doc['models'][name] = {'sha256': file_sha256(path), 'tensors': tensors}
        print(f'{name}: {len(tensors)} tensors', file=sys.stderr)
    with open(OUT, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)', file=sys.stderr)


if __name__ == '__main__':
    main()
