// gpu_engine.cc — the CUDA Llama-family engine (CUDA builds; kernels in native/src/cuda/engine_*.cu, declared in
// cuda/engine.cuh). Driven from TypeScript by src/engine/cuda.ts.
//
// One Engine holds, in device buffers registered with the addon's VRAM ledger (device.h AllocBuffer, tag
// "engine<id>:<category>"): the fp16 embedding table, fp32 norms, every linear in its storage mode, the KV cache
// (fp16 or fp32, (L, Hkv, Smax, D) for K and V), activations, the rope table and, for compressed linears, the nvCOMP
// chunk tables, temp space and decode buffers.
//
// Storage modes of a linear (src/engine/modes.ts):
//   fp16        W (out, in) half; GEMV reads 2 bytes a weight.
//   int8        codes (out, in) int8 + fp32 scale per output row; dequantized inside the GEMV / GEMM.
//   compressed  int8 codes compressed by nvCOMP (packed chunks made by nvcompCompress, src/codec/nvcomp.ts); the
//               codes buffer is freed, so no fp16 or int8 copy stays resident. Decoded by a batched nvCOMP call per
//               layer ("group": the compressed linears of one block, or lm_head), scheduled per engine:
//     decode-per-forward  each forward decodes every group into ONE pooled buffer right before its layer runs;
//     cached              reset() decodes all groups once per sequence into a resident int8 cache;
//     fused               a second stream decodes layer l+1 into one half of a double buffer while layer l computes
//                         from the other half (events order decode ↔ compute); captured in the decode graph.
//   Every chunk's nvCOMP status and decompressed size are checked on the device after each decode
//   (LaunchCheckChunks); the host reads the error counter after every forward / generate and throws E_NVCOMP
//   naming codec, tensor and chunk.
//
// Decode (T = 1) reads the token and position from device memory (step[0], step[1]) and ends with an on-device
// argmax that writes the next token and advances the position, so a greedy step is position-independent and is
// captured once into a CUDA graph and replayed; prefill (T > 1) runs eagerly with tensor-core GEMMs.
//
// JS (all ids are numbers; errors are codecllm::Error through binding.h):
//   engineCreate(cfg) -> id                  cfg: {hidden, intermediate, layers, heads, kvHeads, headDim, vocab,
//                                               rmsEps, maxSeq, maxPrefill, kvDtype:'f16'|'f32', ropeCos, ropeSin,
//                                               optional ArchFeatures (config.ts): hiddenAct, qkNorm, sandwichNorms,
//                                               embedScale, attnScale, slidingLayers Uint8Array(L), slidingWindow,
//                                               attnSoftcap, finalSoftcap; ropeCosLocal / ropeSinLocal (local layers)}
//   engineSetEmbedding(id, f32 (V*h))        engineSetNorm(id, layer|-1, which (gpu/engine.h NormSlot: 0 input, 1 post,
//                                             2 pre-FFN, 3 post-FFN, 4 q, 5 k), f32 (h, or D for q/k))
//   engineSetLinearF32(id, index, mode 'fp16'|'int8', f32 (out*in), bias f32|null)   index = layer*7 + k, lm_head = L*7
//   engineSetLinearInt8(id, index, codes Int8Array, scales Float32Array, bias|null)
//   engineSetLinearQ4(id, index, type 'i4_group'|'nf4_group', codes Uint8Array, scales Float32Array, zeros|null, group, bias|null)
//   engineShareEmbedding(id)                 lm_head (fp16) reads the embedding table (tied models)
//   engineRandomize(id, seed, modes Int32Array(L*7+1))   synthetic weights generated on the device
//   engineLinearCodes(id, index) -> {id, bytes}          int8 codes buffer, for nvcompCompress
//   engineSetCompressed(id, index, codec, packedId, chunkOffsets F64, chunkBytes F64, chunkSize)
//   engineFinalize(id, schedule 'none'|'decode-per-forward'|'cached'|'fused')
//   engineReset(id)                          engineForward(id, tokens Int32Array, wantLogits) -> {next, logits?, ms}
//   engineGenerate(id, n, useGraph) -> {tokens Int32Array, ms, graph}
//   engineLedger(id) -> {categories: {...bytes}, modes: {fp16, int8, compressed}}      engineDestroy(id)
//   engineKernelTest(name, params) -> {name, n, maxAbs, maxErrOverTol, fails, first: [...], atol, rtol, pass}
//
// Layout: this file is the N-API binding only (argument parsing, engine registry); the engine itself is declared in
// gpu/engine.h and defined in gpu/{weights,decode_groups,forward,batching,ledger}.cc; the kernel twin harness
// (engineKernelTest) is native/src/gpu_kernel_test.cc.
#include <napi.h>

