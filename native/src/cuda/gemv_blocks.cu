// gemv_blocks.cu — decode GEMV (and a plain prefill GEMM) on GGML blocks kept exactly as the checkpoint stores them
// (no split, no re-quantization): q5_0, q4_k and q6_k ("gguf" storage mode; Gemma 3's file uses all three).
//
// W is (rows, K / E) blocks of common/blocks.h, row-major (one row = K / E consecutive blocks, E = Block::kElems);
// y (nb, rows) = x (nb, K) · Wᵀ (+ bias) (+= y), fp32 accumulate. Same GemvArgs as LaunchGemv (segments, prologue,
// nb input rows, bias, accumulate, PDL); LaunchGemv / LaunchGemm hand these types here.
//
// Work split: a block is cut into "units" of contiguous elements that share one scale (q5_0: 2 halves of 16 — the
// low / high nibbles; q4_k: 8 sub-blocks of 32; q6_k: 16 sub-blocks of 16). One warp per weight row (W warps per CUDA
// block, rows strided over the grid); lane l takes units l, l + 32, ... of the row, dequantizes each unit into
// registers exactly as blocks::dequant_block does (the same blocks::mul / sub / scale_min_k4, rounded once each), then
// dots it with every input row. Per lane the sum order does not depend on nb, so a batched launch equals the batch-1
// launch row for row bit for bit. The input x is built by the shared prologue (gemv_prologue.cuh) in the plain layout.
//
// Loads are plain read-only byte loads (blocks are 22 / 144 / 210 bytes: no common 16-byte alignment); this is a
// correct, readable first kernel, not yet tuned like engine_gemv.cu. Twins: ref::linear_block<Block> (dequant_block +
// dot, engine/ops_ref.h); gpu_kernel_test.cc cases gemv / gemm with q=3 (q5_0), 4 (q4_k), 5 (q6_k).
#include <cuda_fp16.h>

#include <algorithm>
#include <string>

#include "../check.h"
#include "common/blocks.h"
#include "engine.cuh"
#include "gemv_prologue.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

using blocks::mul;
using blocks::sub;

__device__ __forceinline__ uint16_t Ld16(const uint8_t* p) { return (uint16_t)(__ldg(p) | (__ldg(p + 1) << 8)); }
__device__ __forceinline__ float LdF16(const uint8_t* p) { return half_bits_to_f32(Ld16(p)); }

/** Unit split and per-unit dequantization of one raw-block type (values equal blocks::dequant_block bit for bit). */
template <int WT>
struct Raw;

template <>
struct Raw<kWeightQ5_0> {
  using Block = blocks::BlockQ5_0;
  static constexpr int kUnits = 2, kUnitElems = 16;
  /** unit h: elements 16h .. 16h+15 (h = 0: low nibbles + qh bits 0..15; h = 1: high nibbles + qh bits 16..31) */
  static __device__ __forceinline__ void Unit(const uint8_t* blk, int h, float* w) {
    const float d = LdF16(blk + offsetof(Block, d));
    const uint8_t* qhp = blk + offsetof(Block, qh);
    const uint32_t qh = (uint32_t)__ldg(qhp) | ((uint32_t)__ldg(qhp + 1) << 8) | ((uint32_t)__ldg(qhp + 2) << 16) |
                        ((uint32_t)__ldg(qhp + 3) << 24);
    const uint8_t* qs = blk + offsetof(Block, qs);
#pragma unroll
    for (int j = 0; j < 16; j++) {
      const uint8_t b = __ldg(qs + j);
      const int x = h == 0 ? (int)((b & 0x0f) | (((qh >> j) << 4) & 0x10)) - 16 : (int)((b >> 4) | ((qh >> (j + 12)) & 0x10)) - 16;
      w[j] = mul((float)x, d);
    }
  }
};

