// gpu/batching.cc — the CUDA engine's KV slots and batched greedy decode (one sequence per slot, weights read once per step for all rows).
// Class and data: gpu/engine.h.
#include "gpu/engine.h"

namespace codecllm {
namespace engine {

std::vector<int32_t> Engine::GenerateBatch(const std::vector<std::vector<int32_t>>& prompts, int n, bool useGraph, float* prefillMs,
                                   float* decodeMs, bool* usedGraph) {
  CHECK_ARG(finalized_, "engine: finalize() first");
  const int B = (int)prompts.size();
  CHECK_ARG(B >= 1 && B <= c_.B, "generateBatch: " + std::to_string(B) + " sequences, but the engine was created with maxBatch " +
                                      std::to_string(c_.B));
  CHECK_ARG(n >= 1, "generateBatch: n must be >= 1");
  for (int b = 0; b < B; b++) {
    const auto& p = prompts[b];
    CHECK_ARG(!p.empty(), "generateBatch: prompt " + std::to_string(b) + " is empty");
    for (int32_t t : p)
      CHECK_ARG(t >= 0 && t < c_.V, "generateBatch: prompt " + std::to_string(b) + ": token id " + std::to_string(t) + " outside [0, " +
                                        std::to_string(c_.V) + ")");
    CHECK_ARG(p.size() + n <= (size_t)c_.Smax, "generateBatch: prompt " + std::to_string(b) + ": " + std::to_string(p.size() + n) +
                                                   " positions exceed the KV cache capacity " + std::to_string(c_.Smax));
  }
  Reset();  // fresh sequences (and the cached schedule's per-sequence decode)
  PdlScope pdl(UsePdl());
  int32_t* pin = static_cast<int32_t*>(pinned_);
  CHECK_CUDA(cudaEventRecord(ev0_, main_));
  for (int b = 0; b < B; b++) {
    const int T = (int)prompts[b].size();
    for (int done = 0; done < T;) {
      int m = std::min(T - done, c_.Tmax);
      std::memcpy(pin, prompts[b].data() + done, sizeof(int32_t) * m);
      CHECK_CUDA(cudaMemcpyAsync(tokens_, pin, sizeof(int32_t) * m, cudaMemcpyHostToDevice, main_));
      EnqueuePrefill(m, done, b);
      CHECK_CUDA(cudaStreamSynchronize(main_));  // pin is reused by the next chunk
      done += m;
    }
    CHECK_CUDA(cudaMemcpyAsync(bTok_ + b, step_, sizeof(int32_t), cudaMemcpyDeviceToDevice, main_));
  }
  for (int b = 0; b < B; b++) pin[c_.Tmax + b] = (int32_t)prompts[b].size();
  CHECK_CUDA(cudaMemcpyAsync(bPos_, pin + c_.Tmax, sizeof(int32_t) * B, cudaMemcpyHostToDevice, main_));
  CHECK_CUDA(cudaEventRecord(ev1_, main_));
  CHECK_CUDA(cudaStreamSynchronize(main_));
  CHECK_CUDA(cudaEventElapsedTime(prefillMs, ev0_, ev1_));
  std::vector<int32_t> first(B);
  CHECK_CUDA(cudaMemcpy(first.data(), bTok_, sizeof(int32_t) * B, cudaMemcpyDeviceToHost));
  *usedGraph = false;
  if (useGraph && graphBn_ != B) {
    if (graphB_) cudaGraphExecDestroy(graphB_);
    graphB_ = CaptureDecode(B);
    graphBn_ = B;
  }
  CHECK_CUDA(cudaEventRecord(ev0_, main_));
  for (int i = 0; i < n; i++) {
    if (useGraph && graphB_) {
      CHECK_CUDA(cudaGraphLaunch(graphB_, main_));
      *usedGraph = true;
    } else {
      EnqueueDecode(B);
    }
  }
  CHECK_CUDA(cudaEventRecord(ev1_, main_));
  CHECK_CUDA(cudaStreamSynchronize(main_));
  CHECK_CUDA(cudaEventElapsedTime(decodeMs, ev0_, ev1_));
  pos_ = 0;  // slot 0 no longer holds a sequence the single-sequence API knows about
  batchLive_ = B;
  batchMaxPos_ = 0;
  for (const auto& p : prompts) batchMaxPos_ = std::max(batchMaxPos_, (int)p.size() + n);
  CheckErr();
  std::vector<int32_t> rows((size_t)B * c_.Smax);
  CHECK_CUDA(cudaMemcpy(rows.data(), outTokens_, sizeof(int32_t) * rows.size(), cudaMemcpyDeviceToHost));
  std::vector<int32_t> out((size_t)B * (n + 1));
  for (int b = 0; b < B; b++) {
    out[(size_t)b * (n + 1)] = first[b];
    const size_t T = prompts[b].size();
    for (int i = 0; i < n; i++) out[(size_t)b * (n + 1) + 1 + i] = rows[(size_t)b * c_.Smax + T + i];
  }
  return out;
}

}  // namespace engine
}  // namespace codecllm
