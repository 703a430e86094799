// cpu/linear.cc — weight rows dequantized to float tiles (reference + AVX2), register-blocked tiles, the
// batch-1 GGML-block GEMVs (q4_1, q8_0; q5_0, q4_k, q6_k through their AVX2 decoders), and the fast / reference linears. Twins: ref::linear_* (engine/ops_ref.h).
// Declarations: cpu/engine.h.
#include "cpu/engine.h"

namespace codecllm {
namespace cpu {

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
      case kWeightQ5_0:
      case kWeightQ4_K:
      case kWeightQ6_K: {  // any GGML block format: dequant_block of common/blocks.h through the one type table
        const WeightTypeInfo* ti = WeightTypeById(w.fmt);
        const size_t E = (size_t)ti->block_elems, bb = (size_t)ti->block_bytes;
        for (size_t k = 0; k < C / E; k++) ti->dequant(w.blocks.data() + (row * (C / E) + k) * bb, o + k * E);
        break;
      }
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
      case kWeightI4Group:
      case kWeightNF4Group:
        quant4::dequant_row(Q4Kind(w), w.blocks.data(), w.scale.data(), w.asym ? w.zero.data() : nullptr, (int)C, w.group, (int)row, o);
        break;
      default: THROW_ERROR("E_NATIVE", "weight not set");
    }
  }
}

// 4-bit layouts, fast: per group a 16-entry table of the group's 16 possible weights (each float(value * scale), the
// value quant4::dequant gives), then one lookup per element — the same floats as the reference, bit for bit.
void DequantRowsQ4(const Weight& w, int r0, int n, float* out) {
  const int C = w.cols, gs = w.group, ng = C / gs, kind = Q4Kind(w);
  float lut[16];
  for (int r = 0; r < n; r++) {
    const size_t row = (size_t)(r0 + r);
    const uint8_t* rc = w.blocks.data() + row * (size_t)(C / 2);
    float* o = out + (size_t)r * C;
    for (int g = 0; g < ng; g++) {
      const size_t gi = row * ng + g;
      const int z = w.asym ? w.zero[gi] : 0;
      for (int u = 0; u < 16; u++) lut[u] = quant4::dequant(kind, u, z, w.scale[gi]);
      const uint8_t* b = rc + (size_t)g * gs / 2;
      float* og = o + (size_t)g * gs;
      for (int j = 0; j < gs / 2; j++) {
        og[2 * j] = lut[b[j] & 15];
        og[2 * j + 1] = lut[b[j] >> 4];
      }
    }
  }
}

#if defined(CODECLLM_X86)
// ---- AVX2 decoders of the block formats q5_0, q4_k, q6_k: Decode(block, Prepare(block), sub, w) writes the 32
// weights of sub-chunk `sub` (0 .. kElems/32 - 1) of one block, in element order, as four 8-lane vectors (Prepare
// unpacks what a block's sub-chunks share: q4_k's 8 scale/min pairs). Bit-identical to
// blocks::dequant_block (twin: DequantRowsRef): every product below is exact in float (fp16 scale × small integers),
// so fused and unfused multiply-adds round the same way as the reference's separate steps.

/** fp16 at p (little-endian) -> float through F16C (exact, as ref::f16_to_f32). */
AVX2_FN inline float HalfAt(const uint8_t* p) { return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8))); }

/** byte i of the result = 0xff where bit i of the 32-bit little-endian word at p is set (llama.cpp bytes_from_bits_32). */
AVX2_FN inline __m256i BytesFromBits32(const uint8_t* p) {
  uint32_t x32;
  std::memcpy(&x32, p, 4);
  const __m256i shuf = _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL, 0x0101010101010101LL, 0);
  const __m256i bytes = _mm256_or_si256(_mm256_shuffle_epi8(_mm256_set1_epi32((int)x32), shuf), _mm256_set1_epi64x(0x7fbfdfeff7fbfdfeLL));
  return _mm256_cmpeq_epi8(bytes, _mm256_set1_epi64x(-1));
}
/** 32 int8 values -> four float vectors times d (w[i] = float(q * d)). */
AVX2_FN inline void I8ToF32x4(__m256i q, __m256 d, __m256 w[4]) {
  const __m128i a = _mm256_castsi256_si128(q), b = _mm256_extracti128_si256(q, 1);
  w[0] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(a)), d);
  w[1] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(a, 8))), d);
  w[2] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), d);
  w[3] = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b, 8))), d);
}

/** q5_0 (22 bytes: d, qh[4], qs[16]): w = (5-bit q - 16) * d; element i takes bit i of qh as its fifth bit. */
struct DecodeQ5_0 {
  static constexpr int kElems = blocks::BlockQ5_0::kElems, kBytes = (int)sizeof(blocks::BlockQ5_0);
  struct State {};
  static inline State Prepare(const uint8_t*) { return {}; }
  AVX2_FN static inline void Decode(const uint8_t* b, const State&, int, __m256 w[4]) {
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m128i qs = _mm_loadu_si128((const __m128i*)(b + 6));
    __m256i q = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(qs, 4), m4), _mm_and_si128(qs, m4));  // elements 0..15 | 16..31
    q = _mm256_or_si256(q, _mm256_and_si256(BytesFromBits32(b + 2), _mm256_set1_epi8(0x10)));
    I8ToF32x4(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), _mm256_set1_ps(HalfAt(b)), w);
  }
};

