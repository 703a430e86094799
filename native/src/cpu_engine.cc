// cpu_engine.cc — native CPU Llama-family forward (prefill + KV-cache decode), built from the reference ops of
// engine/ops_ref.h plus multi-threaded fast versions of the hot ones (linear, attention).
//
// Readable twins: every fast kernel here has its reference in engine/ops_ref.h; test/engine-cpu-native.test.ts
// compares them on seeded random inputs (cpuKernel below runs either side), and the engine's logits against the
// tfjs reference (src/model/llama.ts) and PyTorch. The engine can also run the whole forward on the reference ops
// (forward(..., reference = true)): the end-to-end twin.
//
// Weight storage (per linear, chosen when the weight is set): the engine keeps the model's float32 weight VALUES
// exactly — results match the tfjs reference up to summation order. Where the caller also hands the checkpoint's raw
// GGML blocks (q4_1, q8_0) and dequantizing them here reproduces the float32 weight bit for bit (checked on every
// set), the blocks are kept instead (5 / 8.5 bits per weight instead of 32: batch-1 decode is memory bound, so this is
// what makes decode fast); likewise fp16 / bf16 when every value is exactly representable. storage 'f32' forces
// plain float32. Any mismatch falls back to float32: the stored weight is always exactly the given one.
//
// Hot loops: y = x·Wᵀ is split over weight rows on a persistent thread pool (N = hardware_concurrency, or
// CODECLLM_THREADS; with a back-off to the calling thread alone while workers keep getting descheduled, see Pool); each task dequantizes up to 8 rows into a float tile and runs a register-blocked micro-kernel
// (tokens × rows). AVX2+FMA (and F16C) kernels are compiled with function target attributes and chosen at run time
// when the CPU has them (no global -mavx2, so the addon still loads on any x86-64); plain loops otherwise.
//
// JS API (registered by InitCpuEngine; wrapped by src/engine/cpu-native.ts):
//   cpuEngineCreate({hidden, intermediate, layers, heads, kvHeads, headDim, vocab, rmsEps, invFreq: Float32Array,
//                    [architecture features, all optional (plain Llama when absent; see ReadFeatures):
//                     hiddenAct, sandwichNorms, qkNorm, embedScale, attnScale, slidingLayers: Uint8Array, slidingWindow,
//                     invFreqLocal: Float32Array, attnSoftcap, finalSoftcap]}) -> id
//   cpuEngineSetTensor(id, layer, slot, f32: Float32Array, raw: Uint8Array|null, rawType: number|string|null,
//                      storage: 'auto'|'f32', scale?: Float32Array, zero?: Uint8Array|null, group?: number)
//       -> format name actually stored ('f32'|'f16'|'bf16'|'q8_0'|'q4_1'|'q5_0'|'q4_k'|'q6_k'|'i8_channel'|'i8_group')
//       rawType: a weight type id of common/weight_types.h (dtypes.ts DTYPES[*].id / ENGINE_LAYOUTS; a name is
//       accepted too). 'q4_1' | 'q8_0' | 'q5_0' | 'q4_k' | 'q6_k': raw = the GGML blocks; 'i8_channel' | 'i8_group': raw = int8 codes (quantize.ts
//       layout, int8 sym / uint8 asym) with scale (float values), zero (asym) and group. Kept only when it
//       dequantizes to exactly f32.
//       f32 null: no float32 values; raw holds the tensor as stored, rawType 'bf16'|'f16'|'f32'|'q4_1'|'q8_0'
//       (kept as is with storage 'auto', widened with 'f32') or 'i8_channel'|'i8_group' codes kept as given
//       (MakeWeightStored: the streaming checkpoint load, no float32 copy of the tensor)
//       layer -1: slot 0 embed (V,h), 1 final norm (h), 2 lm_head (V,h)
//       layer l : slot 0 input norm, 1 post norm, 2 q, 3 k, 4 v, 5 o, 6 gate, 7 up, 8 down, 9 q bias, 10 k bias,
//                 11 v bias, 12 pre-FFN norm, 13 post-FFN norm (sandwich norms), 14 q norm, 15 k norm (head_dim)
//                 (append-only; mirrored in cpu-native.ts)
//   cpuEngineSetTensorFile(id, layer, slot, path, offset, bytes, storedType, storage) -> format: a matrix read from
//       the checkpoint file straight into the engine's storage (bf16|f16|f32|q4_1|q8_0; MakeWeightStored)
//   cpuEngineNewCache(id) -> cacheId ; cpuEngineFreeCache(id, cacheId) ; cpuEngineCacheLength(id, cacheId)
//   cpuEngineForward(id, cacheId (-1: none), tokens: Int32Array, lastOnly, reference) -> Float32Array (T|1, V)
//   cpuEngineInfo(id) -> {threads, isa, weightBytes, formats: {f32: n, ...}}
//   cpuEngineDispose(id)
//   cpuKernel(op, fast, args) -> Float32Array     (twin tests; see RunKernel)
//   cpuThreads() -> pool size
//
// Layout: this file is the N-API binding (config, tensors, caches, forward, info); the engine is declared in
// cpu/engine.h and defined in cpu/{pool,linear,attention,weights,forward}.cc; cpuKernel (twin harness) is
// native/src/cpu_kernel_test.cc.
#include <napi.h>

