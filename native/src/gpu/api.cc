// gpu/api.cc — the CUDA engine behind the C API (native/include/codecllm_engine.h: cllm_cuda_*). The checks of a
// caller's arguments that do not depend on JS types live here, once; the N-API binding (gpu_engine.cc) only converts
// JS values.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/engine_dims.h"
#include "engine_api.h"
#include "gpu/engine.h"

static_assert((int)codecllm::engine::kNormSlots == (int)CLLM_CUDA_NORM_SLOTS, "norm slots: codecllm_engine.h and gpu/engine.h NormSlot");

struct cllm_cuda_engine {
  std::unique_ptr<codecllm::engine::Engine> e;
  uint32_t id = 0;
};

namespace {
uint32_t g_next_id = 1;  // engine ids name the engine's VRAM ledger tags ("engine<id>:<category>")
}

using namespace codecllm;
using namespace codecllm::engine;

extern "C" {

cllm_status cllm_cuda_create(const cllm_dims* dims, const cllm_cuda_options* o, cllm_cuda_engine** out) {
  CLLM_API_GUARD({
    CHECK_ARG(dims != nullptr && o != nullptr, "engineCreate: dims and options are required");
    ModelDims d;
    d.hidden = dims->hidden, d.intermediate = dims->intermediate, d.layers = dims->layers, d.heads = dims->heads;
    d.kv_heads = dims->kv_heads, d.head_dim = dims->head_dim, d.vocab = dims->vocab;
    CheckGpuDims(d, "engine config");  // common/engine_dims.h: shared bounds + the kernels' 16-byte row rules
    Config c;
    c.h = d.hidden, c.I = d.intermediate, c.L = d.layers, c.H = d.heads, c.Hkv = d.kv_heads, c.D = d.head_dim, c.V = d.vocab;
    auto in = [](int v, int lo, int hi, const char* k) {
      CHECK_ARG(v >= lo && v <= hi, std::string("engine config: ") + k + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      return v;
    };
    c.Smax = in(o->max_seq, 1, 1 << 16, "maxSeq");
    c.Tmax = in(o->max_prefill, 1, 1 << 16, "maxPrefill");
    c.B = in(o->max_batch, 1, 64, "maxBatch");
    c.pdl = o->pdl != 0;
    c.eps = o->rms_eps;
    c.kv16 = o->kv16 != 0;
    CHECK_ARG(((size_t)c.Smax + 3 * (size_t)c.D + 512 * 8) * 4 <= 200 * 1024, "engine config: maxSeq too large for the attention kernel's shared memory");
    const size_t nt = (size_t)c.Smax * (c.D / 2);
    CHECK_ARG(o->rope_cos != nullptr && o->rope_sin != nullptr && o->n_rope == nt, "engine config: ropeCos must hold maxSeq*headDim/2 floats");
    std::vector<float> cs(o->rope_cos, o->rope_cos + nt), sn(o->rope_sin, o->rope_sin + nt);
    // architecture features (config.ts ArchFeatures; zero = plain Llama)
    CHECK_ARG(o->act == CLLM_CUDA_ACT_SILU || o->act == CLLM_CUDA_ACT_GELU_TANH, "engine config: hiddenAct id " + std::to_string(o->act) + " (expected silu or gelu_tanh)");
    c.act = o->act == CLLM_CUDA_ACT_GELU_TANH ? kGpuActGeluTanh : kGpuActSilu;
    c.sandwich = o->sandwich_norms != 0;
    c.qk_norm = o->qk_norm != 0;
    c.embed_scale = o->embed_scale == 0 ? 1.0f : o->embed_scale;
    c.attn_scale = o->attn_scale;
    c.attn_softcap = o->attn_softcap;
    c.final_softcap = o->final_softcap;
    CHECK_ARG(c.embed_scale > 0 && c.attn_scale >= 0 && c.attn_softcap >= 0 && c.final_softcap >= 0,
              "engine config: embedScale > 0; attnScale, attnSoftcap, finalSoftcap >= 0");
    if (o->sliding_layers) {
      CHECK_ARG(o->n_sliding_layers == (size_t)c.L, "engine config: slidingLayers must hold one entry per layer");
      c.sliding.assign(o->sliding_layers, o->sliding_layers + o->n_sliding_layers);
      c.window = in(o->sliding_window, 1, 1 << 24, "slidingWindow");
    }
    std::vector<float> csL, snL;
    if (o->rope_cos_local) {
      CHECK_ARG(o->rope_sin_local != nullptr, "engine config: ropeSinLocal must be given with ropeCosLocal");
      csL.assign(o->rope_cos_local, o->rope_cos_local + nt), snL.assign(o->rope_sin_local, o->rope_sin_local + nt);
    }
    auto h = std::make_unique<cllm_cuda_engine>();
    h->id = g_next_id++;
    h->e = std::make_unique<Engine>(h->id, c, cs, sn, csL, snL);
    *out = h.release();
  })
}

void cllm_cuda_destroy(cllm_cuda_engine* e) { delete e; }

uint32_t cllm_cuda_id(const cllm_cuda_engine* e) { return e->id; }
int32_t cllm_cuda_vocab(const cllm_cuda_engine* e) { return e->e->cfg().V; }

cllm_status cllm_cuda_set_embedding(cllm_cuda_engine* e, const float* w, size_t n) { CLLM_API_GUARD(e->e->SetEmbedding(w, n)) }

cllm_status cllm_cuda_set_embedding_blocks(cllm_cuda_engine* e, int32_t type, const uint8_t* raw, size_t n) {
  CLLM_API_GUARD({
    CHECK_ARG(type == kWeightQ8_0, std::string("embedding blocks: type '") + (WeightTypeById(type) ? WeightTypeName(type) : "none") + "' (only q8_0)");
    e->e->SetEmbeddingBlocks(raw, n);
  })
}

cllm_status cllm_cuda_set_norm(cllm_cuda_engine* e, int32_t layer, int32_t which, const float* w, size_t n) {
  CLLM_API_GUARD(e->e->SetNorm(layer, which, w, n))
}

cllm_status cllm_cuda_set_linear_f32(cllm_cuda_engine* e, int32_t index, int32_t mode, const float* w, size_t n, const float* bias, size_t nb) {
  CLLM_API_GUARD({
    CHECK_ARG(mode == kModeFp16 || mode == kModeInt8, "storage mode " + std::to_string(mode) + " (expected fp16 or int8 here)");
    e->e->SetLinearF32(index, mode, w, n, bias, nb);
  })
}

cllm_status cllm_cuda_set_linear_int8(cllm_cuda_engine* e, int32_t index, const int8_t* codes, size_t n, const float* scales, size_t ns,
                                      const float* bias, size_t nb) {
  CLLM_API_GUARD(e->e->SetLinearInt8(index, codes, n, scales, ns, bias, nb))
}

cllm_status cllm_cuda_set_linear_q4(cllm_cuda_engine* e, int32_t index, int32_t type, const uint8_t* codes, size_t n, const float* scales,
                                    size_t ns, const uint8_t* zeros, size_t nz, int32_t group, const float* bias, size_t nb) {
  CLLM_API_GUARD(e->e->SetLinearQ4(index, type, codes, n, scales, ns, zeros, nz, group, bias, nb))
}

cllm_status cllm_cuda_set_linear_blocks(cllm_cuda_engine* e, int32_t index, int32_t type, const uint8_t* raw, size_t n, const float* bias,
                                        size_t nb) {
  CLLM_API_GUARD(e->e->SetLinearBlocks(index, type, raw, n, bias, nb))
}

cllm_status cllm_cuda_share_embedding(cllm_cuda_engine* e) { CLLM_API_GUARD(e->e->ShareEmbedding()) }

cllm_status cllm_cuda_randomize(cllm_cuda_engine* e, uint64_t seed, const int32_t* modes, size_t n) {
  CLLM_API_GUARD(e->e->Randomize(seed, std::vector<int>(modes, modes + n)))
}

cllm_status cllm_cuda_linear_codes(cllm_cuda_engine* e, int32_t index, uint32_t* buffer_id, uint64_t* bytes) {
  CLLM_API_GUARD({
    const uint32_t id = e->e->CodesId(index);
    *buffer_id = id;
    *bytes = GetBuffer(id).bytes;
  })
}

cllm_status cllm_cuda_set_compressed(cllm_cuda_engine* e, int32_t index, const char* codec, uint32_t packed_id, const double* offsets,
                                     const double* sizes, size_t n, uint64_t chunk_size) {
  CLLM_API_GUARD(e->e->SetCompressed(index, codec, packed_id, offsets, sizes, n, chunk_size))
}

cllm_status cllm_cuda_finalize(cllm_cuda_engine* e, int32_t schedule) {
  CLLM_API_GUARD({
    CHECK_ARG(schedule >= kSchedNone && schedule <= kSchedFused, "schedule " + std::to_string(schedule) + " (expected none, decode-per-forward, cached or fused)");
    e->e->Finalize(schedule);
  })
}

cllm_status cllm_cuda_reset(cllm_cuda_engine* e, float* cache_decode_ms) {
  CLLM_API_GUARD({
    e->e->Reset();
    if (cache_decode_ms) *cache_decode_ms = e->e->lastCacheMs();
  })
}

cllm_status cllm_cuda_forward(cllm_cuda_engine* e, const int32_t* tokens, int32_t T, float* logits, int32_t* next, float* ms, int32_t* position) {
  CLLM_API_GUARD({
    float t = 0;
    const int nx = e->e->Forward(tokens, T, logits, &t);
    if (next) *next = nx;
    if (ms) *ms = t;
    if (position) *position = e->e->pos();
  })
}

cllm_status cllm_cuda_generate(cllm_cuda_engine* e, int32_t n, int32_t graph, int32_t* tokens, float* ms, int32_t* used_graph) {
  CLLM_API_GUARD({
    float t = 0;
    bool used = false;
    const std::vector<int32_t> toks = e->e->Generate(n, graph != 0, &t, &used);
    CHECK_ARG(toks.size() == (size_t)n, "generate: " + std::to_string(toks.size()) + " tokens for n = " + std::to_string(n));
    std::memcpy(tokens, toks.data(), toks.size() * 4);
    if (ms) *ms = t;
    if (used_graph) *used_graph = used;
  })
}

cllm_status cllm_cuda_generate_batch(cllm_cuda_engine* e, const int32_t* const* prompts, const int32_t* lengths, int32_t B, int32_t n,
                                     int32_t graph, int32_t* tokens, float* prefill_ms, float* ms, int32_t* used_graph) {
  CLLM_API_GUARD({
    std::vector<std::vector<int32_t>> ps;
    for (int32_t b = 0; b < B; b++) ps.emplace_back(prompts[b], prompts[b] + lengths[b]);
    float pm = 0, t = 0;
    bool used = false;
    const std::vector<int32_t> toks = e->e->GenerateBatch(ps, n, graph != 0, &pm, &t, &used);
    CHECK_ARG(toks.size() == (size_t)B * (n + 1), "generateBatch: " + std::to_string(toks.size()) + " tokens for B x (n + 1)");
    std::memcpy(tokens, toks.data(), toks.size() * 4);
    if (prefill_ms) *prefill_ms = pm;
    if (ms) *ms = t;
    if (used_graph) *used_graph = used;
  })
}

const char* cllm_cuda_graph_error(cllm_cuda_engine* e) { return e->e->graphError().c_str(); }

cllm_status cllm_cuda_profile_decode(cllm_cuda_engine* e, int32_t B, void (*visit)(void*, const char*, double), void* ctx) {
  CLLM_API_GUARD({
    for (const auto& p : e->e->ProfileDecode(B)) visit(ctx, p.first.c_str(), p.second);
  })
}

cllm_status cllm_cuda_ledger(cllm_cuda_engine* e, void (*category)(void*, const char*, double), void (*mode)(void*, const char*, double),
                             void* ctx, int32_t* schedule) {
  CLLM_API_GUARD({
    for (const auto& kv : e->e->Ledger()) category(ctx, kv.first.c_str(), kv.second);
    for (const auto& kv : e->e->ModeCounts()) mode(ctx, kv.first.c_str(), (double)kv.second);
    if (schedule) *schedule = e->e->schedule();
  })
}

}  // extern "C"
