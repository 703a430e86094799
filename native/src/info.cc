// info.cc — build facts of the addon: version, CUDA / nvCOMP / cuBLAS compiled in.
#include <napi.h>

#include "binding.h"

static Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("version", CODECLLM_VERSION);
#if defined(CODECLLM_HAVE_CUDA)
  o.Set("cuda", true);
  o.Set("cudaRuntimeVersionBuilt", CUDART_VERSION);
#else
  o.Set("cuda", false);
#endif
#if defined(CODECLLM_HAVE_NVCOMP)
  o.Set("nvcomp", true);
#else
  o.Set("nvcomp", false);
#endif
#if defined(CODECLLM_HAVE_CUBLAS)
  o.Set("cublas", true);  // the CUDA engine's prefill GEMM can run through cuBLAS (gpu/prefill_gemm.h)
#else
  o.Set("cublas", false);
#endif
  o.Set("napiVersion", NAPI_VERSION);
  return o;
}

/** Throws a codecllm::Error of the given code: lets tests check the C++ -> JS error path end to end. */
static Napi::Value TestThrow(const Napi::CallbackInfo& info) {
  std::string code = codecllm::ArgString(info, 0, "code");
  THROW_ERROR(code, "test error").with("status", "testStatus");
}

void InitInfo(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "buildInfo", BuildInfo);
  EXPORT_FN(env, exports, "testThrow", TestThrow);
}
