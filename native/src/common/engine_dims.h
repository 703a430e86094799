// engine_dims.h — the model dimensions both native engines accept, checked in ONE place (format version 1).
//
// Bounds common to the CPU and GPU engines (CheckModelDims), plus the GPU kernels' alignment rules
// (CheckGpuDims: 16-byte weight and KV rows). The TS side builds the same dims once (src/engine/dims.ts or its
// callers) and passes them as {hidden, intermediate, layers, heads, kvHeads, headDim, vocab}.
#pragma once

#include <string>

#include "check.h"

namespace codecllm {

/** A Llama-family model's dimensions as the engines take them. */
struct ModelDims {
  int hidden = 0, intermediate = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
};

/** Inclusive range of one dimension (the JS config key and its bounds). */
struct DimRange {
  const char* key;
  int ModelDims::*field;
  int lo, hi;
};
constexpr DimRange kModelDimRanges[] = {
    {"hidden", &ModelDims::hidden, 1, 1 << 16},         {"intermediate", &ModelDims::intermediate, 1, 1 << 18},
    {"layers", &ModelDims::layers, 1, 1024},            {"heads", &ModelDims::heads, 1, 1024},
    {"kvHeads", &ModelDims::kv_heads, 1, 1024},         {"headDim", &ModelDims::head_dim, 2, 1024},
    {"vocab", &ModelDims::vocab, 1, 1 << 22},
};

/** Checks what every engine needs (bounds of kModelDimRanges, GQA grouping, even head dim); throws E_ARG. */
inline void CheckModelDims(const ModelDims& d, const char* who) {
  for (const DimRange& r : kModelDimRanges) {
    const int v = d.*(r.field);
    CHECK_ARG(v >= r.lo && v <= r.hi, std::string(who) + ": " + r.key + " " + std::to_string(v) + " outside [" + std::to_string(r.lo) +
                                          ", " + std::to_string(r.hi) + "]");
  }
  CHECK_ARG(d.heads % d.kv_heads == 0, std::string(who) + ": heads must be a multiple of kvHeads");
  CHECK_ARG(d.head_dim % 2 == 0, std::string(who) + ": headDim must be even (rotate-half rope)");
}

/** The GPU kernels' extra rules: 16-byte weight rows (hidden, intermediate, heads*headDim % 16) and KV rows (headDim % 8). */
inline void CheckGpuDims(const ModelDims& d, const char* who) {
  CheckModelDims(d, who);
  CHECK_ARG(d.hidden % 16 == 0 && d.intermediate % 16 == 0 && (d.heads * d.head_dim) % 16 == 0,
            std::string(who) + ": hidden, intermediate and heads*headDim must be multiples of 16 (16-byte weight rows)");
  CHECK_ARG(d.head_dim % 8 == 0, std::string(who) + ": headDim must be a multiple of 8 (16-byte KV rows)");
}

}  // namespace codecllm
