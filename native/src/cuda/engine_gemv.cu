// engine_gemv.cu — batch-1 GEMV for decode, y (rows) = W (rows, K) · x (K), fp16 or int8 (per-row scale) weights.
//
// Memory-bound: every weight byte is read once with 16-byte non-caching loads, coalesced across the warp (lane l
// reads bytes [16 l, 16 l + 16) of each 512-byte stretch of a row), four loads in flight per lane before the first
// use; one warp per output row, 8 rows per 256-thread block; fp32 accumulate. The input vector is built once per
// block in shared memory by a prologue (plain copy, fused RMSNorm, or fused SwiGLU), which saves a launch and a
// round trip of the activation through global memory per step. Up to three weights sharing the input (q|k|v,
// gate|up) run in one launch ("segments").
// Twins: ref::linear_f16 and ref::linear_i8_channel (+ ref::rmsnorm / ref::swiglu for the prologues).
#include <cuda_fp16.h>

#include <cstdint>

#include "../check.h"
#include "engine.cuh"

namespace codecllm {
namespace engine {

namespace {

constexpr int kWarps = 8;  // rows per block

__device__ __forceinline__ uint4 LoadStream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

__device__ __forceinline__ float Dot8F16(uint4 w, const float* x) {
  const __half2* h = reinterpret_cast<const __half2*>(&w);
  float4 a = *reinterpret_cast<const float4*>(x);
  float4 b = *reinterpret_cast<const float4*>(x + 4);
  float2 f0 = __half22float2(h[0]), f1 = __half22float2(h[1]), f2 = __half22float2(h[2]), f3 = __half22float2(h[3]);
  return f0.x * a.x + f0.y * a.y + f1.x * a.z + f1.y * a.w + f2.x * b.x + f2.y * b.y + f3.x * b.z + f3.y * b.w;
}

__device__ __forceinline__ float Dot4I8(uint32_t w, const float* x) {
  float4 a = *reinterpret_cast<const float4*>(x);
  return (float)(int8_t)(w & 0xff) * a.x + (float)(int8_t)((w >> 8) & 0xff) * a.y + (float)(int8_t)((w >> 16) & 0xff) * a.z +
         (float)(int8_t)(w >> 24) * a.w;
}
__device__ __forceinline__ float Dot16I8(uint4 w, const float* x) {
  return Dot4I8(w.x, x) + Dot4I8(w.y, x + 4) + Dot4I8(w.z, x + 8) + Dot4I8(w.w, x + 12);
}

template <int WT>
__global__ void __launch_bounds__(kWarps * 32) GemvKernel(GemvArgs a) {
  extern __shared__ float xs[];  // K floats
  __shared__ float red[32];
  const int K = a.K;
  // ---- prologue: x (K) into shared memory
  if (a.prologue == kPrologueRmsNorm) {
    float ss = 0;
    for (int i = threadIdx.x; i < K; i += blockDim.x) {
      float v = a.in[i];
      xs[i] = v;
      ss += v * v;
    }
    for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = ss;
    __syncthreads();
    if (threadIdx.x < 32) {
      float v = threadIdx.x < kWarps ? red[threadIdx.x] : 0.f;
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (threadIdx.x == 0) red[0] = v;
    }
    __syncthreads();
    float r = 1.0f / sqrtf(red[0] / K + a.eps);
    for (int i = threadIdx.x; i < K; i += blockDim.x) xs[i] = __fmul_rn(__fmul_rn(xs[i], r), a.normw[i]);
  } else if (a.prologue == kPrologueSwiGLU) {
    for (int i = threadIdx.x; i < K; i += blockDim.x) {
      float g = a.in[i];
      float sig = 1.0f / (1.0f + expf(-g));
      xs[i] = __fmul_rn(__fmul_rn(g, sig), a.in2[i]);
    }
  } else {
    for (int i = threadIdx.x; i < K; i += blockDim.x) xs[i] = a.in[i];
  }
  __syncthreads();

  // ---- one warp per row
  const int lane = threadIdx.x & 31;
  int row = blockIdx.x * kWarps + (threadIdx.x >> 5);
  int si = 0;
  while (si < a.nseg && row >= a.seg[si].rows) {
    row -= a.seg[si].rows;
    si++;
  }
  if (si >= a.nseg) return;
  const GemvSeg& sg = a.seg[si];
  float acc = 0;
  if (WT == kWeightF16) {
    const uint16_t* w = static_cast<const uint16_t*>(sg.w) + (size_t)row * K;
    const int n8 = K / 8;  // 16-byte words in the row
    int c = lane;
    for (; c + 96 < n8; c += 128) {
      uint4 w0 = LoadStream(w + 8 * c), w1 = LoadStream(w + 8 * (c + 32)), w2 = LoadStream(w + 8 * (c + 64)),
            w3 = LoadStream(w + 8 * (c + 96));
      acc += Dot8F16(w0, xs + 8 * c) + Dot8F16(w1, xs + 8 * (c + 32)) + Dot8F16(w2, xs + 8 * (c + 64)) + Dot8F16(w3, xs + 8 * (c + 96));
    }
    for (; c < n8; c += 32) acc += Dot8F16(LoadStream(w + 8 * c), xs + 8 * c);
  } else {
    const int8_t* w = static_cast<const int8_t*>(sg.w) + (size_t)row * K;
    const int n16 = K / 16;
    int c = lane;
    for (; c + 96 < n16; c += 128) {
      uint4 w0 = LoadStream(w + 16 * c), w1 = LoadStream(w + 16 * (c + 32)), w2 = LoadStream(w + 16 * (c + 64)),
            w3 = LoadStream(w + 16 * (c + 96));
      acc += Dot16I8(w0, xs + 16 * c) + Dot16I8(w1, xs + 16 * (c + 32)) + Dot16I8(w2, xs + 16 * (c + 64)) +
             Dot16I8(w3, xs + 16 * (c + 96));
    }
    for (; c < n16; c += 32) acc += Dot16I8(LoadStream(w + 16 * c), xs + 16 * c);
  }
  for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (lane == 0) {
    float y = WT == kWeightI8 ? acc * sg.scale[row] : acc;
    if (sg.bias) y += sg.bias[row];
    if (a.accumulate) y += sg.y[row];
    sg.y[row] = y;
  }
}

}  // namespace

void LaunchGemv(const GemvArgs& a, int wtype, cudaStream_t s) {
  CHECK_ARG(a.nseg >= 1 && a.nseg <= kMaxSegs, "gemv: 1 to 3 segments");
  CHECK_ARG(a.K > 0 && a.K <= kGemvMaxK && a.K % (wtype == kWeightF16 ? 8 : 16) == 0,
            "gemv: K=" + std::to_string(a.K) + " must be a positive multiple of " + (wtype == kWeightF16 ? "8" : "16") +
                " up to " + std::to_string(kGemvMaxK));
  int rows = 0;
  for (int i = 0; i < a.nseg; i++) rows += a.seg[i].rows;
  size_t smem = sizeof(float) * (size_t)a.K;
  int grid = (rows + kWarps - 1) / kWarps;
  static bool raised[2] = {false, false};
  if (wtype == kWeightF16) {
    if (!raised[0]) {
      CHECK_CUDA(cudaFuncSetAttribute(GemvKernel<kWeightF16>, cudaFuncAttributeMaxDynamicSharedMemorySize, kGemvMaxK * 4));
      raised[0] = true;
    }
    GemvKernel<kWeightF16><<<grid, kWarps * 32, smem, s>>>(a);
  } else {
    if (!raised[1]) {
      CHECK_CUDA(cudaFuncSetAttribute(GemvKernel<kWeightI8>, cudaFuncAttributeMaxDynamicSharedMemorySize, kGemvMaxK * 4));
      raised[1] = true;
    }
    GemvKernel<kWeightI8><<<grid, kWarps * 32, smem, s>>>(a);
  }
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
