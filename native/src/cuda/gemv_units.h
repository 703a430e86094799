// gemv_units.h — how the CUDA GEMV of cuda/gemv_blocks.cu cuts a quantized weight row into "units" and dequantizes
// one unit (host + device, so the CPU test harness can check the cut against the reference on any machine):
//   Units<q5_0 | q4_k | q6_k>   raw GGML blocks of common/blocks.h (q5_0: halves of 16; q4_k: sub-blocks of 32;
//                               q6_k: sub-blocks of 16) — values equal blocks::dequant_block bit for bit
//   Q4Units<kind>               the 4-bit lab layouts of common/quant4.h (8 elements = one 32-bit code word) —
//                               values equal quant4::dequant_row bit for bit
// Unit u of a row covers elements [u * kUnitElems, (u + 1) * kUnitElems). Checked on the CPU by `codecllm_cpu_twins ref units`
// (native/test/cpu_twins.cc, test/native-quant4.test.ts) and on the GPU through the GEMV twins (native/test/gpu_twins.cc).
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/blocks.h"
#include "common/quant4.h"
#include "common/weight_types.h"

namespace codecllm {
namespace units {

using blocks::mul;
using blocks::sub;

#if defined(__CUDACC__)
#define CODECLLM_UNROLL _Pragma("unroll")
#else
#define CODECLLM_UNROLL
#endif

/** Read-only load: __ldg on the device, a plain load on the host. */
template <class T>
CODECLLM_HD inline T Ldg(const T* p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}

CODECLLM_HD inline uint16_t Ld16(const uint8_t* p) { return (uint16_t)(Ldg(p) | (Ldg(p + 1) << 8)); }
CODECLLM_HD inline float LdF16(const uint8_t* p) { return f16_to_f32(Ld16(p)); }

/** Unit split and per-unit dequantization of one raw-block type (values equal blocks::dequant_block bit for bit). */
template <int WT>
struct Raw;

template <>
struct Raw<kWeightQ5_0> {
  using Block = blocks::BlockQ5_0;
  static constexpr int kUnits = 2, kUnitElems = 16;
  /** unit h: elements 16h .. 16h+15 (h = 0: low nibbles + qh bits 0..15; h = 1: high nibbles + qh bits 16..31) */
  CODECLLM_HD static inline void Unit(const uint8_t* blk, int h, float* w) {
    const float d = LdF16(blk + offsetof(Block, d));
    const uint8_t* qhp = blk + offsetof(Block, qh);
    const uint32_t qh = (uint32_t)Ldg(qhp) | ((uint32_t)Ldg(qhp + 1) << 8) | ((uint32_t)Ldg(qhp + 2) << 16) |
                        ((uint32_t)Ldg(qhp + 3) << 24);
    const uint8_t* qs = blk + offsetof(Block, qs);
CODECLLM_UNROLL
    for (int j = 0; j < 16; j++) {
      const uint8_t b = Ldg(qs + j);
      const int x = h == 0 ? (int)((b & 0x0f) | (((qh >> j) << 4) & 0x10)) - 16 : (int)((b >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
      w[j] = mul((float)x, d);
    }
  }
};

template <>
struct Raw<kWeightQ4_K> {
  using Block = blocks::BlockQ4_K;
  static constexpr int kUnits = 8, kUnitElems = 32;
  /** unit j: elements 32j .. 32j+31 = nibble (j & 1) of qs[32 (j/2) ..], scale / min j */
  CODECLLM_HD static inline void Unit(const uint8_t* blk, int j, float* w) {
    const float d = LdF16(blk + offsetof(Block, d)), dmin = LdF16(blk + offsetof(Block, dmin));
    uint8_t sc12[12];
CODECLLM_UNROLL
    for (int i = 0; i < 12; i++) sc12[i] = Ldg(blk + offsetof(Block, scales) + i);
    uint8_t sc, mn;
    blocks::scale_min_k4(j, sc12, &sc, &mn);
    const float dl = mul(d, (float)sc), ml = mul(dmin, (float)mn);
    const uint8_t* q = blk + offsetof(Block, qs) + 32 * (j >> 1);
    const int shift = (j & 1) * 4;
CODECLLM_UNROLL
    for (int l = 0; l < 32; l++) w[l] = sub(mul(dl, (float)((Ldg(q + l) >> shift) & 0x0f)), ml);
  }
};

template <>
struct Raw<kWeightQ6_K> {
  using Block = blocks::BlockQ6_K;
  static constexpr int kUnits = 16, kUnitElems = 16;
  /** unit s (scale s): half n = s / 8 of 128 elements, quarter g = (s % 8) / 2, 16-element half lh = s % 2; element
   *  128 n + 32 g + 16 lh + i = 16 s + i: low (g < 2) or high nibble of ql[64 n + 32 (g & 1) + l], 2 bits of qh[32 n + l]
   *  at shift 2 g (l = 16 lh + i), minus 32 */
  CODECLLM_HD static inline void Unit(const uint8_t* blk, int s, float* w) {
    const float d = LdF16(blk + offsetof(Block, d));
    const int n = s >> 3, g = (s & 7) >> 1, lh = s & 1;
    const float dl = mul(d, (float)(int8_t)Ldg(blk + offsetof(Block, scales) + s));
    const uint8_t* ql = blk + offsetof(Block, ql) + 64 * n + 32 * (g & 1) + 16 * lh;
    const uint8_t* qh = blk + offsetof(Block, qh) + 32 * n + 16 * lh;
    const int lshift = g < 2 ? 0 : 4, hshift = 2 * g;
CODECLLM_UNROLL
    for (int i = 0; i < 16; i++) {
      const int q = (int)(((Ldg(ql + i) >> lshift) & 0x0f) | (((Ldg(qh + i) >> hshift) & 3) << 4)) - 32;
      w[i] = mul(dl, (float)q);
    }
  }
};

/** Where unit u of row r lies and what it needs: raw GGML blocks (no side tables) or the 4-bit lab layouts. */
struct RowSrc {
  const uint8_t* w;      // weight data (raw blocks, or packed 4-bit codes) of the whole matrix
  const float* scale;    // 4-bit: (rows, K / group) fp32
  const uint8_t* zero;   // int4 asym: (rows, K / group) uint8; else null
  int K, group;
};

/** Raw GGML block types: unit u of row r = unit u % kUnits of block u / kUnits; elements kUnitElems * u .. */
template <int WT>
struct Units {
  using T = Raw<WT>;
  static constexpr int kUnitElems = T::kUnitElems;
  CODECLLM_HD static inline void Load(const RowSrc& src, int r, int u, float* w) {
    using Block = typename T::Block;
    const size_t nblk = (size_t)(src.K / Block::kElems);
    T::Unit(src.w + ((size_t)r * nblk + u / T::kUnits) * sizeof(Block), u % T::kUnits, w);
  }
};

/** 4-bit lab layouts (common/quant4.h): unit u = elements 8u .. 8u+7 (one aligned 32-bit word of codes; group % 8 == 0,
 *  so a unit lies in one group); w = quant4::dequant (float(value * scale), one rounding). */
template <int KIND>
struct Q4Units {
  static constexpr int kUnitElems = 8;
  CODECLLM_HD static inline void Load(const RowSrc& src, int r, int u, float* w) {
    const uint32_t c = Ldg(reinterpret_cast<const uint32_t*>(src.w + (size_t)r * (src.K / 2)) + u);
    const size_t g = (size_t)r * (src.K / src.group) + (size_t)(8 * u) / src.group;
    const float s = Ldg(src.scale + g);
    const int z = KIND == quant4::kInt4Asym ? (int)Ldg(src.zero + g) : 0;
CODECLLM_UNROLL
    for (int i = 0; i < 8; i++) w[i] = quant4::dequant(KIND, (int)((c >> (4 * i)) & 15), z, s);
  }
};

}  // namespace units
}  // namespace codecllm
