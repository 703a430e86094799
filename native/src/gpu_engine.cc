// gpu_engine.cc — the CUDA Llama-family engine (CUDA builds; kernels in native/src/cuda/engine_*.cu, declared in
// cuda/engine.cuh). Driven from TypeScript by src/engine/cuda.ts.
//
// One Engine holds, in device buffers registered with the addon's VRAM ledger (device.h AllocBuffer, tag
// "engine<id>:<category>"): the fp16 embedding table, fp32 norms, every linear in its storage mode, the KV cache
// (fp16 or fp32, (L, Hkv, Smax, D) for K and V), activations, the rope table and, for compressed linears, the nvCOMP
// chunk tables, temp space and decode buffers.
//
// Storage modes of a linear (src/engine/modes.ts):
//   fp16        W (out, in) half; GEMV reads 2 bytes a weight.
//   int8        codes (out, in) int8 + fp32 scale per output row; dequantized inside the GEMV / GEMM.
//   compressed  int8 codes compressed by nvCOMP (packed chunks made by nvcompCompress, src/codec/nvcomp.ts); the
//               codes buffer is freed, so no fp16 or int8 copy stays resident. Decoded by a batched nvCOMP call per
//               layer ("group": the compressed linears of one block, or lm_head), scheduled per engine:
//     decode-per-forward  each forward decodes every group into ONE pooled buffer right before its layer runs;
//     cached              reset() decodes all groups once per sequence into a resident int8 cache;
//     fused               a second stream decodes layer l+1 into one half of a double buffer while layer l computes
//                         from the other half (events order decode ↔ compute); captured in the decode graph.
//   Every chunk's nvCOMP status and decompressed size are checked on the device after each decode
//   (LaunchCheckChunks); the host reads the error counter after every forward / generate and throws E_NVCOMP
//   naming codec, tensor and chunk.
//
// Decode (T = 1) reads the token and position from device memory (step[0], step[1]) and ends with an on-device
// argmax that writes the next token and advances the position, so a greedy step is position-independent and is
// captured once into a CUDA graph and replayed; prefill (T > 1) runs eagerly with tensor-core GEMMs.
//
// JS (all ids are numbers; errors are codecllm::Error through binding.h):
//   engineCreate(cfg) -> id                  cfg: {hidden, intermediate, layers, heads, kvHeads, headDim, vocab,
//                                               rmsEps, maxSeq, maxPrefill, kvDtype:'f16'|'f32', ropeCos, ropeSin}
//   engineSetEmbedding(id, f32 (V*h))        engineSetNorm(id, layer|-1, which 0 input|1 post, f32 (h))
//   engineSetLinearF32(id, index, mode 'fp16'|'int8', f32 (out*in), bias f32|null)   index = layer*7 + k, lm_head = L*7
//   engineSetLinearInt8(id, index, codes Int8Array, scales Float32Array, bias|null)
//   engineShareEmbedding(id)                 lm_head (fp16) reads the embedding table (tied models)
//   engineRandomize(id, seed, modes Int32Array(L*7+1))   synthetic weights generated on the device
//   engineLinearCodes(id, index) -> {id, bytes}          int8 codes buffer, for nvcompCompress
//   engineSetCompressed(id, index, codec, packedId, chunkOffsets F64, chunkBytes F64, chunkSize)
//   engineFinalize(id, schedule 'none'|'decode-per-forward'|'cached'|'fused')
//   engineReset(id)                          engineForward(id, tokens Int32Array, wantLogits) -> {next, logits?, ms}
//   engineGenerate(id, n, useGraph) -> {tokens Int32Array, ms, graph}
//   engineLedger(id) -> {categories: {...bytes}, modes: {fp16, int8, compressed}}      engineDestroy(id)
//   engineKernelTest(name, params) -> {name, n, maxAbs, maxErrOverTol, fails, first: [...], atol, rtol, pass}
#include <napi.h>

#include "binding.h"

#if defined(CODECLLM_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cuda/engine.cuh"
#include "device.h"
#include "env.h"
#include "engine/ops_ref.h"

#if defined(CODECLLM_HAVE_NVCOMP)
#include <nvcomp/ans.h>
#include <nvcomp/bitcomp.h>
#include <nvcomp/cascaded.h>
#include <nvcomp/deflate.h>
#include <nvcomp/gdeflate.h>
#include <nvcomp/lz4.h>
#include <nvcomp/snappy.h>
#include <nvcomp/zstd.h>
#endif

