// engine.cuh — host launchers of the GPU engine's CUDA kernels (native/src/cuda/*.cu, one op per file), callable from plain
// C++ (native/src/gpu_engine.cc). Every launcher is asynchronous on `stream` and checks the launch through CHECK_CUDA.
//
// Readable twins: native/src/engine/ops_ref.h (ref::embedding, rmsnorm, rope_rotate_half, kv_append, attention_ex,
// swiglu, geglu, softcap, linear_f16, linear_i8_channel, argmax, f32_to_f16). native/test/gpu_twins.cc (codecllm_gpu_twins) runs each kernel
// beside its twin on seeded random inputs.
//
// Shapes (row-major): T tokens in this call, P tokens already cached, h hidden, H / Hkv heads, D head dim,
// I intermediate, V vocab, Smax cache capacity. Activations are fp32 unless named *16 (IEEE half bits, uint16_t).
// Linear weights W are (out, in): fp16 (half bits) or int8 codes with one fp32 scale per output row.
// KV cache of one layer: k, v (Hkv, Smax, D), fp16 or fp32.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "common/weight_types.h"

namespace codecllm {
namespace engine {

/**
 * Storage of a linear's weight as the matmul kernels read it: the weight-type ids of common/weight_types.h (one enum
 * for all native code). Kernels take kWeightF16 (fp16 bits), kWeightI8Channel (int8 codes, fp32 scale per output
 * row) and two GGML block types kept as the checkpoint's own blocks, split for aligned loads ("gguf" storage mode):
 * kWeightQ4_1: w = (rows, K/2) nibble bytes, 16 per 32-weight block (byte j: element j in the low nibble, j + 16 in
 * the high one, as ggml), aux = (rows, K/32) half2 (d, m), weight = q·d + m; kWeightQ8_0: w = (rows, K) int8 codes,
 * aux = (rows, K/32) half d, weight = q·d.
 */
/** How the GEMV builds its input vector x (K) in shared memory. */
enum Prologue : int {
  kPrologueNone = 0,     // x = in[0..K)
  kPrologueRmsNorm = 1,  // x = rmsnorm(in, normw, eps)
  kPrologueSwiGLU = 2,   // x = silu(in) * in2
};

/** One weight matrix of a (fused) GEMV launch: rows [row0, row0+rows) of the launch map to y[0..rows). */
struct GemvSeg {
  const void* w;        // (rows, K) fp16 bits or int8 codes; block types: see WeightType
  const float* scale;   // (rows) int8 only
  const float* bias;    // (rows) or null
  float* y;             // (rows) output
  int rows;
  const void* aux = nullptr;  // block types: per-block scales (and minima)
};
constexpr int kMaxSegs = 3;
struct GemvArgs {
  GemvSeg seg[kMaxSegs];
  int nseg = 0;
  int K = 0;
  int prologue = kPrologueNone;
  const float* in = nullptr;   // (K)
  const float* in2 = nullptr;  // (K) up projection for SwiGLU
  const float* normw = nullptr;
  float eps = 0;
  bool accumulate = false;  // y += W x (+ b) instead of y = W x (+ b)
  int nb = 1;               // input rows: in / in2 are (nb, K), each segment's y is (nb, rows)
  // launch features (set by LaunchGemv from CODECLLM_GEMV_PREFETCH / CODECLLM_PDL_LATE_TRIGGER; results never change)
  bool prefetch = true;       // first weight loads before the PDL wait
  bool late_trigger = false;  // let the next kernel launch only after this one's rows are done
  int rows_total = 0;         // set by LaunchGemv: rows over all segments
  int group = 0;              // 4-bit layouts (kWeightI4Group, kWeightNF4Group): elements per scale group along K
};
/** GEMV y (nb, rows) = x (nb, K) Wᵀ over up to 3 same-typed weights sharing one input (q|k|v, gate|up); nb = 1 is
 *  batch-1 decode, nb > 1 batched decode (weights read once per launch for up to 8 rows). K % 8 == 0 (f16),
 *  K % 16 == 0 (i8); K <= kGemvMaxK. */
constexpr int kGemvMaxK = 57344;  // x is fp32 in shared memory: 224 KiB of the 227 KiB opt-in at one input row (Llama-70B down_proj: K = 28672)
void LaunchGemv(const GemvArgs& a, int wtype, cudaStream_t s);

/** GGML blocks kept as the file stores them, read by gemv_blocks.cu: q5_0, q4_k, q6_k (W = (rows, K / E) raw blocks of
 *  common/blocks.h, no scale / aux). */
bool IsRawBlockType(int wtype);
/** The lab's 4-bit layouts (common/quant4.h), read by gemv_blocks.cu: kWeightI4Group (int4 group: W = packed codes
 *  (rows, K/2), scale = (rows, K/group) fp32, aux = (rows, K/group) uint8 zero points for asym, null for sym) and
 *  kWeightNF4Group (same without zero points); the group size travels in GemvArgs::group / LaunchGemm's group. */
bool IsQ4LayoutType(int wtype);
/** LaunchGemv for a raw-block or 4-bit layout type (same GemvArgs; K % E == 0, E = 32 for q5_0, 256 for q4_k / q6_k, 8
 *  for the 4-bit layouts with group % 8 == 0 dividing K). LaunchGemv hands these types here. */
void LaunchGemvRawBlocks(const GemvArgs& a, int wtype, cudaStream_t s);
/** LaunchGemm for the same types: Y (M, N) (+)= A16 (M, K) · Wᵀ (+ bias), fp32 weights (exact dequant), fp32 sums.
 *  LaunchGemm hands these types here. */
void LaunchGemmRawBlocks(const uint16_t* A, const void* W, int wtype, const float* bias, float* Y, int M, int N, int K, bool accumulate,
                         cudaStream_t s, const float* scale = nullptr, const void* zero = nullptr, int group = 0);

/** Y (M, N) (+)= A (M, K) · Wᵀ (* scale[n]) (+ bias[n]); A fp16 bits, W (N, K) fp16 or int8; tensor cores (WMMA),
 *  fp32 accumulate. K % 16 == 0. */
void LaunchGemm(const uint16_t* A, const void* W, int wtype, const float* scale, const float* bias, float* Y, int M, int N,
                int K, bool accumulate, cudaStream_t s, const void* aux = nullptr, int group = 0);

/** x (T, h) = f32(table16[tokens[t]]) * scale (one float rounding; scale 1 is exact: Gemma's √hidden otherwise);
 *  tokens (T) in device memory. */
void LaunchEmbedding(float* x, const uint16_t* table16, const int32_t* tokens, int T, int h, cudaStream_t s, float scale = 1.f);
/** x (T, h) = q8_0 table row tokens[t] * scale: codes (V, h) int8, d (V, h/32) half; x = code · d (exact), then
 *  · scale. */
void LaunchEmbeddingQ8(float* x, const int8_t* codes, const uint16_t* d16, const int32_t* tokens, int T, int h, cudaStream_t s,
                       float scale = 1.f);
/** Synthetic block weights: q4_1 (nibbles uniform 0..15, d = stdv / 4.61, m = -7.5 d) or q8_0 (codes uniform
 *  -127..127, d = stdv / 73.6), from a counter-based hash of (seed, i). w / aux laid out as WeightType says. */
void LaunchRandomBlocks(void* w, void* aux, int wtype, int rows, int K, uint64_t seed, float stdv, cudaStream_t s);
/** out (T, h) = rmsnorm(x) * w; out16 (T, h) half copy when non-null; out may be null. */
void LaunchRmsNorm(float* out, uint16_t* out16, const float* x, const float* w, int T, int h, float eps, cudaStream_t s);
/** out16 (n) = half(silu(gate) * up); out (n) fp32 copy when non-null. */
void LaunchSwiGLU(float* out, uint16_t* out16, const float* gate, const float* up, size_t n, cudaStream_t s);
/** GeGLU (Gemma): out (n) = gelu_tanh(gate) * up in fp32 and/or out16 its half copy (either may be null; out may alias
 *  gate or up). Twin: ref::geglu. */
void LaunchGeGLU(float* out, uint16_t* out16, const float* gate, const float* up, size_t n, cudaStream_t s);
/** Sandwich-norm residual (Gemma): x (T, h) += rmsnorm(y (T, h)) * w. Twin: ref::rmsnorm + ref::add_inplace. */
void LaunchRmsNormAdd(float* x, const float* y, const float* w, int T, int h, float eps, cudaStream_t s);
/** x (n) = cap * tanh(x / cap) in place (final-logit soft-capping), cap > 0. Twin: ref::softcap. */
void LaunchSoftcap(float* x, size_t n, float cap, cudaStream_t s);
/**
 * Rotate q (T, H, D) in place and k (T, Hkv, D) in place with the cos/sin table (Smax, D/2) at positions P + t, then
 * append k, v to the layer's cache at [P, P+T). P = *P_dev when P_dev is non-null (graph replay), else P_host.
 * kv16: cache is fp16 (else fp32).
 * Batched decode: with P_rows non-null, row t is its own sequence — position P_rows[t], cache at
 * k_cache/v_cache + t * slot_stride elements (P_host / P_dev are then unused).
 */
void LaunchRopeAppend(float* q, float* k, const float* v, void* k_cache, void* v_cache, bool kv16, const float* cos_tab,
                      const float* sin_tab, int T, int H, int Hkv, int D, int P_host, const int32_t* P_dev, int Smax,
                      cudaStream_t s, const int32_t* P_rows = nullptr, size_t slot_stride = 0);
/** Attention features beyond Llama's (config.ts ArchFeatures); the defaults are Llama's. Twin: ref::attention_ex. */
struct AttnOpts {
  float scale = 0;    // multiplier on q·k; 0 = 1/sqrtf(D)
  int window = 0;     // > 0: sliding window, the query at position p sees keys p - window < s <= p (local layers)
  float softcap = 0;  // > 0: score = softcap * tanh(score / softcap) (Gemma 2)
};
/** out (T, H, D) fp32 and out16 (half copy, may be null) = causal GQA attention of q over the cache [0, P+t]
 *  (with P_rows: row t over its own slot's cache [0, P_rows[t]], as LaunchRopeAppend); `opt`: scale, window, soft-cap. */
void LaunchAttention(float* out, uint16_t* out16, const float* q, const void* k_cache, const void* v_cache, bool kv16, int T,
                     int H, int Hkv, int D, int P_host, const int32_t* P_dev, int Smax, cudaStream_t s,
                     const int32_t* P_rows = nullptr, size_t slot_stride = 0, AttnOpts opt = {});
/** New keys / values and rope tables for LaunchRopeAttention. */
struct RopeIn {
  const float* k = nullptr;    // (T, Hkv, D) unrotated
  const float* v = nullptr;    // (T, Hkv, D)
  const float* cos = nullptr;  // (Smax, D/2)
  const float* sin = nullptr;
};
/**
 * Decode (one token per row, row t at position P_rows[t] in KV slot t): LaunchRopeAppend + LaunchAttention in one
 * kernel — out (T, H, D) equals the two launches bit for bit; the cache gets the rotated k and v at P_rows[t]
 * (q is not modified: its rotation lives in shared memory).
 */
void LaunchRopeAttention(float* out, const float* q, const float* k, const float* v, void* k_cache, void* v_cache, bool kv16,
                         const float* cos_tab, const float* sin_tab, int T, int H, int Hkv, int D, const int32_t* P_rows,
                         size_t slot_stride, int Smax, cudaStream_t s, AttnOpts opt = {});
/**
 * Greedy step bookkeeping: step[0] = argmax(logits (V)) (first on ties), step[1] = new_pos >= 0 ? new_pos : step[1]+1,
 * out_tokens[step[2]++] = step[0] when out_tokens is non-null.
 */
void LaunchArgmaxStep(const float* logits, int V, int32_t* step, int32_t* out_tokens, int new_pos, cudaStream_t s);
/**
 * Batched greedy step: for each row b < B: tok[b] = argmax(logits (B, V) row b) (first on ties),
 * out_tokens[b * Smax + pos[b]] = tok[b] (indexed by the position of the token that produced it), then pos[b] += 1.
 * One block per row.
 */
void LaunchArgmaxRows(const float* logits, int V, int B, int32_t* tok, int32_t* pos, int32_t* out_tokens, int Smax,
                      cudaStream_t s);
/** Programmatic dependent launch for the engine's kernels from now on this thread (pdl.cuh); off by default.
 *  Returns the previous setting. Honoured only where the CUDA build supports it and CODECLLM_PDL is not "0". */
bool SetPdl(bool on);
/** a16 (T, K) = half(a (T, K)). */
void LaunchF32ToF16(uint16_t* dst, const float* src, size_t n, cudaStream_t s);
/** Per output row: scale[r] = max|w[r]| / 127, codes = rint(w / scale) clamped to [-127, 127] (w (rows, K) fp32). */
void LaunchQuantizeRowsI8(int8_t* codes, float* scale, const float* w, int rows, int K, cudaStream_t s);
/** w (n) = mean + std * N(0,1) from a counter-based hash of (seed, i) (synthetic weights). */
void LaunchRandomNormal(float* w, size_t n, uint64_t seed, float mean, float stdv, cudaStream_t s);
/** For i < n: status[i] != 0 or got[i] != want[i] -> atomicAdd(err[0]), atomicMin(err[1], base + i). */
void LaunchCheckChunks(const int* status, const size_t* got, const size_t* want, size_t n, int base, int32_t* err,
                       cudaStream_t s);

}  // namespace engine
}  // namespace codecllm
