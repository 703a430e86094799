// half.h — fp16 / bf16 <-> float, defined once for all native code (format version 1).
//
// Host and device (CODECLLM_HD = __host__ __device__ under nvcc). Bit for bit as src/formats/dtypes.ts (f16ToF32,
// f32ToF16, bf16ToF32, f32ToBf16): exact widening (subnormals kept, NaN -> a quiet NaN), round to nearest even on the
// way down, overflow to ±inf. Used by the reference ops (engine/ops_ref.h), the CPU engine, quant.cc and the block
// formats (common/blocks.h). CUDA kernels read half bits with half_bits_to_f32 / f32_to_half_bits below (the
// hardware conversions: equal to the portable ones for every non-NaN input).
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define CODECLLM_HD __host__ __device__
#else
#define CODECLLM_HD
#endif

namespace codecllm {

CODECLLM_HD inline uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  return u;
}
CODECLLM_HD inline float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}

/** IEEE fp16 bits -> float (exact; subnormals kept; NaN -> a quiet NaN, as dtypes.ts returns JS NaN). */
CODECLLM_HD inline float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t e = (h >> 10) & 0x1fu;
  uint32_t f = h & 0x3ffu;
  if (e == 0) {
    // subnormal (or zero): f * 2^-24, exact in float
    float v = (float)f * 5.9604644775390625e-08f;
    return f32_from_bits(f32_bits(v) | sign);
  }
  if (e == 0x1f) return f == 0 ? f32_from_bits(sign | 0x7f800000u) : f32_from_bits(sign | 0x7fc00000u);
  return f32_from_bits(sign | ((e - 15 + 127) << 23) | (f << 13));
}

/** float -> IEEE fp16 bits, round to nearest even, overflow to ±inf, NaN -> quiet NaN (0x7e00 | sign). */
CODECLLM_HD inline uint16_t f32_to_f16(float v) {
  uint32_t x = f32_bits(v);
  uint32_t sign = (x >> 16) & 0x8000u;
  uint32_t exp = (x >> 23) & 0xffu;
  uint32_t mant = x & 0x7fffffu;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0u));
  int e = (int)exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00u);
  if (e <= 0) {
    if (e < -10) return (uint16_t)sign;
    mant |= 0x800000u;
    int shift = 14 - e;
    uint32_t h = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;  // may carry into the exponent: correct (up to inf)
  return (uint16_t)(sign | h);
}

/** bf16 bits -> float (exact). */
CODECLLM_HD inline float bf16_to_f32(uint16_t b) { return f32_from_bits((uint32_t)b << 16); }

/** float -> bf16 bits, round to nearest even, NaN kept quiet. */
CODECLLM_HD inline uint16_t f32_to_bf16(float v) {
  uint32_t x = f32_bits(v);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(((x >> 16) | 0x40u) & 0xffffu);
  uint32_t r = x + 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(r >> 16);
}

/** Little-endian fp16 at p (any alignment) -> float. */
CODECLLM_HD inline float f16_le_to_f32(const uint8_t* p) { return f16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

#if defined(__CUDACC__)
/** Device: half bits -> float with the hardware conversion (the kernels' H2F). */
__device__ __forceinline__ float half_bits_to_f32(uint16_t b) { return __half2float(__ushort_as_half(b)); }
/** Device: float -> half bits, round to nearest even (the kernels' F2H). */
__device__ __forceinline__ uint16_t f32_to_half_bits(float f) { return __half_as_ushort(__float2half_rn(f)); }
#endif

}  // namespace codecllm
