// gpu/prefill_gemm.h — the CUDA engine's prefill GEMM through cuBLAS (T > 1: perplexity windows, prompts), beside our
// own tensor-core GEMM (cuda/engine_gemm.cu), which stays the reference path.
//
//   Y (T, N) (+)= X (T, K) · Wᵀ (* scale[n]) (+ bias[n]);  X fp16 (the engine's a16 activations), Y fp32.
//   fp16 weights: cublasGemmEx straight from the weight (fp16 inputs, fp32 output, CUBLAS_COMPUTE_32F: fp32
//     accumulate, no reduced-precision mode), beta = 1 for the residual linears (o_proj, down_proj).
//   int8 per-channel / compressed (int8 codes after nvCOMP decode) / GGML blocks (q4_1, q8_0): the weight is first
//     dequantized into ONE reusable fp16 scratch (sized for the largest such linear; int8 codes are exact in fp16 and
//     keep their scale for the epilogue, block weights are rounded to fp16 exactly as our GEMM stages them), then
//     cuBLAS, only when T >= CODECLLM_CUBLAS_MIN_T (default kDefaultMinT; below it our GEMM runs).
//   Per-row scale or bias: the product goes to an fp32 scratch (Tmax, N) and LaunchGemmEpilogue applies scale, bias
//     and the residual in our GEMM's order.
// So cuBLAS and our GEMM multiply the same fp16 operands with fp32 accumulation; only the summation order differs.
//
// Switch (read at finalize(), per engine): CODECLLM_GEMM=own | cublas (default cublas where the addon was built
// with cuBLAS, else own; cublas without cuBLAS in the build is an E_ARG error). One cuBLAS handle per engine,
// created at finalize(), bound to the engine's main stream, with its own workspace (kWorkspaceBytes) — both ledger
// buffers ("gemm_scratch", "cublas_workspace"); cuBLAS's own handle state (a few MiB) is outside the ledger.
// Every cublasStatus_t goes through CHECK_CUBLAS (check.h): E_OOM for CUBLAS_STATUS_ALLOC_FAILED, else E_CUDA.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "gpu/engine.h"

namespace codecllm {
namespace engine {

class BlasGemm {
 public:
  static constexpr int kDefaultMinT = 4;  // cuBLAS won at every T measured (4..512, H200 2026-12-02: BENCHMARKS.md)
  static constexpr size_t kWorkspaceBytes = (size_t)32 << 20;  // cuBLAS's recommendation for Hopper
  /** Whether the addon was built with cuBLAS (CODECLLM_HAVE_CUBLAS). */
  static bool Built();
  /** Creates the handle on stream s; buffers tagged tag + "cublas-workspace" / "gemm-scratch" (tag "engine<id>:"); wElems = fp16 weight scratch (halves), yElems = fp32 epilogue scratch (floats). */
  BlasGemm(const std::string& tag, cudaStream_t s, size_t wElems, size_t yElems);
  ~BlasGemm();
  BlasGemm(const BlasGemm&) = delete;
  BlasGemm& operator=(const BlasGemm&) = delete;
  /** One linear as LaunchGemm's contract (engine.cuh), through cuBLAS; enqueued on s. */
  void Run(const uint16_t* A, const void* W, int wtype, const float* scale, const float* bias, float* Y, int M, int N, int K,
           bool accumulate, cudaStream_t s, const void* aux);
  void AddLedger(std::map<std::string, double>* m) const;

 private:
  void* handle_ = nullptr;  // cublasHandle_t
  cudaStream_t stream_ = nullptr;
  Buf work_, w16_, yt_;
};

}  // namespace engine
}  // namespace codecllm
