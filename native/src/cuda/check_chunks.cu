// check_chunks.cu — per-chunk status / size check after an nvCOMP batched decode (declared in engine.cuh).
// Twin: none (a guard: counts chunks whose status or size is wrong).
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

__global__ void CheckChunksKernel(const int* status, const size_t* got, const size_t* want, size_t n, int base, int32_t* err) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    if (status[i] != 0 || got[i] != want[i]) {
      atomicAdd(&err[0], 1);
      atomicMin(&err[1], base + (int)i);
    }
}

}  // namespace

void LaunchCheckChunks(const int* status, const size_t* got, const size_t* want, size_t n, int base, int32_t* err,
                       cudaStream_t s) {
  if (n == 0) return;
  LaunchK(CheckChunksKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, status, got, want, n, base, err);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
