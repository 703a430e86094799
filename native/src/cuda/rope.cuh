// rope.cuh — rotary-embedding pieces shared by rope_append.cu and attention.cu (the fused rope + attention
// decode kernel): KV stores in the cache's dtype and one rotate-half step. Twin: ref::rope_rotate_half (engine/ops_ref.h).
#pragma once
#include <cstdint>

#include "common/half.h"

namespace codecllm {
namespace engine {
namespace {

template <class KV>
__device__ __forceinline__ void StoreKV(KV* p, float v);
template <>
__device__ __forceinline__ void StoreKV<float>(float* p, float v) { *p = v; }
template <>
__device__ __forceinline__ void StoreKV<uint16_t>(uint16_t* p, float v) { *p = f32_to_half_bits(v); }

__device__ __forceinline__ void Rotate(float* v, const float* cs, const float* sn, int i, int half) {
  float x1 = v[i], x2 = v[i + half];
  float a = __fmul_rn(x1, cs[i]), b = __fmul_rn(-x2, sn[i]);
  float c = __fmul_rn(x2, cs[i]), d = __fmul_rn(x1, sn[i]);
  v[i] = __fadd_rn(a, b);
  v[i + half] = __fadd_rn(c, d);
}

}  // namespace
}  // namespace engine
}  // namespace codecllm
