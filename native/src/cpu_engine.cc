// cpu_engine.cc — native CPU Llama-family forward (prefill + KV-cache decode), built from the reference ops of
// engine/ops_ref.h plus multi-threaded fast versions of the hot ones (linear, attention).
//
// Readable twins: every fast kernel here has its reference in engine/ops_ref.h; test/engine-cpu-native.test.ts
// compares them on seeded random inputs (cpuKernel below runs either side), and the engine's logits against the
// tfjs reference (src/model/llama.ts) and PyTorch. The engine can also run the whole forward on the reference ops
// (forward(..., reference = true)): the end-to-end twin.
//
// Weight storage (per linear, chosen when the weight is set): the engine keeps the model's float32 weight VALUES
// exactly — results match the tfjs reference up to summation order. Where the caller also hands the checkpoint's raw
// GGML blocks (q4_1, q8_0) and dequantizing them here reproduces the float32 weight bit for bit (checked on every
// set), the blocks are kept instead (5 / 8.5 bits per weight instead of 32: batch-1 decode is memory bound, so this is
// what makes decode fast); likewise fp16 / bf16 when every value is exactly representable. storage 'f32' forces
// plain float32. Any mismatch falls back to float32: the stored weight is always exactly the given one.
//
// Hot loops: y = x·Wᵀ is split over weight rows on a persistent thread pool (N = hardware_concurrency, or
// CODECLLM_THREADS; with a back-off to the calling thread alone while workers keep getting descheduled, see Pool); each task dequantizes up to 8 rows into a float tile and runs a register-blocked micro-kernel
// (tokens × rows). AVX2+FMA (and F16C) kernels are compiled with function target attributes and chosen at run time
// when the CPU has them (no global -mavx2, so the addon still loads on any x86-64); plain loops otherwise.
//
// JS API (registered by InitCpuEngine; wrapped by src/engine/cpu-native.ts):
//   cpuEngineCreate({hidden, intermediate, layers, heads, kvHeads, headDim, vocab, rmsEps, invFreq: Float32Array})
//       -> id
//   cpuEngineSetTensor(id, layer, slot, f32: Float32Array, raw: Uint8Array|null, rawType: number|string|null,
//                      storage: 'auto'|'f32', scale?: Float32Array, zero?: Uint8Array|null, group?: number)
//       -> format name actually stored ('f32'|'f16'|'bf16'|'q8_0'|'q4_1'|'i8_channel'|'i8_group')
//       rawType: a weight type id of common/weight_types.h (dtypes.ts DTYPES[*].id / ENGINE_LAYOUTS; a name is
//       accepted too). 'q4_1' | 'q8_0': raw = the GGML blocks; 'i8_channel' | 'i8_group': raw = int8 codes (quantize.ts
//       layout, int8 sym / uint8 asym) with scale (float values), zero (asym) and group. Kept only when it
//       dequantizes to exactly f32.
//       f32 null: no float32 values; raw holds the tensor as stored, rawType 'bf16'|'f16'|'f32'|'q4_1'|'q8_0'
//       (kept as is with storage 'auto', widened with 'f32') or 'i8_channel'|'i8_group' codes kept as given
//       (MakeWeightStored: the streaming checkpoint load, no float32 copy of the tensor)
//       layer -1: slot 0 embed (V,h), 1 final norm (h), 2 lm_head (V,h)
//       layer l : slot 0 input norm, 1 post norm, 2 q, 3 k, 4 v, 5 o, 6 gate, 7 up, 8 down, 9 q bias, 10 k bias,
//                 11 v bias   (append-only; mirrored in cpu-native.ts)
//   cpuEngineSetTensorFile(id, layer, slot, path, offset, bytes, storedType, storage) -> format: a matrix read from
//       the checkpoint file straight into the engine's storage (bf16|f16|f32|q4_1|q8_0; MakeWeightStored)
//   cpuEngineNewCache(id) -> cacheId ; cpuEngineFreeCache(id, cacheId) ; cpuEngineCacheLength(id, cacheId)
//   cpuEngineForward(id, cacheId (-1: none), tokens: Int32Array, lastOnly, reference) -> Float32Array (T|1, V)
//   cpuEngineInfo(id) -> {threads, isa, weightBytes, formats: {f32: n, ...}}
//   cpuEngineDispose(id)
//   cpuKernel(op, fast, args) -> Float32Array     (twin tests; see RunKernel)
//   cpuThreads() -> pool size
#include <napi.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define CODECLLM_X86 1
#define AVX2_FN __attribute__((target("avx2,fma,f16c")))
#endif

#include "binding.h"
#include "common/weight_types.h"
#include "engine/ops_ref.h"

