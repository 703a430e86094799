// cpu/attention.cc — fast attention over a KV cache (scale, sliding window, soft-cap) and fast SwiGLU / GeGLU (twins: ref::attention_ex, ref::swiglu, ref::geglu).
// Declarations: cpu/engine.h.
#include "cpu/engine.h"

namespace codecllm {
namespace cpu {

// ---- fast attention: one task per (token, query head); float math, AVX2 dot products where available

#if defined(CODECLLM_X86)
AVX2_FN float DotAvx2(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = Hsum(acc);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}
#endif
float DotPlain(const float* a, const float* b, int n) {
  float acc[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
  float s = 0;
  for (int l = 0; l < 8; l++) s += acc[l];
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}
float Dot(const float* a, const float* b, int n) {
#if defined(CODECLLM_X86)
  if (HasAvx2()) return DotAvx2(a, b, n);
#endif
  return DotPlain(a, b, n);
}

/** Same contract and shapes as ref::attention_ex (ops_ref.h); float accumulation, tasks over (t, hq). */
void AttentionFast(float* out, const float* q, const float* k_cache, const float* v_cache, int T, int H, int Hkv, int D, int P, int Smax,
                   float scale, int window, float softcap) {
  const int G = H / Hkv;
  GlobalPool().Run(T * H, [&](int task) {
    const int t = task / H, hq = task % H, kv = hq / G, S = P + t + 1;
    const int s0 = window > 0 && S > window ? S - window : 0;  // sliding window: keys [S - window, S)
    thread_local std::vector<float> sc;
    if (sc.size() < (size_t)S) sc.resize((size_t)S);
    const float* qv = q + ((size_t)t * H + hq) * D;
    const float* kc = k_cache + (size_t)kv * Smax * D;
    const float* vc = v_cache + (size_t)kv * Smax * D;
    float mx = -INFINITY;
    for (int s = s0; s < S; s++) {
      float v = Dot(qv, kc + (size_t)s * D, D) * scale;
      if (softcap > 0) v = std::tanh(v / softcap) * softcap;
      sc[s] = v;
      mx = std::max(mx, v);
    }
    float sum = 0;
    for (int s = s0; s < S; s++) sum += (sc[s] = std::exp(sc[s] - mx));
    const float inv = 1.0f / sum;
    float* o = out + ((size_t)t * H + hq) * D;
    for (int i = 0; i < D; i++) o[i] = 0;
    for (int s = s0; s < S; s++) {
      const float p = sc[s] * inv;
      const float* vr = vc + (size_t)s * D;
      for (int i = 0; i < D; i++) o[i] += p * vr[i];
    }
  });
}

/** out = silu(gate) * up in float (expf), rows split over the pool. Twin: ref::swiglu. */
void SwigluFast(float* out, const float* gate, const float* up, size_t n) {
  const size_t chunk = 4096;
  GlobalPool().Run((int)((n + chunk - 1) / chunk), [&](int c) {
    const size_t a = (size_t)c * chunk, e = std::min(n, a + chunk);
    for (size_t i = a; i < e; i++) {
      const float g = gate[i];
      out[i] = (g * (1.0f / (1.0f + std::exp(-g)))) * up[i];
    }
  });
}

/** out = gelu_tanh(gate) * up in float (tanhf), rows split over the pool. Twin: ref::geglu. */
void GegluFast(float* out, const float* gate, const float* up, size_t n) {
  const size_t chunk = 4096;
  const float c0 = 0.044715f, c1 = (float)0.7978845608028654;
  GlobalPool().Run((int)((n + chunk - 1) / chunk), [&](int c) {
    const size_t a = (size_t)c * chunk, e = std::min(n, a + chunk);
    for (size_t i = a; i < e; i++) {
      const float g = gate[i];
      out[i] = ((g * 0.5f) * (std::tanh((g + g * g * g * c0) * c1) + 1.0f)) * up[i];
    }
  });
}

}  // namespace cpu
}  // namespace codecllm
