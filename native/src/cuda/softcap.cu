// softcap.cu — tanh soft-capping in place, x = cap * tanh(x / cap) (Gemma 2's final logits; declared in engine.cuh).
// Twin: ref::softcap (engine/ops_ref.h): tanhf here vs tanh in double there (a few ulp).
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

__global__ void SoftcapKernel(float* x, size_t n, float cap) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    x[i] = __fmul_rn(tanhf(__fdiv_rn(x[i], cap)), cap);
}

}  // namespace

void LaunchSoftcap(float* x, size_t n, float cap, cudaStream_t s) {
  CHECK_ARG(cap > 0, "softcap: cap must be > 0");
  LaunchK(SoftcapKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, x, n, cap);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
