// blocks.h — every GGML block format, defined once for all native code (format version 1).
//
// One struct per format as llama.cpp's ggml-common.h lays it out (little-endian; `d`/`m`/`dmin` are IEEE fp16 bits),
// a static_assert on its size, its elements per block (kElems), and a host+device dequant_block() that reproduces
// llama.cpp's dequantize_row_* and the PyPI `gguf` package's numpy reference (gguf.quants.dequantize) BIT FOR BIT:
// every product and difference is rounded to float in the reference's order (on the device through __fmul_rn /
// __fadd_rn so nvcc never contracts them into an FMA; host callers must not be compiled with an FMA target).
// Checked by test/native-blocks.test.ts against vectors from scripts/gen-native-block-vectors.py.
//
// Ids, names and byte sizes of all storage types live in common/weight_types.h (built from these structs); the TS
// twin is src/formats/dtypes.ts (DTYPES), tied to this file by test/native-blocks.test.ts (blockFormats()).
// Adding a format: a struct + kElems + dequant_block here, one row in weight_types.h, one row in dtypes.ts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/half.h"

namespace codecllm {
namespace blocks {

// Float steps rounded once each, never fused (see the header comment).
CODECLLM_HD inline float mul(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
CODECLLM_HD inline float add(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
CODECLLM_HD inline float sub(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

constexpr int kQK = 32;    // elements of a legacy block (QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0)
constexpr int kQK_K = 256; // elements of a k-quant super-block (QK_K)

// ---------------------------------------------------------------------------------------------------------------
// legacy 32-element blocks
// ---------------------------------------------------------------------------------------------------------------

/** q4_0: w = (nibble - 8) * d; byte j holds element j (low nibble) and j + 16 (high nibble). */
struct BlockQ4_0 {
  static constexpr int kElems = kQK;
  uint16_t d;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "q4_0 block is 18 bytes");

/** q4_1: w = nibble * d + m. */
struct BlockQ4_1 {
  static constexpr int kElems = kQK;
  uint16_t d, m;
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "q4_1 block is 20 bytes");

/** q5_0: w = (5-bit q - 16) * d; bit j of qh (little-endian u32) is bit 4 of element j. */
struct BlockQ5_0 {
  static constexpr int kElems = kQK;
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "q5_0 block is 22 bytes");

/** q5_1: w = 5-bit q * d + m. */
struct BlockQ5_1 {
  static constexpr int kElems = kQK;
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "q5_1 block is 24 bytes");

/** q8_0: w = q * d. */
struct BlockQ8_0 {
  static constexpr int kElems = kQK;
  uint16_t d;
  int8_t qs[kQK];
};
static_assert(sizeof(BlockQ8_0) == 34, "q8_0 block is 34 bytes");

// ---------------------------------------------------------------------------------------------------------------
// k-quants: 256-element super-blocks
// ---------------------------------------------------------------------------------------------------------------

/** q2_k: 16 sub-blocks of 16; scales[i] = 4-bit scale | 4-bit min << 4; w = d*sc * q - dmin*mn, q 2-bit. */
struct BlockQ2_K {
  static constexpr int kElems = kQK_K;
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  uint16_t d, dmin;
};
static_assert(sizeof(BlockQ2_K) == 84, "q2_k block is 84 bytes");

/** q3_k: 16 sub-blocks of 16 with 6-bit signed scales (packed in 12 bytes); q = 2 low bits - (hmask bit ? 0 : 4). */
struct BlockQ3_K {
  static constexpr int kElems = kQK_K;
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  uint16_t d;
};
static_assert(sizeof(BlockQ3_K) == 110, "q3_k block is 110 bytes");

/** q4_k: 8 sub-blocks of 32 with 6-bit scales and mins (12 bytes); w = d*sc * q - dmin*mn, q 4-bit. */
struct BlockQ4_K {
  static constexpr int kElems = kQK_K;
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "q4_k block is 144 bytes");

/** q5_k: as q4_k with a fifth bit per element in qh. */
struct BlockQ5_K {
  static constexpr int kElems = kQK_K;
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176, "q5_k block is 176 bytes");

/** q6_k: 16 sub-blocks of 16 with int8 scales; q = 4 low bits (ql) | 2 high bits (qh) << 4, minus 32. */
struct BlockQ6_K {
  static constexpr int kElems = kQK_K;
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  uint16_t d;
};
static_assert(sizeof(BlockQ6_K) == 210, "q6_k block is 210 bytes");

// ---------------------------------------------------------------------------------------------------------------
// dequant_block(block, y): y (kElems) floats, bit-exact to gguf.quants.dequantize
// ---------------------------------------------------------------------------------------------------------------

CODECLLM_HD inline void dequant_block(const BlockQ4_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK / 2; j++) {
    y[j] = mul((float)((b.qs[j] & 0x0f) - 8), d);
    y[j + kQK / 2] = mul((float)((b.qs[j] >> 4) - 8), d);
  }
}

/** float(q * d) + m (q * d is exact: a 4-bit integer times an 11-bit fp16 significand). */
CODECLLM_HD inline void dequant_block(const BlockQ4_1& b, float* y) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  for (int j = 0; j < kQK / 2; j++) {
    y[j] = add(mul((float)(b.qs[j] & 0x0f), d), m);
    y[j + kQK / 2] = add(mul((float)(b.qs[j] >> 4), d), m);
  }
}

CODECLLM_HD inline uint32_t le_u32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

CODECLLM_HD inline void dequant_block(const BlockQ5_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  const uint32_t qh = le_u32(b.qh);
  for (int j = 0; j < kQK / 2; j++) {
    const int x0 = (int)((b.qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10)) - 16;
    const int x1 = (int)((b.qs[j] >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
    y[j] = mul((float)x0, d);
    y[j + kQK / 2] = mul((float)x1, d);
  }
}

CODECLLM_HD inline void dequant_block(const BlockQ5_1& b, float* y) {
  const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
  const uint32_t qh = le_u32(b.qh);
  for (int j = 0; j < kQK / 2; j++) {
    const int x0 = (int)((b.qs[j] & 0x0f) | (((qh >> j) << 4) & 0x10));
    const int x1 = (int)((b.qs[j] >> 4) | ((qh >> (j + 12)) & 0x10));
    y[j] = add(mul((float)x0, d), m);
    y[j + kQK / 2] = add(mul((float)x1, d), m);
  }
}

/** q * d (exact in float: an 8-bit code times an 11-bit fp16 significand). */
CODECLLM_HD inline void dequant_block(const BlockQ8_0& b, float* y) {
  const float d = f16_to_f32(b.d);
  for (int j = 0; j < kQK; j++) y[j] = mul((float)b.qs[j], d);
}

CODECLLM_HD inline void dequant_block(const BlockQ2_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  const uint8_t* q = b.qs;
  int is = 0;
  for (int n = 0; n < kQK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2) {
      for (int half = 0; half < 2; half++) {
        const uint8_t sc = b.scales[is++];
        const float dl = mul(d, (float)(sc & 0x0f)), ml = mul(dmin, (float)(sc >> 4));
        for (int l = 0; l < 16; l++) *y++ = sub(mul(dl, (float)((q[l + 16 * half] >> shift) & 3)), ml);
      }
    }
    q += 32;
  }
}

/** q3_k's 16 6-bit scales (biased by 32) unpacked from 12 bytes, as llama.cpp (kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f). */
CODECLLM_HD inline void q3_k_scales(const uint8_t* packed, int8_t* sc) {
  uint32_t aux[4];
  aux[0] = le_u32(packed), aux[1] = le_u32(packed + 4), aux[2] = le_u32(packed + 8);
  const uint32_t km1 = 0x03030303u, km2 = 0x0f0f0f0fu, tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & km2) | (((tmp >> 4) & km1) << 4);
  aux[3] = ((aux[1] >> 4) & km2) | (((tmp >> 6) & km1) << 4);
  aux[0] = (aux[0] & km2) | (((tmp >> 0) & km1) << 4);
  aux[1] = (aux[1] & km2) | (((tmp >> 2) & km1) << 4);
  for (int i = 0; i < 16; i++) sc[i] = (int8_t)((aux[i / 4] >> (8 * (i % 4))) & 0xff);
}

CODECLLM_HD inline void dequant_block(const BlockQ3_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  int8_t sc[16];
  q3_k_scales(b.scales, sc);
  const uint8_t* q = b.qs;
  uint8_t m = 1;
  int is = 0;
  for (int n = 0; n < kQK_K; n += 128) {
    for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
      for (int half = 0; half < 2; half++) {
        const float dl = mul(d, (float)(sc[is++] - 32));
        for (int l = 16 * half; l < 16 * half + 16; l++)
          *y++ = mul(dl, (float)((int)((q[l] >> shift) & 3) - ((b.hmask[l] & m) ? 0 : 4)));
      }
    }
    q += 32;
  }
}

/** 6-bit scale and min of sub-block j of q4_k / q5_k (llama.cpp get_scale_min_k4). */
CODECLLM_HD inline void scale_min_k4(int j, const uint8_t* q, uint8_t* sc, uint8_t* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
    *mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

CODECLLM_HD inline void dequant_block(const BlockQ4_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  const uint8_t* q = b.qs;
  for (int j = 0, is = 0; j < kQK_K; j += 64, is += 2, q += 32) {
    uint8_t sc, mn;
    scale_min_k4(is, b.scales, &sc, &mn);
    const float d1 = mul(d, (float)sc), m1 = mul(dmin, (float)mn);
    scale_min_k4(is + 1, b.scales, &sc, &mn);
    const float d2 = mul(d, (float)sc), m2 = mul(dmin, (float)mn);
    for (int l = 0; l < 32; l++) *y++ = sub(mul(d1, (float)(q[l] & 0x0f)), m1);
    for (int l = 0; l < 32; l++) *y++ = sub(mul(d2, (float)(q[l] >> 4)), m2);
  }
}

CODECLLM_HD inline void dequant_block(const BlockQ5_K& b, float* y) {
  const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
  const uint8_t* ql = b.qs;
  uint8_t u1 = 1, u2 = 2;
  for (int j = 0, is = 0; j < kQK_K; j += 64, is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
    uint8_t sc, mn;
    scale_min_k4(is, b.scales, &sc, &mn);
    const float d1 = mul(d, (float)sc), m1 = mul(dmin, (float)mn);
    scale_min_k4(is + 1, b.scales, &sc, &mn);
    const float d2 = mul(d, (float)sc), m2 = mul(dmin, (float)mn);
    for (int l = 0; l < 32; l++) *y++ = sub(mul(d1, (float)((ql[l] & 0x0f) + ((b.qh[l] & u1) ? 16 : 0))), m1);
    for (int l = 0; l < 32; l++) *y++ = sub(mul(d2, (float)((ql[l] >> 4) + ((b.qh[l] & u2) ? 16 : 0))), m2);
  }
}

CODECLLM_HD inline void dequant_block(const BlockQ6_K& b, float* y) {
  const float d = f16_to_f32(b.d);
  const uint8_t* ql = b.ql;
  const uint8_t* qh = b.qh;
  const int8_t* sc = b.scales;
  for (int n = 0; n < kQK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
    for (int l = 0; l < 32; l++) {
      const int is = l / 16;
      const int q1 = (int)((ql[l] & 0x0f) | (((qh[l] >> 0) & 3) << 4)) - 32;
      const int q2 = (int)((ql[l + 32] & 0x0f) | (((qh[l] >> 2) & 3) << 4)) - 32;
      const int q3 = (int)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
      const int q4 = (int)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
      y[l] = mul(mul(d, (float)sc[is]), (float)q1);
      y[l + 32] = mul(mul(d, (float)sc[is + 2]), (float)q2);
      y[l + 64] = mul(mul(d, (float)sc[is + 4]), (float)q3);
      y[l + 96] = mul(mul(d, (float)sc[is + 6]), (float)q4);
    }
  }
}

/** Raw bytes of one block (any alignment) -> y (Block::kElems). */
template <class Block>
CODECLLM_HD inline void dequant_raw(const uint8_t* raw, float* y) {
  Block b;
  memcpy(&b, raw, sizeof(Block));
  dequant_block(b, y);
}

}  // namespace blocks
}  // namespace codecllm
