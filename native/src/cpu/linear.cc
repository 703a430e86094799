// cpu/linear.cc — weight rows dequantized to float tiles (reference + AVX2), register-blocked tiles, the
// batch-1 GGML-block GEMV, and the fast / reference linears. Twins: ref::linear_* (engine/ops_ref.h).
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
    case kWeightI4Group:
    case kWeightNF4Group:
      ref::linear_q4_group(y, x, W.blocks.data(), W.scale.data(), W.asym ? W.zero.data() : nullptr, Q4Kind(W), W.group, b, T, in, out);
      break;
    default: THROW_ERROR("E_NATIVE", "weight not set");
  }
}

}  // namespace cpu
}  // namespace codecllm
