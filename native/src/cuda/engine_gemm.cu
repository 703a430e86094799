// engine_gemm.cu — prefill GEMM on tensor cores (WMMA 16x16x16, fp16 in, fp32 accumulate):
//   Y (M, N) (+)= A (M, K) · Wᵀ (* scale[n]) (+ bias[n]),  A (M, K) fp16, W (N, K) fp16 or int8 codes.
// int8 codes are exact in fp16, so the int8 path converts codes to half while staging W in shared memory and applies
// the per-row scale in the epilogue (no dequantized copy of the weight in global memory).
// A plain 64x64 block tile, 4 warps of 32x32, K step 32, one shared-memory stage: written for clarity; prefill is
// compute-light at these sizes (a 135M model at T=128 is 35 GFLOP) and this is not the decode hot path.
// GGML block weights (q4_1, q8_0) are dequantized to half while staging (BK = 32 = one block per row per step).
// Twin: ref::linear_f16 / ref::linear_i8_channel / ref::linear_q4_1 / ref::linear_q8_0 with T = M (inputs rounded to
// fp16 first).
#include <cuda_fp16.h>
#include <mma.h>

#include <cstdint>

#include "../check.h"
#include "engine.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {
using namespace nvcuda;

constexpr int BM = 64, BN = 64, BK = 32, PAD = 8, LDS = BK + PAD;

template <int WT>
__global__ void __launch_bounds__(128) GemmKernel(const __half* __restrict__ A, const void* __restrict__ Wv,
                                                  const float* __restrict__ scale, const float* __restrict__ bias,
                                                  float* __restrict__ Y, int M, int N, int K, bool accumulate,
                                                  const void* __restrict__ aux) {
  __shared__ __align__(32) __half As[BM * LDS];
  __shared__ __align__(32) __half Bs[BN * LDS];
  __shared__ __align__(32) float Cs[BM * BN];
  PdlWait();
  PdlTrigger();
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int warp = threadIdx.x >> 5;
  const int wm = (warp >> 1) * 32, wn = (warp & 1) * 32;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);

  for (int k0 = 0; k0 < K; k0 += BK) {
    // A tile: 64 rows x 32 halves = 256 16-byte words, 2 per thread
    for (int w = threadIdx.x; w < BM * BK / 8; w += 128) {
      int r = w / (BK / 8), c = (w % (BK / 8)) * 8;
      uint4 v = make_uint4(0, 0, 0, 0);
      if (m0 + r < M && k0 + c < K) v = *reinterpret_cast<const uint4*>(A + (size_t)(m0 + r) * K + k0 + c);
      *reinterpret_cast<uint4*>(&As[r * LDS + c]) = v;
    }
    if (WT == kWeightF16) {
      const __half* W = static_cast<const __half*>(Wv);
      for (int w = threadIdx.x; w < BN * BK / 8; w += 128) {
        int r = w / (BK / 8), c = (w % (BK / 8)) * 8;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (n0 + r < N && k0 + c < K) v = *reinterpret_cast<const uint4*>(W + (size_t)(n0 + r) * K + k0 + c);
        *reinterpret_cast<uint4*>(&Bs[r * LDS + c]) = v;
      }
    } else if (WT == kWeightQ4_1 || WT == kWeightQ8_0) {
      // GGML blocks: BK = 32 = one block per row per step; each thread dequantizes half a block (16 weights) to half
      // (the weight rounded to fp16, as the fp16 path holds it)
      for (int w = threadIdx.x; w < BN * 2; w += 128) {
        const int r = w >> 1, part = w & 1, n = n0 + r, blk = k0 / 32;
        __half* dst = &Bs[r * LDS + part * 16];
        if (n >= N || k0 >= K) {
#pragma unroll
          for (int e = 0; e < 16; e++) dst[e] = __float2half(0.f);
          continue;
        }
        if (WT == kWeightQ4_1) {
          const uint4 v = *reinterpret_cast<const uint4*>(static_cast<const uint8_t*>(Wv) + (size_t)n * (K / 2) + (size_t)blk * 16);
          const float2 dm = __half22float2(static_cast<const __half2*>(aux)[(size_t)n * (K / 32) + blk]);
          const uint8_t* b = reinterpret_cast<const uint8_t*>(&v);
#pragma unroll
          for (int e = 0; e < 16; e++) dst[e] = __float2half(fmaf((float)(part ? b[e] >> 4 : b[e] & 0x0f), dm.x, dm.y));
        } else {
          const uint4 v = *reinterpret_cast<const uint4*>(static_cast<const int8_t*>(Wv) + (size_t)n * K + k0 + part * 16);
          const float d = __half2float(static_cast<const __half*>(aux)[(size_t)n * (K / 32) + blk]);
          const int8_t* b = reinterpret_cast<const int8_t*>(&v);
#pragma unroll
          for (int e = 0; e < 16; e++) dst[e] = __float2half((float)b[e] * d);
        }
      }
    } else {
      const int8_t* W = static_cast<const int8_t*>(Wv);
      for (int w = threadIdx.x; w < BN * BK / 16; w += 128) {
        int r = w / (BK / 16), c = (w % (BK / 16)) * 16;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (n0 + r < N && k0 + c < K) v = *reinterpret_cast<const uint4*>(W + (size_t)(n0 + r) * K + k0 + c);
        const int8_t* b = reinterpret_cast<const int8_t*>(&v);
#pragma unroll
        for (int e = 0; e < 16; e++) Bs[r * LDS + c + e] = __int2half_rn(b[e]);
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> fb[2];
      for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], &As[(wm + 16 * i) * LDS + kk], LDS);
      for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], &Bs[(wn + 16 * j) * LDS + kk], LDS);
      for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 2; j++)
      wmma::store_matrix_sync(&Cs[(wm + 16 * i) * BN + wn + 16 * j], acc[i][j], BN, wmma::mem_row_major);
  __syncthreads();
  for (int e = threadIdx.x; e < BM * BN; e += 128) {
    int r = e / BN, c = e % BN;
    int m = m0 + r, n = n0 + c;
    if (m >= M || n >= N) continue;
    float y = Cs[e];
    if (WT == kWeightI8Channel) y *= scale[n];
    if (bias) y += bias[n];
    float* dst = Y + (size_t)m * N + n;
    *dst = accumulate ? *dst + y : y;
  }
}

}  // namespace

