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

/** Set w (rows, cols already set) to a 4-bit lab layout (common/quant4.h): packed codes + fp32 group scales (+ uint8
 *  zero points, int4 asym), checking sizes. t: kWeightI4Group or kWeightNF4Group; i8.group: the group size. */
void FillQ4(Weight& w, int t, const uint8_t* raw, size_t raw_bytes, const Int8Codes& i8) {
  const std::string name = FmtName(t);
  CHECK_ARG(i8.group >= 2 && i8.group % 2 == 0 && w.cols % i8.group == 0,
            name + ": group size " + std::to_string(i8.group) + " must be even and divide cols=" + std::to_string(w.cols));
  const size_t nb = quant4::code_bytes(w.rows, w.cols), ng = quant4::groups(w.rows, w.cols, i8.group);
  CHECK_ARG(raw_bytes == nb, name + " codes: expected " + std::to_string(nb) + " bytes, got " + std::to_string(raw_bytes));
  CHECK_ARG(i8.n_scale == ng, name + " scales: expected " + std::to_string(ng) + ", got " + std::to_string(i8.n_scale));
  CHECK_ARG(!i8.zero || (t == kWeightI4Group && i8.n_zero == ng),
            name + (t == kWeightI4Group ? " zero points: expected " + std::to_string(ng) + ", got " + std::to_string(i8.n_zero) : ": has no zero points"));
  w.fmt = t;
  w.group = i8.group;
  w.asym = i8.zero != nullptr;
  w.blocks.assign(raw, raw + nb);
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
                        const std::function<void(uint8_t*, size_t)>& fill) {
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
  if (t == kWeightI4Group || t == kWeightNF4Group) {
    CHECK_ARG(i8 != nullptr && raw != nullptr, std::string(FmtName(t)) + " codes need codes and scales");
    FillQ4(w, t, raw, raw_bytes, *i8);
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
  if (IsEngineBlockFormat(t)) {
    const size_t bb = BlockBytes(t), E = (size_t)WeightTypeById(t)->block_elems;
    CHECK_ARG(cols % E == 0 && raw_bytes == n / E * bb, std::string(FmtName(t)) + " tensor: expected " + std::to_string(n / E * bb) + " bytes of blocks over rows of a multiple of " + std::to_string(E) + " (got " + std::to_string(raw_bytes) + " bytes, " + std::to_string(cols) + " columns)");
    w.fmt = t;
    w.blocks.resize(raw_bytes);
    take(w.blocks.data(), raw_bytes);
    if (!auto_fmt) widen();
    return w;
  }
  THROW_ERROR("E_ARG", "stored type '" + std::string(t >= 0 ? FmtName(t) : "none") + "' cannot be set without float32 values (expected bf16, f16, f32, q4_1, q8_0, q5_0, q4_k, q6_k, i8_channel, i8_group, i4_group, nf4_group)");
}

Weight MakeWeight(const float* f, int rows, int cols, const uint8_t* raw, size_t raw_bytes, int raw_type, bool auto_fmt,
                  const Int8Codes* i8) {
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
  if (auto_fmt && raw && i8 && (raw_type == kWeightI4Group || raw_type == kWeightNF4Group)) {
    FillQ4(w, raw_type, raw, raw_bytes, *i8);
    if (SameBits(w, f)) return w;
    w = Weight();
    w.rows = rows;
    w.cols = cols;
  }
  // GGML blocks the fast kernels read (DequantRows*, GemvBlocksAvx2, GemvDecodeAvx2): q4_1, q8_0, q5_0 (32 weights
  // per block), q4_k, q6_k (256)
  if (auto_fmt && raw && IsEngineBlockFormat(raw_type) && cols % WeightTypeById(raw_type)->block_elems == 0) {
    const size_t bb = BlockBytes(raw_type), E = (size_t)WeightTypeById(raw_type)->block_elems;
    if (raw_bytes == n / E * bb) {
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
