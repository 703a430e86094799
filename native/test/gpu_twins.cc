// gpu_twins.cc — the CUDA kernels' twin test (executable codecllm_gpu_twins, built with CUDA only; not part of the
// addon): each kernel of native/src/cuda/ beside its reference twin (native/src/engine/ops_ref.h) on seeded random
// inputs, compared element-wise |got - want| <= atol + rtol·|want| (per kernel and dtype; conversions, argmax and
// int8 quantization exact). Prints one row per case and the first mismatches of a failing case; exits 1 when any
// case fails, 2 on a usage error or a CUDA failure.
//
//   codecllm_gpu_twins                       every case of kCases below (run by scripts/gpu/check-engine.ts --part kernels)
//   codecllm_gpu_twins gemv K=576 N=1536 i8=1 prologue=1 seed=3     one case, parameters as key=value
//
// Output, one tab-separated row per case (scripts/gpu/check-engine.ts parses it):
//   CASE <PASS|FAIL> <name> <k=v,...> n=<n> maxAbs=<x> ratio=<max err/tol> fails=<n> atol=<a> rtol=<r>
//        [<key>=<number> ...]        (further numbers of a case: lossless_gemv's decode mismatches, sizes, timing)
//   FIRST <name> <mismatch>            (up to 5 per failing case)
// then a summary line "<passed>/<total> kernel twins passed on <device>".
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <xxhash.h>

#include "common/lossless.h"
#include "cuda/gemm_blas.cuh"
#include "cuda/gemv_lossless.cuh"
#include "engine/prefill_gemm_ref.h"
#include "gpu/engine.h"
#include "gpu/prefill_gemm.h"