namespace codecllm {
namespace engine {

using cuda::AllocBuffer;
using cuda::FreeBuffer;
using cuda::GetBuffer;

// ------------------------------------------------------------------------------------------------------------
// nvCOMP decode: one cuda::NvGroupDecoder per layer group (native/src/device.h, implemented in nvcomp.cc), built in
// BuildGroups over chunk tables that live on the device for the engine's life. Host work (temp size queries, the
// Bitcomp plan from the compressed headers) happens there; DecodeGroup only enqueues, so the decode step stays
// capturable. (Calling nvcompBatchedBitcompDecompressAsync per decode, as this file did before, makes a new Bitcomp
// plan with a stream sync each time: not capturable, and it failed here with nvcompErrorInternal.)
// ------------------------------------------------------------------------------------------------------------

// ------------------------------------------------------------------------------------------------------------
// the engine
// ------------------------------------------------------------------------------------------------------------
// append-only; kModeBlocks = the checkpoint's own GGML blocks (q4_1 / q8_0, "gguf" in src/engine/modes.ts)
enum StorageMode : int { kModeFp16 = 0, kModeInt8 = 1, kModeCompressed = 2, kModeBlocks = 3 };
enum Schedule : int { kSchedNone = 0, kSchedDecodePerForward = 1, kSchedCached = 2, kSchedFused = 3 };
const char* const kKindNames[7] = {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                   "mlp.gate_proj",    "mlp.up_proj",      "mlp.down_proj"};

/** Programmatic dependent launch on for the engine kernels enqueued in this scope (native/src/cuda/pdl.cuh). */
struct PdlScope {
  bool prev;
  explicit PdlScope(bool on) : prev(SetPdl(on)) {}
  ~PdlScope() { SetPdl(prev); }
  PdlScope(const PdlScope&) = delete;
  PdlScope& operator=(const PdlScope&) = delete;
};

struct Config {
  int h = 0, I = 0, L = 0, H = 0, Hkv = 0, D = 0, V = 0, Smax = 0, Tmax = 0;
  int B = 1;  // sequence slots (KV caches) for batched decode; slot 0 is the single-sequence state
  bool pdl = true;  // programmatic dependent launch where sound (UsePdl)
  float eps = 1e-5f;
  bool kv16 = true;
};

/** An owned ledger buffer (freed on destruction). */
struct Buf {
  uint32_t id = 0;
  uint8_t* ptr = nullptr;
  size_t bytes = 0;
  Buf() = default;
  Buf(size_t n, const std::string& tag) {
    id = AllocBuffer(n, tag);
    ptr = GetBuffer(id).ptr;
    bytes = n;
  }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  Buf(Buf&& o) noexcept { *this = std::move(o); }
  Buf& operator=(Buf&& o) noexcept {
    std::swap(id, o.id);
    std::swap(ptr, o.ptr);
    std::swap(bytes, o.bytes);
    return *this;
  }
  ~Buf() { Reset(); }
  void Reset() {
    if (id) {
      try {
        FreeBuffer(id);
      } catch (...) {
      }
    }
    id = 0;
    ptr = nullptr;
    bytes = 0;
  }
  template <class T>
  T* as() const { return reinterpret_cast<T*>(ptr); }
};

struct Linear {
  std::string name;
  int rows = 0, K = 0;
  int mode = -1;  // StorageMode, -1 = not set
  Buf w;          // fp16 weights, int8 codes or block codes/nibbles (empty when compressed or shared)
  Buf scale;      // int8 / compressed: fp32 per row; blocks: per-block d (q8_0) or (d, m) (q4_1) as half
  int btype = -1; // blocks: kWeightQ4_1 or kWeightQ8_0
  Buf bias;
  bool sharesEmbed = false;
  // compressed
  Buf packed;
  std::string codec;
  size_t chunkSize = 0;
  std::vector<size_t> chunkOffs, chunkBytes;
  size_t groupOffset = 0;  // offset of the decoded codes inside the group's decode area
  int firstChunk = 0;      // index of chunk 0 inside the group's tables
  size_t RawBytes() const { return (size_t)rows * K; }
};

/** The compressed linears of one block (or lm_head), decoded by one batched nvCOMP call. */
struct Group {
  std::vector<int> linears;
  std::string codec;
  size_t bytes = 0;  // decoded bytes
  size_t chunks = 0;
  size_t maxChunk = 0;
  size_t cacheOffset = 0;  // offset inside the per-sequence cache (cached schedule)
  Buf tables;              // in ptrs | in bytes | caps | got | status | out ptrs [nbuf]
  const void* const* dIn = nullptr;
  const size_t* dInBytes = nullptr;
  const size_t* dCap = nullptr;
  size_t* dGot = nullptr;
  int* dStatus = nullptr;
  void* const* dOut[2] = {nullptr, nullptr};
  int firstGlobalChunk = 0;
#if defined(CODECLLM_HAVE_NVCOMP)
  std::unique_ptr<cuda::NvGroupDecoder> dec;
#endif
};

class Engine {
 public:
  Engine(uint32_t id, const Config& c, const std::vector<float>& cosTab, const std::vector<float>& sinTab) : id_(id), c_(c) {
    lin_.resize((size_t)c.L * 7 + 1);
    norms_.resize((size_t)2 * c.L + 1);
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
    rope_ = Buf(sizeof(float) * cosTab.size() * 2, Tag("tables"));
    CHECK_CUDA(cudaMemcpy(rope_.ptr, cosTab.data(), sizeof(float) * cosTab.size(), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(rope_.ptr + sizeof(float) * cosTab.size(), sinTab.data(), sizeof(float) * sinTab.size(),
                          cudaMemcpyHostToDevice));
    cos_ = rope_.as<float>();
    sin_ = cos_ + cosTab.size();
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
  ~Engine() {
    if (graph_) cudaGraphExecDestroy(graph_);
    if (graphB_) cudaGraphExecDestroy(graphB_);
    for (auto e : evDec_) cudaEventDestroy(e);
    for (auto e : evComp_) cudaEventDestroy(e);
    if (evFork_) cudaEventDestroy(evFork_);
    if (ev0_) cudaEventDestroy(ev0_);
    if (ev1_) cudaEventDestroy(ev1_);
    if (pinned_) cudaFreeHost(pinned_);
  }

  const Config& cfg() const { return c_; }
  std::string Tag(const std::string& cat) const { return "engine" + std::to_string(id_) + ":" + cat; }
  Linear& Lin(int index) {
    CHECK_ARG(index >= 0 && index < (int)lin_.size(), "linear index " + std::to_string(index) + " outside [0, " + std::to_string(lin_.size()) + ")");
    return lin_[index];
  }
  void RequireOpen() const { CHECK_ARG(!finalized_, "engine is finalized: weights can no longer change"); }

  // ---- weights
  void SetEmbedding(const float* w, size_t n) {
    RequireOpen();
    CHECK_ARG(n == (size_t)c_.V * c_.h, "embedding: expected " + std::to_string((size_t)c_.V * c_.h) + " floats, got " + std::to_string(n));
    embed_ = Buf(n * 2, Tag("embed"));
    embedD_.Reset();
    UploadF16(embed_.as<uint16_t>(), w, n);
  }
  /** The embedding as q8_0 blocks (V, h/32 blocks of 34 bytes): codes | d kept apart for aligned loads. */
  void SetEmbeddingBlocks(const uint8_t* raw, size_t n) {
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
  /** GGML blocks (common/blocks.h) -> (codes or nibbles, per-block aux halves): a q4_1 block gives its 16 nibble
   *  bytes + (d, m); a q8_0 block its 32 codes + d. */
  static void SplitBlocks(int btype, const uint8_t* raw, size_t nblk, std::vector<uint8_t>* codes, std::vector<uint16_t>* aux) {
    const size_t bb = BlockBytes(btype), cb = CodeBytes(btype), ab = AuxHalves(btype);
    codes->resize(nblk * cb);
    aux->resize(nblk * ab);
    for (size_t b = 0; b < nblk; b++) {
      const uint8_t* blk = raw + b * bb;
      for (size_t j = 0; j < ab; j++) (*aux)[b * ab + j] = (uint16_t)(blk[2 * j] | (blk[2 * j + 1] << 8));
      std::memcpy(codes->data() + b * cb, blk + 2 * ab, cb);
    }
  }
  /** Bytes of quantized codes of one q4_1 / q8_0 block after SplitBlocks (16 nibble bytes / 32 codes). */
  static size_t CodeBytes(int btype) { return btype == kWeightQ4_1 ? sizeof(blocks::BlockQ4_1::qs) : sizeof(blocks::BlockQ8_0::qs); }
  /** fp16 halves of one q4_1 / q8_0 block after SplitBlocks ((d, m) / d). */
  static size_t AuxHalves(int btype) { return btype == kWeightQ4_1 ? 2 : 1; }
  /** A linear as its checkpoint's GGML blocks (kWeightQ4_1 | kWeightQ8_0): rows * K/32 blocks, row-major. */
  void SetLinearBlocks(int index, int bt, const uint8_t* raw, size_t n, const float* bias, size_t nb) {
    RequireOpen();
    Linear& l = Lin(index);
    const std::string type = WeightTypeName(bt);
    CHECK_ARG(bt == kWeightQ4_1 || bt == kWeightQ8_0, l.name + ": block type '" + type + "' (expected q4_1 or q8_0)");
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
  void SetNorm(int layer, int which, const float* w, size_t n) {
    RequireOpen();
    CHECK_ARG(layer >= -1 && layer < c_.L && (which == 0 || which == 1), "norm: bad layer/which");
    CHECK_ARG(n == (size_t)c_.h, "norm: expected " + std::to_string(c_.h) + " floats");
    Buf& b = layer < 0 ? norms_.back() : norms_[(size_t)2 * layer + which];
    b = Buf(n * 4, Tag("norms"));
    CHECK_CUDA(cudaMemcpy(b.ptr, w, n * 4, cudaMemcpyHostToDevice));
  }
  void SetLinearF32(int index, int mode, const float* w, size_t n, const float* bias, size_t nb) {
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
  void SetLinearInt8(int index, const int8_t* codes, size_t n, const float* scales, size_t ns, const float* bias, size_t nb) {
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
  void ShareEmbedding() {
    RequireOpen();
    CHECK_ARG(embed_.ptr, "shareEmbedding: set the embedding first");
    Linear& l = lin_.back();
    l.w.Reset();
    l.scale.Reset();
    l.mode = embedD_.ptr ? kModeBlocks : kModeFp16;  // a q8_0 table is read as q8_0 blocks by the lm_head GEMV
    l.btype = embedD_.ptr ? kWeightQ8_0 : -1;
    l.sharesEmbed = true;
  }
  /** Synthetic model: every tensor N(0, 1/fan_in) (embedding N(0,1), norms 1 + 0.1 N(0,1)), generated on the device. */
  void Randomize(uint64_t seed, const std::vector<int>& modes) {
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
    for (auto& nb : norms_) {
      nb = Buf((size_t)c_.h * 4, Tag("norms"));
      LaunchRandomNormal(nb.as<float>(), c_.h, ++k, 1.f, 0.1f, main_);
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
  /** The int8 codes buffer of a linear (for nvcompCompress). */
  uint32_t CodesId(int index) {
    Linear& l = Lin(index);
    CHECK_ARG(l.mode == kModeInt8 && l.w.id, l.name + ": has no int8 codes (mode must be int8 before compression)");
    return l.w.id;
  }
  void SetCompressed(int index, const std::string& codec, uint32_t packedId, const double* offs, const double* sizes, size_t n,
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
  void SetBias(Linear& l, const float* bias, size_t nb) {
    if (!bias) {
      l.bias.Reset();
      return;
    }
    CHECK_ARG(nb == (size_t)l.rows, l.name + ": bias of the wrong size");
    l.bias = Buf(nb * 4, Tag("bias"));
    CHECK_CUDA(cudaMemcpy(l.bias.ptr, bias, nb * 4, cudaMemcpyHostToDevice));
  }

  // ---- finalize: check completeness, build decode groups
  void Finalize(int schedule) {
    RequireOpen();
    CHECK_ARG(embed_.ptr, "engine: embedding not set");
    for (size_t i = 0; i < norms_.size(); i++) CHECK_ARG(norms_[i].ptr, "engine: norm " + std::to_string(i) + " not set");
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
    CHECK_CUDA(cudaDeviceSynchronize());  // uploads through the legacy stream are complete before engine streams run
    finalized_ = true;
  }

#if defined(CODECLLM_HAVE_NVCOMP)
  void BuildGroups() {
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

  uint8_t* DecodeBase(size_t gi, int buf) const {
    if (sched_ == kSchedCached) return decode_.ptr + groups_[gi].cacheOffset;
    size_t half = sched_ == kSchedFused ? decode_.bytes / 2 : 0;
    return decode_.ptr + (buf ? half : 0);
  }

  /** Enqueue the batched decode of group gi into decode buffer `buf` on stream s, then its per-chunk check. */
  void DecodeGroup(size_t gi, int buf, cudaStream_t s) {
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

  /** The weight pointer and kernel type of linear i for decode buffer `buf` of its group. */
  const void* WeightPtr(int i, int buf, int* wtype) const {
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

  // ---- the forward pieces
  /** GEMV over linears [i0, i0+n) sharing one input; consecutive same-typed linears share a launch. */
  void Gemv(int i0, int n, float* const* ys, int prologue, const float* in, const float* in2, const float* normw, bool acc, int buf,
            cudaStream_t s, int nb = 1) {
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
        if (wt0 >= 0 && wt != wt0) break;
        wt0 = wt;
        const Linear& l = lin_[i0 + i];
        a.seg[a.nseg++] = GemvSeg{w, l.scale.as<float>(), l.bias.as<float>(), ys[i], l.rows, AuxPtr(i0 + i)};
        i++;
      }
      LaunchGemv(a, wt0, s);
    }
  }
  void Gemm(int i, const uint16_t* A, float* Y, int M, bool acc, int buf, cudaStream_t s) {
    int wt;
    const void* w = WeightPtr(i, buf, &wt);
    const Linear& l = lin_[i];
    LaunchGemm(A, w, wt, l.scale.as<float>(), l.bias.as<float>(), Y, M, l.rows, l.K, acc, s, AuxPtr(i));
  }
  /** Block scales of linear i (GGML block storage), else null. */
  const void* AuxPtr(int i) const {
    const Linear& l = lin_[i];
    if (l.mode != kModeBlocks) return nullptr;
    return l.sharesEmbed ? embedD_.ptr : l.scale.ptr;
  }
  /** x (T, h) = embedding rows of tokens (fp16 table, or q8_0 blocks when set that way). */
  void Embed(const int32_t* tokens, int T, cudaStream_t s) {
    if (embedD_.ptr) LaunchEmbeddingQ8(x_, embed_.as<int8_t>(), embedD_.as<uint16_t>(), tokens, T, c_.h, s);
    else LaunchEmbedding(x_, embed_.as<uint16_t>(), tokens, T, c_.h, s);
  }
  // KV cache: slot b holds K (L, Hkv, Smax, D) then V (L, Hkv, Smax, D); slots are SlotStride() elements apart
  void* KCache(int l, int slot = 0) const { return kv_.ptr + ((size_t)slot * SlotStride() + (size_t)l * LayerKV()) * (c_.kv16 ? 2 : 4); }
  void* VCache(int l, int slot = 0) const {
    return kv_.ptr + ((size_t)slot * SlotStride() + ((size_t)c_.L + l) * LayerKV()) * (c_.kv16 ? 2 : 4);
  }
  size_t LayerKV() const { return (size_t)c_.Hkv * c_.Smax * c_.D; }
  size_t SlotStride() const { return 2 * (size_t)c_.L * LayerKV(); }

  /**
   * One decode step, enqueued on main_ (and side_ when fused). B = 0: the single sequence (slot 0), token and position
   * in step_[0..1], argmax bookkeeping in step_. B >= 1: batched decode of slots [0, B), tokens in bTok_, positions
   * in bPos_, one row per sequence through every GEMV (weights read once per step for all B).
   */
  void EnqueueDecode(int B = 0) {
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

  /** One layer of a decode step for nb rows (row t = slot t at position pos[t]; nb = 1 is slot 0). */
  void ForwardLayerDecode(int l, int buf, cudaStream_t s, int nb, const int32_t* pos) {
    const Config& c = c_;
    int b = l * 7;
    float* qkv[3] = {q_, k_, v_};
    Gemv(b, 3, qkv, kPrologueRmsNorm, x_, nullptr, norms_[2 * l].as<float>(), false, buf, s, nb);
    Mark("qkv gemv (+rmsnorm)");
    static const bool fuseRope = EnvFlag("CODECLLM_FUSE_ROPE", true);  // 0: separate rope kernel (measurement)
    if (fuseRope) {
      LaunchRopeAttention(att_, q_, k_, v_, KCache(l), VCache(l), c.kv16, cos_, sin_, nb, c.H, c.Hkv, c.D, pos, SlotStride(), c.Smax, s);
      Mark("rope + attention");
    } else {
      LaunchRopeAppend(q_, k_, v_, KCache(l), VCache(l), c.kv16, cos_, sin_, nb, c.H, c.Hkv, c.D, 0, nullptr, c.Smax, s, pos, SlotStride());
      Mark("rope + kv append");
      LaunchAttention(att_, nullptr, q_, KCache(l), VCache(l), c.kv16, nb, c.H, c.Hkv, c.D, 0, nullptr, c.Smax, s, pos, SlotStride());
      Mark("attention");
    }
    float* o[1] = {x_};
    Gemv(b + 3, 1, o, kPrologueNone, att_, nullptr, nullptr, true, buf, s, nb);
    Mark("o gemv (+residual)");
    float* gu[2] = {g_, u_};
    Gemv(b + 4, 2, gu, kPrologueRmsNorm, x_, nullptr, norms_[2 * l + 1].as<float>(), false, buf, s, nb);
    Mark("gate|up gemv (+rmsnorm)");
    Gemv(b + 6, 1, o, kPrologueSwiGLU, g_, u_, nullptr, true, buf, s, nb);
    Mark("down gemv (+swiglu, residual)");
  }

  /** Records an event on main_ labelled `label` while a decode profile is being taken (ProfileDecode). */
  void Mark(const char* label) {
    if (!prof_) return;
    cudaEvent_t e;
    CHECK_CUDA(cudaEventCreate(&e));
    prof_->push_back({label, e});
    CHECK_CUDA(cudaEventRecord(e, main_));
  }

  /**
   * One eager decode step (B = 0: the single sequence after forward(); B > 0: the batch after generateBatch(B))
   * with an event after every op: per-op time (ms, summed over layers, in first-seen order) of a step serialized by
   * the events (no PDL overlap, no graph). The step really runs: the sequences advance by one token.
   */
  std::vector<std::pair<std::string, double>> ProfileDecode(int B) {
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

  /** Prefill T tokens (already in tokens_) at positions [P, P+T) of cache slot `slot`; leaves logits of the last one
   *  and argmax in step_. */
  void EnqueuePrefill(int T, int P, int slot = 0) {
    const Config& c = c_;
    cudaStream_t s = main_;
    Embed(tokens_, T, s);
    for (int l = 0; l <= c.L; l++) {
      if (sched_ == kSchedDecodePerForward || sched_ == kSchedFused) DecodeGroup(l, 0, s);
      if (l == c.L) break;
      int b = l * 7;
      LaunchRmsNorm(nullptr, a16_, x_, norms_[2 * l].as<float>(), T, c.h, c.eps, s);
      Gemm(b, a16_, q_, T, false, 0, s);
      Gemm(b + 1, a16_, k_, T, false, 0, s);
      Gemm(b + 2, a16_, v_, T, false, 0, s);
      LaunchRopeAppend(q_, k_, v_, KCache(l, slot), VCache(l, slot), c.kv16, cos_, sin_, T, c.H, c.Hkv, c.D, P, nullptr, c.Smax, s);
      LaunchAttention(att_, a16_, q_, KCache(l, slot), VCache(l, slot), c.kv16, T, c.H, c.Hkv, c.D, P, nullptr, c.Smax, s);
      Gemm(b + 3, a16_, x_, T, true, 0, s);
      LaunchRmsNorm(nullptr, a16_, x_, norms_[2 * l + 1].as<float>(), T, c.h, c.eps, s);
      Gemm(b + 4, a16_, g_, T, false, 0, s);
      Gemm(b + 5, a16_, u_, T, false, 0, s);
      LaunchSwiGLU(nullptr, a16_, g_, u_, (size_t)T * c.I, s);
      Gemm(b + 6, a16_, x_, T, true, 0, s);
    }
    float* ys[1] = {logits_};
    Gemv(c.L * 7, 1, ys, kPrologueRmsNorm, x_ + (size_t)(T - 1) * c.h, nullptr, norms_.back().as<float>(), false, 0, s);
    LaunchArgmaxStep(logits_, c.V, step_, nullptr, P + T, s);
  }

  void ResetErr() {
    int32_t init[2] = {0, 0x7fffffff};
    std::memcpy(static_cast<uint8_t*>(pinned_) + pinnedErrOff_, init, sizeof(init));
    CHECK_CUDA(cudaMemcpyAsync(err_, static_cast<uint8_t*>(pinned_) + pinnedErrOff_, sizeof(init), cudaMemcpyHostToDevice, main_));
    CHECK_CUDA(cudaStreamSynchronize(main_));
  }
  /** Throws E_NVCOMP when a chunk failed since the last ResetErr (after a sync). */
  void CheckErr() {
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

  // ---- public operations
  void Reset() {
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

  /** Runs tokens (T >= 1) through the model; returns the argmax of the last position and its time (ms). */
  int Forward(const int32_t* tokens, int T, float* logitsOut, float* ms) {
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

  /** n greedy decode steps from the current state (step_[0] = last argmax); graph replay when useGraph. */
  std::vector<int32_t> Generate(int n, bool useGraph, float* ms, bool* usedGraph) {
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

  /** Captures one decode step (EnqueueDecode(B)) as a graph; null (and graphError_ set) when capture fails. */
  cudaGraphExec_t CaptureDecode(int B) {
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

  /**
   * Batched greedy generation: prompt b is prefilled into KV slot b (B <= maxBatch), then n decode steps run for all
   * B sequences at once (graph replay when useGraph). Returns (B, n + 1) tokens: the prefill's argmax, then the n
   * decoded ones. The single-sequence state is reset (slot 0 is overwritten): run forward() again afterwards.
   */
  std::vector<int32_t> GenerateBatch(const std::vector<std::vector<int32_t>>& prompts, int n, bool useGraph, float* prefillMs,
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

  // ---- ledger: bytes by category (every buffer the engine owns)
  std::map<std::string, double> Ledger() const {
    std::map<std::string, double> m;
    auto add = [&](const std::string& k, const Buf& b) { m[k] += (double)b.bytes; };
    add("embed", embed_);
    add("embed", embedD_);
    for (auto& n : norms_) add("norms", n);
    for (auto& l : lin_) {
      const char* k = l.mode == kModeFp16    ? "weights_fp16"
                      : l.mode == kModeInt8  ? "weights_int8"
                      : l.mode == kModeBlocks ? "weights_gguf"
                                              : "weights_compressed";
      add(k, l.w);
      add(k, l.packed);
      add(l.mode == kModeBlocks ? "weights_gguf" : "scales", l.scale);
      add("bias", l.bias);
    }
    for (auto& g : groups_) add("chunk_tables", g.tables);
    add("kv_cache", kv_);
    add("activations", act_);
    add("rope_tables", rope_);
    add(sched_ == kSchedCached ? "decode_cache" : "decode_scratch", decode_);
    add("nvcomp_temp", temp_);
    return m;
  }
  std::map<std::string, int> ModeCounts() const {
    std::map<std::string, int> m{{"fp16", 0}, {"int8", 0}, {"compressed", 0}, {"gguf", 0}};
    for (auto& l : lin_) m[l.mode == kModeFp16 ? "fp16" : l.mode == kModeInt8 ? "int8" : l.mode == kModeBlocks ? "gguf" : "compressed"]++;
    return m;
  }
  int pos() const { return pos_; }
  float lastCacheMs() const { return lastCacheMs_; }
  const std::string& graphError() const { return graphError_; }
  int schedule() const { return sched_; }
  /** PDL is sound only while no kernel of the forward writes weights (pdl.cuh): not with in-forward nvCOMP decode. */
  bool UsePdl() const { return c_.pdl && (sched_ == kSchedNone || sched_ == kSchedCached); }

 private:
  void UploadF16(uint16_t* dst, const float* src, size_t n) {
    cuda::Lease tmp(cuda::DeviceScratch(), n * 4);
    CHECK_CUDA(cudaMemcpyAsync(tmp.data(), src, n * 4, cudaMemcpyHostToDevice, main_));
    LaunchF32ToF16(dst, reinterpret_cast<float*>(tmp.data()), n, main_);
    CHECK_CUDA(cudaStreamSynchronize(main_));
  }
  void InstallFromDeviceF32(Linear& l, int mode, const float* w) {
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

  uint32_t id_;
  Config c_;
  std::vector<Linear> lin_;
  std::vector<Buf> norms_;  // (input, post) per layer, final last
  Buf embed_, rope_, act_, kv_, decode_, temp_;
  Buf embedD_;  // q8_0 embedding: per-block d (then embed_ holds the int8 codes)
  std::vector<Group> groups_;
  float *cos_ = nullptr, *sin_ = nullptr;
  float *x_ = nullptr, *q_ = nullptr, *k_ = nullptr, *v_ = nullptr, *att_ = nullptr, *g_ = nullptr, *u_ = nullptr, *logits_ = nullptr;
  uint16_t* a16_ = nullptr;
  int32_t *tokens_ = nullptr, *step_ = nullptr, *err_ = nullptr, *outTokens_ = nullptr;
  void* pinned_ = nullptr;
  size_t pinnedErrOff_ = 0;
  int32_t *bTok_ = nullptr, *bPos_ = nullptr;  // batched decode: token and position of each slot
  int batchLive_ = 0, batchMaxPos_ = 0;        // sequences of the last generateBatch and their largest position
  std::vector<std::pair<const char*, cudaEvent_t>>* prof_ = nullptr;
  cudaGraphExec_t graphB_ = nullptr;           // batched decode step, captured for graphBn_ rows
  int graphBn_ = 0;
  cudaStream_t main_ = nullptr, side_ = nullptr;
  cudaEvent_t ev0_ = nullptr, ev1_ = nullptr, evFork_ = nullptr;
  std::vector<cudaEvent_t> evDec_, evComp_;
  cudaGraphExec_t graph_ = nullptr;
  bool graphFailed_ = false;
  std::string graphError_;
  bool finalized_ = false;
  int sched_ = kSchedNone;
  int pos_ = 0;
  float lastCacheMs_ = 0;
};

std::map<uint32_t, std::unique_ptr<Engine>>& Engines() {
  static std::map<uint32_t, std::unique_ptr<Engine>> m;
  return m;
}
uint32_t next_engine_id = 1;

Engine& Get(const Napi::CallbackInfo& info) {
  uint32_t id = (uint32_t)ArgSize(info, 0, "engine", 0xffffffffu);
  auto it = Engines().find(id);
  CHECK_ARG(it != Engines().end(), "engine " + std::to_string(id) + " does not exist (destroyed?)");
  return *it->second;
}

template <class T>
const T* TypedData(const Napi::CallbackInfo& info, size_t i, const char* name, napi_typedarray_type type, size_t* n) {
  CHECK_ARG(info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == type,
            std::string(name) + ": wrong typed array type");
  Napi::TypedArray a = info[i].As<Napi::TypedArray>();
  *n = a.ElementLength();
  return reinterpret_cast<const T*>(static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset());
}
const float* OptF32(const Napi::CallbackInfo& info, size_t i, size_t* n) {
  *n = 0;
  if (info.Length() <= i || info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return TypedData<float>(info, i, "bias", napi_float32_array, n);
}
int ParseMode(const std::string& m) {
  if (m == "fp16") return kModeFp16;
  if (m == "int8") return kModeInt8;
  THROW_ERROR("E_ARG", "storage mode '" + m + "' (expected fp16 or int8 here)");
}
int ParseSchedule(const std::string& s) {
  if (s == "none") return kSchedNone;
  if (s == "decode-per-forward") return kSchedDecodePerForward;
  if (s == "cached") return kSchedCached;
  if (s == "fused") return kSchedFused;
  THROW_ERROR("E_ARG", "schedule '" + s + "' (expected none, decode-per-forward, cached or fused)");
}

int CfgInt(Napi::Object o, const char* k, int lo, int hi) {
  Napi::Value v = o.Get(k);
  CHECK_ARG(v.IsNumber(), std::string("engine config: ") + k + " must be a number");
  double d = v.As<Napi::Number>().DoubleValue();
  CHECK_ARG(d == std::floor(d) && d >= lo && d <= hi, std::string("engine config: ") + k + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return (int)d;
}

Napi::Value EngineCreate(const Napi::CallbackInfo& info) {
  CHECK_ARG(info.Length() > 0 && info[0].IsObject(), "engineCreate: expected a config object");
  Napi::Object o = info[0].As<Napi::Object>();
  Config c;
  c.h = CfgInt(o, "hidden", 16, 1 << 16);
  c.I = CfgInt(o, "intermediate", 16, 1 << 18);
  c.L = CfgInt(o, "layers", 1, 1024);
  c.H = CfgInt(o, "heads", 1, 1024);
  c.Hkv = CfgInt(o, "kvHeads", 1, 1024);
  c.D = CfgInt(o, "headDim", 2, 1024);
  c.V = CfgInt(o, "vocab", 1, 1 << 22);
  c.Smax = CfgInt(o, "maxSeq", 1, 1 << 16);
  c.Tmax = CfgInt(o, "maxPrefill", 1, 1 << 16);
  c.B = o.Get("maxBatch").IsUndefined() ? 1 : CfgInt(o, "maxBatch", 1, 64);
  c.pdl = !o.Get("pdl").IsBoolean() || o.Get("pdl").As<Napi::Boolean>().Value();
  CHECK_ARG(o.Get("rmsEps").IsNumber(), "engine config: rmsEps must be a number");
  c.eps = o.Get("rmsEps").As<Napi::Number>().FloatValue();
  std::string kv = o.Get("kvDtype").IsString() ? o.Get("kvDtype").As<Napi::String>().Utf8Value() : "f16";
  CHECK_ARG(kv == "f16" || kv == "f32", "engine config: kvDtype must be f16 or f32");
  c.kv16 = kv == "f16";
  CHECK_ARG(c.H % c.Hkv == 0 && c.D % 2 == 0, "engine config: heads % kvHeads == 0 and even headDim required");
  CHECK_ARG(c.h % 16 == 0 && c.I % 16 == 0 && (c.H * c.D) % 16 == 0,
            "engine config: hidden, intermediate and heads*headDim must be multiples of 16 (16-byte weight rows)");
  CHECK_ARG(c.D % 8 == 0, "engine config: headDim must be a multiple of 8 (16-byte KV rows)");
  CHECK_ARG(((size_t)c.Smax + 3 * (size_t)c.D + 512 * 8) * 4 <= 200 * 1024, "engine config: maxSeq too large for the attention kernel's shared memory");
  auto tab = [&](const char* k) {
    Napi::Value v = o.Get(k);
    CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array, std::string("engine config: ") + k + " must be a Float32Array");
    Napi::Float32Array a = v.As<Napi::Float32Array>();
    CHECK_ARG(a.ElementLength() == (size_t)c.Smax * (c.D / 2), std::string("engine config: ") + k + " must hold maxSeq*headDim/2 floats");
    return std::vector<float>(a.Data(), a.Data() + a.ElementLength());
  };
  std::vector<float> cs = tab("ropeCos"), sn = tab("ropeSin");
  uint32_t id = next_engine_id++;
  Engines()[id] = std::make_unique<Engine>(id, c, cs, sn);
  return Napi::Number::New(info.Env(), id);
}

Napi::Value EngineSetEmbedding(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  size_t n;
  const float* w = TypedData<float>(info, 1, "embedding", napi_float32_array, &n);
  e.SetEmbedding(w, n);
  return info.Env().Undefined();
}
Napi::Value EngineSetNorm(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int layer = (int)ArgInt(info, 1, "layer", -1, 1 << 20, 0);
  int which = (int)ArgInt(info, 2, "which", 0, 1, 0);
  size_t n;
  const float* w = TypedData<float>(info, 3, "norm", napi_float32_array, &n);
  e.SetNorm(layer, which, w, n);
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearF32(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  int mode = ParseMode(ArgString(info, 2, "mode"));
  size_t n, nb;
  const float* w = TypedData<float>(info, 3, "weight", napi_float32_array, &n);
  const float* b = OptF32(info, 4, &nb);
  e.SetLinearF32(index, mode, w, n, b, nb);
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearInt8(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  size_t n, ns, nb;
  const int8_t* codes = TypedData<int8_t>(info, 2, "codes", napi_int8_array, &n);
  const float* scales = TypedData<float>(info, 3, "scales", napi_float32_array, &ns);
  const float* b = OptF32(info, 4, &nb);
  e.SetLinearInt8(index, codes, n, scales, ns, b, nb);
  return info.Env().Undefined();
}
Napi::Value EngineSetLinearBlocks(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  const int type = ArgWeightType(info, 2, "type");  // id (dtypes.ts DTYPES[*].id) or name
  size_t n, nb;
  const uint8_t* raw = TypedData<uint8_t>(info, 3, "blocks", napi_uint8_array, &n);
  const float* b = OptF32(info, 4, &nb);
  e.SetLinearBlocks(index, type, raw, n, b, nb);
  return info.Env().Undefined();
}
Napi::Value EngineSetEmbeddingBlocks(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  const int type = ArgWeightType(info, 1, "type");  // id (dtypes.ts DTYPES[*].id) or name
  CHECK_ARG(type == kWeightQ8_0, std::string("embedding blocks: type '") + WeightTypeName(type) + "' (only q8_0)");
  size_t n;
  const uint8_t* raw = TypedData<uint8_t>(info, 2, "blocks", napi_uint8_array, &n);
  e.SetEmbeddingBlocks(raw, n);
  return info.Env().Undefined();
}
Napi::Value EngineShareEmbedding(const Napi::CallbackInfo& info) {
  Get(info).ShareEmbedding();
  return info.Env().Undefined();
}
Napi::Value EngineRandomize(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  uint64_t seed = ArgSize(info, 1, "seed", 0xffffffffull);
  size_t n;
  const int32_t* m = TypedData<int32_t>(info, 2, "modes", napi_int32_array, &n);
  e.Randomize(seed, std::vector<int>(m, m + n));
  return info.Env().Undefined();
}
Napi::Value EngineLinearCodes(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  uint32_t id = e.CodesId(index);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("id", id);
  o.Set("bytes", (double)GetBuffer(id).bytes);
  return o;
}
Napi::Value EngineSetCompressed(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int index = (int)ArgInt(info, 1, "index", 0, 1 << 24, 0);
  std::string codec = ArgString(info, 2, "codec");
  uint32_t packed = (uint32_t)ArgSize(info, 3, "packedId", 0xffffffffu);
  size_t n, n2;
  const double* offs = TypedData<double>(info, 4, "chunkOffsets", napi_float64_array, &n);
  const double* sizes = TypedData<double>(info, 5, "chunkBytes", napi_float64_array, &n2);
  CHECK_ARG(n == n2, "chunkOffsets and chunkBytes differ in length");
  size_t chunk = ArgSize(info, 6, "chunkSize", 1ull << 30);
  e.SetCompressed(index, codec, packed, offs, sizes, n, chunk);
  return info.Env().Undefined();
}
Napi::Value EngineFinalize(const Napi::CallbackInfo& info) {
  Get(info).Finalize(ParseSchedule(ArgString(info, 1, "schedule")));
  return info.Env().Undefined();
}
Napi::Value EngineReset(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  e.Reset();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("cacheDecodeMs", e.lastCacheMs());
  return o;
}
Napi::Value EngineForward(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  size_t T;
  const int32_t* toks = TypedData<int32_t>(info, 1, "tokens", napi_int32_array, &T);
  bool want = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  float ms = 0;
  int next;
  if (want) {
    Napi::Float32Array lg = Napi::Float32Array::New(env, e.cfg().V);
    next = e.Forward(toks, (int)T, lg.Data(), &ms);
    o.Set("logits", lg);
  } else {
    next = e.Forward(toks, (int)T, nullptr, &ms);
  }
  o.Set("next", next);
  o.Set("ms", ms);
  o.Set("position", e.pos());
  return o;
}
Napi::Value EngineGenerate(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int n = (int)ArgInt(info, 1, "n", 1, 1 << 16, 1);
  bool useGraph = !(info.Length() > 2 && info[2].IsBoolean() && !info[2].As<Napi::Boolean>().Value());
  float ms = 0;
  bool used = false;
  std::vector<int32_t> toks = e.Generate(n, useGraph, &ms, &used);
  Napi::Env env = info.Env();
  Napi::Int32Array a = Napi::Int32Array::New(env, toks.size());
  std::memcpy(a.Data(), toks.data(), toks.size() * 4);
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", a);
  o.Set("ms", ms);
  o.Set("graph", used);
  if (!e.graphError().empty()) o.Set("graphError", e.graphError());
  return o;
}
Napi::Value EngineGenerateBatch(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  CHECK_ARG(info.Length() > 1 && info[1].IsArray(), "generateBatch: expected an array of Int32Array prompts");
  Napi::Array arr = info[1].As<Napi::Array>();
  std::vector<std::vector<int32_t>> prompts;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
              "generateBatch: prompt " + std::to_string(i) + " must be an Int32Array");
    Napi::Int32Array a = v.As<Napi::Int32Array>();
    prompts.emplace_back(a.Data(), a.Data() + a.ElementLength());
  }
  int n = (int)ArgInt(info, 2, "n", 1, 1 << 16, 1);
  bool useGraph = !(info.Length() > 3 && info[3].IsBoolean() && !info[3].As<Napi::Boolean>().Value());
  float prefillMs = 0, ms = 0;
  bool used = false;
  std::vector<int32_t> toks = e.GenerateBatch(prompts, n, useGraph, &prefillMs, &ms, &used);
  Napi::Env env = info.Env();
  Napi::Int32Array a = Napi::Int32Array::New(env, toks.size());
  std::memcpy(a.Data(), toks.data(), toks.size() * 4);
  Napi::Object o = Napi::Object::New(env);
  o.Set("tokens", a);
  o.Set("prefillMs", prefillMs);
  o.Set("ms", ms);
  o.Set("graph", used);
  if (!e.graphError().empty()) o.Set("graphError", e.graphError());
  return o;
}
Napi::Value EngineProfileDecode(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  int B = (int)ArgInt(info, 1, "batch", 0, 64, 0);
  auto prof = e.ProfileDecode(B);
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env, prof.size());
  for (size_t i = 0; i < prof.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", prof[i].first);
    o.Set("ms", prof[i].second);
    a.Set((uint32_t)i, o);
  }
  return a;
}
Napi::Value EngineLedger(const Napi::CallbackInfo& info) {
  Engine& e = Get(info);
  Napi::Env env = info.Env();
  Napi::Object cat = Napi::Object::New(env);
  double total = 0;
  for (auto& kv : e.Ledger()) {
    cat.Set(kv.first, kv.second);
    total += kv.second;
  }
  Napi::Object modes = Napi::Object::New(env);
  for (auto& kv : e.ModeCounts()) modes.Set(kv.first, kv.second);
  Napi::Object o = Napi::Object::New(env);
  o.Set("categories", cat);
  o.Set("totalBytes", total);
  o.Set("modes", modes);
  const char* sn[] = {"none", "decode-per-forward", "cached", "fused"};
  o.Set("schedule", sn[e.schedule()]);
  return o;
}
Napi::Value EngineDestroy(const Napi::CallbackInfo& info) {
  uint32_t id = (uint32_t)ArgSize(info, 0, "engine", 0xffffffffu);
  return Napi::Boolean::New(info.Env(), Engines().erase(id) > 0);
}

// ------------------------------------------------------------------------------------------------------------
// kernel tests: each CUDA kernel beside its ops_ref.h twin on seeded random inputs
// ------------------------------------------------------------------------------------------------------------
struct Cmp {
  std::string name;
  double atol = 0, rtol = 0;
  size_t n = 0, fails = 0;
  double maxAbs = 0, maxRatio = 0;
  std::vector<std::string> first;
  void Check(const float* got, const float* want, size_t count, const char* what = "") {
    for (size_t i = 0; i < count; i++) {
      double g = got[i], w = want[i];
      double d = std::fabs(g - w);
      double tol = atol + rtol * std::fabs(w);
      bool bad = !(d <= tol);  // NaN fails
      maxAbs = std::max(maxAbs, std::isnan(d) ? INFINITY : d);
      maxRatio = std::max(maxRatio, std::isnan(d) ? INFINITY : d / tol);
      if (bad) {
        if (first.size() < 5)
          first.push_back(std::string(what) + "[" + std::to_string(i) + "] got " + std::to_string(g) + " want " + std::to_string(w));
        fails++;
      }
    }
    n += count;
  }
};

struct DevMem {
  std::vector<void*> ptrs;
  template <class T>
  T* up(const std::vector<T>& h) {
    void* p;
    CHECK_CUDA(cudaMalloc(&p, std::max<size_t>(h.size() * sizeof(T), 16)));
    ptrs.push_back(p);
    if (!h.empty()) CHECK_CUDA(cudaMemcpy(p, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
    // a pageable cudaMemcpy may return before its DMA lands, and the kernels run on a non-blocking stream
    CHECK_CUDA(cudaDeviceSynchronize());
    return static_cast<T*>(p);
  }
  template <class T>
  T* zeros(size_t n) {
    return up(std::vector<T>(n));
  }
  template <class T>
  std::vector<T> down(const T* d, size_t n) {
    std::vector<T> h(n);
    CHECK_CUDA(cudaDeviceSynchronize());
    CHECK_CUDA(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  ~DevMem() {
    for (void* p : ptrs) cudaFree(p);
  }
};

std::vector<float> Randn(std::mt19937& rng, size_t n, float std = 1.f, float mean = 0.f) {
  std::normal_distribution<float> d(mean, std);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
std::vector<uint16_t> ToF16(const std::vector<float>& v) {
  std::vector<uint16_t> o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i] = ref::f32_to_f16(v[i]);
  return o;
}
std::vector<float> FromF16(const std::vector<uint16_t>& v) {
  std::vector<float> o(v.size());
  for (size_t i = 0; i < v.size(); i++) o[i] = ref::f16_to_f32(v[i]);
  return o;
}

int P(Napi::Object o, const char* k, int dflt) {
  Napi::Value v = o.Get(k);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : dflt;
}

Napi::Value EngineKernelTest(const Napi::CallbackInfo& info) {
  std::string name = ArgString(info, 0, "name");
  Napi::Object p = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(info.Env());
  std::mt19937 rng((uint32_t)P(p, "seed", 1));
  cudaStream_t s = cuda::Stream(2);
  DevMem dm;
  Cmp cmp;
  cmp.name = name;
  if (name == "embedding" && P(p, "q8", 0)) {
    // q8_0 table: x = code * d, exact
    int V = P(p, "V", 1000), h = P(p, "h", 576), T = P(p, "T", 7);
    const size_t nblk = (size_t)V * (h / 32);
    constexpr size_t bb = sizeof(blocks::BlockQ8_0);
    std::vector<uint8_t> raw(nblk * bb);
    for (size_t b = 0; b < nblk; b++) {
      const uint16_t d16 = ToF16(std::vector<float>{0.01f * (1 + (float)(rng() % 100))})[0];
      raw[b * bb] = d16 & 0xff, raw[b * bb + 1] = d16 >> 8;
      for (int j = 0; j < 32; j++) raw[b * bb + 2 + j] = (uint8_t)(int8_t)((int)(rng() % 255) - 127);
    }
    std::vector<float> table((size_t)V * h);
    for (size_t b = 0; b < nblk; b++) ref::dequant_q8_0_block(table.data() + b * 32, raw.data() + b * bb);
    std::vector<uint8_t> codes;
    std::vector<uint16_t> aux;
    Engine::SplitBlocks(kWeightQ8_0, raw.data(), nblk, &codes, &aux);
    std::vector<int32_t> toks(T);
    for (auto& t : toks) t = (int)(rng() % V);
    float* x = dm.zeros<float>((size_t)T * h);
    LaunchEmbeddingQ8(x, reinterpret_cast<const int8_t*>(dm.up(codes)), dm.up(aux), dm.up(toks), T, h, s);
    std::vector<float> want((size_t)T * h);
    ref::embedding(want.data(), table.data(), toks.data(), T, h);
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(dm.down(x, want.size()).data(), want.data(), want.size());
  } else if (name == "embedding") {
    int V = P(p, "V", 1000), h = P(p, "h", 576), T = P(p, "T", 7);
    auto table = Randn(rng, (size_t)V * h);
    auto t16 = ToF16(table);
    auto tf = FromF16(t16);
    std::vector<int32_t> toks(T);
    for (auto& t : toks) t = (int)(rng() % V);
    float* x = dm.zeros<float>((size_t)T * h);
    LaunchEmbedding(x, dm.up(t16), dm.up(toks), T, h, s);
    std::vector<float> want((size_t)T * h);
    ref::embedding(want.data(), tf.data(), toks.data(), T, h);
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(dm.down(x, want.size()).data(), want.data(), want.size());
  } else if (name == "rmsnorm") {
    int T = P(p, "T", 5), h = P(p, "h", 576);
    auto x = Randn(rng, (size_t)T * h, 2.f), w = Randn(rng, h, 0.1f, 1.f);
    float* out = dm.zeros<float>(x.size());
    uint16_t* out16 = dm.zeros<uint16_t>(x.size());
    LaunchRmsNorm(out, out16, dm.up(x), dm.up(w), T, h, 1e-5f, s);
    std::vector<float> want(x.size());
    ref::rmsnorm(want.data(), x.data(), w.data(), T, h, 1e-5f);
    cmp.atol = 1e-5, cmp.rtol = 1e-5;
    cmp.Check(dm.down(out, want.size()).data(), want.data(), want.size(), "out");
    auto h16 = FromF16(dm.down(out16, want.size()));
    Cmp c16;  // fp16 copy: one half rounding
    c16.atol = 1e-5, c16.rtol = 1.5e-3;
    c16.Check(h16.data(), want.data(), want.size(), "out16");
    cmp.fails += c16.fails;
    for (auto& f : c16.first) if (cmp.first.size() < 5) cmp.first.push_back(f);
  } else if (name == "swiglu") {
    size_t n = (size_t)P(p, "n", 5000);
    auto g = Randn(rng, n, 3.f), u = Randn(rng, n);
    float* out = dm.zeros<float>(n);
    LaunchSwiGLU(out, nullptr, dm.up(g), dm.up(u), n, s);
    std::vector<float> want(n);
    ref::swiglu(want.data(), g.data(), u.data(), n);
    cmp.atol = 1e-6, cmp.rtol = 1e-5;  // expf vs exp in double
    cmp.Check(dm.down(out, n).data(), want.data(), n);
  } else if (name == "rope_append" || name == "attention" || name == "rope_attention") {
    int T = P(p, "T", 3), H = P(p, "H", 9), Hkv = P(p, "Hkv", 3), D = P(p, "D", 64), Pp = P(p, "P", 5), Smax = P(p, "Smax", 64);
    bool kv16 = P(p, "kv16", 1) != 0;
    std::vector<float> inv(D / 2);
    ref::rope_inv_freq(inv.data(), D, 10000.0, ref::kRopeNone, 1, 1, 1, 1);
    std::vector<float> cs((size_t)Smax * D / 2), sn((size_t)Smax * D / 2), c1(D), s1(D);
    for (int pos = 0; pos < Smax; pos++) {
      ref::rope_cos_sin(c1.data(), s1.data(), pos, inv.data(), D);
      for (int i = 0; i < D / 2; i++) cs[(size_t)pos * D / 2 + i] = c1[i], sn[(size_t)pos * D / 2 + i] = s1[i];
    }
    // rows=1: batched decode — row t is its own sequence at position P + 3 t (< Smax), in KV slot t
    bool rowsMode = P(p, "rows", 0) != 0;
    const size_t slot = (size_t)Hkv * Smax * D;
    const int slots = rowsMode ? T : 1;
    auto q = Randn(rng, (size_t)T * H * D), k = Randn(rng, (size_t)T * Hkv * D), v = Randn(rng, (size_t)T * Hkv * D);
    // a cache that already holds P positions (fp16-representable values when kv16, so both sides see the same)
    auto kc = Randn(rng, slots * slot), vc = Randn(rng, slots * slot);
    if (kv16) {
      kc = FromF16(ToF16(kc));
      vc = FromF16(ToF16(vc));
    }
    const std::vector<float> qIn = q, kIn = k, kc0 = kc, vc0 = vc;  // unrotated inputs and the starting cache
    float *dq = dm.up(q), *dk = dm.up(k), *dv = dm.up(v);
    void *dkc, *dvc;
    if (kv16) {
      dkc = dm.up(ToF16(kc));
      dvc = dm.up(ToF16(vc));
    } else {
      dkc = dm.up(kc);
      dvc = dm.up(vc);
    }
    float *dcs = dm.up(cs), *dsn = dm.up(sn);
    std::vector<int32_t> pos(T);
    for (int t = 0; t < T; t++) pos[t] = rowsMode ? (Pp + 3 * t) % Smax : Pp + t;
    ref::rope_rotate_half(q.data(), pos.data(), inv.data(), T, H, D);
    ref::rope_rotate_half(k.data(), pos.data(), inv.data(), T, Hkv, D);
    std::vector<float> kref = k, vref = v;
    if (kv16) {
      kref = FromF16(ToF16(k));
      vref = FromF16(ToF16(v));
    }
    if (rowsMode)
      for (int t = 0; t < T; t++)
        ref::kv_append(kc.data() + t * slot, vc.data() + t * slot, kref.data() + (size_t)t * Hkv * D, vref.data() + (size_t)t * Hkv * D, 1,
                       Hkv, D, pos[t], Smax);
    else
      ref::kv_append(kc.data(), vc.data(), kref.data(), vref.data(), T, Hkv, D, Pp, Smax);
    int32_t* dP = dm.up(std::vector<int32_t>{Pp});
    int32_t* dRows = dm.up(pos);
    bool devP = P(p, "devP", 0) != 0;
    const int32_t* rowsArg = rowsMode ? dRows : nullptr;
    LaunchRopeAppend(dq, dk, dv, dkc, dvc, kv16, dcs, dsn, T, H, Hkv, D, Pp, devP ? dP : nullptr, Smax, s, rowsArg, slot);
    if (name == "rope_attention") {
      // the fused decode kernel vs (a) the reference and (b) the two-kernel device path, which must agree exactly
      CHECK_ARG(rowsMode, "rope_attention: rows=1 (decode) only");
      float* out = dm.zeros<float>((size_t)T * H * D);
      float* out2 = dm.zeros<float>((size_t)T * H * D);
      void *dkc2, *dvc2;  // the fused kernel's own copy of the starting cache
      // the two-kernel path: LaunchRopeAppend (above) on dq/dkc/dvc, then LaunchAttention below; the fused kernel
      // starts from fresh copies of the unrotated inputs and the starting cache
      float *fq = dm.up(qIn), *fk = dm.up(kIn), *fv = dm.up(v);
      if (kv16) {
        dkc2 = dm.up(ToF16(kc0));
        dvc2 = dm.up(ToF16(vc0));
      } else {
        dkc2 = dm.up(kc0);
        dvc2 = dm.up(vc0);
      }
      LaunchRopeAttention(out2, fq, fk, fv, dkc2, dvc2, kv16, dcs, dsn, T, H, Hkv, D, dRows, slot, Smax, s);
      LaunchAttention(out, nullptr, dq, dkc, dvc, kv16, T, H, Hkv, D, Pp, nullptr, Smax, s, rowsArg, slot);
      std::vector<float> want((size_t)T * H * D), scratch(Smax);
      for (int t = 0; t < T; t++)
        ref::attention(want.data() + (size_t)t * H * D, q.data() + (size_t)t * H * D, kc.data() + t * slot, vc.data() + t * slot, 1, H,
                       Hkv, D, pos[t], Smax, scratch.data());
      cmp.atol = 1e-4, cmp.rtol = 1e-3;
      auto g2 = dm.down(out2, want.size());
      cmp.Check(g2.data(), want.data(), want.size(), "out vs ref");
      Cmp ex;  // fused == two kernels, bit for bit
      ex.atol = 0, ex.rtol = 0;
      ex.Check(g2.data(), dm.down(out, want.size()).data(), want.size(), "out fused vs 2-kernel");
      auto cacheOf = [&](void* d, size_t n) {
        return kv16 ? FromF16(dm.down(static_cast<uint16_t*>(d), n)) : dm.down(static_cast<float*>(d), n);
      };
      ex.Check(cacheOf(dkc2, kc.size()).data(), cacheOf(dkc, kc.size()).data(), kc.size(), "k_cache fused vs 2-kernel");
      ex.Check(cacheOf(dvc2, vc.size()).data(), cacheOf(dvc, vc.size()).data(), vc.size(), "v_cache fused vs 2-kernel");
      cmp.fails += ex.fails;
      cmp.n += ex.n;
      for (auto& f : ex.first) if (cmp.first.size() < 5) cmp.first.push_back(f);
    } else if (name == "rope_append") {
      cmp.atol = 1e-6, cmp.rtol = 0;
      cmp.Check(dm.down(dq, q.size()).data(), q.data(), q.size(), "q");
      std::vector<float> gk = kv16 ? FromF16(dm.down(static_cast<uint16_t*>(dkc), kc.size())) : dm.down(static_cast<float*>(dkc), kc.size());
      std::vector<float> gv = kv16 ? FromF16(dm.down(static_cast<uint16_t*>(dvc), vc.size())) : dm.down(static_cast<float*>(dvc), vc.size());
      cmp.Check(gk.data(), kc.data(), kc.size(), "k_cache");
      cmp.Check(gv.data(), vc.data(), vc.size(), "v_cache");
    } else {
      float* out = dm.zeros<float>((size_t)T * H * D);
      // attention on the device's own roped q and cache; the reference on its own (same up to rounding of rope)
      LaunchAttention(out, nullptr, dq, dkc, dvc, kv16, T, H, Hkv, D, Pp, devP ? dP : nullptr, Smax, s, rowsArg, slot);
      std::vector<float> want((size_t)T * H * D), scratch(Smax);
      if (rowsMode)
        for (int t = 0; t < T; t++)
          ref::attention(want.data() + (size_t)t * H * D, q.data() + (size_t)t * H * D, kc.data() + t * slot, vc.data() + t * slot, 1, H,
                         Hkv, D, pos[t], Smax, scratch.data());
      else
        ref::attention(want.data(), q.data(), kc.data(), vc.data(), T, H, Hkv, D, Pp, Smax, scratch.data());
      cmp.atol = 1e-4, cmp.rtol = 1e-3;
      cmp.Check(dm.down(out, want.size()).data(), want.data(), want.size());
    }
  } else if (name == "gemv" || name == "gemm") {
    // i8=1: int8 per-row codes; q=1: q4_1 blocks, q=2: q8_0 blocks (random codes and fp16 scales)
    const int q = P(p, "q", 0);
    int wt = q == 1 ? kWeightQ4_1 : q == 2 ? kWeightQ8_0 : P(p, "i8", 0) ? kWeightI8Channel : kWeightF16;
    int K = P(p, "K", 576), nseg = P(p, "segs", 1), M = P(p, "M", 1), prologue = P(p, "prologue", 0);
    bool acc = P(p, "acc", 0) != 0, bias = P(p, "bias", 0) != 0;
    int rows[3] = {P(p, "N", 576), P(p, "N2", 192), P(p, "N3", 192)};
    if (name == "gemm") nseg = 1;
    auto in = Randn(rng, (size_t)M * K), in2 = Randn(rng, (size_t)M * K), nw = Randn(rng, K, 0.1f, 1.f);
    // the input as the kernel sees it after its prologue
    std::vector<float> x = in;
    if (prologue == kPrologueRmsNorm) ref::rmsnorm(x.data(), in.data(), nw.data(), M, K, 1e-5f);
    if (prologue == kPrologueSwiGLU) ref::swiglu(x.data(), in.data(), in2.data(), x.size());
    if (name == "gemm") x = FromF16(ToF16(x));  // the GEMM reads fp16 activations
    float *din = dm.up(name == "gemm" ? x : in), *din2 = dm.up(in2), *dnw = dm.up(nw);
    uint16_t* dA = name == "gemm" ? dm.up(ToF16(x)) : nullptr;
    GemvArgs a;
    a.K = K;
    a.prologue = prologue;
    a.in = din;
    a.in2 = din2;
    a.normw = dnw;
    a.eps = 1e-5f;
    a.accumulate = acc;
    a.nb = M;  // gemv: M input rows (batched decode when > 1)
    std::vector<std::vector<float>> want(nseg);
    std::vector<float*> dys(nseg);
    for (int sgi = 0; sgi < nseg; sgi++) {
      int N = rows[sgi];
      auto w = Randn(rng, (size_t)N * K, 1.f / std::sqrt((float)K));
      auto b = Randn(rng, N, 0.1f);
      auto y0 = Randn(rng, (size_t)M * N);
      std::vector<float> y((size_t)M * N);
      const void* dw;
      const float* dscale = nullptr;
      const void* daux = nullptr;
      if (wt == kWeightQ4_1 || wt == kWeightQ8_0) {
        const size_t nblk = (size_t)N * (K / 32), bb = BlockBytes(wt);
        std::vector<uint8_t> raw(nblk * bb);
        const float dsc = 2.f / std::sqrt((float)K) / (wt == kWeightQ4_1 ? 4.61f : 73.6f);
        for (size_t b = 0; b < nblk; b++) {
          uint8_t* blk = raw.data() + b * bb;
          const float dv = dsc * (0.5f + (float)(rng() % 1000) / 1000.f);
          const uint16_t d16 = ToF16(std::vector<float>{dv})[0], m16 = ToF16(std::vector<float>{-7.5f * dv})[0];
          blk[0] = d16 & 0xff, blk[1] = d16 >> 8;
          if (wt == kWeightQ4_1) blk[2] = m16 & 0xff, blk[3] = m16 >> 8;
          for (size_t j = wt == kWeightQ4_1 ? 4 : 2; j < bb; j++) blk[j] = (uint8_t)(wt == kWeightQ4_1 ? rng() & 0xff : (int8_t)((int)(rng() % 255) - 127));
        }
        std::vector<uint8_t> codes;
        std::vector<uint16_t> aux;
        Engine::SplitBlocks(wt, raw.data(), nblk, &codes, &aux);
        dw = dm.up(codes);
        daux = dm.up(aux);
        if (wt == kWeightQ4_1) ref::linear_q4_1(y.data(), x.data(), raw.data(), bias ? b.data() : nullptr, M, K, N);
        else ref::linear_q8_0(y.data(), x.data(), raw.data(), bias ? b.data() : nullptr, M, K, N);
      } else if (wt == kWeightF16) {
        auto w16 = ToF16(w);
        dw = dm.up(w16);
        ref::linear_f16(y.data(), x.data(), w16.data(), bias ? b.data() : nullptr, M, K, N);
      } else {
        std::vector<int8_t> codes((size_t)N * K);
        std::vector<float> sc(N);
        for (int r = 0; r < N; r++) {
          float m = 0;
          for (int i = 0; i < K; i++) m = std::max(m, std::fabs(w[(size_t)r * K + i]));
          sc[r] = (float)((double)m / 127.0);
          for (int i = 0; i < K; i++) codes[(size_t)r * K + i] = (int8_t)std::nearbyint((double)w[(size_t)r * K + i] / sc[r]);
        }
        dw = dm.up(codes);
        dscale = dm.up(sc);
        ref::linear_i8_channel(y.data(), x.data(), codes.data(), nullptr, sc.data(), nullptr, bias ? b.data() : nullptr, M, K, N);
      }
      if (acc)
        for (size_t i = 0; i < y.size(); i++) y[i] += y0[i];
      want[sgi] = y;
      dys[sgi] = dm.up(y0);
      if (name == "gemv") a.seg[a.nseg++] = GemvSeg{dw, dscale, bias ? dm.up(b) : nullptr, dys[sgi], N, daux};
      else LaunchGemm(dA, dw, wt, dscale, bias ? dm.up(b) : nullptr, dys[sgi], M, N, K, acc, s, daux);
    }
    if (name == "gemv") LaunchGemv(a, wt, s);
    // fp32 accumulation in another order than the double reference; |y| ~ N(0,1): stated tolerance
    cmp.atol = name == "gemm" ? 2e-3 : 1e-4 * std::sqrt((double)K / 64), cmp.rtol = 1e-3;
    // the block GEMM stages dequantized weights as fp16 (one rounding each, relative 2^-11): wider, stated tolerance
    if (name == "gemm" && (wt == kWeightQ4_1 || wt == kWeightQ8_0)) cmp.atol = 5e-3, cmp.rtol = 2e-3;
    for (int sgi = 0; sgi < nseg; sgi++) cmp.Check(dm.down(dys[sgi], want[sgi].size()).data(), want[sgi].data(), want[sgi].size(), ("seg" + std::to_string(sgi)).c_str());
  } else if (name == "argmax") {
    int V = P(p, "V", 49152);
    auto lg = Randn(rng, V);
    int tie = (int)(rng() % V), tie2 = (int)(rng() % V);
    lg[tie] = lg[tie2] = 100.f;  // a tie: the first index wins
    int32_t* step = dm.up(std::vector<int32_t>{0, 7, 0, 0});
    int32_t* out = dm.zeros<int32_t>(4);
    LaunchArgmaxStep(dm.up(lg), V, step, out, -1, s);
    auto st = dm.down(step, 3);
    float got[3] = {(float)st[0], (float)st[1], (float)st[2]}, want[3] = {(float)ref::argmax(lg.data(), V), 8.f, 1.f};
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(got, want, 3, "step");
  } else if (name == "argmax_rows") {
    int V = P(p, "V", 32000), B = P(p, "B", 8), Smax = P(p, "Smax", 64);
    auto lg = Randn(rng, (size_t)B * V);
    for (int b = 0; b < B; b++) {
      int tie = (int)(rng() % V), tie2 = (int)(rng() % V);
      lg[(size_t)b * V + tie] = lg[(size_t)b * V + tie2] = 50.f + b;  // a tie per row: the first index wins
    }
    std::vector<int32_t> pos0(B);
    for (int b = 0; b < B; b++) pos0[b] = (5 * b + 1) % Smax;
    int32_t *tok = dm.zeros<int32_t>(B), *pos = dm.up(pos0), *out = dm.zeros<int32_t>((size_t)B * Smax);
    LaunchArgmaxRows(dm.up(lg), V, B, tok, pos, out, Smax, s);
    auto gt = dm.down(tok, B), gp = dm.down(pos, B), go = dm.down(out, (size_t)B * Smax);
    std::vector<float> got, want;
    for (int b = 0; b < B; b++) {
      int am = ref::argmax(lg.data() + (size_t)b * V, V);
      got.insert(got.end(), {(float)gt[b], (float)gp[b], (float)go[(size_t)b * Smax + pos0[b]]});
      want.insert(want.end(), {(float)am, (float)(pos0[b] + 1), (float)am});
    }
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(got.data(), want.data(), got.size(), "tok|pos|out");
  } else if (name == "f32_to_f16") {
    size_t n = (size_t)P(p, "n", 100000);
    auto v = Randn(rng, n, 1000.f);
    const float specials[] = {0.f, -0.f, 65504.f, 65520.f, 1e-8f, -6.1e-5f, 5.96e-8f, 2.98e-8f, INFINITY, -INFINITY, 1e30f};
    for (size_t i = 0; i < sizeof(specials) / sizeof(float) && i < n; i++) v[i] = specials[i];
    for (size_t i = 11; i < n; i += 3) v[i] *= 1e-6f;  // subnormal range
    uint16_t* d = dm.zeros<uint16_t>(n);
    LaunchF32ToF16(d, dm.up(v), n, s);
    auto got = dm.down(d, n);
    std::vector<float> g(n), w(n);
    for (size_t i = 0; i < n; i++) g[i] = got[i], w[i] = ref::f32_to_f16(v[i]);  // compare the bits exactly
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(g.data(), w.data(), n, "bits");
  } else if (name == "quantize_i8") {
    int rows = P(p, "rows", 64), K = P(p, "K", 576);
    auto w = Randn(rng, (size_t)rows * K);
    for (int i = 0; i < K; i++) w[i] = 0;  // an all-zero row
    int8_t* codes = dm.zeros<int8_t>(w.size());
    float* sc = dm.zeros<float>(rows);
    LaunchQuantizeRowsI8(codes, sc, dm.up(w), rows, K, s);
    auto gc = dm.down(codes, w.size());
    auto gs = dm.down(sc, rows);
    std::vector<float> g(w.size()), want(w.size()), gsf(rows), wsf(rows);
    for (int r = 0; r < rows; r++) {
      float m = 0;
      for (int i = 0; i < K; i++) m = std::max(m, std::fabs(w[(size_t)r * K + i]));
      float scale = (float)((double)m / 127.0);
      gsf[r] = gs[r], wsf[r] = scale;
      for (int i = 0; i < K; i++) {
        double x = scale == 0 ? 0 : (double)w[(size_t)r * K + i] / scale;
        want[(size_t)r * K + i] = (float)std::max(-127.0, std::min(127.0, std::nearbyint(x)));
        g[(size_t)r * K + i] = gc[(size_t)r * K + i];
      }
    }
    cmp.atol = 0, cmp.rtol = 0;
    cmp.Check(g.data(), want.data(), g.size(), "codes");
    cmp.Check(gsf.data(), wsf.data(), rows, "scale");
  } else {
    THROW_ERROR("E_ARG", "unknown kernel test '" + name + "' (embedding, rmsnorm, swiglu, rope_append, attention, rope_attention, gemv, gemm, argmax, argmax_rows, f32_to_f16, quantize_i8)");
  }
  CHECK_CUDA(cudaDeviceSynchronize());
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("name", name);
  o.Set("n", (double)cmp.n);
  o.Set("maxAbs", cmp.maxAbs);
  o.Set("maxErrOverTol", cmp.maxRatio);
  o.Set("fails", (double)cmp.fails);
  o.Set("atol", cmp.atol);
  o.Set("rtol", cmp.rtol);
  o.Set("pass", cmp.fails == 0 && cmp.n > 0);
  Napi::Array f = Napi::Array::New(env);
  for (size_t i = 0; i < cmp.first.size(); i++) f.Set((uint32_t)i, cmp.first[i]);
  o.Set("first", f);
  return o;
}

}  // namespace engine
}  // namespace codecllm

void InitGpuEngine(Napi::Env env, Napi::Object exports) {
  using namespace codecllm::engine;
  EXPORT_FN(env, exports, "engineCreate", EngineCreate);
  EXPORT_FN(env, exports, "engineSetEmbedding", EngineSetEmbedding);
  EXPORT_FN(env, exports, "engineSetNorm", EngineSetNorm);
  EXPORT_FN(env, exports, "engineSetLinearF32", EngineSetLinearF32);
  EXPORT_FN(env, exports, "engineSetLinearInt8", EngineSetLinearInt8);
  EXPORT_FN(env, exports, "engineShareEmbedding", EngineShareEmbedding);
  EXPORT_FN(env, exports, "engineSetLinearBlocks", EngineSetLinearBlocks);
  EXPORT_FN(env, exports, "engineSetEmbeddingBlocks", EngineSetEmbeddingBlocks);
  EXPORT_FN(env, exports, "engineRandomize", EngineRandomize);
  EXPORT_FN(env, exports, "engineLinearCodes", EngineLinearCodes);
  EXPORT_FN(env, exports, "engineSetCompressed", EngineSetCompressed);
  EXPORT_FN(env, exports, "engineFinalize", EngineFinalize);
  EXPORT_FN(env, exports, "engineReset", EngineReset);
  EXPORT_FN(env, exports, "engineForward", EngineForward);
  EXPORT_FN(env, exports, "engineGenerate", EngineGenerate);
  EXPORT_FN(env, exports, "engineGenerateBatch", EngineGenerateBatch);
  EXPORT_FN(env, exports, "engineProfileDecode", EngineProfileDecode);
  EXPORT_FN(env, exports, "engineLedger", EngineLedger);
  EXPORT_FN(env, exports, "engineDestroy", EngineDestroy);
  EXPORT_FN(env, exports, "engineKernelTest", EngineKernelTest);
}

#else  // built without CUDA: no engine* functions (src/engine/cuda.ts reports it)
void InitGpuEngine(Napi::Env env, Napi::Object exports) {}
#endif