template <>
struct Raw<kWeightQ4_K> {
  using Block = blocks::BlockQ4_K;
  static constexpr int kUnits = 8, kUnitElems = 32;
  /** unit j: elements 32j .. 32j+31 = nibble (j & 1) of qs[32 (j/2) ..], scale / min j */
  static __device__ __forceinline__ void Unit(const uint8_t* blk, int j, float* w) {
    const float d = LdF16(blk + offsetof(Block, d)), dmin = LdF16(blk + offsetof(Block, dmin));
    uint8_t sc12[12];
#pragma unroll
    for (int i = 0; i < 12; i++) sc12[i] = __ldg(blk + offsetof(Block, scales) + i);
    uint8_t sc, mn;
    blocks::scale_min_k4(j, sc12, &sc, &mn);
    const float dl = mul(d, (float)sc), ml = mul(dmin, (float)mn);
    const uint8_t* q = blk + offsetof(Block, qs) + 32 * (j >> 1);
    const int shift = (j & 1) * 4;
#pragma unroll
    for (int l = 0; l < 32; l++) w[l] = sub(mul(dl, (float)((__ldg(q + l) >> shift) & 0x0f)), ml);
  }
};

template <>
struct Raw<kWeightQ6_K> {
  using Block = blocks::BlockQ6_K;
  static constexpr int kUnits = 16, kUnitElems = 16;
  /** unit s (scale s): half n = s / 8 of 128 elements, quarter g = (s % 8) / 2, 16-element half lh = s % 2; element
   *  128 n + 32 g + 16 lh + i = 16 s + i: low (g < 2) or high nibble of ql[64 n + 32 (g & 1) + l], 2 bits of qh[32 n + l]
   *  at shift 2 g (l = 16 lh + i), minus 32 */
  static __device__ __forceinline__ void Unit(const uint8_t* blk, int s, float* w) {
    const float d = LdF16(blk + offsetof(Block, d));
    const int n = s >> 3, g = (s & 7) >> 1, lh = s & 1;
    const float dl = mul(d, (float)(int8_t)__ldg(blk + offsetof(Block, scales) + s));
    const uint8_t* ql = blk + offsetof(Block, ql) + 64 * n + 32 * (g & 1) + 16 * lh;
    const uint8_t* qh = blk + offsetof(Block, qh) + 32 * n + 16 * lh;
    const int lshift = g < 2 ? 0 : 4, hshift = 2 * g;
#pragma unroll
    for (int i = 0; i < 16; i++) {
      const int q = (int)(((__ldg(ql + i) >> lshift) & 0x0f) | (((__ldg(qh + i) >> hshift) & 3) << 4)) - 32;
      w[i] = mul(dl, (float)q);
    }
  }
};

/** Maps a launch row to (segment, row in segment); false past the last segment. */
__device__ __forceinline__ bool ResolveRow(const GemvArgs& a, int row, int* si, int* r) {
  int s = 0;
  while (s < a.nseg && row >= a.seg[s].rows) {
    row -= a.seg[s].rows;
    s++;
  }
  *si = s;
  *r = row;
  return s < a.nseg;
}

template <int WT, int NB, int W>
__global__ void __launch_bounds__(W * 32) GemvRawKernel(GemvArgs a) {
  using T = Raw<WT>;
  using Block = typename T::Block;
  constexpr int E = Block::kElems, UE = T::kUnitElems;
  extern __shared__ __align__(16) float xs[];  // (NB, K) plain row-major (XIndex<4> is the identity)
  __shared__ float red[gemvp::kMaxWarps + 1];
  PdlWait();
  if (!a.late_trigger) PdlTrigger();
  gemvp::Prologue<NB, 4>(a, xs, red);
  const int K = a.K, nblk = K / E, units = nblk * T::kUnits;
  const int lane = threadIdx.x & 31;
  for (int row = blockIdx.x * W + (threadIdx.x >> 5); row < a.rows_total; row += gridDim.x * W) {
    int si, r;
    if (!ResolveRow(a, row, &si, &r)) break;
    const GemvSeg& sg = a.seg[si];
    const uint8_t* wrow = static_cast<const uint8_t*>(sg.w) + (size_t)r * nblk * sizeof(Block);
    float acc[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) acc[b] = 0.f;
    for (int u = lane; u < units; u += 32) {
      const int bi = u / T::kUnits, ui = u % T::kUnits;
      float w[UE];
      T::Unit(wrow + (size_t)bi * sizeof(Block), ui, w);
      const int e0 = bi * E + ui * UE;
#pragma unroll
      for (int b = 0; b < NB; b++) {
        const float* x = xs + (size_t)b * K + e0;
        float s = 0.f;
#pragma unroll
        for (int i = 0; i < UE; i++) s = fmaf(w[i], x[i], s);
        acc[b] += s;
      }
    }
#pragma unroll
    for (int b = 0; b < NB; b++) {
      float v = acc[b];
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0) {
        float y = v;
        if (sg.bias) y += sg.bias[r];
        float* dst = sg.y + (size_t)b * sg.rows + r;
        if (a.accumulate) y += *dst;
        *dst = y;
      }
    }
  }
  if (a.late_trigger) PdlTrigger();
}