namespace {

using namespace codecllm;

// ================================================================================================================
// thread pool: persistent workers; run(n, fn) calls fn(0..n-1) on the caller + workers (dynamic claiming) and returns
// when all n tasks are done. Workers spin briefly (50 µs) between jobs (back-to-back linears of one forward), then sleep.
// A sleeping or descheduled worker never delays the caller: completion counts tasks, not workers.
// ================================================================================================================

class Pool {
 public:
  explicit Pool(int n) : n_(std::max(1, n)) {
    for (int i = 1; i < n_; i++) workers_.emplace_back([this] { Worker(); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
      gen_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return n_; }
  /** How often the straggler back-off ran calls on the caller alone (see Run). */
  uint64_t solo_periods() const { return solo_periods_; }

  void Run(int n, const std::function<void(int)>& fn) {
    if (n <= 0) return;
    std::lock_guard<std::mutex> run_lock(run_mu_);
    if (n_ == 1 || n == 1 || runs_++ < solo_until_) {
      for (int i = 0; i < n; i++) fn(i);
      return;
    }
    const auto t0 = std::chrono::steady_clock::now();
    auto job = std::make_shared<Job>();
    job->fn = &fn;
    job->n = n;
    bool wake;
    {
      std::lock_guard<std::mutex> lk(mu_);
      job_ = job;
      gen_.fetch_add(1, std::memory_order_release);
      wake = sleepers_ > 0;
    }
    if (wake) cv_.notify_all();
    Work(*job);
    const auto t1 = std::chrono::steady_clock::now();
    if (!SpinWhile([&] { return job->done.load(std::memory_order_acquire) < n; }))
      while (job->done.load(std::memory_order_acquire) < n) std::this_thread::yield();
    // Straggler back-off: on an oversubscribed machine a worker descheduled in the middle of a task makes the caller
    // wait a scheduler time slice (ms) for work it could have done itself in microseconds. When that happens
    // repeatedly (a wait > 0.5 ms and longer than the caller's own share, 3 times more often than not), run the
    // next kSoloRuns calls on the caller alone, then try the workers again.
    const double own = std::chrono::duration<double>(t1 - t0).count();
    const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();
    if (waited > 5e-4 && waited > own) {
      if (++stragglers_ >= 3) {
        solo_until_ = runs_ + kSoloRuns;
        stragglers_ = 0;
        solo_periods_++;
      }
    } else if (stragglers_ > 0) {
      stragglers_--;
    }
    std::exception_ptr e = job->error;
    {
      std::lock_guard<std::mutex> lk(mu_);
      if (job_ == job) job_.reset();
    }
    if (e) std::rethrow_exception(e);
  }

 private:
  struct Job {
    const std::function<void(int)>* fn = nullptr;
    int n = 0;
    std::atomic<int> next{0}, done{0};
    std::exception_ptr error;
    std::mutex error_mu;
  };
  /** Spin-wait budget before sleeping (workers) or yielding (caller), in microseconds: CODECLLM_SPIN_US, default 50.
   *  Long enough to catch the next linear of the same forward on an idle machine, short enough not to burn the
   *  time slices of a busy one (measured: 20000 pauses ≈ 1-2 ms of spinning made decode 2-3x slower under load). */
  static std::chrono::nanoseconds SpinBudget() {
    static const std::chrono::nanoseconds v{(long long)(1000.0 * (std::getenv("CODECLLM_SPIN_US") ? std::atof(std::getenv("CODECLLM_SPIN_US")) : 50.0))};
    return v;
  }
  /** Spin (with pause) while `busy()` and the budget lasts; returns !busy(). */
  template <typename F>
  static bool SpinWhile(F busy) {
    const auto end = std::chrono::steady_clock::now() + SpinBudget();
    for (;;) {
      for (int i = 0; i < 32; i++) {
        if (!busy()) return true;
        Relax();
      }
      if (std::chrono::steady_clock::now() >= end) return !busy();
    }
  }
  static void Relax() {
#if defined(CODECLLM_X86)
    _mm_pause();
#endif
  }
  static void Work(Job& j) {
    for (;;) {
      int i = j.next.fetch_add(1, std::memory_order_relaxed);
      if (i >= j.n) return;
      try {
        (*j.fn)(i);
      } catch (...) {
        std::lock_guard<std::mutex> lk(j.error_mu);
        if (!j.error) j.error = std::current_exception();
      }
      j.done.fetch_add(1, std::memory_order_acq_rel);
    }
  }
  void Worker() {
    uint64_t seen = gen_.load();
    for (;;) {
      SpinWhile([&] { return gen_.load(std::memory_order_acquire) == seen; });
      std::shared_ptr<Job> job;
      {
        std::unique_lock<std::mutex> lk(mu_);
        if (gen_.load() == seen && !stop_) {
          sleepers_++;
          cv_.wait(lk, [&] { return stop_ || gen_.load() != seen; });
          sleepers_--;
        }
        if (stop_) return;
        seen = gen_.load();
        job = job_;
      }
      if (job) Work(*job);
    }
  }

  static constexpr uint64_t kSoloRuns = 2000;  // ~16 decode steps of a 30-layer model
  int n_;
  uint64_t runs_ = 0, solo_until_ = 0, solo_periods_ = 0;
  int stragglers_ = 0;
  std::vector<std::thread> workers_;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> gen_{0};
  std::shared_ptr<Job> job_;
  int sleepers_ = 0;
  bool stop_ = false;
};

Pool& GlobalPool() {
  static Pool* pool = [] {
    int n = (int)std::thread::hardware_concurrency();
    if (const char* e = std::getenv("CODECLLM_THREADS")) {
      int v = std::atoi(e);
      if (v > 0 && v <= 256) n = v;
    }
    return new Pool(n <= 0 ? 1 : n);  // never destroyed: workers live as long as the process
  }();
  return *pool;
}

bool HasAvx2() {
#if defined(CODECLLM_X86)
  static const bool ok = [] {
    __builtin_cpu_init();
    if (std::getenv("CODECLLM_NO_AVX2")) return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
  return ok;
#else
  return false;
#endif
}

// ================================================================================================================
// weights
// ================================================================================================================

// Storage formats: the one weight-type enum of common/weight_types.h (kWeightF32, F16, BF16, Q8_0, Q4_1, I8Channel,
// I8Group here; kWeightNone: not set).
constexpr int kWeightNone = -1;
const char* FmtName(int f) { return f == kWeightNone ? "none" : WeightTypeName(f); }

/** A (rows, cols) weight in one of the storage formats. */
struct Weight {
  int fmt = kWeightNone;  // WeightType
  int rows = 0, cols = 0;
  std::vector<float> f32;       // kWeightF32
  std::vector<uint16_t> half;   // kWeightF16, kWeightBF16
  std::vector<uint8_t> blocks;  // kWeightQ8_0, kWeightQ4_1: rows * cols/32 blocks; kI8*: codes (int8 sym or uint8 asym)
  std::vector<float> scale;     // kI8*: (rows) or (rows, ng)
  std::vector<uint8_t> zero;    // kI8* asym
  bool asym = false;
  int group = 0;  // kWeightI8Group
  size_t Bytes() const {
    return f32.size() * 4 + half.size() * 2 + blocks.size() + scale.size() * 4 + zero.size();
  }
};

// ---- dequantize rows [r0, r0+n) of a weight into out (n, cols): reference (scalar) and AVX2 versions

void DequantRowsRef(const Weight& w, int r0, int n, float* out) {
  const size_t C = (size_t)w.cols;
  for (int r = 0; r < n; r++) {
    const size_t row = (size_t)(r0 + r);
    float* o = out + (size_t)r * C;
    switch (w.fmt) {
      case kWeightF32: std::memcpy(o, w.f32.data() + row * C, C * 4); break;
      case kWeightF16:
        for (size_t i = 0; i < C; i++) o[i] = ref::f16_to_f32(w.half[row * C + i]);
        break;
      case kWeightBF16:
        for (size_t i = 0; i < C; i++) o[i] = ref::bf16_to_f32(w.half[row * C + i]);
        break;
      case kWeightQ8_0:
        for (size_t k = 0; k < C / 32; k++) ref::dequant_q8_0_block(o + k * 32, w.blocks.data() + (row * (C / 32) + k) * ref::kQ8_0BlockBytes);
        break;
      case kWeightQ4_1:
        for (size_t k = 0; k < C / 32; k++) ref::dequant_q4_1_block(o + k * 32, w.blocks.data() + (row * (C / 32) + k) * ref::kQ4_1BlockBytes);
        break;
      case kWeightI8Channel:
      case kWeightI8Group: {
        const size_t ng = w.fmt == kWeightI8Group ? (C + w.group - 1) / w.group : 1;
        for (size_t i = 0; i < C; i++) {
          const size_t g = w.fmt == kWeightI8Group ? row * ng + i / w.group : row;
          const int code = w.asym ? (int)w.blocks[row * C + i] : (int)(int8_t)w.blocks[row * C + i];
          o[i] = ref::dequant_i8(code, w.asym ? w.zero[g] : 0, w.scale[g]);
        }
        break;
      }
      default: THROW_ERROR("E_NATIVE", "weight not set");
    }
  }
}

#if defined(CODECLLM_X86)
AVX2_FN void DequantRowsAvx2(const Weight& w, int r0, int n, float* out) {
  const size_t C = (size_t)w.cols;
  if (w.fmt == kWeightQ4_1) {
    const __m128i lo_mask = _mm_set1_epi8(0x0f);
    for (int r = 0; r < n; r++) {
      const size_t row = (size_t)(r0 + r);
      float* o = out + (size_t)r * C;
      const uint8_t* b = w.blocks.data() + row * (C / 32) * ref::kQ4_1BlockBytes;
      for (size_t k = 0; k < C / 32; k++, b += ref::kQ4_1BlockBytes, o += 32) {
        const __m256 d = _mm256_set1_ps(ref::f16_to_f32((uint16_t)(b[0] | (b[1] << 8))));
        const __m256 m = _mm256_set1_ps(ref::f16_to_f32((uint16_t)(b[2] | (b[3] << 8))));
        const __m128i q = _mm_loadu_si128((const __m128i*)(b + 4));
        const __m128i lo = _mm_and_si128(q, lo_mask), hi = _mm_and_si128(_mm_srli_epi16(q, 4), lo_mask);
        // q*d is exact in float (4-bit code, 11-bit fp16 significand), so fma(q, d, m) == float(q*d) + m
        _mm256_storeu_ps(o + 0, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), d, m));
        _mm256_storeu_ps(o + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))), d, m));
        _mm256_storeu_ps(o + 16, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), d, m));
        _mm256_storeu_ps(o + 24, _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))), d, m));
      }
    }
    return;
  }
  if (w.fmt == kWeightQ8_0) {
    for (int r = 0; r < n; r++) {
      const size_t row = (size_t)(r0 + r);
      float* o = out + (size_t)r * C;
      const uint8_t* b = w.blocks.data() + row * (C / 32) * ref::kQ8_0BlockBytes;
      for (size_t k = 0; k < C / 32; k++, b += ref::kQ8_0BlockBytes, o += 32) {
        const __m256 d = _mm256_set1_ps(ref::f16_to_f32((uint16_t)(b[0] | (b[1] << 8))));
        for (int j = 0; j < 32; j += 8) {
          const __m128i q = _mm_loadl_epi64((const __m128i*)(b + 2 + j));
          _mm256_storeu_ps(o + j, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)), d));
        }
      }
    }
    return;
  }
  if (w.fmt == kWeightF16) {
    for (int r = 0; r < n; r++) {
      const uint16_t* h = w.half.data() + (size_t)(r0 + r) * C;
      float* o = out + (size_t)r * C;
      size_t i = 0;
      for (; i + 8 <= C; i += 8) _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i*)(h + i))));
      for (; i < C; i++) o[i] = ref::f16_to_f32(h[i]);
    }
    return;
  }
  if (w.fmt == kWeightBF16) {
    for (int r = 0; r < n; r++) {
      const uint16_t* h = w.half.data() + (size_t)(r0 + r) * C;
      float* o = out + (size_t)r * C;
      size_t i = 0;
      for (; i + 8 <= C; i += 8)
        _mm256_storeu_ps(o + i, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(h + i))), 16)));
      for (; i < C; i++) o[i] = ref::bf16_to_f32(h[i]);
    }
    return;
  }
  DequantRowsRef(w, r0, n, out);
}
#endif

