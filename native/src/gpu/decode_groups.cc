// gpu/decode_groups.cc — the CUDA engine's nvCOMP-compressed linears: finalize, one batched decode per layer group, weight pointers per buffer.
// Class and data: gpu/engine.h.
#include "gpu/engine.h"

namespace codecllm {
namespace engine {

void Engine::SetCompressed(int index, const std::string& codec, uint32_t packedId, const double* offs, const double* sizes, size_t n,
                   size_t chunkSize) {
  RequireOpen();
#if !defined(CODECLLM_HAVE_NVCOMP)
  THROW_ERROR("E_NVCOMP", "the addon was built without nvCOMP: compressed storage modes are unavailable");
#else
  Linear& l = Lin(index);
  CHECK_ARG(l.mode == kModeInt8, l.name + ": compress an int8 linear");
  CHECK_ARG(chunkSize > 0 && chunkSize % 256 == 0, "chunkSize must be a positive multiple of 256");
  size_t want = (l.RawBytes() + chunkSize - 1) / chunkSize;
  CHECK_ARG(n == want, l.name + ": " + std::to_string(n) + " chunks given, " + std::to_string(want) + " expected");
  cuda::Buffer& pb = GetBuffer(packedId);
  l.chunkOffs.resize(n);
  l.chunkBytes.resize(n);
  for (size_t i = 0; i < n; i++) {
    CHECK_ARG(offs[i] >= 0 && sizes[i] >= 1 && offs[i] + sizes[i] <= (double)pb.bytes,
              l.name + ": chunk " + std::to_string(i) + " outside the packed buffer");
    l.chunkOffs[i] = (size_t)offs[i];
    l.chunkBytes[i] = (size_t)sizes[i];
  }
  // take ownership of the packed buffer; drop the int8 codes (no uncompressed copy stays resident)
  l.packed.Reset();
  l.packed.id = packedId;
  l.packed.ptr = pb.ptr;
  l.packed.bytes = pb.bytes;
  pb.tag = Tag("weights:compressed");
  l.w.Reset();
  l.codec = codec;
  l.chunkSize = chunkSize;
  l.mode = kModeCompressed;
#endif
}

void Engine::Finalize(int schedule) {
  RequireOpen();
  CHECK_ARG(embed_.ptr, "engine: embedding not set");
  for (size_t i = 0; i < norms_.size(); i++) {
    const bool last = i + 1 == norms_.size();
    if (!last && !c_.HasNorm((int)(i % kNormSlots))) continue;
    CHECK_ARG(norms_[i].ptr, last ? std::string("engine: final norm not set")
                                  : "engine: norm " + std::to_string(i % kNormSlots) + " of layer " + std::to_string(i / kNormSlots) + " not set");
  }
  bool anyCompressed = false;
  for (auto& l : lin_) {
    CHECK_ARG(l.mode >= 0, l.name + ": weight not set");
    anyCompressed |= l.mode == kModeCompressed;
  }
  CHECK_ARG(!anyCompressed || schedule != kSchedNone, "engine: compressed linears need a schedule (decode-per-forward, cached or fused)");
  sched_ = anyCompressed ? schedule : kSchedNone;
#if defined(CODECLLM_HAVE_NVCOMP)
  if (anyCompressed) BuildGroups();
#endif
  SetupPrefillGemm();  // gpu/prefill_gemm.cc: cuBLAS handle + scratch, or none
  CHECK_CUDA(cudaDeviceSynchronize());  // uploads through the legacy stream are complete before engine streams run
  finalized_ = true;
}

#if defined(CODECLLM_HAVE_NVCOMP)
void Engine::BuildGroups() {
  groups_.clear();
  groups_.resize((size_t)c_.L + 1);
  int global = 0;
  size_t cacheOff = 0, maxGroup = 0, maxTemp = 0;
  // decode-per-forward may decode `span` blocks per nvCOMP call into one pooled buffer (CODECLLM_DECODE_SPAN, default
  // 1; measurement of what batching more layers per call buys): group gi (a span start) holds blocks gi..gi+span-1,
  // the other groups of the span stay empty. lm_head is always its own group.
  static const int spanEnv = std::max(1, EnvInt("CODECLLM_DECODE_SPAN", 1));
  const int span = sched_ == kSchedDecodePerForward ? spanEnv : 1;
  for (size_t gi = 0; gi < groups_.size(); gi++) {
    Group& g = groups_[gi];
    if (gi < (size_t)c_.L && gi % span != 0) continue;
    int lo = (int)gi * 7, hi = gi == (size_t)c_.L ? lo + 1 : std::min((int)gi + span, c_.L) * 7;
    for (int i = lo; i < hi; i++) {
      Linear& l = lin_[i];
      if (l.mode != kModeCompressed) continue;
      if (g.codec.empty()) g.codec = l.codec;
      CHECK_ARG(g.codec == l.codec, "engine: one codec per layer (" + g.codec + " vs " + l.codec + ")");
      l.groupOffset = g.bytes;
      l.firstChunk = (int)g.chunks;
      g.bytes = cuda::Carver::Align(g.bytes + l.RawBytes());
      g.chunks += l.chunkOffs.size();
      g.maxChunk = std::max(g.maxChunk, l.chunkSize);
      g.linears.push_back(i);
    }
    if (g.linears.empty()) continue;
    g.firstGlobalChunk = global;
    global += (int)g.chunks;
    g.cacheOffset = cacheOff;
    cacheOff += g.bytes;
    maxGroup = std::max(maxGroup, g.bytes);
  }
  // decode areas: one pooled buffer (decode-per-forward), a double buffer (fused), or the per-sequence cache
  if (sched_ == kSchedCached) decode_ = Buf(std::max<size_t>(cacheOff, 1), Tag("decode-cache"));
  else decode_ = Buf(std::max<size_t>(maxGroup, 1) * (sched_ == kSchedFused ? 2 : 1), Tag("decode-scratch"));
  // prefill of the fused schedule decodes on the main stream into half 0 (same as decode-per-forward)
  for (size_t gi = 0; gi < groups_.size(); gi++) {
    Group& g = groups_[gi];
    if (g.linears.empty()) continue;
    size_t n = g.chunks;
    int nbuf = sched_ == kSchedFused ? 2 : 1;
    std::vector<const void*> in(n);
    std::vector<size_t> inBytes(n), cap(n);
    std::vector<void*> out(n * nbuf);
    for (int li : g.linears) {
      Linear& l = lin_[li];
      for (size_t c = 0; c < l.chunkOffs.size(); c++) {
        size_t j = l.firstChunk + c;
        in[j] = l.packed.ptr + l.chunkOffs[c];
        inBytes[j] = l.chunkBytes[c];
        cap[j] = std::min(l.chunkSize, l.RawBytes() - c * l.chunkSize);
        for (int b = 0; b < nbuf; b++) out[(size_t)b * n + j] = DecodeBase(gi, b) + l.groupOffset + c * l.chunkSize;
      }
    }
    size_t need = (2 + nbuf) * cuda::Carver::Need<void*>(n) + 3 * cuda::Carver::Need<size_t>(n) + cuda::Carver::Need<int>(n) + 256;
    g.tables = Buf(need, Tag("chunk-tables"));
    cuda::Carver cv(g.tables.ptr);
    auto** dIn = cv.take<const void*>(n);
    auto* dInBytes = cv.take<size_t>(n);
    auto* dCap = cv.take<size_t>(n);
    g.dGot = cv.take<size_t>(n);
    g.dStatus = cv.take<int>(n);
    for (int b = 0; b < nbuf; b++) {
      auto** o = cv.take<void*>(n);
      CHECK_CUDA(cudaMemcpy(o, out.data() + (size_t)b * n, n * sizeof(void*), cudaMemcpyHostToDevice));
      g.dOut[b] = o;
    }
    CHECK_CUDA(cudaMemcpy(dIn, in.data(), n * sizeof(void*), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(dInBytes, inBytes.data(), n * sizeof(size_t), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(dCap, cap.data(), n * sizeof(size_t), cudaMemcpyHostToDevice));
    g.dIn = dIn;
    g.dInBytes = dInBytes;
    g.dCap = dCap;
    try {
      g.dec = std::make_unique<cuda::NvGroupDecoder>(g.codec, g.dIn, g.dInBytes, n, g.maxChunk, g.bytes, true, main_);
    } catch (Error& e) {
      e.with("codec", g.codec).with("tensor", lin_[g.linears.front()].name).with("op", "decompress setup");
      throw;
    }
    maxTemp = std::max(maxTemp, g.dec->TempBytes());
  }
  // one temp area, shared: a group's decodes are ordered on one stream (and the fused pipeline's on side_)
  temp_ = Buf(std::max<size_t>(maxTemp, 1), Tag("nvcomp-temp"));
  evDec_.resize(groups_.size());
  evComp_.resize(groups_.size());
  for (size_t i = 0; i < groups_.size(); i++) {
    CHECK_CUDA(cudaEventCreateWithFlags(&evDec_[i], cudaEventDisableTiming));
    CHECK_CUDA(cudaEventCreateWithFlags(&evComp_[i], cudaEventDisableTiming));
  }
  CHECK_CUDA(cudaEventCreateWithFlags(&evFork_, cudaEventDisableTiming));
}
#endif

uint8_t* Engine::DecodeBase(size_t gi, int buf) const {
  if (sched_ == kSchedCached) return decode_.ptr + groups_[gi].cacheOffset;
  size_t half = sched_ == kSchedFused ? decode_.bytes / 2 : 0;
  return decode_.ptr + (buf ? half : 0);
}

void Engine::DecodeGroup(size_t gi, int buf, cudaStream_t s) {
#if defined(CODECLLM_HAVE_NVCOMP)
  Group& g = groups_[gi];
  if (g.linears.empty()) return;
  try {
    g.dec->Launch(g.dIn, g.dInBytes, g.dCap, g.dGot, g.dOut[buf], g.dStatus, temp_.ptr, temp_.bytes, s);
  } catch (Error& e) {  // a launch status: name the codec and the layer's first compressed linear
    e.with("codec", g.codec).with("tensor", lin_[g.linears.front()].name).with("op", "decompress");
    throw;
  }
  LaunchCheckChunks(g.dStatus, g.dGot, g.dCap, g.chunks, g.firstGlobalChunk, err_, s);
#endif
}

const void* Engine::WeightPtr(int i, int buf, int* wtype) const {
  const Linear& l = lin_[i];
  if (l.mode == kModeFp16) {
    *wtype = kWeightF16;
    return l.sharesEmbed ? embed_.ptr : l.w.ptr;
  }
  if (l.mode == kModeBlocks) {
    *wtype = l.btype;
    return l.sharesEmbed ? embed_.ptr : l.w.ptr;
  }
  *wtype = kWeightI8Channel;
  if (l.mode == kModeInt8) return l.w.ptr;
  size_t gi = std::min<size_t>((size_t)i / 7, (size_t)c_.L);
  return DecodeBase(gi, buf) + l.groupOffset;
}

}  // namespace engine
}  // namespace codecllm
