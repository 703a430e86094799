// lossless.cc — addon entry points of the lossless bf16/fp16 weight stream (common/lossless.h, issue 14):
//   losslessLayout()                                   the layout constants (tied to src/codec/lossless.ts by a test)
//   losslessEncode(dtype, rows, cols, words, rowsPerSeg?) -> CLLW stream (Uint8Array)
//   losslessDecode(stream, label?)                     -> the 16-bit words (Uint8Array); checksums verified
//   losslessInfo(stream, label?)                       -> header fields, byte split, code lengths
//   losslessGemvTest(params)  (CUDA builds)            device decode (bit-exact) + in-register GEMV vs the twin
// Errors: E_ARG for bad arguments, E_CODEC for a corrupt/truncated stream (one line naming the problem).
#include <xxhash.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "binding.h"
#include "common/half.h"
#include "common/lossless.h"
#if defined(CODECLLM_HAVE_CUDA)
#include "cuda/gemv_lossless.cuh"
#endif

namespace {
using namespace codecllm;
namespace ll = codecllm::lossless;

uint64_t Hash(const uint8_t* p, size_t n) { return XXH64(n ? p : EmptyBytes(), n, 0); }

int ArgDtype(const Napi::CallbackInfo& info, size_t i) {
  int t = ArgWeightType(info, i, "dtype");
  CHECK_ARG(t == ll::kDtypeBF16 || t == ll::kDtypeF16, "dtype: lossless streams hold bf16 or f16 weights");
  return t;
}

/** Parse + verify checksums; throws E_CODEC "<label>: <problem>". */
ll::View ParseChecked(Bytes in, const std::string& label) {
  ll::View v;
  std::string why;
  if (!ll::Parse(in.data, in.size, &v, &why)) THROW_ERROR("E_CODEC", label + ": " + why).with("codec", "lossless");
  if (Hash(v.lengths, ll::kSymbols + (size_t)v.segments * ll::kSegEntryBytes) != v.hashTables)
    THROW_ERROR("E_CODEC", label + ": checksum mismatch in the code table / segment table").with("codec", "lossless");
  if (Hash(v.code, v.codeWords * 4) != v.hashCode)
    THROW_ERROR("E_CODEC", label + ": checksum mismatch in the code area").with("codec", "lossless");
  if (Hash(v.raw, (size_t)v.rows * v.cols) != v.hashRaw)
    THROW_ERROR("E_CODEC", label + ": checksum mismatch in the raw area").with("codec", "lossless");
  return v;
}

std::string ArgLabel(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string("lossless stream");
}

Napi::Value LosslessLayout(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("magic", (double)ll::kMagic);
  o.Set("version", (double)ll::kVersion);
  o.Set("headerBytes", (double)ll::kHeaderBytes);
  o.Set("symbols", (double)ll::kSymbols);
  o.Set("maxCodeLen", (double)ll::kMaxCodeLen);
  o.Set("lanes", (double)ll::kLanes);
  o.Set("group", (double)ll::kGroup);
  o.Set("segEntryBytes", (double)ll::kSegEntryBytes);
  o.Set("defaultRowsPerSeg", (double)ll::kDefaultRowsPerSeg);
  o.Set("maxRowsPerSeg", (double)ll::kMaxRowsPerSeg);
  o.Set("dtypeF16", (double)ll::kDtypeF16);
  o.Set("dtypeBF16", (double)ll::kDtypeBF16);
  return o;
}

Napi::Value LosslessEncode(const Napi::CallbackInfo& info) {
  const int dtype = ArgDtype(info, 0);
  const uint32_t rows = (uint32_t)ArgSize(info, 1, "rows", 1u << 30);
  const uint32_t cols = (uint32_t)ArgSize(info, 2, "cols", 1u << 30);
  Bytes in = ArgBytes(info, 3, "words");
  const uint32_t rps = (uint32_t)ArgInt(info, 4, "rowsPerSeg", 1, ll::kMaxRowsPerSeg, ll::kDefaultRowsPerSeg);
  CHECK_ARG(rows > 0 && cols > 0, "rows, cols: must be positive");
  CHECK_ARG(cols % ll::kGroup == 0, "cols: must be a multiple of " + std::to_string(ll::kGroup));
  CHECK_ARG((uint64_t)rows * cols * 2 == in.size, "words: expected rows*cols*2 = " + std::to_string((uint64_t)rows * cols * 2) +
                                                      " bytes, got " + std::to_string(in.size));
  std::vector<uint16_t> w((size_t)rows * cols);
  memcpy(w.data(), in.data, in.size);
  std::vector<uint8_t> out = ll::Encode(dtype, rows, cols, w.data(), rps, Hash);
  return NewBytes(info.Env(), out.data(), out.size());
}

Napi::Value LosslessDecode(const Napi::CallbackInfo& info) {
  Bytes in = ArgBytes(info, 0, "stream");
  const std::string label = ArgLabel(info, 1);
  ll::View v = ParseChecked(in, label);
  const size_t n = (size_t)v.rows * v.cols;
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), n * 2);
  std::vector<uint16_t> w(n);
  std::string why;
  if (!ll::Decode(v, w.data(), &why)) THROW_ERROR("E_CODEC", label + ": " + why).with("codec", "lossless");
  memcpy(out.Data(), w.data(), n * 2);
  return out;
}