/** q4_k (144 bytes: d, dmin, scales[12], qs[128]): sub-chunk s = 32 nibbles (low of qs[32(s/2)..] for even s, high
 *  for odd), w = float(d*sc) * q - float(dmin*mn) with the 6-bit (sc, mn) of sub-block s. */
struct DecodeQ4_K {
  static constexpr int kElems = blocks::BlockQ4_K::kElems, kBytes = (int)sizeof(blocks::BlockQ4_K);
  /** float(d*sc) and float(dmin*mn) of the 8 sub-blocks, unpacked once per block. */
  struct State {
    float d1[8], m1[8];
  };
  AVX2_FN static inline State Prepare(const uint8_t* b) {
    State st;
    const float d = HalfAt(b), dmin = HalfAt(b + 2);
    for (int s = 0; s < 8; s++) {
      uint8_t sc, mn;
      blocks::scale_min_k4(s, b + 4, &sc, &mn);
      st.d1[s] = d * (float)sc;
      st.m1[s] = dmin * (float)mn;
    }
    return st;
  }
  AVX2_FN static inline void Decode(const uint8_t* b, const State& st, int s, __m256 w[4]) {
    const __m256 d1 = _mm256_set1_ps(st.d1[s]), m1 = _mm256_set1_ps(st.m1[s]);
    const __m256i raw = _mm256_loadu_si256((const __m256i*)(b + 16 + 32 * (s >> 1)));
    const __m256i q = _mm256_and_si256(s & 1 ? _mm256_srli_epi16(raw, 4) : raw, _mm256_set1_epi8(0x0f));
    const __m128i a = _mm256_castsi256_si128(q), c = _mm256_extracti128_si256(q, 1);
    w[0] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(a)), d1, m1);
    w[1] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(a, 8))), d1, m1);
    w[2] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(c)), d1, m1);
    w[3] = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_srli_si128(c, 8))), d1, m1);
  }
};

/** q6_k (210 bytes: ql[128], qh[64], scales[16] int8, d): sub-chunk s = half h = s/4, quarter j = s%4: q = nibble of
 *  ql[64h + 32(j&1) + l] (high for j >= 2) | ((qh[32h + l] >> 2j) & 3) << 4, minus 32; w = float(d*sc) * q with
 *  sc = scales[8h + 2j + l/16]. */
struct DecodeQ6_K {
  static constexpr int kElems = blocks::BlockQ6_K::kElems, kBytes = (int)sizeof(blocks::BlockQ6_K);
  struct State {};
  static inline State Prepare(const uint8_t*) { return {}; }
  AVX2_FN static inline void Decode(const uint8_t* b, const State&, int s, __m256 w[4]) {
    const int h = s >> 2, j = s & 3;
    const __m256i ql = _mm256_loadu_si256((const __m256i*)(b + 64 * h + 32 * (j & 1)));
    const __m256i qh = _mm256_loadu_si256((const __m256i*)(b + 128 + 32 * h));
    const __m256i m4 = _mm256_set1_epi8(0x0f), m2 = _mm256_set1_epi8(0x03);
    const __m256i lo = _mm256_and_si256(j >= 2 ? _mm256_srli_epi16(ql, 4) : ql, m4);
    const __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * j)), m2), 4);
    const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo, hi), _mm256_set1_epi8(32));
    const float d = HalfAt(b + 208);
    const int8_t* sc = (const int8_t*)(b + 192) + 8 * h + 2 * j;
    __m256 wa[4], wb[4];
    I8ToF32x4(q, _mm256_set1_ps(d * (float)sc[0]), wa);
    I8ToF32x4(q, _mm256_set1_ps(d * (float)sc[1]), wb);
    w[0] = wa[0], w[1] = wa[1], w[2] = wb[2], w[3] = wb[3];
  }
};

