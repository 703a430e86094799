// cpu/api.cc — the CPU engine behind the C API (native/include/codecllm_engine.h: cllm_cpu_*). The checks a caller's
// arguments get (slots, sizes, tokens, caches, completeness) live here, once; the N-API binding (cpu_engine.cc) only
// converts JS values.
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/engine_dims.h"
#include "cpu/engine.h"
#include "engine_api.h"

struct cllm_cpu_engine {
  codecllm::cpu::Engine e;
};

namespace codecllm {
namespace cpu {
namespace {

ModelDims Dims(const cllm_dims* d) {
  CHECK_ARG(d != nullptr, "cpuEngineCreate: dims are required");
  ModelDims m;
  m.hidden = d->hidden, m.intermediate = d->intermediate, m.layers = d->layers, m.heads = d->heads, m.kv_heads = d->kv_heads;
  m.head_dim = d->head_dim, m.vocab = d->vocab;
  return m;
}

/** n float32 values for a tensor called `name` (the binding's old F32Arg message). */
const float* Values(const float* f, size_t n_given, size_t n, const char* name) {
  CHECK_ARG(n_given == n, std::string(name) + ": expected " + std::to_string(n) + " elements, got " + std::to_string(n_given));
  return f;
}

/** The architecture features (NULL: plain Llama), checked once: one-line E_ARG naming the config field. */
void SetFeatures(Engine& e, const cllm_cpu_features* f) {
  if (f == nullptr) return;
  Config& c = e.c;
  CHECK_ARG(f->act == CLLM_CPU_ACT_SILU || f->act == CLLM_CPU_ACT_GELU_TANH, "config.hiddenAct: expected 'silu' or 'gelu_tanh'");
  c.act = f->act == CLLM_CPU_ACT_SILU ? kActSilu : kActGeluTanh;
  c.sandwich = f->sandwich_norms != 0;
  c.qk_norm = f->qk_norm != 0;
  c.embed_scale = f->embed_scale == 0 ? 1.0f : f->embed_scale;
  c.attn_scale = f->attn_scale;
  CHECK_ARG(std::isfinite(c.embed_scale) && std::isfinite(c.attn_scale) && c.embed_scale > 0 && c.attn_scale >= 0,
            "config.embedScale / attnScale: must be positive");
  c.attn_softcap = f->attn_softcap;
  c.final_softcap = f->final_softcap;
  CHECK_ARG(std::isfinite(c.attn_softcap) && std::isfinite(c.final_softcap) && c.attn_softcap >= 0 && c.final_softcap >= 0,
            "config.attnSoftcap / finalSoftcap: must be >= 0 (0: none)");
  if (f->sliding_layers != nullptr) {
    CHECK_ARG(f->n_sliding_layers == (size_t)c.layers, "config.slidingLayers: expected " + std::to_string(c.layers) + " elements, got " +
                                                           std::to_string(f->n_sliding_layers));
    c.sliding.assign(f->sliding_layers, f->sliding_layers + c.layers);
    CHECK_ARG(f->sliding_window >= 1 && f->sliding_window < (1 << 30), "config.slidingWindow: expected an integer in [1, 2^30) with slidingLayers");
    c.window = f->sliding_window;
  }
  if (f->inv_freq_local != nullptr) {
    const float* p = Values(f->inv_freq_local, f->n_inv_freq_local, (size_t)c.head_dim / 2, "config.invFreqLocal");
    e.inv_freq_local.assign(p, p + c.head_dim / 2);
  }
}

void CheckComplete(const Engine& e) {
  CHECK_ARG(e.embed.fmt != kWeightNone && e.lm_head.fmt != kWeightNone && !e.norm.empty(), "cpu engine: embed, norm or lm_head not set");
  for (int l = 0; l < e.c.layers; l++) {
    const Layer& L = e.layers[l];
    bool set = !L.in_norm.empty() && !L.post_norm.empty();
    if (e.c.sandwich) set = set && !L.pre_ffn_norm.empty() && !L.post_ffn_norm.empty();
    if (e.c.qk_norm) set = set && !L.q_norm.empty() && !L.k_norm.empty();
    for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) set = set && w->fmt != kWeightNone;
    CHECK_ARG(set, "cpu engine: layer " + std::to_string(l) + " is not fully set");
  }
}

Cache& GetCache(Engine& e, int id) {
  auto it = e.caches.find(id);
  CHECK_ARG(it != e.caches.end(), "cpu engine cache " + std::to_string(id) + " does not exist (freed, or from another engine?)");
  return *it->second;
}

void CheckLayerSlot(const Engine& e, int layer, int slot) {
  CHECK_ARG(layer >= -1 && layer < e.c.layers, "layer: must be an integer in [-1, " + std::to_string(e.c.layers - 1) + "]");
  CHECK_ARG(slot >= 0 && slot <= CLLM_CPU_MAX_SLOT, "slot: must be an integer in [0, " + std::to_string(CLLM_CPU_MAX_SLOT) + "]");
}

}  // namespace
}  // namespace cpu
}  // namespace codecllm

