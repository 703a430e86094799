// ops_ref.h — readable, single-threaded REFERENCE kernels of the Llama-family forward (llm.c style).
//
// These are the twins every fast kernel is tested against: the multi-threaded CPU kernels of native/src/cpu_engine.cc
// and the CUDA kernels of the GPU engine (include this header from host code of a .cu file). Header-only, no
// dependencies beyond the C++17 standard library, no threads, no SIMD, no allocation except where stated.
//
// Numerics (the reference's contract):
//   * Activations and weights are float (fp32); fp16/bf16 weights are raw uint16 bits converted EXACTLY as
//     src/formats/dtypes.ts does (f16_to_f32 / bf16_to_f32 of common/half.h); int8 weights dequantize exactly as
//     src/quant/quantize.ts dequantize(): w = float((code - zero) * scale), one rounding (the product of an integer
//     |v| <= 255 and a float is exact in double, so the float multiply below equals fround of the exact product).
//   * Every reduction (dot products, sum of squares, softmax sum) accumulates in double and is rounded to float once
//     where it is stored. Fast kernels accumulate in float in another order, so they match only within a tolerance:
//     tests state atol + rtol*|ref| per dtype.
//   * Element-wise steps follow the tfjs reference (src/model/llama.ts) operation by operation in float.
//
// Shapes (row-major, C order):   T = tokens in this call, P = tokens already in the KV cache, S = P + T,
//   h = hidden size, V = vocab, H = query heads, Hkv = kv heads, G = H / Hkv, D = head dim, I = intermediate size,
//   Smax = KV cache capacity (positions). Linear weights are W (out, in) as PyTorch stores them: y = x Wᵀ + b.
//   gemv = linear with T == 1 (decode), gemm = linear with T > 1 (prefill); the reference is one loop for both.
//
// Layouts chosen for the engines (the tfjs model uses (n, T, D) views; the math per (token, head) row is the same):
//   q after q_proj is (T, H, D) = (T, H*D) row-major; k, v after k/v_proj are (T, Hkv, D).
//   KV cache of one layer: k_cache (Hkv, Smax, D), v_cache (Hkv, Smax, D); positions [0, S) are valid.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "common/blocks.h"
#include "common/half.h"
#include "common/quant4.h"

namespace codecllm {
namespace ref {

// fp16 / bf16 <-> float: common/half.h (bit for bit as src/formats/dtypes.ts), named here for the twins' callers.
using codecllm::bf16_to_f32;
using codecllm::f16_to_f32;
using codecllm::f32_to_bf16;
using codecllm::f32_to_f16;

// ============================================================================================================
// embedding, rmsnorm, residual, swiglu, argmax
// ============================================================================================================

/** out (T, h) = table[tokens[t]] ; table (V, h). Token ids must be in [0, V) (checked by the caller). */
inline void embedding(float* out, const float* table, const int32_t* tokens, int T, int h) {
  for (int t = 0; t < T; t++) memcpy(out + (size_t)t * h, table + (size_t)tokens[t] * h, sizeof(float) * (size_t)h);
}

/**
 * out (T, h) = x / sqrt(mean(x², row) + eps) * w ; x (T, h), w (h). out may alias x.
 * As tfjs: r = float(1/sqrt(float(ms + eps))), then (x * r) * w, each product rounded to float.
 */
inline void rmsnorm(float* out, const float* x, const float* w, int T, int h, float eps) {
  for (int t = 0; t < T; t++) {
    const float* xr = x + (size_t)t * h;
    float* o = out + (size_t)t * h;
    double ss = 0;
    for (int i = 0; i < h; i++) ss += (double)xr[i] * xr[i];
    float ms = (float)(ss / h);
    float r = (float)(1.0 / std::sqrt((double)(ms + eps)));
    for (int i = 0; i < h; i++) o[i] = (xr[i] * r) * w[i];
  }
}

/** x (n) += y (n) */
inline void add_inplace(float* x, const float* y, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] += y[i];
}

/** out (n) = silu(gate) * up = (gate * sigmoid(gate)) * up ; gate, up (n) with n = T*I. out may alias gate or up. */
inline void swiglu(float* out, const float* gate, const float* up, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float g = gate[i];
    float sig = (float)(1.0 / (1.0 + std::exp(-(double)g)));
    out[i] = (g * sig) * up[i];
  }
}

