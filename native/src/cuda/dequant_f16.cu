// dequant_f16.cu — a quantized linear's weight -> fp16 (N, K), for the cuBLAS prefill GEMM (declared in gemm_blas.cuh).
// Each weight is rounded to fp16 exactly as engine_gemm.cu's GemmKernel rounds it while staging (int8 codes are
// exact; GGML blocks are fmaf(q, d, m) / q * d in fp32, then one round-to-nearest-even to half).
// Twin: ref::dequant_f16_split (engine/prefill_gemm_ref.h).
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>
#include <string>

#include "../check.h"
#include "engine.cuh"
#include "gemm_blas.cuh"
#include "ops_common.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

// one thread per 16 consecutive weights of a row (16 | K for every type): n16 = N * K / 16 groups
template <int WT>
__global__ void DequantF16Kernel(__half* __restrict__ dst, const void* __restrict__ Wv, const void* __restrict__ aux, int K, size_t n16) {
  PdlWait();
  PdlTrigger();
  for (size_t g = blockIdx.x * (size_t)blockDim.x + threadIdx.x; g < n16; g += (size_t)gridDim.x * blockDim.x) {
    const size_t e0 = g * 16, n = e0 / K;
    const int k0 = (int)(e0 % K);
    __align__(16) __half out[16];
    if (WT == kWeightI8Channel) {
      const uint4 v = *reinterpret_cast<const uint4*>(static_cast<const int8_t*>(Wv) + e0);
      const int8_t* b = reinterpret_cast<const int8_t*>(&v);
#pragma unroll
      for (int e = 0; e < 16; e++) out[e] = __int2half_rn(b[e]);
    } else if (WT == kWeightQ8_0) {
      const uint4 v = *reinterpret_cast<const uint4*>(static_cast<const int8_t*>(Wv) + e0);
      const float d = __half2float(static_cast<const __half*>(aux)[n * (K / 32) + k0 / 32]);
      const int8_t* b = reinterpret_cast<const int8_t*>(&v);
#pragma unroll
      for (int e = 0; e < 16; e++) out[e] = __float2half_rn((float)b[e] * d);
    } else {  // q4_1: the block's 16 nibble bytes hold elements j (low) and j + 16 (high)
      const int blk = k0 / 32, part = (k0 % 32) / 16;
      const uint4 v = *reinterpret_cast<const uint4*>(static_cast<const uint8_t*>(Wv) + n * (K / 2) + (size_t)blk * 16);
      const float2 dm = __half22float2(static_cast<const __half2*>(aux)[n * (K / 32) + blk]);
      const uint8_t* b = reinterpret_cast<const uint8_t*>(&v);
#pragma unroll
      for (int e = 0; e < 16; e++) out[e] = __float2half_rn(fmaf((float)(part ? b[e] >> 4 : b[e] & 0x0f), dm.x, dm.y));
    }
    uint4* d4 = reinterpret_cast<uint4*>(dst + e0);
    d4[0] = reinterpret_cast<const uint4*>(out)[0];
    d4[1] = reinterpret_cast<const uint4*>(out)[1];
  }
}

}  // namespace

void LaunchDequantF16(uint16_t* dst, const void* W, int wtype, const void* aux, int N, int K, cudaStream_t s) {
  CHECK_ARG(DequantF16Takes(wtype), "dequant f16: weight type " + std::to_string(wtype) + " (expected int8, q4_1 or q8_0)");
  const bool blocks = wtype == kWeightQ4_1 || wtype == kWeightQ8_0;
  CHECK_ARG(N > 0 && K > 0 && K % (blocks ? 32 : 16) == 0, "dequant f16: K=" + std::to_string(K) + " must be a positive multiple of " + (blocks ? "32" : "16"));
  CHECK_ARG(!blocks || aux, "dequant f16: block weights need their scales");
  const size_t n16 = (size_t)N * K / 16;
  __half* d = reinterpret_cast<__half*>(dst);
  const dim3 grid(GridFor(n16, 256)), block(256);
  switch (wtype) {
    case kWeightI8Channel: LaunchK(DequantF16Kernel<kWeightI8Channel>, grid, block, 0, s, d, W, aux, K, n16); break;
    case kWeightQ4_1: LaunchK(DequantF16Kernel<kWeightQ4_1>, grid, block, 0, s, d, W, aux, K, n16); break;
    case kWeightQ8_0: LaunchK(DequantF16Kernel<kWeightQ8_0>, grid, block, 0, s, d, W, aux, K, n16); break;
    default: THROW_ERROR("E_ARG", "dequant f16: weight type " + std::to_string(wtype) + " (expected int8, q4_1 or q8_0)");
  }
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