using namespace codecllm;
using namespace codecllm::cpu;

extern "C" {

cllm_status cllm_cpu_create(const cllm_dims* dims, float rms_eps, const float* inv_freq, size_t n_inv_freq,
                            const cllm_cpu_features* features, cllm_cpu_engine** out) {
  CLLM_API_GUARD({
    const ModelDims d = Dims(dims);
    CheckModelDims(d, "cpuEngineCreate");  // common/engine_dims.h: the bounds both engines share
    auto h = std::make_unique<cllm_cpu_engine>();
    Config& c = h->e.c;
    c.hidden = d.hidden, c.inter = d.intermediate, c.layers = d.layers, c.heads = d.heads, c.kv_heads = d.kv_heads;
    c.head_dim = d.head_dim, c.vocab = d.vocab;
    c.eps = rms_eps;
    const float* inv = Values(inv_freq, n_inv_freq, (size_t)c.head_dim / 2, "config.invFreq");
    h->e.inv_freq.assign(inv, inv + c.head_dim / 2);
    SetFeatures(h->e, features);
    h->e.layers.resize(c.layers);
    *out = h.release();
  })
}

void cllm_cpu_destroy(cllm_cpu_engine* e) { delete e; }

cllm_status cllm_cpu_set_weight(cllm_cpu_engine* h, int32_t layer, int32_t slot, const float* f32, size_t n_f32, const uint8_t* raw,
                                size_t raw_bytes, int32_t raw_type, int32_t keep_stored, const cllm_int8_codes* i8c, int32_t* stored_type) {
  CLLM_API_GUARD({
    Engine& e = h->e;
    const Config& c = e.c;
    CheckLayerSlot(e, layer, slot);
    const bool auto_fmt = keep_stored != 0;
    const int hd = c.hidden, qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
    // f32 null: no float32 values; the tensor comes as stored bytes (raw, raw_type) — see MakeWeightStored
    const bool stored = f32 == nullptr;
    CHECK_ARG(!stored || raw, "cpuEngineSetTensor: without float32 values, raw stored bytes are required");
    Int8Codes i8;
    // (the 4-bit layouts i4_group / nf4_group come the same way: packed codes, scale, zero, group; common/quant4.h)
    const bool has_i8 = raw && (raw_type == kWeightI8Channel || raw_type == kWeightI8Group || raw_type == kWeightI4Group || raw_type == kWeightNF4Group);
    if (has_i8) {
      CHECK_ARG(i8c != nullptr && i8c->scale != nullptr, "int8 scales: expected a Float32Array");
      i8.scale = i8c->scale, i8.n_scale = i8c->n_scale, i8.zero = i8c->zero, i8.n_zero = i8c->n_zero, i8.group = i8c->group;
    }
    auto vec = [&](std::vector<float>& dst, size_t n, const char* name) {
      if (stored) {
        Weight v = MakeWeightStored(1, (int)n, raw, raw_bytes, raw_type, false, nullptr);
        dst = std::move(v.f32);
        return (int)kWeightF32;
      }
      const float* f = Values(f32, n_f32, n, name);
      dst.assign(f, f + n);
      return (int)kWeightF32;
    };
    auto mat = [&](Weight& dst, int rows, int cols, const char* name) {
      if (stored) {
        dst = Weight();  // free the old one first: the peak stays at one copy of this tensor
        dst = MakeWeightStored(rows, cols, raw, raw_bytes, raw_type, auto_fmt, has_i8 ? &i8 : nullptr);
        return dst.fmt;
      }
      const float* f = Values(f32, n_f32, (size_t)rows * cols, name);
      dst = MakeWeight(f, rows, cols, raw, raw_bytes, raw_type, auto_fmt, has_i8 ? &i8 : nullptr);
      return dst.fmt;
    };
    int fmt = kWeightNone;
    if (layer == -1) {
      switch (slot) {
        case 0: fmt = mat(e.embed, c.vocab, hd, "embed"); break;
        case 1: fmt = vec(e.norm, hd, "norm"); break;
        case 2: fmt = mat(e.lm_head, c.vocab, hd, "lm_head"); break;
        default: THROW_ERROR("E_ARG", "slot " + std::to_string(slot) + " is not a model-level tensor (0 embed, 1 norm, 2 lm_head)");
      }
    } else {
      Layer& L = e.layers[layer];
      switch (slot) {
        case 0: fmt = vec(L.in_norm, hd, "input_layernorm"); break;
        case 1: fmt = vec(L.post_norm, hd, "post_attention_layernorm"); break;
        case 2: fmt = mat(L.q, qd, hd, "q_proj"); break;
        case 3: fmt = mat(L.k, kvd, hd, "k_proj"); break;
        case 4: fmt = mat(L.v, kvd, hd, "v_proj"); break;
        case 5: fmt = mat(L.o, hd, qd, "o_proj"); break;
        case 6: fmt = mat(L.gate, c.inter, hd, "gate_proj"); break;
        case 7: fmt = mat(L.up, c.inter, hd, "up_proj"); break;
        case 8: fmt = mat(L.down, hd, c.inter, "down_proj"); break;
        case 9: fmt = vec(L.bq, qd, "q_proj.bias"); break;
        case 10: fmt = vec(L.bk, kvd, "k_proj.bias"); break;
        case 11: fmt = vec(L.bv, kvd, "v_proj.bias"); break;
        case 12: fmt = vec(L.pre_ffn_norm, hd, "pre_feedforward_layernorm"); break;
        case 13: fmt = vec(L.post_ffn_norm, hd, "post_feedforward_layernorm"); break;
        case 14: fmt = vec(L.q_norm, c.head_dim, "q_norm"); break;
        case 15: fmt = vec(L.k_norm, c.head_dim, "k_norm"); break;
      }
    }
    if (stored_type) *stored_type = fmt;
  })
}

cllm_status cllm_cpu_set_weight_file(cllm_cpu_engine* h, int32_t layer, int32_t slot, const char* path, int64_t offset, int64_t bytes,
                                     int32_t type, int32_t keep_stored, int32_t* stored_type_out) {
  CLLM_API_GUARD({
    Engine& e = h->e;
    const Config& c = e.c;
    CheckLayerSlot(e, layer, slot);
    CHECK_ARG(offset >= 0 && bytes >= 0, "cpuEngineSetTensorFile: offset and bytes are required");
    CHECK_ARG(type != kWeightI8Channel && type != kWeightI8Group && type != kWeightI4Group && type != kWeightNF4Group,
              "int8 / 4-bit codes come from cpuEngineSetTensor");
    CHECK_ARG(path != nullptr, "path: expected a string");
    const std::string file = path;
    const int hd = c.hidden, qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
    int rows = 0, cols = 0;
    Weight* dst = nullptr;
    if (layer == -1) {
      CHECK_ARG(slot == 0 || slot == 2, "cpuEngineSetTensorFile: slot " + std::to_string(slot) + " is not a matrix (0 embed, 2 lm_head)");
      dst = slot == 0 ? &e.embed : &e.lm_head;
      rows = c.vocab;
      cols = hd;
    } else {
      Layer& L = e.layers[layer];
      switch (slot) {
        case 2: dst = &L.q, rows = qd, cols = hd; break;
        case 3: dst = &L.k, rows = kvd, cols = hd; break;
        case 4: dst = &L.v, rows = kvd, cols = hd; break;
        case 5: dst = &L.o, rows = hd, cols = qd; break;
        case 6: dst = &L.gate, rows = c.inter, cols = hd; break;
        case 7: dst = &L.up, rows = c.inter, cols = hd; break;
        case 8: dst = &L.down, rows = hd, cols = c.inter; break;
        default: THROW_ERROR("E_ARG", "cpuEngineSetTensorFile: slot " + std::to_string(slot) + " is not a matrix (2..8)");
      }
    }
    FILE* f = std::fopen(file.c_str(), "rb");
    if (!f) THROW_ERROR("E_IO", file + ": cannot open");
    auto fill = [&](uint8_t* p, size_t n) {
      size_t got = 0;
      if (fseeko(f, (off_t)offset, SEEK_SET) == 0)
        while (got < n) {
          size_t k = std::fread(p + got, 1, n - got, f);
          if (k == 0) break;
          got += k;
        }
      if (got != n) THROW_ERROR("E_IO", file + ": short read at offset " + std::to_string(offset + (int64_t)got));
    };
    *dst = Weight();  // free the old one first
    try {
      *dst = MakeWeightStored(rows, cols, nullptr, (size_t)bytes, type, keep_stored != 0, nullptr, fill);
    } catch (...) {
      std::fclose(f);
      throw;
    }
    std::fclose(f);
    if (stored_type_out) *stored_type_out = dst->fmt;
  })
}

cllm_status cllm_cpu_new_cache(cllm_cpu_engine* h, int32_t* cache) {
  CLLM_API_GUARD({
    Engine& e = h->e;
    const int id = e.next_cache++;
    e.caches[id] = std::make_unique<Cache>();
    *cache = id;
  })
}

cllm_status cllm_cpu_free_cache(cllm_cpu_engine* h, int32_t cache, int32_t* existed) {
  CLLM_API_GUARD({ *existed = h->e.caches.erase(cache) > 0; })
}

cllm_status cllm_cpu_cache_length(cllm_cpu_engine* h, int32_t cache, int32_t* length) {
  CLLM_API_GUARD({ *length = GetCache(h->e, cache).len; })
}

cllm_status cllm_cpu_forward(cllm_cpu_engine* h, int32_t cache_id, const int32_t* tokens, int32_t T, int32_t last_only, int32_t reference,
                             float* logits) {
  CLLM_API_GUARD({
    Engine& e = h->e;
    CheckComplete(e);
    CHECK_ARG(T > 0, "tokens: empty sequence");
    for (int t = 0; t < T; t++)
      CHECK_ARG(tokens[t] >= 0 && tokens[t] < e.c.vocab, "tokens: token id " + std::to_string(tokens[t]) + " outside [0, " + std::to_string(e.c.vocab) + ")");
    Cache tmp;
    Cache& cache = cache_id >= 0 ? GetCache(e, cache_id) : tmp;
    CHECK_ARG((int64_t)cache.len + T < (1LL << 30), "KV cache length would exceed 2^30 positions");
    std::vector<int32_t> toks(tokens, tokens + T);
    Forward(e, cache, toks.data(), T, last_only != 0, reference != 0, logits);
  })
}

cllm_status cllm_cpu_info_get(cllm_cpu_engine* h, cllm_cpu_info* o) {
  static_assert((int)kWeightTypeCount <= (int)CLLM_MAX_WEIGHT_TYPES, "cllm_cpu_info.linear_counts holds every weight type id");
  CLLM_API_GUARD({
    const Engine& e = h->e;
    *o = cllm_cpu_info{};
    o->threads = GlobalPool().size();
    o->solo_periods = (double)GlobalPool().solo_periods();
    o->isa = HasAvx2() ? "avx2+fma" : "scalar";
    auto count = [&](const Weight& w) {
      if (w.fmt == kWeightNone)
        o->linear_unset++;
      else
        o->linear_counts[w.fmt]++;
    };
    size_t bytes = e.embed.Bytes() + e.lm_head.Bytes() + e.norm.size() * 4;
    count(e.lm_head);
    for (const Layer& L : e.layers) {
      bytes += (L.in_norm.size() + L.post_norm.size() + L.bq.size() + L.bk.size() + L.bv.size() + L.pre_ffn_norm.size() +
                L.post_ffn_norm.size() + L.q_norm.size() + L.k_norm.size()) * 4;
      for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
        bytes += w->Bytes();
        count(*w);
      }
    }
    o->weight_bytes = (double)bytes;
    // bytes a batch-1 decode step reads: every linear (incl. lm_head) once, plus one embedding row (ignored)
    size_t decode = e.lm_head.Bytes();
    for (const Layer& L : e.layers)
      for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) decode += w->Bytes();
    o->decode_bytes_per_token = (double)decode;
    o->embed_type = e.embed.fmt;
  })
}

int32_t cllm_cpu_threads(void) { return GlobalPool().size(); }

int32_t cllm_cpu_vocab(const cllm_cpu_engine* e) { return e->e.c.vocab; }

}  // extern "C"