/** Prefill: Y (M, N) (+)= A16 (M, K) · Wᵀ (+ bias); one warp per weight row n, up to 8 tokens per CUDA block (y). */
template <int WT, int W>
__global__ void __launch_bounds__(W * 32) GemmRawKernel(const uint16_t* __restrict__ A, const uint8_t* __restrict__ Wt,
                                                        const float* __restrict__ bias, float* __restrict__ Y, int M, int N, int K,
                                                        bool accumulate) {
  using T = Raw<WT>;
  using Block = typename T::Block;
  constexpr int E = Block::kElems, UE = T::kUnitElems, MT = 8;
  PdlWait();
  PdlTrigger();
  const int n = blockIdx.x * W + (threadIdx.x >> 5), m0 = blockIdx.y * MT, lane = threadIdx.x & 31;
  if (n >= N) return;
  const int nblk = K / E, units = nblk * T::kUnits, mt = min(MT, M - m0);
  const uint8_t* wrow = Wt + (size_t)n * nblk * sizeof(Block);
  float acc[MT];
#pragma unroll
  for (int t = 0; t < MT; t++) acc[t] = 0.f;
  for (int u = lane; u < units; u += 32) {
    const int bi = u / T::kUnits, ui = u % T::kUnits;
    float w[UE];
    T::Unit(wrow + (size_t)bi * sizeof(Block), ui, w);
    const int e0 = bi * E + ui * UE;
#pragma unroll
    for (int t = 0; t < MT; t++) {
      if (t >= mt) break;
      const uint16_t* a = A + (size_t)(m0 + t) * K + e0;
      float s = 0.f;
#pragma unroll
      for (int i = 0; i < UE; i++) s = fmaf(w[i], half_bits_to_f32(__ldg(a + i)), s);
      acc[t] += s;
    }
  }
#pragma unroll
  for (int t = 0; t < MT; t++) {
    float v = acc[t];
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == 0 && t < mt) {
      float y = v + (bias ? bias[n] : 0.f);
      float* dst = Y + (size_t)(m0 + t) * N + n;
      if (accumulate) y += *dst;
      *dst = y;
    }
  }
}

int RawDevAttr(cudaDeviceAttr attr) {
  int dev = 0, v = 0;
  CHECK_CUDA(cudaGetDevice(&dev));
  CHECK_CUDA(cudaDeviceGetAttribute(&v, attr, dev));
  return v;
}

constexpr int kRawW = 8;  // warps (rows in flight) per CUDA block

template <int WT, int NB>
void LaunchRawNB(const GemvArgs& a, cudaStream_t s) {
  auto k = GemvRawKernel<WT, NB, kRawW>;
  static const int smemMax = RawDevAttr(cudaDevAttrMaxSharedMemoryPerBlockOptin) - 1024;
  static const int sms = RawDevAttr(cudaDevAttrMultiProcessorCount);
  RaiseSmem(k, smemMax);
  const size_t smem = sizeof(float) * (size_t)NB * a.K;
  int perSm = 0;
  CHECK_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, k, kRawW * 32, smem));
  const int grid = std::max(1, std::min((a.rows_total + kRawW - 1) / kRawW, std::max(1, perSm) * sms));
  LaunchK(k, dim3(grid), dim3(kRawW * 32), smem, s, a);
}

template <int WT>
void LaunchRawWT(const GemvArgs& a, int nb, cudaStream_t s) {
  switch (nb) {
    case 1: return LaunchRawNB<WT, 1>(a, s);
    case 2: return LaunchRawNB<WT, 2>(a, s);
    case 3: return LaunchRawNB<WT, 3>(a, s);
    case 4: return LaunchRawNB<WT, 4>(a, s);
    case 5: return LaunchRawNB<WT, 5>(a, s);
    case 6: return LaunchRawNB<WT, 6>(a, s);
    case 7: return LaunchRawNB<WT, 7>(a, s);
    default: return LaunchRawNB<WT, 8>(a, s);
  }
}

}  // namespace

