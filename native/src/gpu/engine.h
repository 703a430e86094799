// gpu/engine.h — the CUDA engine's data (Config, Buf, Linear, Group) and its class, declared; the definitions live
// in one file per responsibility beside this header:
//   gpu/weights.cc        weight upload (fp16 / int8 / GGML blocks / synthetic), biases, norms
//   gpu/decode_groups.cc  nvCOMP-compressed linears: finalize, decode groups, per-buffer weight pointers
//   gpu/forward.cc        prefill and decode forward, CUDA graph capture, greedy generate, profiling
//   gpu/batching.cc       KV slots and batched decode (GenerateBatch)
//   gpu/ledger.cc         bytes by category and storage-mode counts
// The N-API binding (the only engine file including napi.h) is native/src/gpu_engine.cc; the kernel twin
// test is the executable codecllm_gpu_twins (native/test/gpu_twins.cc). CUDA builds only. No Node-API types here.
//
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
#pragma once

#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "common/weight_types.h"
#include "cuda/engine.cuh"
#include "device.h"
#include "engine/ops_ref.h"
#include "env.h"

namespace codecllm {
namespace engine {


/** The cuBLAS prefill GEMM (gpu/prefill_gemm.h); deleted where its type is complete (gpu/prefill_gemm.cc). */
class BlasGemm;
struct BlasGemmDeleter {
  void operator()(BlasGemm* b) const;
};

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

/** MLP activation on the gate (config.ts ArchFeatures.hiddenAct; the same values as the CPU engine's cpu::Act). */
enum GpuAct : int { kGpuActSilu = 0, kGpuActGeluTanh = 1 };

/** Norm slots of one layer (SetNorm's `which`): input and post(-attention) always; the rest by feature. */
enum NormSlot : int { kNormInput = 0, kNormPost = 1, kNormPreFfn = 2, kNormPostFfn = 3, kNormQ = 4, kNormK = 5, kNormSlots = 6 };

struct Config {
  int h = 0, I = 0, L = 0, H = 0, Hkv = 0, D = 0, V = 0, Smax = 0, Tmax = 0;
  int B = 1;  // sequence slots (KV caches) for batched decode; slot 0 is the single-sequence state
  bool pdl = true;  // programmatic dependent launch where sound (UsePdl)
  float eps = 1e-5f;
  bool kv16 = true;
  // architecture features (config.ts ArchFeatures; the field names of the CPU engine's cpu::Config; defaults = Llama)
  int act = kGpuActSilu;
  bool sandwich = false;       // Gemma: post-attention output norm, pre- and post-FFN norms (residual: x += norm(branch))
  bool qk_norm = false;        // RMSNorm over head_dim on q and k before rope (norm slots kNormQ / kNormK, D floats)
  float embed_scale = 1.0f;    // multiplier on the embedding rows (Gemma: √hidden)
  float attn_scale = 0.0f;     // multiplier on q·k (0: 1/sqrtf(D), the Llama kernels' own)
  int window = 0;              // sliding window of the local layers (0: none)
  std::vector<uint8_t> sliding;  // per layer: 1 = local (sliding-window) layer; empty: all global
  float attn_softcap = 0.0f, final_softcap = 0.0f;  // tanh soft-capping (0: none)
  bool IsLocal(int l) const { return !sliding.empty() && sliding[(size_t)l] != 0; }
  /** Whether norm slot `which` of a layer is part of this architecture. */
  bool HasNorm(int which) const {
    return which == kNormInput || which == kNormPost || (sandwich && (which == kNormPreFfn || which == kNormPostFfn)) ||
           (qk_norm && (which == kNormQ || which == kNormK));
  }
  /** Floats of norm slot `which` (q/k norms: head_dim; others: hidden). */
  int NormSize(int which) const { return which == kNormQ || which == kNormK ? D : h; }
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
  int btype = -1; // blocks: kWeightQ4_1, kWeightQ8_0 (split), q5_0 / q4_k / q6_k (raw), kWeightI4Group / kWeightNF4Group
  Buf zero;       // kWeightI4Group asym: uint8 zero point per (row, group); scale then holds fp32 group scales
  int group = 0;  // kWeightI4Group / kWeightNF4Group: group size along K
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
  /** cosTab / sinTab: rope tables (Smax, D/2) of the global layers; cosLocal / sinLocal: the local (sliding-window)
   *  layers' own (Gemma 3: another base), empty = the same tables for every layer. */
  Engine(uint32_t id, const Config& c, const std::vector<float>& cosTab, const std::vector<float>& sinTab,
         const std::vector<float>& cosLocal = {}, const std::vector<float>& sinLocal = {});
  ~Engine();

