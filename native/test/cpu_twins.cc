// cpu_twins.cc — the CPU engine's kernel twin test (executable codecllm_cpu_twins; not part of the addon): every fast
// kernel (cpu/linear.cc, cpu/attention.cc) beside its reference (engine/ops_ref.h) on seeded random inputs (and the
// engine through its C API, include/codecllm_engine.h: fast forward vs reference, KV-cache decode, the error path), compared
// element-wise |fast - ref| <= atol + rtol·|ref| with the tolerance stated per dtype (the weights a fast linear uses
// are dequantized bit-exactly as the reference does — checked by the dequant rows, atol = rtol = 0 — so only the
// summation order differs: float in 8 lanes vs double, and one bound holds for every weight dtype).
// Prints one row per case and the first mismatches of a failing case; exits 1 when any case fails, 2 on a usage error.
// CODECLLM_NO_AVX2=1 runs the plain (non-AVX2) fast kernels (the ISA is chosen once per process).
//
//   codecllm_cpu_twins                        every twin case (run by test/engine-cpu-native.test.ts, make test)
//   codecllm_cpu_twins ref <op> k=v ... < inputs > output      one REFERENCE op on caller-given inputs, for the tests
//       that hold the C++ references against their TS definitions (dtypes.ts, ggml-blocks.ts, quantize.ts, llama.ts):
//     dequant   format=<weight type name> rows= cols= [group= asym=0|1]   stdin: w bytes [scale f32 (n_scale)] [zero u8]
//               (GGML blocks; int8 codes; i4_group / nf4_group: packed 4-bit codes (rows, cols/2), common/quant4.h)
//     linear    format= T= in= out= [group= asym=0|1] bias=0|1            stdin: w [scale] [zero], x f32 (T,in), [bias f32 (out)]
//     units     format=q5_0|q4_k|q6_k|i4_group|nf4_group rows= cols= [group= asym=]   stdin: as dequant; through the
//               CUDA GEMV's unit cut (cuda/gemv_units.h) run on the host
//     rmsnorm   T= h= eps_bits=<float32 bits>                              stdin: x f32 (T,h), w f32 (h)
//     rope      T= n= D=                                                    stdin: x f32 (T,n,D), positions i32 (T), inv f32 (D/2)
//     ropeInvFreq D= scaling=0|1|2 theta= factor= low= high= original=   (doubles as decimal text)
//   codecllm_cpu_twins fast <op> ...      the same for the FAST kernel (ops dequant, linear)
//   parts=<bytes>,<bytes>,...: the byte size of each stdin part in order, so that a part of the wrong size is named
//   ("scale: expected 8 bytes, got 12"); without it the parts are cut in order.
//   stdout: the float32 result, raw little-endian.
//
// Output of the twin run, one tab-separated row per case:
//   CASE <PASS|FAIL> <op> <shape> n=<n> maxAbs=<x> ratio=<max err/tol> fails=<n> atol=<a> rtol=<r>
//   FIRST <op> <mismatch>              (up to 5 per failing case)
// then "<passed>/<total> cpu kernel twins passed (isa <avx2+fma|scalar>)".
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "codecllm_engine.h"
#include "common/half.h"
#include "cpu/engine.h"
#include "cuda/gemv_units.h"