void DequantRows(const Weight& w, int r0, int n, float* out) {
#if defined(CODECLLM_X86)
  if (HasAvx2()) return DequantRowsAvx2(w, r0, n, out);
#endif
  DequantRowsRef(w, r0, n, out);
}

// ---- micro-kernels: y[t*ys + r] = dot(x[t*xs ..], w[r*ws ..]) for t < TT, r < R (float accumulation)

template <int TT, int R>
void TilePlain(const float* x, size_t xs, const float* w, size_t ws, int in, float* y, size_t ys) {
  // 8 partial sums per dot (lanes), like the vector kernel; the compiler vectorizes the inner loop
  float acc[TT][R][8] = {};
  int i = 0;
  for (; i + 8 <= in; i += 8)
    for (int t = 0; t < TT; t++)
      for (int r = 0; r < R; r++)
        for (int l = 0; l < 8; l++) acc[t][r][l] += x[t * xs + i + l] * w[r * ws + i + l];
  for (int t = 0; t < TT; t++)
    for (int r = 0; r < R; r++) {
      float s = 0;
      for (int l = 0; l < 8; l++) s += acc[t][r][l];
      for (int j = i; j < in; j++) s += x[t * xs + j] * w[r * ws + j];
      y[t * ys + r] = s;
    }
}

#if defined(CODECLLM_X86)
AVX2_FN inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

template <int TT, int R>
AVX2_FN void TileAvx2(const float* x, size_t xs, const float* w, size_t ws, int in, float* y, size_t ys) {
  __m256 acc[TT][R];
  for (int t = 0; t < TT; t++)
    for (int r = 0; r < R; r++) acc[t][r] = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= in; i += 8) {
    __m256 xv[TT];
    for (int t = 0; t < TT; t++) xv[t] = _mm256_loadu_ps(x + t * xs + i);
    for (int r = 0; r < R; r++) {
      const __m256 wv = _mm256_loadu_ps(w + r * ws + i);
      for (int t = 0; t < TT; t++) acc[t][r] = _mm256_fmadd_ps(xv[t], wv, acc[t][r]);
    }
  }
  for (int t = 0; t < TT; t++)
    for (int r = 0; r < R; r++) {
      float s = Hsum(acc[t][r]);
      for (int j = i; j < in; j++) s += x[t * xs + j] * w[r * ws + j];
      y[t * ys + r] = s;
    }
}

/**
 * Batch-1 (T == 1) GGML-block GEMV without the float tile: y[r] = Σ x·dequant(W[r]) for rows [r0, r1), RB rows at a
 * time. Same per-row arithmetic and order as DequantRowsAvx2 + TileAvx2<1, R> (8-lane fma over i ascending, then
 * Hsum), so results are bit-identical to that path; it only skips the store/reload of the dequantized rows.
 */
template <int RB>
AVX2_FN void GemvBlocksAvx2(const Weight& W, const float* x, float* y, int r0) {
  const int nb = W.cols / 32;
  const bool q4 = W.fmt == kWeightQ4_1;
  const int bb = q4 ? ref::kQ4_1BlockBytes : ref::kQ8_0BlockBytes;
  const __m128i mask = _mm_set1_epi8(0x0f);
  __m256 acc[RB];
  const uint8_t* row[RB];
  for (int j = 0; j < RB; j++) {
    acc[j] = _mm256_setzero_ps();
    row[j] = W.blocks.data() + (size_t)(r0 + j) * nb * bb;
  }
  for (int k = 0; k < nb; k++) {
    const float* xk = x + (size_t)k * 32;
    const __m256 x0 = _mm256_loadu_ps(xk), x1 = _mm256_loadu_ps(xk + 8), x2 = _mm256_loadu_ps(xk + 16), x3 = _mm256_loadu_ps(xk + 24);
    for (int j = 0; j < RB; j++) {
      const uint8_t* b = row[j] + (size_t)k * bb;
      const __m256 d = _mm256_set1_ps(_cvtsh_ss((unsigned short)(b[0] | (b[1] << 8))));
      __m256 w0, w1, w2, w3;
      if (q4) {
        const __m256 m = _mm256_set1_ps(_cvtsh_ss((unsigned short)(b[2] | (b[3] << 8))));
        const __m128i q = _mm_loadu_si128((const __m128i*)(b + 4));
        const __m128i lo = _mm_and_si128(q, mask), hi = _mm_and_si128(_mm_srli_epi16(q, 4), mask);
        w0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(lo)), d, m);
        w1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8))), d, m);
        w2 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(hi)), d, m);
        w3 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8))), d, m);
      } else {
        w0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(b + 2)))), d);
        w1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(b + 10)))), d);
        w2 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(b + 18)))), d);
        w3 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i*)(b + 26)))), d);
      }
      acc[j] = _mm256_fmadd_ps(x0, w0, acc[j]);
      acc[j] = _mm256_fmadd_ps(x1, w1, acc[j]);
      acc[j] = _mm256_fmadd_ps(x2, w2, acc[j]);
      acc[j] = _mm256_fmadd_ps(x3, w3, acc[j]);
    }
  }
  for (int j = 0; j < RB; j++) y[r0 + j] = Hsum(acc[j]);
}
#endif

using TileFn = void (*)(const float*, size_t, const float*, size_t, int, float*, size_t);

/** Tile kernels by (tokens TT in 1..3, rows R in 1..8); TT*R <= 12 accumulators for TT > 1. */
template <int TT, int R>
TileFn PickTile() {
#if defined(CODECLLM_X86)
  if (HasAvx2()) return &TileAvx2<TT, R>;
#endif
  return &TilePlain<TT, R>;
}
TileFn Tile(int tt, int r) {
  static TileFn table[3][8] = {
      {PickTile<1, 1>(), PickTile<1, 2>(), PickTile<1, 3>(), PickTile<1, 4>(), PickTile<1, 5>(), PickTile<1, 6>(), PickTile<1, 7>(), PickTile<1, 8>()},
      {PickTile<2, 1>(), PickTile<2, 2>(), PickTile<2, 3>(), PickTile<2, 4>(), nullptr, nullptr, nullptr, nullptr},
      {PickTile<3, 1>(), PickTile<3, 2>(), PickTile<3, 3>(), PickTile<3, 4>(), nullptr, nullptr, nullptr, nullptr},
  };
  return table[tt - 1][r - 1];
}

/** Rows of a weight handled by one tile. */
constexpr int kMaxTileRows = 8;

/**
 * y (T, out) = x (T, in) · W[r0:r1]ᵀ (+ b) for rows [r0, r1) of W (output columns r0..r1 of y, row stride ys).
 * tile: scratch of kMaxTileRows * in floats (dequantized rows).
 */
