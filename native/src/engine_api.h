// engine_api.h — the C++ side of the engines' C API (native/include/codecllm_engine.h): the boundary guard that turns
// the one CHECK path's codecllm::Error (check.h) into a cllm_status plus this thread's last error, and back again in
// the N-API bindings (CLLM_CALL), so a JS caller sees the same Error (code, message, site, fields) as before.
#pragma once
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "../include/codecllm_engine.h"
#include "check.h"

namespace codecllm {
namespace api {

/** This thread's last error (defined in common/api_error.cc). */
struct LastError {
  std::string code, message, site;
  std::vector<std::pair<std::string, std::string>> fields;
};
LastError& Last();

/** Record e as this thread's last error; its status. */
cllm_status Fail(const Error& e);

/** Rebuild the last error as a codecllm::Error (same code, message, site and fields) and throw it. */
[[noreturn]] void ThrowLast();

}  // namespace api
}  // namespace codecllm

/** Wrap an API function body: any exception becomes a status and the thread's last error; no exception escapes. */
#define CLLM_API_GUARD(...)                                                                                      \
  try {                                                                                                          \
    __VA_ARGS__;                                                                                                 \
    return CLLM_OK;                                                                                              \
  } catch (const ::codecllm::Error& e_) {                                                                        \
    return ::codecllm::api::Fail(e_);                                                                            \
  } catch (const std::bad_alloc&) {                                                                              \
    return ::codecllm::api::Fail(::codecllm::Error("E_OOM", "host allocation failed (std::bad_alloc)", "engine_api.h")); \
  } catch (const std::exception& e_) {                                                                           \
    return ::codecllm::api::Fail(::codecllm::Error("E_NATIVE", e_.what(), "engine_api.h"));                      \
  }

/** In a binding: call an API function and rethrow its failure as the codecllm::Error it was. */
#define CLLM_CALL(call)                                       \
  do {                                                        \
    if ((call) != CLLM_OK) ::codecllm::api::ThrowLast();      \
  } while (0)
