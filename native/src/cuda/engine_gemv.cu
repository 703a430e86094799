// engine_gemv.cu — GEMV for decode, y (nb, rows) = x (nb, K) · W (rows, K)ᵀ, fp16 or int8 (per-row scale) weights,
// for nb = 1 (batch-1 decode) up to 8 input rows at once (batched decode: each weight byte is read once for all rows).
//
// Memory-bound: every weight byte is read once with 16-byte non-caching loads, coalesced across the warp (lane l
// reads bytes [16 l, 16 l + 16) of each 512-byte stretch of a row). A warp computes R = 2 rows at a time (each input
// value read from shared memory serves both), 8 warps per block; a lane keeps U = 4 words of each row in flight in
// two register buffers (the next U are loaded while the current U are summed). The kernel is persistent over rows:
// the grid is what fits on the GPU at once (occupancy × SMs) and each warp walks its row sets, issuing the next set's
// first loads before the current set's epilogue — so the prologue runs once per block, not once per 16 rows.
// fp32 accumulate; int8 codes become floats through a byte permute (Dot4I8), not the quarter-rate I2F; the input sits
// in shared memory in a conflict-free layout (XIndex). The input rows are built once per block by a prologue (plain
// copy, fused RMSNorm, or fused SwiGLU; vectorized), which saves a launch and a round trip of the activation through
// global memory per step. Up to three weights sharing the input (q|k|v, gate|up) run in one launch ("segments").
// Measured on the H100 (TinyLlama shape, fp16, 2026-11-26, BENCHMARKS.md): persistence 1.150 -> 1.121 ms/token at
// batch 1 and 4.15 -> 2.80 ms/step at batch 8.
//
// Launch overlap (pdl.cuh): the first U words of each row are loaded *before* PdlWait, so under PDL the weight stream
// starts while the previous kernel drains; the prologue (which reads the previous kernel's output) runs after the
// wait; the next kernel may launch right after the wait (it gets SM slots only as this one's blocks retire).
// Measurement switches (results are the same): CODECLLM_GEMV_PREFETCH=0 (first loads after the wait),
// CODECLLM_PDL_LATE_TRIGGER=1 (next kernel only after this one's rows), CODECLLM_GEMV_PERSISTENT=0 (one block per
// 16 rows), CODECLLM_GEMV_BLOCKS_PER_SM=n, CODECLLM_GEMV_SHAPE=8x1x8|16x1x8 (W x R x U at batch 1).
//
// Every lane sums its words one at a time in word order, whatever U, R and nb are, and the prologue is the same per
// input row, so row b of a batched launch equals the batch-1 launch on that row bit for bit (scripts/gpu/
// check-engine.ts checks the engine's batched decode against single-sequence decode).
// Twins: ref::linear_f16 and ref::linear_i8_channel (+ ref::rmsnorm / ref::swiglu for the prologues).
#include <cuda_fp16.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "../check.h"
#include "../env.h"
#include "engine.cuh"
#include "gemv_prologue.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

using gemvp::kMaxWarps;
using gemvp::Prologue;
using gemvp::Resolve;
using gemvp::XIndex;

__device__ __forceinline__ uint4 LoadStream(const void* p) {
  uint4 r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];"
               : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
               : "l"(p));
  return r;
}

// x in shared memory is stored as EPW/4 planes of float4 (see XIndex): the 4-float groups of word wi lie at
// x4[m * nw + wi], so the 32 lanes of a warp (consecutive wi) read consecutive 16-byte cells — no bank conflicts.
// (A plain layout puts lane l's floats 32 or 64 bytes apart: 2- or 4-way conflicts on every read, which made the
// int8 GEMV shared-memory bound — slower than fp16 on the TinyLlama shape, H200 2026-11-26.)
__device__ __forceinline__ float Dot8F16(uint4 w, const float4* x4, int nw, int wi) {
  const __half2* h = reinterpret_cast<const __half2*>(&w);
  float4 a = x4[wi];
  float4 b = x4[nw + wi];
  float2 f0 = __half22float2(h[0]), f1 = __half22float2(h[1]), f2 = __half22float2(h[2]), f3 = __half22float2(h[3]);
  return f0.x * a.x + f0.y * a.y + f1.x * a.z + f1.y * a.w + f2.x * b.x + f2.y * b.y + f3.x * b.z + f3.y * b.w;
}

