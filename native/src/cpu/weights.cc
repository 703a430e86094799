// cpu/weights.cc — choosing a weight's storage: the smallest format that reproduces its float32 values bit for bit.
// Declarations: cpu/engine.h.
#include "cpu/engine.h"

namespace codecllm {
namespace cpu {

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

Weight MakeWeight(const float* f, int rows, int cols, const uint8_t* raw, size_t raw_bytes, int raw_type, bool auto_fmt,
                  const Int8Codes* i8) {
  Weight w;
  w.rows = rows;
  w.cols = cols;
  const size_t n = (size_t)rows * cols;
  if (auto_fmt && raw && i8 && (raw_type == kWeightI8Channel || raw_type == kWeightI8Group)) {
    const bool grp = raw_type == kWeightI8Group;
    CHECK_ARG(!grp || (i8->group >= 1 && i8->group <= cols), "i8_group: group size must be in [1, cols]");
    const size_t ng = grp ? (size_t)rows * ((cols + i8->group - 1) / i8->group) : (size_t)rows;
    CHECK_ARG(raw_bytes == n, "int8 codes: expected " + std::to_string(n) + " bytes, got " + std::to_string(raw_bytes));
    CHECK_ARG(i8->n_scale == ng, "int8 scales: expected " + std::to_string(ng) + ", got " + std::to_string(i8->n_scale));
    CHECK_ARG(!i8->zero || i8->n_zero == ng, "int8 zero points: expected " + std::to_string(ng) + ", got " + std::to_string(i8->n_zero));
    w.fmt = grp ? kWeightI8Group : kWeightI8Channel;
    w.group = grp ? i8->group : 0;
    w.asym = i8->zero != nullptr;
    w.blocks.assign(raw, raw + n);
    w.scale.assign(i8->scale, i8->scale + ng);
    if (w.asym) w.zero.assign(i8->zero, i8->zero + ng);
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

}  // namespace cpu
}  // namespace codecllm
