// geglu.cu — GeGLU, gelu_tanh(gate) * up (Gemma's MLP), with an optional fp16 copy (declared in engine.cuh).
// Twin: ref::geglu (engine/ops_ref.h): the same float steps; tanhf here vs tanh in double there (a few ulp).
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

__global__ void GeGLUKernel(float* out, uint16_t* out16, const float* g, const float* u, size_t n) {
  PdlWait();
  PdlTrigger();
  const float c0 = 0.044715f, c1 = 0.7978845608028654f;  // fround(sqrt(2/pi)), as ref::geglu
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const float gv = g[i];
    // inner = (g + ((g*g)*g)*c0)*c1, each step rounded (no FMA contraction), as the reference
    const float inner = __fmul_rn(__fadd_rn(gv, __fmul_rn(__fmul_rn(__fmul_rn(gv, gv), gv), c0)), c1);
    const float y = __fmul_rn(__fmul_rn(__fmul_rn(gv, 0.5f), __fadd_rn(tanhf(inner), 1.0f)), u[i]);
    if (out) out[i] = y;
    if (out16) out16[i] = f32_to_half_bits(y);
  }
}

}  // namespace

void LaunchGeGLU(float* out, uint16_t* out16, const float* gate, const float* up, size_t n, cudaStream_t s) {
  LaunchK(GeGLUKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, out, out16, gate, up, n);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