void LinearRows(const Weight& W, const float* b, const float* x, int T, float* y, size_t ys, int r0, int r1, float* tile) {
  const int in = W.cols;
#if defined(CODECLLM_X86)
  if (T == 1 && (W.fmt == kWeightQ4_1 || W.fmt == kWeightQ8_0) && HasAvx2()) {
    int r = r0;
    for (; r + 4 <= r1; r += 4) GemvBlocksAvx2<4>(W, x, y, r);
    for (; r < r1; r++) GemvBlocksAvx2<1>(W, x, y, r);
    if (b)
      for (int j = r0; j < r1; j++) y[j] += b[j];
    return;
  }
#endif
  const int R = T == 1 ? 8 : 4;
  for (int r = r0; r < r1; r += R) {
    const int nr = std::min(R, r1 - r);
    const float* w;
    if (W.fmt == kWeightF32)
      w = W.f32.data() + (size_t)r * in;
    else {
      DequantRows(W, r, nr, tile);
      w = tile;
    }
    for (int t = 0; t < T; t += 3) {
      const int nt = std::min(3, T - t);
      Tile(nt, nr)(x + (size_t)t * in, (size_t)in, w, (size_t)in, in, y + (size_t)t * ys + r, ys);
    }
    if (b)
      for (int t = 0; t < T; t++)
        for (int j = 0; j < nr; j++) y[(size_t)t * ys + r + j] += b[r + j];
  }
}

/** One output of a (possibly fused) linear call. */
struct LinOut {
  const Weight* W;
  const float* b;
  float* y;  // (T, W->rows)
};

/** Several linears over the same input x (T, in), rows split over the pool. */
void LinearFast(const float* x, int T, std::initializer_list<LinOut> outs) {
  Pool& pool = GlobalPool();
  struct Task {
    const LinOut* o;
    int r0, r1;
  };
  std::vector<Task> tasks;
  int total_rows = 0;
  for (const LinOut& o : outs) total_rows += o.W->rows;
  // rows per task: a multiple of the tile height, about 4 tasks per thread for load balance
  const int unit = T == 1 ? 8 : 4;
  int chunk = std::max(unit, (total_rows / (pool.size() * 4) + unit - 1) / unit * unit);
  for (const LinOut& o : outs)
    for (int r = 0; r < o.W->rows; r += chunk) tasks.push_back({&o, r, std::min(o.W->rows, r + chunk)});
  const int in = outs.begin()->W->cols;
  pool.Run((int)tasks.size(), [&](int i) {
    thread_local std::vector<float> tile;
    if (tile.size() < (size_t)kMaxTileRows * in) tile.resize((size_t)kMaxTileRows * in);
    const Task& k = tasks[i];
    LinearRows(*k.o->W, k.o->b, x, T, k.o->y, (size_t)k.o->W->rows, k.r0, k.r1, tile.data());
  });
}

/** Reference linear over any storage format (ops_ref.h). */
void LinearRef(const Weight& W, const float* b, const float* x, int T, float* y) {
  const int in = W.cols, out = W.rows;
  switch (W.fmt) {
    case kWeightF32: ref::linear_f32(y, x, W.f32.data(), b, T, in, out); break;
    case kWeightF16: ref::linear_f16(y, x, W.half.data(), b, T, in, out); break;
    case kWeightBF16: ref::linear_bf16(y, x, W.half.data(), b, T, in, out); break;
    case kWeightQ8_0: ref::linear_q8_0(y, x, W.blocks.data(), b, T, in, out); break;
    case kWeightQ4_1: ref::linear_q4_1(y, x, W.blocks.data(), b, T, in, out); break;
    case kWeightI8Channel:
      ref::linear_i8_channel(y, x, W.asym ? nullptr : (const int8_t*)W.blocks.data(), W.asym ? W.blocks.data() : nullptr, W.scale.data(),
                             W.asym ? W.zero.data() : nullptr, b, T, in, out);
      break;
    case kWeightI8Group:
      ref::linear_i8_group(y, x, W.asym ? nullptr : (const int8_t*)W.blocks.data(), W.asym ? W.blocks.data() : nullptr, W.scale.data(),
                           W.asym ? W.zero.data() : nullptr, W.group, b, T, in, out);
      break;
    default: THROW_ERROR("E_NATIVE", "weight not set");
  }
}

// ---- fast attention: one task per (token, query head); float math, AVX2 dot products where available

#if defined(CODECLLM_X86)
AVX2_FN float DotAvx2(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  int i = 0;
  for (; i + 8 <= n; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = Hsum(acc);
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}
#endif
float DotPlain(const float* a, const float* b, int n) {
  float acc[8] = {};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) acc[l] += a[i + l] * b[i + l];
  float s = 0;
  for (int l = 0; l < 8; l++) s += acc[l];
  for (; i < n; i++) s += a[i] * b[i];
  return s;
}
float Dot(const float* a, const float* b, int n) {
#if defined(CODECLLM_X86)
  if (HasAvx2()) return DotAvx2(a, b, n);
#endif
  return DotPlain(a, b, n);
}

/** Same contract and shapes as ref::attention (ops_ref.h); float accumulation, tasks over (t, hq). */
void AttentionFast(float* out, const float* q, const float* k_cache, const float* v_cache, int T, int H, int Hkv, int D, int P, int Smax) {
  const int G = H / Hkv;
  const float scale = (float)(1.0 / std::sqrt((double)D));
  GlobalPool().Run(T * H, [&](int task) {
    const int t = task / H, hq = task % H, kv = hq / G, S = P + t + 1;
    thread_local std::vector<float> sc;
    if (sc.size() < (size_t)S) sc.resize((size_t)S);
    const float* qv = q + ((size_t)t * H + hq) * D;
    const float* kc = k_cache + (size_t)kv * Smax * D;
    const float* vc = v_cache + (size_t)kv * Smax * D;
    float mx = -INFINITY;
    for (int s = 0; s < S; s++) {
      sc[s] = Dot(qv, kc + (size_t)s * D, D) * scale;
      mx = std::max(mx, sc[s]);
    }
    float sum = 0;
    for (int s = 0; s < S; s++) sum += (sc[s] = std::exp(sc[s] - mx));
    const float inv = 1.0f / sum;
    float* o = out + ((size_t)t * H + hq) * D;
    for (int i = 0; i < D; i++) o[i] = 0;
    for (int s = 0; s < S; s++) {
      const float p = sc[s] * inv;
      const float* vr = vc + (size_t)s * D;
      for (int i = 0; i < D; i++) o[i] += p * vr[i];
    }
  });
}

/** out = silu(gate) * up in float (expf), rows split over the pool. Twin: ref::swiglu. */
void SwigluFast(float* out, const float* gate, const float* up, size_t n) {
  const size_t chunk = 4096;
  GlobalPool().Run((int)((n + chunk - 1) / chunk), [&](int c) {
    const size_t a = (size_t)c * chunk, e = std::min(n, a + chunk);
    for (size_t i = a; i < e; i++) {
      const float g = gate[i];
      out[i] = (g * (1.0f / (1.0f + std::exp(-g)))) * up[i];
    }
  });
}

// ================================================================================================================
// the engine
// ================================================================================================================

struct Config {
  int hidden = 0, inter = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  float eps = 1e-6f;
};

struct Layer {
  std::vector<float> in_norm, post_norm, bq, bk, bv;
  Weight q, k, v, o, gate, up, down;
};

/** KV cache of one sequence: per layer k, v (Hkv, cap, D). */
struct Cache {
  int len = 0, cap = 0;
  std::vector<std::vector<float>> k, v;
};

struct Engine {
  Config c;
  std::vector<float> inv_freq;
  Weight embed, lm_head;
  std::vector<float> norm;
  std::vector<Layer> layers;
  std::map<int, std::unique_ptr<Cache>> caches;
  int next_cache = 1;
};

std::mutex g_mu;
std::map<int, std::unique_ptr<Engine>> g_engines;
int g_next_engine = 1;