void LaunchGemm(const uint16_t* A, const void* W, int wtype, const float* scale, const float* bias, float* Y, int M, int N,
                int K, bool accumulate, cudaStream_t s, const void* aux, int group) {
  // q5_0, q4_k, q6_k raw blocks and the 4-bit lab layouts (scale = group scales, aux = zero points): gemv_blocks.cu
  if (IsRawBlockType(wtype) || IsQ4LayoutType(wtype)) return LaunchGemmRawBlocks(A, W, wtype, bias, Y, M, N, K, accumulate, s, scale, aux, group);
  const bool blocks = wtype == kWeightQ4_1 || wtype == kWeightQ8_0;
  CHECK_ARG(M > 0 && N > 0 && K > 0 && K % (blocks ? 32 : 16) == 0,
            "gemm: K=" + std::to_string(K) + " must be a positive multiple of " + (blocks ? "32" : "16"));
  CHECK_ARG(!blocks || aux, "gemm: block weights need their scales");
  dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM);
  const __half* a16 = reinterpret_cast<const __half*>(A);
  switch (wtype) {
    case kWeightF16: LaunchK(GemmKernel<kWeightF16>, grid, dim3(128), 0, s, a16, W, scale, bias, Y, M, N, K, accumulate, aux); break;
    case kWeightI8Channel: LaunchK(GemmKernel<kWeightI8Channel>, grid, dim3(128), 0, s, a16, W, scale, bias, Y, M, N, K, accumulate, aux); break;
    case kWeightQ4_1: LaunchK(GemmKernel<kWeightQ4_1>, grid, dim3(128), 0, s, a16, W, scale, bias, Y, M, N, K, accumulate, aux); break;
    case kWeightQ8_0: LaunchK(GemmKernel<kWeightQ8_0>, grid, dim3(128), 0, s, a16, W, scale, bias, Y, M, N, K, accumulate, aux); break;
    default: THROW_ERROR("E_ARG", "gemm: unknown weight type " + std::to_string(wtype));
  }
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
