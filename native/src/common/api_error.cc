// common/api_error.cc — this thread's last error of the engines' C API (native/include/codecllm_engine.h; the guard
// and the binding side are in engine_api.h).
#include <cstring>

#include "engine_api.h"

namespace codecllm {
namespace api {

LastError& Last() {
  static thread_local LastError last;
  return last;
}

cllm_status Fail(const Error& e) {
  LastError& l = Last();
  l.code = e.code();
  l.message = e.what();
  l.site = e.site();
  l.fields = e.fields();
  if (l.code == "E_ARG") return CLLM_E_ARG;
  if (l.code == "E_IO") return CLLM_E_IO;
  if (l.code == "E_OOM") return CLLM_E_OOM;
  if (l.code == "E_CUDA") return CLLM_E_CUDA;
  if (l.code == "E_NVCOMP") return CLLM_E_NVCOMP;
  return CLLM_E_OTHER;
}

void ThrowLast() {
  const LastError& l = Last();
  Error e(l.code.empty() ? "E_NATIVE" : l.code, l.message, l.site);
  for (const auto& kv : l.fields) e.with(kv.first, kv.second);
  throw e;
}

}  // namespace api
}  // namespace codecllm

extern "C" {
const char* cllm_last_error_code(void) { return codecllm::api::Last().code.c_str(); }
const char* cllm_last_error_message(void) { return codecllm::api::Last().message.c_str(); }
const char* cllm_last_error_site(void) { return codecllm::api::Last().site.c_str(); }
int cllm_last_error_field(int i, const char** key, const char** value) {
  const auto& f = codecllm::api::Last().fields;
  if (i < 0 || (size_t)i >= f.size()) return 0;
  *key = f[(size_t)i].first.c_str();
  *value = f[(size_t)i].second.c_str();
  return 1;
}
}