Engine& GetEngine(int id) {
  auto it = g_engines.find(id);
  CHECK_ARG(it != g_engines.end(), "cpu engine " + std::to_string(id) + " does not exist (disposed?)");
  return *it->second;
}

void GrowCache(const Engine& e, Cache& c, int need) {
  if (need <= c.cap) return;
  const int Hkv = e.c.kv_heads, D = e.c.head_dim;
  const int cap = std::max({need, 2 * c.cap, 64});
  c.k.resize(e.c.layers);
  c.v.resize(e.c.layers);
  for (int l = 0; l < e.c.layers; l++) {
    for (auto* buf : {&c.k[l], &c.v[l]}) {
      std::vector<float> nb((size_t)Hkv * cap * D);
      for (int j = 0; j < Hkv && c.cap > 0; j++)
        std::memcpy(nb.data() + (size_t)j * cap * D, buf->data() + (size_t)j * c.cap * D, sizeof(float) * (size_t)c.len * D);
      buf->swap(nb);
    }
  }
  c.cap = cap;
}

/** Forward T tokens (positions cache.len ..), appending to the cache. logits (T or 1, V). */
void Forward(Engine& e, Cache& cache, const int32_t* tokens, int T, bool last_only, bool reference, float* logits) {
  const Config& c = e.c;
  const int h = c.hidden, H = c.heads, Hkv = c.kv_heads, D = c.head_dim, I = c.inter;
  const int P = cache.len;
  GrowCache(e, cache, P + T);
  const int Smax = cache.cap;
  std::vector<float> x((size_t)T * h), hn((size_t)T * h), q((size_t)T * H * D), k((size_t)T * Hkv * D), v((size_t)T * Hkv * D),
      att((size_t)T * H * D), tmp((size_t)T * h), gate((size_t)T * I), up((size_t)T * I), scratch((size_t)P + T);
  std::vector<int32_t> pos(T);
  for (int t = 0; t < T; t++) pos[t] = P + t;
  // embedding rows (dequantized from the stored format)
  for (int t = 0; t < T; t++) DequantRowsRef(e.embed, tokens[t], 1, x.data() + (size_t)t * h);
  for (int l = 0; l < c.layers; l++) {
    Layer& L = e.layers[l];
    ref::rmsnorm(hn.data(), x.data(), L.in_norm.data(), T, h, c.eps);
    const float* bq = L.bq.empty() ? nullptr : L.bq.data();
    const float* bk = L.bk.empty() ? nullptr : L.bk.data();
    const float* bv = L.bv.empty() ? nullptr : L.bv.data();
    if (reference) {
      LinearRef(L.q, bq, hn.data(), T, q.data());
      LinearRef(L.k, bk, hn.data(), T, k.data());
      LinearRef(L.v, bv, hn.data(), T, v.data());
    } else {
      LinearFast(hn.data(), T, {{&L.q, bq, q.data()}, {&L.k, bk, k.data()}, {&L.v, bv, v.data()}});
    }
    ref::rope_rotate_half(q.data(), pos.data(), e.inv_freq.data(), T, H, D);
    ref::rope_rotate_half(k.data(), pos.data(), e.inv_freq.data(), T, Hkv, D);
    ref::kv_append(cache.k[l].data(), cache.v[l].data(), k.data(), v.data(), T, Hkv, D, P, Smax);
    if (reference)
      ref::attention(att.data(), q.data(), cache.k[l].data(), cache.v[l].data(), T, H, Hkv, D, P, Smax, scratch.data());
    else
      AttentionFast(att.data(), q.data(), cache.k[l].data(), cache.v[l].data(), T, H, Hkv, D, P, Smax);
    if (reference)
      LinearRef(L.o, nullptr, att.data(), T, tmp.data());
    else
      LinearFast(att.data(), T, {{&L.o, nullptr, tmp.data()}});
    ref::add_inplace(x.data(), tmp.data(), x.size());
    ref::rmsnorm(hn.data(), x.data(), L.post_norm.data(), T, h, c.eps);
    if (reference) {
      LinearRef(L.gate, nullptr, hn.data(), T, gate.data());
      LinearRef(L.up, nullptr, hn.data(), T, up.data());
      ref::swiglu(gate.data(), gate.data(), up.data(), gate.size());
      LinearRef(L.down, nullptr, gate.data(), T, tmp.data());
    } else {
      LinearFast(hn.data(), T, {{&L.gate, nullptr, gate.data()}, {&L.up, nullptr, up.data()}});
      SwigluFast(gate.data(), gate.data(), up.data(), gate.size());
      LinearFast(gate.data(), T, {{&L.down, nullptr, tmp.data()}});
    }
    ref::add_inplace(x.data(), tmp.data(), x.size());
  }
  cache.len = P + T;
  const int first = last_only ? T - 1 : 0, n = T - first;
  ref::rmsnorm(hn.data(), x.data() + (size_t)first * h, e.norm.data(), n, h, c.eps);
  if (reference)
    LinearRef(e.lm_head, nullptr, hn.data(), n, logits);
  else
    LinearFast(hn.data(), n, {{&e.lm_head, nullptr, logits}});
}

// ================================================================================================================
// setting weights: keep exactly the given float32 values, in the smallest verified format
// ================================================================================================================

/** Does `w` (rows, cols) dequantize to exactly the float32 values `f` (bitwise)? */
bool SameBits(const Weight& w, const float* f) {
  std::vector<float> row((size_t)w.cols);
  for (int r = 0; r < w.rows; r++) {
    DequantRows(w, r, 1, row.data());
    if (std::memcmp(row.data(), f + (size_t)r * w.cols, sizeof(float) * (size_t)w.cols) != 0) return false;
  }
  return true;
}

/** Choose the storage of a (rows, cols) weight. raw: the checkpoint's GGML blocks of the same tensor (or null). */
/** int8 codes for MakeWeight: quantize.ts layout (codes (rows, cols); scale / zero per row or per (row, group)). */
struct Int8Codes {
  const float* scale = nullptr;
  size_t n_scale = 0;
  const uint8_t* zero = nullptr;  // asym
  size_t n_zero = 0;
  int group = 0;  // i8_group
};

/** Set w (rows, cols already set) to int8 codes (quantize.ts layout) + scales (+ zero points), checking sizes. */
void FillInt8(Weight& w, const uint8_t* raw, size_t raw_bytes, bool grp, const Int8Codes& i8) {
  const size_t n = (size_t)w.rows * w.cols;
  CHECK_ARG(!grp || (i8.group >= 1 && i8.group <= w.cols), "i8_group: group size must be in [1, cols]");
  const size_t ng = grp ? (size_t)w.rows * ((w.cols + i8.group - 1) / i8.group) : (size_t)w.rows;
  CHECK_ARG(raw_bytes == n, "int8 codes: expected " + std::to_string(n) + " bytes, got " + std::to_string(raw_bytes));
  CHECK_ARG(i8.n_scale == ng, "int8 scales: expected " + std::to_string(ng) + ", got " + std::to_string(i8.n_scale));
  CHECK_ARG(!i8.zero || i8.n_zero == ng, "int8 zero points: expected " + std::to_string(ng) + ", got " + std::to_string(i8.n_zero));
  w.fmt = grp ? kWeightI8Group : kWeightI8Channel;
  w.group = grp ? i8.group : 0;
  w.asym = i8.zero != nullptr;
  w.blocks.assign(raw, raw + n);
  w.scale.assign(i8.scale, i8.scale + ng);
  if (w.asym) w.zero.assign(i8.zero, i8.zero + ng);
}

/**
 * A weight straight from a checkpoint's stored bytes, with no float32 copy of the tensor (the streaming load path,
 * src/engine/cpu-checkpoint.ts): bf16 / f16 kept as stored, f32 kept, q4_1 / q8_0 blocks kept; with storage 'f32'
 * (auto_fmt false) the first three are widened and the blocks dequantized. int8 codes (i8_channel / i8_group) are
 * kept as given: the caller's own quantizer produced them, so there is no float32 original to compare with.
 */
