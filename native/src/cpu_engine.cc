// cpu_engine.cc — native CPU Llama-family forward (prefill + KV-cache decode), built from the reference ops of
// engine/ops_ref.h plus multi-threaded fast versions of the hot ones (linear, attention).
//
// Readable twins: every fast kernel here has its reference in engine/ops_ref.h; test/engine-cpu-native.test.ts
// compares them on seeded random inputs (the twin test binary codecllm_cpu_twins, native/test/cpu_twins.cc), and the engine's logits against the
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
//   cpuThreads() -> pool size
//
// Layout: this file is the N-API binding only: it converts JS values and calls the C API of
// native/include/codecllm_engine.h (cllm_cpu_*, implemented in cpu/api.cc, where every argument check lives); the engine is declared in
// cpu/engine.h and defined in cpu/{pool,linear,attention,weights,forward}.cc; the kernel twins are the executable
// codecllm_cpu_twins (native/test/cpu_twins.cc).
#include <napi.h>

#include <cmath>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "binding.h"
#include "engine_api.h"

namespace codecllm {
namespace cpu {
namespace {

struct Destroy {
  void operator()(cllm_cpu_engine* e) const { cllm_cpu_destroy(e); }
};
std::mutex g_mu;
std::map<int, std::unique_ptr<cllm_cpu_engine, Destroy>> g_engines;
int g_next_engine = 1;

cllm_cpu_engine* GetEngine(int id) {
  auto it = g_engines.find(id);
  CHECK_ARG(it != g_engines.end(), "cpu engine " + std::to_string(id) + " does not exist (disposed?)");
  return it->second.get();
}
cllm_cpu_engine* EngineArg(const Napi::CallbackInfo& info) { return GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1)); }

/** The data of a Float32Array of n elements (null when n is 0); E_ARG naming `name` for any other value. */
const float* F32Arg(const Napi::Value& v, size_t n, const char* name) {
  CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array, std::string(name) + ": wrong array type");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  CHECK_ARG(a.ElementLength() == n, std::string(name) + ": expected " + std::to_string(n) + " elements, got " + std::to_string(a.ElementLength()));
  if (n == 0) return nullptr;
  return reinterpret_cast<const float*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}

/** A typed array argument's element count, or 0 for null / undefined (the C API checks sizes). */
size_t Len(const Napi::Value& v) { return v.IsTypedArray() ? v.As<Napi::TypedArray>().ElementLength() : 0; }

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
 * rope); attnSoftcap, finalSoftcap (> 0, or 0 / absent for none). Converted to cllm_cpu_features here; the range
 * checks live in cpu/api.cc (SetFeatures). The pointers stay valid while `o` is alive (the Create call).
 */
cllm_cpu_features ReadFeatures(const Napi::Object& o) {
  cllm_cpu_features f{};
  Napi::Value act = o.Get("hiddenAct");
  if (!act.IsUndefined() && !act.IsNull()) {
    CHECK_ARG(act.IsString(), "config.hiddenAct: expected 'silu' or 'gelu_tanh'");
    const std::string a = act.As<Napi::String>().Utf8Value();
    CHECK_ARG(a == "silu" || a == "gelu_tanh", "config.hiddenAct: '" + a + "' (expected 'silu' or 'gelu_tanh')");
    f.act = a == "silu" ? CLLM_CPU_ACT_SILU : CLLM_CPU_ACT_GELU_TANH;
  }
  f.sandwich_norms = o.Get("sandwichNorms").ToBoolean().Value();
  f.qk_norm = o.Get("qkNorm").ToBoolean().Value();
  f.embed_scale = (float)OptNumber(o, "embedScale", 1.0);
  CHECK_ARG(f.embed_scale > 0, "config.embedScale / attnScale: must be positive");  // 0 would mean "1" in the C API
  f.attn_scale = (float)OptNumber(o, "attnScale", 0.0);
  f.attn_softcap = (float)OptNumber(o, "attnSoftcap", 0.0);
  f.final_softcap = (float)OptNumber(o, "finalSoftcap", 0.0);
  Napi::Value sl = o.Get("slidingLayers");
  if (!sl.IsUndefined() && !sl.IsNull()) {
    CHECK_ARG(sl.IsTypedArray() && sl.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array, "config.slidingLayers: wrong array type");
    Napi::Uint8Array a = sl.As<Napi::Uint8Array>();
    f.sliding_layers = a.ElementLength() ? a.Data() : EmptyBytes();
    f.n_sliding_layers = a.ElementLength();
    const double w = OptNumber(o, "slidingWindow", 0.0);
    // an integer in range crosses as itself; anything else as 0, which cllm_cpu_create refuses with the one message
    f.sliding_window = w >= 1 && w < (double)(1 << 30) && w == std::floor(w) ? (int32_t)w : 0;
  }
  Napi::Value il = o.Get("invFreqLocal");
  if (!il.IsUndefined() && !il.IsNull()) {
    f.n_inv_freq_local = Len(il);
    f.inv_freq_local = F32Arg(il, f.n_inv_freq_local, "config.invFreqLocal");
    if (f.inv_freq_local == nullptr) f.inv_freq_local = reinterpret_cast<const float*>(EmptyBytes());
  }
  return f;
}