  const Config& cfg() const { return c_; }
  std::string Tag(const std::string& cat) const { return "engine" + std::to_string(id_) + ":" + cat; }
  Linear& Lin(int index) {
    CHECK_ARG(index >= 0 && index < (int)lin_.size(), "linear index " + std::to_string(index) + " outside [0, " + std::to_string(lin_.size()) + ")");
    return lin_[index];
  }
  void RequireOpen() const { CHECK_ARG(!finalized_, "engine is finalized: weights can no longer change"); }

  // ---- weights
  void SetEmbedding(const float* w, size_t n);
  /** The embedding as q8_0 blocks (V, h/32 blocks of 34 bytes): codes | d kept apart for aligned loads. */
  void SetEmbeddingBlocks(const uint8_t* raw, size_t n);
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
  void SetLinearBlocks(int index, int bt, const uint8_t* raw, size_t n, const float* bias, size_t nb);
  void SetNorm(int layer, int which, const float* w, size_t n);
  void SetLinearF32(int index, int mode, const float* w, size_t n, const float* bias, size_t nb);
  /** The lab's 4-bit layouts resident (common/quant4.h): bt kWeightI4Group / kWeightNF4Group, codes (rows, K/2) packed,
   *  scales (rows, K/group) fp32, zeros (rows, K/group) uint8 or null (int4 asym only). Read by gemv_blocks.cu. */
  void SetLinearQ4(int index, int bt, const uint8_t* codes, size_t n, const float* scales, size_t ns, const uint8_t* zeros, size_t nz,
                   int group, const float* bias, size_t nb);
  void SetLinearInt8(int index, const int8_t* codes, size_t n, const float* scales, size_t ns, const float* bias, size_t nb);
  void ShareEmbedding();
  /** Synthetic model: every tensor N(0, 1/fan_in) (embedding N(0,1), norms 1 + 0.1 N(0,1)), generated on the device. */
  void Randomize(uint64_t seed, const std::vector<int>& modes);
  /** The int8 codes buffer of a linear (for nvcompCompress). */
  uint32_t CodesId(int index);
  void SetCompressed(int index, const std::string& codec, uint32_t packedId, const double* offs, const double* sizes, size_t n,
                     size_t chunkSize);
  void SetBias(Linear& l, const float* bias, size_t nb);

  // ---- finalize: check completeness, build decode groups
  void Finalize(int schedule);

#if defined(CODECLLM_HAVE_NVCOMP)
  void BuildGroups();
#endif

  uint8_t* DecodeBase(size_t gi, int buf) const;

  /** Enqueue the batched decode of group gi into decode buffer `buf` on stream s, then its per-chunk check. */
  void DecodeGroup(size_t gi, int buf, cudaStream_t s);

  /** The weight pointer and kernel type of linear i for decode buffer `buf` of its group. */
  const void* WeightPtr(int i, int buf, int* wtype) const;

  // ---- the forward pieces
  /** GEMV over linears [i0, i0+n) sharing one input; consecutive same-typed linears share a launch. */
  void Gemv(int i0, int n, float* const* ys, int prologue, const float* in, const float* in2, const float* normw, bool acc, int buf,
            cudaStream_t s, int nb = 1);
  void Gemm(int i, const uint16_t* A, float* Y, int M, bool acc, int buf, cudaStream_t s);
  /** Linear i through cuBLAS when CODECLLM_GEMM selects it and M qualifies (gpu/prefill_gemm.cc); false: not taken. */
  bool PrefillGemm(int i, const uint16_t* A, float* Y, int M, bool acc, int buf, cudaStream_t s);
  /** At finalize(): the cuBLAS handle and scratch for this engine's linears, or none (CODECLLM_GEMM=own). */
  void SetupPrefillGemm();
  void AddPrefillGemmLedger(std::map<std::string, double>* m) const;
  /** Block scales of linear i (GGML block storage), else null. */
  const void* AuxPtr(int i) const;
  /** x (T, h) = embedding rows of tokens (fp16 table, or q8_0 blocks when set that way). */
  void Embed(const int32_t* tokens, int T, cudaStream_t s);
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
  void EnqueueDecode(int B = 0);

