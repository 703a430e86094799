// rmsnorm.cu — RMS norm, one block per row, with an optional fp16 copy of the output (declared in engine.cuh).
// Twin: ref::rmsnorm (engine/ops_ref.h).
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>
#include <string>

#include "../check.h"
#include "engine.cuh"
#include "ops_common.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

// ---- rmsnorm: one block per row
__global__ void RmsNormKernel(float* out, uint16_t* out16, const float* x, const float* w, int h, float eps) {
  __shared__ float red[32];
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  const float* xr = x + (size_t)t * h;
  float ss = 0;
  for (int i = threadIdx.x; i < h; i += blockDim.x) ss += xr[i] * xr[i];
  ss = BlockSum(ss, red);
  float r = 1.0f / sqrtf(ss / h + eps);
  for (int i = threadIdx.x; i < h; i += blockDim.x) {
    float y = __fmul_rn(__fmul_rn(xr[i], r), w[i]);
    if (out) out[(size_t)t * h + i] = y;
    if (out16) out16[(size_t)t * h + i] = f32_to_half_bits(y);
  }
}

}  // namespace

void LaunchRmsNorm(float* out, uint16_t* out16, const float* x, const float* w, int T, int h, float eps, cudaStream_t s) {
  LaunchK(RmsNormKernel, dim3(T), dim3(256), 0, s, out, out16, x, w, h, eps);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
