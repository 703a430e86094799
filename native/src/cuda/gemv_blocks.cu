// gemv_blocks.cu — decode GEMV (and a plain prefill GEMM) on quantized weights kept resident as stored, never
// re-quantized: the GGML blocks q5_0, q4_k and q6_k exactly as the checkpoint holds them ("gguf" storage mode; Gemma 3's
// file uses all three), and the lab's 4-bit layouts int4 group (sym / asym) and nf4 group (codes + scales, common/quant4.h).
//
// GGML: W is (rows, K / E) blocks of common/blocks.h, row-major (one row = K / E consecutive blocks, E = Block::kElems).
// 4-bit: W = packed codes (rows, K/2), seg.scale = (rows, K/group) fp32, seg.aux = zero points (int4 asym) or null,
// GemvArgs::group. y (nb, rows) = x (nb, K) · Wᵀ (+ bias) (+= y), fp32 accumulate. Same GemvArgs as LaunchGemv
// (segments, prologue, nb input rows, bias, accumulate, PDL); LaunchGemv / LaunchGemm hand these types here.
//
// Work split: a row is cut into "units" of contiguous elements that share one scale (q5_0: halves of 16 — the low /
// high nibbles; q4_k: sub-blocks of 32; q6_k: sub-blocks of 16; 4-bit layouts: 8 elements = one 32-bit code word). One
// warp per weight row (W warps per CUDA block, rows strided over the grid); lane l takes units l, l + 32, ... of the
// row, dequantizes each unit into registers exactly as the reference does (blocks::dequant_block's blocks::mul / sub /
// scale_min_k4, or quant4::dequant — each rounded once), then dots it with every input row. Per lane the sum order
// does not depend on nb, so a batched launch equals the batch-1 launch row for row bit for bit. The input x is built by
// the shared prologue (gemv_prologue.cuh) in the plain layout.
//
// Loads are plain read-only loads (GGML blocks are 22 / 144 / 210 bytes: no common 16-byte alignment); this is a
// correct, readable first kernel, not yet tuned like engine_gemv.cu (no measurement yet). Twins (engine/ops_ref.h):
// ref::linear_q5_0 / linear_q4_k / linear_q6_k (dequant_block + double dot), ref::linear_q4_group (quant4::dequant_row
// + double dot); native/test/gpu_twins.cc cases gemv / gemm with q=3 (q5_0), 4 (q4_k), 5 (q6_k), 6 (int4 sym), 7 (int4 asym),
// 8 (nf4).
#include <cuda_fp16.h>

#include <algorithm>
#include <string>

#include "../check.h"
#include "common/blocks.h"
#include "common/quant4.h"
#include "engine.cuh"
#include "gemv_prologue.cuh"
#include "gemv_units.h"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

using units::Q4Units;
using units::RowSrc;
using units::Units;
using gemvp::Resolve;