  /** One layer of a decode step for nb rows (row t = slot t at position pos[t]; nb = 1 is slot 0). */
  void ForwardLayerDecode(int l, int buf, cudaStream_t s, int nb, const int32_t* pos);

  /** Records an event on main_ labelled `label` while a decode profile is being taken (ProfileDecode). */
  void Mark(const char* label);

  /**
   * One eager decode step (B = 0: the single sequence after forward(); B > 0: the batch after generateBatch(B))
   * with an event after every op: per-op time (ms, summed over layers, in first-seen order) of a step serialized by
   * the events (no PDL overlap, no graph). The step really runs: the sequences advance by one token.
   */
  std::vector<std::pair<std::string, double>> ProfileDecode(int B);

  /** Prefill T tokens (already in tokens_) at positions [P, P+T) of cache slot `slot`; leaves logits of the last one
   *  and argmax in step_. */
  void EnqueuePrefill(int T, int P, int slot = 0);

  void ResetErr();
  /** Throws E_NVCOMP when a chunk failed since the last ResetErr (after a sync). */
  void CheckErr();

  // ---- public operations
  void Reset();

  /** Runs tokens (T >= 1) through the model; returns the argmax of the last position and its time (ms). */
  int Forward(const int32_t* tokens, int T, float* logitsOut, float* ms);

  /** n greedy decode steps from the current state (step_[0] = last argmax); graph replay when useGraph. */
  std::vector<int32_t> Generate(int n, bool useGraph, float* ms, bool* usedGraph);

  /** Captures one decode step (EnqueueDecode(B)) as a graph; null (and graphError_ set) when capture fails. */
  cudaGraphExec_t CaptureDecode(int B);

  /**
   * Batched greedy generation: prompt b is prefilled into KV slot b (B <= maxBatch), then n decode steps run for all
   * B sequences at once (graph replay when useGraph). Returns (B, n + 1) tokens: the prefill's argmax, then the n
   * decoded ones. The single-sequence state is reset (slot 0 is overwritten): run forward() again afterwards.
   */
  std::vector<int32_t> GenerateBatch(const std::vector<std::vector<int32_t>>& prompts, int n, bool useGraph, float* prefillMs,
                                     float* decodeMs, bool* usedGraph);

  // ---- ledger: bytes by category (every buffer the engine owns)
  std::map<std::string, double> Ledger() const;
  std::map<std::string, int> ModeCounts() const;
  int pos() const { return pos_; }
  float lastCacheMs() const { return lastCacheMs_; }
  const std::string& graphError() const { return graphError_; }
  int schedule() const { return sched_; }
  /** PDL is sound only while no kernel of the forward writes weights (pdl.cuh): not with in-forward nvCOMP decode. */
  bool UsePdl() const { return c_.pdl && (sched_ == kSchedNone || sched_ == kSchedCached); }

 private:
  void UploadF16(uint16_t* dst, const float* src, size_t n);
  void InstallFromDeviceF32(Linear& l, int mode, const float* w);

  uint32_t id_;
  Config c_;
  std::vector<Linear> lin_;
  std::vector<Buf> norms_;  // kNormSlots per layer (NormSlot; only the architecture's are set), final last
  const float* Norm(int l, int which) const { return norms_[(size_t)kNormSlots * l + which].as<float>(); }
  /** Rope tables of layer l (the local layers' own when the config has them). */
  const float* CosOf(int l) const { return c_.IsLocal(l) && cosL_ ? cosL_ : cos_; }
  const float* SinOf(int l) const { return c_.IsLocal(l) && sinL_ ? sinL_ : sin_; }
  /** Attention features of layer l (scale, the local layers' window, soft-cap). */
  AttnOpts AttnOf(int l) const { return AttnOpts{c_.attn_scale, c_.IsLocal(l) ? c_.window : 0, c_.attn_softcap}; }
  Buf embed_, rope_, act_, kv_, decode_, temp_;
  Buf embedD_;  // q8_0 embedding: per-block d (then embed_ holds the int8 codes)
  std::vector<Group> groups_;
  float *cos_ = nullptr, *sin_ = nullptr, *cosL_ = nullptr, *sinL_ = nullptr;
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
  std::unique_ptr<BlasGemm, BlasGemmDeleter> blas_;  // null: our GEMM for every prefill linear
  int blasMinT_ = 0;                                   // quantized linears use cuBLAS from this many rows on
};

}  // namespace engine
}  // namespace codecllm
