// cpu/forward.cc — KV-cache growth and the forward pass (fast kernels, or the reference ops end to end).
// Declarations: cpu/engine.h.
#include "cpu/engine.h"

namespace codecllm {
namespace cpu {

void GrowCache(const Engine& e, Cache& c, int need) {
  if (need <= c.cap) return;
  const int Hkv = e.c.kv_heads, D = e.c.head_dim;
  const int cap = std::max({need, 2 * c.cap, 64});
  c.k.resize(e.c.layers);
  c.v.resize(e.c.layers);
  for (int l = 0; l < e.c.layers; l++) {
    for (auto* buf : {&c.k[l], &c.v[l]}) {
      std::vector<float> nb((size_t)Hkv * cap * D);
      for (int j = 0; j < Hkv && c.cap > 0; j++)
        std::memcpy(nb.data() + (size_t)j * cap * D, buf->data() + (size_t)j * c.cap * D, sizeof(float) * (size_t)c.len * D);
      buf->swap(nb);
    }
  }
  c.cap = cap;
}

/**
 * Forward T tokens (positions cache.len ..), appending to the cache. logits (T or 1, V).
 * Llama:  x += o(attn(rope(q, k), v)) ; x += down(act(gate(n)) * up(n)) with n = rmsnorm(x, post_norm)
 * Sandwich norms (Gemma 2/3): x += rmsnorm(o(attn), post_norm) ; x += rmsnorm(down(act(gate(n)) * up(n)), post_ffn_norm)
 * with n = rmsnorm(x, pre_ffn_norm). Features as config.ts ArchFeatures and the tfjs reference (src/model/llama.ts).
 */
void Forward(Engine& e, Cache& cache, const int32_t* tokens, int T, bool last_only, bool reference, float* logits) {
  const Config& c = e.c;
  const int h = c.hidden, H = c.heads, Hkv = c.kv_heads, D = c.head_dim, I = c.inter;
  const int P = cache.len;
  GrowCache(e, cache, P + T);
  const int Smax = cache.cap;
  const float attn_scale = c.attn_scale > 0 ? c.attn_scale : (float)(1.0 / std::sqrt((double)D));
  std::vector<float> x((size_t)T * h), hn((size_t)T * h), q((size_t)T * H * D), k((size_t)T * Hkv * D), v((size_t)T * Hkv * D),
      att((size_t)T * H * D), tmp((size_t)T * h), gate((size_t)T * I), up((size_t)T * I), scratch((size_t)P + T);
  std::vector<int32_t> pos(T);
  for (int t = 0; t < T; t++) pos[t] = P + t;
  // embedding rows (dequantized from the stored format), times the embedding scale (Gemma: √hidden)
  for (int t = 0; t < T; t++) DequantRowsRef(e.embed, tokens[t], 1, x.data() + (size_t)t * h);
  if (c.embed_scale != 1.0f)
    for (float& xv : x) xv *= c.embed_scale;
  auto linear = [&](const Weight& W, const float* b, const float* in, float* out) {
    if (reference) LinearRef(W, b, in, T, out);
    else LinearFast(in, T, {{&W, b, out}});
  };
  for (int l = 0; l < c.layers; l++) {
    Layer& L = e.layers[l];
    const bool local = c.IsLocal(l);
    const float* inv = local && !e.inv_freq_local.empty() ? e.inv_freq_local.data() : e.inv_freq.data();
    ref::rmsnorm(hn.data(), x.data(), L.in_norm.data(), T, h, c.eps);
    const float* bq = L.bq.empty() ? nullptr : L.bq.data();
    const float* bk = L.bk.empty() ? nullptr : L.bk.data();
    const float* bv = L.bv.empty() ? nullptr : L.bv.data();
    if (reference) {
      LinearRef(L.q, bq, hn.data(), T, q.data());
      LinearRef(L.k, bk, hn.data(), T, k.data());
      LinearRef(L.v, bv, hn.data(), T, v.data());
    } else {
      LinearFast(hn.data(), T, {{&L.q, bq, q.data()}, {&L.k, bk, k.data()}, {&L.v, bv, v.data()}});
    }
    if (c.qk_norm) {  // per (token, head) row of D
      ref::rmsnorm(q.data(), q.data(), L.q_norm.data(), T * H, D, c.eps);
      ref::rmsnorm(k.data(), k.data(), L.k_norm.data(), T * Hkv, D, c.eps);
    }
    ref::rope_rotate_half(q.data(), pos.data(), inv, T, H, D);
    ref::rope_rotate_half(k.data(), pos.data(), inv, T, Hkv, D);
    ref::kv_append(cache.k[l].data(), cache.v[l].data(), k.data(), v.data(), T, Hkv, D, P, Smax);
    const int window = local ? c.window : 0;
    if (reference)
      ref::attention_ex(att.data(), q.data(), cache.k[l].data(), cache.v[l].data(), T, H, Hkv, D, P, Smax, attn_scale, window,
                        c.attn_softcap, scratch.data());
    else
      AttentionFast(att.data(), q.data(), cache.k[l].data(), cache.v[l].data(), T, H, Hkv, D, P, Smax, attn_scale, window, c.attn_softcap);
    linear(L.o, nullptr, att.data(), tmp.data());
    if (c.sandwich) ref::rmsnorm(tmp.data(), tmp.data(), L.post_norm.data(), T, h, c.eps);
    ref::add_inplace(x.data(), tmp.data(), x.size());
    ref::rmsnorm(hn.data(), x.data(), c.sandwich ? L.pre_ffn_norm.data() : L.post_norm.data(), T, h, c.eps);
    if (reference) {
      LinearRef(L.gate, nullptr, hn.data(), T, gate.data());
      LinearRef(L.up, nullptr, hn.data(), T, up.data());
      if (c.act == kActGeluTanh) ref::geglu(gate.data(), gate.data(), up.data(), gate.size());
      else ref::swiglu(gate.data(), gate.data(), up.data(), gate.size());
    } else {
      LinearFast(hn.data(), T, {{&L.gate, nullptr, gate.data()}, {&L.up, nullptr, up.data()}});
      if (c.act == kActGeluTanh) GegluFast(gate.data(), gate.data(), up.data(), gate.size());
      else SwigluFast(gate.data(), gate.data(), up.data(), gate.size());
    }
    linear(L.down, nullptr, gate.data(), tmp.data());
    if (c.sandwich) ref::rmsnorm(tmp.data(), tmp.data(), L.post_ffn_norm.data(), T, h, c.eps);
    ref::add_inplace(x.data(), tmp.data(), x.size());
  }
  cache.len = P + T;
  const int first = last_only ? T - 1 : 0, n = T - first;
  ref::rmsnorm(hn.data(), x.data() + (size_t)first * h, e.norm.data(), n, h, c.eps);
  if (reference)
    LinearRef(e.lm_head, nullptr, hn.data(), n, logits);
  else
    LinearFast(hn.data(), n, {{&e.lm_head, nullptr, logits}});
  ref::softcap(logits, (size_t)n * c.vocab, c.final_softcap);
}

}  // namespace cpu
}  // namespace codecllm