Weight MakeWeightStored(int rows, int cols, const uint8_t* raw, size_t raw_bytes, int t, bool auto_fmt, const Int8Codes* i8,
                        const std::function<void(uint8_t*, size_t)>& fill = nullptr) {
  Weight w;
  w.rows = rows;
  w.cols = cols;
  const size_t n = (size_t)rows * cols;
  // the stored bytes land straight in the weight's own storage: copied from raw, or read by `fill` (from the file)
  auto take = [&](uint8_t* dst, size_t bytes) {
    if (fill) fill(dst, bytes);
    else std::memcpy(dst, raw, bytes);
  };
  auto widen = [&]() {
    std::vector<float> f(n);
    DequantRows(w, 0, rows, f.data());
    w = Weight();
    w.rows = rows;
    w.cols = cols;
    w.fmt = kWeightF32;
    w.f32 = std::move(f);
  };
  if (t == kWeightI8Channel || t == kWeightI8Group) {
    CHECK_ARG(i8 != nullptr && raw != nullptr, "int8 codes need codes and scales");
    FillInt8(w, raw, raw_bytes, t == kWeightI8Group, *i8);
    if (!auto_fmt) widen();
    return w;
  }
  if (t == kWeightBF16 || t == kWeightF16) {
    CHECK_ARG(raw_bytes == n * 2, std::string(FmtName(t)) + " tensor: expected " + std::to_string(n * 2) + " bytes, got " + std::to_string(raw_bytes));
    w.fmt = t;
    w.half.resize(n);
    take(reinterpret_cast<uint8_t*>(w.half.data()), n * 2);
    if (!auto_fmt) widen();
    return w;
  }
  if (t == kWeightF32) {
    CHECK_ARG(raw_bytes == n * 4, "f32 tensor: expected " + std::to_string(n * 4) + " bytes, got " + std::to_string(raw_bytes));
    w.fmt = kWeightF32;
    w.f32.resize(n);
    take(reinterpret_cast<uint8_t*>(w.f32.data()), n * 4);
    return w;
  }
  if (t == kWeightQ4_1 || t == kWeightQ8_0) {
    const size_t bb = BlockBytes(t);
    CHECK_ARG(cols % 32 == 0 && raw_bytes == n / 32 * bb, std::string(FmtName(t)) + " tensor: expected " + std::to_string(n / 32 * bb) + " bytes of blocks over 32-multiple rows");
    w.fmt = t;
    w.blocks.resize(raw_bytes);
    take(w.blocks.data(), raw_bytes);
    if (!auto_fmt) widen();
    return w;
  }
  THROW_ERROR("E_ARG", "stored type '" + std::string(t >= 0 ? FmtName(t) : "none") + "' cannot be set without float32 values (expected bf16, f16, f32, q4_1, q8_0, i8_channel, i8_group)");
}

Weight MakeWeight(const float* f, int rows, int cols, const uint8_t* raw, size_t raw_bytes, int raw_type, bool auto_fmt,
                  const Int8Codes* i8 = nullptr) {
  Weight w;
  w.rows = rows;
  w.cols = cols;
  const size_t n = (size_t)rows * cols;
  if (auto_fmt && raw && i8 && (raw_type == kWeightI8Channel || raw_type == kWeightI8Group)) {
    FillInt8(w, raw, raw_bytes, raw_type == kWeightI8Group, *i8);
    if (SameBits(w, f)) return w;
    w = Weight();
    w.rows = rows;
    w.cols = cols;
  }
  // GGML blocks the fast kernels read (DequantRows*, GemvBlocksAvx2): q4_1 and q8_0, 32 weights per block
  if (auto_fmt && raw && cols % 32 == 0 && (raw_type == kWeightQ4_1 || raw_type == kWeightQ8_0)) {
    const size_t bb = BlockBytes(raw_type);
    if (raw_bytes == n / 32 * bb) {
      w.fmt = raw_type;
      w.blocks.assign(raw, raw + raw_bytes);
      if (SameBits(w, f)) return w;
      w.blocks.clear();
      w.blocks.shrink_to_fit();
    }
  }
  if (auto_fmt) {
    bool bf = true, hf = true;
    for (size_t i = 0; i < n && (bf || hf); i++) {
      const uint32_t u = f32_bits(f[i]);
      if (bf && ((u & 0xffffu) != 0 || std::isnan(f[i]))) bf = false;
      if (hf && f32_bits(ref::f16_to_f32(ref::f32_to_f16(f[i]))) != u) hf = false;
    }
    if (bf || hf) {
      w.fmt = bf ? kWeightBF16 : kWeightF16;
      w.half.resize(n);
      for (size_t i = 0; i < n; i++) w.half[i] = bf ? (uint16_t)(f32_bits(f[i]) >> 16) : ref::f32_to_f16(f[i]);
      return w;
    }
  }
  w.fmt = kWeightF32;
  w.f32.assign(f, f + n);
  return w;
}

// ================================================================================================================
// JS bindings
// ================================================================================================================

int GetInt(const Napi::Object& o, const char* k, int lo, int hi) {
  Napi::Value v = o.Get(k);
  CHECK_ARG(v.IsNumber(), std::string("config.") + k + ": expected a number");
  double d = v.As<Napi::Number>().DoubleValue();
  CHECK_ARG(d == std::floor(d) && d >= lo && d <= hi,
            std::string("config.") + k + ": must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int)d;
}

template <typename T>
const T* TypedData(const Napi::Value& v, size_t n, const char* name, napi_typedarray_type type) {
  CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == type, std::string(name) + ": wrong array type");
  Napi::TypedArray a = v.As<Napi::TypedArray>();
  CHECK_ARG(a.ElementLength() == n, std::string(name) + ": expected " + std::to_string(n) + " elements, got " + std::to_string(a.ElementLength()));
  if (n == 0) return nullptr;
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}
const float* F32Arg(const Napi::Value& v, size_t n, const char* name) { return TypedData<float>(v, n, name, napi_float32_array); }