namespace codecllm {
namespace engine {

// ------------------------------------------------------------------------------------------------------------
// kernel tests: each CUDA kernel beside its ops_ref.h twin on seeded random inputs
// ------------------------------------------------------------------------------------------------------------
struct Cmp {
  std::string name;
  double atol = 0, rtol = 0;
  size_t n = 0, fails = 0;
  double maxAbs = 0, maxRatio = 0;
  std::vector<std::string> first;
  /** further numbers of the case, printed after rtol as key=value (lossless_gemv: decode mismatches, sizes, timing) */
  std::vector<std::pair<std::string, double>> extra;
  void Check(const float* got, const float* want, size_t count, const char* what = "") {
    for (size_t i = 0; i < count; i++) {
      double g = got[i], w = want[i];
      double d = std::fabs(g - w);
      double tol = atol + rtol * std::fabs(w);
      bool bad = !(d <= tol);  // NaN fails
      maxAbs = std::max(maxAbs, std::isnan(d) ? INFINITY : d);
      maxRatio = std::max(maxRatio, std::isnan(d) ? INFINITY : d / tol);
      if (bad) {
        if (first.size() < 5)
          first.push_back(std::string(what) + "[" + std::to_string(i) + "] got " + std::to_string(g) + " want " + std::to_string(w));
        fails++;
      }
    }
    n += count;
  }
};

struct DevMem {
  std::vector<void*> ptrs;
  template <class T>
  T* up(const std::vector<T>& h) {
    void* p;
    CHECK_CUDA(cudaMalloc(&p, std::max<size_t>(h.size() * sizeof(T), 16)));
    ptrs.push_back(p);
    if (!h.empty()) CHECK_CUDA(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    // a pageable cudaMemcpy may return before its DMA lands, and the kernels run on a non-blocking stream
    CHECK_CUDA(cudaDeviceSynchronize());
    return static_cast<T*>(p);
  }
  template <class T>
  T* zeros(size_t n) {
    return up(std::vector<T>(n));
  }
  template <class T>
  std::vector<T> down(const T* d, size_t n) {
    std::vector<T> h(n);
    CHECK_CUDA(cudaDeviceSynchronize());
    CHECK_CUDA(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  ~DevMem() {
    for (void* p : ptrs) cudaFree(p);
  }
};

std::vector<float> Randn(std::mt19937& rng, size_t n, float std = 1.f, float mean = 0.f) {
  std::normal_distribution<float> d(mean, std);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
std::vector<uint16_t> ToF16(const std::vector<float>& v) {
  std::vector<uint16_t> o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i] = ref::f32_to_f16(v[i]);
  return o;
}
std::vector<float> FromF16(const std::vector<uint16_t>& v) {
  std::vector<float> o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i] = ref::f16_to_f32(v[i]);
  return o;
}

using Params = std::map<std::string, double>;
int P(const Params& p, const char* k, int dflt) {
  auto it = p.find(k);
  return it == p.end() ? dflt : (int)it->second;
}
/** A float parameter (attention scale, soft-cap). */
float PF(const Params& p, const char* k, float dflt) {
  auto it = p.find(k);
  return it == p.end() ? dflt : (float)it->second;
}

// Raw GGML blocks for the gemv_blocks.cu twins (q5_0, q4_k, q6_k): every code / scale byte uniform random (all byte
// patterns are valid blocks), the fp16 super-scales d (and dmin) random in a sane range so that |w| ~ 1/sqrt(K):
// q5_0 |q - 16| ~ 8; q4_k sc, mn ~ 32 (6-bit), q ~ 7.5; q6_k |sc| ~ 64 (int8), |q - 32| ~ 16.
struct RawBlockCase {
  int wt;
  size_t dOff, dminOff;  // byte offsets of the fp16 d and dmin (dminOff = SIZE_MAX: none)
  float dScale;          // d ~ dScale / sqrt(K) * U(0.5, 1.5)
  void (*ref)(float*, const float*, const uint8_t*, const float*, int, int, int);
};
const RawBlockCase* RawCase(int wt) {
  static const RawBlockCase cases[] = {
      {kWeightQ5_0, offsetof(blocks::BlockQ5_0, d), SIZE_MAX, 1.f / 9.f, ref::linear_q5_0},
      {kWeightQ4_K, offsetof(blocks::BlockQ4_K, d), offsetof(blocks::BlockQ4_K, dmin), 1.f / (32.f * 7.5f), ref::linear_q4_k},
      {kWeightQ6_K, offsetof(blocks::BlockQ6_K, d), SIZE_MAX, 1.f / (64.f * 16.f), ref::linear_q6_k},
  };
  for (const auto& c : cases)
    if (c.wt == wt) return &c;
  return nullptr;
}
std::vector<uint8_t> RandomRawBlocks(const RawBlockCase& c, int N, int K, std::mt19937& rng) {
  const size_t bb = BlockBytes(c.wt), nblk = (size_t)N * (K / WeightTypeById(c.wt)->block_elems);
  std::vector<uint8_t> raw(nblk * bb);
  for (auto& v : raw) v = (uint8_t)(rng() & 0xff);
  auto put = [&](uint8_t* blk, size_t off) {
    const float dv = c.dScale / std::sqrt((float)K) * (0.5f + (float)(rng() % 1000) / 1000.f);
    const uint16_t h = ref::f32_to_f16(dv);
    blk[off] = h & 0xff, blk[off + 1] = h >> 8;
  };
  for (size_t b = 0; b < nblk; b++) {
    put(raw.data() + b * bb, c.dOff);
    if (c.dminOff != SIZE_MAX) put(raw.data() + b * bb, c.dminOff);
  }
  return raw;
}

// 4-bit lab layouts (common/quant4.h) for the gemv_blocks.cu twins: codes uniform 0..15, zero points uniform 0..15
// (int4 asym), fp32 group scales random positive with |w| ~ 1/sqrt(K) (int4: |value| ~ 4; nf4: |value| ~ 0.4).
struct Q4Weights {
  std::vector<uint8_t> codes, zeros;
  std::vector<float> scales;
};
Q4Weights RandomQ4(int kind, int N, int K, int G, std::mt19937& rng) {
  Q4Weights q;
  q.codes.resize(quant4::code_bytes(N, K));
  for (auto& v : q.codes) v = (uint8_t)(rng() & 0xff);
  const size_t ng = quant4::groups(N, K, G);
  q.scales.resize(ng);
  const float base = (kind == quant4::kNf4 ? 2.5f : 0.25f) / std::sqrt((float)K);
  for (auto& v : q.scales) v = base * (0.5f + (float)(rng() % 1000) / 1000.f);
  if (kind == quant4::kInt4Asym) {
    q.zeros.resize(ng);
    for (auto& v : q.zeros) v = (uint8_t)(rng() % 16);
  }
  return q;
}

/** splitmix64 with Box-Muller normals: the lossless_gemv case's weights (the generator the addon's losslessGemvTest
 *  used, so its streams and ratios are the same as before the move). */
struct SplitMix {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double Uniform() { return ((Next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
  double Normal() { return std::sqrt(-2.0 * std::log(Uniform())) * std::cos(6.283185307179586 * Uniform()); }
};

uint64_t Xxh64(const uint8_t* p, size_t n) {
  static const uint8_t kNone = 0;
  return XXH64(n ? p : &kNone, n, 0);
}

/**
 * lossless_gemv rows= cols= rowsPerSeg= f16=0|1 scale= iterations= seed=  (native/src/cuda/gemv_lossless.cu, layout
 * common/lossless.h): seeded weights N(0, scale) cast to bf16 (f16=1: fp16) -> lossless::Encode ->
 * (1) the device decoder (LosslessDecodeLaunch) == the source words bit for bit;
 * (2) the in-register GEMV (LosslessGemvLaunch) vs its twin (reference lossless::Decode + double linear),
 *     |Δ| ≤ atol·Σ|w·x| + rtol·|ref| per row (atol 1e-5, rtol 1e-4); ratio = max |Δ|/tol;
 * (3) iterations > 0: ms per call of the lossless GEMV and of the plain 16-bit GEMV (PlainGemvLaunch) of the same
 *     loop, and effective GB/s (compressed bytes in, 16-bit bytes out, plain 16-bit bytes).
 * fails counts decode mismatches + rows over tolerance; extra: decodeMismatches streamBytes compress (stream/16-bit
 * bytes) [msLossless msPlain gbpsLosslessIn gbpsLosslessOut gbpsPlain].
 */
Cmp LosslessGemvCase(const Params& p, cudaStream_t s) {
  namespace ll = codecllm::lossless;
  const int rowsI = P(p, "rows", 256), colsI = P(p, "cols", 1024), rpsI = P(p, "rowsPerSeg", (int)ll::kDefaultRowsPerSeg);
  const int iters = P(p, "iterations", 0), f16 = P(p, "f16", 0);
  const double scale = PF(p, "scale", 0.02f);
  if (!(rowsI > 0 && rowsI <= (1 << 20) && colsI > 0 && colsI <= (1 << 20) && colsI % (int)ll::kGroup == 0))
    THROW_ERROR("E_ARG", "lossless_gemv: rows/cols out of range (cols a multiple of " + std::to_string(ll::kGroup) + ")");
  if (!(rpsI >= 1 && rpsI <= (int)ll::kMaxRowsPerSeg && iters >= 0 && iters <= 100000 && (f16 == 0 || f16 == 1)))
    THROW_ERROR("E_ARG", "lossless_gemv: rowsPerSeg/iterations/f16 out of range");
  const uint32_t rows = (uint32_t)rowsI, cols = (uint32_t)colsI, rps = (uint32_t)rpsI;
  const int dtype = f16 ? ll::kDtypeF16 : ll::kDtypeBF16;
  SplitMix rng{(uint64_t)P(p, "seed", 1)};
  const size_t n = (size_t)rows * cols;
  std::vector<uint16_t> w(n);
  for (size_t i = 0; i < n; ++i) {
    float v = (float)(rng.Normal() * scale);
    w[i] = f16 ? ref::f32_to_f16(v) : ref::f32_to_bf16(v);
  }
  std::vector<float> x(cols);
  for (auto& v : x) v = (float)(rng.Uniform() * 2 - 1);
  std::vector<uint8_t> stream = ll::Encode(dtype, rows, cols, w.data(), rps, Xxh64);
  ll::View v;
  std::string why;
  if (!ll::Parse(stream.data(), stream.size(), &v, &why)) THROW_ERROR("E_CODEC", "lossless_gemv: " + why);
  // the twin: reference decode + double linear
  std::vector<uint16_t> wr(n);
  if (!ll::Decode(v, wr.data(), &why)) THROW_ERROR("E_CODEC", "lossless_gemv: " + why);
  if (std::memcmp(wr.data(), w.data(), n * 2) != 0) THROW_ERROR("E_CODEC", "lossless_gemv: reference decode is not bit-exact");
  std::vector<double> want(rows), absSum(rows);
  for (uint32_t r = 0; r < rows; ++r) {
    double a = 0, b = 0;
    for (uint32_t c = 0; c < cols; ++c) {
      uint16_t h = wr[(size_t)r * cols + c];
      double wf = f16 ? ref::f16_to_f32(h) : ref::bf16_to_f32(h);
      a += wf * x[c];
      b += std::fabs(wf * x[c]);
    }
    want[r] = a, absSum[r] = b;
  }
  std::vector<uint16_t> lut(ll::kLutSize);
  if (!ll::BuildLut(v.lengths, lut.data())) THROW_ERROR("E_CODEC", "lossless_gemv: corrupt code table");
  int dev = 0, sms = 1;
  CHECK_CUDA(cudaGetDevice(&dev));
  CHECK_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  DevMem dm;
  std::vector<uint32_t> code(v.codeWords);
  std::memcpy(code.data(), v.code, v.codeWords * 4);
  const uint32_t* dCode = dm.up(code);
  const uint8_t* dRaw = dm.up(std::vector<uint8_t>(v.raw, v.raw + n));
  std::vector<unsigned long long> seg((size_t)v.segments * 2);
  std::memcpy(seg.data(), v.segTable, (size_t)v.segments * ll::kSegEntryBytes);
  const unsigned long long* dSeg = dm.up(seg);
  const uint16_t* dLut = dm.up(lut);
  const uint16_t* dPlain = dm.up(w);
  uint16_t* dW = dm.up(std::vector<uint16_t>(n, 0xffff));
  const float* dX = dm.up(x);
  float* dY = dm.zeros<float>(rows);
  ll::DeviceStream ds{dtype, rows, cols, rps, v.segments, dCode, dRaw, dSeg, dLut};
  Cmp cmp;
  cmp.name = "lossless_gemv";
  cmp.atol = 1e-5, cmp.rtol = 1e-4;
  // (1) device decode, bit-exact
  ll::LosslessDecodeLaunch(ds, dW, sms, s);
  CHECK_CUDA(cudaGetLastError());
  auto wd = dm.down(dW, n);
  double decodeMismatches = 0;
  for (size_t i = 0; i < n; ++i)
    if (wd[i] != w[i]) {
      if (cmp.first.size() < 5) {
        char b[96];
        std::snprintf(b, sizeof b, "decode word %zu: got 0x%04x want 0x%04x", i, wd[i], w[i]);
        cmp.first.push_back(b);
      }
      ++decodeMismatches;
    }
  // (2) GEMV vs twin
  ll::LosslessGemvLaunch(ds, dX, dY, sms, s);
  CHECK_CUDA(cudaGetLastError());
  auto y = dm.down(dY, rows);
  size_t rowFails = 0;
  for (uint32_t r = 0; r < rows; ++r) {
    double d = std::fabs((double)y[r] - want[r]);
    double tol = cmp.atol * absSum[r] + cmp.rtol * std::fabs(want[r]) + 1e-30;
    bool finite = std::isfinite(y[r]);
    cmp.maxAbs = std::max(cmp.maxAbs, finite ? d : INFINITY);
    cmp.maxRatio = std::max(cmp.maxRatio, finite ? d / tol : INFINITY);
    if (d > tol || !finite) {
      if (cmp.first.size() < 5) {
        char b[128];
        std::snprintf(b, sizeof b, "row %u: got %.9g want %.17g", r, (double)y[r], want[r]);
        cmp.first.push_back(b);
      }
      ++rowFails;
    }
  }
  cmp.n = rows;
  cmp.fails = (size_t)decodeMismatches + rowFails;
  cmp.extra = {{"decodeMismatches", decodeMismatches}, {"streamBytes", (double)stream.size()},
               {"compress", (double)stream.size() / (double)(n * 2)}};
  // (3) timing, both loops on the same stream
  if (iters > 0) {
    cudaEvent_t e0, e1;
    CHECK_CUDA(cudaEventCreate(&e0));
    CHECK_CUDA(cudaEventCreate(&e1));
    auto time = [&](auto&& launch) {
      for (int i = 0; i < 3; ++i) launch();
      CHECK_CUDA(cudaEventRecord(e0, s));
      for (int i = 0; i < iters; ++i) launch();
      CHECK_CUDA(cudaEventRecord(e1, s));
      CHECK_CUDA(cudaEventSynchronize(e1));
      CHECK_CUDA(cudaGetLastError());
      float ms = 0;
      CHECK_CUDA(cudaEventElapsedTime(&ms, e0, e1));
      return (double)ms / iters;
    };
    const double msL = time([&] { ll::LosslessGemvLaunch(ds, dX, dY, sms, s); });
    const double msP = time([&] { ll::PlainGemvLaunch(dtype, dPlain, rows, cols, rps, dX, dY, sms, s); });
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    cmp.extra.push_back({"msLossless", msL});
    cmp.extra.push_back({"msPlain", msP});
    // effective bandwidth: compressed bytes read (lossless) / 16-bit bytes read (plain), GB/s
    cmp.extra.push_back({"gbpsLosslessIn", (double)stream.size() / msL / 1e6});
    cmp.extra.push_back({"gbpsLosslessOut", (double)(n * 2) / msL / 1e6});
    cmp.extra.push_back({"gbpsPlain", (double)(n * 2) / msP / 1e6});
  }
  CHECK_CUDA(cudaDeviceSynchronize());
  return cmp;
}

/** One kernel beside its twin on seeded inputs; the comparison of every output element. */
Cmp RunCase(const std::string& name, const Params& p, cudaStream_t s) {
  if (name == "lossless_gemv") return LosslessGemvCase(p, s);
  std::mt19937 rng((uint32_t)P(p, "seed", 1));
  DevMem dm;
  Cmp cmp;
  cmp.name = name;
  if (name == "embedding" && P(p, "q8", 0)) {
    // q8_0 table: x = code * d, exact
    int V = P(p, "V", 1000), h = P(p, "h", 576), T = P(p, "T", 7);
    const size_t nblk = (size_t)V * (h / 32);
    constexpr size_t bb = sizeof(blocks::BlockQ8_0);
    std::vector<uint8_t> raw(nblk * bb);
    for (size_t b = 0; b < nblk; b++) {
      const uint16_t d16 = ToF16(std::vector<float>{0.01f * (1 + (float)(rng() % 100))})[0];
      raw[b * bb] = d16 & 0xff, raw[b * bb + 1] = d16 >> 8;
      for (int j = 0; j < 32; j++) raw[b * bb + 2 + j] = (uint8_t)(int8_t)((int)(rng() % 255) - 127);
    }
    std::vector<float> table((size_t)V * h);
    for (size_t b = 0; b < nblk; b++) ref::dequant_q8_0_block(table.data() + b * 32, raw.data() + b * bb);
    std::vector<uint8_t> codes;
    std::vector<uint16_t> aux;
    Engine::SplitBlocks(kWeightQ8_0, raw.data(), nblk, &codes, &aux);
    std::vector<int32_t> toks(T);
    for (auto& t : toks) t = (int)(rng() % V);
    float* x = dm.zeros<float>((size_t)T * h);
    const float esc = P(p, "escale", 0) ? std::sqrt((float)h) : 1.f;  // escale=1: Gemma's √hidden
    LaunchEmbeddingQ8(x, reinterpret_cast<const int8_t*>(dm.up(codes)), dm.up(aux), dm.up(toks), T, h, s, esc);
    std::vector<float> want((size_t)T * h);
    ref::embedding(want.data(), table.data(), toks.data(), T, h);
    for (auto& v : want) v *= esc;
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(dm.down(x, want.size()).data(), want.data(), want.size());
  } else if (name == "embedding") {
    int V = P(p, "V", 1000), h = P(p, "h", 576), T = P(p, "T", 7);
    auto table = Randn(rng, (size_t)V * h);
    auto t16 = ToF16(table);
    auto tf = FromF16(t16);
    std::vector<int32_t> toks(T);
    for (auto& t : toks) t = (int)(rng() % V);
    float* x = dm.zeros<float>((size_t)T * h);
    const float esc = P(p, "escale", 0) ? std::sqrt((float)h) : 1.f;  // escale=1: Gemma's √hidden
    LaunchEmbedding(x, dm.up(t16), dm.up(toks), T, h, s, esc);
    std::vector<float> want((size_t)T * h);
    ref::embedding(want.data(), tf.data(), toks.data(), T, h);
    for (auto& v : want) v *= esc;
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(dm.down(x, want.size()).data(), want.data(), want.size());
  } else if (name == "rmsnorm" && P(p, "inplace", 0)) {
    // q/k RMSNorm: (T*H) rows of head_dim, normalized in place (out = x), as the engine runs it
    int T = P(p, "T", 5), h = P(p, "h", 256);
    auto x = Randn(rng, (size_t)T * h, 2.f), w = Randn(rng, h, 0.1f, 1.f);
    float* dx = dm.up(x);
    LaunchRmsNorm(dx, nullptr, dx, dm.up(w), T, h, 1e-6f, s);
    std::vector<float> want(x.size());
    ref::rmsnorm(want.data(), x.data(), w.data(), T, h, 1e-6f);
    cmp.atol = 1e-5, cmp.rtol = 1e-5;
    cmp.Check(dm.down(dx, want.size()).data(), want.data(), want.size(), "x");
  } else if (name == "rmsnorm_add") {
    // sandwich norm: x += rmsnorm(y) * w
    int T = P(p, "T", 5), h = P(p, "h", 640);
    auto x = Randn(rng, (size_t)T * h, 4.f), y = Randn(rng, (size_t)T * h, 2.f), w = Randn(rng, h, 0.5f, 1.f);
    float* dx = dm.up(x);
    LaunchRmsNormAdd(dx, dm.up(y), dm.up(w), T, h, 1e-6f, s);
    std::vector<float> want = x, ny(y.size());
    ref::rmsnorm(ny.data(), y.data(), w.data(), T, h, 1e-6f);
    ref::add_inplace(want.data(), ny.data(), want.size());
    cmp.atol = 2e-5, cmp.rtol = 1e-5;
    cmp.Check(dm.down(dx, want.size()).data(), want.data(), want.size(), "x");
  } else if (name == "geglu") {
    size_t n = (size_t)P(p, "n", 5000);
    auto g = Randn(rng, n, 3.f), u = Randn(rng, n);
    float* out = dm.zeros<float>(n);
    uint16_t* out16 = dm.zeros<uint16_t>(n);
    LaunchGeGLU(out, out16, dm.up(g), dm.up(u), n, s);
    std::vector<float> want(n);
    ref::geglu(want.data(), g.data(), u.data(), n);
    cmp.atol = 1e-6, cmp.rtol = 1e-5;  // tanhf vs tanh in double
    cmp.Check(dm.down(out, n).data(), want.data(), n, "out");
    auto h16 = FromF16(dm.down(out16, n));
    Cmp c16;  // fp16 copy: one half rounding
    c16.atol = 1e-6, c16.rtol = 1.5e-3;
    c16.Check(h16.data(), want.data(), n, "out16");
    cmp.fails += c16.fails;
    cmp.n += c16.n;
    for (auto& f : c16.first) if (cmp.first.size() < 5) cmp.first.push_back(f);
  } else if (name == "softcap") {
    size_t n = (size_t)P(p, "n", 5000);
    const float cap = PF(p, "cap", 30.f);
    auto x = Randn(rng, n, 2.f * cap);
    float* dx = dm.up(x);
    LaunchSoftcap(dx, n, cap, s);
    std::vector<float> want = x;
    ref::softcap(want.data(), n, cap);
    cmp.atol = 1e-5, cmp.rtol = 1e-6;  // tanhf vs tanh in double, times cap
    cmp.Check(dm.down(dx, n).data(), want.data(), n);
  } else if (name == "rmsnorm") {
    int T = P(p, "T", 5), h = P(p, "h", 576);
    auto x = Randn(rng, (size_t)T * h, 2.f), w = Randn(rng, h, 0.1f, 1.f);
    float* out = dm.zeros<float>(x.size());
    uint16_t* out16 = dm.zeros<uint16_t>(x.size());
    LaunchRmsNorm(out, out16, dm.up(x), dm.up(w), T, h, 1e-5f, s);
    std::vector<float> want(x.size());
    ref::rmsnorm(want.data(), x.data(), w.data(), T, h, 1e-5f);
    cmp.atol = 1e-5, cmp.rtol = 1e-5;
    cmp.Check(dm.down(out, want.size()).data(), want.data(), want.size(), "out");
    auto h16 = FromF16(dm.down(out16, want.size()));
    Cmp c16;  // fp16 copy: one half rounding
    c16.atol = 1e-5, c16.rtol = 1.5e-3;
    c16.Check(h16.data(), want.data(), want.size(), "out16");
    cmp.fails += c16.fails;
    for (auto& f : c16.first) if (cmp.first.size() < 5) cmp.first.push_back(f);
  } else if (name == "swiglu") {
    size_t n = (size_t)P(p, "n", 5000);
    auto g = Randn(rng, n, 3.f), u = Randn(rng, n);
    float* out = dm.zeros<float>(n);
    LaunchSwiGLU(out, nullptr, dm.up(g), dm.up(u), n, s);
    std::vector<float> want(n);
    ref::swiglu(want.data(), g.data(), u.data(), n);
    cmp.atol = 1e-6, cmp.rtol = 1e-5;  // expf vs exp in double
    cmp.Check(dm.down(out, n).data(), want.data(), n);
  } else if (name == "rope_append" || name == "attention" || name == "rope_attention") {
    int T = P(p, "T", 3), H = P(p, "H", 9), Hkv = P(p, "Hkv", 3), D = P(p, "D", 64), Pp = P(p, "P", 5), Smax = P(p, "Smax", 64);
    bool kv16 = P(p, "kv16", 1) != 0;
    // architecture features (ref::attention_ex): window > 0 (local layers), softcap > 0, qscale > 0 (else 1/sqrt(D))
    AttnOpts ao{PF(p, "qscale", 0.f), P(p, "window", 0), PF(p, "softcap", 0.f)};
    const float refScale = ao.scale > 0 ? ao.scale : (float)(1.0 / std::sqrt((double)D));
    auto refAttention = [&](float* out, const float* q, const float* kc, const float* vc, int TT, int PP, float* scratch) {
      ref::attention_ex(out, q, kc, vc, TT, H, Hkv, D, PP, Smax, refScale, ao.window, ao.softcap, scratch);
    };
    std::vector<float> inv(D / 2);
    ref::rope_inv_freq(inv.data(), D, 10000.0, ref::kRopeNone, 1, 1, 1, 1);
    std::vector<float> cs((size_t)Smax * D / 2), sn((size_t)Smax * D / 2), c1(D), s1(D);
    for (int pos = 0; pos < Smax; pos++) {
      ref::rope_cos_sin(c1.data(), s1.data(), pos, inv.data(), D);
      for (int i = 0; i < D / 2; i++) cs[(size_t)pos * D / 2 + i] = c1[i], sn[(size_t)pos * D / 2 + i] = s1[i];
    }
    // rows=1: batched decode — row t is its own sequence at position P + 3 t (< Smax), in KV slot t
    bool rowsMode = P(p, "rows", 0) != 0;
    const size_t slot = (size_t)Hkv * Smax * D;
    const int slots = rowsMode ? T : 1;
    auto q = Randn(rng, (size_t)T * H * D), k = Randn(rng, (size_t)T * Hkv * D), v = Randn(rng, (size_t)T * Hkv * D);
    // a cache that already holds P positions (fp16-representable values when kv16, so both sides see the same)
    auto kc = Randn(rng, slots * slot), vc = Randn(rng, slots * slot);
    if (kv16) {
      kc = FromF16(ToF16(kc));
      vc = FromF16(ToF16(vc));
    }
    const std::vector<float> qIn = q, kIn = k, kc0 = kc, vc0 = vc;  // unrotated inputs and the starting cache
    float *dq = dm.up(q), *dk = dm.up(k), *dv = dm.up(v);
    void *dkc, *dvc;
    if (kv16) {
      dkc = dm.up(ToF16(kc));
      dvc = dm.up(ToF16(vc));
    } else {
      dkc = dm.up(kc);
      dvc = dm.up(vc);
    }
    float *dcs = dm.up(cs), *dsn = dm.up(sn);
    std::vector<int32_t> pos(T);
    for (int t = 0; t < T; t++) pos[t] = rowsMode ? (Pp + 3 * t) % Smax : Pp + t;
    ref::rope_rotate_half(q.data(), pos.data(), inv.data(), T, H, D);
    ref::rope_rotate_half(k.data(), pos.data(), inv.data(), T, Hkv, D);
    std::vector<float> kref = k, vref = v;
    if (kv16) {
      kref = FromF16(ToF16(k));
      vref = FromF16(ToF16(v));
    }
    if (rowsMode)
      for (int t = 0; t < T; t++)
        ref::kv_append(kc.data() + t * slot, vc.data() + t * slot, kref.data() + (size_t)t * Hkv * D, vref.data() + (size_t)t * Hkv * D, 1,
                       Hkv, D, pos[t], Smax);
    else
      ref::kv_append(kc.data(), vc.data(), kref.data(), vref.data(), T, Hkv, D, Pp, Smax);
    int32_t* dP = dm.up(std::vector<int32_t>{Pp});
    int32_t* dRows = dm.up(pos);
    bool devP = P(p, "devP", 0) != 0;
    const int32_t* rowsArg = rowsMode ? dRows : nullptr;
    LaunchRopeAppend(dq, dk, dv, dkc, dvc, kv16, dcs, dsn, T, H, Hkv, D, Pp, devP ? dP : nullptr, Smax, s, rowsArg, slot);
    if (name == "rope_attention") {
      // the fused decode kernel vs (a) the reference and (b) the two-kernel device path, which must agree exactly
      CHECK_ARG(rowsMode, "rope_attention: rows=1 (decode) only");
      float* out = dm.zeros<float>((size_t)T * H * D);
      float* out2 = dm.zeros<float>((size_t)T * H * D);
      void *dkc2, *dvc2;  // the fused kernel's own copy of the starting cache
      // the two-kernel path: LaunchRopeAppend (above) on dq/dkc/dvc, then LaunchAttention below; the fused kernel
      // starts from fresh copies of the unrotated inputs and the starting cache
      float *fq = dm.up(qIn), *fk = dm.up(kIn), *fv = dm.up(v);
      if (kv16) {
        dkc2 = dm.up(ToF16(kc0));
        dvc2 = dm.up(ToF16(vc0));
      } else {
        dkc2 = dm.up(kc0);
        dvc2 = dm.up(vc0);
      }
      LaunchRopeAttention(out2, fq, fk, fv, dkc2, dvc2, kv16, dcs, dsn, T, H, Hkv, D, dRows, slot, Smax, s, ao);
      LaunchAttention(out, nullptr, dq, dkc, dvc, kv16, T, H, Hkv, D, Pp, nullptr, Smax, s, rowsArg, slot, ao);
      std::vector<float> want((size_t)T * H * D), scratch(Smax);
      for (int t = 0; t < T; t++)
        refAttention(want.data() + (size_t)t * H * D, q.data() + (size_t)t * H * D, kc.data() + t * slot, vc.data() + t * slot, 1, pos[t],
                     scratch.data());
      cmp.atol = 1e-4, cmp.rtol = 1e-3;
      auto g2 = dm.down(out2, want.size());
      cmp.Check(g2.data(), want.data(), want.size(), "out vs ref");
      Cmp ex;  // fused == two kernels, bit for bit
      ex.atol = 0, ex.rtol = 0;
      ex.Check(g2.data(), dm.down(out, want.size()).data(), want.size(), "out fused vs 2-kernel");
      auto cacheOf = [&](void* d, size_t n) {
        return kv16 ? FromF16(dm.down(static_cast<uint16_t*>(d), n)) : dm.down(static_cast<float*>(d), n);
      };
      ex.Check(cacheOf(dkc2, kc.size()).data(), cacheOf(dkc, kc.size()).data(), kc.size(), "k_cache fused vs 2-kernel");
      ex.Check(cacheOf(dvc2, vc.size()).data(), cacheOf(dvc, vc.size()).data(), vc.size(), "v_cache fused vs 2-kernel");
      cmp.fails += ex.fails;
      cmp.n += ex.n;
      for (auto& f : ex.first) if (cmp.first.size() < 5) cmp.first.push_back(f);
    } else if (name == "rope_append") {
      cmp.atol = 1e-6, cmp.rtol = 0;
      cmp.Check(dm.down(dq, q.size()).data(), q.data(), q.size(), "q");
      std::vector<float> gk = kv16 ? FromF16(dm.down(static_cast<uint16_t*>(dkc), kc.size())) : dm.down(static_cast<float*>(dkc), kc.size());
      std::vector<float> gv = kv16 ? FromF16(dm.down(static_cast<uint16_t*>(dvc), vc.size())) : dm.down(static_cast<float*>(dvc), vc.size());
      cmp.Check(gk.data(), kc.data(), kc.size(), "k_cache");
      cmp.Check(gv.data(), vc.data(), vc.size(), "v_cache");
    } else {
      float* out = dm.zeros<float>((size_t)T * H * D);
      // attention on the device's own roped q and cache; the reference on its own (same up to rounding of rope)
      LaunchAttention(out, nullptr, dq, dkc, dvc, kv16, T, H, Hkv, D, Pp, devP ? dP : nullptr, Smax, s, rowsArg, slot, ao);
      std::vector<float> want((size_t)T * H * D), scratch(Smax);
      if (rowsMode)
        for (int t = 0; t < T; t++)
          refAttention(want.data() + (size_t)t * H * D, q.data() + (size_t)t * H * D, kc.data() + t * slot, vc.data() + t * slot, 1, pos[t],
                       scratch.data());
      else
        refAttention(want.data(), q.data(), kc.data(), vc.data(), T, Pp, scratch.data());
      cmp.atol = 1e-4, cmp.rtol = 1e-3;
      cmp.Check(dm.down(out, want.size()).data(), want.data(), want.size());
    }
  } else if (name == "gemv" || name == "gemm") {
    // i8=1: int8 per-row codes; q=1: q4_1 blocks, q=2: q8_0 blocks (random codes and fp16 scales)
    // q=3: q5_0, q=4: q4_k, q=5: q6_k raw blocks (gemv_blocks.cu; RawCase above); q=6 int4 sym, q=7 int4 asym, q=8 nf4
    // (common/quant4.h codes + fp32 group scales, group size g; RandomQ4 above)
    // blas=1 (gemm): the cuBLAS prefill path (gpu/prefill_gemm.h: dequantize to fp16, cublasGemmEx, epilogue)
    const int q = P(p, "q", 0);
    const bool blas = name == "gemm" && P(p, "blas", 0) != 0;
    int wt = q == 1 ? kWeightQ4_1 : q == 2 ? kWeightQ8_0 : q == 3 ? kWeightQ5_0 : q == 4 ? kWeightQ4_K : q == 5 ? kWeightQ6_K
             : q == 6 || q == 7 ? kWeightI4Group : q == 8 ? kWeightNF4Group : P(p, "i8", 0) ? kWeightI8Channel : kWeightF16;
    const int G = P(p, "g", 64);
    int K = P(p, "K", 576), nseg = P(p, "segs", 1), M = P(p, "M", 1), prologue = P(p, "prologue", 0);
    bool acc = P(p, "acc", 0) != 0, bias = P(p, "bias", 0) != 0;
    int rows[3] = {P(p, "N", 576), P(p, "N2", 192), P(p, "N3", 192)};
    if (name == "gemm") nseg = 1;
    std::unique_ptr<BlasGemm> bg;
    if (blas) bg.reset(new BlasGemm("kernel-test:", s, (size_t)rows[0] * K, (size_t)M * rows[0]));
    auto in = Randn(rng, (size_t)M * K), in2 = Randn(rng, (size_t)M * K), nw = Randn(rng, K, 0.1f, 1.f);
    // the input as the kernel sees it after its prologue
    std::vector<float> x = in;
    if (prologue == kPrologueRmsNorm) ref::rmsnorm(x.data(), in.data(), nw.data(), M, K, 1e-5f);
    if (prologue == kPrologueSwiGLU) ref::swiglu(x.data(), in.data(), in2.data(), x.size());
    if (name == "gemm") x = FromF16(ToF16(x));  // the GEMM reads fp16 activations
    float *din = dm.up(name == "gemm" ? x : in), *din2 = dm.up(in2), *dnw = dm.up(nw);
    uint16_t* dA = name == "gemm" ? dm.up(ToF16(x)) : nullptr;
    GemvArgs a;
    a.K = K;
    a.prologue = prologue;
    a.in = din;
    a.in2 = din2;
    a.normw = dnw;
    a.eps = 1e-5f;
    a.accumulate = acc;
    a.nb = M;  // gemv: M input rows (batched decode when > 1)
    a.group = G;
    std::vector<std::vector<float>> want(nseg);
    std::vector<float*> dys(nseg);
    for (int sgi = 0; sgi < nseg; sgi++) {
      int N = rows[sgi];
      auto w = Randn(rng, (size_t)N * K, 1.f / std::sqrt((float)K));
      auto b = Randn(rng, N, 0.1f);
      auto y0 = Randn(rng, (size_t)M * N);
      std::vector<float> y((size_t)M * N);
      const void* dw;
      const float* dscale = nullptr;
      const void* daux = nullptr;
      if (const RawBlockCase* rc = RawCase(wt)) {
        auto raw = RandomRawBlocks(*rc, N, K, rng);
        dw = dm.up(raw);
        rc->ref(y.data(), x.data(), raw.data(), bias ? b.data() : nullptr, M, K, N);
      } else if (IsQ4LayoutType(wt)) {
        const int kind = q == 6 ? quant4::kInt4Sym : q == 7 ? quant4::kInt4Asym : quant4::kNf4;
        Q4Weights qw = RandomQ4(kind, N, K, G, rng);
        dw = dm.up(qw.codes);
        dscale = dm.up(qw.scales);
        if (kind == quant4::kInt4Asym) daux = dm.up(qw.zeros);
        ref::linear_q4_group(y.data(), x.data(), qw.codes.data(), qw.scales.data(), kind == quant4::kInt4Asym ? qw.zeros.data() : nullptr, kind, G,
                             bias ? b.data() : nullptr, M, K, N);
      } else if (wt == kWeightQ4_1 || wt == kWeightQ8_0) {
        const size_t nblk = (size_t)N * (K / 32), bb = BlockBytes(wt);
        std::vector<uint8_t> raw(nblk * bb);
        const float dsc = 2.f / std::sqrt((float)K) / (wt == kWeightQ4_1 ? 4.61f : 73.6f);
        for (size_t b = 0; b < nblk; b++) {
          uint8_t* blk = raw.data() + b * bb;
          const float dv = dsc * (0.5f + (float)(rng() % 1000) / 1000.f);
          const uint16_t d16 = ToF16(std::vector<float>{dv})[0], m16 = ToF16(std::vector<float>{-7.5f * dv})[0];
          blk[0] = d16 & 0xff, blk[1] = d16 >> 8;
          if (wt == kWeightQ4_1) blk[2] = m16 & 0xff, blk[3] = m16 >> 8;
          for (size_t j = wt == kWeightQ4_1 ? 4 : 2; j < bb; j++) blk[j] = (uint8_t)(wt == kWeightQ4_1 ? rng() & 0xff : (int8_t)((int)(rng() % 255) - 127));
        }
        std::vector<uint8_t> codes;
        std::vector<uint16_t> aux;
        Engine::SplitBlocks(wt, raw.data(), nblk, &codes, &aux);
        dw = dm.up(codes);
        daux = dm.up(aux);
        if (wt == kWeightQ4_1) ref::linear_q4_1(y.data(), x.data(), raw.data(), bias ? b.data() : nullptr, M, K, N);
        else ref::linear_q8_0(y.data(), x.data(), raw.data(), bias ? b.data() : nullptr, M, K, N);
      } else if (wt == kWeightF16) {
        auto w16 = ToF16(w);
        dw = dm.up(w16);
        ref::linear_f16(y.data(), x.data(), w16.data(), bias ? b.data() : nullptr, M, K, N);
      } else {
        std::vector<int8_t> codes((size_t)N * K);
        std::vector<float> sc(N);
        for (int r = 0; r < N; r++) {
          float m = 0;
          for (int i = 0; i < K; i++) m = std::max(m, std::fabs(w[(size_t)r * K + i]));
          sc[r] = (float)((double)m / 127.0);
          for (int i = 0; i < K; i++) codes[(size_t)r * K + i] = (int8_t)std::nearbyint((double)w[(size_t)r * K + i] / sc[r]);
        }
        dw = dm.up(codes);
        dscale = dm.up(sc);
        ref::linear_i8_channel(y.data(), x.data(), codes.data(), nullptr, sc.data(), nullptr, bias ? b.data() : nullptr, M, K, N);
      }
      if (acc)
        for (size_t i = 0; i < y.size(); i++) y[i] += y0[i];
      want[sgi] = y;
      dys[sgi] = dm.up(y0);
      if (name == "gemv") a.seg[a.nseg++] = GemvSeg{dw, dscale, bias ? dm.up(b) : nullptr, dys[sgi], N, daux};
      else if (blas) bg->Run(dA, dw, wt, dscale, bias ? dm.up(b) : nullptr, dys[sgi], M, N, K, acc, s, daux);
      else LaunchGemm(dA, dw, wt, dscale, bias ? dm.up(b) : nullptr, dys[sgi], M, N, K, acc, s, daux, G);
    }
    if (name == "gemv") LaunchGemv(a, wt, s);
    // fp32 accumulation in another order than the double reference; |y| ~ N(0,1): stated tolerance
    cmp.atol = name == "gemm" ? 2e-3 : 1e-4 * std::sqrt((double)K / 64), cmp.rtol = 1e-3;
    // the block GEMM stages dequantized weights as fp16 (one rounding each, relative 2^-11): wider, stated tolerance
    if (name == "gemm" && (wt == kWeightQ4_1 || wt == kWeightQ8_0)) cmp.atol = 5e-3, cmp.rtol = 2e-3;
    for (int sgi = 0; sgi < nseg; sgi++) cmp.Check(dm.down(dys[sgi], want[sgi].size()).data(), want[sgi].data(), want[sgi].size(), ("seg" + std::to_string(sgi)).c_str());
  } else if (name == "dequant_f16") {
    // q=0: int8 codes (exact halves), q=1: q4_1 nibbles + (d, m), q=2: q8_0 codes + d; bits compared exactly
    const int q = P(p, "q", 0), N = P(p, "N", 96), K = P(p, "K", 576);
    const int wt = q == 1 ? kWeightQ4_1 : q == 2 ? kWeightQ8_0 : kWeightI8Channel;
    std::vector<uint8_t> codes((size_t)N * (wt == kWeightQ4_1 ? K / 2 : K));
    for (auto& c : codes) c = (uint8_t)(wt == kWeightQ4_1 ? rng() & 0xff : (uint8_t)(int8_t)((int)(rng() % 255) - 127));
    std::vector<uint16_t> aux(wt == kWeightI8Channel ? 0 : (size_t)N * (K / 32) * (wt == kWeightQ4_1 ? 2 : 1));
    for (size_t i = 0; i < aux.size(); i++) {
      const float d = 1e-3f * (1 + (float)(rng() % 1000));  // d in (0, 1]; q4_1 m = -7.5 d (a non-trivial fma)
      aux[i] = ToF16(std::vector<float>{wt == kWeightQ4_1 && (i & 1) ? -7.5f * d : d})[0];
    }
    uint16_t* d = dm.zeros<uint16_t>((size_t)N * K);
    LaunchDequantF16(d, dm.up(codes), wt, aux.empty() ? nullptr : dm.up(aux), N, K, s);
    std::vector<uint16_t> want((size_t)N * K);
    ref::dequant_f16_split(want.data(), codes.data(), wt, aux.data(), N, K);
    auto got = dm.down(d, want.size());
    std::vector<float> g(want.size()), w(want.size());
    for (size_t i = 0; i < want.size(); i++) g[i] = got[i], w[i] = want[i];  // the bits
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(g.data(), w.data(), w.size(), "bits");
  } else if (name == "gemm_epilogue") {
    const int M = P(p, "M", 37), N = P(p, "N", 576);
    const bool acc = P(p, "acc", 1) != 0, bias = P(p, "bias", 1) != 0, scale = P(p, "scale", 1) != 0;
    auto yt = Randn(rng, (size_t)M * N, 30.f), y0 = Randn(rng, (size_t)M * N), sc = Randn(rng, N, 0.01f, 0.02f), b = Randn(rng, N, 0.1f);
    float* dy = dm.up(y0);
    LaunchGemmEpilogue(dy, dm.up(yt), scale ? dm.up(sc) : nullptr, bias ? dm.up(b) : nullptr, M, N, acc, s);
    std::vector<float> want = y0;
    ref::gemm_epilogue(want.data(), yt.data(), scale ? sc.data() : nullptr, bias ? b.data() : nullptr, M, N, acc);
    cmp.atol = 0, cmp.rtol = 0;  // the same float operations in the same order
    cmp.Check(dm.down(dy, want.size()).data(), want.data(), want.size());
  } else if (name == "argmax") {
    int V = P(p, "V", 49152);
    auto lg = Randn(rng, V);
    int tie = (int)(rng() % V), tie2 = (int)(rng() % V);
    lg[tie] = lg[tie2] = 100.f;  // a tie: the first index wins
    int32_t* step = dm.up(std::vector<int32_t>{0, 7, 0, 0});
    int32_t* out = dm.zeros<int32_t>(4);
    LaunchArgmaxStep(dm.up(lg), V, step, out, -1, s);
    auto st = dm.down(step, 3);
    float got[3] = {(float)st[0], (float)st[1], (float)st[2]}, want[3] = {(float)ref::argmax(lg.data(), V), 8.f, 1.f};
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(got, want, 3, "step");
  } else if (name == "argmax_rows") {
    int V = P(p, "V", 32000), B = P(p, "B", 8), Smax = P(p, "Smax", 64);
    auto lg = Randn(rng, (size_t)B * V);
    for (int b = 0; b < B; b++) {
      int tie = (int)(rng() % V), tie2 = (int)(rng() % V);
      lg[(size_t)b * V + tie] = lg[(size_t)b * V + tie2] = 50.f + b;  // a tie per row: the first index wins
    }
    std::vector<int32_t> pos0(B);
    for (int b = 0; b < B; b++) pos0[b] = (5 * b + 1) % Smax;
    int32_t *tok = dm.zeros<int32_t>(B), *pos = dm.up(pos0), *out = dm.zeros<int32_t>((size_t)B * Smax);
    LaunchArgmaxRows(dm.up(lg), V, B, tok, pos, out, Smax, s);
    auto gt = dm.down(tok, B), gp = dm.down(pos, B), go = dm.down(out, (size_t)B * Smax);
    std::vector<float> got, want;
    for (int b = 0; b < B; b++) {
      int am = ref::argmax(lg.data() + (size_t)b * V, V);
      got.insert(got.end(), {(float)gt[b], (float)gp[b], (float)go[(size_t)b * Smax + pos0[b]]});
      want.insert(want.end(), {(float)am, (float)(pos0[b] + 1), (float)am});
    }
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(got.data(), want.data(), got.size(), "tok|pos|out");
  } else if (name == "f32_to_f16") {
    size_t n = (size_t)P(p, "n", 100000);
    auto v = Randn(rng, n, 1000.f);
    const float specials[] = {0.f, -0.f, 65504.f, 65520.f, 1e-8f, -6.1e-5f, 5.96e-8f, 2.98e-8f, INFINITY, -INFINITY, 1e30f};
    for (size_t i = 0; i < sizeof(specials) / sizeof(float) && i < n; i++) v[i] = specials[i];
    for (size_t i = 11; i < n; i += 3) v[i] *= 1e-6f;  // subnormal range
    uint16_t* d = dm.zeros<uint16_t>(n);
    LaunchF32ToF16(d, dm.up(v), n, s);
    auto got = dm.down(d, n);
    std::vector<float> g(n), w(n);
    for (size_t i = 0; i < n; i++) g[i] = got[i], w[i] = ref::f32_to_f16(v[i]);  // compare the bits exactly
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(g.data(), w.data(), n, "bits");
  } else if (name == "quantize_i8") {
    int rows = P(p, "rows", 64), K = P(p, "K", 576);
    auto w = Randn(rng, (size_t)rows * K);
    for (int i = 0; i < K; i++) w[i] = 0;  // an all-zero row
    int8_t* codes = dm.zeros<int8_t>(w.size());
    float* sc = dm.zeros<float>(rows);
    LaunchQuantizeRowsI8(codes, sc, dm.up(w), rows, K, s);
    auto gc = dm.down(codes, w.size());
    auto gs = dm.down(sc, rows);
    std::vector<float> g(w.size()), want(w.size()), gsf(rows), wsf(rows);
    for (int r = 0; r < rows; r++) {
      float m = 0;
      for (int i = 0; i < K; i++) m = std::max(m, std::fabs(w[(size_t)r * K + i]));
      float scale = (float)((double)m / 127.0);
      gsf[r] = gs[r], wsf[r] = scale;
      for (int i = 0; i < K; i++) {
        double x = scale == 0 ? 0 : (double)w[(size_t)r * K + i] / scale;
        want[(size_t)r * K + i] = (float)std::max(-127.0, std::min(127.0, std::nearbyint(x)));
        g[(size_t)r * K + i] = gc[(size_t)r * K + i];
      }
    }
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(g.data(), want.data(), g.size(), "codes");
    cmp.Check(gsf.data(), wsf.data(), rows, "scale");
  } else {
    THROW_ERROR("E_ARG", "unknown kernel test '" + name + "' (embedding, rmsnorm, rmsnorm_add, swiglu, geglu, softcap, rope_append, attention, rope_attention, gemv, gemm, dequant_f16, gemm_epilogue, argmax, argmax_rows, f32_to_f16, quantize_i8, lossless_gemv)");
  }
  CHECK_CUDA(cudaDeviceSynchronize());
  return cmp;
}

}  // namespace engine
}  // namespace codecllm

// The twin binary has no addon: the VRAM ledger (device.cc, a Node-API module) is stood in for by plain cudaMalloc
// buffers with the same interface (device.h AllocBuffer / GetBuffer / FreeBuffer), for kernels that allocate through
// it (the cuBLAS prefill path's workspace).
namespace codecllm {
namespace cuda {
namespace {
std::map<uint32_t, Buffer> g_buffers;
uint32_t g_next_buffer = 1;
}  // namespace
uint32_t AllocBuffer(size_t bytes, const std::string&) {
  void* p = nullptr;
  CHECK_CUDA(cudaMalloc(&p, std::max<size_t>(bytes, 16)));
  g_buffers[g_next_buffer] = Buffer{static_cast<uint8_t*>(p), bytes, ""};
  return g_next_buffer++;
}
bool FreeBuffer(uint32_t id) {
  auto it = g_buffers.find(id);
  if (it == g_buffers.end()) return false;
  cudaFree(it->second.ptr);
  g_buffers.erase(it);
  return true;
}
Buffer& GetBuffer(uint32_t id) {
  auto it = g_buffers.find(id);
  CHECK_ARG(it != g_buffers.end(), "buffer " + std::to_string(id) + " does not exist");
  return it->second;
}
}  // namespace cuda
// gpu/prefill_gemm.cc (compiled in for BlasGemm) also defines Engine::PrefillGemm, which reads an engine's weights;
// the twins build no Engine, so these two are never reached here.
namespace engine {
const void* Engine::WeightPtr(int, int, int*) const { THROW_ERROR("E_NATIVE", "gpu_twins: no engine weights in the twin binary"); }
const void* Engine::AuxPtr(int) const { THROW_ERROR("E_NATIVE", "gpu_twins: no engine weights in the twin binary"); }
}  // namespace engine
}  // namespace codecllm

namespace {

using codecllm::engine::Params;

/** The cases the GPU check runs, in the order (and with the seeds, 100 + index unless given) that
 *  scripts/gpu/check-engine.ts KERNEL_CASES had: plain ops, batched decode, the fused decode kernel, the architecture
 *  features (GeGLU, sandwich norm, q/k RMSNorm, soft-caps, embedding scale, sliding-window attention), GGML-block,
 *  fp16 and int8 GEMV / GEMM, and the cuBLAS prefill path (dequant_f16, blas=1). */
std::vector<std::pair<std::string, Params>> Cases() {
  return {
      {"embedding", {{"V", 1000}, {"h", 576}, {"T", 7}, {"seed", 100}}},
      {"embedding", {{"V", 32000}, {"h", 2048}, {"T", 1}, {"seed", 101}}},
      {"embedding", {{"V", 1000}, {"h", 576}, {"T", 7}, {"q8", 1}, {"seed", 102}}},
      {"embedding", {{"V", 32000}, {"h", 2048}, {"T", 8}, {"q8", 1}, {"seed", 103}}},
      {"rmsnorm", {{"T", 1}, {"h", 576}, {"seed", 104}}},
      {"rmsnorm", {{"T", 17}, {"h", 2048}, {"seed", 105}}},
      {"swiglu", {{"n", 1536}, {"seed", 106}}},
      {"swiglu", {{"n", 16896}, {"seed", 107}}},
      {"rope_append", {{"T", 1}, {"H", 9}, {"Hkv", 3}, {"D", 64}, {"P", 10}, {"Smax", 64}, {"kv16", 1}, {"devP", 1}, {"seed", 108}}},
      {"rope_append", {{"T", 5}, {"H", 32}, {"Hkv", 4}, {"D", 64}, {"P", 0}, {"Smax", 128}, {"kv16", 0}, {"seed", 109}}},
      {"rope_append", {{"T", 3}, {"H", 4}, {"Hkv", 4}, {"D", 128}, {"P", 7}, {"Smax", 32}, {"kv16", 1}, {"seed", 110}}},
      {"attention", {{"T", 1}, {"H", 9}, {"Hkv", 3}, {"D", 64}, {"P", 10}, {"Smax", 64}, {"kv16", 1}, {"devP", 1}, {"seed", 111}}},
      {"attention", {{"T", 5}, {"H", 32}, {"Hkv", 4}, {"D", 64}, {"P", 0}, {"Smax", 128}, {"kv16", 0}, {"seed", 112}}},
      {"attention", {{"T", 16}, {"H", 9}, {"Hkv", 3}, {"D", 64}, {"P", 20}, {"Smax", 64}, {"kv16", 1}, {"seed", 113}}},
      {"attention", {{"T", 1}, {"H", 32}, {"Hkv", 4}, {"D", 64}, {"P", 700}, {"Smax", 1024}, {"kv16", 1}, {"devP", 1}, {"seed", 114}}},
      {"attention", {{"T", 3}, {"H", 4}, {"Hkv", 2}, {"D", 128}, {"P", 7}, {"Smax", 32}, {"kv16", 0}, {"seed", 115}}},
      {"rope_append", {{"T", 8}, {"H", 32}, {"Hkv", 4}, {"D", 64}, {"P", 11}, {"Smax", 64}, {"kv16", 1}, {"rows", 1}, {"seed", 116}}},
      {"rope_append", {{"T", 3}, {"H", 9}, {"Hkv", 3}, {"D", 64}, {"P", 2}, {"Smax", 32}, {"kv16", 0}, {"rows", 1}, {"seed", 117}}},
      {"attention", {{"T", 8}, {"H", 32}, {"Hkv", 4}, {"D", 64}, {"P", 11}, {"Smax", 64}, {"kv16", 1}, {"rows", 1}, {"seed", 118}}},
      {"attention", {{"T", 5}, {"H", 9}, {"Hkv", 3}, {"D", 64}, {"P", 40}, {"Smax", 128}, {"kv16", 0}, {"rows", 1}, {"seed", 119}}},
      {"rope_attention", {{"T", 1}, {"H", 32}, {"Hkv", 4}, {"D", 64}, {"P", 200}, {"Smax", 256}, {"kv16", 1}, {"rows", 1}, {"seed", 120}}},
      {"rope_attention", {{"T", 8}, {"H", 32}, {"Hkv", 4}, {"D", 64}, {"P", 11}, {"Smax", 64}, {"kv16", 1}, {"rows", 1}, {"seed", 121}}},
      {"rope_attention", {{"T", 5}, {"H", 9}, {"Hkv", 3}, {"D", 64}, {"P", 40}, {"Smax", 128}, {"kv16", 0}, {"rows", 1}, {"seed", 122}}},
      {"rope_attention", {{"T", 3}, {"H", 4}, {"Hkv", 2}, {"D", 128}, {"P", 7}, {"Smax", 32}, {"kv16", 1}, {"rows", 1}, {"seed", 123}}},
      {"argmax_rows", {{"V", 32000}, {"B", 8}, {"Smax", 64}, {"seed", 124}}},
      {"argmax_rows", {{"V", 49152}, {"B", 3}, {"Smax", 16}, {"seed", 9}}},
      {"argmax", {{"V", 49152}, {"seed", 126}}},
      {"argmax", {{"V", 32000}, {"seed", 7}}},
      {"f32_to_f16", {{"n", 100000}, {"seed", 128}}},
      {"quantize_i8", {{"rows", 64}, {"K", 576}, {"seed", 129}}},
      {"quantize_i8", {{"rows", 100}, {"K", 2048}, {"seed", 130}}},
      {"geglu", {{"n", 2048}, {"seed", 131}}},
      {"geglu", {{"n", 16896}, {"seed", 132}}},
      {"rmsnorm_add", {{"T", 1}, {"h", 640}, {"seed", 133}}},
      {"rmsnorm_add", {{"T", 19}, {"h", 640}, {"seed", 134}}},
      {"rmsnorm", {{"T", 28}, {"h", 256}, {"inplace", 1}, {"seed", 135}}},
      {"rmsnorm", {{"T", 1}, {"h", 256}, {"inplace", 1}, {"seed", 136}}},
      {"softcap", {{"n", 262144}, {"cap", 30}, {"seed", 137}}},
      {"embedding", {{"V", 1000}, {"h", 640}, {"T", 7}, {"escale", 1}, {"seed", 138}}},
      {"embedding", {{"V", 1000}, {"h", 640}, {"T", 7}, {"q8", 1}, {"escale", 1}, {"seed", 139}}},
      {"attention", {{"T", 1}, {"H", 4}, {"Hkv", 1}, {"D", 256}, {"P", 700}, {"Smax", 1024}, {"kv16", 1}, {"devP", 1}, {"window", 512}, {"seed", 140}}},
      {"attention", {{"T", 16}, {"H", 4}, {"Hkv", 1}, {"D", 256}, {"P", 0}, {"Smax", 64}, {"kv16", 1}, {"window", 6}, {"seed", 141}}},
      {"attention", {{"T", 9}, {"H", 4}, {"Hkv", 1}, {"D", 256}, {"P", 509}, {"Smax", 1024}, {"kv16", 0}, {"window", 512}, {"qscale", 0.0625}, {"seed", 142}}},
      {"attention", {{"T", 5}, {"H", 4}, {"Hkv", 2}, {"D", 16}, {"P", 7}, {"Smax", 64}, {"kv16", 1}, {"window", 6}, {"softcap", 50}, {"qscale", 0.25}, {"seed", 143}}},
      {"attention", {{"T", 6}, {"H", 4}, {"Hkv", 2}, {"D", 16}, {"P", 20}, {"Smax", 64}, {"kv16", 1}, {"rows", 1}, {"window", 6}, {"seed", 144}}},
      {"rope_attention", {{"T", 1}, {"H", 4}, {"Hkv", 1}, {"D", 256}, {"P", 600}, {"Smax", 1024}, {"kv16", 1}, {"rows", 1}, {"window", 512}, {"seed", 145}}},
      {"rope_attention", {{"T", 4}, {"H", 4}, {"Hkv", 2}, {"D", 16}, {"P", 30}, {"Smax", 64}, {"kv16", 1}, {"rows", 1}, {"window", 6}, {"softcap", 50}, {"qscale", 0.25}, {"seed", 146}}},
      {"gemv", {{"q", 1}, {"K", 576}, {"N", 576}, {"segs", 3}, {"N2", 192}, {"N3", 192}, {"prologue", 1}, {"seed", 147}}},
      {"gemv", {{"q", 1}, {"K", 1536}, {"N", 576}, {"prologue", 2}, {"acc", 1}, {"seed", 148}}},
      {"gemv", {{"q", 1}, {"K", 5632}, {"N", 2048}, {"prologue", 2}, {"acc", 1}, {"seed", 149}}},
      {"gemv", {{"q", 1}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 150}}},
      {"gemv", {{"q", 1}, {"M", 8}, {"K", 2048}, {"N", 2048}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"bias", 1}, {"seed", 151}}},
      {"gemm", {{"q", 1}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 152}}},
      {"gemm", {{"q", 1}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 153}}},
      {"gemv", {{"q", 2}, {"K", 576}, {"N", 576}, {"segs", 3}, {"N2", 192}, {"N3", 192}, {"prologue", 1}, {"seed", 154}}},
      {"gemv", {{"q", 2}, {"K", 1536}, {"N", 576}, {"prologue", 2}, {"acc", 1}, {"seed", 155}}},
      {"gemv", {{"q", 2}, {"K", 5632}, {"N", 2048}, {"prologue", 2}, {"acc", 1}, {"seed", 156}}},
      {"gemv", {{"q", 2}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 157}}},
      {"gemv", {{"q", 2}, {"M", 8}, {"K", 2048}, {"N", 2048}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"bias", 1}, {"seed", 158}}},
      {"gemm", {{"q", 2}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 159}}},
      {"gemm", {{"q", 2}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 160}}},
      {"dequant_f16", {{"q", 0}, {"N", 96}, {"K", 576}, {"seed", 161}}},
      {"dequant_f16", {{"q", 0}, {"N", 37}, {"K", 2048}, {"seed", 162}}},
      {"dequant_f16", {{"q", 1}, {"N", 96}, {"K", 576}, {"seed", 163}}},
      {"dequant_f16", {{"q", 1}, {"N", 37}, {"K", 2048}, {"seed", 164}}},
      {"dequant_f16", {{"q", 2}, {"N", 96}, {"K", 576}, {"seed", 165}}},
      {"dequant_f16", {{"q", 2}, {"N", 37}, {"K", 2048}, {"seed", 166}}},
      {"gemm_epilogue", {{"M", 37}, {"N", 576}, {"seed", 167}}},
      {"gemm_epilogue", {{"M", 5}, {"N", 100}, {"acc", 0}, {"scale", 0}, {"seed", 168}}},
      {"gemm_epilogue", {{"M", 64}, {"N", 2048}, {"bias", 0}, {"seed", 169}}},
      {"gemm", {{"blas", 1}, {"M", 128}, {"N", 5632}, {"K", 2048}, {"seed", 170}}},
      {"gemm", {{"blas", 1}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 171}}},
      {"gemm", {{"blas", 1}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 172}}},
      {"gemm", {{"blas", 1}, {"M", 33}, {"N", 2048}, {"K", 5632}, {"acc", 1}, {"seed", 173}}},
      {"gemm", {{"i8", 1}, {"blas", 1}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 174}}},
      {"gemm", {{"i8", 1}, {"blas", 1}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 175}}},
      {"gemm", {{"i8", 1}, {"blas", 1}, {"M", 33}, {"N", 2048}, {"K", 5632}, {"acc", 1}, {"seed", 176}}},
      {"gemm", {{"q", 1}, {"blas", 1}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 177}}},
      {"gemm", {{"q", 1}, {"blas", 1}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 178}}},
      {"gemm", {{"q", 1}, {"blas", 1}, {"M", 33}, {"N", 2048}, {"K", 5632}, {"acc", 1}, {"seed", 179}}},
      {"gemm", {{"q", 2}, {"blas", 1}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 180}}},
      {"gemm", {{"q", 2}, {"blas", 1}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 181}}},
      {"gemm", {{"q", 2}, {"blas", 1}, {"M", 33}, {"N", 2048}, {"K", 5632}, {"acc", 1}, {"seed", 182}}},
      {"gemv", {{"q", 3}, {"K", 640}, {"N", 1024}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"seed", 183}}},
      {"gemv", {{"q", 3}, {"K", 640}, {"N", 2048}, {"segs", 2}, {"N2", 2048}, {"prologue", 1}, {"seed", 184}}},
      {"gemv", {{"q", 3}, {"M", 8}, {"K", 640}, {"N", 2048}, {"segs", 2}, {"N2", 2048}, {"prologue", 1}, {"bias", 1}, {"seed", 185}}},
      {"gemv", {{"q", 3}, {"M", 3}, {"K", 96}, {"N", 37}, {"segs", 3}, {"N2", 5}, {"N3", 9}, {"prologue", 0}, {"acc", 1}, {"seed", 186}}},
      {"gemv", {{"q", 4}, {"K", 1024}, {"N", 640}, {"acc", 1}, {"seed", 187}}},
      {"gemv", {{"q", 4}, {"K", 2048}, {"N", 640}, {"prologue", 2}, {"acc", 1}, {"seed", 188}}},
      {"gemv", {{"q", 4}, {"M", 5}, {"K", 2048}, {"N", 640}, {"prologue", 2}, {"acc", 1}, {"bias", 1}, {"seed", 189}}},
      {"gemv", {{"q", 4}, {"K", 256}, {"N", 33}, {"segs", 2}, {"N2", 7}, {"prologue", 1}, {"seed", 190}}},
      {"gemv", {{"q", 5}, {"K", 2048}, {"N", 640}, {"prologue", 2}, {"acc", 1}, {"seed", 191}}},
      {"gemv", {{"q", 5}, {"M", 8}, {"K", 2048}, {"N", 640}, {"prologue", 2}, {"acc", 1}, {"seed", 192}}},
      {"gemv", {{"q", 5}, {"K", 512}, {"N", 100}, {"bias", 1}, {"prologue", 1}, {"seed", 193}}},
      {"gemm", {{"q", 3}, {"M", 7}, {"N", 1024}, {"K", 640}, {"seed", 194}}},
      {"gemm", {{"q", 4}, {"M", 128}, {"N", 640}, {"K", 1024}, {"acc", 1}, {"bias", 1}, {"seed", 195}}},
      {"gemm", {{"q", 5}, {"M", 33}, {"N", 640}, {"K", 2048}, {"seed", 196}}},
      {"gemv", {{"q", 6}, {"g", 64}, {"K", 576}, {"N", 576}, {"segs", 3}, {"N2", 192}, {"N3", 192}, {"prologue", 1}, {"seed", 197}}},
      {"gemv", {{"q", 6}, {"g", 64}, {"K", 1536}, {"N", 576}, {"prologue", 2}, {"acc", 1}, {"seed", 198}}},
      {"gemv", {{"q", 6}, {"g", 128}, {"K", 2048}, {"N", 5632}, {"segs", 2}, {"N2", 5632}, {"prologue", 1}, {"seed", 199}}},
      {"gemv", {{"q", 6}, {"g", 576}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 200}}},
      {"gemv", {{"q", 6}, {"g", 32}, {"M", 8}, {"K", 2048}, {"N", 2048}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"bias", 1}, {"seed", 201}}},
      {"gemv", {{"q", 6}, {"g", 8}, {"M", 3}, {"K", 64}, {"N", 37}, {"segs", 3}, {"N2", 6}, {"N3", 9}, {"prologue", 0}, {"acc", 1}, {"seed", 202}}},
      {"gemm", {{"q", 6}, {"g", 64}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 203}}},
      {"gemm", {{"q", 6}, {"g", 64}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 204}}},
      {"gemv", {{"q", 7}, {"g", 64}, {"K", 576}, {"N", 576}, {"segs", 3}, {"N2", 192}, {"N3", 192}, {"prologue", 1}, {"seed", 205}}},
      {"gemv", {{"q", 7}, {"g", 64}, {"K", 1536}, {"N", 576}, {"prologue", 2}, {"acc", 1}, {"seed", 206}}},
      {"gemv", {{"q", 7}, {"g", 128}, {"K", 2048}, {"N", 5632}, {"segs", 2}, {"N2", 5632}, {"prologue", 1}, {"seed", 207}}},
      {"gemv", {{"q", 7}, {"g", 576}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 208}}},
      {"gemv", {{"q", 7}, {"g", 32}, {"M", 8}, {"K", 2048}, {"N", 2048}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"bias", 1}, {"seed", 209}}},
      {"gemv", {{"q", 7}, {"g", 8}, {"M", 3}, {"K", 64}, {"N", 37}, {"segs", 3}, {"N2", 6}, {"N3", 9}, {"prologue", 0}, {"acc", 1}, {"seed", 210}}},
      {"gemm", {{"q", 7}, {"g", 64}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 211}}},
      {"gemm", {{"q", 7}, {"g", 64}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 212}}},
      {"gemv", {{"q", 8}, {"g", 64}, {"K", 576}, {"N", 576}, {"segs", 3}, {"N2", 192}, {"N3", 192}, {"prologue", 1}, {"seed", 213}}},
      {"gemv", {{"q", 8}, {"g", 64}, {"K", 1536}, {"N", 576}, {"prologue", 2}, {"acc", 1}, {"seed", 214}}},
      {"gemv", {{"q", 8}, {"g", 128}, {"K", 2048}, {"N", 5632}, {"segs", 2}, {"N2", 5632}, {"prologue", 1}, {"seed", 215}}},
      {"gemv", {{"q", 8}, {"g", 576}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 216}}},
      {"gemv", {{"q", 8}, {"g", 32}, {"M", 8}, {"K", 2048}, {"N", 2048}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"bias", 1}, {"seed", 217}}},
      {"gemv", {{"q", 8}, {"g", 8}, {"M", 3}, {"K", 64}, {"N", 37}, {"segs", 3}, {"N2", 6}, {"N3", 9}, {"prologue", 0}, {"acc", 1}, {"seed", 218}}},
      {"gemm", {{"q", 8}, {"g", 64}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 219}}},
      {"gemm", {{"q", 8}, {"g", 64}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 220}}},
      {"gemv", {{"i8", 0}, {"K", 576}, {"N", 576}, {"segs", 3}, {"N2", 192}, {"N3", 192}, {"prologue", 1}, {"seed", 221}}},
      {"gemv", {{"i8", 0}, {"K", 1536}, {"N", 576}, {"prologue", 2}, {"acc", 1}, {"seed", 222}}},
      {"gemv", {{"i8", 0}, {"K", 2048}, {"N", 5632}, {"segs", 2}, {"N2", 5632}, {"prologue", 1}, {"seed", 223}}},
      {"gemv", {{"i8", 0}, {"K", 5632}, {"N", 2048}, {"prologue", 2}, {"acc", 1}, {"seed", 224}}},
      {"gemv", {{"i8", 0}, {"K", 28672}, {"N", 512}, {"prologue", 2}, {"acc", 1}, {"seed", 225}}},
      {"gemv", {{"i8", 0}, {"M", 3}, {"K", 28672}, {"N", 256}, {"prologue", 2}, {"acc", 1}, {"seed", 226}}},
      {"gemv", {{"i8", 0}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 227}}},
      {"gemv", {{"i8", 0}, {"K", 64}, {"N", 40}, {"segs", 3}, {"N2", 8}, {"N3", 8}, {"bias", 1}, {"prologue", 0}, {"seed", 228}}},
      {"gemv", {{"i8", 0}, {"M", 8}, {"K", 2048}, {"N", 2048}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"seed", 229}}},
      {"gemv", {{"i8", 0}, {"M", 8}, {"K", 5632}, {"N", 2048}, {"prologue", 2}, {"acc", 1}, {"seed", 230}}},
      {"gemv", {{"i8", 0}, {"M", 5}, {"K", 576}, {"N", 1536}, {"segs", 2}, {"N2", 1536}, {"prologue", 1}, {"bias", 1}, {"seed", 231}}},
      {"gemv", {{"i8", 0}, {"M", 2}, {"K", 64}, {"N", 37}, {"segs", 3}, {"N2", 6}, {"N3", 9}, {"prologue", 0}, {"acc", 1}, {"seed", 232}}},
      {"gemv", {{"i8", 0}, {"M", 8}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 233}}},
      {"gemm", {{"i8", 0}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 234}}},
      {"gemm", {{"i8", 0}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 235}}},
      {"gemm", {{"i8", 0}, {"M", 33}, {"N", 2048}, {"K", 5632}, {"seed", 236}}},
      {"gemm", {{"i8", 0}, {"M", 64}, {"N", 100}, {"K", 48}, {"prologue", 1}, {"seed", 237}}},
      {"gemv", {{"i8", 1}, {"K", 576}, {"N", 576}, {"segs", 3}, {"N2", 192}, {"N3", 192}, {"prologue", 1}, {"seed", 238}}},
      {"gemv", {{"i8", 1}, {"K", 1536}, {"N", 576}, {"prologue", 2}, {"acc", 1}, {"seed", 239}}},
      {"gemv", {{"i8", 1}, {"K", 2048}, {"N", 5632}, {"segs", 2}, {"N2", 5632}, {"prologue", 1}, {"seed", 240}}},
      {"gemv", {{"i8", 1}, {"K", 5632}, {"N", 2048}, {"prologue", 2}, {"acc", 1}, {"seed", 241}}},
      {"gemv", {{"i8", 1}, {"K", 28672}, {"N", 512}, {"prologue", 2}, {"acc", 1}, {"seed", 242}}},
      {"gemv", {{"i8", 1}, {"M", 3}, {"K", 28672}, {"N", 256}, {"prologue", 2}, {"acc", 1}, {"seed", 243}}},
      {"gemv", {{"i8", 1}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 244}}},
      {"gemv", {{"i8", 1}, {"K", 64}, {"N", 40}, {"segs", 3}, {"N2", 8}, {"N3", 8}, {"bias", 1}, {"prologue", 0}, {"seed", 245}}},
      {"gemv", {{"i8", 1}, {"M", 8}, {"K", 2048}, {"N", 2048}, {"segs", 3}, {"N2", 256}, {"N3", 256}, {"prologue", 1}, {"seed", 246}}},
      {"gemv", {{"i8", 1}, {"M", 8}, {"K", 5632}, {"N", 2048}, {"prologue", 2}, {"acc", 1}, {"seed", 247}}},
      {"gemv", {{"i8", 1}, {"M", 5}, {"K", 576}, {"N", 1536}, {"segs", 2}, {"N2", 1536}, {"prologue", 1}, {"bias", 1}, {"seed", 248}}},
      {"gemv", {{"i8", 1}, {"M", 2}, {"K", 64}, {"N", 37}, {"segs", 3}, {"N2", 6}, {"N3", 9}, {"prologue", 0}, {"acc", 1}, {"seed", 249}}},
      {"gemv", {{"i8", 1}, {"M", 8}, {"K", 576}, {"N", 49152}, {"prologue", 1}, {"seed", 250}}},
      {"gemm", {{"i8", 1}, {"M", 7}, {"N", 576}, {"K", 576}, {"seed", 251}}},
      {"gemm", {{"i8", 1}, {"M", 128}, {"N", 1536}, {"K", 576}, {"acc", 1}, {"bias", 1}, {"seed", 252}}},
      {"gemm", {{"i8", 1}, {"M", 33}, {"N", 2048}, {"K", 5632}, {"seed", 253}}},
      {"gemm", {{"i8", 1}, {"M", 64}, {"N", 100}, {"K", 48}, {"prologue", 1}, {"seed", 254}}},
      // lossless bf16/fp16 GEMV (issue 14): odd shapes (rows not a multiple of rowsPerSeg, fewer column groups than
      // lanes), fp16, one row per segment, and the TinyLlama / Llama-3.1-8B projection shapes with timing
      {"lossless_gemv", {{"rows", 37}, {"cols", 264}, {"f16", 0}, {"rowsPerSeg", 4}, {"seed", 500}}},
      {"lossless_gemv", {{"rows", 5}, {"cols", 8}, {"f16", 1}, {"rowsPerSeg", 1}, {"seed", 501}}},
      {"lossless_gemv", {{"rows", 300}, {"cols", 1032}, {"f16", 1}, {"rowsPerSeg", 7}, {"seed", 502}}},
      {"lossless_gemv", {{"rows", 2048}, {"cols", 2048}, {"f16", 0}, {"rowsPerSeg", 4}, {"iterations", 200}, {"seed", 503}}},
      {"lossless_gemv", {{"rows", 2048}, {"cols", 2048}, {"f16", 0}, {"rowsPerSeg", 1}, {"iterations", 200}, {"seed", 504}}},
      {"lossless_gemv", {{"rows", 2048}, {"cols", 2048}, {"f16", 0}, {"rowsPerSeg", 16}, {"iterations", 200}, {"seed", 505}}},
      {"lossless_gemv", {{"rows", 5632}, {"cols", 2048}, {"f16", 0}, {"rowsPerSeg", 4}, {"iterations", 200}, {"seed", 506}}},
      {"lossless_gemv", {{"rows", 2048}, {"cols", 5632}, {"f16", 0}, {"rowsPerSeg", 4}, {"iterations", 200}, {"seed", 507}}},
      {"lossless_gemv", {{"rows", 4096}, {"cols", 4096}, {"f16", 0}, {"rowsPerSeg", 4}, {"iterations", 100}, {"seed", 508}}},
      {"lossless_gemv", {{"rows", 14336}, {"cols", 4096}, {"f16", 0}, {"rowsPerSeg", 4}, {"iterations", 50}, {"seed", 509}}},
      {"lossless_gemv", {{"rows", 14336}, {"cols", 4096}, {"f16", 0}, {"rowsPerSeg", 16}, {"iterations", 50}, {"seed", 510}}},
      {"lossless_gemv", {{"rows", 4096}, {"cols", 14336}, {"f16", 0}, {"rowsPerSeg", 4}, {"iterations", 50}, {"seed", 511}}},
      {"lossless_gemv", {{"rows", 4096}, {"cols", 14336}, {"f16", 1}, {"rowsPerSeg", 1}, {"iterations", 50}, {"seed", 512}}},
  };
}