// int8 -> fp32 without I2F (a quarter-rate conversion on sm_90): with u = w ^ 0x80808080 (offset binary), the float
// whose bits are 0x4B0000uu is 2^23 + uu exactly, so subtracting 2^23 + 128 gives the code exactly — the same value
// (float)(int8_t) gives, at one byte-permute and one add per weight.
__device__ __forceinline__ float I8At(uint32_t u, uint32_t sel) {
  return __uint_as_float(__byte_perm(u, 0x4B000000u, sel)) - 8388736.f;
}
__device__ __forceinline__ float Dot4I8(uint32_t w, float4 a) {
  const uint32_t u = w ^ 0x80808080u;
  return I8At(u, 0x7440) * a.x + I8At(u, 0x7441) * a.y + I8At(u, 0x7442) * a.z + I8At(u, 0x7443) * a.w;
}
__device__ __forceinline__ float Dot16I8(uint4 w, const float4* x4, int nw, int wi) {
  return Dot4I8(w.x, x4[wi]) + Dot4I8(w.y, x4[nw + wi]) + Dot4I8(w.z, x4[2 * nw + wi]) + Dot4I8(w.w, x4[3 * nw + wi]);
}

// q4_1 word = one 32-weight block: byte j of the word holds element j (low nibble) and j + 16 (high nibble); weight =
// fma(q, d, m) — q·d is exact, so this is float(q·d) + m rounded once, the value ref::dequant_q4_1_block gives.
__device__ __forceinline__ float NibAt(uint32_t v, uint32_t sel) {  // v: 4 bytes of 0..15
  return __uint_as_float(__byte_perm(v, 0x4B000000u, sel)) - 8388608.f;
}
__device__ __forceinline__ float Dot4Q41(uint32_t v, float d, float m, float4 a) {
  return fmaf(NibAt(v, 0x7440), d, m) * a.x + fmaf(NibAt(v, 0x7441), d, m) * a.y + fmaf(NibAt(v, 0x7442), d, m) * a.z +
         fmaf(NibAt(v, 0x7443), d, m) * a.w;
}
__device__ __forceinline__ float Dot32Q41(uint4 w, uint32_t dm, const float4* x4, int nw, int wi) {
  const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&dm));
  const uint32_t u[4] = {w.x, w.y, w.z, w.w};
  float s = 0;
#pragma unroll
  for (int k = 0; k < 4; k++) {  // u[k]: elements 4k..4k+3 (low nibbles) and 16+4k.. (high nibbles)
    s += Dot4Q41(u[k] & 0x0F0F0F0Fu, f.x, f.y, x4[k * nw + wi]);
    s += Dot4Q41((u[k] >> 4) & 0x0F0F0F0Fu, f.x, f.y, x4[(k + 4) * nw + wi]);
  }
  return s;
}
// q8_0: a word is half a block (16 codes); weight = q·d, exact in float.
__device__ __forceinline__ float Dot4Q80(uint32_t w, float d, float4 a) {
  const uint32_t u = w ^ 0x80808080u;
  return (I8At(u, 0x7440) * d) * a.x + (I8At(u, 0x7441) * d) * a.y + (I8At(u, 0x7442) * d) * a.z + (I8At(u, 0x7443) * d) * a.w;
}
__device__ __forceinline__ float Dot16Q80(uint4 w, uint32_t dbits, const float4* x4, int nw, int wi) {
  const float d = half_bits_to_f32((uint16_t)dbits);
  return Dot4Q80(w.x, d, x4[wi]) + Dot4Q80(w.y, d, x4[nw + wi]) + Dot4Q80(w.z, d, x4[2 * nw + wi]) + Dot4Q80(w.w, d, x4[3 * nw + wi]);
}

