// cpu/napi_args.h — Node-API argument readers of the CPU engine's binding (cpu_engine.cc).
#pragma once
#include <napi.h>

#include <cmath>
#include <string>

#include "binding.h"

namespace codecllm {
namespace cpu {

inline int GetInt(const Napi::Object& o, const char* k, int lo, int hi) {
  Napi::Value v = o.Get(k);
  CHECK_ARG(v.IsNumber(), std::string("config.") + k + ": expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  CHECK_ARG(d == std::floor(d) && d >= lo && d <= hi,
            std::string("config.") + k + ": must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int)d;
}

template <typename T>
inline const T* TypedData(const Napi::Value& v, size_t n, const char* name, napi_typedarray_type type) {
  CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type, std::string(name) + ": wrong array type");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  CHECK_ARG(a.ElementLength() == n, std::string(name) + ": expected " + std::to_string(n) + " elements, got " + std::to_string(a.ElementLength()));
  if (n == 0) return nullptr;
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}
inline const float* F32Arg(const Napi::Value& v, size_t n, const char* name) { return TypedData<float>(v, n, name, napi_float32_array); }

}  // namespace cpu
}  // namespace codecllm