/**
 * out (n) = gelu_tanh(gate) * up (GeGLU: PyTorch's gelu(approximate='tanh'), Gemma's MLP), as the tfjs reference
 * (src/model/llama.ts act()) step by step in float: inner = float((g + float(float(g*g)*g)*0.044715) * sqrt(2/pi)),
 * gelu = float(g*0.5) * float(tanh(inner) + 1) (tanh in double, rounded once). out may alias gate or up.
 */
inline void geglu(float* out, const float* gate, const float* up, size_t n) {
  const float c0 = 0.044715f, c1 = (float)0.7978845608028654;  // fround(sqrt(2/pi)) as tfjs takes the JS number
  for (size_t i = 0; i < n; i++) {
    float g = gate[i];
    float inner = (g + ((g * g) * g) * c0) * c1;
    float th = (float)std::tanh((double)inner);
    out[i] = ((g * 0.5f) * (th + 1.0f)) * up[i];
  }
}

/** x (n) = cap * tanh(x / cap) in float (tanh in double, rounded once); cap <= 0: unchanged (no soft-capping). */
inline void softcap(float* x, size_t n, float cap) {
  if (!(cap > 0)) return;
  for (size_t i = 0; i < n; i++) x[i] = (float)std::tanh((double)(x[i] / cap)) * cap;
}

/** Index of the largest of x (n); the first one on ties (torch.argmax). NaN never wins. */
inline int argmax(const float* x, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (x[i] > x[best]) best = i;
  return best;
}

// ============================================================================================================
// rotary embeddings (rotate-half / Hugging Face layout)
// ============================================================================================================

/** Rope scaling kinds (config.ts RopeScaling). */
enum RopeScalingKind { kRopeNone = 0, kRopeLinear = 1, kRopeLlama3 = 2 };

/**
 * inv_freq (D/2) exactly as ropeInvFreq() in src/model/llama.ts: inv[i] = float(1 / theta^(2i/D)) in double, then the
 * scaling (linear: float(inv/factor); llama3: by wavelength, from the float inv values, rounded once).
 * Note: the engines take inv_freq from TS (ropeInvFreq) so results never depend on libm's pow; this twin documents
 * the formula and is checked against it.
 */
inline void rope_inv_freq(float* inv, int D, double theta, int scaling, double factor, double low_freq_factor,
                          double high_freq_factor, double original_max_pos) {
  const double kPi = 3.141592653589793;
  for (int i = 0; i < D / 2; i++) inv[i] = (float)(1.0 / std::pow(theta, (double)(2 * i) / D));
  if (scaling == kRopeLinear)
    for (int i = 0; i < D / 2; i++) inv[i] = (float)((double)inv[i] / factor);
  if (scaling == kRopeLlama3) {
    double low_wl = original_max_pos / low_freq_factor, high_wl = original_max_pos / high_freq_factor;
    for (int i = 0; i < D / 2; i++) {
      double f = inv[i], wl = 2 * kPi / f;
      if (wl > low_wl)
        inv[i] = (float)(f / factor);
      else if (wl >= high_wl) {
        double smooth = (original_max_pos / wl - low_freq_factor) / (high_freq_factor - low_freq_factor);
        inv[i] = (float)((1 - smooth) * (f / factor) + smooth * f);
      }
    }
  }
}

/**
 * cos/sin of one position, (D) each, as llama.ts ensureRope(): f = float(pos * inv_freq[i]) (HF computes freqs in
 * float32), cos/sin evaluated in double and rounded to float; emb = cat(freqs, freqs).
 */
inline void rope_cos_sin(float* cos_out, float* sin_out, int64_t pos, const float* inv_freq, int D) {
  for (int i = 0; i < D / 2; i++) {
    float f = (float)((double)pos * (double)inv_freq[i]);
    float c = (float)std::cos((double)f), s = (float)std::sin((double)f);
    cos_out[i] = cos_out[i + D / 2] = c;
    sin_out[i] = sin_out[i + D / 2] = s;
  }
}

/**
 * In place: x (T, n, D), positions (T) (absolute positions, P + t for a plain forward), inv_freq (D/2).
 * x = x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1) with x1 = x[:D/2], x2 = x[D/2:]:
 *   x1' = x1*c + (-x2)*s ;  x2' = x2*c + x1*s   (each product rounded to float, then the sum; as tfjs).
 * D <= 1024 (config.ts limit).
 */