/** Weights per 16-byte word and bytes per weight row, by type. */
template <int WT>
struct WTraits {
  static constexpr int EPW = WT == kWeightF16 ? 8 : WT == kWeightQ4_1 ? 32 : 16;
  static constexpr bool kAux = WT == kWeightQ4_1 || WT == kWeightQ8_0;
  static __device__ __forceinline__ size_t RowBytes(int K) { return WT == kWeightF16 ? 2 * (size_t)K : WT == kWeightQ4_1 ? K / 2 : K; }
  /** aux value of word wi of row `row` (block scale bits) */
  static __device__ __forceinline__ uint32_t Aux(const void* aux, int row, int K, int wi) {
    if (WT == kWeightQ4_1) return __ldg(static_cast<const uint32_t*>(aux) + (size_t)row * (K / 32) + wi);
    if (WT == kWeightQ8_0) return __ldg(static_cast<const uint16_t*>(aux) + (size_t)row * (K / 32) + wi / 2);
    return 0;
  }
};

template <int WT>
__device__ __forceinline__ float DotW(uint4 w, uint32_t aux, const float4* x4, int nw, int wi) {
  if (WT == kWeightF16) return Dot8F16(w, x4, nw, wi);
  if (WT == kWeightQ4_1) return Dot32Q41(w, aux, x4, nw, wi);
  if (WT == kWeightQ8_0) return Dot16Q80(w, aux, x4, nw, wi);
  return Dot16I8(w, x4, nw, wi);
}

/** Loads words j0 .. j0+U-1 of this lane (word index c = lane + 32 j) of each row, and their block scales (block
 *  types); absent words are skipped. */
template <int WT, int R, int U>
__device__ __forceinline__ void LoadChunk(uint4 (&v)[R][U], uint32_t (&av)[R][U], const uint8_t* const (&w)[R], const int (&row)[R],
                                          const void* const (&aux)[R], int K, int lane, int j0, int J) {
#pragma unroll
  for (int r = 0; r < R; r++)
#pragma unroll
    for (int u = 0; u < U; u++)
      if (w[r] && j0 + u < J) {
        v[r][u] = LoadStream(w[r] + 16 * (size_t)(lane + 32 * (j0 + u)));
        if (WTraits<WT>::kAux) av[r][u] = WTraits<WT>::Aux(aux[r], row[r], K, lane + 32 * (j0 + u));
      }
}
/** acc[r][b] += word · x for words j0 .. j0+U-1 — one word at a time, in word order, whatever U and R are. */
template <int WT, int NB, int R, int U>
__device__ __forceinline__ void ComputeChunk(float (&acc)[R][NB], const uint4 (&v)[R][U], const uint32_t (&av)[R][U], const float* xs,
                                             int K, int lane, int j0, int J) {
  constexpr int EPW = WTraits<WT>::EPW;
  const int nw = K / EPW;
#pragma unroll
  for (int u = 0; u < U; u++) {
    if (j0 + u >= J) break;
    const int wi = lane + 32 * (j0 + u);
#pragma unroll
    for (int b = 0; b < NB; b++) {
      const float4* x4 = reinterpret_cast<const float4*>(xs + (size_t)b * K);
#pragma unroll
      for (int r = 0; r < R; r++) acc[r][b] += DotW<WT>(v[r][u], av[r][u], x4, nw, wi);
    }
  }
}

