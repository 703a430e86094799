// quant.cc — multi-threaded fast path of the integer quantizers (int8: every granularity, sym/asym; int4: same),
// with fp32/fp16/bf16 scales.
//
// Readable twin: src/quant/quantize.ts (+ numerics.ts). This file must produce IDENTICAL codes, scale bits, zero
// points and stats; test/quant-native.test.ts compares both bit-exactly on seeded random inputs. The arithmetic
// convention is the TS one (numerics.ts header): weights are float, everything derived is computed in double and
// rounded once where it is stored — scale: double -> float -> dtype bits; codes: std::nearbyint (round half to even
// under the default rounding mode, = rne() in TS); no FMA contraction matters because every expression is a single
// IEEE operation (a division, a subtraction) followed by an explicit rounding.
//
// JS API (registered by InitQuant):
//   quantizeInt(w: Float32Array, rows, cols, format, granularity, groupSize, asym, scaleDType, threads,
//               codes: Int8Array|Uint8Array, scales: Float32Array|Uint16Array, zeros: Uint8Array|null)
//     -> Float64Array [zeroGroups, scaleUnderflow, scaleOverflow, scaleSubnormal, scaleNudged, clipped, firstNonFinite]
//   Ids are the indices of QUANT_FORMATS / GRANULARITIES / SCALE_DTYPES in src/quant/spec.ts (append-only).
//   firstNonFinite is the row-major index of the first NaN/Inf weight (-1 if none); outputs are then unspecified.
//
// Work split: phase 1 (group ranges) and phase 3 (codes) over row ranges, one std::thread each; phase 2 (scale and
// zero point per group) over group ranges. Per-tensor and per-input-channel ranges are reduced from per-thread
// partial min/max (exact, order-independent). 4-bit codes are packed two per byte, so row ranges start at an even
// element index (no byte is shared between threads).
#include <napi.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "binding.h"
#include "common/half.h"

