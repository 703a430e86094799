// prefill_gemm_ref.h — readable twins (ops_ref.h style: single-threaded, header-only) of the two kernels around the
// cuBLAS prefill GEMM (native/src/cuda/gemm_blas.cuh). The GEMM itself is ref::linear_* of ops_ref.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/half.h"
#include "common/weight_types.h"

namespace codecllm {
namespace ref {

/**
 * The fp16 weight (N, K) that cuBLAS multiplies, from a linear stored as the GPU engine splits it (gpu/engine.h
 * SplitBlocks): int8 codes -> half(code) (scale applied later); q8_0 codes (N, K) + d (N, K/32) -> half(q * d);
 * q4_1 nibbles (N, K/2; byte j of a block = element j low, j + 16 high) + (d, m) (N, K/32, 2) -> half(q * d + m),
 * q * d + m computed in float with one rounding (q * d is exact in float). Halves are IEEE bits.
 */
inline void dequant_f16_split(uint16_t* dst, const void* w, int wtype, const uint16_t* aux, int N, int K) {
  for (int n = 0; n < N; n++)
    for (int k = 0; k < K; k++) {
      const size_t i = (size_t)n * K + k;
      float v = 0;
      if (wtype == kWeightI8Channel) {
        v = (float)static_cast<const int8_t*>(w)[i];
      } else if (wtype == kWeightQ8_0) {
        v = (float)static_cast<const int8_t*>(w)[i] * f16_to_f32(aux[(size_t)n * (K / 32) + k / 32]);
      } else {  // kWeightQ4_1
        const int blk = k / 32, j = k % 32;
        const uint8_t byte = static_cast<const uint8_t*>(w)[(size_t)n * (K / 2) + (size_t)blk * 16 + (j % 16)];
        const int q = j < 16 ? byte & 0x0f : byte >> 4;
        const float d = f16_to_f32(aux[((size_t)n * (K / 32) + blk) * 2]), m = f16_to_f32(aux[((size_t)n * (K / 32) + blk) * 2 + 1]);
        v = (float)((double)q * d + m);  // exact q * d, one rounding of the sum = fmaf
      }
      dst[i] = f32_to_f16(v);
    }
}

/** Y (M, N) = (accumulate ? Y : 0) + (Yt * (scale ? scale[n] : 1) + (bias ? bias[n] : 0)), float operations in
 *  this order. */
inline void gemm_epilogue(float* Y, const float* Yt, const float* scale, const float* bias, int M, int N, bool accumulate) {
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      const size_t i = (size_t)m * N + n;
      float y = Yt[i];
      if (scale) y *= scale[n];
      if (bias) y += bias[n];
      Y[i] = accumulate ? Y[i] + y : y;
    }
}

}  // namespace ref
}  // namespace codecllm