inline void rope_rotate_half(float* x, const int32_t* positions, const float* inv_freq, int T, int n, int D) {
  float cs[1024], sn[1024];
  const int half = D / 2;
  for (int t = 0; t < T; t++) {
    rope_cos_sin(cs, sn, positions[t], inv_freq, D);
    for (int j = 0; j < n; j++) {
      float* v = x + ((size_t)t * n + j) * D;
      for (int i = 0; i < half; i++) {
        float x1 = v[i], x2 = v[i + half];
        float a = x1 * cs[i], b = (-x2) * sn[i];
        float c = x2 * cs[i + half], d = x1 * sn[i + half];
        v[i] = a + b;
        v[i + half] = c + d;
      }
    }
  }
}

// ============================================================================================================
// attention over a KV cache (GQA, causal)
// ============================================================================================================

/**
 * Append this call's keys/values to one layer's cache at positions [P, P+T).
 * k, v (T, Hkv, D) -> k_cache, v_cache (Hkv, Smax, D). P + T <= Smax (checked by the caller).
 */
inline void kv_append(float* k_cache, float* v_cache, const float* k, const float* v, int T, int Hkv, int D, int P, int Smax) {
  for (int t = 0; t < T; t++)
    for (int j = 0; j < Hkv; j++) {
      memcpy(k_cache + ((size_t)j * Smax + P + t) * D, k + ((size_t)t * Hkv + j) * D, sizeof(float) * (size_t)D);
      memcpy(v_cache + ((size_t)j * Smax + P + t) * D, v + ((size_t)t * Hkv + j) * D, sizeof(float) * (size_t)D);
    }
}

/**
 * out (T, H, D) = softmax(cap(q kᵀ * scale) + mask) v for T new tokens at positions [P, P+T).
 * q (T, H, D) (already roped), k_cache / v_cache (Hkv, Smax, D) holding positions [0, P+T) (this call's keys appended
 * already). Query head hq uses kv head hq / G (G = H / Hkv; HF repeat_kv order). Query t sees keys s <= P + t, and
 * with window > 0 (sliding-window / local layers) only keys with P + t - s < window.
 * score = float(q·k) * scale (rounded to float, as tfjs); softcap > 0: score = float(tanh(score / cap)) * cap (Gemma 2);
 * softmax with the row max subtracted, exp and sum in double, probabilities rounded to float; out = Σ p·v accumulated
 * in double. scratch: (P + T) floats.
 */
inline void attention_ex(float* out, const float* q, const float* k_cache, const float* v_cache, int T, int H, int Hkv, int D,
                         int P, int Smax, float scale, int window, float softcap_cap, float* scratch) {
  const int G = H / Hkv;
  for (int t = 0; t < T; t++) {
    const int S = P + t + 1;  // keys visible to this query: [s0, S)
    const int s0 = window > 0 && S > window ? S - window : 0;
    for (int hq = 0; hq < H; hq++) {
      const int kv = hq / G;
      const float* qv = q + ((size_t)t * H + hq) * D;
      const float* kc = k_cache + (size_t)kv * Smax * D;
      const float* vc = v_cache + (size_t)kv * Smax * D;
      float mx = -INFINITY;
      for (int s = s0; s < S; s++) {
        double dot = 0;
        for (int i = 0; i < D; i++) dot += (double)qv[i] * kc[(size_t)s * D + i];
        float sc = (float)dot * scale;
        if (softcap_cap > 0) sc = (float)std::tanh((double)(sc / softcap_cap)) * softcap_cap;
        scratch[s] = sc;
        if (sc > mx) mx = sc;
      }
      double sum = 0;
      for (int s = s0; s < S; s++) sum += std::exp((double)scratch[s] - mx);
      for (int s = s0; s < S; s++) scratch[s] = (float)(std::exp((double)scratch[s] - mx) / sum);
      float* o = out + ((size_t)t * H + hq) * D;
      for (int i = 0; i < D; i++) {
        double acc = 0;
        for (int s = s0; s < S; s++) acc += (double)scratch[s] * vc[(size_t)s * D + i];
        o[i] = (float)acc;
      }
    }
  }
}

/** attention_ex with Llama's defaults: scale = float(1 / sqrt(D)), no window, no soft-capping. */
inline void attention(float* out, const float* q, const float* k_cache, const float* v_cache, int T, int H, int Hkv, int D,
                      int P, int Smax, float* scratch) {
  attention_ex(out, q, k_cache, v_cache, T, H, Hkv, D, P, Smax, (float)(1.0 / std::sqrt((double)D)), 0, 0.0f, scratch);
}

