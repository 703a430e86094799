// gpu/prefill_gemm.cc — the cuBLAS prefill GEMM (BlasGemm) and the engine's dispatch to it (Engine::SetupPrefillGemm,
// Engine::PrefillGemm, Engine::AddPrefillGemmLedger). Design and switches: gpu/prefill_gemm.h.
#include "gpu/prefill_gemm.h"

#if defined(CODECLLM_HAVE_CUBLAS)
#include <cublas_v2.h>
#endif

#include "cuda/gemm_blas.cuh"

namespace codecllm {
namespace engine {

void BlasGemmDeleter::operator()(BlasGemm* b) const { delete b; }

#if defined(CODECLLM_HAVE_CUBLAS)
bool BlasGemm::Built() { return true; }

namespace {
cublasHandle_t H(void* h) { return static_cast<cublasHandle_t>(h); }
}  // namespace

BlasGemm::BlasGemm(const std::string& tag, cudaStream_t s, size_t wElems, size_t yElems) {
  work_ = Buf(kWorkspaceBytes, tag + "cublas-workspace");
  if (wElems) w16_ = Buf(wElems * sizeof(uint16_t), tag + "gemm-scratch");
  if (yElems) yt_ = Buf(yElems * sizeof(float), tag + "gemm-scratch");
  cublasHandle_t h = nullptr;
  CHECK_CUBLAS(cublasCreate(&h));
  handle_ = h;
  try {
    // fp32 compute everywhere: no TF32 / reduced-precision shortcuts (CUBLAS_COMPUTE_32F is passed per call too)
    CHECK_CUBLAS(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH));
    CHECK_CUBLAS(cublasSetStream(h, s));  // resets the workspace to cuBLAS's pool: set ours after it
    CHECK_CUBLAS(cublasSetWorkspace(h, work_.ptr, work_.bytes));
    stream_ = s;
  } catch (...) {
    cublasDestroy(h);
    handle_ = nullptr;
    throw;
  }
}

BlasGemm::~BlasGemm() {
  if (handle_) cublasDestroy(H(handle_));
}

void BlasGemm::Run(const uint16_t* A, const void* W, int wtype, const float* scale, const float* bias, float* Y, int M, int N,
                   int K, bool accumulate, cudaStream_t s, const void* aux) {
  CHECK_ARG(M > 0 && N > 0 && K > 0, "cublas gemm: empty shape");
  if (s != stream_) {
    CHECK_CUBLAS(cublasSetStream(H(handle_), s));
    CHECK_CUBLAS(cublasSetWorkspace(H(handle_), work_.ptr, work_.bytes));
    stream_ = s;
  }
  const void* B = W;  // the fp16 (N, K) operand
  if (wtype != kWeightF16) {
    CHECK_ARG((size_t)N * K * sizeof(uint16_t) <= w16_.bytes,
              "cublas gemm: weight scratch holds " + std::to_string(w16_.bytes / 2) + " halves, linear needs " + std::to_string((size_t)N * K));
    LaunchDequantF16(w16_.as<uint16_t>(), W, wtype, aux, N, K, s);
    B = w16_.ptr;
  }
  const bool scaled = wtype == kWeightI8Channel;
  const bool epilogue = scaled || bias;
  CHECK_ARG(!scaled || scale, "cublas gemm: int8 weights need their scales");
  if (epilogue)
    CHECK_ARG((size_t)M * N * sizeof(float) <= yt_.bytes,
              "cublas gemm: output scratch holds " + std::to_string(yt_.bytes / 4) + " floats, (" + std::to_string(M) + ", " + std::to_string(N) + ") needs more");
  float* out = epilogue ? yt_.as<float>() : Y;
  const float one = 1.f, zero = 0.f;
  // row-major Y (M, N) = X (M, K) · Wᵀ is column-major Yᵀ (N, M) = W (K, N)ᵀ · Xᵀ (K, M): op(A) = T on W, lda = K
  CHECK_CUBLAS(cublasGemmEx(H(handle_), CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, &one, B, CUDA_R_16F, K, A, CUDA_R_16F, K,
                            (!epilogue && accumulate) ? &one : &zero, out, CUDA_R_32F, N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
  if (epilogue) LaunchGemmEpilogue(Y, yt_.as<float>(), scaled ? scale : nullptr, bias, M, N, accumulate, s);
}

#else  // built without cuBLAS: never constructed (SetupPrefillGemm refuses CODECLLM_GEMM=cublas)
bool BlasGemm::Built() { return false; }
BlasGemm::BlasGemm(const std::string&, cudaStream_t, size_t, size_t) {
  THROW_ERROR("E_ARG", "cublas gemm: this addon was built without cuBLAS");
}
BlasGemm::~BlasGemm() {}
void BlasGemm::Run(const uint16_t*, const void*, int, const float*, const float*, float*, int, int, int, bool, cudaStream_t, const void*) {
  THROW_ERROR("E_ARG", "cublas gemm: this addon was built without cuBLAS");
}
#endif

void BlasGemm::AddLedger(std::map<std::string, double>* m) const {
  (*m)["cublas_workspace"] += (double)work_.bytes;
  (*m)["gemm_scratch"] += (double)(w16_.bytes + yt_.bytes);
}

// ---- the engine's side

void Engine::SetupPrefillGemm() {
  blas_.reset();
  blasMinT_ = 0;
  const std::string mode = EnvStr("CODECLLM_GEMM");
  CHECK_ARG(mode.empty() || mode == "own" || mode == "cublas", "CODECLLM_GEMM='" + mode + "' (expected own or cublas)");
  if (mode == "own" || (mode.empty() && !BlasGemm::Built())) return;
  CHECK_ARG(BlasGemm::Built(), "CODECLLM_GEMM=cublas: this addon was built without cuBLAS (scripts/setup.sh installs it; rebuild)");
  blasMinT_ = std::max(2, EnvInt("CODECLLM_CUBLAS_MIN_T", BlasGemm::kDefaultMinT));
  // scratch sizes over the linears prefill multiplies (lm_head runs as a GEMV on the last row only)
  size_t wElems = 0, yRows = 0;
  for (int i = 0; i < c_.L * 7; i++) {
    const Linear& l = lin_[i];
    if (l.mode != kModeFp16) wElems = std::max(wElems, (size_t)l.rows * l.K);
    if (l.mode == kModeInt8 || l.mode == kModeCompressed || l.bias.ptr) yRows = std::max(yRows, (size_t)l.rows);
  }
  blas_.reset(new BlasGemm(Tag(""), main_, wElems, yRows * (size_t)c_.Tmax));
}

bool Engine::PrefillGemm(int i, const uint16_t* A, float* Y, int M, bool acc, int buf, cudaStream_t s) {
  if (!blas_) return false;
  int wt;
  const void* w = WeightPtr(i, buf, &wt);
  // GGML k-quant / q5_0 blocks and the 4-bit lab layouts have no fp16 dequantizer here yet: our GEMM multiplies them
  if (wt != kWeightF16 && (M < blasMinT_ || !DequantF16Takes(wt))) return false;
  const Linear& l = lin_[i];
  blas_->Run(A, w, wt, l.scale.as<float>(), l.bias.as<float>(), Y, M, l.rows, l.K, acc, s, AuxPtr(i));
  return true;
}

void Engine::AddPrefillGemmLedger(std::map<std::string, double>* m) const {
  if (blas_) blas_->AddLedger(m);
}

}  // namespace engine
}  // namespace codecllm