Napi::Value Create(const Napi::CallbackInfo& info) {
  CHECK_ARG(info.Length() >= 1 && info[0].IsObject(), "cpuEngineCreate: expected a config object");
  Napi::Object o = info[0].As<Napi::Object>();
  auto e = std::make_unique<Engine>();
  Config& c = e->c;
  c.hidden = GetInt(o, "hidden", 1, 1 << 16);
  c.inter = GetInt(o, "intermediate", 1, 1 << 18);
  c.layers = GetInt(o, "layers", 1, 1024);
  c.heads = GetInt(o, "heads", 1, 1024);
  c.kv_heads = GetInt(o, "kvHeads", 1, 1024);
  c.head_dim = GetInt(o, "headDim", 2, 1024);
  c.vocab = GetInt(o, "vocab", 1, 1 << 22);
  CHECK_ARG(c.heads % c.kv_heads == 0, "heads must be a multiple of kvHeads");
  CHECK_ARG(c.head_dim % 2 == 0, "headDim must be even");
  Napi::Value eps = o.Get("rmsEps");
  CHECK_ARG(eps.IsNumber(), "config.rmsEps: expected a number");
  c.eps = (float)eps.As<Napi::Number>().DoubleValue();
  const float* inv = F32Arg(o.Get("invFreq"), (size_t)c.head_dim / 2, "config.invFreq");
  e->inv_freq.assign(inv, inv + c.head_dim / 2);
  e->layers.resize(c.layers);
  std::lock_guard<std::mutex> lk(g_mu);
  int id = g_next_engine++;
  g_engines[id] = std::move(e);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value SetTensor(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  const Config& c = e.c;
  const int layer = (int)ArgInt(info, 1, "layer", -1, c.layers - 1, -2);
  const int slot = (int)ArgInt(info, 2, "slot", 0, 11, -1);
  CHECK_ARG(layer >= -1 && slot >= 0, "cpuEngineSetTensor: layer and slot are required");
  const int raw_type = ArgWeightType(info, 5, "rawType");  // id (dtypes.ts DTYPES / ENGINE_LAYOUTS) or name; -1: none
  const uint8_t* raw = nullptr;
  size_t raw_bytes = 0;
  if (info.Length() > 4 && !info[4].IsNull() && !info[4].IsUndefined()) {
    Bytes b = ArgBytes(info, 4, "raw");
    raw = b.data;
    raw_bytes = b.size;
  }
  std::string storage = info.Length() > 6 && info[6].IsString() ? info[6].As<Napi::String>().Utf8Value() : "auto";
  CHECK_ARG(storage == "auto" || storage == "f32", "storage: expected 'auto' or 'f32'");
  const bool auto_fmt = storage == "auto";
  const int h = c.hidden, qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  // info[3] null: no float32 values; the tensor comes as stored bytes (raw, rawType) — see MakeWeightStored
  const bool stored = info.Length() > 3 && info[3].IsNull();
  CHECK_ARG(!stored || raw, "cpuEngineSetTensor: without float32 values, raw stored bytes are required");
  auto vec = [&](std::vector<float>& dst, size_t n, const char* name) {
    if (stored) {
      Weight v = MakeWeightStored(1, (int)n, raw, raw_bytes, raw_type, false, nullptr);
      dst = std::move(v.f32);
      return std::string("f32");
    }
    const float* f = F32Arg(info[3], n, name);
    dst.assign(f, f + n);
    return std::string("f32");
  };
  // int8 codes (raw_type i8_channel / i8_group): info[7] scale Float32Array, info[8] zero Uint8Array|null, info[9] group
  Int8Codes i8;
  const bool has_i8 = raw && (raw_type == kWeightI8Channel || raw_type == kWeightI8Group);
  if (has_i8) {
    CHECK_ARG(info.Length() > 7 && info[7].IsTypedArray() && info[7].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
              "int8 scales: expected a Float32Array");
    Napi::Float32Array sc = info[7].As<Napi::Float32Array>();
    i8.scale = sc.Data();
    i8.n_scale = sc.ElementLength();
    if (info.Length() > 8 && !info[8].IsNull() && !info[8].IsUndefined()) {
      CHECK_ARG(info[8].IsTypedArray() && info[8].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array, "int8 zero points: expected a Uint8Array");
      Napi::Uint8Array z = info[8].As<Napi::Uint8Array>();
      i8.zero = z.ElementLength() ? z.Data() : EmptyBytes();
      i8.n_zero = z.ElementLength();
    }
    i8.group = (int)ArgInt(info, 9, "group", 0, 1 << 18, 0);
  }
  auto mat = [&](Weight& dst, int rows, int cols, const char* name) {
    if (stored) {
      dst = Weight();  // free the old one first: the peak stays at one copy of this tensor
      dst = MakeWeightStored(rows, cols, raw, raw_bytes, raw_type, auto_fmt, has_i8 ? &i8 : nullptr);
      return std::string(FmtName(dst.fmt));
    }
    const float* f = F32Arg(info[3], (size_t)rows * cols, name);
    dst = MakeWeight(f, rows, cols, raw, raw_bytes, raw_type, auto_fmt, has_i8 ? &i8 : nullptr);
    return std::string(FmtName(dst.fmt));
  };
  std::string fmt;
  if (layer == -1) {
    switch (slot) {
      case 0: fmt = mat(e.embed, c.vocab, h, "embed"); break;
      case 1: fmt = vec(e.norm, h, "norm"); break;
      case 2: fmt = mat(e.lm_head, c.vocab, h, "lm_head"); break;
      default: THROW_ERROR("E_ARG", "slot " + std::to_string(slot) + " is not a model-level tensor (0 embed, 1 norm, 2 lm_head)");
    }
  } else {
    Layer& L = e.layers[layer];
    switch (slot) {
      case 0: fmt = vec(L.in_norm, h, "input_layernorm"); break;
      case 1: fmt = vec(L.post_norm, h, "post_attention_layernorm"); break;
      case 2: fmt = mat(L.q, qd, h, "q_proj"); break;
      case 3: fmt = mat(L.k, kvd, h, "k_proj"); break;
      case 4: fmt = mat(L.v, kvd, h, "v_proj"); break;
      case 5: fmt = mat(L.o, h, qd, "o_proj"); break;
      case 6: fmt = mat(L.gate, c.inter, h, "gate_proj"); break;
      case 7: fmt = mat(L.up, c.inter, h, "up_proj"); break;
      case 8: fmt = mat(L.down, h, c.inter, "down_proj"); break;
      case 9: fmt = vec(L.bq, qd, "q_proj.bias"); break;
      case 10: fmt = vec(L.bk, kvd, "k_proj.bias"); break;
      case 11: fmt = vec(L.bv, kvd, "v_proj.bias"); break;
    }
  }
  return Napi::String::New(info.Env(), fmt);
}

/**
 * cpuEngineSetTensorFile(id, layer, slot, path, offset, bytes, storedType, storage) -> format: a matrix slot's tensor
 * read from the checkpoint file straight into the engine's storage (no JS buffer, no second copy: the streaming load
 * of bf16 / f16 / f32 / q4_1 / q8_0 safetensors tensors). A short read or an open failure is E_IO.
 */
Napi::Value SetTensorFile(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  const Config& c = e.c;
  const int layer = (int)ArgInt(info, 1, "layer", -1, c.layers - 1, -2);
  const int slot = (int)ArgInt(info, 2, "slot", 0, 11, -1);
  const std::string file = ArgString(info, 3, "path");
  const int64_t offset = ArgInt(info, 4, "offset", 0, (int64_t)1 << 52, -1);
  const int64_t bytes = ArgInt(info, 5, "bytes", 0, (int64_t)1 << 52, -1);
  const int type = ArgWeightType(info, 6, "storedType");
  const std::string storage = ArgString(info, 7, "storage");
  CHECK_ARG(storage == "auto" || storage == "f32", "storage: expected 'auto' or 'f32'");
  CHECK_ARG(offset >= 0 && bytes >= 0, "cpuEngineSetTensorFile: offset and bytes are required");
  CHECK_ARG(type != kWeightI8Channel && type != kWeightI8Group, "int8 codes come from cpuEngineSetTensor");
  const int h = c.hidden, qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  int rows = 0, cols = 0;
  Weight* dst = nullptr;
  if (layer == -1) {
    CHECK_ARG(slot == 0 || slot == 2, "cpuEngineSetTensorFile: slot " + std::to_string(slot) + " is not a matrix (0 embed, 2 lm_head)");
    dst = slot == 0 ? &e.embed : &e.lm_head;
    rows = c.vocab;
    cols = h;
  } else {
    Layer& L = e.layers[layer];
    switch (slot) {
      case 2: dst = &L.q, rows = qd, cols = h; break;
      case 3: dst = &L.k, rows = kvd, cols = h; break;
      case 4: dst = &L.v, rows = kvd, cols = h; break;
      case 5: dst = &L.o, rows = h, cols = qd; break;
      case 6: dst = &L.gate, rows = c.inter, cols = h; break;
      case 7: dst = &L.up, rows = c.inter, cols = h; break;
      case 8: dst = &L.down, rows = h, cols = c.inter; break;
      default: THROW_ERROR("E_ARG", "cpuEngineSetTensorFile: slot " + std::to_string(slot) + " is not a matrix (2..8)");
    }
  }
  FILE* f = std::fopen(file.c_str(), "rb");
  if (!f) THROW_ERROR("E_IO", file + ": cannot open");
  auto fill = [&](uint8_t* p, size_t n) {
    size_t got = 0;
    if (fseeko(f, (off_t)offset, SEEK_SET) == 0)
      while (got < n) {
        size_t k = std::fread(p + got, 1, n - got, f);
        if (k == 0) break;
        got += k;
      }
    if (got != n) THROW_ERROR("E_IO", file + ": short read at offset " + std::to_string(offset + (int64_t)got));
  };
  *dst = Weight();  // free the old one first
  try {
    *dst = MakeWeightStored(rows, cols, nullptr, (size_t)bytes, type, storage == "auto", nullptr, fill);
  } catch (...) {
    std::fclose(f);
    throw;
  }
  std::fclose(f);
  return Napi::String::New(info.Env(), FmtName(dst->fmt));
}

void CheckComplete(const Engine& e) {
  CHECK_ARG(e.embed.fmt != kWeightNone && e.lm_head.fmt != kWeightNone && !e.norm.empty(), "cpu engine: embed, norm or lm_head not set");
  for (int l = 0; l < e.c.layers; l++) {
    const Layer& L = e.layers[l];
    bool set = !L.in_norm.empty() && !L.post_norm.empty();
    for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) set = set && w->fmt != kWeightNone;
    CHECK_ARG(set,
              "cpu engine: layer " + std::to_string(l) + " is not fully set");
  }
}

