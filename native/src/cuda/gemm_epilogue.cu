// gemm_epilogue.cu — Y = (acc ? Y : 0) + (Yt * scale[n] + bias[n]) after the cuBLAS prefill GEMM (declared in
// gemm_blas.cuh): the same operations in the same order as engine_gemm.cu's GemmKernel epilogue.
// Twin: ref::gemm_epilogue (engine/prefill_gemm_ref.h).
#include <cfloat>
#include <cstdint>
#include <string>

#include "../check.h"
#include "gemm_blas.cuh"
#include "ops_common.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

__global__ void GemmEpilogueKernel(float* __restrict__ Y, const float* __restrict__ Yt, const float* __restrict__ scale,
                                   const float* __restrict__ bias, int N, size_t n, bool accumulate) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    const int c = (int)(i % N);
    // explicit _rn operations: no FMA contraction, so the twin's separate float roundings match bit for bit
    float y = Yt[i];
    if (scale) y = __fmul_rn(y, scale[c]);
    if (bias) y = __fadd_rn(y, bias[c]);
    Y[i] = accumulate ? __fadd_rn(Y[i], y) : y;
  }
}

}  // namespace

void LaunchGemmEpilogue(float* Y, const float* Yt, const float* scale, const float* bias, int M, int N, bool accumulate,
                        cudaStream_t s) {
  CHECK_ARG(M > 0 && N > 0 && Y && Yt, "gemm epilogue: empty shape or missing buffer");
  const size_t n = (size_t)M * N;
  LaunchK(GemmEpilogueKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, Y, Yt, scale, bias, N, n, accumulate);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
