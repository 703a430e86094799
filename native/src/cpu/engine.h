// cpu/engine.h — the native CPU engine's data and internal API, declared; definitions live in one file per
// responsibility beside this header:
//   cpu/pool.cc       the persistent thread pool and the ISA choice (AVX2+FMA+F16C or plain loops)
//   cpu/linear.cc     weight dequantization to float tiles and the fast / reference linears
//   cpu/attention.cc  fast attention and SwiGLU (twins: engine/ops_ref.h)
//   cpu/weights.cc    choosing a weight's storage (the smallest format that reproduces the float32 values exactly)
//   cpu/forward.cc    KV caches and the forward pass (fast or on the reference ops)
// The N-API binding is native/src/cpu_engine.cc (the only CPU engine file including napi.h); the kernel twin
// test is the executable codecllm_cpu_twins (native/test/cpu_twins.cc). Engine overview, numerics and JS API: cpu_engine.cc.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
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

#include "check.h"
#include "common/weight_types.h"
#include "engine/ops_ref.h"
#include "env.h"

namespace codecllm {
namespace cpu {

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
    static const std::chrono::nanoseconds v{(long long)(1000.0 * EnvDouble("CODECLLM_SPIN_US", 50.0))};
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

/** The process-wide pool (CODECLLM_THREADS workers, else hardware_concurrency). */
Pool& GlobalPool();
/** AVX2 + FMA + F16C kernels usable (and not turned off by CODECLLM_NO_AVX2)? */
bool HasAvx2();

#if defined(CODECLLM_X86)
/** Sum of the 8 lanes of v (linear.cc tiles and GEMV, attention.cc dot products). */
AVX2_FN inline float Hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
#endif

// ================================================================================================================
// weights
// ================================================================================================================

// Storage formats: the one weight-type enum of common/weight_types.h (kWeightF32, F16, BF16, Q8_0, Q4_1, I8Channel,
// I8Group here; kWeightNone: not set).

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
  int group = 0;  // kWeightI8Group, kWeightI4Group, kWeightNF4Group (4-bit: blocks = packed codes, common/quant4.h)
  size_t Bytes() const {
    return f32.size() * 4 + half.size() * 2 + blocks.size() + scale.size() * 4 + zero.size();
  }
};
/** quant4::Kind of a 4-bit weight (i4_group: sym unless it has zero points; nf4_group). */
inline int Q4Kind(const Weight& w) { return w.fmt == kWeightNF4Group ? quant4::kNf4 : w.asym ? quant4::kInt4Asym : quant4::kInt4Sym; }

/** Dequantize rows [r0, r0+n) of w into out (n, cols): scalar reference / fastest available. */
void DequantRowsRef(const Weight& w, int r0, int n, float* out);
void DequantRows(const Weight& w, int r0, int n, float* out);

/** One output of a (possibly fused) linear call. */
struct LinOut {
  const Weight* W;
  const float* b;
  float* y;  // (T, W->rows)
};

/** Several linears over the same input x (T, in), rows split over the pool. */
void LinearFast(const float* x, int T, std::initializer_list<LinOut> outs);
/** Reference linear over any storage format (ops_ref.h). */
void LinearRef(const Weight& W, const float* b, const float* x, int T, float* y);
/** Same contract and shapes as ref::attention_ex (ops_ref.h: scale, sliding window > 0, soft-cap > 0); float
 *  accumulation, tasks over (t, hq). */
void AttentionFast(float* out, const float* q, const float* k_cache, const float* v_cache, int T, int H, int Hkv, int D, int P, int Smax,
                   float scale, int window, float softcap);
/** out = silu(gate) * up in float (expf), rows split over the pool. Twin: ref::swiglu. */
void SwigluFast(float* out, const float* gate, const float* up, size_t n);
/** out = gelu_tanh(gate) * up in float (tanhf), rows split over the pool. Twin: ref::geglu. */
void GegluFast(float* out, const float* gate, const float* up, size_t n);
/** Block formats with fast kernels (DequantRowsAvx2, GemvBlocksAvx2) and storage in the engine. */
inline bool IsEngineBlockFormat(int t) {
  return t == kWeightQ4_1 || t == kWeightQ8_0 || t == kWeightQ5_0 || t == kWeightQ4_K || t == kWeightQ6_K;
}

/** int8 codes for MakeWeight: quantize.ts layout (codes (rows, cols); scale / zero per row or per (row, group)). */
struct Int8Codes {
  const float* scale = nullptr;
  size_t n_scale = 0;
  const uint8_t* zero = nullptr;  // asym
  size_t n_zero = 0;
  int group = 0;  // i8_group
};

/** Set w (rows, cols already set) to a 4-bit lab layout (common/quant4.h), checking sizes (i8.group = group size). */
void FillQ4(Weight& w, int t, const uint8_t* raw, size_t raw_bytes, const Int8Codes& i8);
/** Does `w` (rows, cols) dequantize to exactly the float32 values `f` (bitwise)? */
bool SameBits(const Weight& w, const float* f);
/** Set w (rows, cols already set) to int8 codes (quantize.ts layout) + scales (+ zero points), checking sizes. */
void FillInt8(Weight& w, const uint8_t* raw, size_t raw_bytes, bool grp, const Int8Codes& i8);
/**
 * A weight straight from a checkpoint's stored bytes, no float32 copy of the tensor (the streaming load,
 * src/engine/cpu-checkpoint.ts): bf16 / f16 / f32 / q4_1 / q8_0 kept as stored (widened with auto_fmt false), int8
 * codes kept as given. `fill`, when given, reads the bytes into the weight's own storage (from the file).
 */
Weight MakeWeightStored(int rows, int cols, const uint8_t* raw, size_t raw_bytes, int t, bool auto_fmt, const Int8Codes* i8,
                        const std::function<void(uint8_t*, size_t)>& fill = nullptr);
/** Choose the storage of a (rows, cols) weight. raw: the checkpoint's GGML blocks of the same tensor (or null). */
Weight MakeWeight(const float* f, int rows, int cols, const uint8_t* raw, size_t raw_bytes, int raw_type, bool auto_fmt,
                  const Int8Codes* i8 = nullptr);

// ================================================================================================================
// the engine
// ================================================================================================================

/** MLP activation on the gate (config.ts ArchFeatures.hiddenAct). */
enum Act : int { kActSilu = 0, kActGeluTanh = 1 };

/**
 * Dimensions plus the architecture features of config.ts ArchFeatures (defaults = plain Llama): one definition, set
 * from the TS config by cpuEngineCreate; nothing here is model-specific.
 */
struct Config {
  int hidden = 0, inter = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  float eps = 1e-6f;
  int act = kActSilu;
  bool sandwich = false;      // Gemma: post-attention output norm, pre- and post-FFN norms
  bool qk_norm = false;       // RMSNorm over head_dim on q and k before rope
  float embed_scale = 1.0f;   // multiplier on the embedding rows
  float attn_scale = 0.0f;    // multiplier on q·k (0: float(1/sqrt(head_dim)))
  int window = 0;             // sliding window of the local layers (0: none)
  std::vector<uint8_t> sliding;  // per layer: 1 = local (sliding-window) layer; empty: all global
  float attn_softcap = 0.0f, final_softcap = 0.0f;  // tanh soft-capping (0: none)
  bool IsLocal(int l) const { return !sliding.empty() && sliding[(size_t)l] != 0; }
};

struct Layer {
  std::vector<float> in_norm, post_norm, bq, bk, bv;
  std::vector<float> pre_ffn_norm, post_ffn_norm, q_norm, k_norm;  // sandwich / q-k norm features only
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
  std::vector<float> inv_freq_local;  // local layers' rope (own base); empty: same as inv_freq
  Weight embed, lm_head;
  std::vector<float> norm;
  std::vector<Layer> layers;
  std::map<int, std::unique_ptr<Cache>> caches;
  int next_cache = 1;
};

/** Grow cache c to hold `need` positions (keeps its contents). */
void GrowCache(const Engine& e, Cache& c, int need);
/** Forward T tokens (positions cache.len ..), appending to the cache. logits (T or 1, V). */
void Forward(Engine& e, Cache& cache, const int32_t* tokens, int T, bool last_only, bool reference, float* logits);

}  // namespace cpu
}  // namespace codecllm
