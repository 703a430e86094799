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
//
// Layout: this file is the N-API binding only (argument parsing, engine registry): it converts JS values and calls
// the C API of native/include/codecllm_engine.h (cllm_cuda_*, implemented in gpu/api.cc); the engine itself is declared in
// gpu/engine.h and defined in gpu/{weights,decode_groups,forward,batching,ledger}.cc; the kernel twin harness
// is the executable codecllm_gpu_twins (native/test/gpu_twins.cc).
#include <napi.h>

#include "binding.h"

#if defined(CODECLLM_HAVE_CUDA)
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine_api.h"

namespace codecllm {
namespace engine {

// append-only ids of the C API (codecllm_engine.h CLLM_CUDA_MODE_* / CLLM_CUDA_SCHED_*)
const char* const kScheduleNames[4] = {"none", "decode-per-forward", "cached", "fused"};

struct Destroy {
  void operator()(cllm_cuda_engine* e) const { cllm_cuda_destroy(e); }
};
std::map<uint32_t, std::unique_ptr<cllm_cuda_engine, Destroy>>& Engines() {
  static std::map<uint32_t, std::unique_ptr<cllm_cuda_engine, Destroy>> m;
  return m;
}

cllm_cuda_engine* Get(const Napi::CallbackInfo& info) {
  uint32_t id = (uint32_t)ArgSize(info, 0, "engine", 0xffffffffu);
  auto it = Engines().find(id);
  CHECK_ARG(it != Engines().end(), "engine " + std::to_string(id) + " does not exist (destroyed?)");
  return it->second.get();
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
  if (m == "fp16") return CLLM_CUDA_MODE_FP16;
  if (m == "int8") return CLLM_CUDA_MODE_INT8;
  THROW_ERROR("E_ARG", "storage mode '" + m + "' (expected fp16 or int8 here)");
}
int ParseSchedule(const std::string& s) {
  for (int i = 0; i < 4; i++)
    if (s == kScheduleNames[i]) return i;
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
  const ModelDims d = ReadModelDims(o, "engine config");
  CheckGpuDims(d, "engine config");  // before the tables, whose size depends on headDim
  const cllm_dims dims{d.hidden, d.intermediate, d.layers, d.heads, d.kv_heads, d.head_dim, d.vocab};
  cllm_cuda_options c{};
  c.max_seq = CfgInt(o, "maxSeq", 1, 1 << 16);
  c.max_prefill = CfgInt(o, "maxPrefill", 1, 1 << 16);
  c.max_batch = o.Get("maxBatch").IsUndefined() ? 1 : CfgInt(o, "maxBatch", 1, 64);
  c.pdl = !o.Get("pdl").IsBoolean() || o.Get("pdl").As<Napi::Boolean>().Value();
  CHECK_ARG(o.Get("rmsEps").IsNumber(), "engine config: rmsEps must be a number");
  c.rms_eps = o.Get("rmsEps").As<Napi::Number>().FloatValue();
  std::string kv = o.Get("kvDtype").IsString() ? o.Get("kvDtype").As<Napi::String>().Utf8Value() : "f16";
  CHECK_ARG(kv == "f16" || kv == "f32", "engine config: kvDtype must be f16 or f32");
  c.kv16 = kv == "f16";
  CHECK_ARG(((size_t)c.max_seq + 3 * (size_t)d.head_dim + 512 * 8) * 4 <= 200 * 1024, "engine config: maxSeq too large for the attention kernel's shared memory");
  auto tab = [&](const char* k) {
    Napi::Value v = o.Get(k);
    CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array, std::string("engine config: ") + k + " must be a Float32Array");
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    CHECK_ARG(a.ElementLength() == (size_t)c.max_seq * (d.head_dim / 2), std::string("engine config: ") + k + " must hold maxSeq*headDim/2 floats");
    return a;
  };
  Napi::Float32Array cs = tab("ropeCos"), sn = tab("ropeSin");
  c.rope_cos = cs.Data(), c.rope_sin = sn.Data(), c.n_rope = cs.ElementLength();
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
  c.act = actName == "gelu_tanh" ? CLLM_CUDA_ACT_GELU_TANH : CLLM_CUDA_ACT_SILU;
  c.sandwich_norms = flag("sandwichNorms");
  c.qk_norm = flag("qkNorm");
  c.embed_scale = num("embedScale", 1.0f);
  c.attn_scale = num("attnScale", 0.0f);
  c.attn_softcap = num("attnSoftcap", 0.0f);
  c.final_softcap = num("finalSoftcap", 0.0f);
  // (the C API takes embed_scale 0 as 1, for zero-initialised options; a JS 0 stays an error)
  CHECK_ARG(c.embed_scale > 0 && c.attn_scale >= 0 && c.attn_softcap >= 0 && c.final_softcap >= 0,
            "engine config: embedScale > 0; attnScale, attnSoftcap, finalSoftcap >= 0");
  Napi::Value sl = o.Get("slidingLayers");
  if (!sl.IsUndefined() && !sl.IsNull()) {
    CHECK_ARG(sl.IsTypedArray() && sl.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array, "engine config: slidingLayers must be a Uint8Array");
    Napi::Uint8Array a = sl.As<Napi::Uint8Array>();
    c.sliding_layers = a.ElementLength() ? a.Data() : EmptyBytes();
    c.n_sliding_layers = a.ElementLength();
    c.sliding_window = CfgInt(o, "slidingWindow", 1, 1 << 24);
  }
  Napi::Float32Array csL, snL;
  if (!o.Get("ropeCosLocal").IsUndefined()) {
    csL = tab("ropeCosLocal"), snL = tab("ropeSinLocal");
    c.rope_cos_local = csL.Data(), c.rope_sin_local = snL.Data();
  }
  cllm_cuda_engine* e = nullptr;
  CLLM_CALL(cllm_cuda_create(&dims, &c, &e));
  const uint32_t id = cllm_cuda_id(e);
  Engines()[id].reset(e);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value EngineSetEmbedding(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  size_t n;
  const float* w = TypedData<float>(info, 1, "embedding", napi_float32_array, &n);
  CLLM_CALL(cllm_cuda_set_embedding(e, w, n));
  return info.Env().Undefined();
}
Napi::Value EngineSetNorm(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int layer = (int)ArgInt(info, 1, "layer", -1, 1 << 20, 0);
  int which = (int)ArgInt(info, 2, "which", 0, CLLM_CUDA_NORM_SLOTS - 1, 0);
  size_t n;
  const float* w = TypedData<float>(info, 3, "norm", napi_float32_array, &n);
  CLLM_CALL(cllm_cuda_set_norm(e, layer, which, w, n));
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearF32(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  int mode = ParseMode(ArgString(info, 2, "mode"));
  size_t n, nb;
  const float* w = TypedData<float>(info, 3, "weight", napi_float32_array, &n);
  const float* b = OptF32(info, 4, &nb);
  CLLM_CALL(cllm_cuda_set_linear_f32(e, index, mode, w, n, b, nb));
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearInt8(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  size_t n, ns, nb;
  const int8_t* codes = TypedData<int8_t>(info, 2, "codes", napi_int8_array, &n);
  const float* scales = TypedData<float>(info, 3, "scales", napi_float32_array, &ns);
  const float* b = OptF32(info, 4, &nb);
  CLLM_CALL(cllm_cuda_set_linear_int8(e, index, codes, n, scales, ns, b, nb));
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearQ4(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  const int type = ArgWeightType(info, 2, "type");  // i4_group / nf4_group (id or name)
  size_t n, ns, nz = 0, nb;
  const uint8_t* codes = TypedData<uint8_t>(info, 3, "codes", napi_uint8_array, &n);
  const float* scales = TypedData<float>(info, 4, "scales", napi_float32_array, &ns);
  const uint8_t* zeros = nullptr;
  if (info.Length() > 5 && !info[5].IsNull() && !info[5].IsUndefined()) zeros = TypedData<uint8_t>(info, 5, "zeros", napi_uint8_array, &nz);
  const int group = (int)ArgInt(info, 6, "group", 1, 1 << 20, -1);
  const float* b = OptF32(info, 7, &nb);
  CLLM_CALL(cllm_cuda_set_linear_q4(e, index, type, codes, n, scales, ns, zeros, nz, group, b, nb));
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearBlocks(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  const int type = ArgWeightType(info, 2, "type");  // id (dtypes.ts DTYPES[*].id) or name
  size_t n, nb;
  const uint8_t* raw = TypedData<uint8_t>(info, 3, "blocks", napi_uint8_array, &n);
  const float* b = OptF32(info, 4, &nb);
  CLLM_CALL(cllm_cuda_set_linear_blocks(e, index, type, raw, n, b, nb));
  return info.Env().Undefined();
}
Napi::Value EngineSetEmbeddingBlocks(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  const int type = ArgWeightType(info, 1, "type");  // id (dtypes.ts DTYPES[*].id) or name
  size_t n;
  const uint8_t* raw = TypedData<uint8_t>(info, 2, "blocks", napi_uint8_array, &n);
  CLLM_CALL(cllm_cuda_set_embedding_blocks(e, type, raw, n));
  return info.Env().Undefined();
}
Napi::Value EngineShareEmbedding(const Napi::CallbackInfo& info) {
  CLLM_CALL(cllm_cuda_share_embedding(Get(info)));
  return info.Env().Undefined();
}
Napi::Value EngineRandomize(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  uint64_t seed = ArgSize(info, 1, "seed", 0xffffffffull);
  size_t n;
  const int32_t* m = TypedData<int32_t>(info, 2, "modes", napi_int32_array, &n);
  CLLM_CALL(cllm_cuda_randomize(e, seed, m, n));
  return info.Env().Undefined();
}
Napi::Value EngineLinearCodes(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  uint32_t id = 0;
  uint64_t bytes = 0;
  CLLM_CALL(cllm_cuda_linear_codes(e, index, &id, &bytes));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("id", id);
  o.Set("bytes", (double)bytes);
  return o;
}
Napi::Value EngineSetCompressed(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  std::string codec = ArgString(info, 2, "codec");
  uint32_t packed = (uint32_t)ArgSize(info, 3, "packedId", 0xffffffffu);
  size_t n, n2;
  const double* offs = TypedData<double>(info, 4, "chunkOffsets", napi_float64_array, &n);
  const double* sizes = TypedData<double>(info, 5, "chunkBytes", napi_float64_array, &n2);
  CHECK_ARG(n == n2, "chunkOffsets and chunkBytes differ in length");
  size_t chunk = ArgSize(info, 6, "chunkSize", 1ull << 30);
  CLLM_CALL(cllm_cuda_set_compressed(e, index, codec.c_str(), packed, offs, sizes, n, chunk));
  return info.Env().Undefined();
}
Napi::Value EngineFinalize(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  CLLM_CALL(cllm_cuda_finalize(e, ParseSchedule(ArgString(info, 1, "schedule"))));
  return info.Env().Undefined();
}
Napi::Value EngineReset(const Napi::CallbackInfo& info) {
  float ms = 0;
  CLLM_CALL(cllm_cuda_reset(Get(info), &ms));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cacheDecodeMs", ms);
  return o;
}
Napi::Value EngineForward(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  size_t T;
  const int32_t* toks = TypedData<int32_t>(info, 1, "tokens", napi_int32_array, &T);
  bool want = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  float ms = 0;
  int32_t next = 0, position = 0;
  if (want) {
    Napi::Float32Array lg = Napi::Float32Array::New(env, cllm_cuda_vocab(e));
    CLLM_CALL(cllm_cuda_forward(e, toks, (int)T, lg.Data(), &next, &ms, &position));
    o.Set("logits", lg);
  } else {
    CLLM_CALL(cllm_cuda_forward(e, toks, (int)T, nullptr, &next, &ms, &position));
  }
  o.Set("next", next);
  o.Set("ms", ms);
  o.Set("position", position);
  return o;
}
Napi::Value EngineGenerate(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int n = (int)ArgInt(info, 1, "n", 1, 1 << 16, 1);
  bool useGraph = !(info.Length() > 2 && info[2].IsBoolean() && !info[2].As<Napi::Boolean>().Value());
  float ms = 0;
  int32_t used = 0;
  Napi::Env env = info.Env();
  Napi::Int32Array a = Napi::Int32Array::New(env, (size_t)n);
  CLLM_CALL(cllm_cuda_generate(e, n, useGraph, a.Data(), &ms, &used));
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", a);
  o.Set("ms", ms);
  o.Set("graph", used != 0);
  const std::string ge = cllm_cuda_graph_error(e);
  if (!ge.empty()) o.Set("graphError", ge);
  return o;
}
Napi::Value EngineGenerateBatch(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
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
  std::vector<const int32_t*> ptrs;
  std::vector<int32_t> lens;
  for (const auto& p : prompts) ptrs.push_back(p.data()), lens.push_back((int32_t)p.size());
  float prefillMs = 0, ms = 0;
  int32_t used = 0;
  Napi::Env env = info.Env();
  Napi::Int32Array a = Napi::Int32Array::New(env, prompts.size() * (size_t)(n + 1));
  CLLM_CALL(cllm_cuda_generate_batch(e, ptrs.data(), lens.data(), (int32_t)prompts.size(), n, useGraph, a.Data(), &prefillMs, &ms, &used));
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", a);
  o.Set("prefillMs", prefillMs);
  o.Set("ms", ms);
  o.Set("graph", used != 0);
  const std::string ge = cllm_cuda_graph_error(e);
  if (!ge.empty()) o.Set("graphError", ge);
  return o;
}
Napi::Value EngineProfileDecode(const Napi::CallbackInfo& info) {
  cllm_cuda_engine* e = Get(info);
  int B = (int)ArgInt(info, 1, "batch", 0, 64, 0);
  std::vector<std::pair<std::string, double>> prof;
  CLLM_CALL(cllm_cuda_profile_decode(
      e, B, [](void* ctx, const char* op, double ms) { static_cast<decltype(prof)*>(ctx)->emplace_back(op, ms); }, &prof));
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
  cllm_cuda_engine* e = Get(info);
  Napi::Env env = info.Env();
  struct Ctx {
    Napi::Object cat, modes;
    double total = 0;
  } ctx{Napi::Object::New(env), Napi::Object::New(env)};
  int32_t schedule = 0;
  CLLM_CALL(cllm_cuda_ledger(
      e,
      [](void* c, const char* k, double v) {
        static_cast<Ctx*>(c)->cat.Set(k, v);
        static_cast<Ctx*>(c)->total += v;
      },
      [](void* c, const char* k, double v) { static_cast<Ctx*>(c)->modes.Set(k, (int)v); }, &ctx, &schedule));
  Napi::Object o = Napi::Object::New(env);
  o.Set("categories", ctx.cat);
  o.Set("totalBytes", ctx.total);
  o.Set("modes", ctx.modes);
  o.Set("schedule", kScheduleNames[schedule]);
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
