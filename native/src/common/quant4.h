// quant4.h — the lab's 4-bit weight layouts (int4 group, sym / asym, and nf4 group) as the native engines keep them
// resident: codes + scales (+ zero points), defined ONCE for the CPU reference twin, the CPU fast path (cpu/linear.cc)
// and the CUDA GEMV (cuda/gemv_q4.cu). The lab's definition is src/quant/quantize.ts + plan.ts + numerics.ts (NF4);
// test/native-quant4.test.ts ties this file to it (codes, scales and zeros from quantize() dequantize here bit for bit
// to dequantize()'s floats, and kNF4 equals numerics.ts NF4).
//
// Layout of a (rows, K) weight with group size gs (gs divides K; per-channel is gs = K):
//   codes   (rows, K / 2) bytes: element k of row r is nibble (k & 1) of byte r * K/2 + k/2, low nibble first — the
//           TS packing (packNibbles over the flat row-major index) when K is even.
//   scales  (rows, K / gs) fp32 values (the lab's fp16 / bf16 scale bits widened exactly; fp32 scales as they are).
//   zeros   int4 asym only: (rows, K / gs) uint8, one unpacked zero point per group (TS packs them: unpack first).
//   value   int4 sym:  nibble - 8       (stored nibble = q + 8, q in [-7, 7])
//           int4 asym: nibble - zero    (q in [0, 15])
//           nf4:       kNF4[nibble]
//   weight  w = float(value * scale): one rounding, as quantize.ts dequantize() (Math.fround(value * s)); exact for
//           int4 (4-bit integer times a <= 16-significant-bit scale), rounded by at most 2^-24 relative for nf4.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/half.h"

namespace codecllm {
namespace quant4 {

/** Kind of a 4-bit layout. */
enum Kind : int { kInt4Sym = 0, kInt4Asym = 1, kNf4 = 2 };

/** The QLoRA NF4 table as float32 (src/quant/numerics.ts NF4, the same float32 values). */
CODECLLM_HD inline float nf4_value(int i) {
  // a switch, not an array, so device code needs no constant-memory table
  switch (i & 15) {
    case 0: return -1.0f;
    case 1: return -0.6961928009986877f;
    case 2: return -0.5250730514526367f;
    case 3: return -0.39491748809814453f;
    case 4: return -0.28444138169288635f;
    case 5: return -0.18477343022823334f;
    case 6: return -0.09105003625154495f;
    case 7: return 0.0f;
    case 8: return 0.07958029955625534f;
    case 9: return 0.16093020141124725f;
    case 10: return 0.24611230194568634f;
    case 11: return 0.33791524171829224f;
    case 12: return 0.44070982933044434f;
    case 13: return 0.5626170039176941f;
    case 14: return 0.7229568362236023f;
    default: return 1.0f;
  }
}

/** Value of a stored nibble u (0..15) before scaling; zero is the group's zero point (int4 asym only). */
CODECLLM_HD inline float code_value(int kind, int u, int zero) {
  if (kind == kNf4) return nf4_value(u);
  return (float)(kind == kInt4Sym ? u - 8 : u - zero);
}

/** Stored nibble of element k of a row whose packed codes start at `row_codes`. */
CODECLLM_HD inline int nibble(const uint8_t* row_codes, int k) { return (row_codes[k >> 1] >> ((k & 1) * 4)) & 15; }

/** Weight = float(value * scale), one rounding (never fused: callers multiply nothing else into it). */
CODECLLM_HD inline float dequant(int kind, int u, int zero, float scale) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(code_value(kind, u, zero), scale);
#else
  return code_value(kind, u, zero) * scale;
#endif
}

/** Bytes of packed codes of a (rows, K) weight (K even). */
inline size_t code_bytes(size_t rows, size_t K) { return rows * (K / 2); }
/** Groups of a (rows, K) weight with group size gs (gs divides K). */
inline size_t groups(size_t rows, size_t K, size_t gs) { return rows * (K / gs); }

/** Dequantize row r of a (rows, K) weight into out (K floats): the readable reference. */
inline void dequant_row(int kind, const uint8_t* codes, const float* scales, const uint8_t* zeros, int K, int gs, int r, float* out) {
  const uint8_t* rc = codes + (size_t)r * (K / 2);
  const size_t ng = (size_t)(K / gs);
  for (int k = 0; k < K; k++) {
    const size_t g = (size_t)r * ng + (size_t)(k / gs);
    out[k] = dequant(kind, nibble(rc, k), zeros ? zeros[g] : 0, scales[g]);
  }
}

}  // namespace quant4
}  // namespace codecllm