// ============================================================================================================
// linear layers: y (T, out) = x (T, in) · Wᵀ + b ; W (out, in) row-major ; b (out) or null
// ============================================================================================================

/** fp32 weights. */
inline void linear_f32(float* y, const float* x, const float* W, const float* b, int T, int in, int out) {
  for (int t = 0; t < T; t++)
    for (int o = 0; o < out; o++) {
      const float* w = W + (size_t)o * in;
      const float* xr = x + (size_t)t * in;
      double acc = 0;
      for (int i = 0; i < in; i++) acc += (double)xr[i] * w[i];
      y[(size_t)t * out + o] = (float)acc + (b ? b[o] : 0.0f);
    }
}

/** fp16 weights: W holds IEEE half bits (out, in). */
inline void linear_f16(float* y, const float* x, const uint16_t* W, const float* b, int T, int in, int out) {
  for (int t = 0; t < T; t++)
    for (int o = 0; o < out; o++) {
      const uint16_t* w = W + (size_t)o * in;
      const float* xr = x + (size_t)t * in;
      double acc = 0;
      for (int i = 0; i < in; i++) acc += (double)xr[i] * f16_to_f32(w[i]);
      y[(size_t)t * out + o] = (float)acc + (b ? b[o] : 0.0f);
    }
}

/** bf16 weights: W holds bfloat16 bits (out, in). */
inline void linear_bf16(float* y, const float* x, const uint16_t* W, const float* b, int T, int in, int out) {
  for (int t = 0; t < T; t++)
    for (int o = 0; o < out; o++) {
      const uint16_t* w = W + (size_t)o * in;
      const float* xr = x + (size_t)t * in;
      double acc = 0;
      for (int i = 0; i < in; i++) acc += (double)xr[i] * bf16_to_f32(w[i]);
      y[(size_t)t * out + o] = (float)acc + (b ? b[o] : 0.0f);
    }
}

/**
 * One int8 weight, dequantized as quantize.ts: float(code - zero) * scale (one float rounding, exact = fround).
 * Symmetric int8: code int8 in [-127, 127], zero 0. Asymmetric int8: code uint8 in [0, 255], zero uint8.
 */
CODECLLM_HD inline float dequant_i8(int code, int zero, float scale) { return (float)(code - zero) * scale; }

/**
 * int8, per output channel (quant spec 'int8:per-channel'): codes (out, in), scale (out), optional zero (out).
 * Symmetric: pass q_s8 (int8 codes) and q_u8 = zero = null. Asymmetric: pass q_u8 (uint8 codes) and zero (uint8),
 * q_s8 = null. Scales are float values (fp16/bf16 scales: convert with f16_to_f32 / bf16_to_f32 first).
 */
inline void linear_i8_channel(float* y, const float* x, const int8_t* q_s8, const uint8_t* q_u8, const float* scale,
                              const uint8_t* zero, const float* b, int T, int in, int out) {
  for (int t = 0; t < T; t++)
    for (int o = 0; o < out; o++) {
      const float* xr = x + (size_t)t * in;
      const int z = zero ? zero[o] : 0;
      double acc = 0;
      for (int i = 0; i < in; i++) {
        const size_t k = (size_t)o * in + i;
        acc += (double)xr[i] * dequant_i8(q_s8 ? q_s8[k] : q_u8[k], z, scale[o]);
      }
      y[(size_t)t * out + o] = (float)acc + (b ? b[o] : 0.0f);
    }
}

/**
 * int8, group-wise along `in` (quant spec 'int8:group=gs'): codes (out, in); scale and zero (out, ng) with
 * ng = ceil(in / gs); weight (o, i) uses group o * ng + i / gs (quantize.ts groupIndex). Codes/zero as above.
 */
inline void linear_i8_group(float* y, const float* x, const int8_t* q_s8, const uint8_t* q_u8, const float* scale,
                            const uint8_t* zero, int gs, const float* b, int T, int in, int out) {
  const int ng = (in + gs - 1) / gs;
  for (int t = 0; t < T; t++)
    for (int o = 0; o < out; o++) {
      const float* xr = x + (size_t)t * in;
      double acc = 0;
      for (int i = 0; i < in; i++) {
        const size_t k = (size_t)o * in + i;
        const size_t g = (size_t)o * ng + i / gs;
        acc += (double)xr[i] * dequant_i8(q_s8 ? q_s8[k] : q_u8[k], zero ? zero[g] : 0, scale[g]);
      }
      y[(size_t)t * out + o] = (float)acc + (b ? b[o] : 0.0f);
    }
}