#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "binding.h"
#include "cpu/engine.h"
#include "cpu/napi_args.h"

namespace codecllm {
namespace cpu {
namespace {

std::mutex g_mu;
std::map<int, std::unique_ptr<Engine>> g_engines;
int g_next_engine = 1;

Engine& GetEngine(int id) {
  auto it = g_engines.find(id);
  CHECK_ARG(it != g_engines.end(), "cpu engine " + std::to_string(id) + " does not exist (disposed?)");
  return *it->second;
}

/** Optional number field of the config (absent / undefined: `dflt`); E_ARG when present and not a finite number. */
double OptNumber(const Napi::Object& o, const char* k, double dflt) {
  Napi::Value v = o.Get(k);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  CHECK_ARG(v.IsNumber() && std::isfinite(v.As<Napi::Number>().DoubleValue()), std::string("config.") + k + ": expected a finite number");
  return v.As<Napi::Number>().DoubleValue();
}

/**
 * The architecture features (config.ts ArchFeatures, sent by cpu-native.ts engineFeatures): all optional, absent =
 * plain Llama. hiddenAct 'silu'|'gelu_tanh'; sandwichNorms, qkNorm booleans; embedScale, attnScale (> 0) numbers;
 * slidingLayers Uint8Array(layers) with slidingWindow >= 1; invFreqLocal Float32Array(headDim/2) (the local layers'
 * rope); attnSoftcap, finalSoftcap (> 0, or 0 / absent for none).
 */
void ReadFeatures(const Napi::Object& o, Engine& e) {
  Config& c = e.c;
  Napi::Value act = o.Get("hiddenAct");
  if (!act.IsUndefined() && !act.IsNull()) {
    CHECK_ARG(act.IsString(), "config.hiddenAct: expected 'silu' or 'gelu_tanh'");
    const std::string a = act.As<Napi::String>().Utf8Value();
    CHECK_ARG(a == "silu" || a == "gelu_tanh", "config.hiddenAct: '" + a + "' (expected 'silu' or 'gelu_tanh')");
    c.act = a == "silu" ? kActSilu : kActGeluTanh;
  }
  c.sandwich = o.Get("sandwichNorms").ToBoolean().Value();
  c.qk_norm = o.Get("qkNorm").ToBoolean().Value();
  c.embed_scale = (float)OptNumber(o, "embedScale", 1.0);
  c.attn_scale = (float)OptNumber(o, "attnScale", 0.0);
  CHECK_ARG(c.embed_scale > 0 && c.attn_scale >= 0, "config.embedScale / attnScale: must be positive");
  c.attn_softcap = (float)OptNumber(o, "attnSoftcap", 0.0);
  c.final_softcap = (float)OptNumber(o, "finalSoftcap", 0.0);
  CHECK_ARG(c.attn_softcap >= 0 && c.final_softcap >= 0, "config.attnSoftcap / finalSoftcap: must be >= 0 (0: none)");
  Napi::Value sl = o.Get("slidingLayers");
  if (!sl.IsUndefined() && !sl.IsNull()) {
    const uint8_t* p = TypedData<uint8_t>(sl, (size_t)c.layers, "config.slidingLayers", napi_uint8_array);
    c.sliding.assign(p, p + c.layers);
    const double w = OptNumber(o, "slidingWindow", 0.0);
    CHECK_ARG(w >= 1 && w < (double)(1 << 30) && w == std::floor(w), "config.slidingWindow: expected an integer in [1, 2^30) with slidingLayers");
    c.window = (int)w;
  }
  Napi::Value il = o.Get("invFreqLocal");
  if (!il.IsUndefined() && !il.IsNull()) {
    const float* p = F32Arg(il, (size_t)c.head_dim / 2, "config.invFreqLocal");
    e.inv_freq_local.assign(p, p + c.head_dim / 2);
  }
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  CHECK_ARG(info.Length() >= 1 && info[0].IsObject(), "cpuEngineCreate: expected a config object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto e = std::make_unique<Engine>();
  Config& c = e->c;
  const ModelDims d = ReadModelDims(o, "cpuEngineCreate");
  CheckModelDims(d, "cpuEngineCreate");  // common/engine_dims.h: the bounds both engines share
  c.hidden = d.hidden, c.inter = d.intermediate, c.layers = d.layers, c.heads = d.heads, c.kv_heads = d.kv_heads;
  c.head_dim = d.head_dim, c.vocab = d.vocab;
  Napi::Value eps = o.Get("rmsEps");
  CHECK_ARG(eps.IsNumber(), "config.rmsEps: expected a number");
  c.eps = (float)eps.As<Napi::Number>().DoubleValue();
  const float* inv = F32Arg(o.Get("invFreq"), (size_t)c.head_dim / 2, "config.invFreq");
  e->inv_freq.assign(inv, inv + c.head_dim / 2);
  ReadFeatures(o, *e);
  e->layers.resize(c.layers);
  std::lock_guard<std::mutex> lk(g_mu);
  int id = g_next_engine++;
  g_engines[id] = std::move(e);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value SetTensor(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  const Config& c = e.c;
  const int layer = (int)ArgInt(info, 1, "layer", -1, c.layers - 1, -2);
  const int slot = (int)ArgInt(info, 2, "slot", 0, 15, -1);
  CHECK_ARG(layer >= -1 && slot >= 0, "cpuEngineSetTensor: layer and slot are required");
  const int raw_type = ArgWeightType(info, 5, "rawType");  // id (dtypes.ts DTYPES / ENGINE_LAYOUTS) or name; -1: none
  const uint8_t* raw = nullptr;
  size_t raw_bytes = 0;
  if (info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined()) {
    Bytes b = ArgBytes(info, 4, "raw");
    raw = b.data;
    raw_bytes = b.size;
  }
  std::string storage = info.Length() > 6 && info[6].IsString() ? info[6].As<Napi::String>().Utf8Value() : "auto";
  CHECK_ARG(storage == "auto" || storage == "f32", "storage: expected 'auto' or 'f32'");
  const bool auto_fmt = storage == "auto";
  const int h = c.hidden, qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  // info[3] null: no float32 values; the tensor comes as stored bytes (raw, rawType) — see MakeWeightStored
  const bool stored = info.Length() > 3 && info[3].IsNull();
  CHECK_ARG(!stored || raw, "cpuEngineSetTensor: without float32 values, raw stored bytes are required");
  auto vec = [&](std::vector<float>& dst, size_t n, const char* name) {
    if (stored) {
      Weight v = MakeWeightStored(1, (int)n, raw, raw_bytes, raw_type, false, nullptr);
      dst = std::move(v.f32);
      return std::string("f32");
    }
    const float* f = F32Arg(info[3], n, name);
    dst.assign(f, f + n);
    return std::string("f32");
  };
  // int8 codes (raw_type i8_channel / i8_group): info[7] scale Float32Array, info[8] zero Uint8Array|null, info[9] group
  Int8Codes i8;
  // (the 4-bit layouts i4_group / nf4_group come the same way: packed codes, scale, zero, group; common/quant4.h)
  const bool has_i8 = raw && (raw_type == kWeightI8Channel || raw_type == kWeightI8Group || raw_type == kWeightI4Group || raw_type == kWeightNF4Group);
  if (has_i8) {
    CHECK_ARG(info.Length() > 7 && info[7].IsTypedArray() && info[7].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
              "int8 scales: expected a Float32Array");
    Napi::Float32Array sc = info[7].As<Napi::Float32Array>();
    i8.scale = sc.Data();
    i8.n_scale = sc.ElementLength();
    if (info.Length() > 8 && !info[8].IsNull() && !info[8].IsUndefined()) {
      CHECK_ARG(info[8].IsTypedArray() && info[8].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array, "int8 zero points: expected a Uint8Array");
      Napi::Uint8Array z = info[8].As<Napi::Uint8Array>();
      i8.zero = z.ElementLength() ? z.Data() : EmptyBytes();
      i8.n_zero = z.ElementLength();
    }
    i8.group = (int)ArgInt(info, 9, "group", 0, 1 << 18, 0);
  }
  auto mat = [&](Weight& dst, int rows, int cols, const char* name) {
    if (stored) {
      dst = Weight();  // free the old one first: the peak stays at one copy of this tensor
      dst = MakeWeightStored(rows, cols, raw, raw_bytes, raw_type, auto_fmt, has_i8 ? &i8 : nullptr);
      return std::string(FmtName(dst.fmt));
    }
    const float* f = F32Arg(info[3], (size_t)rows * cols, name);
    dst = MakeWeight(f, rows, cols, raw, raw_bytes, raw_type, auto_fmt, has_i8 ? &i8 : nullptr);
    return std::string(FmtName(dst.fmt));
  };
  std::string fmt;
  if (layer == -1) {
    switch (slot) {
      case 0: fmt = mat(e.embed, c.vocab, h, "embed"); break;
      case 1: fmt = vec(e.norm, h, "norm"); break;
      case 2: fmt = mat(e.lm_head, c.vocab, h, "lm_head"); break;
      default: THROW_ERROR("E_ARG", "slot " + std::to_string(slot) + " is not a model-level tensor (0 embed, 1 norm, 2 lm_head)");
    }
  } else {
    Layer& L = e.layers[layer];
    switch (slot) {
      case 0: fmt = vec(L.in_norm, h, "input_layernorm"); break;
      case 1: fmt = vec(L.post_norm, h, "post_attention_layernorm"); break;
      case 2: fmt = mat(L.q, qd, h, "q_proj"); break;
      case 3: fmt = mat(L.k, kvd, h, "k_proj"); break;
      case 4: fmt = mat(L.v, kvd, h, "v_proj"); break;
      case 5: fmt = mat(L.o, h, qd, "o_proj"); break;
      case 6: fmt = mat(L.gate, c.inter, h, "gate_proj"); break;
      case 7: fmt = mat(L.up, c.inter, h, "up_proj"); break;
      case 8: fmt = mat(L.down, h, c.inter, "down_proj"); break;
      case 9: fmt = vec(L.bq, qd, "q_proj.bias"); break;
      case 10: fmt = vec(L.bk, kvd, "k_proj.bias"); break;
      case 11: fmt = vec(L.bv, kvd, "v_proj.bias"); break;
      case 12: fmt = vec(L.pre_ffn_norm, h, "pre_feedforward_layernorm"); break;
      case 13: fmt = vec(L.post_ffn_norm, h, "post_feedforward_layernorm"); break;
      case 14: fmt = vec(L.q_norm, c.head_dim, "q_norm"); break;
      case 15: fmt = vec(L.k_norm, c.head_dim, "k_norm"); break;
    }
  }
  return Napi::String::New(info.Env(), fmt);
}

/**
 * cpuEngineSetTensorFile(id, layer, slot, path, offset, bytes, storedType, storage) -> format: a matrix slot's tensor
 * read from the checkpoint file straight into the engine's storage (no JS buffer, no second copy: the streaming load
 * of bf16 / f16 / f32 / q4_1 / q8_0 safetensors tensors). A short read or an open failure is E_IO.
 */
Napi::Value SetTensorFile(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  const Config& c = e.c;
  const int layer = (int)ArgInt(info, 1, "layer", -1, c.layers - 1, -2);
  const int slot = (int)ArgInt(info, 2, "slot", 0, 11, -1);
  const std::string file = ArgString(info, 3, "path");
  const int64_t offset = ArgInt(info, 4, "offset", 0, (int64_t)1 << 52, -1);
  const int64_t bytes = ArgInt(info, 5, "bytes", 0, (int64_t)1 << 52, -1);
  const int type = ArgWeightType(info, 6, "storedType");
  const std::string storage = ArgString(info, 7, "storage");
  CHECK_ARG(storage == "auto" || storage == "f32", "storage: expected 'auto' or 'f32'");
  CHECK_ARG(offset >= 0 && bytes >= 0, "cpuEngineSetTensorFile: offset and bytes are required");
  CHECK_ARG(type != kWeightI8Channel && type != kWeightI8Group && type != kWeightI4Group && type != kWeightNF4Group,
            "int8 / 4-bit codes come from cpuEngineSetTensor");
  const int h = c.hidden, qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  int rows = 0, cols = 0;
  Weight* dst = nullptr;
  if (layer == -1) {
    CHECK_ARG(slot == 0 || slot == 2, "cpuEngineSetTensorFile: slot " + std::to_string(slot) + " is not a matrix (0 embed, 2 lm_head)");
    dst = slot == 0 ? &e.embed : &e.lm_head;
    rows = c.vocab;
    cols = h;
  } else {
    Layer& L = e.layers[layer];
    switch (slot) {
      case 2: dst = &L.q, rows = qd, cols = h; break;
      case 3: dst = &L.k, rows = kvd, cols = h; break;
      case 4: dst = &L.v, rows = kvd, cols = h; break;
      case 5: dst = &L.o, rows = h, cols = qd; break;
      case 6: dst = &L.gate, rows = c.inter, cols = h; break;
      case 7: dst = &L.up, rows = c.inter, cols = h; break;
      case 8: dst = &L.down, rows = h, cols = c.inter; break;
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
    *dst = MakeWeightStored(rows, cols, nullptr, (size_t)bytes, type, storage == "auto", nullptr, fill);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  return Napi::String::New(info.Env(), FmtName(dst->fmt));
}

void CheckComplete(const Engine& e) {
  CHECK_ARG(e.embed.fmt != kWeightNone && e.lm_head.fmt != kWeightNone && !e.norm.empty(), "cpu engine: embed, norm or lm_head not set");
  for (int l = 0; l < e.c.layers; l++) {
    const Layer& L = e.layers[l];
    bool set = !L.in_norm.empty() && !L.post_norm.empty();
    if (e.c.sandwich) set = set && !L.pre_ffn_norm.empty() && !L.post_ffn_norm.empty();
    if (e.c.qk_norm) set = set && !L.q_norm.empty() && !L.k_norm.empty();
    for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) set = set && w->fmt != kWeightNone;
    CHECK_ARG(set,
              "cpu engine: layer " + std::to_string(l) + " is not fully set");
  }
}

Napi::Value NewCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  int id = e.next_cache++;
  e.caches[id] = std::make_unique<Cache>();
  return Napi::Number::New(info.Env(), id);
}

Cache& GetCache(Engine& e, int id) {
  auto it = e.caches.find(id);
  CHECK_ARG(it != e.caches.end(), "cpu engine cache " + std::to_string(id) + " does not exist (freed, or from another engine?)");
  return *it->second;
}

Napi::Value FreeCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  return Napi::Boolean::New(info.Env(), e.caches.erase((int)ArgInt(info, 1, "cache", 0, 1 << 30, -1)) > 0);
}

Napi::Value CacheLength(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  return Napi::Number::New(info.Env(), GetCache(e, (int)ArgInt(info, 1, "cache", 0, 1 << 30, -1)).len);
}

Napi::Value DoForward(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  CheckComplete(e);
  const int cache_id = (int)ArgInt(info, 1, "cache", -1, 1 << 30, -1);
  CHECK_ARG(info.Length() > 2 && info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
            "tokens: expected an Int32Array");
  Napi::Int32Array tok = info[2].As<Napi::Int32Array>();
  const int T = (int)tok.ElementLength();
  CHECK_ARG(T > 0, "tokens: empty sequence");
  for (int t = 0; t < T; t++)
    CHECK_ARG(tok[t] >= 0 && tok[t] < e.c.vocab, "tokens: token id " + std::to_string(tok[t]) + " outside [0, " + std::to_string(e.c.vocab) + ")");
  const bool last_only = info.Length() > 3 && info[3].ToBoolean().Value();
  const bool reference = info.Length() > 4 && info[4].ToBoolean().Value();
  Cache tmp;
  Cache& cache = cache_id >= 0 ? GetCache(e, cache_id) : tmp;
  CHECK_ARG((int64_t)cache.len + T < (1LL << 30), "KV cache length would exceed 2^30 positions");
  std::vector<int32_t> tokens(tok.Data(), tok.Data() + T);
  const int rows = last_only ? 1 : T;
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), (size_t)rows * e.c.vocab);
  Forward(e, cache, tokens.data(), T, last_only, reference, out.Data());
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", GlobalPool().size());
  o.Set("soloPeriods", (double)GlobalPool().solo_periods());
  o.Set("isa", HasAvx2() ? "avx2+fma" : "scalar");
  std::map<std::string, int> counts;
  size_t bytes = e.embed.Bytes() + e.lm_head.Bytes() + e.norm.size() * 4;
  counts[FmtName(e.lm_head.fmt)]++;
  for (const Layer& L : e.layers) {
    bytes += (L.in_norm.size() + L.post_norm.size() + L.bq.size() + L.bk.size() + L.bv.size() + L.pre_ffn_norm.size() +
              L.post_ffn_norm.size() + L.q_norm.size() + L.k_norm.size()) * 4;
    for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
      bytes += w->Bytes();
      counts[FmtName(w->fmt)]++;
    }
  }
  o.Set("weightBytes", (double)bytes);
  // bytes a batch-1 decode step reads: every linear (incl. lm_head) once, plus one embedding row (ignored)
  size_t decode = e.lm_head.Bytes();
  for (const Layer& L : e.layers)
    for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) decode += w->Bytes();
  o.Set("decodeBytesPerToken", (double)decode);
  o.Set("embedFormat", FmtName(e.embed.fmt));
  Napi::Object f = Napi::Object::New(env);
  for (auto& kv : counts)
    if (kv.second > 0) f.Set(kv.first, kv.second);
  o.Set("linearFormats", f);
  return o;
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  return Napi::Boolean::New(info.Env(), g_engines.erase((int)ArgInt(info, 0, "id", 0, 1 << 30, -1)) > 0);
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), GlobalPool().size()); }


}  // namespace
}  // namespace cpu
}  // namespace codecllm

void InitCpuEngine(Napi::Env env, Napi::Object exports) {
  using namespace codecllm::cpu;
  EXPORT_FN(env, exports, "cpuEngineCreate", Create);
  EXPORT_FN(env, exports, "cpuEngineSetTensor", SetTensor);
  EXPORT_FN(env, exports, "cpuEngineSetTensorFile", SetTensorFile);
  EXPORT_FN(env, exports, "cpuEngineNewCache", NewCache);
  EXPORT_FN(env, exports, "cpuEngineFreeCache", FreeCache);
  EXPORT_FN(env, exports, "cpuEngineCacheLength", CacheLength);
  EXPORT_FN(env, exports, "cpuEngineForward", DoForward);
  EXPORT_FN(env, exports, "cpuEngineInfo", Info);
  EXPORT_FN(env, exports, "cpuEngineDispose", Dispose);
  EXPORT_FN(env, exports, "cpuThreads", Threads);
}
