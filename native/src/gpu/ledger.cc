// gpu/ledger.cc — the CUDA engine's the engine's bytes by category (every buffer it owns) and its storage-mode counts.
// Class and data: gpu/engine.h.
#include "gpu/engine.h"

namespace codecllm {
namespace engine {

std::map<std::string, double> Engine::Ledger() const {
  std::map<std::string, double> m;
  auto add = [&](const std::string& k, const Buf& b) { m[k] += (double)b.bytes; };
  add("embed", embed_);
  add("embed", embedD_);
  for (auto& n : norms_) add("norms", n);
  for (auto& l : lin_) {
    const char* k = l.mode == kModeFp16    ? "weights_fp16"
                    : l.mode == kModeInt8  ? "weights_int8"
                    : l.mode == kModeBlocks ? (IsQ4LayoutType(l.btype) ? "weights_q4" : "weights_gguf")
                                            : "weights_compressed";
    add(k, l.w);
    add(k, l.packed);
    add(l.mode == kModeBlocks ? (IsQ4LayoutType(l.btype) ? "scales" : "weights_gguf") : "scales", l.scale);
    add("scales", l.zero);
    add("bias", l.bias);
  }
  for (auto& g : groups_) add("chunk_tables", g.tables);
  add("kv_cache", kv_);
  add("activations", act_);
  add("rope_tables", rope_);
  add(sched_ == kSchedCached ? "decode_cache" : "decode_scratch", decode_);
  add("nvcomp_temp", temp_);
  AddPrefillGemmLedger(&m);  // cublas_workspace, gemm_scratch
  return m;
}

std::map<std::string, int> Engine::ModeCounts() const {
  std::map<std::string, int> m{{"fp16", 0}, {"int8", 0}, {"compressed", 0}, {"gguf", 0}, {"q4", 0}};
  for (auto& l : lin_)
    m[l.mode == kModeFp16 ? "fp16" : l.mode == kModeInt8 ? "int8" : l.mode == kModeBlocks ? (IsQ4LayoutType(l.btype) ? "q4" : "gguf") : "compressed"]++;
  return m;
}

}  // namespace engine
}  // namespace codecllm
