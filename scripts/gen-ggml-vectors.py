#!/usr/bin/env python3
"""Generate GGML block test vectors from an INDEPENDENT reference: gguf-py (pip install gguf==0.19.0 numpy).

Writes test/fixtures/formats/ggml-vectors.json:
  dequant[dtype] = {n, blocks: base64 raw block bytes, f32: base64 little-endian float32 of gguf.quants.dequantize}
  quant[dtype]   = {n, f32: base64 input, blocks: base64 of gguf.quants.quantize (llama.cpp *_ref quantizers)}
Blocks for dequant are seeded random bytes whose fp16 scale fields are random finite fp16 values (incl. 0, -0,
subnormals, +-65504). test/formats-ggml.test.ts compares our TypeScript bit-exactly against these.

Also writes test/fixtures/formats/gguf-py-tiny.gguf (+ .json with the expected metadata, shapes and float32 values)
with gguf-py's own GGUFWriter, so our GGUF reader is checked against an independent writer.

Usage: python3 scripts/gen-ggml-vectors.py   (deterministic: same output for the same gguf/numpy versions)
"""
import importlib.metadata, json, os, sys
import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

sys.path.insert(0, os.path.join(os.path.dirname(__file__), 'reference'))
from ggml_random_blocks import SCALE_OFFSETS, SPECIAL_F16, b64, finite_f16_bits  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), '..', 'test', 'fixtures', 'formats', 'ggml-vectors.json')
rng = np.random.default_rng(20240607)

# dtype -> (ggml type, byte offsets of fp16 scale fields in the block, number of blocks)
DEQ = {
    'q8_0': (T.Q8_0, SCALE_OFFSETS['q8_0'], 40),
    'q4_0': (T.Q4_0, SCALE_OFFSETS['q4_0'], 40),
    'q4_1': (T.Q4_1, SCALE_OFFSETS['q4_1'], 40),
    'q4_k': (T.Q4_K, SCALE_OFFSETS['q4_k'], 6),
    'q6_k': (T.Q6_K, SCALE_OFFSETS['q6_k'], 6),
}
# The other block formats llama.cpp writes (added later): drawn from their own generator so the vectors above stay
# byte-identical to earlier runs.
DEQ_MORE = {
    'q5_0': (T.Q5_0, SCALE_OFFSETS['q5_0'], 40),
    'q5_1': (T.Q5_1, SCALE_OFFSETS['q5_1'], 40),
    'q2_k': (T.Q2_K, SCALE_OFFSETS['q2_k'], 8),
    'q3_k': (T.Q3_K, SCALE_OFFSETS['q3_k'], 8),
    'q5_k': (T.Q5_K, SCALE_OFFSETS['q5_k'], 8),
}



def dequant_vectors(table=DEQ):
    out = {}
    for name, (qt, f16_offsets, nblocks) in table.items():
        block_elems, block_bytes = GGML_QUANT_SIZES[qt]
        raw = rng.integers(0, 256, size=(nblocks, block_bytes), dtype=np.uint8)
        for off in f16_offsets:
            v = finite_f16_bits(rng, nblocks)
            v[: len(SPECIAL_F16)] = SPECIAL_F16[: nblocks]
            rng.shuffle(v)
            raw[:, off : off + 2] = v.view(np.uint8).reshape(nblocks, 2)
        f32 = gguf.quants.dequantize(raw.reshape(1, -1), qt).astype(np.float32).reshape(-1)
        assert f32.size == nblocks * block_elems and np.isfinite(f32).all(), name
        out[name] = {'n': int(f32.size), 'blocks': b64(raw), 'f32': b64(f32.astype('<f4'))}
    return out