/** Weight row pointers (and aux arrays) of launch rows row0 .. row0+R-1 (null past the last segment). */
template <int WT, int R>
__device__ __forceinline__ bool RowSet(const GemvArgs& a, int row0, const uint8_t* (&w)[R], const void* (&ax)[R], int (&si)[R],
                                       int (&rr)[R]) {
  bool any = false;
#pragma unroll
  for (int r = 0; r < R; r++) {
    bool ok = Resolve(a, row0 + r, &si[r], &rr[r]);
    w[r] = ok ? static_cast<const uint8_t*>(a.seg[si[r]].w) + (size_t)rr[r] * WTraits<WT>::RowBytes(a.K) : nullptr;
    ax[r] = ok ? a.seg[si[r]].aux : nullptr;
    any |= ok;
  }
  return any;
}

// Persistent over rows: the grid is at most what fits on the GPU at once, and each warp walks row sets
// row0, row0 + stride, … (stride = all warps × R), so the prologue runs once per block rather than once per W·R rows,
// and the first loads of a warp's next rows are issued before the current rows' epilogue.
template <int WT, int NB, int R, int U, int W>
__global__ void __launch_bounds__(W * 32) GemvKernel(GemvArgs a) {
  extern __shared__ __align__(16) float xs[];  // (NB, K), each row in XIndex order
  __shared__ float red[kMaxWarps + 1];
  constexpr int EPW = WTraits<WT>::EPW;  // weights per 16-byte word
  const int K = a.K, nw = K / EPW;       // words per row
  const int lane = threadIdx.x & 31;
  const int J = lane < nw ? (nw - lane + 31) / 32 : 0;  // words of this lane
  const int Jmax = (nw + 31) / 32;                      // uniform over the warp
  const int stride = gridDim.x * W * R;
  int row0 = (blockIdx.x * W + (threadIdx.x >> 5)) * R;
  const uint8_t* w[R];
  const void* ax[R];
  int si[R], rr[R];
  RowSet<WT, R>(a, row0, w, ax, si, rr);
  // ---- weight prefetch: the first U words of each row (weights are not written by the forward: safe before the wait)
  uint4 v0[R][U], v1[R][U];
  uint32_t a0[R][U], a1[R][U];
  if (a.prefetch) LoadChunk<WT, R, U>(v0, a0, w, rr, ax, K, lane, 0, J);
  PdlWait();
  if (!a.late_trigger) PdlTrigger();
  if (!a.prefetch) LoadChunk<WT, R, U>(v0, a0, w, rr, ax, K, lane, 0, J);
  Prologue<NB, EPW>(a, xs, red);
  for (; row0 < a.rows_total; row0 += stride) {
    float acc[R][NB];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
      for (int b = 0; b < NB; b++) acc[r][b] = 0.f;
    // ---- two register buffers: the loads of chunk j0+U are in flight while chunk j0 is summed
    for (int j0 = 0; j0 < Jmax; j0 += 2 * U) {
      if (j0 + U < Jmax) LoadChunk<WT, R, U>(v1, a1, w, rr, ax, K, lane, j0 + U, J);
      ComputeChunk<WT, NB, R, U>(acc, v0, a0, xs, K, lane, j0, J);
      if (j0 + U >= Jmax) break;
      if (j0 + 2 * U < Jmax) LoadChunk<WT, R, U>(v0, a0, w, rr, ax, K, lane, j0 + 2 * U, J);
      ComputeChunk<WT, NB, R, U>(acc, v1, a1, xs, K, lane, j0 + U, J);
    }
    // ---- the next row set's first loads, then this one's epilogue
    const uint8_t* wn[R];
    const void* axn[R];
    int sn[R], rn[R];
    RowSet<WT, R>(a, row0 + stride, wn, axn, sn, rn);
    LoadChunk<WT, R, U>(v0, a0, wn, rn, axn, K, lane, 0, J);
#pragma unroll
    for (int r = 0; r < R; r++) {
      if (!w[r]) continue;
      const GemvSeg& sg = a.seg[si[r]];
      const int row = rr[r];
#pragma unroll
      for (int b = 0; b < NB; b++) {
        float v = acc[r][b];
        for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
        if (lane == 0) {
          float y = WT == kWeightI8Channel ? v * sg.scale[row] : v;
          if (sg.bias) y += sg.bias[row];
          float* dst = sg.y + (size_t)b * sg.rows + row;
          if (a.accumulate) y += *dst;
          *dst = y;
        }
      }
    }
#pragma unroll
    for (int r = 0; r < R; r++) {
      w[r] = wn[r];
      ax[r] = axn[r];
      si[r] = sn[r];
      rr[r] = rn[r];
    }
  }
  if (a.late_trigger) PdlTrigger();
}

