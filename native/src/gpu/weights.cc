// gpu/weights.cc — the CUDA engine's weight upload: fp16 / int8 / GGML-block linears, embedding, norms, biases, synthetic weights.
// Class and data: gpu/engine.h.
#include "gpu/engine.h"

namespace codecllm {
namespace engine {

Engine::Engine(uint32_t id, const Config& c, const std::vector<float>& cosTab, const std::vector<float>& sinTab,
               const std::vector<float>& cosLocal, const std::vector<float>& sinLocal)
    : id_(id), c_(c) {
  CHECK_ARG(c.sliding.empty() || c.sliding.size() == (size_t)c.L, "engine config: slidingLayers must have one entry per layer");
  CHECK_ARG(cosLocal.size() == sinLocal.size() && (cosLocal.empty() || cosLocal.size() == cosTab.size()),
            "engine config: local rope tables must match the global ones in size");
  // sandwich norms: the attention / MLP branch outputs (h floats a row) are staged in g_ / u_ (I floats a row)
  CHECK_ARG(!c.sandwich || c.I >= c.h, "engine config: sandwich norms need intermediate >= hidden (branch outputs are staged in the MLP buffers)");
  lin_.resize((size_t)c.L * 7 + 1);
  norms_.resize((size_t)kNormSlots * c.L + 1);
  for (int l = 0; l < c.L; l++)
    for (int k = 0; k < 7; k++) {
      Linear& x = lin_[(size_t)l * 7 + k];
      x.name = "model.layers." + std::to_string(l) + "." + kKindNames[k];
      int qd = c.H * c.D, kvd = c.Hkv * c.D;
      const int rows[7] = {qd, kvd, kvd, c.h, c.I, c.I, c.h};
      const int ks[7] = {c.h, c.h, c.h, qd, c.h, c.h, c.I};
      x.rows = rows[k];
      x.K = ks[k];
    }
  Linear& head = lin_.back();
  head.name = "lm_head";
  head.rows = c.V;
  head.K = c.h;
  main_ = cuda::Stream(2);
  side_ = cuda::Stream(3);
  // rope table, activations, KV cache
  // cos | sin (| local cos | local sin)
  rope_ = Buf(sizeof(float) * (cosTab.size() * 2 + cosLocal.size() * 2), Tag("tables"));
  cos_ = rope_.as<float>();
  sin_ = cos_ + cosTab.size();
  CHECK_CUDA(cudaMemcpy(cos_, cosTab.data(), sizeof(float) * cosTab.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(sin_, sinTab.data(), sizeof(float) * sinTab.size(), cudaMemcpyHostToDevice));
  if (!cosLocal.empty()) {
    cosL_ = sin_ + sinTab.size();
    sinL_ = cosL_ + cosLocal.size();
    CHECK_CUDA(cudaMemcpy(cosL_, cosLocal.data(), sizeof(float) * cosLocal.size(), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(sinL_, sinLocal.data(), sizeof(float) * sinLocal.size(), cudaMemcpyHostToDevice));
  }
  size_t T = std::max(c.Tmax, c.B), qd = (size_t)c.H * c.D, kvd = (size_t)c.Hkv * c.D;
  size_t wide = std::max<size_t>({(size_t)c.h, (size_t)c.I, qd});
  // x | q | k | v | att | g | u | logits (fp32) ; a16 (fp16) ; tokens | step | err | out tokens (int32)
  size_t floats = T * c.h + T * qd + 2 * T * kvd + T * qd + 2 * T * c.I + (size_t)c.B * c.V + 64;
  act_ = Buf(sizeof(float) * floats + sizeof(uint16_t) * T * wide +
                 sizeof(int32_t) * (T + 8 + 8 + (size_t)c.B * c.Smax + 2 * (size_t)c.B + 16) + 1024,
             Tag("activations"));
  cuda::Carver cv(act_.ptr);
  x_ = cv.take<float>(T * c.h);
  q_ = cv.take<float>(T * qd);
  k_ = cv.take<float>(T * kvd);
  v_ = cv.take<float>(T * kvd);
  att_ = cv.take<float>(T * qd);
  g_ = cv.take<float>(T * c.I);
  u_ = cv.take<float>(T * c.I);
  logits_ = cv.take<float>((size_t)c.B * c.V);  // (B, V): row 0 for single-sequence steps
  a16_ = cv.take<uint16_t>(T * wide);
  tokens_ = cv.take<int32_t>(T);
  step_ = cv.take<int32_t>(8);
  err_ = cv.take<int32_t>(8);
  outTokens_ = cv.take<int32_t>((size_t)c.B * c.Smax);
  bTok_ = cv.take<int32_t>(c.B);
  bPos_ = cv.take<int32_t>(c.B);
  size_t kvElems = (size_t)c.B * c.L * c.Hkv * c.Smax * c.D;  // B slots of (L, Hkv, Smax, D) for K and for V
  kv_ = Buf(kvElems * 2 * (c.kv16 ? 2 : 4), Tag("kv-cache"));
  CHECK_CUDA(cudaMemset(kv_.ptr, 0, kv_.bytes));
  CHECK_CUDA(cudaMemset(act_.ptr, 0, act_.bytes));
  // pinned staging: token chunks (Tmax) | batch positions (B) | error-flag init (16 bytes)
  pinnedErrOff_ = sizeof(int32_t) * ((size_t)std::max(c.Tmax, 2) + c.B + 8);
  CHECK_CUDA(cudaMallocHost(&pinned_, pinnedErrOff_ + 64));
  CHECK_CUDA(cudaEventCreate(&ev0_));
  CHECK_CUDA(cudaEventCreate(&ev1_));
  CHECK_CUDA(cudaDeviceSynchronize());
  ResetErr();
}

Engine::~Engine() {
  if (graph_) cudaGraphExecDestroy(graph_);
  if (graphB_) cudaGraphExecDestroy(graphB_);
  for (auto e : evDec_) cudaEventDestroy(e);
  for (auto e : evComp_) cudaEventDestroy(e);
  if (evFork_) cudaEventDestroy(evFork_);
  if (ev0_) cudaEventDestroy(ev0_);
  if (ev1_) cudaEventDestroy(ev1_);
  if (pinned_) cudaFreeHost(pinned_);
}

void Engine::SetEmbedding(const float* w, size_t n) {
  RequireOpen();
  CHECK_ARG(n == (size_t)c_.V * c_.h, "embedding: expected " + std::to_string((size_t)c_.V * c_.h) + " floats, got " + std::to_string(n));
  embed_ = Buf(n * 2, Tag("embed"));
  embedD_.Reset();
  UploadF16(embed_.as<uint16_t>(), w, n);
}

void Engine::SetEmbeddingBlocks(const uint8_t* raw, size_t n) {
  RequireOpen();
  const size_t want = (size_t)c_.V * (c_.h / 32) * sizeof(blocks::BlockQ8_0);
  CHECK_ARG(c_.h % 32 == 0 && n == want, "embedding q8_0: expected " + std::to_string(want) + " bytes, got " + std::to_string(n));
  std::vector<uint8_t> codes;
  std::vector<uint16_t> d;
  SplitBlocks(kWeightQ8_0, raw, (size_t)c_.V * (c_.h / 32), &codes, &d);
  embed_ = Buf(codes.size(), Tag("embed"));
  embedD_ = Buf(d.size() * 2, Tag("embed"));
  CHECK_CUDA(cudaMemcpy(embed_.ptr, codes.data(), codes.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(embedD_.ptr, d.data(), d.size() * 2, cudaMemcpyHostToDevice));
}

void Engine::SetLinearBlocks(int index, int bt, const uint8_t* raw, size_t n, const float* bias, size_t nb) {
  RequireOpen();
  Linear& l = Lin(index);
  const std::string type = WeightTypeName(bt);
  if (IsRawBlockType(bt)) {  // q5_0, q4_k, q6_k: the file's blocks as they are (gemv_blocks.cu reads them unsplit)
    const int E = WeightTypeById(bt)->block_elems;
    const size_t nblk = l.K % E == 0 ? (size_t)l.rows * (l.K / E) : 0, bb = BlockBytes(bt);
    CHECK_ARG(l.K % E == 0 && n == nblk * bb, l.name + ": " + type + " blocks: K=" + std::to_string(l.K) + " must be a multiple of " +
                                                  std::to_string(E) + " and the data " + std::to_string(nblk * bb) + " bytes, got " + std::to_string(n));
    l.w = Buf(n, Tag("weights:gguf"));
    l.scale.Reset();
    CHECK_CUDA(cudaMemcpy(l.w.ptr, raw, n, cudaMemcpyHostToDevice));
    l.sharesEmbed = false;
    l.mode = kModeBlocks;
    l.btype = bt;
    SetBias(l, bias, nb);
    return;
  }
  CHECK_ARG(bt == kWeightQ4_1 || bt == kWeightQ8_0, l.name + ": block type '" + type + "' (expected q4_1, q8_0, q5_0, q4_k or q6_k)");
  const size_t nblk = (size_t)l.rows * (l.K / 32), bb = BlockBytes(bt);
  CHECK_ARG(l.K % 32 == 0 && n == nblk * bb, l.name + ": " + type + " blocks: expected " + std::to_string(nblk * bb) + " bytes, got " + std::to_string(n));
  std::vector<uint8_t> codes;
  std::vector<uint16_t> aux;
  SplitBlocks(bt, raw, nblk, &codes, &aux);
  l.w = Buf(codes.size(), Tag("weights:gguf"));
  l.scale = Buf(aux.size() * 2, Tag("weights:gguf"));
  CHECK_CUDA(cudaMemcpy(l.w.ptr, codes.data(), codes.size(), cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(l.scale.ptr, aux.data(), aux.size() * 2, cudaMemcpyHostToDevice));
  l.sharesEmbed = false;
  l.mode = kModeBlocks;
  l.btype = bt;
  SetBias(l, bias, nb);
}

void Engine::SetLinearQ4(int index, int bt, const uint8_t* codes, size_t n, const float* scales, size_t ns, const uint8_t* zeros, size_t nz,
                         int group, const float* bias, size_t nb) {
  RequireOpen();
  Linear& l = Lin(index);
  const std::string type = WeightTypeName(bt);
  CHECK_ARG(IsQ4LayoutType(bt), l.name + ": type '" + type + "' is not a 4-bit layout (i4_group, nf4_group)");
  CHECK_ARG(group > 0 && group % 8 == 0 && l.K % group == 0,
            l.name + ": " + type + " group size " + std::to_string(group) + " must be a positive multiple of 8 dividing K=" + std::to_string(l.K));
  const size_t want = quant4::code_bytes(l.rows, l.K), ng = quant4::groups(l.rows, l.K, group);
  CHECK_ARG(n == want, l.name + ": " + type + " codes: expected " + std::to_string(want) + " bytes, got " + std::to_string(n));
  CHECK_ARG(ns == ng, l.name + ": " + type + " scales: expected " + std::to_string(ng) + ", got " + std::to_string(ns));
  CHECK_ARG(!zeros || (bt == kWeightI4Group && nz == ng),
            l.name + ": " + type + (bt == kWeightI4Group ? " zero points: expected " + std::to_string(ng) + ", got " + std::to_string(nz) : " has no zero points"));
  l.w = Buf(n, Tag("weights:q4"));
  l.scale = Buf(ns * 4, Tag("weights:q4"));
  CHECK_CUDA(cudaMemcpy(l.w.ptr, codes, n, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(l.scale.ptr, scales, ns * 4, cudaMemcpyHostToDevice));
  if (zeros) {
    l.zero = Buf(nz, Tag("weights:q4"));
    CHECK_CUDA(cudaMemcpy(l.zero.ptr, zeros, nz, cudaMemcpyHostToDevice));
  } else {
    l.zero.Reset();
  }
  l.group = group;
  l.sharesEmbed = false;
  l.mode = kModeBlocks;
  l.btype = bt;
  SetBias(l, bias, nb);
}

void Engine::SetNorm(int layer, int which, const float* w, size_t n) {
  RequireOpen();
  CHECK_ARG(layer >= -1 && layer < c_.L && which >= 0 && which < kNormSlots && (layer >= 0 || which == kNormInput),
            "norm: bad layer/which (" + std::to_string(layer) + ", " + std::to_string(which) + ")");
  CHECK_ARG(c_.HasNorm(which), "norm: slot " + std::to_string(which) + " is not part of this architecture (sandwich / q-k norm off)");
  const size_t want = layer < 0 ? (size_t)c_.h : (size_t)c_.NormSize(which);
  CHECK_ARG(n == want, "norm: expected " + std::to_string(want) + " floats, got " + std::to_string(n));
  Buf& b = layer < 0 ? norms_.back() : norms_[(size_t)kNormSlots * layer + which];
  b = Buf(n * 4, Tag("norms"));
  CHECK_CUDA(cudaMemcpy(b.ptr, w, n * 4, cudaMemcpyHostToDevice));
}

void Engine::SetLinearF32(int index, int mode, const float* w, size_t n, const float* bias, size_t nb) {
  RequireOpen();
  Linear& l = Lin(index);
  CHECK_ARG(n == l.RawBytes(), l.name + ": expected " + std::to_string(l.RawBytes()) + " floats, got " + std::to_string(n));
  CHECK_ARG(mode == kModeFp16 || mode == kModeInt8, l.name + ": mode must be fp16 or int8 here");
  cuda::Lease tmp(cuda::DeviceScratch(), n * 4);
  CHECK_CUDA(cudaMemcpyAsync(tmp.data(), w, n * 4, cudaMemcpyHostToDevice, main_));
  InstallFromDeviceF32(l, mode, reinterpret_cast<float*>(tmp.data()));
  SetBias(l, bias, nb);
  CHECK_CUDA(cudaStreamSynchronize(main_));
}

void Engine::SetLinearInt8(int index, const int8_t* codes, size_t n, const float* scales, size_t ns, const float* bias, size_t nb) {
  RequireOpen();
  Linear& l = Lin(index);
  CHECK_ARG(n == l.RawBytes() && ns == (size_t)l.rows, l.name + ": int8 codes/scales of the wrong size");
  l.w = Buf(n, Tag("weights:int8"));
  l.scale = Buf(ns * 4, Tag("scales"));
  l.sharesEmbed = false;
  CHECK_CUDA(cudaMemcpy(l.w.ptr, codes, n, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemcpy(l.scale.ptr, scales, ns * 4, cudaMemcpyHostToDevice));
  l.mode = kModeInt8;
  SetBias(l, bias, nb);
}

void Engine::ShareEmbedding() {
  RequireOpen();
  CHECK_ARG(embed_.ptr, "shareEmbedding: set the embedding first");
  Linear& l = lin_.back();
  l.w.Reset();
  l.scale.Reset();
  l.mode = embedD_.ptr ? kModeBlocks : kModeFp16;  // a q8_0 table is read as q8_0 blocks by the lm_head GEMV
  l.btype = embedD_.ptr ? kWeightQ8_0 : -1;
  l.sharesEmbed = true;
}

void Engine::Randomize(uint64_t seed, const std::vector<int>& modes) {
  RequireOpen();
  CHECK_ARG(modes.size() == lin_.size(), "randomize: one mode per linear expected");
  uint64_t k = seed * 1000003ull;
  size_t maxN = (size_t)c_.V * c_.h;
  for (auto& l : lin_) maxN = std::max(maxN, l.RawBytes());
  cuda::Lease tmp(cuda::DeviceScratch(), maxN * 4);
  float* t = reinterpret_cast<float*>(tmp.data());
  embed_ = Buf((size_t)c_.V * c_.h * 2, Tag("embed"));
  LaunchRandomNormal(t, (size_t)c_.V * c_.h, ++k, 0.f, 1.f, main_);
  LaunchF32ToF16(embed_.as<uint16_t>(), t, (size_t)c_.V * c_.h, main_);
  for (size_t i = 0; i < norms_.size(); i++) {
    const int which = i + 1 == norms_.size() ? (int)kNormInput : (int)(i % kNormSlots);
    if (!c_.HasNorm(which)) continue;
    const int n = i + 1 == norms_.size() ? c_.h : c_.NormSize(which);
    norms_[i] = Buf((size_t)n * 4, Tag("norms"));
    LaunchRandomNormal(norms_[i].as<float>(), n, ++k, 1.f, 0.1f, main_);
  }
  for (size_t i = 0; i < lin_.size(); i++) {
    Linear& l = lin_[i];
    if (modes[i] == kModeBlocks) {  // random GGML blocks: q4_1 in the blocks, q8_0 for lm_head (as GGUF files do)
      const int bt = i + 1 == lin_.size() ? kWeightQ8_0 : kWeightQ4_1;
      const size_t nblk = (size_t)l.rows * (l.K / 32);
      l.w = Buf(nblk * CodeBytes(bt), Tag("weights:gguf"));
      l.scale = Buf(nblk * AuxHalves(bt) * 2, Tag("weights:gguf"));
      LaunchRandomBlocks(l.w.ptr, l.scale.ptr, bt, l.rows, l.K, ++k, 1.f / std::sqrt((float)l.K), main_);
      l.mode = kModeBlocks;
      l.btype = bt;
      l.sharesEmbed = false;
      continue;
    }
    LaunchRandomNormal(t, l.RawBytes(), ++k, 0.f, 1.f / std::sqrt((float)l.K), main_);
    InstallFromDeviceF32(l, modes[i], t);
  }
  CHECK_CUDA(cudaStreamSynchronize(main_));
}

uint32_t Engine::CodesId(int index) {
  Linear& l = Lin(index);
  CHECK_ARG(l.mode == kModeInt8 && l.w.id, l.name + ": has no int8 codes (mode must be int8 before compression)");
  return l.w.id;
}

void Engine::SetBias(Linear& l, const float* bias, size_t nb) {
  if (!bias) {
    l.bias.Reset();
    return;
  }
  CHECK_ARG(nb == (size_t)l.rows, l.name + ": bias of the wrong size");
  l.bias = Buf(nb * 4, Tag("bias"));
  CHECK_CUDA(cudaMemcpy(l.bias.ptr, bias, nb * 4, cudaMemcpyHostToDevice));
}

void Engine::UploadF16(uint16_t* dst, const float* src, size_t n) {
  cuda::Lease tmp(cuda::DeviceScratch(), n * 4);
  CHECK_CUDA(cudaMemcpyAsync(tmp.data(), src, n * 4, cudaMemcpyHostToDevice, main_));
  LaunchF32ToF16(dst, reinterpret_cast<float*>(tmp.data()), n, main_);
  CHECK_CUDA(cudaStreamSynchronize(main_));
}

void Engine::InstallFromDeviceF32(Linear& l, int mode, const float* w) {
  l.sharesEmbed = false;
  if (mode == kModeFp16) {
    l.w = Buf(l.RawBytes() * 2, Tag("weights:fp16"));
    l.scale.Reset();
    LaunchF32ToF16(l.w.as<uint16_t>(), w, l.RawBytes(), main_);
  } else {
    CHECK_ARG(mode == kModeInt8, l.name + ": unknown mode " + std::to_string(mode));
    l.w = Buf(l.RawBytes(), Tag("weights:int8"));
    l.scale = Buf((size_t)l.rows * 4, Tag("scales"));
    LaunchQuantizeRowsI8(l.w.as<int8_t>(), l.scale.as<float>(), w, l.rows, l.K, main_);
  }
  l.mode = mode;
  CHECK_CUDA(cudaStreamSynchronize(main_));  // the scratch lease is released after this call
}

}  // namespace engine
}  // namespace codecllm