Napi::Value Create(const Napi::CallbackInfo& info) {
  CHECK_ARG(info.Length() >= 1 && info[0].IsObject(), "cpuEngineCreate: expected a config object");
  Napi::Object o = info[0].As<Napi::Object>();
  const ModelDims d = ReadModelDims(o, "cpuEngineCreate");
  CheckModelDims(d, "cpuEngineCreate");  // before reading invFreq, whose size depends on headDim
  const cllm_dims dims{d.hidden, d.intermediate, d.layers, d.heads, d.kv_heads, d.head_dim, d.vocab};
  Napi::Value eps = o.Get("rmsEps");
  CHECK_ARG(eps.IsNumber(), "config.rmsEps: expected a number");
  Napi::Value inv = o.Get("invFreq");
  const float* invp = F32Arg(inv, Len(inv), "config.invFreq");
  const cllm_cpu_features features = ReadFeatures(o);
  cllm_cpu_engine* e = nullptr;
  CLLM_CALL(cllm_cpu_create(&dims, (float)eps.As<Napi::Number>().DoubleValue(), invp, Len(inv), &features, &e));
  std::lock_guard<std::mutex> lk(g_mu);
  int id = g_next_engine++;
  g_engines[id].reset(e);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value SetTensor(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  cllm_cpu_engine* e = EngineArg(info);
  const int layer = (int)ArgInt(info, 1, "layer", -1, 1 << 30, -2);
  const int slot = (int)ArgInt(info, 2, "slot", 0, CLLM_CPU_MAX_SLOT, -1);
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
  // info[3] null: no float32 values; the tensor comes as stored bytes (raw, rawType)
  const float* f32 = nullptr;
  size_t n_f32 = 0;
  if (!(info.Length() > 3 && info[3].IsNull())) {
    Napi::Value v = info.Length() > 3 ? info[3] : info.Env().Undefined();
    n_f32 = Len(v);
    f32 = F32Arg(v, n_f32, "weight");
    if (f32 == nullptr) f32 = reinterpret_cast<const float*>(EmptyBytes());  // zero elements: still "values given"
  }
  // int8 codes (raw_type i8_channel / i8_group): info[7] scale Float32Array, info[8] zero Uint8Array|null, info[9] group
  // (the 4-bit layouts i4_group / nf4_group come the same way: packed codes, scale, zero, group; common/quant4.h)
  cllm_int8_codes i8{};
  if (raw && (raw_type == kWeightI8Channel || raw_type == kWeightI8Group || raw_type == kWeightI4Group || raw_type == kWeightNF4Group)) {
    CHECK_ARG(info.Length() > 7 && info[7].IsTypedArray() && info[7].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
              "int8 scales: expected a Float32Array");
    Napi::Float32Array sc = info[7].As<Napi::Float32Array>();
    i8.scale = sc.ElementLength() ? sc.Data() : reinterpret_cast<const float*>(EmptyBytes());
    i8.n_scale = sc.ElementLength();
    if (info.Length() > 8 && !info[8].IsNull() && !info[8].IsUndefined()) {
      CHECK_ARG(info[8].IsTypedArray() && info[8].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array, "int8 zero points: expected a Uint8Array");
      Napi::Uint8Array z = info[8].As<Napi::Uint8Array>();
      i8.zero = z.ElementLength() ? z.Data() : EmptyBytes();
      i8.n_zero = z.ElementLength();
    }
    i8.group = (int)ArgInt(info, 9, "group", 0, 1 << 18, 0);
  }
  int32_t fmt = -1;
  CLLM_CALL(cllm_cpu_set_weight(e, layer, slot, f32, n_f32, raw, raw_bytes, raw_type, storage == "auto", &i8, &fmt));
  return Napi::String::New(info.Env(), FmtName(fmt));
}

/**
 * cpuEngineSetTensorFile(id, layer, slot, path, offset, bytes, storedType, storage) -> format: a matrix slot's tensor
 * read from the checkpoint file straight into the engine's storage (no JS buffer, no second copy: the streaming load
 * of bf16 / f16 / f32 / q4_1 / q8_0 safetensors tensors). A short read or an open failure is E_IO.
 */
Napi::Value SetTensorFile(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  cllm_cpu_engine* e = EngineArg(info);
  const int layer = (int)ArgInt(info, 1, "layer", -1, 1 << 30, -2);
  const int slot = (int)ArgInt(info, 2, "slot", 0, CLLM_CPU_MAX_SLOT, -1);
  const std::string file = ArgString(info, 3, "path");
  const int64_t offset = ArgInt(info, 4, "offset", 0, (int64_t)1 << 52, -1);
  const int64_t bytes = ArgInt(info, 5, "bytes", 0, (int64_t)1 << 52, -1);
  const int type = ArgWeightType(info, 6, "storedType");
  const std::string storage = ArgString(info, 7, "storage");
  CHECK_ARG(storage == "auto" || storage == "f32", "storage: expected 'auto' or 'f32'");
  int32_t fmt = -1;
  CLLM_CALL(cllm_cpu_set_weight_file(e, layer, slot, file.c_str(), offset, bytes, type, storage == "auto", &fmt));
  return Napi::String::New(info.Env(), FmtName(fmt));
}

Napi::Value NewCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  int32_t id = 0;
  CLLM_CALL(cllm_cpu_new_cache(EngineArg(info), &id));
  return Napi::Number::New(info.Env(), id);
}