def quant_vectors():
    out = {}
    for name, qt in (('q8_0', T.Q8_0), ('q4_0', T.Q4_0), ('q4_1', T.Q4_1)):
        nblocks = 32
        x = (rng.standard_normal((nblocks, 32)) * (10.0 ** rng.uniform(-4, 1, size=(nblocks, 1)))).astype(np.float32)
        x[0] = 0.0  # all-zero block: d = 0, id = 0
        x[1] = 1.5  # constant block
        x[2] = np.float32(0.5) * np.arange(-16, 16, dtype=np.float32)  # exact ties
        x[3, 7] = -x[3].__abs__().max() * 2  # a negative extreme
        q = gguf.quants.quantize(x.reshape(1, -1), qt)
        out[name] = {'n': int(x.size), 'f32': b64(x.astype('<f4')), 'blocks': b64(q)}
    return out


def gguf_fixture():
    path = os.path.join(os.path.dirname(OUT), 'gguf-py-tiny.gguf')
    w = gguf.GGUFWriter(path, 'llama')  # writes general.architecture
    w.add_uint32('llama.block_count', 2)
    w.add_float32('llama.rope.freq_base', 10000.5)
    w.add_bool('tokenizer.ggml.add_bos_token', True)
    w.add_int64('test.int64', -(1 << 40))
    w.add_uint64('test.uint64', (1 << 63) + 5)
    w.add_array('tokenizer.ggml.tokens', ['<s>', 'héllo', '世界', ''])
    w.add_array('test.int32s', [1, -2, 3])
    f32 = (rng.standard_normal((3, 4)) * 2).astype(np.float32)
    f16 = rng.standard_normal((2, 8)).astype(np.float16)
    x = rng.standard_normal((2, 64)).astype(np.float32)
    q8 = gguf.quants.quantize(x, T.Q8_0)
    q4k = rng.integers(0, 256, size=(1, 144), dtype=np.uint8)
    q4k[:, 0:4] = np.array([0.01, 0.002], dtype=np.float16).view(np.uint8)
    w.add_tensor('f32.weight', f32)
    w.add_tensor('f16.weight', f16)
    w.add_tensor('q8.weight', q8, raw_dtype=T.Q8_0)
    w.add_tensor('q4k.weight', q4k, raw_dtype=T.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    expect = {
        'f32.weight': {'shape': [3, 4], 'dtype': 'f32', 'f32': b64(f32.astype('<f4'))},
        'f16.weight': {'shape': [2, 8], 'dtype': 'f16', 'f32': b64(f16.astype('<f4'))},
        'q8.weight': {'shape': [2, 64], 'dtype': 'q8_0', 'f32': b64(gguf.quants.dequantize(q8, T.Q8_0).astype('<f4'))},
        'q4k.weight': {'shape': [1, 256], 'dtype': 'q4_k', 'f32': b64(gguf.quants.dequantize(q4k, T.Q4_K).astype('<f4'))},
    }
    r = gguf.GGUFReader(path)  # cross-check gguf-py agrees with itself on shapes
    for t in r.tensors:
        assert list(reversed([int(v) for v in t.shape])) == expect[t.name]['shape'], t.name
    with open(path[:-5] + '.json', 'w') as f:
        json.dump({'generator': 'scripts/gen-ggml-vectors.py (gguf.GGUFWriter)', 'tensors': expect}, f, indent=1)
        f.write('\n')
    print(f'wrote {path} ({os.path.getsize(path)} bytes)', file=sys.stderr)


def main():
    doc = {
        'generator': 'scripts/gen-ggml-vectors.py',
        'reference': f'gguf-py {importlib.metadata.version("gguf")} (gguf.quants), numpy {np.__version__}',
        'dequant': dequant_vectors(),
        'quant': quant_vectors(),
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT} ({os.path.getsize(OUT)} bytes)', file=sys.stderr)
    gguf_fixture()
    global rng
    rng = np.random.default_rng(20261202)
    doc['dequant'].update(dequant_vectors(DEQ_MORE))
    with open(OUT, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT} with {sorted(doc["dequant"])} ({os.path.getsize(OUT)} bytes)', file=sys.stderr)


if __name__ == '__main__':
    main()