/** A device attribute of the current device. */
int DevAttr(cudaDeviceAttr attr) {
  int dev = 0, v = 0;
  CHECK_CUDA(cudaGetDevice(&dev));
  CHECK_CUDA(cudaDeviceGetAttribute(&v, attr, dev));
  return v;
}
int NumSms() {
  static const int v = DevAttr(cudaDevAttrMultiProcessorCount);
  return v;
}
int MaxSmemOptin() {
  static const int v = DevAttr(cudaDevAttrMaxSharedMemoryPerBlockOptin) - 1024;  // less the kernel's static shared memory
  return v;
}

template <int WT, int NB, int R, int U, int W>
void LaunchShape(const GemvArgs& a, int rows, cudaStream_t s) {
  auto k = GemvKernel<WT, NB, R, U, W>;
  RaiseSmem(k, MaxSmemOptin());
  const size_t smem = sizeof(float) * (size_t)NB * a.K;
  // persistent: no more blocks than fit at once (occupancy for this shared-memory size, queried once per size)
  static std::mutex mu;
  static std::map<size_t, int> fit;
  int perSm;
  {
    std::lock_guard<std::mutex> g(mu);
    auto it = fit.find(smem);
    if (it == fit.end()) {
      int n = 0;
      CHECK_CUDA(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, k, W * 32, smem));
      it = fit.emplace(smem, std::max(1, n)).first;
    }
    perSm = it->second;
  }
  // CODECLLM_GEMV_BLOCKS_PER_SM caps the blocks per SM (fewer leave room for the next kernel's blocks under PDL)
  // and CODECLLM_GEMV_PERSISTENT=0 launches one block per W·R rows instead (measurement)
  static const int cap = std::max(1, EnvInt("CODECLLM_GEMV_BLOCKS_PER_SM", 1 << 20));
  static const bool persistent = EnvFlag("CODECLLM_GEMV_PERSISTENT", true);
  if (!persistent) perSm = 1 << 20;
  int grid = std::min((rows + W * R - 1) / (W * R), std::min(perSm, cap) * NumSms());
  GemvArgs c = a;
  c.rows_total = rows;
  LaunchK(k, dim3(grid), dim3(W * 32), smem, s, c);
}

template <int WT, int NB>
void LaunchNB(const GemvArgs& a, int rows, cudaStream_t s) {
  // R rows per warp, U words per row in flight per lane (twice that with the second buffer), W warps per block
  // q4_1 words carry 32 weights each (4x the dequantization work of an fp16 word): one row per warp keeps its
  // registers low enough for two blocks per SM
  constexpr bool heavy = WT == kWeightQ4_1;
  if (NB > 1) return heavy ? LaunchShape<WT, NB, 1, 4, 8>(a, rows, s) : LaunchShape<WT, NB, 2, 4, 8>(a, rows, s);
  // batch 1: CODECLLM_GEMV_SHAPE = "8x2x4" (W x R x U, default; "8x1x4" for q4_1), "8x1x8" or "16x1x8" (measurement)
  static const int shape = [] {
    const std::string v = EnvStr("CODECLLM_GEMV_SHAPE");
    return v == "16x1x8" ? 1 : v == "8x1x8" ? 2 : v == "8x2x4" ? 3 : 0;
  }();
  if (shape == 1) return LaunchShape<WT, 1, 1, 8, 16>(a, rows, s);
  if (shape == 2) return LaunchShape<WT, 1, 1, 8, 8>(a, rows, s);
  if (heavy && shape == 0) return LaunchShape<WT, 1, 1, 4, 8>(a, rows, s);
  return LaunchShape<WT, 1, 2, 4, 8>(a, rows, s);
}

