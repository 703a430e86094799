// embedding.cu — token embedding lookup: fp16 table, or q8_0 codes + per-block d (declared in engine.cuh).
// Twin: ref::embedding (engine/ops_ref.h), times the scale in float; q8_0 rows: ref::dequant_q8_0_block.
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

// ---- embedding: one block per token
__global__ void EmbeddingKernel(float* x, const uint16_t* table, const int32_t* tokens, int h, float scale) {
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  const uint16_t* row = table + (size_t)tokens[t] * h;
  for (int i = threadIdx.x; i < h; i += blockDim.x) x[(size_t)t * h + i] = __fmul_rn(half_bits_to_f32(row[i]), scale);
}

__global__ void EmbeddingQ8Kernel(float* x, const int8_t* codes, const uint16_t* d16, const int32_t* tokens, int h, float scale) {
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  const size_t row = (size_t)tokens[t];
  for (int i = threadIdx.x; i < h; i += blockDim.x) x[(size_t)t * h + i] = __fmul_rn((float)codes[row * h + i] * half_bits_to_f32(d16[row * (h / 32) + i / 32]), scale);
}

}  // namespace

void LaunchEmbedding(float* x, const uint16_t* table16, const int32_t* tokens, int T, int h, cudaStream_t s, float scale) {
  LaunchK(EmbeddingKernel, dim3(T), dim3(256), 0, s, x, table16, tokens, h, scale);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchEmbeddingQ8(float* x, const int8_t* codes, const uint16_t* d16, const int32_t* tokens, int T, int h, cudaStream_t s,
                       float scale) {
  CHECK_ARG(h % 32 == 0, "embedding q8_0: hidden size must be a multiple of 32");
  LaunchK(EmbeddingQ8Kernel, dim3(T), dim3(256), 0, s, x, codes, d16, tokens, h, scale);
}

}  // namespace engine
}  // namespace codecllm
