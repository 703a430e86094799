// gpu/forward.cc — the CUDA engine's prefill and decode forward passes, CUDA graph capture and replay, greedy generate, decode profiling.
// Class and data: gpu/engine.h.
#include "gpu/engine.h"

namespace codecllm {
namespace engine {

void Engine::Gemv(int i0, int n, float* const* ys, int prologue, const float* in, const float* in2, const float* normw, bool acc, int buf,
          cudaStream_t s, int nb) {
  int i = 0;
  while (i < n) {
    GemvArgs a;
    a.K = lin_[i0 + i].K;
    a.prologue = prologue;
    a.in = in;
    a.in2 = in2;
    a.normw = normw;
    a.eps = c_.eps;
    a.accumulate = acc;
    a.nb = nb;
    int wt0 = -1;
    while (i < n && a.nseg < kMaxSegs) {
      int wt;
      const void* w = WeightPtr(i0 + i, buf, &wt);
      const Linear& l = lin_[i0 + i];
      // one type per launch; 4-bit layouts also one group size and all sym or all asym (zero points or none)
      const bool q4 = IsQ4LayoutType(wt);
      if (wt0 >= 0 && (wt != wt0 || (q4 && (l.group != a.group || (AuxPtr(i0 + i) != nullptr) != (a.seg[0].aux != nullptr))))) break;
      if (q4) a.group = l.group;
      wt0 = wt;
      a.seg[a.nseg++] = GemvSeg{w, l.scale.as<float>(), l.bias.as<float>(), ys[i], l.rows, AuxPtr(i0 + i)};
      i++;
    }
    LaunchGemv(a, wt0, s);
  }
}

void Engine::Gemm(int i, const uint16_t* A, float* Y, int M, bool acc, int buf, cudaStream_t s) {
  if (PrefillGemm(i, A, Y, M, acc, buf, s)) return;  // cuBLAS (gpu/prefill_gemm.cc) when selected
  int wt;
  const void* w = WeightPtr(i, buf, &wt);
  const Linear& l = lin_[i];
  LaunchGemm(A, w, wt, l.scale.as<float>(), l.bias.as<float>(), Y, M, l.rows, l.K, acc, s, AuxPtr(i), l.group);
}

const void* Engine::AuxPtr(int i) const {
  const Linear& l = lin_[i];
  if (l.mode != kModeBlocks) return nullptr;
  if (IsQ4LayoutType(l.btype)) return l.zero.ptr;  // 4-bit layouts: zero points (or null); the scales travel as `scale`
  return l.sharesEmbed ? embedD_.ptr : l.scale.ptr;
}

void Engine::Embed(const int32_t* tokens, int T, cudaStream_t s) {
  if (embedD_.ptr) LaunchEmbeddingQ8(x_, embed_.as<int8_t>(), embedD_.as<uint16_t>(), tokens, T, c_.h, s, c_.embed_scale);
  else LaunchEmbedding(x_, embed_.as<uint16_t>(), tokens, T, c_.h, s, c_.embed_scale);
}

void Engine::EnqueueDecode(int B) {
  const Config& c = c_;
  cudaStream_t s = main_;
  const int nb = B > 0 ? B : 1;
  const int32_t* pos = B > 0 ? bPos_ : step_ + 1;
  Mark("start");
  Embed(B > 0 ? bTok_ : step_, nb, s);
  Mark("embedding");
  bool fused = sched_ == kSchedFused;
  size_t G = groups_.size();
  if (fused) {
    CHECK_CUDA(cudaEventRecord(evFork_, s));
    CHECK_CUDA(cudaStreamWaitEvent(side_, evFork_, 0));
    for (size_t gi = 0; gi < std::min<size_t>(2, G); gi++) {
      DecodeGroup(gi, (int)(gi & 1), side_);
      CHECK_CUDA(cudaEventRecord(evDec_[gi], side_));
    }
  }
  for (int l = 0; l <= c.L; l++) {
    int buf = fused ? (l & 1) : 0;
    if (sched_ == kSchedDecodePerForward) {
      DecodeGroup(l, 0, s);
      Mark("nvcomp decode");
    }
    if (fused) {
      CHECK_CUDA(cudaStreamWaitEvent(s, evDec_[l], 0));
      Mark("wait for decode");
    }
    if (l == c.L) {
      float* ys[1] = {logits_};
      Gemv(c.L * 7, 1, ys, kPrologueRmsNorm, x_, nullptr, norms_.back().as<float>(), false, buf, s, nb);
      Mark("lm_head gemv");
      if (c.final_softcap > 0) {
        LaunchSoftcap(logits_, (size_t)nb * c.V, c.final_softcap, s);
        Mark("logit softcap");
      }
    } else {
      ForwardLayerDecode(l, buf, s, nb, pos);
    }
    if (fused && l + 2 <= c.L) {
      CHECK_CUDA(cudaEventRecord(evComp_[l], s));
      CHECK_CUDA(cudaStreamWaitEvent(side_, evComp_[l], 0));
      DecodeGroup(l + 2, (l + 2) & 1, side_);
      CHECK_CUDA(cudaEventRecord(evDec_[l + 2], side_));
    }
  }
  if (B > 0) LaunchArgmaxRows(logits_, c.V, B, bTok_, bPos_, outTokens_, c.Smax, s);
  else LaunchArgmaxStep(logits_, c.V, step_, outTokens_, -1, s);
  Mark("argmax");
}

void Engine::ForwardLayerDecode(int l, int buf, cudaStream_t s, int nb, const int32_t* pos) {
  const Config& c = c_;
  int b = l * 7;
  float* qkv[3] = {q_, k_, v_};
  Gemv(b, 3, qkv, kPrologueRmsNorm, x_, nullptr, Norm(l, kNormInput), false, buf, s, nb);
  Mark("qkv gemv (+rmsnorm)");
  if (c.qk_norm) {  // per (row, head) RMSNorm over head_dim, in place, before rope
    LaunchRmsNorm(q_, nullptr, q_, Norm(l, kNormQ), nb * c.H, c.D, c.eps, s);
    LaunchRmsNorm(k_, nullptr, k_, Norm(l, kNormK), nb * c.Hkv, c.D, c.eps, s);
    Mark("q/k rmsnorm");
  }
  const float *cs = CosOf(l), *sn = SinOf(l);
  const AttnOpts ao = AttnOf(l);
  static const bool fuseRope = EnvFlag("CODECLLM_FUSE_ROPE", true);  // 0: separate rope kernel (measurement)
  if (fuseRope) {
    LaunchRopeAttention(att_, q_, k_, v_, KCache(l), VCache(l), c.kv16, cs, sn, nb, c.H, c.Hkv, c.D, pos, SlotStride(), c.Smax, s, ao);
    Mark("rope + attention");
  } else {
    LaunchRopeAppend(q_, k_, v_, KCache(l), VCache(l), c.kv16, cs, sn, nb, c.H, c.Hkv, c.D, 0, nullptr, c.Smax, s, pos, SlotStride());
    Mark("rope + kv append");
    LaunchAttention(att_, nullptr, q_, KCache(l), VCache(l), c.kv16, nb, c.H, c.Hkv, c.D, 0, nullptr, c.Smax, s, pos, SlotStride(), ao);
    Mark("attention");
  }
  float* o[1] = {x_};
  float* gu[2] = {g_, u_};
  if (!c.sandwich) {
    Gemv(b + 3, 1, o, kPrologueNone, att_, nullptr, nullptr, true, buf, s, nb);
    Mark("o gemv (+residual)");
    Gemv(b + 4, 2, gu, kPrologueRmsNorm, x_, nullptr, Norm(l, kNormPost), false, buf, s, nb);
    Mark("gate|up gemv (+rmsnorm)");
  } else {
    // Gemma: x += norm(o(att)); x += norm(down(act(gate(n)) * up(n))) with n = norm(x) (branch outputs staged in g_ / u_)
    float* og[1] = {g_};
    Gemv(b + 3, 1, og, kPrologueNone, att_, nullptr, nullptr, false, buf, s, nb);
    Mark("o gemv");
    LaunchRmsNormAdd(x_, g_, Norm(l, kNormPost), nb, c.h, c.eps, s);
    Mark("post-attention rmsnorm (+residual)");
    Gemv(b + 4, 2, gu, kPrologueRmsNorm, x_, nullptr, Norm(l, kNormPreFfn), false, buf, s, nb);
    Mark("gate|up gemv (+rmsnorm)");
  }
  if (c.act == kGpuActSilu && !c.sandwich) {
    Gemv(b + 6, 1, o, kPrologueSwiGLU, g_, u_, nullptr, true, buf, s, nb);
    Mark("down gemv (+swiglu, residual)");
    return;
  }
  // GeGLU (or any activation with sandwich norms): the activation as its own kernel, then a plain GEMV
  if (c.act == kGpuActGeluTanh) LaunchGeGLU(g_, nullptr, g_, u_, (size_t)nb * c.I, s);
  else LaunchSwiGLU(g_, nullptr, g_, u_, (size_t)nb * c.I, s);  // fp32 result (out16 unused)
  Mark(c.act == kGpuActGeluTanh ? "geglu" : "swiglu");
  if (c.sandwich) {
    float* du[1] = {u_};
    Gemv(b + 6, 1, du, kPrologueNone, g_, nullptr, nullptr, false, buf, s, nb);
    Mark("down gemv");
    LaunchRmsNormAdd(x_, u_, Norm(l, kNormPostFfn), nb, c.h, c.eps, s);
    Mark("post-ffn rmsnorm (+residual)");
  } else {
    Gemv(b + 6, 1, o, kPrologueNone, g_, nullptr, nullptr, true, buf, s, nb);
    Mark("down gemv (+residual)");
  }
}

void Engine::Mark(const char* label) {
  if (!prof_) return;
  cudaEvent_t e;
  CHECK_CUDA(cudaEventCreate(&e));
  prof_->push_back({label, e});
  CHECK_CUDA(cudaEventRecord(e, main_));
}

std::vector<std::pair<std::string, double>> Engine::ProfileDecode(int B) {
  CHECK_ARG(finalized_, "engine: finalize() first");
  if (B == 0) {
    CHECK_ARG(pos_ >= 1 && pos_ < c_.Smax, "profileDecode: run forward() on a prompt first (and leave room in the KV cache)");
  } else {
    CHECK_ARG(batchLive_ == B && batchMaxPos_ < c_.Smax, "profileDecode: run generateBatch() with " + std::to_string(B) +
                                                            " prompts first (and leave room in the KV cache)");
  }
  CHECK_CUDA(cudaStreamSynchronize(main_));
  std::vector<std::pair<const char*, cudaEvent_t>> ev;
  prof_ = &ev;
  try {
    EnqueueDecode(B);
  } catch (...) {
    prof_ = nullptr;
    for (auto& e : ev) cudaEventDestroy(e.second);
    throw;
  }
  prof_ = nullptr;
  cudaError_t st = cudaStreamSynchronize(main_);
  std::vector<std::pair<std::string, double>> out;
  double total = 0;
  for (size_t i = 1; i < ev.size() && st == cudaSuccess; i++) {
    float ms = 0;
    st = cudaEventElapsedTime(&ms, ev[i - 1].second, ev[i].second);
    total += ms;
    auto it = std::find_if(out.begin(), out.end(), [&](const std::pair<std::string, double>& p) { return p.first == ev[i].first; });
    if (it == out.end()) out.push_back({ev[i].first, ms});
    else it->second += ms;
  }
  for (auto& e : ev) cudaEventDestroy(e.second);
  CHECK_CUDA(st);
  out.push_back({"total", total});
  if (B == 0) pos_ += 1;
  else batchMaxPos_ += 1;
  CheckErr();
  return out;
}

void Engine::EnqueuePrefill(int T, int P, int slot) {
  const Config& c = c_;
  cudaStream_t s = main_;
  Embed(tokens_, T, s);
  for (int l = 0; l <= c.L; l++) {
    if (sched_ == kSchedDecodePerForward || sched_ == kSchedFused) DecodeGroup(l, 0, s);
    if (l == c.L) break;
    int b = l * 7;
    LaunchRmsNorm(nullptr, a16_, x_, Norm(l, kNormInput), T, c.h, c.eps, s);
    Gemm(b, a16_, q_, T, false, 0, s);
    Gemm(b + 1, a16_, k_, T, false, 0, s);
    Gemm(b + 2, a16_, v_, T, false, 0, s);
    if (c.qk_norm) {
      LaunchRmsNorm(q_, nullptr, q_, Norm(l, kNormQ), T * c.H, c.D, c.eps, s);
      LaunchRmsNorm(k_, nullptr, k_, Norm(l, kNormK), T * c.Hkv, c.D, c.eps, s);
    }
    LaunchRopeAppend(q_, k_, v_, KCache(l, slot), VCache(l, slot), c.kv16, CosOf(l), SinOf(l), T, c.H, c.Hkv, c.D, P, nullptr, c.Smax, s);
    LaunchAttention(att_, a16_, q_, KCache(l, slot), VCache(l, slot), c.kv16, T, c.H, c.Hkv, c.D, P, nullptr, c.Smax, s, nullptr, 0, AttnOf(l));
    if (c.sandwich) {  // Gemma: branch outputs staged in g_ (T * I >= T * h floats), normalized into the residual
      Gemm(b + 3, a16_, g_, T, false, 0, s);
      LaunchRmsNormAdd(x_, g_, Norm(l, kNormPost), T, c.h, c.eps, s);
      LaunchRmsNorm(nullptr, a16_, x_, Norm(l, kNormPreFfn), T, c.h, c.eps, s);
    } else {
      Gemm(b + 3, a16_, x_, T, true, 0, s);
      LaunchRmsNorm(nullptr, a16_, x_, Norm(l, kNormPost), T, c.h, c.eps, s);
    }
    Gemm(b + 4, a16_, g_, T, false, 0, s);
    Gemm(b + 5, a16_, u_, T, false, 0, s);
    if (c.act == kGpuActGeluTanh) LaunchGeGLU(nullptr, a16_, g_, u_, (size_t)T * c.I, s);
    else LaunchSwiGLU(nullptr, a16_, g_, u_, (size_t)T * c.I, s);
    if (c.sandwich) {
      Gemm(b + 6, a16_, g_, T, false, 0, s);
      LaunchRmsNormAdd(x_, g_, Norm(l, kNormPostFfn), T, c.h, c.eps, s);
    } else {
      Gemm(b + 6, a16_, x_, T, true, 0, s);
    }
  }
  float* ys[1] = {logits_};
  Gemv(c.L * 7, 1, ys, kPrologueRmsNorm, x_ + (size_t)(T - 1) * c.h, nullptr, norms_.back().as<float>(), false, 0, s);
  if (c.final_softcap > 0) LaunchSoftcap(logits_, c.V, c.final_softcap, s);
  LaunchArgmaxStep(logits_, c.V, step_, nullptr, P + T, s);
}

void Engine::ResetErr() {
  int32_t init[2] = {0, 0x7fffffff};
  std::memcpy(static_cast<uint8_t*>(pinned_) + pinnedErrOff_, init, sizeof(init));
  CHECK_CUDA(cudaMemcpyAsync(err_, static_cast<uint8_t*>(pinned_) + pinnedErrOff_, sizeof(init), cudaMemcpyHostToDevice, main_));
  CHECK_CUDA(cudaStreamSynchronize(main_));
}

void Engine::CheckErr() {
  int32_t e[2];
  CHECK_CUDA(cudaMemcpy(e, err_, sizeof(e), cudaMemcpyDeviceToHost));
  if (e[0] == 0) return;
  // map the global chunk index back to (linear, chunk)
  std::string tensor = "?", codec = "?";
  int chunk = -1, chunks = 0;
  for (size_t gi = 0; gi < groups_.size(); gi++) {
    const Group& g = groups_[gi];
    if (g.linears.empty() || e[1] < g.firstGlobalChunk || e[1] >= g.firstGlobalChunk + (int)g.chunks) continue;
    int local = e[1] - g.firstGlobalChunk;
    for (int li : g.linears) {
      const Linear& l = lin_[li];
      if (local >= l.firstChunk && local < l.firstChunk + (int)l.chunkOffs.size()) {
        tensor = l.name;
        codec = l.codec;
        chunk = local - l.firstChunk;
        chunks = (int)l.chunkOffs.size();
      }
    }
  }
  ResetErr();
  throw CODECLLM_ERROR("E_NVCOMP", codec + " decompress (engine): " + std::to_string(e[0]) + " chunk(s) failed")
      .with("codec", codec)
      .with("tensor", tensor)
      .with("op", "decompress")
      .with("chunk", std::to_string(chunk))
      .with("chunks", std::to_string(chunks))
      .with("status", "nvcompErrorCannotDecompress or wrong decompressed size");
}

void Engine::Reset() {
  CHECK_ARG(finalized_, "engine: finalize() first");
  pos_ = 0;
  batchLive_ = 0;
  int32_t st[3] = {0, 0, 0};
  CHECK_CUDA(cudaMemcpyAsync(step_, st, sizeof(st), cudaMemcpyHostToDevice, main_));
  if (sched_ == kSchedCached) {
    CHECK_CUDA(cudaEventRecord(ev0_, main_));
    for (size_t gi = 0; gi < groups_.size(); gi++) DecodeGroup(gi, 0, main_);
    CHECK_CUDA(cudaEventRecord(ev1_, main_));
  }
  CHECK_CUDA(cudaStreamSynchronize(main_));
  if (sched_ == kSchedCached) {
    CHECK_CUDA(cudaEventElapsedTime(&lastCacheMs_, ev0_, ev1_));
    CheckErr();
  }
}

int Engine::Forward(const int32_t* tokens, int T, float* logitsOut, float* ms) {
  CHECK_ARG(finalized_, "engine: finalize() first");
  CHECK_ARG(T >= 1, "forward: empty token list");
  for (int t = 0; t < T; t++)
    CHECK_ARG(tokens[t] >= 0 && tokens[t] < c_.V, "forward: token id " + std::to_string(tokens[t]) + " outside [0, " + std::to_string(c_.V) + ")");
  CHECK_ARG(pos_ + T <= c_.Smax, "forward: " + std::to_string(pos_ + T) + " positions exceed the KV cache capacity " + std::to_string(c_.Smax));
  PdlScope pdl(UsePdl());
  batchLive_ = 0;  // slot 0 is the single sequence again
  CHECK_CUDA(cudaEventRecord(ev0_, main_));
  int done = 0;
  while (done < T) {
    int n = std::min(T - done, c_.Tmax);
    if (n == 1) {
      int32_t st[2] = {tokens[done], pos_};
      std::memcpy(pinned_, st, sizeof(st));
      CHECK_CUDA(cudaMemcpyAsync(step_, pinned_, sizeof(st), cudaMemcpyHostToDevice, main_));
      EnqueueDecode();
    } else {
      std::memcpy(pinned_, tokens + done, sizeof(int32_t) * n);
      CHECK_CUDA(cudaMemcpyAsync(tokens_, pinned_, sizeof(int32_t) * n, cudaMemcpyHostToDevice, main_));
      EnqueuePrefill(n, pos_);
    }
    pos_ += n;
    done += n;
    CHECK_CUDA(cudaStreamSynchronize(main_));  // pinned_ is reused by the next chunk
  }
  CHECK_CUDA(cudaEventRecord(ev1_, main_));
  int32_t next = 0;
  CHECK_CUDA(cudaMemcpyAsync(pinned_, step_, sizeof(int32_t), cudaMemcpyDeviceToHost, main_));
  if (logitsOut) CHECK_CUDA(cudaMemcpyAsync(logitsOut, logits_, sizeof(float) * c_.V, cudaMemcpyDeviceToHost, main_));
  CHECK_CUDA(cudaStreamSynchronize(main_));
  std::memcpy(&next, pinned_, sizeof(next));
  CHECK_CUDA(cudaEventElapsedTime(ms, ev0_, ev1_));
  CheckErr();
  return next;
}

std::vector<int32_t> Engine::Generate(int n, bool useGraph, float* ms, bool* usedGraph) {
  CHECK_ARG(finalized_, "engine: finalize() first");
  CHECK_ARG(pos_ >= 1, "generate: run forward() on a prompt first");
  CHECK_ARG(pos_ + n <= c_.Smax, "generate: " + std::to_string(pos_ + n) + " positions exceed the KV cache capacity " + std::to_string(c_.Smax));
  PdlScope pdl(UsePdl());
  batchLive_ = 0;
  int32_t zero = 0;
  CHECK_CUDA(cudaMemcpyAsync(step_ + 2, &zero, sizeof(zero), cudaMemcpyHostToDevice, main_));
  *usedGraph = false;
  if (useGraph && !graph_ && !graphFailed_) {
    graph_ = CaptureDecode(0);
    graphFailed_ = !graph_;
  }
  CHECK_CUDA(cudaEventRecord(ev0_, main_));
  for (int i = 0; i < n; i++) {
    if (useGraph && graph_) {
      CHECK_CUDA(cudaGraphLaunch(graph_, main_));
      *usedGraph = true;
    } else {
      EnqueueDecode();
    }
  }
  CHECK_CUDA(cudaEventRecord(ev1_, main_));
  CHECK_CUDA(cudaStreamSynchronize(main_));
  CHECK_CUDA(cudaEventElapsedTime(ms, ev0_, ev1_));
  pos_ += n;
  CheckErr();
  std::vector<int32_t> out(n);
  CHECK_CUDA(cudaMemcpy(out.data(), outTokens_, sizeof(int32_t) * n, cudaMemcpyDeviceToHost));
  return out;
}

cudaGraphExec_t Engine::CaptureDecode(int B) {
  CHECK_CUDA(cudaStreamSynchronize(main_));
  cudaGraph_t g = nullptr;
  CHECK_CUDA(cudaStreamBeginCapture(main_, cudaStreamCaptureModeThreadLocal));
  try {
    EnqueueDecode(B);
  } catch (...) {
    cudaStreamEndCapture(main_, &g);
    if (g) cudaGraphDestroy(g);
    (void)cudaGetLastError();
    graphError_ = "capture failed";
    return nullptr;
  }
  cudaError_t e = cudaStreamEndCapture(main_, &g);
  if (e != cudaSuccess || !g) {
    (void)cudaGetLastError();
    graphError_ = cudaGetErrorName(e);
    return nullptr;
  }
  cudaGraphExec_t exec = nullptr;
  e = cudaGraphInstantiate(&exec, g, 0);
  cudaGraphDestroy(g);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    graphError_ = cudaGetErrorName(e);
    return nullptr;
  }
  return exec;
}

}  // namespace engine
}  // namespace codecllm