template <int WT>
void LaunchWT(const GemvArgs& a, int nb, int rows, cudaStream_t s) {
  switch (nb) {
    case 1: return LaunchNB<WT, 1>(a, rows, s);
    case 2: return LaunchNB<WT, 2>(a, rows, s);
    case 3: return LaunchNB<WT, 3>(a, rows, s);
    case 4: return LaunchNB<WT, 4>(a, rows, s);
    case 5: return LaunchNB<WT, 5>(a, rows, s);
    case 6: return LaunchNB<WT, 6>(a, rows, s);
    case 7: return LaunchNB<WT, 7>(a, rows, s);
    default: return LaunchNB<WT, 8>(a, rows, s);
  }
}

}  // namespace

void LaunchGemv(const GemvArgs& a, int wtype, cudaStream_t s) {
  // q5_0, q4_k, q6_k raw blocks and the 4-bit lab layouts: gemv_blocks.cu
  if (IsRawBlockType(wtype) || IsQ4LayoutType(wtype)) return LaunchGemvRawBlocks(a, wtype, s);
  CHECK_ARG(a.nseg >= 1 && a.nseg <= kMaxSegs, "gemv: 1 to 3 segments");
  CHECK_ARG(a.nb >= 1, "gemv: nb must be >= 1");
  const int mult = wtype == kWeightF16 ? 8 : wtype == kWeightI8Channel ? 16 : 32;
  // the four layouts this kernel reads (common/weight_types.h ids are not contiguous: i8_channel is 20)
  CHECK_ARG(wtype == kWeightF16 || wtype == kWeightI8Channel || wtype == kWeightQ4_1 || wtype == kWeightQ8_0,
            "gemv: weight type " + std::to_string(wtype) + " (" + (WeightTypeName(wtype) ? WeightTypeName(wtype) : "unknown") + ") has no GEMV (f16, i8_channel, q4_1, q8_0)");
  CHECK_ARG(a.K > 0 && a.K <= kGemvMaxK && a.K % mult == 0,
            "gemv: K=" + std::to_string(a.K) + " must be a positive multiple of " + std::to_string(mult) + " up to " + std::to_string(kGemvMaxK));
  int rows = 0;
  for (int i = 0; i < a.nseg; i++) rows += a.seg[i].rows;
  // input rows per launch: up to 8, and as many as fit in shared memory (fp32, K each)
  int fit = MaxSmemOptin() / (int)(sizeof(float) * a.K);
  int step = std::max(1, std::min(8, fit));
  for (int b0 = 0; b0 < a.nb; b0 += step) {
    int nb = std::min(step, a.nb - b0);
    GemvArgs c = a;
    c.in = a.in + (size_t)b0 * a.K;
    if (a.in2) c.in2 = a.in2 + (size_t)b0 * a.K;
    for (int i = 0; i < a.nseg; i++) c.seg[i].y = a.seg[i].y + (size_t)b0 * a.seg[i].rows;
    c.nb = nb;
    static const bool prefetch = EnvFlag("CODECLLM_GEMV_PREFETCH", true);
    static const bool late = EnvFlag("CODECLLM_PDL_LATE_TRIGGER", false);
    c.prefetch = prefetch;
    c.late_trigger = late;
    switch (wtype) {
      case kWeightF16: LaunchWT<kWeightF16>(c, nb, rows, s); break;
      case kWeightI8Channel: LaunchWT<kWeightI8Channel>(c, nb, rows, s); break;
      case kWeightQ4_1: LaunchWT<kWeightQ4_1>(c, nb, rows, s); break;
      case kWeightQ8_0: LaunchWT<kWeightQ8_0>(c, nb, rows, s); break;
    }
  }
}

}  // namespace engine
}  // namespace codecllm
