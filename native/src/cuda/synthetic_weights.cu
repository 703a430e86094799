// synthetic_weights.cu — synthetic weights from a counter-based hash: normal fp32 values and q4_1 / q8_0 blocks (declared in engine.cuh).
// Twin: none (random inputs for benches; check-engine compares the engine built from them against the reference ops).
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

__device__ __forceinline__ uint32_t Hash32(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return (uint32_t)x;
}
__global__ void RandomNormalKernel(float* w, size_t n, uint64_t seed, float mean, float stdv) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t k = seed * 0x9e3779b97f4a7c15ull + 2 * i;
    float u1 = (Hash32(k) + 0.5f) * 2.3283064365386963e-10f;
    float u2 = (Hash32(k + 1) + 0.5f) * 2.3283064365386963e-10f;
    w[i] = mean + stdv * sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
  }
}

__global__ void RandomBlocksKernel(uint8_t* w, uint16_t* aux, int wtype, size_t rows, int K, uint64_t seed, float stdv) {
  PdlWait();
  PdlTrigger();
  const size_t nblk = rows * (size_t)(K / 32);
  for (size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x; b < nblk; b += (size_t)gridDim.x * blockDim.x) {
    const uint64_t k = seed * 0x9e3779b97f4a7c15ull + 64 * b;
    if (wtype == kWeightQ4_1) {
      for (int j = 0; j < 16; j++) w[b * 16 + j] = (uint8_t)(Hash32(k + j) & 0xff);
      const float d = stdv / 4.61f;
      aux[2 * b] = f32_to_half_bits(d);
      aux[2 * b + 1] = f32_to_half_bits(-7.5f * d);
    } else {
      for (int j = 0; j < 32; j++) w[b * 32 + j] = (uint8_t)(int8_t)((int)(Hash32(k + j) % 255u) - 127);
      aux[b] = f32_to_half_bits(stdv / 73.6f);
    }
  }
}

}  // namespace

void LaunchRandomBlocks(void* w, void* aux, int wtype, int rows, int K, uint64_t seed, float stdv, cudaStream_t s) {
  CHECK_ARG((wtype == kWeightQ4_1 || wtype == kWeightQ8_0) && K % 32 == 0, "random blocks: q4_1 or q8_0 with K % 32 == 0");
  const size_t nblk = (size_t)rows * (K / 32);
  LaunchK(RandomBlocksKernel, dim3(GridFor(nblk, 256)), dim3(256), 0, s, static_cast<uint8_t*>(w), static_cast<uint16_t*>(aux), wtype,
          (size_t)rows, K, seed, stdv);
}

void LaunchRandomNormal(float* w, size_t n, uint64_t seed, float mean, float stdv, cudaStream_t s) {
  LaunchK(RandomNormalKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, w, n, seed, mean, stdv);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