// ============================================================================================================
// GGML blocks (common/blocks.h; llama.cpp ggml-common.h): Block::kElems weights per block along `in`
// ============================================================================================================

/** Bytes of one block (from the structs of common/blocks.h). */
constexpr int kQ8_0BlockBytes = (int)sizeof(blocks::BlockQ8_0);
constexpr int kQ4_1BlockBytes = (int)sizeof(blocks::BlockQ4_1);

/** q8_0 block -> 32 floats: y[j] = qs[j] * d (exact in float: 8-bit code times an 11-bit fp16 significand). */
CODECLLM_HD inline void dequant_q8_0_block(float* y, const uint8_t* blk) { blocks::dequant_raw<blocks::BlockQ8_0>(blk, y); }

/** q4_1 block -> 32 floats: low nibbles are elements 0..15, high nibbles 16..31; y = float(q * d) + m (q*d exact). */
CODECLLM_HD inline void dequant_q4_1_block(float* y, const uint8_t* blk) { blocks::dequant_raw<blocks::BlockQ4_1>(blk, y); }

/**
 * GGML-block weights: W is (out, in/E) blocks (E = Block::kElems; one row = in/E consecutive blocks); in % E == 0.
 * y (T, out) = x (T, in) · Wᵀ + b.
 */
template <class Block>
inline void linear_block(float* y, const float* x, const uint8_t* W, const float* b, int T, int in, int out) {
  constexpr int E = Block::kElems;
  const int nb = in / E;
  float w[E];
  for (int t = 0; t < T; t++)
    for (int o = 0; o < out; o++) {
      const float* xr = x + (size_t)t * in;
      double acc = 0;
      for (int k = 0; k < nb; k++) {
        blocks::dequant_raw<Block>(W + ((size_t)o * nb + k) * sizeof(Block), w);
        for (int j = 0; j < E; j++) acc += (double)xr[k * E + j] * w[j];
      }
      y[(size_t)t * out + o] = (float)acc + (b ? b[o] : 0.0f);
    }
}
inline void linear_q8_0(float* y, const float* x, const uint8_t* W, const float* b, int T, int in, int out) {
  linear_block<blocks::BlockQ8_0>(y, x, W, b, T, in, out);
}
inline void linear_q4_1(float* y, const float* x, const uint8_t* W, const float* b, int T, int in, int out) {
  linear_block<blocks::BlockQ4_1>(y, x, W, b, T, in, out);
}
/**
 * 4-bit lab layouts (common/quant4.h: int4 group sym / asym, nf4 group): W = packed codes (out, in/2), scales
 * (out, in/gs) fp32, zeros (out, in/gs) uint8 or null; w = float(value * scale) (quant4::dequant), double dot.
 * Twin of cpu/linear.cc (i4_group / nf4_group rows) and cuda/gemv_q4.cu.
 */
inline void linear_q4_group(float* y, const float* x, const uint8_t* codes, const float* scales, const uint8_t* zeros, int kind, int gs,
                            const float* b, int T, int in, int out) {
  std::vector<float> w((size_t)in);
  for (int o = 0; o < out; o++) {
    quant4::dequant_row(kind, codes, scales, zeros, in, gs, o, w.data());
    for (int t = 0; t < T; t++) {
      const float* xr = x + (size_t)t * in;
      double acc = 0;
      for (int i = 0; i < in; i++) acc += (double)xr[i] * w[i];
      y[(size_t)t * out + o] = (float)acc + (b ? b[o] : 0.0f);
    }
  }
}
/** Twins of gemv_blocks.cu (raw q5_0 / q4_k / q6_k blocks, the file's own bytes): dequant_block + double dot. */
inline void linear_q5_0(float* y, const float* x, const uint8_t* W, const float* b, int T, int in, int out) {
  linear_block<blocks::BlockQ5_0>(y, x, W, b, T, in, out);
}
inline void linear_q4_k(float* y, const float* x, const uint8_t* W, const float* b, int T, int in, int out) {
  linear_block<blocks::BlockQ4_K>(y, x, W, b, T, in, out);
}
inline void linear_q6_k(float* y, const float* x, const uint8_t* W, const float* b, int T, int in, int out) {
  linear_block<blocks::BlockQ6_K>(y, x, W, b, T, in, out);
}

}  // namespace ref
}  // namespace codecllm
