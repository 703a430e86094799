"""Seeded random GGML blocks for test vectors, one definition shared by scripts/gen-ggml-vectors.py (TS formats) and
scripts/gen-native-block-vectors.py (native format table): where each block format keeps its fp16 scale fields, the
special fp16 values every vector set must contain, and the draw of finite fp16 scale bits.

Both generators pass their own numpy Generator, so their outputs stay byte-identical to earlier runs.
"""
import base64

import numpy as np

# byte offsets of the fp16 scale fields (d, dmin) inside one block of each format (ggml-common.h block layouts)
SCALE_OFFSETS = {
    'q4_0': [0], 'q4_1': [0, 2], 'q5_0': [0], 'q5_1': [0, 2], 'q8_0': [0],
    'q2_k': [80, 82], 'q3_k': [108], 'q4_k': [0, 2], 'q5_k': [0, 2], 'q6_k': [208],
}
# +-0, the smallest subnormals, the largest subnormal, +-65504, +-1
SPECIAL_F16 = [0x0000, 0x8000, 0x0001, 0x8001, 0x03ff, 0x7bff, 0xfbff, 0x3c00, 0xbc00]


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def finite_f16_bits(rng: np.random.Generator, k: int) -> np.ndarray:
    """k random finite fp16 bit patterns: half uniform over all bits (never Inf/NaN), half small like real scales."""
    bits = rng.integers(0, 1 << 16, size=k, dtype=np.uint32)
    exp = (bits >> 10) & 0x1F
    bits = np.where(exp == 0x1F, bits & ~np.uint32(0x4000), bits)  # clear an exponent bit: never Inf/NaN
    realistic = np.frombuffer(np.float16(rng.standard_normal(k) * 0.01).tobytes(), dtype=np.uint16).astype(np.uint32)
    return np.where(rng.random(k) < 0.5, realistic, bits).astype(np.uint16)
