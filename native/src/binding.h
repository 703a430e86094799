// binding.h — helpers shared by the addon's modules: the exception guard that turns codecllm::Error into a JS Error
// with .code/.site/.<field> properties, export registration, and argument readers.
#pragma once
#include <napi.h>

#include <cstdint>
#include <new>
#include <string>

#include "check.h"
#include "common/engine_dims.h"
#include "common/weight_types.h"

namespace codecllm {

inline Napi::Error ToJsError(Napi::Env env, const Error& e) {
  Napi::Error js = Napi::Error::New(env, e.what());
  js.Set("code", Napi::String::New(env, e.code()));
  js.Set("site", Napi::String::New(env, e.site()));
  js.Set("native", Napi::Boolean::New(env, true));
  for (const auto& kv : e.fields()) js.Set(kv.first, Napi::String::New(env, kv.second));
  return js;
}

/** Wraps a callback: any C++ exception becomes a JS Error with a code (never a crash). */
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const Error& e) {
    throw ToJsError(env, e);
  } catch (const std::bad_alloc&) {
    throw ToJsError(env, Error("E_OOM", "host allocation failed (std::bad_alloc)", "binding.h"));
  } catch (const std::exception& e) {
    throw ToJsError(env, Error("E_NATIVE", e.what(), "binding.h"));
  }
}

/** exports[name] = guarded F */
#define EXPORT_FN(env, exports, name, F) \
  (exports).Set((name), Napi::Function::New<::codecllm::Guarded<F>>((env), (name)))

/** A read-only view of the bytes of any TypedArray / DataView / ArrayBuffer / Buffer argument. */
struct Bytes {
  const uint8_t* data;
  size_t size;
};
/** A writable view of a TypedArray argument. */
struct MutBytes {
  uint8_t* data;
  size_t size;
};

/** Zero-length arrays may have no backing store (null data): point them at this byte so C libraries never see NULL. */
inline uint8_t* EmptyBytes() {
  static uint8_t empty[8] = {0};
  return empty;
}

inline MutBytes ArgMutBytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  CHECK_ARG(info.Length() > i, std::string(name) + ": missing argument");
  Napi::Value v = info[i];
  if (v.IsTypedArray()) {
    Napi::TypedArray t = v.As<Napi::TypedArray>();
    uint8_t* base = static_cast<uint8_t*>(t.ArrayBuffer().Data());
    return {base == nullptr ? EmptyBytes() : base + t.ByteOffset(), t.ByteLength()};
  }
  if (v.IsDataView()) {
    Napi::DataView d = v.As<Napi::DataView>();
    uint8_t* base = static_cast<uint8_t*>(d.ArrayBuffer().Data());
    return {base == nullptr ? EmptyBytes() : base + d.ByteOffset(), d.ByteLength()};
  }
  if (v.IsArrayBuffer()) {
    Napi::ArrayBuffer a = v.As<Napi::ArrayBuffer>();
    return {a.Data() == nullptr ? EmptyBytes() : static_cast<uint8_t*>(a.Data()), a.ByteLength()};
  }
  THROW_ERROR("E_ARG", std::string(name) + ": expected a Uint8Array, TypedArray, DataView or ArrayBuffer");
}
inline Bytes ArgBytes(const Napi::CallbackInfo& info, size_t i, const char* name) {
  MutBytes m = ArgMutBytes(info, i, name);
  return {m.data, m.size};
}

inline std::string ArgString(const Napi::CallbackInfo& info, size_t i, const char* name) {
  CHECK_ARG(info.Length() > i && info[i].IsString(), std::string(name) + ": expected a string");
  return info[i].As<Napi::String>().Utf8Value();
}

/** A non-negative integer argument (number or bigint) no larger than `max`. */
inline uint64_t ArgSize(const Napi::CallbackInfo& info, size_t i, const char* name, uint64_t max) {
  CHECK_ARG(info.Length() > i, std::string(name) + ": missing argument");
  Napi::Value v = info[i];
  uint64_t out = 0;
  if (v.IsBigInt()) {
    bool lossless = false;
    out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    CHECK_ARG(lossless, std::string(name) + ": must be a non-negative 64-bit integer");
  } else if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    CHECK_ARG(d >= 0 && d <= 9007199254740991.0 && d == static_cast<double>(static_cast<uint64_t>(d)),
              std::string(name) + ": must be a non-negative integer");
    out = static_cast<uint64_t>(d);
  } else {
    THROW_ERROR("E_ARG", std::string(name) + ": expected a number");
  }
  CHECK_ARG(out <= max, std::string(name) + ": " + std::to_string(out) + " exceeds limit " + std::to_string(max));
  return out;
}

inline int64_t ArgInt(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t lo, int64_t hi, int64_t dflt) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return dflt;
  CHECK_ARG(info[i].IsNumber(), std::string(name) + ": expected a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  CHECK_ARG(d == static_cast<double>(static_cast<int64_t>(d)) && d >= static_cast<double>(lo) && d <= static_cast<double>(hi),
            std::string(name) + ": must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return static_cast<int64_t>(d);
}

/**
 * A weight type argument (common/weight_types.h): its numeric id (what the TS side passes, dtypes.ts DTYPES[*].id),
 * or for older callers its name; null / undefined / missing -> -1 (none). Unknown ids or names throw E_ARG.
 */
inline int ArgWeightType(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return -1;
  if (info[i].IsString()) {
    const std::string s = info[i].As<Napi::String>().Utf8Value();
    const WeightTypeInfo* t = WeightTypeByName(s.c_str());
    CHECK_ARG(t != nullptr, std::string(name) + ": unknown weight type '" + s + "'");
    return t->id;
  }
  const int64_t id = ArgInt(info, i, name, 0, kWeightTypeCount - 1, -1);
  CHECK_ARG(WeightTypeById((int)id) != nullptr, std::string(name) + ": unknown weight type id " + std::to_string(id));
  return (int)id;
}

/** The model dimensions of an engine config object ({hidden, intermediate, layers, heads, kvHeads, headDim, vocab}),
 *  each an integer number; bounds are checked by CheckModelDims / CheckGpuDims (common/engine_dims.h). */
inline ModelDims ReadModelDims(const Napi::Object& o, const char* who) {
  ModelDims d;
  for (const DimRange& r : kModelDimRanges) {
    Napi::Value v = o.Get(r.key);
    CHECK_ARG(v.IsNumber(), std::string(who) + ": " + r.key + " must be a number");
    const double x = v.As<Napi::Number>().DoubleValue();
    CHECK_ARG(x == static_cast<double>(static_cast<int64_t>(x)) && x >= -2147483648.0 && x <= 2147483647.0,
              std::string(who) + ": " + r.key + " must be an integer");
    d.*(r.field) = static_cast<int>(x);
  }
  return d;
}

/** Copies `n` bytes into a new Node Buffer (a Uint8Array). */
inline Napi::Value NewBytes(Napi::Env env, const uint8_t* data, size_t n) {
  return Napi::Buffer<uint8_t>::Copy(env, data, n);
}

}  // namespace codecllm