std::string Join(const Params& p) {
  std::string s;
  for (auto& kv : p) {
    char v[32];
    std::snprintf(v, sizeof v, "%g", kv.second);
    s += (s.empty() ? "" : ",") + kv.first + "=" + v;
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<std::string, Params>> cases;
  if (argc > 1) {
    Params p;
    for (int i = 2; i < argc; i++) {
      const std::string a = argv[i];
      const size_t eq = a.find('=');
      char* end = nullptr;
      const double v = eq == std::string::npos ? 0 : std::strtod(a.c_str() + eq + 1, &end);
      if (eq == std::string::npos || eq == 0 || end == a.c_str() + eq + 1 || *end) {
        std::fprintf(stderr, "codecllm: gpu_twins.cc: argument '%s' is not key=number [E_ARG]\n", a.c_str());
        return 2;
      }
      p[a.substr(0, eq)] = v;
    }
    cases.push_back({argv[1], p});
  } else {
    cases = Cases();
  }
  cudaDeviceProp prop{};
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    std::fprintf(stderr, "codecllm: gpu_twins.cc: no CUDA device (%s) [E_CUDA]\n", cudaGetErrorString(cudaGetLastError()));
    return 2;
  }
  cudaStream_t s;
  if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) {
    std::fprintf(stderr, "codecllm: gpu_twins.cc: cudaStreamCreate failed [E_CUDA]\n");
    return 2;
  }
  int passed = 0;
  for (auto& c : cases) {
    codecllm::engine::Cmp r;
    std::string err;
    try {
      r = codecllm::engine::RunCase(c.first, c.second, s);
    } catch (const codecllm::Error& e) {
      err = std::string(e.code()) + " " + e.what();
    } catch (const std::exception& e) {
      err = std::string("E_NATIVE ") + e.what();
    }
    const bool pass = err.empty() && r.fails == 0 && r.n > 0;
    passed += pass;
    std::printf("CASE\t%s\t%s\t%s\tn=%zu\tmaxAbs=%.3e\tratio=%.3f\tfails=%zu\tatol=%.1e\trtol=%.1e", pass ? "PASS" : "FAIL", c.first.c_str(),
                Join(c.second).c_str(), r.n, r.maxAbs, r.maxRatio, r.fails, r.atol, r.rtol);
    for (auto& e : r.extra) std::printf("\t%s=%.6g", e.first.c_str(), e.second);
    std::printf("\n");
    if (!err.empty()) std::printf("FIRST\t%s\tthrew: %s\n", c.first.c_str(), err.c_str());
    for (auto& f : r.first) std::printf("FIRST\t%s\t%s\n", c.first.c_str(), f.c_str());
    std::fflush(stdout);
    if (!err.empty() && err.rfind("E_ARG", 0) != 0 && cudaDeviceSynchronize() != cudaSuccess) break;  // sticky CUDA error
  }
  std::printf("%d/%zu kernel twins passed on %s\n", passed, cases.size(), prop.name);
  return passed == (int)cases.size() ? 0 : 1;
}
