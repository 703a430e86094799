// cpu_kernel_test.cc — the CPU engine's kernel twin harness: cpuKernel(op, fast, args) runs one op, fast
// (cpu/linear.cc, cpu/attention.cc) or reference (engine/ops_ref.h), on caller-given inputs; test/engine-cpu-native.test.ts
// compares the two on seeded random inputs. A test harness, not part of the engine.
#include <napi.h>

#include <string>
#include <vector>

#include "binding.h"
#include "cpu/engine.h"
#include "cpu/napi_args.h"
#include "cuda/gemv_units.h"

namespace codecllm {
namespace cpu {
namespace {

// ---- cpuKernel(op, fast, args): run one op, reference or fast, on caller-given inputs (twin tests)
//   'linear'   {format, x, w (f32: Float32Array; f16/bf16: Uint16Array; q8_0/q4_1/q5_0/q4_k/q6_k: Uint8Array blocks;
//               i8_channel/i8_group: Int8Array (sym) or Uint8Array (asym) codes; i4_group/nf4_group: Uint8Array packed
//               4-bit codes, common/quant4.h, zero (i4 asym) unpacked), scale?, zero?, group?, bias?, T, in, out}
//   'attention' {q (T,H,D), kCache, vCache (Hkv,Smax,D), T, H, Hkv, D, P, Smax, scale?, window?, softcap?}
//               (scale default float(1/sqrt(D)); window, softcap default 0 = none; reference: ref::attention_ex)
//   'swiglu'    {gate, up}
//   'geglu'     {gate, up}
//   'rmsnorm'   {x (T,h), w (h), T, h, eps}                      (reference only)
//   'rope'      {x (T,n,D), positions Int32Array (T), invFreq (D/2), T, n, D}   (reference only)
//   'ropeInvFreq' {D, theta, scaling (0 none, 1 linear, 2 llama3), factor, low, high, original}  (reference only)
//   'dequant'   {format, w, rows, cols, scale?, zero?, group?} -> (rows, cols) floats
//   'units'     {format q5_0|q4_k|q6_k|i4_group|nf4_group, w, rows, cols, scale?, zero?, group?} -> (rows, cols) floats
//               through the CUDA GEMV's unit cut (cuda/gemv_units.h) run on the host          (reference only)
/** y (rows, cols) = every unit of every row through the CUDA GEMV's unit loader U (cuda/gemv_units.h), on the host. */
template <class U>
void RunUnits(const units::RowSrc& src, int rows, int cols, float* y) {
  for (int r = 0; r < rows; r++)
    for (int u = 0; u < cols / U::kUnitElems; u++) U::Load(src, r, u, y + (size_t)r * cols + (size_t)u * U::kUnitElems);
}

Napi::Value Kernel(const Napi::CallbackInfo& info) {
  const std::string op = ArgString(info, 0, "op");
  const bool fast = info.Length() > 1 && info[1].ToBoolean().Value();
  CHECK_ARG(info.Length() > 2 && info[2].IsObject(), "cpuKernel: expected an args object");
  Napi::Object a = info[2].As<Napi::Object>();
  Napi::Env env = info.Env();
  auto I = [&](const char* k, int lo, int hi) { return GetInt(a, k, lo, hi); };
  auto weight = [&](int rows, int cols) {
    Weight w;
    w.rows = rows;
    w.cols = cols;
    CHECK_ARG(a.Get("format").IsString(), "format: expected a string");
    const std::string f = a.Get("format").As<Napi::String>().Utf8Value();
    const WeightTypeInfo* ti = WeightTypeByName(f.c_str());
    const size_t n = (size_t)rows * cols;
    Napi::Value wv = a.Get("w");
    if (ti && ti->id == kWeightF32) {
      w.fmt = kWeightF32;
      const float* p = F32Arg(wv, n, "w");
      w.f32.assign(p, p + n);
    } else if (ti && (ti->id == kWeightF16 || ti->id == kWeightBF16)) {
      w.fmt = ti->id;
      const uint16_t* p = TypedData<uint16_t>(wv, n, "w", napi_uint16_array);
      w.half.assign(p, p + n);
    } else if (ti && IsEngineBlockFormat(ti->id)) {
      CHECK_ARG(cols % ti->block_elems == 0, "cols must be a multiple of " + std::to_string(ti->block_elems) + " for " + f);
      w.fmt = ti->id;
      const size_t nb = n / ti->block_elems * ti->block_bytes;
      const uint8_t* p = TypedData<uint8_t>(wv, nb, "w", napi_uint8_array);
      w.blocks.assign(p, p + nb);
    } else if (ti && (ti->id == kWeightI8Channel || ti->id == kWeightI8Group)) {
      w.fmt = ti->id;
      w.asym = wv.IsTypedArray() && wv.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
      const uint8_t* p = w.asym ? TypedData<uint8_t>(wv, n, "w", napi_uint8_array) : (const uint8_t*)TypedData<int8_t>(wv, n, "w", napi_int8_array);
      w.blocks.assign(p, p + n);
      w.group = w.fmt == kWeightI8Group ? I("group", 1, cols) : 0;
      const size_t ng = w.fmt == kWeightI8Group ? (size_t)rows * ((cols + w.group - 1) / w.group) : (size_t)rows;
      const float* s = F32Arg(a.Get("scale"), ng, "scale");
      w.scale.assign(s, s + ng);
      if (w.asym) {
        const uint8_t* z = TypedData<uint8_t>(a.Get("zero"), ng, "zero", napi_uint8_array);
        w.zero.assign(z, z + ng);
      }
    } else if (ti && (ti->id == kWeightI4Group || ti->id == kWeightNF4Group)) {
      // common/quant4.h: packed codes (rows, cols/2), scale (rows, cols/group) fp32, zero (i4 asym) uint8 per group
      w.fmt = ti->id;
      w.group = I("group", 2, cols);
      CHECK_ARG(w.group % 2 == 0 && cols % w.group == 0, f + ": group must be even and divide cols");
      const uint8_t* p = TypedData<uint8_t>(wv, n / 2, "w", napi_uint8_array);
      w.blocks.assign(p, p + n / 2);
      const size_t ng = (size_t)rows * (cols / w.group);
      const float* s = F32Arg(a.Get("scale"), ng, "scale");
      w.scale.assign(s, s + ng);
      Napi::Value zv = a.Get("zero");
      w.asym = !(zv.IsUndefined() || zv.IsNull());
      CHECK_ARG(!w.asym || ti->id == kWeightI4Group, "nf4_group has no zero points");
      if (w.asym) {
        const uint8_t* z = TypedData<uint8_t>(zv, ng, "zero", napi_uint8_array);
        w.zero.assign(z, z + ng);
      }
    } else {
      THROW_ERROR("E_ARG", "unknown weight format '" + f + "'");
    }
    return w;
  };
  if (op == "linear") {
    const int T = I("T", 1, 1 << 16), in = I("in", 1, 1 << 18), out = I("out", 1, 1 << 22);
    Weight w = weight(out, in);
    const float* x = F32Arg(a.Get("x"), (size_t)T * in, "x");
    Napi::Value bv = a.Get("bias");
    const float* b = bv.IsUndefined() || bv.IsNull() ? nullptr : F32Arg(bv, (size_t)out, "bias");
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)T * out);
    if (fast)
      LinearFast(x, T, {{&w, b, y.Data()}});
    else
      LinearRef(w, b, x, T, y.Data());
    return y;
  }
  if (op == "dequant") {
    const int rows = I("rows", 1, 1 << 22), cols = I("cols", 1, 1 << 18);
    Weight w = weight(rows, cols);
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)rows * cols);
    if (fast)
      DequantRows(w, 0, rows, y.Data());
    else
      DequantRowsRef(w, 0, rows, y.Data());
    return y;
  }
  if (op == "attention") {
    const int T = I("T", 1, 1 << 16), H = I("H", 1, 1024), Hkv = I("Hkv", 1, 1024), D = I("D", 1, 1024), P = I("P", 0, 1 << 24),
              Smax = I("Smax", 1, 1 << 24);
    CHECK_ARG(H % Hkv == 0 && P + T <= Smax, "attention: need H % Hkv == 0 and P + T <= Smax");
    const float* q = F32Arg(a.Get("q"), (size_t)T * H * D, "q");
    const float* kc = F32Arg(a.Get("kCache"), (size_t)Hkv * Smax * D, "kCache");
    const float* vc = F32Arg(a.Get("vCache"), (size_t)Hkv * Smax * D, "vCache");
    const float scale = a.Get("scale").IsNumber() ? (float)a.Get("scale").As<Napi::Number>().DoubleValue() : (float)(1.0 / std::sqrt((double)D));
    const int window = a.Get("window").IsNumber() ? I("window", 0, 1 << 24) : 0;
    const float cap = a.Get("softcap").IsNumber() ? (float)a.Get("softcap").As<Napi::Number>().DoubleValue() : 0.0f;
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)T * H * D);
    if (fast)
      AttentionFast(y.Data(), q, kc, vc, T, H, Hkv, D, P, Smax, scale, window, cap);
    else {
      std::vector<float> scratch((size_t)P + T);
      ref::attention_ex(y.Data(), q, kc, vc, T, H, Hkv, D, P, Smax, scale, window, cap, scratch.data());
    }
    return y;
  }
  if (op == "swiglu" || op == "geglu") {
    const bool ge = op == "geglu";
    Napi::Value g = a.Get("gate");
    CHECK_ARG(g.IsTypedArray(), "gate: expected a Float32Array");
    const size_t n = g.As<Napi::TypedArray>().ElementLength();
    const float* gp = F32Arg(g, n, "gate");
    const float* up = F32Arg(a.Get("up"), n, "up");
    Napi::Float32Array y = Napi::Float32Array::New(env, n);
    if (fast)
      (ge ? GegluFast : SwigluFast)(y.Data(), gp, up, n);
    else
      (ge ? ref::geglu : ref::swiglu)(y.Data(), gp, up, n);
    return y;
  }
  CHECK_ARG(!fast, "op '" + op + "' has only a reference version");
  if (op == "units") {
    const int rows = I("rows", 1, 1 << 22), cols = I("cols", 1, 1 << 18);
    CHECK_ARG(a.Get("format").IsString(), "format: expected a string");
    const std::string f = a.Get("format").As<Napi::String>().Utf8Value();
    const WeightTypeInfo* ti = WeightTypeByName(f.c_str());
    const int t = ti ? (int)ti->id : -1;
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)rows * cols);
    if (t == kWeightQ5_0 || t == kWeightQ4_K || t == kWeightQ6_K) {
      CHECK_ARG(cols % ti->block_elems == 0, "cols must be a multiple of " + std::to_string(ti->block_elems) + " for " + f);
      const size_t nb = (size_t)rows * (cols / ti->block_elems) * ti->block_bytes;
      const uint8_t* w = TypedData<uint8_t>(a.Get("w"), nb, "w", napi_uint8_array);
      const units::RowSrc src{w, nullptr, nullptr, cols, 0};
      if (t == kWeightQ5_0) RunUnits<units::Units<kWeightQ5_0>>(src, rows, cols, y.Data());
      if (t == kWeightQ4_K) RunUnits<units::Units<kWeightQ4_K>>(src, rows, cols, y.Data());
      if (t == kWeightQ6_K) RunUnits<units::Units<kWeightQ6_K>>(src, rows, cols, y.Data());
      return y;
    }
    CHECK_ARG(t == kWeightI4Group || t == kWeightNF4Group, "units: format must be q5_0, q4_k, q6_k, i4_group or nf4_group");
    Weight w = weight(rows, cols);
    CHECK_ARG(w.group % 8 == 0, "units: the CUDA GEMV needs group % 8 == 0");
    const units::RowSrc src{w.blocks.data(), w.scale.data(), w.asym ? w.zero.data() : nullptr, cols, w.group};
    const int kind = Q4Kind(w);
    if (kind == quant4::kInt4Sym) RunUnits<units::Q4Units<quant4::kInt4Sym>>(src, rows, cols, y.Data());
    if (kind == quant4::kInt4Asym) RunUnits<units::Q4Units<quant4::kInt4Asym>>(src, rows, cols, y.Data());
    if (kind == quant4::kNf4) RunUnits<units::Q4Units<quant4::kNf4>>(src, rows, cols, y.Data());
    return y;
  }
  if (op == "rmsnorm") {
    const int T = I("T", 1, 1 << 16), h = I("h", 1, 1 << 16);
    const float* x = F32Arg(a.Get("x"), (size_t)T * h, "x");
    const float* w = F32Arg(a.Get("w"), (size_t)h, "w");
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)T * h);
    CHECK_ARG(a.Get("eps").IsNumber(), "eps: expected a number");
    ref::rmsnorm(y.Data(), x, w, T, h, (float)a.Get("eps").As<Napi::Number>().DoubleValue());
    return y;
  }
  if (op == "rope") {
    const int T = I("T", 1, 1 << 16), n = I("n", 1, 1024), D = I("D", 2, 1024);
    const float* x = F32Arg(a.Get("x"), (size_t)T * n * D, "x");
    const int32_t* pos = TypedData<int32_t>(a.Get("positions"), (size_t)T, "positions", napi_int32_array);
    const float* inv = F32Arg(a.Get("invFreq"), (size_t)D / 2, "invFreq");
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)T * n * D);
    std::memcpy(y.Data(), x, sizeof(float) * (size_t)T * n * D);
    ref::rope_rotate_half(y.Data(), pos, inv, T, n, D);
    return y;
  }
  if (op == "ropeInvFreq") {
    const int D = I("D", 2, 1024);
    auto num = [&](const char* k) { return a.Get(k).IsNumber() ? a.Get(k).As<Napi::Number>().DoubleValue() : 1.0; };
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)D / 2);
    ref::rope_inv_freq(y.Data(), D, num("theta"), I("scaling", 0, 2), num("factor"), num("low"), num("high"), num("original"));
    return y;
  }
  THROW_ERROR("E_ARG", "cpuKernel: unknown op '" + op + "'");
}

}  // namespace
}  // namespace cpu
}  // namespace codecllm

void InitCpuKernelTest(Napi::Env env, Napi::Object exports) { EXPORT_FN(env, exports, "cpuKernel", codecllm::cpu::Kernel); }
