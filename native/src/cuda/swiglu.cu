// swiglu.cu — SwiGLU, silu(gate) * up, with an optional fp32 copy (declared in engine.cuh).
// Twin: ref::swiglu (engine/ops_ref.h).
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

__global__ void SwiGLUKernel(float* out, uint16_t* out16, const float* g, const float* u, size_t n) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    float gv = g[i];
    float sig = 1.0f / (1.0f + expf(-gv));
    float y = __fmul_rn(__fmul_rn(gv, sig), u[i]);
    if (out) out[i] = y;
    if (out16) out16[i] = f32_to_half_bits(y);
  }
}

}  // namespace

void LaunchSwiGLU(float* out, uint16_t* out16, const float* gate, const float* up, size_t n, cudaStream_t s) {
  LaunchK(SwiGLUKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, out, out16, gate, up, n);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
