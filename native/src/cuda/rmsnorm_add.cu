// rmsnorm_add.cu — residual add of a normalized branch, x += rmsnorm(y) * w, one block per row (Gemma's sandwich norms:
// the attention and MLP outputs are normalized before they join the residual stream; declared in engine.cuh).
// Twin: ref::rmsnorm then ref::add_inplace (engine/ops_ref.h).
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

__global__ void RmsNormAddKernel(float* x, const float* y, const float* w, int h, float eps) {
  __shared__ float red[32];
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  const float* yr = y + (size_t)t * h;
  float* xr = x + (size_t)t * h;
  float ss = 0;
  for (int i = threadIdx.x; i < h; i += blockDim.x) ss += yr[i] * yr[i];
  ss = BlockSum(ss, red);
  float r = 1.0f / sqrtf(ss / h + eps);  // as rmsnorm.cu
  for (int i = threadIdx.x; i < h; i += blockDim.x) xr[i] = __fadd_rn(xr[i], __fmul_rn(__fmul_rn(yr[i], r), w[i]));
}

}  // namespace

void LaunchRmsNormAdd(float* x, const float* y, const float* w, int T, int h, float eps, cudaStream_t s) {
  LaunchK(RmsNormAddKernel, dim3(T), dim3(256), 0, s, x, y, w, h, eps);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
