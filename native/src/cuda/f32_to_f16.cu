// f32_to_f16.cu — float -> half conversion of activations (GEMM inputs) (declared in engine.cuh).
// Twin: ref::f32_to_f16 (common/half.h).
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

__global__ void F32ToF16Kernel(uint16_t* dst, const float* src, size_t n) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) dst[i] = f32_to_half_bits(src[i]);
}

}  // namespace

void LaunchF32ToF16(uint16_t* dst, const float* src, size_t n, cudaStream_t s) {
  LaunchK(F32ToF16Kernel, dim3(GridFor(n, 256)), dim3(256), 0, s, dst, src, n);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