Napi::Value NewCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  int id = e.next_cache++;
  e.caches[id] = std::make_unique<Cache>();
  return Napi::Number::New(info.Env(), id);
}

Cache& GetCache(Engine& e, int id) {
  auto it = e.caches.find(id);
  CHECK_ARG(it != e.caches.end(), "cpu engine cache " + std::to_string(id) + " does not exist (freed, or from another engine?)");
  return *it->second;
}

Napi::Value FreeCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  return Napi::Boolean::New(info.Env(), e.caches.erase((int)ArgInt(info, 1, "cache", 0, 1 << 30, -1)) > 0);
}

Napi::Value CacheLength(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  return Napi::Number::New(info.Env(), GetCache(e, (int)ArgInt(info, 1, "cache", 0, 1 << 30, -1)).len);
}

Napi::Value DoForward(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  CheckComplete(e);
  const int cache_id = (int)ArgInt(info, 1, "cache", -1, 1 << 30, -1);
  CHECK_ARG(info.Length() > 2 && info[2].IsTypedArray() && info[2].As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
            "tokens: expected an Int32Array");
  Napi::Int32Array tok = info[2].As<Napi::Int32Array>();
  const int T = (int)tok.ElementLength();
  CHECK_ARG(T > 0, "tokens: empty sequence");
  for (int t = 0; t < T; t++)
    CHECK_ARG(tok[t] >= 0 && tok[t] < e.c.vocab, "tokens: token id " + std::to_string(tok[t]) + " outside [0, " + std::to_string(e.c.vocab) + ")");
  const bool last_only = info.Length() > 3 && info[3].ToBoolean().Value();
  const bool reference = info.Length() > 4 && info[4].ToBoolean().Value();
  Cache tmp;
  Cache& cache = cache_id >= 0 ? GetCache(e, cache_id) : tmp;
  CHECK_ARG((int64_t)cache.len + T < (1LL << 30), "KV cache length would exceed 2^30 positions");
  std::vector<int32_t> tokens(tok.Data(), tok.Data() + T);
  const int rows = last_only ? 1 : T;
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), (size_t)rows * e.c.vocab);
  Forward(e, cache, tokens.data(), T, last_only, reference, out.Data());
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  Engine& e = GetEngine((int)ArgInt(info, 0, "id", 0, 1 << 30, -1));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", GlobalPool().size());
  o.Set("soloPeriods", (double)GlobalPool().solo_periods());
  o.Set("isa", HasAvx2() ? "avx2+fma" : "scalar");
  std::map<std::string, int> counts;
  size_t bytes = e.embed.Bytes() + e.lm_head.Bytes() + e.norm.size() * 4;
  counts[FmtName(e.lm_head.fmt)]++;
  for (const Layer& L : e.layers) {
    bytes += (L.in_norm.size() + L.post_norm.size() + L.bq.size() + L.bk.size() + L.bv.size()) * 4;
    for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) {
      bytes += w->Bytes();
      counts[FmtName(w->fmt)]++;
    }
  }
  o.Set("weightBytes", (double)bytes);
  // bytes a batch-1 decode step reads: every linear (incl. lm_head) once, plus one embedding row (ignored)
  size_t decode = e.lm_head.Bytes();
  for (const Layer& L : e.layers)
    for (const Weight* w : {&L.q, &L.k, &L.v, &L.o, &L.gate, &L.up, &L.down}) decode += w->Bytes();
  o.Set("decodeBytesPerToken", (double)decode);
  o.Set("embedFormat", FmtName(e.embed.fmt));
  Napi::Object f = Napi::Object::New(env);
  for (auto& kv : counts)
    if (kv.second > 0) f.Set(kv.first, kv.second);
  o.Set("linearFormats", f);
  return o;
}

Napi::Value Dispose(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lk(g_mu);
  return Napi::Boolean::New(info.Env(), g_engines.erase((int)ArgInt(info, 0, "id", 0, 1 << 30, -1)) > 0);
}

Napi::Value Threads(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), GlobalPool().size()); }

// ---- cpuKernel(op, fast, args): run one op, reference or fast, on caller-given inputs (twin tests)
//   'linear'   {format, x, w (f32: Float32Array; f16/bf16: Uint16Array; q8_0/q4_1: Uint8Array blocks;
//               i8_channel/i8_group: Int8Array (sym) or Uint8Array (asym) codes), scale?, zero?, group?, bias?, T, in, out}
//   'attention' {q (T,H,D), kCache, vCache (Hkv,Smax,D), T, H, Hkv, D, P, Smax}
//   'swiglu'    {gate, up}
//   'rmsnorm'   {x (T,h), w (h), T, h, eps}                      (reference only)
//   'rope'      {x (T,n,D), positions Int32Array (T), invFreq (D/2), T, n, D}   (reference only)
//   'ropeInvFreq' {D, theta, scaling (0 none, 1 linear, 2 llama3), factor, low, high, original}  (reference only)
//   'dequant'   {format, w, rows, cols, scale?, zero?, group?} -> (rows, cols) floats
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
    } else if (ti && (ti->id == kWeightQ8_0 || ti->id == kWeightQ4_1)) {
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
    Napi::Float32Array y = Napi::Float32Array::New(env, (size_t)T * H * D);
    if (fast)
      AttentionFast(y.Data(), q, kc, vc, T, H, Hkv, D, P, Smax);
    else {
      std::vector<float> scratch((size_t)P + T);
      ref::attention(y.Data(), q, kc, vc, T, H, Hkv, D, P, Smax, scratch.data());
    }
    return y;
  }
  if (op == "swiglu") {
    Napi::Value g = a.Get("gate");
    CHECK_ARG(g.IsTypedArray(), "gate: expected a Float32Array");
    const size_t n = g.As<Napi::TypedArray>().ElementLength();
    const float* gp = F32Arg(g, n, "gate");
    const float* up = F32Arg(a.Get("up"), n, "up");
    Napi::Float32Array y = Napi::Float32Array::New(env, n);
    if (fast)
      SwigluFast(y.Data(), gp, up, n);
    else
      ref::swiglu(y.Data(), gp, up, n);
    return y;
  }
  CHECK_ARG(!fast, "op '" + op + "' has only a reference version");
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

void InitCpuEngine(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "cpuEngineCreate", Create);
  EXPORT_FN(env, exports, "cpuEngineSetTensor", SetTensor);
  EXPORT_FN(env, exports, "cpuEngineSetTensorFile", SetTensorFile);
  EXPORT_FN(env, exports, "cpuEngineNewCache", NewCache);
  EXPORT_FN(env, exports, "cpuEngineFreeCache", FreeCache);
  EXPORT_FN(env, exports, "cpuEngineCacheLength", CacheLength);
  EXPORT_FN(env, exports, "cpuEngineForward", DoForward);
  EXPORT_FN(env, exports, "cpuEngineInfo", Info);
  EXPORT_FN(env, exports, "cpuEngineDispose", Dispose);
  EXPORT_FN(env, exports, "cpuKernel", Kernel);
  EXPORT_FN(env, exports, "cpuThreads", Threads);
}