namespace {

using namespace codecllm;
using namespace codecllm::cpu;

struct Cmp {
  double atol = 0, rtol = 0;
  size_t n = 0, fails = 0;
  double maxAbs = 0, maxRatio = 0;
  std::vector<std::string> first;
  /** |got - want| <= atol + rtol·|want|; atol = rtol = 0 means bit for bit (NaN equal to NaN). */
  void Check(const float* want, const float* got, size_t count) {
    for (size_t i = 0; i < count; i++) {
      const double w = want[i], g = got[i], d = std::fabs(g - w);
      bool bad;
      if (atol == 0 && rtol == 0) {
        uint32_t a, b;
        std::memcpy(&a, &want[i], 4);
        std::memcpy(&b, &got[i], 4);
        bad = a != b && !(std::isnan(w) && std::isnan(g));
      } else {
        const double tol = atol + rtol * std::fabs(w);
        bad = !(d <= tol);
        maxRatio = std::max(maxRatio, std::isnan(d) ? INFINITY : d / tol);
      }
      maxAbs = std::max(maxAbs, std::isnan(d) ? (bad ? INFINITY : 0.0) : d);
      if (bad) {
        if (first.size() < 5) first.push_back("[" + std::to_string(i) + "] ref " + std::to_string(w) + " got " + std::to_string(g));
        fails++;
      }
    }
    n += count;
  }
};

std::vector<float> Randn(std::mt19937& rng, size_t n, float std = 1.f) {
  std::normal_distribution<float> d(0.f, std);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

/** The weight dtypes of the twin cases: a storage format, int8 ones symmetric or asymmetric. */
struct Fmt {
  const char* label;
  int type;
  bool asym;
};
const Fmt kFmts[] = {{"f32", kWeightF32, false},         {"f16", kWeightF16, false},          {"bf16", kWeightBF16, false},
                     {"q8_0", kWeightQ8_0, false},       {"q4_1", kWeightQ4_1, false},        {"i8_channel", kWeightI8Channel, false},
                     {"i8_channel_asym", kWeightI8Channel, true}, {"i8_group", kWeightI8Group, false}, {"i8_group_asym", kWeightI8Group, true}};
/** The k-quant / q5_0 block formats of Gemma 3's Q4_K_M file: random bytes with finite fp16 scales at these offsets,
 *  sized so that |w| ~ 1/sqrt(cols) (unit: max |code · sub-scale| per unit of d). */
struct KFmt {
  const char* label;
  int type;
  std::vector<size_t> halves;
  float unit;
};
const KFmt kKFmts[] = {{"q5_0", kWeightQ5_0, {0}, 16.f}, {"q4_k", kWeightQ4_K, {0, 2}, 63.f * 15.f}, {"q6_k", kWeightQ6_K, {208}, 128.f * 32.f}};
constexpr int kGroup = 32;

Weight RandomKWeight(const KFmt& f, int rows, int cols, std::mt19937& rng) {
  Weight w;
  w.fmt = f.type, w.rows = rows, w.cols = cols;
  const WeightTypeInfo* ti = WeightTypeById(f.type);
  const size_t nb = (size_t)rows * cols / ti->block_elems, bb = ti->block_bytes;
  w.blocks.resize(nb * bb);
  for (auto& b : w.blocks) b = (uint8_t)(rng() & 0xff);
  const float scale = 1.f / (std::sqrt((float)cols) * f.unit);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (size_t k = 0; k < nb; k++)
    for (size_t o : f.halves) {
      const uint16_t h = f32_to_f16((0.25f + u(rng)) * scale);
      w.blocks[k * bb + o] = h & 0xff, w.blocks[k * bb + o + 1] = h >> 8;
    }
  return w;
}

/** A seeded random (rows, cols) weight stored in `f`: halves of normal values, GGML blocks with random scales and
 *  codes, int8 codes with positive scales (and zero points). */
Weight RandomWeight(const Fmt& f, int rows, int cols, std::mt19937& rng) {
  Weight w;
  w.fmt = f.type, w.rows = rows, w.cols = cols;
  const size_t n = (size_t)rows * cols;
  const std::vector<float> v = Randn(rng, n, 1.f / std::sqrt((float)cols));
  if (f.type == kWeightF32) {
    w.f32 = v;
  } else if (f.type == kWeightF16 || f.type == kWeightBF16) {
    w.half.resize(n);
    for (size_t i = 0; i < n; i++) w.half[i] = f.type == kWeightF16 ? f32_to_f16(v[i]) : f32_to_bf16(v[i]);
  } else if (f.type == kWeightQ8_0 || f.type == kWeightQ4_1) {
    const size_t bb = BlockBytes(f.type), nblk = n / 32;
    w.blocks.resize(nblk * bb);
    for (size_t b = 0; b < nblk; b++) {
      uint8_t* p = w.blocks.data() + b * bb;
      const uint16_t d = f32_to_f16(0.002f * (1 + (float)(rng() % 100)));
      p[0] = d & 0xff, p[1] = d >> 8;
      size_t k = 2;
      if (f.type == kWeightQ4_1) {
        const uint16_t m = f32_to_f16(-0.1f * (float)(rng() % 10));
        p[2] = m & 0xff, p[3] = m >> 8;
        k = 4;
      }
      for (; k < bb; k++) p[k] = (uint8_t)(rng() & 0xff);
    }
  } else {
    w.asym = f.asym;
    w.group = f.type == kWeightI8Group ? kGroup : 0;
    const size_t ng = f.type == kWeightI8Group ? (size_t)rows * ((cols + kGroup - 1) / kGroup) : (size_t)rows;
    w.blocks.resize(n);
    for (auto& c : w.blocks) c = (uint8_t)(f.asym ? rng() % 256 : (uint8_t)(int8_t)((int)(rng() % 255) - 127));
    w.scale.resize(ng);
    for (auto& s : w.scale) s = 0.001f * (1 + (float)(rng() % 50));
    if (f.asym) {
      w.zero.resize(ng);
      for (auto& z : w.zero) z = (uint8_t)(rng() % 256);
    }
  }
  return w;
}

struct Row {
  std::string op, shape;
  Cmp c;
};


// ---- the engine through its C API (include/codecllm_engine.h): the whole forward fast vs on the reference ops, KV-cache
// decode vs one prefill, and the error path (status, code, message, site). Shapes: h 64, I 128, L 2, H 4 / Hkv 2, D 16, V 50.
void RunApi(std::vector<Row>& rows, std::mt19937& rng) {
  const cllm_dims d{64, 128, 2, 4, 2, 16, 50};
  std::vector<float> inv(d.head_dim / 2);
  ref::rope_inv_freq(inv.data(), d.head_dim, 10000.0, 0, 1, 1, 1, 1);
  cllm_cpu_engine* e = nullptr;
  auto ok = [](cllm_status s, const char* what) {
    CHECK_ARG(s == CLLM_OK, std::string(what) + ": " + cllm_last_error_code() + " " + cllm_last_error_message());
  };
  ok(cllm_cpu_create(&d, 1e-5f, inv.data(), inv.size(), nullptr, &e), "cllm_cpu_create");
  std::unique_ptr<cllm_cpu_engine, void (*)(cllm_cpu_engine*)> guard(e, cllm_cpu_destroy);
  auto set = [&](int layer, int slot, size_t n, bool norm) {
    std::vector<float> w = Randn(rng, n, norm ? 0.1f : 0.2f);
    if (norm)
      for (auto& x : w) x += 1;
    int32_t t = -1;
    ok(cllm_cpu_set_weight(e, layer, slot, w.data(), w.size(), nullptr, 0, -1, 1, nullptr, &t), "cllm_cpu_set_weight");
  };
  const size_t h = d.hidden, I = d.intermediate, qd = (size_t)d.heads * d.head_dim, kvd = (size_t)d.kv_heads * d.head_dim, V = d.vocab;
  set(-1, 0, V * h, false);
  set(-1, 1, h, true);
  set(-1, 2, V * h, false);
  for (int l = 0; l < d.layers; l++) {
    set(l, 0, h, true), set(l, 1, h, true);
    set(l, 2, qd * h, false), set(l, 3, kvd * h, false), set(l, 4, kvd * h, false), set(l, 5, h * qd, false);
    set(l, 6, I * h, false), set(l, 7, I * h, false), set(l, 8, h * I, false);
  }
  const int32_t toks[5] = {1, 7, 3, 49, 0};
  std::vector<float> fast(5 * V), refl(5 * V), step(V);
  ok(cllm_cpu_forward(e, -1, toks, 5, 0, 0, fast.data()), "forward fast");
  ok(cllm_cpu_forward(e, -1, toks, 5, 0, 1, refl.data()), "forward reference");
  Row a{"api", "cllm_cpu_forward fast vs reference, 5 tokens", {}};
  a.c.atol = 1e-4, a.c.rtol = 1e-4;
  a.c.Check(refl.data(), fast.data(), refl.size());
  rows.push_back(std::move(a));
  // prefill 4 tokens into a cache, then decode the 5th: its logits = the one-shot forward's last row
  int32_t cache = 0, len = 0;
  ok(cllm_cpu_new_cache(e, &cache), "new cache");
  std::vector<float> pre(V);
  ok(cllm_cpu_forward(e, cache, toks, 4, 1, 0, pre.data()), "prefill");
  ok(cllm_cpu_forward(e, cache, toks + 4, 1, 1, 0, step.data()), "decode");
  ok(cllm_cpu_cache_length(e, cache, &len), "cache length");
  Row b{"api", "KV-cache decode (4 + 1) vs 5-token forward, cache length " + std::to_string(len), {}};
  b.c.atol = 1e-4, b.c.rtol = 1e-4;
  b.c.Check(fast.data() + 4 * V, step.data(), V);
  if (len != 5) b.c.fails++, b.c.first.push_back("cache length " + std::to_string(len) + ", want 5");
  rows.push_back(std::move(b));
  // the error path: a token outside the vocabulary is CLLM_E_ARG with code, message and site, and changes nothing
  const int32_t bad = d.vocab;
  const cllm_status st = cllm_cpu_forward(e, cache, &bad, 1, 1, 0, step.data());
  ok(cllm_cpu_cache_length(e, cache, &len), "cache length");
  Row c{"api", "error path: token V -> CLLM_E_ARG", {}};
  c.c.n = 1;
  const std::string msg = cllm_last_error_message(), site = cllm_last_error_site();
  if (st != CLLM_E_ARG || std::string(cllm_last_error_code()) != "E_ARG" || msg.find("outside [0, 50)") == std::string::npos ||
      site.rfind("api.cc:", 0) != 0 || len != 5) {
    c.c.fails = 1;
    c.c.first.push_back("status " + std::to_string(st) + " code " + cllm_last_error_code() + " '" + msg + "' at " + site + ", cache length " + std::to_string(len));
  }
  rows.push_back(std::move(c));
}

std::vector<Row> RunTwins() {
  std::vector<Row> rows;
  std::mt19937 rng(1);
  // linear: T, in, out — decode (T=1) and prefill (T>1), edges of the 3-token x 4/8-row tiles, in % 8 != 0 where allowed
  const int shapes[][3] = {{1, 64, 8}, {1, 576, 37}, {2, 96, 13}, {3, 128, 4}, {5, 32, 17}, {7, 1536, 9}, {33, 64, 33}, {128, 192, 20}, {3, 70, 11}};
  for (const Fmt& f : kFmts)
    for (const auto& s : shapes) {
      const int T = s[0], in = s[1], out = s[2];
      if ((f.type == kWeightQ8_0 || f.type == kWeightQ4_1) && in % 32 != 0) continue;
      const Weight w = RandomWeight(f, out, in, rng);
      const std::vector<float> x = Randn(rng, (size_t)T * in);
      const std::vector<float> bias = Randn(rng, (size_t)out);
      for (const float* b : {(const float*)nullptr, bias.data()}) {
        Row r{"linear", std::string(f.label) + " T=" + std::to_string(T) + " in=" + std::to_string(in) + " out=" + std::to_string(out) + (b ? " bias" : ""), {}};
        r.c.atol = 2e-5, r.c.rtol = 1e-4;
        std::vector<float> want((size_t)T * out), got((size_t)T * out);
        LinearRef(w, b, x.data(), T, want.data());
        LinearFast(x.data(), T, {{&w, b, got.data()}});
        r.c.Check(want.data(), got.data(), want.size());
        rows.push_back(std::move(r));
      }
    }
  // dequantize: the tiles a fast linear multiplies are the reference's values, bit for bit
  for (const Fmt& f : kFmts)
    for (const auto& s : {std::pair<int, int>{3, 64}, {9, 576}, {1, 96}, {5, 1536}}) {
      const Weight w = RandomWeight(f, s.first, s.second, rng);
      Row r{"dequant", std::string(f.label) + " " + std::to_string(s.first) + "x" + std::to_string(s.second), {}};
      std::vector<float> want((size_t)s.first * s.second), got(want.size());
      DequantRowsRef(w, 0, s.first, want.data());
      DequantRows(w, 0, s.first, got.data());
      r.c.Check(want.data(), got.data(), want.size());
      rows.push_back(std::move(r));
    }
  // q5_0 / q4_k / q6_k blocks: decode (T=1: the fused GEMVs, 4 rows + a tail) and prefill (T>1: dequantized tiles)
  const int kshapes[][3] = {{1, 256, 8}, {1, 512, 37}, {1, 2048, 13}, {2, 256, 5}, {3, 1024, 11}, {17, 768, 9}};
  for (const KFmt& f : kKFmts) {
    for (const auto& s : kshapes) {
      const int T = s[0], in = s[1], out = s[2];
      const Weight w = RandomKWeight(f, out, in, rng);
      const std::vector<float> x = Randn(rng, (size_t)T * in), bias = Randn(rng, (size_t)out);
      for (const float* b : {(const float*)nullptr, bias.data()}) {
        Row r{"linear", std::string(f.label) + " T=" + std::to_string(T) + " in=" + std::to_string(in) + " out=" + std::to_string(out) + (b ? " bias" : ""), {}};
        r.c.atol = 2e-5, r.c.rtol = 1e-4;  // the bound of every other dtype: only the summation order differs
        std::vector<float> want((size_t)T * out), got((size_t)T * out);
        LinearRef(w, b, x.data(), T, want.data());
        LinearFast(x.data(), T, {{&w, b, got.data()}});
        r.c.Check(want.data(), got.data(), want.size());
        rows.push_back(std::move(r));
      }
    }
    for (const auto& s : {std::pair<int, int>{3, 256}, {5, 1024}, {1, 2048}}) {
      const Weight w = RandomKWeight(f, s.first, s.second, rng);
      Row r{"dequant", std::string(f.label) + " " + std::to_string(s.first) + "x" + std::to_string(s.second), {}};
      std::vector<float> want((size_t)s.first * s.second), got(want.size());
      DequantRowsRef(w, 0, s.first, want.data());
      DequantRows(w, 0, s.first, got.data());
      r.c.Check(want.data(), got.data(), want.size());
      rows.push_back(std::move(r));
    }
  }
  // attention (GQA, causal, over a KV cache): T, H, Hkv, D, P, Smax
  const int att[][6] = {{1, 4, 2, 16, 0, 8}, {1, 9, 3, 64, 37, 64}, {5, 4, 4, 8, 0, 5}, {6, 8, 2, 32, 10, 20}, {12, 9, 3, 64, 0, 12}};
  for (const auto& a : att) {
    const int T = a[0], H = a[1], Hkv = a[2], D = a[3], P = a[4], Smax = a[5];
    const std::vector<float> q = Randn(rng, (size_t)T * H * D), kc = Randn(rng, (size_t)Hkv * Smax * D), vc = Randn(rng, (size_t)Hkv * Smax * D);
    Row r{"attention", "T=" + std::to_string(T) + " H=" + std::to_string(H) + "/" + std::to_string(Hkv) + " D=" + std::to_string(D) + " P=" + std::to_string(P), {}};
    r.c.atol = 1e-5, r.c.rtol = 1e-4;
    std::vector<float> want((size_t)T * H * D), got(want.size()), scratch((size_t)P + T);
    ref::attention(want.data(), q.data(), kc.data(), vc.data(), T, H, Hkv, D, P, Smax, scratch.data());
    AttentionFast(got.data(), q.data(), kc.data(), vc.data(), T, H, Hkv, D, P, Smax, (float)(1.0 / std::sqrt((double)D)), 0, 0.0f);
    r.c.Check(want.data(), got.data(), want.size());
    rows.push_back(std::move(r));
  }
  // attention_ex (Gemma 2/3 local layers): sliding window, soft-capping, a scale; T, H, Hkv, D, P, Smax, window, softcap,
  // scale (0: float(1/sqrt(D))). Each case also checks that the window changes the result (the case can fail).
  const struct { int T, H, Hkv, D, P, Smax, window; float softcap, scale; } attx[] = {
      {1, 4, 1, 256, 40, 64, 6, 0.f, 0.f}, {7, 4, 2, 16, 0, 8, 3, 50.f, 0.25f}, {5, 8, 2, 32, 20, 32, 1, 0.f, 0.f}, {9, 2, 1, 8, 3, 12, 100, 30.f, 0.125f}};
  for (const auto& a : attx) {
    const std::vector<float> q = Randn(rng, (size_t)a.T * a.H * a.D), kc = Randn(rng, (size_t)a.Hkv * a.Smax * a.D),
                             vc = Randn(rng, (size_t)a.Hkv * a.Smax * a.D);
    const float scale = a.scale > 0 ? a.scale : (float)(1.0 / std::sqrt((double)a.D));
    Row r{"attention_ex", "T=" + std::to_string(a.T) + " H=" + std::to_string(a.H) + "/" + std::to_string(a.Hkv) + " D=" + std::to_string(a.D) +
                              " P=" + std::to_string(a.P) + " window=" + std::to_string(a.window) + " softcap=" + std::to_string((int)a.softcap), {}};
    r.c.atol = 1e-5, r.c.rtol = 1e-4;
    std::vector<float> want((size_t)a.T * a.H * a.D), got(want.size()), nowin(want.size()), scratch((size_t)a.P + a.T);
    ref::attention_ex(want.data(), q.data(), kc.data(), vc.data(), a.T, a.H, a.Hkv, a.D, a.P, a.Smax, scale, a.window, a.softcap, scratch.data());
    AttentionFast(got.data(), q.data(), kc.data(), vc.data(), a.T, a.H, a.Hkv, a.D, a.P, a.Smax, scale, a.window, a.softcap);
    r.c.Check(want.data(), got.data(), want.size());
    if (a.P + a.T > a.window) {
      ref::attention_ex(nowin.data(), q.data(), kc.data(), vc.data(), a.T, a.H, a.Hkv, a.D, a.P, a.Smax, scale, 0, a.softcap, scratch.data());
      bool differs = false;
      for (size_t i = 0; i < want.size(); i++) differs = differs || std::fabs(nowin[i] - want[i]) > 1e-4;
      if (!differs) r.c.fails++, r.c.first.push_back("the window has no effect on the reference");
    }
    rows.push_back(std::move(r));
  }
  for (size_t n : {1, 7, 4096, 4097, 3 * 2048}) {
    const std::vector<float> g = Randn(rng, n, 3), u = Randn(rng, n);
    Row r{"geglu", "n=" + std::to_string(n), {}};
    r.c.atol = 1e-6, r.c.rtol = 1e-6;
    std::vector<float> want(n), got(n);
    ref::geglu(want.data(), g.data(), u.data(), n);
    GegluFast(got.data(), g.data(), u.data(), n);
    r.c.Check(want.data(), got.data(), n);
    rows.push_back(std::move(r));
  }
  for (size_t n : {1, 7, 4096, 4097, 3 * 1536}) {
    const std::vector<float> g = Randn(rng, n, 3), u = Randn(rng, n);
    Row r{"swiglu", "n=" + std::to_string(n), {}};
    r.c.atol = 1e-6, r.c.rtol = 1e-6;
    std::vector<float> want(n), got(n);
    ref::swiglu(want.data(), g.data(), u.data(), n);
    SwigluFast(got.data(), g.data(), u.data(), n);
    r.c.Check(want.data(), got.data(), n);
    rows.push_back(std::move(r));
  }
  RunApi(rows, rng);
  return rows;
}

// ---- `ref <op>`: one reference op on inputs read from stdin
std::map<std::string, std::string> KeyValues(int argc, char** argv, int from) {
  std::map<std::string, std::string> kv;
  for (int i = from; i < argc; i++) {
    const std::string a = argv[i];
    const size_t eq = a.find('=');
    CHECK_ARG(eq != std::string::npos && eq > 0, "argument '" + a + "' is not key=value");
    kv[a.substr(0, eq)] = a.substr(eq + 1);
  }
  return kv;
}
double Num(const std::map<std::string, std::string>& kv, const char* k) {
  auto it = kv.find(k);
  CHECK_ARG(it != kv.end(), std::string("missing ") + k + "=");
  char* end = nullptr;
  const double v = std::strtod(it->second.c_str(), &end);
  CHECK_ARG(end && *end == 0 && !it->second.empty(), std::string(k) + "=" + it->second + " is not a number");
  return v;
}
int Int(const std::map<std::string, std::string>& kv, const char* k, int lo, int hi) {
  const double v = Num(kv, k);
  CHECK_ARG(v == std::floor(v) && v >= lo && v <= hi, std::string(k) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int)v;
}

/** Reads the stdin bytes in order, each part of a stated size. */
struct Input {
  std::vector<uint8_t> bytes;
  size_t at = 0;
  std::vector<size_t> parts;  // parts= : the size of each part in order (empty: cut in order)
  size_t part = 0;
  template <class T>
  std::vector<T> Take(size_t n, const char* what) {
    if (!parts.empty()) {
      CHECK_ARG(part < parts.size(), std::string(what) + ": expected " + std::to_string(n * sizeof(T)) + " bytes, got none (no part left)");
      CHECK_ARG(parts[part] == n * sizeof(T), std::string(what) + ": expected " + std::to_string(n * sizeof(T)) + " bytes, got " + std::to_string(parts[part]));
      part++;
    }
    CHECK_ARG(bytes.size() - at >= n * sizeof(T), std::string("stdin: ") + what + ": expected " + std::to_string(n * sizeof(T)) + " more bytes, got " + std::to_string(bytes.size() - at));
    std::vector<T> v(n);
    if (n) std::memcpy(v.data(), bytes.data() + at, n * sizeof(T));
    at += n * sizeof(T);
    return v;
  }
  void End() {
    CHECK_ARG(parts.empty() || part == parts.size(), "stdin: " + std::to_string(parts.size() - part) + " parts left over");
    CHECK_ARG(at == bytes.size(), "stdin: " + std::to_string(bytes.size() - at) + " bytes left over");
  }
};

/** A weight of format= (rows, cols) read from stdin: values, GGML blocks, int8 codes or packed 4-bit codes with their
 *  scale / zero parts (group=, asym=). */
Weight ReadWeight(const std::map<std::string, std::string>& kv, Input& in, int rows, int cols) {
  auto it = kv.find("format");
  CHECK_ARG(it != kv.end(), "missing format=");
  const WeightTypeInfo* ti = WeightTypeByName(it->second.c_str());
  CHECK_ARG(ti != nullptr, "unknown weight format '" + it->second + "'");
  const size_t n = (size_t)rows * cols;
  Weight w;
  w.fmt = ti->id, w.rows = rows, w.cols = cols;
  if (ti->id == kWeightF32) {
    w.f32 = in.Take<float>(n, "w");
  } else if (ti->id == kWeightF16 || ti->id == kWeightBF16) {
    w.half = in.Take<uint16_t>(n, "w");
  } else if (IsEngineBlockFormat(ti->id)) {
    CHECK_ARG(cols % ti->block_elems == 0, "cols must be a multiple of " + std::to_string(ti->block_elems) + " for " + it->second);
    w.blocks = in.Take<uint8_t>(n / ti->block_elems * ti->block_bytes, "w");
  } else if (ti->id == kWeightI8Channel || ti->id == kWeightI8Group) {
    w.asym = kv.count("asym") && Int(kv, "asym", 0, 1) == 1;
    w.group = ti->id == kWeightI8Group ? Int(kv, "group", 1, cols) : 0;
    const size_t ng = ti->id == kWeightI8Group ? (size_t)rows * ((cols + w.group - 1) / w.group) : (size_t)rows;
    w.blocks = in.Take<uint8_t>(n, "w");
    w.scale = in.Take<float>(ng, "scale");
    if (w.asym) w.zero = in.Take<uint8_t>(ng, "zero");
  } else if (ti->id == kWeightI4Group || ti->id == kWeightNF4Group) {
    // common/quant4.h: packed codes (rows, cols/2), scale (rows, cols/group) fp32, zero (i4 asym) uint8 per group
    w.asym = kv.count("asym") && Int(kv, "asym", 0, 1) == 1;
    CHECK_ARG(!w.asym || ti->id == kWeightI4Group, "nf4_group has no zero points");
    w.group = Int(kv, "group", 2, cols);
    CHECK_ARG(w.group % 2 == 0 && cols % w.group == 0, it->second + ": group must be even and divide cols");
    w.blocks = in.Take<uint8_t>(n / 2, "w");
    const size_t ng = (size_t)rows * (cols / w.group);
    w.scale = in.Take<float>(ng, "scale");
    if (w.asym) w.zero = in.Take<uint8_t>(ng, "zero");
  } else {
    THROW_ERROR("E_ARG", "format '" + it->second + "' is not a CPU engine storage format");
  }
  return w;
}

/** y (rows, cols) = every unit of every row through the CUDA GEMV's unit loader U (cuda/gemv_units.h), on the host. */
template <class U>
void RunUnits(const units::RowSrc& src, int rows, int cols, float* y) {
  for (int r = 0; r < rows; r++)
    for (int u = 0; u < cols / U::kUnitElems; u++) U::Load(src, r, u, y + (size_t)r * cols + (size_t)u * U::kUnitElems);
}

std::vector<float> RunRef(const std::string& op, bool fast, const std::map<std::string, std::string>& kv, Input& in) {
  CHECK_ARG(!fast || op == "dequant" || op == "linear", "op '" + op + "' has only a reference version (fast: dequant, linear)");
  if (op == "dequant") {
    const int rows = Int(kv, "rows", 1, 1 << 22), cols = Int(kv, "cols", 1, 1 << 18);
    const Weight w = ReadWeight(kv, in, rows, cols);
    in.End();
    std::vector<float> y((size_t)rows * cols);
    (fast ? DequantRows : DequantRowsRef)(w, 0, rows, y.data());
    return y;
  }
  if (op == "linear") {
    const int T = Int(kv, "T", 1, 1 << 16), inF = Int(kv, "in", 1, 1 << 18), outF = Int(kv, "out", 1, 1 << 22);
    const Weight w = ReadWeight(kv, in, outF, inF);
    const std::vector<float> x = in.Take<float>((size_t)T * inF, "x");
    const bool has_bias = kv.count("bias") && Int(kv, "bias", 0, 1) == 1;
    const std::vector<float> bias = has_bias ? in.Take<float>((size_t)outF, "bias") : std::vector<float>();
    in.End();
    std::vector<float> y((size_t)T * outF);
    if (fast)
      LinearFast(x.data(), T, {{&w, has_bias ? bias.data() : nullptr, y.data()}});
    else
      LinearRef(w, has_bias ? bias.data() : nullptr, x.data(), T, y.data());
    return y;
  }
  if (op == "units") {
    const int rows = Int(kv, "rows", 1, 1 << 22), cols = Int(kv, "cols", 1, 1 << 18);
    const Weight w = ReadWeight(kv, in, rows, cols);
    in.End();
    std::vector<float> y((size_t)rows * cols);
    const int t = w.fmt;
    if (t == kWeightQ5_0 || t == kWeightQ4_K || t == kWeightQ6_K) {
      const units::RowSrc src{w.blocks.data(), nullptr, nullptr, cols, 0};
      if (t == kWeightQ5_0) RunUnits<units::Units<kWeightQ5_0>>(src, rows, cols, y.data());
      if (t == kWeightQ4_K) RunUnits<units::Units<kWeightQ4_K>>(src, rows, cols, y.data());
      if (t == kWeightQ6_K) RunUnits<units::Units<kWeightQ6_K>>(src, rows, cols, y.data());
      return y;
    }
    CHECK_ARG(t == kWeightI4Group || t == kWeightNF4Group, "units: format must be q5_0, q4_k, q6_k, i4_group or nf4_group");
    CHECK_ARG(w.group % 8 == 0, "units: the CUDA GEMV needs group % 8 == 0");
    const units::RowSrc src{w.blocks.data(), w.scale.data(), w.asym ? w.zero.data() : nullptr, cols, w.group};
    const int kind = Q4Kind(w);
    if (kind == quant4::kInt4Sym) RunUnits<units::Q4Units<quant4::kInt4Sym>>(src, rows, cols, y.data());
    if (kind == quant4::kInt4Asym) RunUnits<units::Q4Units<quant4::kInt4Asym>>(src, rows, cols, y.data());
    if (kind == quant4::kNf4) RunUnits<units::Q4Units<quant4::kNf4>>(src, rows, cols, y.data());
    return y;
  }
  if (op == "rmsnorm") {
    const int T = Int(kv, "T", 1, 1 << 16), h = Int(kv, "h", 1, 1 << 16);
    const uint32_t bits = (uint32_t)Num(kv, "eps_bits");
    float eps;
    std::memcpy(&eps, &bits, 4);
    const std::vector<float> x = in.Take<float>((size_t)T * h, "x"), w = in.Take<float>((size_t)h, "w");
    in.End();
    std::vector<float> y((size_t)T * h);
    ref::rmsnorm(y.data(), x.data(), w.data(), T, h, eps);
    return y;
  }
  if (op == "rope") {
    const int T = Int(kv, "T", 1, 1 << 16), n = Int(kv, "n", 1, 1024), D = Int(kv, "D", 2, 1024);
    std::vector<float> x = in.Take<float>((size_t)T * n * D, "x");
    const std::vector<int32_t> pos = in.Take<int32_t>((size_t)T, "positions");
    const std::vector<float> inv = in.Take<float>((size_t)D / 2, "invFreq");
    in.End();
    ref::rope_rotate_half(x.data(), pos.data(), inv.data(), T, n, D);
    return x;
  }
  if (op == "ropeInvFreq") {
    const int D = Int(kv, "D", 2, 1024);
    in.End();
    std::vector<float> y((size_t)D / 2);
    ref::rope_inv_freq(y.data(), D, Num(kv, "theta"), Int(kv, "scaling", 0, 2), Num(kv, "factor"), Num(kv, "low"), Num(kv, "high"), Num(kv, "original"));
    return y;
  }
  THROW_ERROR("E_ARG", "unknown reference op '" + op + "' (dequant, linear, units, rmsnorm, rope, ropeInvFreq)");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc > 1) {
      const std::string mode = argv[1];
      CHECK_ARG((mode == "ref" || mode == "fast") && argc > 2, "usage: codecllm_cpu_twins [ref|fast <op> key=value ... < inputs > output]");
      Input in;
      in.bytes.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
      std::map<std::string, std::string> kv = KeyValues(argc, argv, 3);
      if (kv.count("parts")) {
        const std::string ps = kv["parts"];
        size_t at = 0;
        while (at <= ps.size() && !ps.empty()) {
          const size_t c = ps.find(',', at);
          const std::string one = ps.substr(at, c == std::string::npos ? std::string::npos : c - at);
          char* end = nullptr;
          const unsigned long long v = std::strtoull(one.c_str(), &end, 10);
          CHECK_ARG(!one.empty() && end && *end == 0, "parts=" + ps + ": expected byte counts separated by commas");
          in.parts.push_back((size_t)v);
          if (c == std::string::npos) break;
          at = c + 1;
        }
        kv.erase("parts");
      }
      const std::vector<float> y = RunRef(argv[2], mode == "fast", kv, in);
      if (!y.empty() && std::fwrite(y.data(), 4, y.size(), stdout) != y.size()) THROW_ERROR("E_IO", "stdout: short write");
      return 0;
    }
    const std::vector<Row> rows = RunTwins();
    size_t passed = 0;
    for (const Row& r : rows) {
      const bool pass = r.c.fails == 0 && r.c.n > 0;
      passed += pass;
      std::printf("CASE\t%s\t%s\t%s\tn=%zu\tmaxAbs=%.3e\tratio=%.3f\tfails=%zu\tatol=%.1e\trtol=%.1e\n", pass ? "PASS" : "FAIL", r.op.c_str(), r.shape.c_str(),
                  r.c.n, r.c.maxAbs, r.c.maxRatio, r.c.fails, r.c.atol, r.c.rtol);
      for (const std::string& f : r.c.first) std::printf("FIRST\t%s\t%s\n", r.op.c_str(), f.c_str());
    }
    std::printf("%zu/%zu cpu kernel twins passed (isa %s)\n", passed, rows.size(), HasAvx2() ? "avx2+fma" : "scalar");
    return passed == rows.size() ? 0 : 1;
  } catch (const codecllm::Error& e) {
    std::fprintf(stderr, "codecllm: cpu_twins.cc: %s [%s]\n", e.what(), e.code().c_str());
    return 2;
  }
}
