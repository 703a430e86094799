// quantize_rows.cu — per-output-row symmetric int8 quantization of fp32 weights (declared in engine.cuh).
// Twin: src/quant/quantize.ts int8:per-channel (absmax / 127, round half to even).
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

// one block per row: absmax, then codes. Division in double so the codes equal nearbyint((double)w / scale).
__global__ void QuantizeRowsKernel(int8_t* codes, float* scale, const float* w, int K) {
  __shared__ float red[32];
  PdlWait();
  PdlTrigger();
  int r = blockIdx.x;
  const float* wr = w + (size_t)r * K;
  float m = 0;
  for (int i = threadIdx.x; i < K; i += blockDim.x) m = fmaxf(m, fabsf(wr[i]));
  m = BlockMax(m, red);
  float s = (float)((double)m / 127.0);
  if (threadIdx.x == 0) scale[r] = s;
  for (int i = threadIdx.x; i < K; i += blockDim.x) {
    double x = s == 0.f ? 0.0 : (double)wr[i] / (double)s;
    double c = rint(x);
    c = c > 127 ? 127 : (c < -127 ? -127 : c);
    codes[(size_t)r * K + i] = (int8_t)c;
  }
}

}  // namespace

void LaunchQuantizeRowsI8(int8_t* codes, float* scale, const float* w, int rows, int K, cudaStream_t s) {
  LaunchK(QuantizeRowsKernel, dim3(rows), dim3(256), 0, s, codes, scale, w, K);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
