// weight_types.h — THE numeric ids of every storage / weight type crossing N-API (format version 1, append-only:
// never renumber or reuse an id). One enum for the CPU engine, the GPU engine, the CUDA kernels and the addon.
//
// Plain element types, the GGML block formats of common/blocks.h (byte sizes taken from their structs), and the two
// int8 engine layouts (codes + scales from src/quant/quantize.ts). The TS twin is src/formats/dtypes.ts
// (DTYPES[*].id and ENGINE_LAYOUTS); test/native-blocks.test.ts asserts both equal what blockFormats() reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/blocks.h"

namespace codecllm {

enum WeightType : int {
  kWeightF32 = 0,
  kWeightF16 = 1,
  kWeightBF16 = 2,
  kWeightF64 = 3,
  kWeightI8 = 4,  // plain int8 elements; as an engine linear: int8 codes with one fp32 scale per output row
  kWeightU8 = 5,
  kWeightI16 = 6,
  kWeightI32 = 7,
  kWeightI64 = 8,
  kWeightBool = 9,
  kWeightQ4_0 = 10,
  kWeightQ4_1 = 11,
  kWeightQ5_0 = 12,
  kWeightQ5_1 = 13,
  kWeightQ8_0 = 14,
  kWeightQ2_K = 15,
  kWeightQ3_K = 16,
  kWeightQ4_K = 17,
  kWeightQ5_K = 18,
  kWeightQ6_K = 19,
  kWeightI8Channel = 20,  // engine layout 'int8:per-channel': int8/uint8 codes (out, in), scale (+zero) per row
  kWeightI8Group = 21,    // engine layout 'int8:group=gs': codes (out, in), scale (+zero) per group along `in`
  kWeightI4Group = 22,    // engine layout 'int4:group=gs' (sym or asym): packed nibble codes + fp32 scale (+ zero) per group (common/quant4.h)
  kWeightNF4Group = 23,   // engine layout 'nf4:group=gs': packed NF4 indices + fp32 scale per group (common/quant4.h)
  kWeightTypeCount = 24,
};

/** Kind of a weight type: plain elements, GGML blocks, or an engine layout (codes + side tables). */
enum WeightKind : int { kKindElement = 0, kKindBlock = 1, kKindLayout = 2 };

struct WeightTypeInfo {
  WeightType id;
  const char* name;  // as TS names it (dtypes.ts StorageDType / engine layout)
  int kind;          // WeightKind
  int block_elems;   // elements per block (1 for elements and layouts)
  int block_bytes;   // bytes per block (layouts: bytes per code)
  /** Raw bytes of one block -> block_elems floats; null where the type is not a GGML block. */
  void (*dequant)(const uint8_t* raw, float* y);
};

#define CODECLLM_BLOCK_ROW(ID, NAME, T) \
  { ID, NAME, kKindBlock, blocks::T::kElems, (int)sizeof(blocks::T), blocks::dequant_raw<blocks::T> }

/** Indexed by id. */
inline const WeightTypeInfo (&WeightTypeTable())[kWeightTypeCount] {
  static const WeightTypeInfo table[kWeightTypeCount] = {
      {kWeightF32, "f32", kKindElement, 1, 4, nullptr},
      {kWeightF16, "f16", kKindElement, 1, 2, nullptr},
      {kWeightBF16, "bf16", kKindElement, 1, 2, nullptr},
      {kWeightF64, "f64", kKindElement, 1, 8, nullptr},
      {kWeightI8, "i8", kKindElement, 1, 1, nullptr},
      {kWeightU8, "u8", kKindElement, 1, 1, nullptr},
      {kWeightI16, "i16", kKindElement, 1, 2, nullptr},
      {kWeightI32, "i32", kKindElement, 1, 4, nullptr},
      {kWeightI64, "i64", kKindElement, 1, 8, nullptr},
      {kWeightBool, "bool", kKindElement, 1, 1, nullptr},
      CODECLLM_BLOCK_ROW(kWeightQ4_0, "q4_0", BlockQ4_0),
      CODECLLM_BLOCK_ROW(kWeightQ4_1, "q4_1", BlockQ4_1),
      CODECLLM_BLOCK_ROW(kWeightQ5_0, "q5_0", BlockQ5_0),
      CODECLLM_BLOCK_ROW(kWeightQ5_1, "q5_1", BlockQ5_1),
      CODECLLM_BLOCK_ROW(kWeightQ8_0, "q8_0", BlockQ8_0),
      CODECLLM_BLOCK_ROW(kWeightQ2_K, "q2_k", BlockQ2_K),
      CODECLLM_BLOCK_ROW(kWeightQ3_K, "q3_k", BlockQ3_K),
      CODECLLM_BLOCK_ROW(kWeightQ4_K, "q4_k", BlockQ4_K),
      CODECLLM_BLOCK_ROW(kWeightQ5_K, "q5_k", BlockQ5_K),
      CODECLLM_BLOCK_ROW(kWeightQ6_K, "q6_k", BlockQ6_K),
      {kWeightI8Channel, "i8_channel", kKindLayout, 1, 1, nullptr},
      {kWeightI8Group, "i8_group", kKindLayout, 1, 1, nullptr},
      {kWeightI4Group, "i4_group", kKindLayout, 2, 1, nullptr},  // two 4-bit codes per byte
      {kWeightNF4Group, "nf4_group", kKindLayout, 2, 1, nullptr},
  };
  return table;
}
#undef CODECLLM_BLOCK_ROW

/** Info of id, or null when id is not a known type. */
inline const WeightTypeInfo* WeightTypeById(int id) {
  if (id < 0 || id >= kWeightTypeCount) return nullptr;
  const WeightTypeInfo& i = WeightTypeTable()[id];
  return i.id == id ? &i : nullptr;
}
/** Info of the type named `name`, or null. */
inline const WeightTypeInfo* WeightTypeByName(const char* name) {
  for (const WeightTypeInfo& i : WeightTypeTable())
    if (std::strcmp(i.name, name) == 0) return &i;
  return nullptr;
}
/** Name of id ("?" when unknown). */
inline const char* WeightTypeName(int id) {
  const WeightTypeInfo* i = WeightTypeById(id);
  return i ? i->name : "?";
}
/** "No weight type" (a tensor not set yet; -1 in the C API, codecllm_engine.h). */
constexpr int kWeightNone = -1;
/** WeightTypeName, with "none" for kWeightNone (engine info and set-weight results). */
inline const char* FmtName(int f) { return f == kWeightNone ? "none" : WeightTypeName(f); }
/** Bytes of one block of a block type (0 for other types). */
inline size_t BlockBytes(int id) {
  const WeightTypeInfo* i = WeightTypeById(id);
  return i && i->kind == kKindBlock ? (size_t)i->block_bytes : 0;
}

}  // namespace codecllm