#include "binding.h"

#if defined(CODECLLM_HAVE_CUDA)
#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gpu/engine.h"

namespace codecllm {
namespace engine {


std::map<uint32_t, std::unique_ptr<Engine>>& Engines() {
  static std::map<uint32_t, std::unique_ptr<Engine>> m;
  return m;
}
uint32_t next_engine_id = 1;

Engine& Get(const Napi::CallbackInfo& info) {
  uint32_t id = (uint32_t)ArgSize(info, 0, "engine", 0xffffffffu);
  auto it = Engines().find(id);
  CHECK_ARG(it != Engines().end(), "engine " + std::to_string(id) + " does not exist (destroyed?)");
  return *it->second;
}

template <class T>
const T* TypedData(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type, size_t* n) {
  CHECK_ARG(info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == type,
            std::string(name) + ": wrong typed array type");
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  *n = a.ElementLength();
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}
const float* OptF32(const Napi::CallbackInfo& info, size_t i, size_t* n) {
  *n = 0;
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return TypedData<float>(info, i, "bias", napi_float32_array, n);
}
int ParseMode(const std::string& m) {
  if (m == "fp16") return kModeFp16;
  if (m == "int8") return kModeInt8;
  THROW_ERROR("E_ARG", "storage mode '" + m + "' (expected fp16 or int8 here)");
}
int ParseSchedule(const std::string& s) {
  if (s == "none") return kSchedNone;
  if (s == "decode-per-forward") return kSchedDecodePerForward;
  if (s == "cached") return kSchedCached;
  if (s == "fused") return kSchedFused;
  THROW_ERROR("E_ARG", "schedule '" + s + "' (expected none, decode-per-forward, cached or fused)");
}

int CfgInt(Napi::Object o, const char* k, int lo, int hi) {
  Napi::Value v = o.Get(k);
  CHECK_ARG(v.IsNumber(), std::string("engine config: ") + k + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  CHECK_ARG(d == std::floor(d) && d >= lo && d <= hi, std::string("engine config: ") + k + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int)d;
}

Napi::Value EngineCreate(const Napi::CallbackInfo& info) {
  CHECK_ARG(info.Length() > 0 && info[0].IsObject(), "engineCreate: expected a config object");
  Napi::Object o = info[0].As<Napi::Object>();
  Config c;
  const ModelDims d = ReadModelDims(o, "engine config");
  CheckGpuDims(d, "engine config");  // common/engine_dims.h: shared bounds + the kernels' 16-byte row rules
  c.h = d.hidden, c.I = d.intermediate, c.L = d.layers, c.H = d.heads, c.Hkv = d.kv_heads, c.D = d.head_dim, c.V = d.vocab;
  c.Smax = CfgInt(o, "maxSeq", 1, 1 << 16);
  c.Tmax = CfgInt(o, "maxPrefill", 1, 1 << 16);
  c.B = o.Get("maxBatch").IsUndefined() ? 1 : CfgInt(o, "maxBatch", 1, 64);
  c.pdl = !o.Get("pdl").IsBoolean() || o.Get("pdl").As<Napi::Boolean>().Value();
  CHECK_ARG(o.Get("rmsEps").IsNumber(), "engine config: rmsEps must be a number");
  c.eps = o.Get("rmsEps").As<Napi::Number>().FloatValue();
  std::string kv = o.Get("kvDtype").IsString() ? o.Get("kvDtype").As<Napi::String>().Utf8Value() : "f16";
  CHECK_ARG(kv == "f16" || kv == "f32", "engine config: kvDtype must be f16 or f32");
  c.kv16 = kv == "f16";
  CHECK_ARG(((size_t)c.Smax + 3 * (size_t)c.D + 512 * 8) * 4 <= 200 * 1024, "engine config: maxSeq too large for the attention kernel's shared memory");
  auto tab = [&](const char* k) {
    Napi::Value v = o.Get(k);
    CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array, std::string("engine config: ") + k + " must be a Float32Array");
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    CHECK_ARG(a.ElementLength() == (size_t)c.Smax * (c.D / 2), std::string("engine config: ") + k + " must hold maxSeq*headDim/2 floats");
    return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
  };
  std::vector<float> cs = tab("ropeCos"), sn = tab("ropeSin");
  // architecture features (config.ts ArchFeatures field names; absent = plain Llama)
  auto num = [&](const char* k, float dflt) {
    Napi::Value v = o.Get(k);
    if (v.IsUndefined() || v.IsNull()) return dflt;
    CHECK_ARG(v.IsNumber() && std::isfinite(v.As<Napi::Number>().DoubleValue()), std::string("engine config: ") + k + " must be a finite number or null");
    return v.As<Napi::Number>().FloatValue();
  };
  auto flag = [&](const char* k) { return o.Get(k).IsBoolean() && o.Get(k).As<Napi::Boolean>().Value(); };
  Napi::Value act = o.Get("hiddenAct");
  std::string actName = act.IsString() ? act.As<Napi::String>().Utf8Value() : "silu";
  CHECK_ARG(actName == "silu" || actName == "gelu_tanh", "engine config: hiddenAct '" + actName + "' (expected silu or gelu_tanh)");
  c.act = actName == "gelu_tanh" ? kGpuActGeluTanh : kGpuActSilu;
  c.sandwich = flag("sandwichNorms");
  c.qk_norm = flag("qkNorm");
  c.embed_scale = num("embedScale", 1.0f);
  c.attn_scale = num("attnScale", 0.0f);
  c.attn_softcap = num("attnSoftcap", 0.0f);
  c.final_softcap = num("finalSoftcap", 0.0f);
  CHECK_ARG(c.embed_scale > 0 && c.attn_scale >= 0 && c.attn_softcap >= 0 && c.final_softcap >= 0,
            "engine config: embedScale > 0; attnScale, attnSoftcap, finalSoftcap >= 0");
  Napi::Value sl = o.Get("slidingLayers");
  if (!sl.IsUndefined() && !sl.IsNull()) {
    CHECK_ARG(sl.IsTypedArray() && sl.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array, "engine config: slidingLayers must be a Uint8Array");
    Napi::Uint8Array a = sl.As<Napi::Uint8Array>();
    CHECK_ARG(a.ElementLength() == (size_t)c.L, "engine config: slidingLayers must hold one entry per layer");
    c.sliding.assign(a.Data(), a.Data() + a.ElementLength());
    c.window = CfgInt(o, "slidingWindow", 1, 1 << 24);
  }
  std::vector<float> csL, snL;
  if (!o.Get("ropeCosLocal").IsUndefined()) csL = tab("ropeCosLocal"), snL = tab("ropeSinLocal");
  uint32_t id = next_engine_id++;
  Engines()[id] = std::make_unique<Engine>(id, c, cs, sn, csL, snL);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value EngineSetEmbedding(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  size_t n;
  const float* w = TypedData<float>(info, 1, "embedding", napi_float32_array, &n);
  e.SetEmbedding(w, n);
  return info.Env().Undefined();
}
Napi::Value EngineSetNorm(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int layer = (int)ArgInt(info, 1, "layer", -1, 1 << 20, 0);
  int which = (int)ArgInt(info, 2, "which", 0, kNormSlots - 1, 0);
  size_t n;
  const float* w = TypedData<float>(info, 3, "norm", napi_float32_array, &n);
  e.SetNorm(layer, which, w, n);
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearF32(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  int mode = ParseMode(ArgString(info, 2, "mode"));
  size_t n, nb;
  const float* w = TypedData<float>(info, 3, "weight", napi_float32_array, &n);
  const float* b = OptF32(info, 4, &nb);
  e.SetLinearF32(index, mode, w, n, b, nb);
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearInt8(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  size_t n, ns, nb;
  const int8_t* codes = TypedData<int8_t>(info, 2, "codes", napi_int8_array, &n);
  const float* scales = TypedData<float>(info, 3, "scales", napi_float32_array, &ns);
  const float* b = OptF32(info, 4, &nb);
  e.SetLinearInt8(index, codes, n, scales, ns, b, nb);
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearQ4(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  const int type = ArgWeightType(info, 2, "type");  // i4_group / nf4_group (id or name)
  size_t n, ns, nz = 0, nb;
  const uint8_t* codes = TypedData<uint8_t>(info, 3, "codes", napi_uint8_array, &n);
  const float* scales = TypedData<float>(info, 4, "scales", napi_float32_array, &ns);
  const uint8_t* zeros = nullptr;
  if (info.Length() > 5 && !info[5].IsNull() && !info[5].IsUndefined()) zeros = TypedData<uint8_t>(info, 5, "zeros", napi_uint8_array, &nz);
  const int group = (int)ArgInt(info, 6, "group", 1, 1 << 20, -1);
  const float* b = OptF32(info, 7, &nb);
  e.SetLinearQ4(index, type, codes, n, scales, ns, zeros, nz, group, b, nb);
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearBlocks(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  const int type = ArgWeightType(info, 2, "type");  // id (dtypes.ts DTYPES[*].id) or name
  size_t n, nb;
  const uint8_t* raw = TypedData<uint8_t>(info, 3, "blocks", napi_uint8_array, &n);
  const float* b = OptF32(info, 4, &nb);
  e.SetLinearBlocks(index, type, raw, n, b, nb);
  return info.Env().Undefined();
}
Napi::Value EngineSetEmbeddingBlocks(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  const int type = ArgWeightType(info, 1, "type");  // id (dtypes.ts DTYPES[*].id) or name
  CHECK_ARG(type == kWeightQ8_0, std::string("embedding blocks: type '") + WeightTypeName(type) + "' (only q8_0)");
  size_t n;
  const uint8_t* raw = TypedData<uint8_t>(info, 2, "blocks", napi_uint8_array, &n);
  e.SetEmbeddingBlocks(raw, n);
  return info.Env().Undefined();
}
Napi::Value EngineShareEmbedding(const Napi::CallbackInfo& info) {
  Get(info).ShareEmbedding();
  return info.Env().Undefined();
}
Napi::Value EngineRandomize(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  uint64_t seed = ArgSize(info, 1, "seed", 0xffffffffull);
  size_t n;
  const int32_t* m = TypedData<int32_t>(info, 2, "modes", napi_int32_array, &n);
  e.Randomize(seed, std::vector<int>(m, m + n));
  return info.Env().Undefined();
}
Napi::Value EngineLinearCodes(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  uint32_t id = e.CodesId(index);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("id", id);
  o.Set("bytes", (double)GetBuffer(id).bytes);
  return o;
}
Napi::Value EngineSetCompressed(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  std::string codec = ArgString(info, 2, "codec");
  uint32_t packed = (uint32_t)ArgSize(info, 3, "packedId", 0xffffffffu);
  size_t n, n2;
  const double* offs = TypedData<double>(info, 4, "chunkOffsets", napi_float64_array, &n);
  const double* sizes = TypedData<double>(info, 5, "chunkBytes", napi_float64_array, &n2);
  CHECK_ARG(n == n2, "chunkOffsets and chunkBytes differ in length");
  size_t chunk = ArgSize(info, 6, "chunkSize", 1ull << 30);
  e.SetCompressed(index, codec, packed, offs, sizes, n, chunk);
  return info.Env().Undefined();
}
Napi::Value EngineFinalize(const Napi::CallbackInfo& info) {
  Get(info).Finalize(ParseSchedule(ArgString(info, 1, "schedule")));
  return info.Env().Undefined();
}
Napi::Value EngineReset(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  e.Reset();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cacheDecodeMs", e.lastCacheMs());
  return o;
}
Napi::Value EngineForward(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  size_t T;
  const int32_t* toks = TypedData<int32_t>(info, 1, "tokens", napi_int32_array, &T);
  bool want = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  float ms = 0;
  int next;
  if (want) {
    Napi::Float32Array lg = Napi::Float32Array::New(env, e.cfg().V);
    next = e.Forward(toks, (int)T, lg.Data(), &ms);
    o.Set("logits", lg);
  } else {
    next = e.Forward(toks, (int)T, nullptr, &ms);
  }
  o.Set("next", next);
  o.Set("ms", ms);
  o.Set("position", e.pos());
  return o;
}
Napi::Value EngineGenerate(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int n = (int)ArgInt(info, 1, "n", 1, 1 << 16, 1);
  bool useGraph = !(info.Length() > 2 && info[2].IsBoolean() && !info[2].As<Napi::Boolean>().Value());
  float ms = 0;
  bool used = false;
  std::vector<int32_t> toks = e.Generate(n, useGraph, &ms, &used);
  Napi::Env env = info.Env();
  Napi::Int32Array a = Napi::Int32Array::New(env, toks.size());
  std::memcpy(a.Data(), toks.data(), toks.size() * 4);
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", a);
  o.Set("ms", ms);
  o.Set("graph", used);
  if (!e.graphError().empty()) o.Set("graphError", e.graphError());
  return o;
}
Napi::Value EngineGenerateBatch(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  CHECK_ARG(info.Length() > 1 && info[1].IsArray(), "generateBatch: expected an array of Int32Array prompts");
  Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<std::vector<int32_t>> prompts;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
              "generateBatch: prompt " + std::to_string(i) + " must be an Int32Array");
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    prompts.emplace_back(a.Data(), a.Data() + a.ElementLength());
  }
  int n = (int)ArgInt(info, 2, "n", 1, 1 << 16, 1);
  bool useGraph = !(info.Length() > 3 && info[3].IsBoolean() && !info[3].As<Napi::Boolean>().Value());
  float prefillMs = 0, ms = 0;
  bool used = false;
  std::vector<int32_t> toks = e.GenerateBatch(prompts, n, useGraph, &prefillMs, &ms, &used);
  Napi::Env env = info.Env();
  Napi::Int32Array a = Napi::Int32Array::New(env, toks.size());
  std::memcpy(a.Data(), toks.data(), toks.size() * 4);
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", a);
  o.Set("prefillMs", prefillMs);
  o.Set("ms", ms);
  o.Set("graph", used);
  if (!e.graphError().empty()) o.Set("graphError", e.graphError());
  return o;
}
Napi::Value EngineProfileDecode(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int B = (int)ArgInt(info, 1, "batch", 0, 64, 0);
  auto prof = e.ProfileDecode(B);
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, prof.size());
  for (size_t i = 0; i < prof.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", prof[i].first);
    o.Set("ms", prof[i].second);
    a.Set((uint32_t)i, o);
  }
  return a;
}
Napi::Value EngineLedger(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  Napi::Env env = info.Env();
  Napi::Object cat = Napi::Object::New(env);
  double total = 0;
  for (auto& kv : e.Ledger()) {
    cat.Set(kv.first, kv.second);
    total += kv.second;
  }
  Napi::Object modes = Napi::Object::New(env);
  for (auto& kv : e.ModeCounts()) modes.Set(kv.first, kv.second);
  Napi::Object o = Napi::Object::New(env);
  o.Set("categories", cat);
  o.Set("totalBytes", total);
  o.Set("modes", modes);
  const char* sn[] = {"none", "decode-per-forward", "cached", "fused"};
  o.Set("schedule", sn[e.schedule()]);
  return o;
}
Napi::Value EngineDestroy(const Napi::CallbackInfo& info) {
  uint32_t id = (uint32_t)ArgSize(info, 0, "engine", 0xffffffffu);
  return Napi::Boolean::New(info.Env(), Engines().erase(id) > 0);
}

}  // namespace engine
}  // namespace codecllm


void InitGpuEngine(Napi::Env env, Napi::Object exports) {
  using namespace codecllm::engine;
  EXPORT_FN(env, exports, "engineCreate", EngineCreate);
  EXPORT_FN(env, exports, "engineSetEmbedding", EngineSetEmbedding);
  EXPORT_FN(env, exports, "engineSetNorm", EngineSetNorm);
  EXPORT_FN(env, exports, "engineSetLinearF32", EngineSetLinearF32);
  EXPORT_FN(env, exports, "engineSetLinearInt8", EngineSetLinearInt8);
  EXPORT_FN(env, exports, "engineShareEmbedding", EngineShareEmbedding);
  EXPORT_FN(env, exports, "engineSetLinearBlocks", EngineSetLinearBlocks);
  EXPORT_FN(env, exports, "engineSetLinearQ4", EngineSetLinearQ4);
  EXPORT_FN(env, exports, "engineSetEmbeddingBlocks", EngineSetEmbeddingBlocks);
  EXPORT_FN(env, exports, "engineRandomize", EngineRandomize);
  EXPORT_FN(env, exports, "engineLinearCodes", EngineLinearCodes);
  EXPORT_FN(env, exports, "engineSetCompressed", EngineSetCompressed);
  EXPORT_FN(env, exports, "engineFinalize", EngineFinalize);
  EXPORT_FN(env, exports, "engineReset", EngineReset);
  EXPORT_FN(env, exports, "engineForward", EngineForward);
  EXPORT_FN(env, exports, "engineGenerate", EngineGenerate);
  EXPORT_FN(env, exports, "engineGenerateBatch", EngineGenerateBatch);
  EXPORT_FN(env, exports, "engineProfileDecode", EngineProfileDecode);
  EXPORT_FN(env, exports, "engineLedger", EngineLedger);
  EXPORT_FN(env, exports, "engineDestroy", EngineDestroy);
}

#else  // built without CUDA: no engine* functions (src/engine/cuda.ts reports it)
void InitGpuEngine(Napi::Env env, Napi::Object exports) {}
#endif