namespace {

enum Format { kInt8 = 0, kInt4 = 1 };                              // QUANT_FORMATS (nf4 = 2, fp8 = 3: TS only)
enum Gran { kPerTensor = 0, kPerChannel = 1, kPerInputChannel = 2, kGroup = 3 };  // GRANULARITIES
enum ScaleDT { kFp32 = 0, kFp16 = 1, kBf16 = 2 };                  // SCALE_DTYPES

// ---- scale dtypes (numerics.ts SCALE_CODECS; fp16/bf16 conversions: common/half.h, bit for bit as dtypes.ts)

inline uint32_t F32Bits(float f) { return codecllm::f32_bits(f); }
inline float F32FromBits(uint32_t u) { return codecllm::f32_from_bits(u); }
uint32_t F32ToF16(double v) { return codecllm::f32_to_f16(static_cast<float>(v)); }
double F16ToF64(uint32_t h) { return static_cast<double>(codecllm::f16_to_f32(static_cast<uint16_t>(h))); }
uint32_t F32ToBf16(double v) { return codecllm::f32_to_bf16(static_cast<float>(v)); }
// numerics.ts snapF32Bits: float bits rounded to 16 significant bits (nearest even on the 8 dropped bits)
uint32_t SnapF32(double v) {
  uint32_t b = F32Bits(static_cast<float>(v));
  if ((b & 0x7f800000u) == 0x7f800000u) return b;
  return (b + 0x7fu + ((b >> 8) & 1u)) & 0xffffff00u;
}

struct ScaleCodec {
  uint32_t minBits, step, maxBits, infBits, normalBits;
};
constexpr ScaleCodec kCodecs[3] = {
    {0x100u, 0x100u, 0x7f7fff00u, 0x7f800000u, 0x00800000u},  // fp32 (16 significant bits)
    {1u, 1u, 0x7bffu, 0x7c00u, 0x0400u},                      // fp16
    {1u, 1u, 0x7f7fu, 0x7f80u, 0x0080u},                      // bf16
};
inline uint32_t ToBits(int dt, double x) { return dt == kFp32 ? SnapF32(x) : dt == kFp16 ? F32ToF16(x) : F32ToBf16(x); }
inline double FromBits(int dt, uint32_t b) {
  return dt == kFp32 ? static_cast<double>(F32FromBits(b)) : dt == kFp16 ? F16ToF64(b) : static_cast<double>(F32FromBits(b << 16));
}

// ---- the scheme

struct Scheme {
  int format, gran, groupSize, dt;
  bool asym;
  int64_t rows, cols;
  int M, A;  // sym codes in [-M, M]; asym codes in [0, A]
  int64_t groupsPerRow, nGroups;
  inline int64_t GroupOf(int64_t r, int64_t c) const {
    switch (gran) {
      case kPerTensor: return 0;
      case kPerChannel: return r;
      case kPerInputChannel: return c;
      default: return r * groupsPerRow + c / groupSize;
    }
  }
};

struct Stats {
  int64_t zeroGroups = 0, underflow = 0, overflow = 0, subnormal = 0, nudged = 0, clipped = 0;
  void Add(const Stats& o) {
    zeroGroups += o.zeroGroups, underflow += o.underflow, overflow += o.overflow;
    subnormal += o.subnormal, nudged += o.nudged, clipped += o.clipped;
  }
};

// quantize.ts clampedCode (int formats): rne(x) (+ z), clamped to the code range
inline double Rne(double x) {
  // round half to even (= std::nearbyint in the default rounding mode, without a libm call where SSE4.1 is off):
  // adding and subtracting 1.5 * 2^52 rounds |x| < 2^51 to an integer in the current (nearest-even) mode. Larger
  // |x| are pre-clamped to 1e15, still far outside every code range, so the clamp below gives the same code.
  // (no -ffast-math here: without -fassociative-math the compiler may not fold (x + big) - big to x)
  const double big = 6755399441055744.0;
  double xc = std::min(std::max(x, -1e15), 1e15);
  return (xc + big) - big;
}

inline int ClampedCode(const Scheme& s, double x, int z, bool* clipped) {
  double r = Rne(x);
  if (s.asym) r += z;
  const double lo = s.asym ? 0.0 : -s.M, hi = s.asym ? s.A : s.M;
  if (r < lo) return *clipped = true, static_cast<int>(lo);
  if (r > hi) return *clipped = true, static_cast<int>(hi);
  return static_cast<int>(r);
}
inline int ZeroPoint(const Scheme& s, double lo, double sc) {
  double z = std::nearbyint(-lo / sc);
  return static_cast<int>(std::min(std::max(z, 0.0), static_cast<double>(s.A)));
}
inline bool SpanReached(const Scheme& s, double lo, double hi, double sc) {
  bool clip = false;
  if (s.asym) {
    int z = ZeroPoint(s, lo, sc);
    int qlo = ClampedCode(s, lo / sc, z, &clip), qhi = ClampedCode(s, hi / sc, z, &clip);
    return std::min(qlo, z) == 0 && std::max(qhi, z) == s.A;
  }
  double ext = -lo > hi ? lo : hi;
  return std::abs(ClampedCode(s, ext / sc, 0, &clip)) == s.M;
}
inline bool AllZeroCodes(const Scheme& s, double lo, double hi, double sc) {
  bool clip = false;
  int z = s.asym ? ZeroPoint(s, lo, sc) : 0;
  return ClampedCode(s, lo / sc, z, &clip) - z == 0 && ClampedCode(s, hi / sc, z, &clip) - z == 0;
}

// quantize.ts chooseGroupParams
inline void ChooseGroup(const Scheme& s, double lo, double hi, uint32_t* bitsOut, int* zOut, Stats* st) {
  const ScaleCodec& dt = kCodecs[s.dt];
  double range = s.asym ? hi - lo : std::max(-lo, hi);
  *zOut = 0;
  if (range == 0) {
    st->zeroGroups++;
    *bitsOut = 0;
    return;
  }
  double ideal = range / (s.asym ? s.A : s.M);
  uint32_t bits = ToBits(s.dt, ideal);
  if (bits >= dt.infBits) {
    bits = dt.maxBits;
    st->overflow++;
  } else if (bits == 0) {
    st->underflow++;
    bits = dt.minBits;
    if (AllZeroCodes(s, lo, hi, FromBits(s.dt, bits))) {
      *bitsOut = 0;
      return;
    }
  }
  bool nudged = false;
  while (bits > dt.minBits && !SpanReached(s, lo, hi, FromBits(s.dt, bits))) {
    bits -= dt.step;
    nudged = true;
  }
  if (nudged) st->nudged++;
  if (bits < dt.normalBits) st->subnormal++;
  *bitsOut = bits;
  if (s.asym) *zOut = ZeroPoint(s, lo, FromBits(s.dt, bits));
}

/** Run fn(t, begin, end) on `n` items split into `threads` contiguous ranges (begin multiple of `align`). */
template <typename F>
void ParallelFor(int64_t n, int threads, int64_t align, F fn) {
  int64_t per = (n + threads - 1) / threads;
  per = (per + align - 1) / align * align;
  std::vector<std::thread> pool;
  int t = 0;
  for (int64_t b = 0; b < n; b += per, t++) {
    int64_t e = std::min(n, b + per);
    if (b == 0 && e == n) {
      fn(0, b, e);
      return;
    }
    pool.emplace_back(fn, t, b, e);
  }
  for (auto& th : pool) th.join();
}

Napi::Value QuantizeInt(const Napi::CallbackInfo& info) {
  using namespace codecllm;
  Napi::Env env = info.Env();
  Bytes w = ArgBytes(info, 0, "w");
  Scheme s{};
  s.rows = static_cast<int64_t>(ArgSize(info, 1, "rows", 1ull << 31));
  s.cols = static_cast<int64_t>(ArgSize(info, 2, "cols", 1ull << 31));
  s.format = static_cast<int>(ArgInt(info, 3, "format", 0, 1, -1));
  s.gran = static_cast<int>(ArgInt(info, 4, "granularity", 0, 3, -1));
  s.groupSize = static_cast<int>(ArgInt(info, 5, "groupSize", 0, 1 << 20, 0));
  CHECK_ARG(info.Length() > 6 && info[6].IsBoolean(), "asym: expected a boolean");
  s.asym = info[6].As<Napi::Boolean>().Value();
  s.dt = static_cast<int>(ArgInt(info, 7, "scaleDType", 0, 2, -1));
  int threads = static_cast<int>(ArgInt(info, 8, "threads", 1, 256, 1));
  MutBytes codes = ArgMutBytes(info, 9, "codes");
  MutBytes scales = ArgMutBytes(info, 10, "scales");
  MutBytes zeros{nullptr, 0};
  if (info.Length() > 11 && !info[11].IsNull() && !info[11].IsUndefined()) zeros = ArgMutBytes(info, 11, "zeros");

  CHECK_ARG(s.rows > 0 && s.cols > 0, "rows and cols must be positive");
  CHECK_ARG(s.gran != kGroup || s.groupSize > 0, "groupSize must be positive for group granularity");
  const int64_t n = s.rows * s.cols;
  CHECK_ARG(w.size == static_cast<size_t>(n) * 4, "w: expected rows*cols float32 values");
  CHECK_ARG(reinterpret_cast<uintptr_t>(w.data) % 4 == 0, "w: not 4-byte aligned");
  const bool four = s.format == kInt4;
  s.M = four ? 7 : 127;
  s.A = four ? 15 : 255;
  s.groupsPerRow = s.gran == kGroup ? (s.cols + s.groupSize - 1) / s.groupSize : 0;
  s.nGroups = s.gran == kPerTensor ? 1 : s.gran == kPerChannel ? s.rows : s.gran == kPerInputChannel ? s.cols : s.rows * s.groupsPerRow;
  CHECK_ARG(codes.size == static_cast<size_t>(four ? (n + 1) / 2 : n), "codes: wrong byte length");
  CHECK_ARG(scales.size == static_cast<size_t>(s.nGroups) * (s.dt == kFp32 ? 4 : 2), "scales: wrong byte length");
  const size_t zeroBytes = !s.asym ? 0 : four ? static_cast<size_t>((s.nGroups + 1) / 2) : static_cast<size_t>(s.nGroups);
  CHECK_ARG(zeros.size == zeroBytes && (zeroBytes == 0 || zeros.data != nullptr), "zeros: wrong byte length");
  threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, s.rows)));

  const float* W = reinterpret_cast<const float*>(w.data);
  std::vector<double> lo(s.nGroups, 0.0), hi(s.nGroups, 0.0);
  std::vector<int64_t> firstBad(threads, -1);

  // ---- phase 1: group ranges lo = min(0, min w), hi = max(0, max w)
  const bool reduce = s.gran == kPerTensor || s.gran == kPerInputChannel;
  const int64_t partLen = s.gran == kPerTensor ? 1 : s.cols;
  std::vector<double> plo(reduce ? threads * partLen : 0, 0.0), phi(reduce ? threads * partLen : 0, 0.0);
  ParallelFor(s.rows, threads, 1, [&](int t, int64_t r0, int64_t r1) {
    double* L = reduce ? &plo[t * partLen] : lo.data();
    double* H = reduce ? &phi[t * partLen] : hi.data();
    for (int64_t r = r0; r < r1; r++) {
      const float* row = W + r * s.cols;
      for (int64_t c = 0; c < s.cols; c++) {
        double v = row[c];
        if (!std::isfinite(v)) {
          if (firstBad[t] < 0) firstBad[t] = r * s.cols + c;
          continue;
        }
        int64_t g = s.gran == kPerTensor ? 0 : s.gran == kPerInputChannel ? c : s.GroupOf(r, c);
        if (v < L[g]) L[g] = v;
        if (v > H[g]) H[g] = v;
      }
    }
  });
  int64_t bad = -1;
  for (int64_t b : firstBad)
    if (b >= 0 && (bad < 0 || b < bad)) bad = b;
  Napi::Float64Array out = Napi::Float64Array::New(env, 7);
  out[6] = static_cast<double>(bad);
  if (bad >= 0) return out;
  if (reduce)
    for (int t = 0; t < threads; t++)
      for (int64_t g = 0; g < partLen; g++) {
        lo[g] = std::min(lo[g], plo[t * partLen + g]);
        hi[g] = std::max(hi[g], phi[t * partLen + g]);
      }

  // ---- phase 2: scale bits and zero point per group
  std::vector<double> sv(s.nGroups);
  std::vector<int> zv(s.nGroups);
  std::vector<Stats> st(threads);
  int gthreads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads, s.nGroups / 4096)));
  ParallelFor(s.nGroups, gthreads, 1, [&](int t, int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; g++) {
      uint32_t bits;
      ChooseGroup(s, lo[g], hi[g], &bits, &zv[g], &st[t]);
      sv[g] = FromBits(s.dt, bits);
      if (s.dt == kFp32) reinterpret_cast<float*>(scales.data)[g] = F32FromBits(bits);
      else reinterpret_cast<uint16_t*>(scales.data)[g] = static_cast<uint16_t>(bits);
    }
  });
  if (s.asym) {
    if (four) {
      std::memset(zeros.data, 0, zeros.size);
      for (int64_t g = 0; g < s.nGroups; g++) zeros.data[g >> 1] |= static_cast<uint8_t>(zv[g] << ((g & 1) * 4));
    } else {
      for (int64_t g = 0; g < s.nGroups; g++) zeros.data[g] = static_cast<uint8_t>(zv[g]);
    }
  }

  // ---- phase 3: codes (4-bit: rows split at even element indices so threads never share a byte)
  std::vector<Stats> st3(threads);
  const int64_t rowAlign = four && (s.cols & 1) ? 2 : 1;
  const int bias = four && !s.asym ? 8 : 0;
  ParallelFor(s.rows, threads, rowAlign, [&](int t, int64_t r0, int64_t r1) {
    int64_t clipped = 0;
    for (int64_t r = r0; r < r1; r++) {
      const float* row = W + r * s.cols;
      for (int64_t c = 0; c < s.cols; c++) {
        int64_t g = s.GroupOf(r, c);
        double sc = sv[g];
        double x = sc == 0 ? 0.0 : row[c] / sc;
        bool clip = false;
        int q = ClampedCode(s, x, zv[g], &clip) + bias;
        clipped += clip;
        int64_t i = r * s.cols + c;
        if (!four) {
          codes.data[i] = static_cast<uint8_t>(static_cast<int8_t>(q));
        } else if (i & 1) {
          codes.data[i >> 1] = static_cast<uint8_t>(codes.data[i >> 1] | (q << 4));
        } else {
          codes.data[i >> 1] = static_cast<uint8_t>(q);  // low nibble first: this write also clears the high one
        }
      }
    }
    st3[t].clipped = clipped;
  });

  Stats all;
  for (auto& x : st) all.Add(x);
  for (auto& x : st3) all.Add(x);
  out[0] = static_cast<double>(all.zeroGroups);
  out[1] = static_cast<double>(all.underflow);
  out[2] = static_cast<double>(all.overflow);
  out[3] = static_cast<double>(all.subnormal);
  out[4] = static_cast<double>(all.nudged);
  out[5] = static_cast<double>(all.clipped);
  return out;
}

}  // namespace

void InitQuant(Napi::Env env, Napi::Object exports) { EXPORT_FN(env, exports, "quantizeInt", QuantizeInt); }