/** Rows [r0, r0+n) of a block-format weight into out (n, cols) through Dec::Decode. */
template <class Dec>
AVX2_FN void DequantRowsDecode(const Weight& w, int r0, int n, float* out) {
  const size_t C = (size_t)w.cols, nb = C / Dec::kElems;
  for (int r = 0; r < n; r++) {
    const uint8_t* b = w.blocks.data() + (size_t)(r0 + r) * nb * Dec::kBytes;
    float* o = out + (size_t)r * C;
    for (size_t k = 0; k < nb; k++, b += Dec::kBytes) {
      const typename Dec::State st = Dec::Prepare(b);
      for (int s = 0; s < Dec::kElems / 32; s++, o += 32) {
        __m256 v[4];
        Dec::Decode(b, st, s, v);
        for (int i = 0; i < 4; i++) _mm256_storeu_ps(o + 8 * i, v[i]);
      }
    }
  }
}

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
  if (w.fmt == kWeightQ5_0) return DequantRowsDecode<DecodeQ5_0>(w, r0, n, out);
  if (w.fmt == kWeightQ4_K) return DequantRowsDecode<DecodeQ4_K>(w, r0, n, out);
  if (w.fmt == kWeightQ6_K) return DequantRowsDecode<DecodeQ6_K>(w, r0, n, out);
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
  if (w.fmt == kWeightI4Group || w.fmt == kWeightNF4Group) return DequantRowsQ4(w, r0, n, out);
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

/**
 * Batch-1 GEMV over the q5_0 / q4_k / q6_k blocks (Dec: DecodeQ5_0, DecodeQ4_K, DecodeQ6_K), RB rows at a time: the
 * same weights (Dec::Decode) and the same per-row order as DequantRowsDecode + TileAvx2<1, R> (8-lane fma over i
 * ascending, then Hsum), without storing the dequantized rows. Twin: ref::linear_block<Block> (LinearRef).
 */
template <class Dec, int RB>
AVX2_FN void GemvDecodeAvx2(const Weight& W, const float* x, float* y, int r0) {
  const int nb = W.cols / Dec::kElems;
  __m256 acc[RB];
  const uint8_t* row[RB];
  for (int j = 0; j < RB; j++) {
    acc[j] = _mm256_setzero_ps();
    row[j] = W.blocks.data() + (size_t)(r0 + j) * nb * Dec::kBytes;
  }
  // per row: blocks k ascending, sub-chunks s ascending (the tile's order); the block's scales unpacked once (Prepare)
  for (int k = 0; k < nb; k++) {
    const float* xb = x + (size_t)k * Dec::kElems;
    for (int j = 0; j < RB; j++) {
      const uint8_t* b = row[j] + (size_t)k * Dec::kBytes;
      const typename Dec::State st = Dec::Prepare(b);
      for (int s = 0; s < Dec::kElems / 32; s++) {
        const float* xk = xb + 32 * s;
        __m256 w[4];
        Dec::Decode(b, st, s, w);
        acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(xk), w[0], acc[j]);
        acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 8), w[1], acc[j]);
        acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 16), w[2], acc[j]);
        acc[j] = _mm256_fmadd_ps(_mm256_loadu_ps(xk + 24), w[3], acc[j]);
      }
    }
  }
  for (int j = 0; j < RB; j++) y[r0 + j] = Hsum(acc[j]);
}

template <class Dec>
void GemvDecodeRows(const Weight& W, const float* x, float* y, int r0, int r1) {
  int r = r0;
  for (; r + 4 <= r1; r += 4) GemvDecodeAvx2<Dec, 4>(W, x, y, r);
  for (; r < r1; r++) GemvDecodeAvx2<Dec, 1>(W, x, y, r);
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
  if (T == 1 && (W.fmt == kWeightQ5_0 || W.fmt == kWeightQ4_K || W.fmt == kWeightQ6_K) && HasAvx2()) {
    if (W.fmt == kWeightQ5_0) GemvDecodeRows<DecodeQ5_0>(W, x, y, r0, r1);
    else if (W.fmt == kWeightQ4_K) GemvDecodeRows<DecodeQ4_K>(W, x, y, r0, r1);
    else GemvDecodeRows<DecodeQ6_K>(W, x, y, r0, r1);
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
    case kWeightQ5_0: ref::linear_q5_0(y, x, W.blocks.data(), b, T, in, out); break;
    case kWeightQ4_K: ref::linear_q4_k(y, x, W.blocks.data(), b, T, in, out); break;
    case kWeightQ6_K: ref::linear_q6_k(y, x, W.blocks.data(), b, T, in, out); break;
    case kWeightI8Channel:
      ref::linear_i8_channel(y, x, W.asym ? nullptr : (const int8_t*)W.blocks.data(), W.asym ? W.blocks.data() : nullptr, W.scale.data(),
                             W.asym ? W.zero.data() : nullptr, b, T, in, out);
      break;
    case kWeightI8Group:
      ref::linear_i8_group(y, x, W.asym ? nullptr : (const int8_t*)W.blocks.data(), W.asym ? W.blocks.data() : nullptr, W.scale.data(),
                           W.asym ? W.zero.data() : nullptr, W.group, b, T, in, out);
      break;
    case kWeightI4Group:
    case kWeightNF4Group:
      ref::linear_q4_group(y, x, W.blocks.data(), W.scale.data(), W.asym ? W.zero.data() : nullptr, Q4Kind(W), W.group, b, T, in, out);
      break;
    default: THROW_ERROR("E_NATIVE", "weight not set");
  }
}

}  // namespace cpu
}  // namespace codecllm