bool IsRawBlockType(int wtype) { return wtype == kWeightQ5_0 || wtype == kWeightQ4_K || wtype == kWeightQ6_K; }

void LaunchGemvRawBlocks(const GemvArgs& a, int wtype, cudaStream_t s) {
  CHECK_ARG(IsRawBlockType(wtype), "gemv: weight type " + std::to_string(wtype) + " (" + WeightTypeName(wtype) + ") is not a raw-block GEMV type (q5_0, q4_k, q6_k)");
  CHECK_ARG(a.nseg >= 1 && a.nseg <= kMaxSegs, "gemv: 1 to 3 segments");
  CHECK_ARG(a.nb >= 1, "gemv: nb must be >= 1");
  const int E = WeightTypeById(wtype)->block_elems;
  CHECK_ARG(a.K > 0 && a.K <= kGemvMaxK && a.K % E == 0,
            std::string("gemv: ") + WeightTypeName(wtype) + " K=" + std::to_string(a.K) + " must be a positive multiple of " + std::to_string(E) +
                " up to " + std::to_string(kGemvMaxK));
  int rows = 0;
  for (int i = 0; i < a.nseg; i++) {
    CHECK_ARG(a.seg[i].w && a.seg[i].y && a.seg[i].rows > 0, "gemv: segment " + std::to_string(i) + " has no weights, output or rows");
    rows += a.seg[i].rows;
  }
  static const int smemMax = RawDevAttr(cudaDevAttrMaxSharedMemoryPerBlockOptin) - 1024;
  const int step = std::max(1, std::min(8, smemMax / (int)(sizeof(float) * a.K)));
  for (int b0 = 0; b0 < a.nb; b0 += step) {
    const int nb = std::min(step, a.nb - b0);
    GemvArgs c = a;
    c.in = a.in + (size_t)b0 * a.K;
    if (a.in2) c.in2 = a.in2 + (size_t)b0 * a.K;
    for (int i = 0; i < a.nseg; i++) c.seg[i].y = a.seg[i].y + (size_t)b0 * a.seg[i].rows;
    c.nb = nb;
    c.rows_total = rows;
    switch (wtype) {
      case kWeightQ5_0: LaunchRawWT<kWeightQ5_0>(c, nb, s); break;
      case kWeightQ4_K: LaunchRawWT<kWeightQ4_K>(c, nb, s); break;
      case kWeightQ6_K: LaunchRawWT<kWeightQ6_K>(c, nb, s); break;
    }
  }
}

void LaunchGemmRawBlocks(const uint16_t* A, const void* W, int wtype, const float* bias, float* Y, int M, int N, int K, bool accumulate,
                         cudaStream_t s) {
  CHECK_ARG(IsRawBlockType(wtype), "gemm: weight type " + std::to_string(wtype) + " is not a raw-block type (q5_0, q4_k, q6_k)");
  const int E = WeightTypeById(wtype)->block_elems;
  CHECK_ARG(M > 0 && N > 0 && K > 0 && K % E == 0, std::string("gemm: ") + WeightTypeName(wtype) + " needs M, N > 0 and K a multiple of " + std::to_string(E));
  const dim3 grid((N + kRawW - 1) / kRawW, (M + 7) / 8), block(kRawW * 32);
  const uint8_t* w = static_cast<const uint8_t*>(W);
  switch (wtype) {
    case kWeightQ5_0: LaunchK(GemmRawKernel<kWeightQ5_0, kRawW>, grid, block, 0, s, A, w, bias, Y, M, N, K, accumulate); break;
    case kWeightQ4_K: LaunchK(GemmRawKernel<kWeightQ4_K, kRawW>, grid, block, 0, s, A, w, bias, Y, M, N, K, accumulate); break;
    case kWeightQ6_K: LaunchK(GemmRawKernel<kWeightQ6_K, kRawW>, grid, block, 0, s, A, w, bias, Y, M, N, K, accumulate); break;
  }
}

}  // namespace engine
}  // namespace codecllm
