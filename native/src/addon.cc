// addon.cc — module registry of the codecllm native addon.
//
// Each native/src/<module>.cc defines `void Init<Module>(Napi::Env env, Napi::Object exports)` that adds its
// functions to `exports` (use EXPORT_FN from binding.h so C++ errors become JS Errors with a code).
// To add a module: write native/src/<module>.cc (CMake globs it), declare its Init below and call it in Init().
// Test harnesses are not modules: the kernel twins are executables (native/test/*.cc, codecllm_cpu_twins / codecllm_gpu_twins).
#include <napi.h>

#include "binding.h"

// ---- module initialisers (one line each)
void InitInfo(Napi::Env env, Napi::Object exports);
void InitCpuCodecs(Napi::Env env, Napi::Object exports);
void InitDevice(Napi::Env env, Napi::Object exports);
void InitNvcomp(Napi::Env env, Napi::Object exports);
void InitQuant(Napi::Env env, Napi::Object exports);
void InitGpuEngine(Napi::Env env, Napi::Object exports);
void InitCpuEngine(Napi::Env env, Napi::Object exports);
void InitFormats(Napi::Env env, Napi::Object exports);
void InitLossless(Napi::Env env, Napi::Object exports);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitInfo(env, exports);
  InitCpuCodecs(env, exports);
  InitDevice(env, exports);
  InitNvcomp(env, exports);
  InitQuant(env, exports);
  InitGpuEngine(env, exports);
  InitCpuEngine(env, exports);
  InitFormats(env, exports);
  InitLossless(env, exports);
  return exports;
}

NODE_API_MODULE(codecllm_native, Init)
