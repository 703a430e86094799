// gemv_prologue.cuh — what the decode GEMVs (engine_gemv.cu, gemv_blocks.cu) share: the launch-row -> segment map
// (Resolve) and the input stage: x (NB, K) built once per
// block in shared memory from the launch's inputs (plain copy, fused RMSNorm, or fused SwiGLU), in the XIndex layout of
// the reading kernel (EPW weights per 16-byte word; EPW = 4 is the plain row-major layout). Moved here unchanged from
// engine_gemv.cu so that every GEMV builds its input the same way (same sums in the same order: an RMSNorm prologue
// gives the same x whatever the weight type). Twins: ref::rmsnorm / ref::swiglu (engine/ops_ref.h).
#pragma once
#include <cuda_runtime.h>

#include "engine.cuh"

namespace codecllm {
namespace engine {
namespace gemvp {

/** Maps a launch row to (segment, row in segment); false past the last segment. */
__device__ __forceinline__ bool Resolve(const GemvArgs& a, int row, int* si, int* r) {
  int s = 0;
  while (s < a.nseg && row >= a.seg[s].rows) {
    row -= a.seg[s].rows;
    s++;
  }
  *si = s;
  *r = row;
  return s < a.nseg;
}

constexpr int kMaxWarps = 16;  // warps per block: W = 8, or 16 (CODECLLM_GEMV_WARPS=16, batch 1 only)

/** Shared-memory slot of input element i (K = nw * EPW): plane (i % EPW) / 4, cell i / EPW, lane i % 4. */
template <int EPW>
__device__ __forceinline__ int XIndex(int i, int nw) {
  return (((i % EPW) >> 2) * nw + i / EPW) * 4 + (i & 3);
}

/** Builds x (NB, K) in shared memory from the launch's inputs (all threads; ends with a barrier). */
/** Elementwise part of the prologue on 4 consecutive inputs (SwiGLU or copy). */
__device__ __forceinline__ float4 Act4(int prologue, float4 g, float4 u) {
  if (prologue != kPrologueSwiGLU) return g;
  auto one = [](float gv, float uv) { return __fmul_rn(__fmul_rn(gv, 1.0f / (1.0f + expf(-gv))), uv); };
  return make_float4(one(g.x, u.x), one(g.y, u.y), one(g.z, u.z), one(g.w, u.w));
}

/**
 * Builds x (NB, K) in shared memory from the launch's inputs (all threads; ends with a barrier). Inputs are read as
 * float4, PU of them per thread in flight at once, so a K = 5632 row costs two L2 round trips, not one per element
 * (the prologue runs in every block before its weights can be used; a serial one was ~4 µs of each GEMV).
 */
template <int NB, int EPW>
__device__ __forceinline__ void Prologue(const GemvArgs& a, float* xs, float* red) {
  constexpr int PU = 4;
  const int K = a.K, nw = K / EPW, n4 = K / 4, step = blockDim.x;
  for (int b = 0; b < NB; b++) {
    float* xb = xs + (size_t)b * K;
    const float4* in4 = reinterpret_cast<const float4*>(a.in + (size_t)b * K);
    const float4* in24 = a.in2 ? reinterpret_cast<const float4*>(a.in2 + (size_t)b * K) : nullptr;
    float ss = 0;
    for (int i0 = threadIdx.x; i0 < n4; i0 += PU * step) {
      float4 g[PU], u[PU];
#pragma unroll
      for (int k = 0; k < PU; k++) {
        const int i4 = i0 + k * step;
        if (i4 < n4) {
          g[k] = in4[i4];
          if (a.prologue == kPrologueSwiGLU) u[k] = in24[i4];
        }
      }
#pragma unroll
      for (int k = 0; k < PU; k++) {
        const int i4 = i0 + k * step;
        if (i4 >= n4) break;
        const float4 v = Act4(a.prologue, g[k], u[k]);
        ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        *reinterpret_cast<float4*>(xb + XIndex<EPW>(4 * i4, nw)) = v;  // 4 consecutive inputs share one 16-byte cell
      }
    }
    if (a.prologue == kPrologueRmsNorm) {
      for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
      if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
      __syncthreads();
      if (threadIdx.x < 32) {
        float v = threadIdx.x < (blockDim.x >> 5) ? red[threadIdx.x] : 0.f;
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (threadIdx.x == 0) red[kMaxWarps] = v;
      }
      __syncthreads();
      const float r = 1.0f / sqrtf(red[kMaxWarps] / K + a.eps);
      const float4* w4 = reinterpret_cast<const float4*>(a.normw);
      for (int i4 = threadIdx.x; i4 < n4; i4 += step) {
        float4* p = reinterpret_cast<float4*>(xb + XIndex<EPW>(4 * i4, nw));
        float4 v = *p;
        const float4 w = w4[i4];
        *p = make_float4(__fmul_rn(__fmul_rn(v.x, r), w.x), __fmul_rn(__fmul_rn(v.y, r), w.y), __fmul_rn(__fmul_rn(v.z, r), w.z),
                         __fmul_rn(__fmul_rn(v.w, r), w.w));
      }
    }
    __syncthreads();  // red[] is reused by the next row; xs is complete after the last one
  }
}

}  // namespace gemvp
}  // namespace engine
}  // namespace codecllm
