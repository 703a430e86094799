#!/usr/bin/env python3
"""Test vectors for the native format table (native/src/common/blocks.h) from an INDEPENDENT reference: the PyPI
`gguf` package's numpy dequantizer (pip install gguf==0.19.0 numpy; not needed by the tests, only to regenerate).

Writes test/fixtures/native/block-vectors.json:
  gguf_version
  types[name] = {ggml_type, block_elems, block_bytes (gguf.constants.GGML_QUANT_SIZES),
                 blocks: base64 raw block bytes, f32: base64 little-endian float32 of gguf.quants.dequantize}
for the ten GGML block formats llama.cpp writes for LLM weights. Blocks are seeded random bytes whose fp16 scale
fields are random finite fp16 values (incl. 0, -0, subnormals, +-65504). test/native-blocks.test.ts compares the
addon's dequantBlocks() bit-exactly against them and the table's sizes against GGML_QUANT_SIZES.

Usage: python3 scripts/gen-native-block-vectors.py   (deterministic for the same gguf/numpy versions)
"""
import importlib.metadata, json, os, sys
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'reference'))
from ggml_random_blocks import SCALE_OFFSETS, SPECIAL_F16, b64, finite_f16_bits  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'native', 'block-vectors.json')
rng = np.random.default_rng(20261202)

# name -> (ggml type, byte offsets of the fp16 scale fields in one block, number of blocks)
TYPES = {
    'q4_0': (T.Q4_0, SCALE_OFFSETS['q4_0'], 8),
    'q4_1': (T.Q4_1, SCALE_OFFSETS['q4_1'], 8),
    'q5_0': (T.Q5_0, SCALE_OFFSETS['q5_0'], 8),
    'q5_1': (T.Q5_1, SCALE_OFFSETS['q5_1'], 8),
    'q8_0': (T.Q8_0, SCALE_OFFSETS['q8_0'], 8),
    'q2_k': (T.Q2_K, SCALE_OFFSETS['q2_k'], 3),
    'q3_k': (T.Q3_K, SCALE_OFFSETS['q3_k'], 3),
    'q4_k': (T.Q4_K, SCALE_OFFSETS['q4_k'], 3),
    'q5_k': (T.Q5_K, SCALE_OFFSETS['q5_k'], 3),
    'q6_k': (T.Q6_K, SCALE_OFFSETS['q6_k'], 3),
}



def main() -> None:
    types = {}
    for name, (qt, f16_offsets, nblocks) in TYPES.items():
        block_elems, block_bytes = GGML_QUANT_SIZES[qt]
        raw = rng.integers(0, 256, size=(nblocks, block_bytes), dtype=np.uint8)
        for off in f16_offsets:
            v = finite_f16_bits(rng, nblocks)
            k = min(nblocks, len(SPECIAL_F16))
            v[:k] = rng.choice(SPECIAL_F16, size=k, replace=False)
            rng.shuffle(v)
            raw[:, off:off + 2] = v.view(np.uint8).reshape(nblocks, 2)
        f32 = gguf.quants.dequantize(raw.reshape(1, -1), qt).astype(np.float32).reshape(-1)
        assert f32.size == nblocks * block_elems and np.isfinite(f32).all(), name
        types[name] = {'ggml_type': int(qt), 'block_elems': int(block_elems), 'block_bytes': int(block_bytes),
                       'blocks': b64(raw), 'f32': b64(f32.astype('<f4'))}
    doc = {'generator': 'scripts/gen-native-block-vectors.py', 'gguf_version': importlib.metadata.version('gguf'),
           'numpy_version': np.__version__, 'types': types}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT}')


if __name__ == '__main__':
    main()