Napi::Value LosslessInfo(const Napi::CallbackInfo& info) {
  Bytes in = ArgBytes(info, 0, "stream");
  ll::View v = ParseChecked(in, ArgLabel(info, 1));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("dtype", v.dtype == ll::kDtypeBF16 ? "bf16" : "f16");
  o.Set("rows", (double)v.rows);
  o.Set("cols", (double)v.cols);
  o.Set("rowsPerSeg", (double)v.rowsPerSeg);
  o.Set("segments", (double)v.segments);
  o.Set("maxCodeLen", (double)v.maxCodeLen);
  o.Set("tableBytes", (double)(ll::kHeaderBytes + ll::kSymbols + (uint64_t)v.segments * ll::kSegEntryBytes));
  o.Set("codeBytes", (double)(v.codeWords * 4));
  o.Set("rawBytes", (double)((uint64_t)v.rows * v.cols));
  o.Set("totalBytes", (double)v.totalBytes);
  Napi::Array lens = Napi::Array::New(env, ll::kSymbols);
  for (uint32_t s = 0; s < ll::kSymbols; ++s) lens.Set(s, (double)v.lengths[s]);
  o.Set("lengths", lens);
  return o;
}

#if defined(CODECLLM_HAVE_CUDA)
/** splitmix64 */
struct Rng {
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

double NumberOr(Napi::Object p, const char* k, double d) {
  return p.Has(k) && p.Get(k).IsNumber() ? p.Get(k).As<Napi::Number>().DoubleValue() : d;
}

template <typename T>
struct DevBuf {
  T* p = nullptr;
  explicit DevBuf(size_t n) { CHECK_CUDA(cudaMalloc(reinterpret_cast<void**>(&p), std::max<size_t>(n, 1) * sizeof(T))); }
  ~DevBuf() { if (p) cudaFree(p); }
  DevBuf(const DevBuf&) = delete;
  DevBuf& operator=(const DevBuf&) = delete;
};

/**
 * losslessGemvTest({ rows, cols, dtype: 'bf16'|'f16', rowsPerSeg, seed, scale, iterations }):
 * seeded random weights N(0, scale) cast to dtype -> encode -> (1) device decode == source words bit for bit,
 * (2) in-register GEMV vs the twin (reference Decode + double linear), |Δ| ≤ atol·Σ|w x| + rtol·|ref| per row,
 * (3) with iterations > 0: ms per call of the lossless GEMV and of the plain 16-bit GEMV of the same loop.
 */
Napi::Value LosslessGemvTest(const Napi::CallbackInfo& info) {
  CHECK_ARG(info.Length() > 0 && info[0].IsObject(), "params: expected an object");
  Napi::Object p = info[0].As<Napi::Object>();
  const uint32_t rows = (uint32_t)NumberOr(p, "rows", 256), cols = (uint32_t)NumberOr(p, "cols", 1024);
  const uint32_t rps = (uint32_t)NumberOr(p, "rowsPerSeg", ll::kDefaultRowsPerSeg);
  const int iters = (int)NumberOr(p, "iterations", 0);
  const double scale = NumberOr(p, "scale", 0.02);
  Rng rng{(uint64_t)NumberOr(p, "seed", 1)};
  std::string dt = p.Has("dtype") && p.Get("dtype").IsString() ? p.Get("dtype").As<Napi::String>().Utf8Value() : "bf16";
  CHECK_ARG(dt == "bf16" || dt == "f16", "dtype: bf16 or f16");
  const int dtype = dt == "bf16" ? ll::kDtypeBF16 : ll::kDtypeF16;
  CHECK_ARG(rows > 0 && rows <= (1u << 20) && cols > 0 && cols <= (1u << 20) && cols % ll::kGroup == 0, "rows/cols out of range");
  CHECK_ARG(rps >= 1 && rps <= ll::kMaxRowsPerSeg && iters >= 0 && iters <= 100000, "rowsPerSeg/iterations out of range");
  const size_t n = (size_t)rows * cols;
  std::vector<uint16_t> w(n);
  for (size_t i = 0; i < n; ++i) {
    float v = (float)(rng.Normal() * scale);
    w[i] = dtype == ll::kDtypeBF16 ? f32_to_bf16(v) : f32_to_f16(v);
  }
  std::vector<float> x(cols);
  for (auto& v : x) v = (float)(rng.Uniform() * 2 - 1);
  std::vector<uint8_t> stream = ll::Encode(dtype, rows, cols, w.data(), rps, Hash);
  ll::View v;
  std::string why;
  CHECK_CODEC(ll::Parse(stream.data(), stream.size(), &v, &why), why);
  // the twin: reference decode + double linear
  std::vector<uint16_t> wr(n);
  CHECK_CODEC(ll::Decode(v, wr.data(), &why), why);
  CHECK_CODEC(memcmp(wr.data(), w.data(), n * 2) == 0, "reference decode is not bit-exact");
  std::vector<double> ref(rows), absSum(rows);
  for (uint32_t r = 0; r < rows; ++r) {
    double a = 0, b = 0;
    for (uint32_t c = 0; c < cols; ++c) {
      uint16_t h = wr[(size_t)r * cols + c];
      double wf = dtype == ll::kDtypeBF16 ? bf16_to_f32(h) : f16_to_f32(h);
      a += wf * x[c];
      b += std::fabs(wf * x[c]);
    }
    ref[r] = a, absSum[r] = b;
  }
  std::vector<uint16_t> lut(ll::kLutSize);
  CHECK_CODEC(ll::BuildLut(v.lengths, lut.data()), "corrupt code table");
  int dev = 0, sms = 1;
  CHECK_CUDA(cudaGetDevice(&dev));
  CHECK_CUDA(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  DevBuf<uint32_t> dCode(v.codeWords);
  DevBuf<uint8_t> dRaw(n);
  DevBuf<unsigned long long> dSeg((size_t)v.segments * 2);
  DevBuf<uint16_t> dLut(ll::kLutSize), dW(n), dPlain(n);
  DevBuf<float> dX(cols), dY(rows);
  CHECK_CUDA(cudaMemcpy(dCode.p, v.code, v.codeWords * 4, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dRaw.p, v.raw, n, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dSeg.p, v.segTable, (size_t)v.segments * ll::kSegEntryBytes, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dLut.p, lut.data(), ll::kLutSize * 2, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dPlain.p, w.data(), n * 2, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(dX.p, x.data(), cols * 4, cudaMemcpyHostToDevice));
  ll::DeviceStream ds{dtype, rows, cols, rps, v.segments, dCode.p, dRaw.p, dSeg.p, dLut.p};
  // (1) device decode, bit-exact
  CHECK_CUDA(cudaMemset(dW.p, 0xff, n * 2));
  ll::LosslessDecodeLaunch(ds, dW.p, sms, 0);
  CHECK_CUDA(cudaGetLastError());
  std::vector<uint16_t> wd(n);
  CHECK_CUDA(cudaMemcpy(wd.data(), dW.p, n * 2, cudaMemcpyDeviceToHost));
  double decodeMismatches = 0;
  for (size_t i = 0; i < n; ++i) decodeMismatches += wd[i] != w[i];
  // (2) GEMV vs twin
  ll::LosslessGemvLaunch(ds, dX.p, dY.p, sms, 0);
  CHECK_CUDA(cudaGetLastError());
  std::vector<float> y(rows);
  CHECK_CUDA(cudaMemcpy(y.data(), dY.p, rows * 4, cudaMemcpyDeviceToHost));
  const double atol = 1e-5, rtol = 1e-4;
  double maxAbs = 0, worst = 0;
  Napi::Env env = info.Env();
  Napi::Array first = Napi::Array::New(env);
  uint32_t nFirst = 0;
  for (uint32_t r = 0; r < rows; ++r) {
    double d = std::fabs((double)y[r] - ref[r]);
    double tol = atol * absSum[r] + rtol * std::fabs(ref[r]) + 1e-30;
    maxAbs = std::max(maxAbs, d);
    worst = std::max(worst, d / tol);
    if ((d > tol || !std::isfinite(y[r])) && nFirst < 5) {
      Napi::Object m = Napi::Object::New(env);
      m.Set("i", (double)r), m.Set("got", (double)y[r]), m.Set("want", ref[r]);
      first.Set(nFirst++, m);
    }
    if (!std::isfinite(y[r])) worst = std::numeric_limits<double>::infinity();
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("n", (double)rows);
  o.Set("maxAbs", maxAbs);
  o.Set("atol", atol);
  o.Set("rtol", rtol);
  o.Set("toleranceRule", "|Δ| ≤ atol·Σ|w·x| + rtol·|ref| per row");
  o.Set("maxErrOverTol", worst);
  o.Set("decodeMismatches", decodeMismatches);
  o.Set("pass", decodeMismatches == 0 && worst <= 1.0);
  o.Set("first", first);
  o.Set("streamBytes", (double)stream.size());
  o.Set("ratio", (double)stream.size() / (double)(n * 2));
  // (3) timing
  if (iters > 0) {
    cudaEvent_t e0, e1;
    CHECK_CUDA(cudaEventCreate(&e0));
    CHECK_CUDA(cudaEventCreate(&e1));
    auto time = [&](auto&& launch) {
      for (int i = 0; i < 3; ++i) launch();
      CHECK_CUDA(cudaEventRecord(e0, 0));
      for (int i = 0; i < iters; ++i) launch();
      CHECK_CUDA(cudaEventRecord(e1, 0));
      CHECK_CUDA(cudaEventSynchronize(e1));
      CHECK_CUDA(cudaGetLastError());
      float ms = 0;
      CHECK_CUDA(cudaEventElapsedTime(&ms, e0, e1));
      return (double)ms / iters;
    };
    double msL = time([&] { ll::LosslessGemvLaunch(ds, dX.p, dY.p, sms, 0); });
    double msP = time([&] { ll::PlainGemvLaunch(dtype, dPlain.p, rows, cols, rps, dX.p, dY.p, sms, 0); });
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    o.Set("msLossless", msL);
    o.Set("msPlain", msP);
    // effective bandwidth: compressed bytes read (lossless) / 16-bit bytes read (plain), GB/s
    o.Set("gbpsLosslessIn", (double)stream.size() / msL / 1e6);
    o.Set("gbpsLosslessOut", (double)(n * 2) / msL / 1e6);
    o.Set("gbpsPlain", (double)(n * 2) / msP / 1e6);
  }
  return o;
}
#endif

}  // namespace

void InitLossless(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "losslessLayout", LosslessLayout);
  EXPORT_FN(env, exports, "losslessEncode", LosslessEncode);
  EXPORT_FN(env, exports, "losslessDecode", LosslessDecode);
  EXPORT_FN(env, exports, "losslessInfo", LosslessInfo);
#if defined(CODECLLM_HAVE_CUDA)
  EXPORT_FN(env, exports, "losslessGemvTest", LosslessGemvTest);
#endif
}