Napi::Value FreeCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  cllm_cpu_engine* e = EngineArg(info);
  int32_t existed = 0;
  CLLM_CALL(cllm_cpu_free_cache(e, (int)ArgInt(info, 1, "cache", 0, 1 << 30, -1), &existed));
  return Napi::Boolean::New(info.Env(), existed != 0);
}

Napi::Value CacheLength(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  cllm_cpu_engine* e = EngineArg(info);
  int32_t len = 0;
  CLLM_CALL(cllm_cpu_cache_length(e, (int)ArgInt(info, 1, "cache", 0, 1 << 30, -1), &len));
  return Napi::Number::New(info.Env(), len);
}

Napi::Value DoForward(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  cllm_cpu_engine* e = EngineArg(info);
  const int cache_id = (int)ArgInt(info, 1, "cache", -1, 1 << 30, -1);
  CHECK_ARG(info.Length() > 2 && info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
            "tokens: expected an Int32Array");
  Napi::Int32Array tok = info[2].As<Napi::Int32Array>();
  const int T = (int)tok.ElementLength();
  const bool last_only = info.Length() > 3 && info[3].ToBoolean().Value();
  const bool reference = info.Length() > 4 && info[4].ToBoolean().Value();
  const size_t rows = last_only ? 1 : (size_t)(T > 0 ? T : 0);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), rows * (size_t)cllm_cpu_vocab(e));
  CLLM_CALL(cllm_cpu_forward(e, cache_id, tok.ElementLength() ? tok.Data() : nullptr, T, last_only, reference, out.Data()));
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  cllm_cpu_info ci;
  CLLM_CALL(cllm_cpu_info_get(EngineArg(info), &ci));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", ci.threads);
  o.Set("soloPeriods", ci.solo_periods);
  o.Set("isa", ci.isa);
  o.Set("weightBytes", ci.weight_bytes);
  o.Set("decodeBytesPerToken", ci.decode_bytes_per_token);
  o.Set("embedFormat", FmtName(ci.embed_type));
  std::map<std::string, int> counts;  // keys in name order, as before
  for (int t = 0; t < CLLM_MAX_WEIGHT_TYPES; t++)
    if (ci.linear_counts[t] > 0) counts[FmtName(t)] = ci.linear_counts[t];
  if (ci.linear_unset > 0) counts[FmtName(kWeightNone)] = ci.linear_unset;
  Napi::Object f = Napi::Object::New(env);
  for (auto& kv : counts) f.Set(kv.first, kv.second);
  o.Set("linearFormats", f);
  return o;
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  return Napi::Boolean::New(info.Env(), g_engines.erase((int)ArgInt(info, 0, "id", 0, 1 << 30, -1)) > 0);
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), cllm_cpu_threads()); }

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
