// check.h — the ONE error path of the codecllm addon.
//
// Every failure (bad argument, CPU codec error, CUDA status, nvCOMP status, per-chunk status) is thrown as a
// codecllm::Error carrying: a stable code (the ErrorCode values of src/messages.ts: E_ARG, E_CODEC, E_CUDA, E_NVCOMP,
// E_OOM, E_NATIVE), a detail string (the library's own status string), the site "file.cc:123", and optional named
// fields (codec, tensor, chunk, status, call). binding.h turns it into a JS Error with those as properties; the TS
// layer (src/native.ts wrapNativeError) rewrites it into a CodecLLMError with a message from src/messages.ts.
// Nothing here exits or aborts the process.
//
// Usage:
//   CHECK_ARG(n <= limit, "rawSize exceeds 2^40");
//   CHECK_CODEC(!ZSTD_isError(r), ZSTD_getErrorName(r));
//   CHECK_CUDA(cudaMalloc(&p, n));                 // detail = "cudaMalloc(&p, n): cudaErrorMemoryAllocation (out of memory)"
//   CHECK_NVCOMP(nvcompBatchedLZ4CompressAsync(...)); // detail = "<call>: nvcompErrorInvalidValue"
//   THROW_ERROR("E_NVCOMP", "chunk failed").with("chunk", "3").with("status", "nvcompErrorCannotDecompress");
#pragma once
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace codecllm {

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& detail, std::string site)
      : std::runtime_error(detail), code_(std::move(code)), site_(std::move(site)) {}
  const std::string& code() const { return code_; }
  const std::string& site() const { return site_; }
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }
  /** Attach a named field (e.g. codec, tensor, chunk, status); an existing key is kept (innermost wins). */
  Error& with(const std::string& key, const std::string& value) {
    for (auto& kv : fields_)
      if (kv.first == key) return *this;
    fields_.emplace_back(key, value);
    return *this;
  }

 private:
  std::string code_, site_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

/** "path/to/file.cc", 12 -> "file.cc:12" */
inline std::string Site(const char* file, int line) {
  const char* base = file;
  for (const char* p = file; *p; ++p)
    if (*p == '/' || *p == '\\') base = p + 1;
  return std::string(base) + ":" + std::to_string(line);
}

}  // namespace codecllm

#define CODECLLM_ERROR(code, detail) ::codecllm::Error((code), (detail), ::codecllm::Site(__FILE__, __LINE__))
#define THROW_ERROR(code, detail) throw CODECLLM_ERROR(code, detail)
#define CODECLLM_CHECK_(code, cond, detail) \
  do {                                      \
    if (!(cond)) THROW_ERROR(code, detail); \
  } while (0)
#define CHECK_ARG(cond, detail) CODECLLM_CHECK_("E_ARG", cond, detail)
#define CHECK_CODEC(cond, detail) CODECLLM_CHECK_("E_CODEC", cond, detail)
#define CHECK_OOM(cond, detail) CODECLLM_CHECK_("E_OOM", cond, detail)

#if defined(CODECLLM_HAVE_CUDA)
#include <cuda_runtime_api.h>
// cudaErrorMemoryAllocation is reported as E_OOM so callers can tell "card full" from a broken call.
#define CHECK_CUDA(call)                                                                                         \
  do {                                                                                                           \
    cudaError_t e_ = (call);                                                                                     \
    if (e_ != cudaSuccess) {                                                                                     \
      (void)cudaGetLastError(); /* clear the sticky-free error state */                                          \
      throw CODECLLM_ERROR(e_ == cudaErrorMemoryAllocation ? "E_OOM" : "E_CUDA",                                \
                           std::string(#call) + ": " + cudaGetErrorName(e_) + " (" + cudaGetErrorString(e_) + ")") \
          .with("status", cudaGetErrorName(e_))                                                                  \
          .with("call", #call);                                                                                  \
    }                                                                                                            \
  } while (0)
#endif

#if defined(CODECLLM_HAVE_CUBLAS)
// cuBLAS status (the including file includes <cublas_v2.h>): CUBLAS_STATUS_ALLOC_FAILED is E_OOM, the rest E_CUDA.
#define CHECK_CUBLAS(call)                                                                                          \
  do {                                                                                                              \
    cublasStatus_t s_ = (call);                                                                                     \
    if (s_ != CUBLAS_STATUS_SUCCESS)                                                                                \
      throw CODECLLM_ERROR(s_ == CUBLAS_STATUS_ALLOC_FAILED ? "E_OOM" : "E_CUDA",                                    \
                           std::string(#call) + ": " + cublasGetStatusName(s_) + " (" + cublasGetStatusString(s_) + ")") \
          .with("status", cublasGetStatusName(s_))                                                                  \
          .with("call", #call);                                                                                     \
  } while (0)
#endif

#if defined(CODECLLM_HAVE_NVCOMP)
#include <nvcomp/shared_types.h>
namespace codecllm {
inline const char* NvcompStatusName(nvcompStatus_t s) {
  switch (s) {
    case nvcompSuccess: return "nvcompSuccess";
    case nvcompErrorInvalidValue: return "nvcompErrorInvalidValue";
    case nvcompErrorNotSupported: return "nvcompErrorNotSupported";
    case nvcompErrorCannotDecompress: return "nvcompErrorCannotDecompress";
    case nvcompErrorBadChecksum: return "nvcompErrorBadChecksum";
    case nvcompErrorCannotVerifyChecksums: return "nvcompErrorCannotVerifyChecksums";
    case nvcompErrorOutputBufferTooSmall: return "nvcompErrorOutputBufferTooSmall";
    case nvcompErrorWrongHeaderLength: return "nvcompErrorWrongHeaderLength";
    case nvcompErrorAlignment: return "nvcompErrorAlignment";
    case nvcompErrorChunkSizeTooLarge: return "nvcompErrorChunkSizeTooLarge";
    case nvcompErrorCannotCompress: return "nvcompErrorCannotCompress";
    case nvcompErrorWrongInputLength: return "nvcompErrorWrongInputLength";
    case nvcompErrorBatchSizeTooLarge: return "nvcompErrorBatchSizeTooLarge";
    case nvcompErrorCudaError: return "nvcompErrorCudaError";
    case nvcompErrorInternal: return "nvcompErrorInternal";
    default: return "nvcompStatus(unknown)";
  }
}
}  // namespace codecllm
#define CHECK_NVCOMP(call)                                                                                     \
  do {                                                                                                         \
    nvcompStatus_t s_ = (call);                                                                                \
    if (s_ != nvcompSuccess)                                                                                   \
      throw CODECLLM_ERROR("E_NVCOMP", std::string(#call) + ": " + ::codecllm::NvcompStatusName(s_))          \
          .with("status", ::codecllm::NvcompStatusName(s_))                                                    \
          .with("call", #call);                                                                                \
  } while (0)
#endif