template <class U, int NB, int W>
__global__ void __launch_bounds__(W * 32) GemvUnitsKernel(GemvArgs a) {
  constexpr int UE = U::kUnitElems;
  extern __shared__ __align__(16) float xs[];  // (NB, K) plain row-major (XIndex<4> is the identity)
  __shared__ float red[gemvp::kMaxWarps + 1];
  PdlWait();
  if (!a.late_trigger) PdlTrigger();
  gemvp::Prologue<NB, 4>(a, xs, red);
  const int K = a.K, units = K / UE;
  const int lane = threadIdx.x & 31;
  for (int row = blockIdx.x * W + (threadIdx.x >> 5); row < a.rows_total; row += gridDim.x * W) {
    int si, r;
    if (!Resolve(a, row, &si, &r)) break;
    const GemvSeg& sg = a.seg[si];
    const RowSrc src{static_cast<const uint8_t*>(sg.w), sg.scale, static_cast<const uint8_t*>(sg.aux), K, a.group};
    float acc[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) acc[b] = 0.f;
    for (int u = lane; u < units; u += 32) {
      float w[UE];
      U::Load(src, r, u, w);
      const int e0 = u * UE;
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
template <class U, int W>
__global__ void __launch_bounds__(W * 32) GemmUnitsKernel(const uint16_t* __restrict__ A, RowSrc src, const float* __restrict__ bias,
                                                          float* __restrict__ Y, int M, int N, bool accumulate) {
  constexpr int UE = U::kUnitElems, MT = 8;
  PdlWait();
  PdlTrigger();
  const int K = src.K, n = blockIdx.x * W + (threadIdx.x >> 5), m0 = blockIdx.y * MT, lane = threadIdx.x & 31;
  if (n >= N) return;
  const int units = K / UE, mt = min(MT, M - m0);
  float acc[MT];
#pragma unroll
  for (int t = 0; t < MT; t++) acc[t] = 0.f;
  for (int u = lane; u < units; u += 32) {
    float w[UE];
    U::Load(src, n, u, w);
    const int e0 = u * UE;
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

template <class U, int NB>
void LaunchUnitsNB(const GemvArgs& a, cudaStream_t s) {
  auto k = GemvUnitsKernel<U, NB, kRawW>;
  static const int smemMax = RawDevAttr(cudaDevAttrMaxSharedMemoryPerBlockOptin) - 1024;
  static const int sms = RawDevAttr(cudaDevAttrMultiProcessorCount);
  RaiseSmem(k, smemMax);
  const size_t smem = sizeof(float) * (size_t)NB * a.K;
  int perSm = 0;
  CHECK_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, k, kRawW * 32, smem));
  const int grid = std::max(1, std::min((a.rows_total + kRawW - 1) / kRawW, std::max(1, perSm) * sms));
  LaunchK(k, dim3(grid), dim3(kRawW * 32), smem, s, a);
}

template <class U>
void LaunchUnits(const GemvArgs& a, int nb, cudaStream_t s) {
  switch (nb) {
    case 1: return LaunchUnitsNB<U, 1>(a, s);
    case 2: return LaunchUnitsNB<U, 2>(a, s);
    case 3: return LaunchUnitsNB<U, 3>(a, s);
    case 4: return LaunchUnitsNB<U, 4>(a, s);
    case 5: return LaunchUnitsNB<U, 5>(a, s);
    case 6: return LaunchUnitsNB<U, 6>(a, s);
    case 7: return LaunchUnitsNB<U, 7>(a, s);
    default: return LaunchUnitsNB<U, 8>(a, s);
  }
}

/** Checks of a 4-bit layout launch: K and the group size (group % 8 == 0 and divides K); scales present. */
void CheckQ4(int wtype, int K, int group, const float* scale, const void* zero) {
  const std::string t = WeightTypeName(wtype);
  CHECK_ARG(group > 0 && group % 8 == 0 && K > 0 && K % group == 0,
            t + ": group size " + std::to_string(group) + " must be a positive multiple of 8 that divides K=" + std::to_string(K));
  CHECK_ARG(scale, t + ": no group scales");
  CHECK_ARG(wtype == kWeightI4Group || !zero, "nf4_group has no zero points");
}

}  // namespace

bool IsRawBlockType(int wtype) { return wtype == kWeightQ5_0 || wtype == kWeightQ4_K || wtype == kWeightQ6_K; }
bool IsQ4LayoutType(int wtype) { return wtype == kWeightI4Group || wtype == kWeightNF4Group; }

void LaunchGemvRawBlocks(const GemvArgs& a, int wtype, cudaStream_t s) {
  CHECK_ARG(IsRawBlockType(wtype) || IsQ4LayoutType(wtype),
            "gemv: weight type " + std::to_string(wtype) + " (" + WeightTypeName(wtype) + ") is not read by gemv_blocks.cu (q5_0, q4_k, q6_k, i4_group, nf4_group)");
  CHECK_ARG(a.nseg >= 1 && a.nseg <= kMaxSegs, "gemv: 1 to 3 segments");
  CHECK_ARG(a.nb >= 1, "gemv: nb must be >= 1");
  const int E = IsQ4LayoutType(wtype) ? 8 : WeightTypeById(wtype)->block_elems;
  CHECK_ARG(a.K > 0 && a.K <= kGemvMaxK && a.K % E == 0,
            std::string("gemv: ") + WeightTypeName(wtype) + " K=" + std::to_string(a.K) + " must be a positive multiple of " + std::to_string(E) +
                " up to " + std::to_string(kGemvMaxK));
  int rows = 0;
  for (int i = 0; i < a.nseg; i++) {
    CHECK_ARG(a.seg[i].w && a.seg[i].y && a.seg[i].rows > 0, "gemv: segment " + std::to_string(i) + " has no weights, output or rows");
    if (IsQ4LayoutType(wtype)) {
      CheckQ4(wtype, a.K, a.group, a.seg[i].scale, a.seg[i].aux);
      CHECK_ARG((a.seg[i].aux != nullptr) == (a.seg[0].aux != nullptr), "gemv: i4_group segments of one launch must all be sym or all asym");
    }
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
      case kWeightQ5_0: LaunchUnits<Units<kWeightQ5_0>>(c, nb, s); break;
      case kWeightQ4_K: LaunchUnits<Units<kWeightQ4_K>>(c, nb, s); break;
      case kWeightQ6_K: LaunchUnits<Units<kWeightQ6_K>>(c, nb, s); break;
      case kWeightNF4Group: LaunchUnits<Q4Units<quant4::kNf4>>(c, nb, s); break;
      case kWeightI4Group:
        if (a.seg[0].aux) LaunchUnits<Q4Units<quant4::kInt4Asym>>(c, nb, s);
        else LaunchUnits<Q4Units<quant4::kInt4Sym>>(c, nb, s);
        break;
    }
  }
}

void LaunchGemmRawBlocks(const uint16_t* A, const void* W, int wtype, const float* bias, float* Y, int M, int N, int K, bool accumulate,
                         cudaStream_t s, const float* scale, const void* zero, int group) {
  CHECK_ARG(IsRawBlockType(wtype) || IsQ4LayoutType(wtype), "gemm: weight type " + std::to_string(wtype) + " is not read by gemv_blocks.cu");
  const int E = IsQ4LayoutType(wtype) ? 8 : WeightTypeById(wtype)->block_elems;
  CHECK_ARG(M > 0 && N > 0 && K > 0 && K % E == 0, std::string("gemm: ") + WeightTypeName(wtype) + " needs M, N > 0 and K a multiple of " + std::to_string(E));
  if (IsQ4LayoutType(wtype)) CheckQ4(wtype, K, group, scale, zero);
  const dim3 grid((N + kRawW - 1) / kRawW, (M + 7) / 8), block(kRawW * 32);
  const RowSrc src{static_cast<const uint8_t*>(W), scale, static_cast<const uint8_t*>(zero), K, group};
  switch (wtype) {
    case kWeightQ5_0: LaunchK(GemmUnitsKernel<Units<kWeightQ5_0>, kRawW>, grid, block, 0, s, A, src, bias, Y, M, N, accumulate); break;
    case kWeightQ4_K: LaunchK(GemmUnitsKernel<Units<kWeightQ4_K>, kRawW>, grid, block, 0, s, A, src, bias, Y, M, N, accumulate); break;
    case kWeightQ6_K: LaunchK(GemmUnitsKernel<Units<kWeightQ6_K>, kRawW>, grid, block, 0, s, A, src, bias, Y, M, N, accumulate); break;
    case kWeightNF4Group: LaunchK(GemmUnitsKernel<Q4Units<quant4::kNf4>, kRawW>, grid, block, 0, s, A, src, bias, Y, M, N, accumulate); break;
    case kWeightI4Group:
      if (zero) LaunchK(GemmUnitsKernel<Q4Units<quant4::kInt4Asym>, kRawW>, grid, block, 0, s, A, src, bias, Y, M, N, accumulate);
      else LaunchK(GemmUnitsKernel<Q4Units<quant4::kInt4Sym>, kRawW>, grid, block, 0, s, A, src, bias, Y, M, N, accumulate);
      break;
  }
}

}  // namespace engine
}  // namespace codecllm
