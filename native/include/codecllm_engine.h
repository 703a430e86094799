/*
 * codecllm_engine.h — the C API of codecllm's two Llama-family engines: the CPU engine (native/src/cpu/) and the
 * CUDA engine (native/src/gpu/ + native/src/cuda/). Readable in one file; every shape is stated where it is used.
 *
 * The N-API bindings (native/src/cpu_engine.cc, native/src/gpu_engine.cc) are thin wrappers over this header: they
 * parse JS arguments, call these functions, and turn a non-OK status into a JS Error with the same code (binding.h).
 * Nothing here knows about Node-API; a C or C++ program can drive either engine directly.
 *
 * ---- the one error path ---------------------------------------------------------------------------------------
 * Every function returns a cllm_status. CLLM_OK (0) is success; any other value means the call failed, changed
 * nothing it was not documented to change, and left the details in a per-thread "last error" until the next failing
 * call on that thread:
 *     cllm_last_error_code()     the stable code, e.g. "E_ARG", "E_CUDA", "E_NVCOMP", "E_OOM", "E_IO", "E_NATIVE"
 *                                (the ErrorCode values of src/messages.ts)
 *     cllm_last_error_message()  one line, e.g. "tokens: token id 70000 outside [0, 49152)"
 *     cllm_last_error_site()     the C++ site that raised it, "forward.cc:123"
 *     cllm_last_error_field(i)   named fields (tensor, chunk, codec, status, call), i = 0.. until it returns 0
 * Internally every failure is a CHECK (native/src/check.h) that throws codecllm::Error; each API function catches
 * at its boundary (native/src/engine_api.h CLLM_API_GUARD), so no C++ exception crosses this header.
 *
 * ---- shapes ------------------------------------------------------------------------------------------------------
 *   h = hidden, I = intermediate, L = layers, H = heads, Hkv = kv_heads, D = head_dim, V = vocab, T = tokens in a call
 *   linear weights are (out, in) row-major: q (H*D, h), k and v (Hkv*D, h), o (h, H*D), gate and up (I, h), down (h, I),
 *   embedding and lm_head (V, h); norms (h); biases (out).
 *   logits are (T, V) or, with last_only, (1, V), float32 row-major.
 *
 * ---- weight types ------------------------------------------------------------------------------------------------
 *   weight type ids are the one table of native/src/common/weight_types.h (TS twin: src/formats/dtypes.ts DTYPES[*].id):
 *   f32, f16, bf16, q8_0, q4_1, q5_0, q4_k, q6_k (GGML blocks of common/blocks.h), i8_channel, i8_group (int8 codes +
 *   scales), i4_group, nf4_group (4-bit codes + group scales, common/quant4.h) ...
 *   -1 means "none".
 *
 * Handles are not thread-safe: one thread at a time per engine (the N-API bindings hold a lock or run on the JS thread).
 */
#ifndef CODECLLM_ENGINE_H
#define CODECLLM_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================================================================
 * status and the last error
 * ================================================================================================================ */
typedef enum cllm_status {
  CLLM_OK = 0,
  CLLM_E_ARG = 1,     /* bad argument, shape or state (E_ARG) */
  CLLM_E_IO = 2,      /* file open / short read (E_IO) */
  CLLM_E_OOM = 3,     /* host or device allocation failed (E_OOM) */
  CLLM_E_CUDA = 4,    /* a CUDA call failed (E_CUDA) */
  CLLM_E_NVCOMP = 5,  /* nvCOMP status or a per-chunk decode status (E_NVCOMP) */
  CLLM_E_OTHER = 6    /* any other code (see cllm_last_error_code), e.g. E_NATIVE */
} cllm_status;

/** The code of this thread's last error ("E_ARG", ...); "" when no call has failed on this thread. */
const char* cllm_last_error_code(void);
/** Its one-line message. */
const char* cllm_last_error_message(void);
/** Its C++ site, "file.cc:123". */
const char* cllm_last_error_site(void);
/** Named field i (0-based) of the last error: sets *key and *value and returns 1, or returns 0 past the last one. */
int cllm_last_error_field(int i, const char** key, const char** value);

/** Model dimensions shared by both engines; bounds checked once (native/src/common/engine_dims.h). */
typedef struct cllm_dims {
  int32_t hidden, intermediate, layers, heads, kv_heads, head_dim, vocab;
} cllm_dims;

/* ================================================================================================================
 * CPU engine (native/src/cpu/): float32 activations, weights kept in the smallest format that reproduces the given
 * float32 values bit for bit (or as stored in the checkpoint), KV caches per sequence, forward fast or on the
 * reference ops (engine/ops_ref.h).
 * ================================================================================================================ */
typedef struct cllm_cpu_engine cllm_cpu_engine;

/** Architecture features (src/model/config.ts ArchFeatures; zero-initialised = plain Llama), the CUDA options' twin. */
enum { CLLM_CPU_ACT_SILU = 0, CLLM_CPU_ACT_GELU_TANH = 1 };
typedef struct cllm_cpu_features {
  int32_t act;            /* CLLM_CPU_ACT_SILU (SwiGLU MLP) | CLLM_CPU_ACT_GELU_TANH (GeGLU) */
  int32_t sandwich_norms; /* pre- and post-FFN norms around the MLP (slots 12, 13) */
  int32_t qk_norm;        /* RMS norm of q and k per head (slots 14, 15: (D) floats) */
  float embed_scale;      /* embedding rows times this (0 is taken as 1; otherwise > 0) */
  float attn_scale;       /* attention score scale (0: 1/sqrt(D)) */
  float attn_softcap;     /* scores -> c·tanh(s/c) (0: none) */
  float final_softcap;    /* logits -> c·tanh(x/c) (0: none) */
  const uint8_t* sliding_layers; /* (L) 1 = sliding-window (local) layer, or NULL: every layer global */
  size_t n_sliding_layers;       /* L when sliding_layers is given */
  int32_t sliding_window;        /* window of the local layers in positions, >= 1 with sliding_layers */
  const float* inv_freq_local;   /* (D/2) rope inverse frequencies of the local layers, or NULL: inv_freq */
  size_t n_inv_freq_local;
} cllm_cpu_features;

/** Create an engine of `dims`; inv_freq: the rope inverse frequencies, (head_dim / 2) floats; features: NULL = plain
 *  Llama. */
cllm_status cllm_cpu_create(const cllm_dims* dims, float rms_eps, const float* inv_freq, size_t n_inv_freq,
                            const cllm_cpu_features* features, cllm_cpu_engine** out);
void cllm_cpu_destroy(cllm_cpu_engine* e);

/* Tensor slots (append-only; src/engine/cpu-native.ts GLOBAL_SLOT / LAYER_SLOT):
 *   layer -1: 0 embed (V, h), 1 final norm (h), 2 lm_head (V, h)
 *   layer l : 0 input norm (h), 1 post-attention norm (h), 2 q, 3 k, 4 v, 5 o, 6 gate, 7 up, 8 down,
 *             9 q bias (H*D), 10 k bias (Hkv*D), 11 v bias (Hkv*D), 12 pre-FFN norm (h), 13 post-FFN norm (h)
 *             (sandwich norms), 14 q norm (D), 15 k norm (D) */
enum { CLLM_CPU_MAX_SLOT = 15 };

/** int8 codes' side data (raw_type i8_channel / i8_group; also the 4-bit layouts i4_group / nf4_group of
 *  common/quant4.h, whose raw bytes are the packed codes): scale (rows) or (rows, ceil(cols/group)) floats, zero
 *  points (same count, uint8; null = symmetric codes), group size (i8_group, i4_group, nf4_group). */
typedef struct cllm_int8_codes {
  const float* scale;
  size_t n_scale;
  const uint8_t* zero;
  size_t n_zero;
  int32_t group;
} cllm_int8_codes;

/**
 * Set one tensor. f32 (n_f32 values, the slot's full size) are the weight's float32 values; raw / raw_type optionally
 * the checkpoint's stored bytes of the same tensor (GGML blocks, or int8 codes with `i8`), kept instead when they
 * dequantize to exactly f32. f32 = NULL: no float32 values, raw holds the tensor as stored (bf16 | f16 | f32 | GGML
 * blocks, or int8 / 4-bit codes). keep_stored = 0 forces plain float32 storage. *stored_type: the weight type kept (norms and
 * biases: f32).
 */
cllm_status cllm_cpu_set_weight(cllm_cpu_engine* e, int32_t layer, int32_t slot, const float* f32, size_t n_f32, const uint8_t* raw,
                                size_t raw_bytes, int32_t raw_type, int32_t keep_stored, const cllm_int8_codes* i8, int32_t* stored_type);
/** Set a matrix slot (layer -1: 0, 2; layer l: 2..8) from `bytes` bytes at `offset` of the file at `path`, stored as
 *  `stored_type` (bf16 | f16 | f32 | q4_1 | q8_0), read straight into the engine's storage. E_IO on open / short read. */
cllm_status cllm_cpu_set_weight_file(cllm_cpu_engine* e, int32_t layer, int32_t slot, const char* path, int64_t offset, int64_t bytes,
                                     int32_t stored_type, int32_t keep_stored, int32_t* stored_type_out);

/** A new empty KV cache (one sequence); *cache > 0. */
cllm_status cllm_cpu_new_cache(cllm_cpu_engine* e, int32_t* cache);
/** Free a cache; *existed = 0 when there was none of that id. */
cllm_status cllm_cpu_free_cache(cllm_cpu_engine* e, int32_t cache, int32_t* existed);
/** Positions held by a cache. */
cllm_status cllm_cpu_cache_length(cllm_cpu_engine* e, int32_t cache, int32_t* length);
/**
 * Forward T tokens at positions cache_length .. cache_length + T - 1, appending their K/V to the cache (cache -1: a
 * throw-away cache starting at position 0). logits: (T, V) floats, or (1, V) with last_only. reference != 0 runs the
 * reference ops (engine/ops_ref.h) instead of the fast kernels. Every weight must be set (E_ARG otherwise).
 */
cllm_status cllm_cpu_forward(cllm_cpu_engine* e, int32_t cache, const int32_t* tokens, int32_t T, int32_t last_only, int32_t reference,
                             float* logits);

enum { CLLM_MAX_WEIGHT_TYPES = 32 };
typedef struct cllm_cpu_info {
  int32_t threads;              /* worker pool size (CODECLLM_THREADS or hardware concurrency) */
  double solo_periods;          /* straggler back-offs so far (cpu/engine.h Pool) */
  const char* isa;              /* "avx2+fma" | "scalar" */
  double weight_bytes;          /* resident bytes of every tensor */
  double decode_bytes_per_token;/* bytes a batch-1 decode step reads: every linear incl. lm_head */
  int32_t embed_type;           /* weight type of the embedding (-1 unset) */
  int32_t linear_counts[CLLM_MAX_WEIGHT_TYPES]; /* linears (7 per layer + lm_head) by weight type id */
  int32_t linear_unset;         /* linears not set yet */
} cllm_cpu_info;
cllm_status cllm_cpu_info_get(cllm_cpu_engine* e, cllm_cpu_info* out);
/** The process-wide worker pool size. */
int32_t cllm_cpu_threads(void);
/** The vocabulary size V the engine was created with (logits rows are V floats). */
int32_t cllm_cpu_vocab(const cllm_cpu_engine* e);

/* ================================================================================================================
 * CUDA engine (native/src/gpu/, CUDA builds only): fp16 / int8 / nvCOMP-compressed / GGML-block linears, fp16 or fp32
 * KV cache (L, Hkv, max_seq, D) per sequence slot, prefill with tensor-core GEMMs, greedy decode captured in a CUDA
 * graph, batched decode over max_batch slots. Every device buffer is registered in the VRAM ledger (device.h).
 * CUDA builds only (without CUDA these functions are not compiled: the addon registers no engine* functions).
 * ================================================================================================================ */
typedef struct cllm_cuda_engine cllm_cuda_engine;

typedef struct cllm_cuda_options {
  float rms_eps;
  int32_t max_seq;     /* KV capacity in positions, 1..65536 */
  int32_t max_prefill; /* largest prefill chunk T, 1..65536 */
  int32_t max_batch;   /* sequence slots for batched decode, 1..64 */
  int32_t pdl;         /* programmatic dependent launch where sound (1) or never (0) */
  int32_t kv16;        /* KV cache fp16 (1) or fp32 (0) */
  const float* rope_cos; /* (max_seq, D/2), the global layers' rope table */
  const float* rope_sin; /* (max_seq, D/2) */
  size_t n_rope;         /* max_seq * D/2 */
  /* architecture features (src/model/config.ts ArchFeatures; zero-initialised = plain Llama) */
  int32_t act;            /* CLLM_CUDA_ACT_SILU (SwiGLU MLP) | CLLM_CUDA_ACT_GELU_TANH (GeGLU) */
  int32_t sandwich_norms; /* pre- and post-FFN norms around the MLP (norm slots 2, 3) */
  int32_t qk_norm;        /* RMS norm of q and k per head (norm slots 4, 5: (D) floats) */
  float embed_scale;      /* embedding rows times this (0 is taken as 1) */
  float attn_scale;       /* attention score scale (0: 1/sqrt(D)) */
  float attn_softcap;     /* scores -> c·tanh(s/c) (0: none) */
  float final_softcap;    /* logits -> c·tanh(x/c) (0: none) */
  const uint8_t* sliding_layers; /* (L) 1 = sliding-window (local) layer, or NULL: every layer global */
  size_t n_sliding_layers;       /* L when sliding_layers is given */
  int32_t sliding_window;        /* window of the local layers in positions */
  const float* rope_cos_local;   /* (max_seq, D/2) rope table of the local layers, or NULL: the global one */
  const float* rope_sin_local;
} cllm_cuda_options;

/* Linear index: layer * 7 + k (k: 0 q, 1 k, 2 v, 3 o, 4 gate, 5 up, 6 down); lm_head = L * 7. */
enum { CLLM_CUDA_MODE_FP16 = 0, CLLM_CUDA_MODE_INT8 = 1 };
enum { CLLM_CUDA_ACT_SILU = 0, CLLM_CUDA_ACT_GELU_TANH = 1 };
/* Norm slots of cllm_cuda_set_norm: 0 input, 1 post-attention, 2 pre-FFN, 3 post-FFN, 4 q, 5 k (gpu/engine.h NormSlot). */
enum { CLLM_CUDA_NORM_SLOTS = 6 };
enum { CLLM_CUDA_SCHED_NONE = 0, CLLM_CUDA_SCHED_DECODE_PER_FORWARD = 1, CLLM_CUDA_SCHED_CACHED = 2, CLLM_CUDA_SCHED_FUSED = 3 };

cllm_status cllm_cuda_create(const cllm_dims* dims, const cllm_cuda_options* o, cllm_cuda_engine** out);
void cllm_cuda_destroy(cllm_cuda_engine* e);
/** Embedding (V, h) float32 values (kept as fp16). */
cllm_status cllm_cuda_set_embedding(cllm_cuda_engine* e, const float* w, size_t n);
/** Embedding as q8_0 blocks (V, h/32 blocks of 34 bytes). type must be q8_0. */
cllm_status cllm_cuda_set_embedding_blocks(cllm_cuda_engine* e, int32_t type, const uint8_t* raw, size_t n);
/** Norm of layer (-1: final) in slot `which` (0 .. CLLM_CUDA_NORM_SLOTS - 1): (h) floats, or (D) for the q / k norms. */
cllm_status cllm_cuda_set_norm(cllm_cuda_engine* e, int32_t layer, int32_t which, const float* w, size_t n);
/** Linear from float32 values (out, in), stored as mode (fp16 | int8 per-row); bias (out) or NULL. */
cllm_status cllm_cuda_set_linear_f32(cllm_cuda_engine* e, int32_t index, int32_t mode, const float* w, size_t n, const float* bias, size_t n_bias);
/** Linear from int8 codes (out, in) and one float scale per output row. */
cllm_status cllm_cuda_set_linear_int8(cllm_cuda_engine* e, int32_t index, const int8_t* codes, size_t n, const float* scales, size_t n_scales,
                                      const float* bias, size_t n_bias);
/** Linear from 4-bit codes of the lab's layouts (type i4_group | nf4_group, common/quant4.h): packed codes (out, in/2
 *  bytes), scales (out, ceil(in/group)) floats, zero points (same count, uint8; NULL = symmetric), group size. */
cllm_status cllm_cuda_set_linear_q4(cllm_cuda_engine* e, int32_t index, int32_t type, const uint8_t* codes, size_t n, const float* scales,
                                    size_t n_scales, const uint8_t* zeros, size_t n_zeros, int32_t group, const float* bias, size_t n_bias);
/** Linear from the checkpoint's GGML blocks (type q4_1 | q8_0 | q5_0 | q4_k | q6_k): out rows of in/(block elements) blocks, row-major. */
cllm_status cllm_cuda_set_linear_blocks(cllm_cuda_engine* e, int32_t index, int32_t type, const uint8_t* raw, size_t n, const float* bias,
                                        size_t n_bias);
/** lm_head (fp16) reads the embedding table (tied models). */
cllm_status cllm_cuda_share_embedding(cllm_cuda_engine* e);
/** Synthetic weights generated on the device; modes: (L*7 + 1) storage modes (0 fp16, 1 int8, 2 compressed). */
cllm_status cllm_cuda_randomize(cllm_cuda_engine* e, uint64_t seed, const int32_t* modes, size_t n_modes);
/** The ledger buffer holding a linear's int8 codes (for nvCOMP compression) and its size. */
cllm_status cllm_cuda_linear_codes(cllm_cuda_engine* e, int32_t index, uint32_t* buffer_id, uint64_t* bytes);
/** Install a linear's codes as nvCOMP chunks of ledger buffer packed_id: n chunks at offsets / sizes (bytes), each
 *  decompressing to chunk_size bytes (the last one shorter). codec: an nvCOMP codec name. */
cllm_status cllm_cuda_set_compressed(cllm_cuda_engine* e, int32_t index, const char* codec, uint32_t packed_id, const double* offsets,
                                     const double* sizes, size_t n, uint64_t chunk_size);
/** Freeze the weights and choose the decode schedule of compressed linears (CLLM_CUDA_SCHED_*). */
cllm_status cllm_cuda_finalize(cllm_cuda_engine* e, int32_t schedule);
/** Start a new sequence (position 0, slot 0); *cache_decode_ms: time the cached schedule spent decoding. */
cllm_status cllm_cuda_reset(cllm_cuda_engine* e, float* cache_decode_ms);
/** Forward T tokens of the current sequence; logits (V) of the last position or NULL; *next: its argmax token;
 *  *ms: device time; *position: the sequence length after the call. */
cllm_status cllm_cuda_forward(cllm_cuda_engine* e, const int32_t* tokens, int32_t T, float* logits, int32_t* next, float* ms, int32_t* position);
/** n greedy decode steps from the current sequence: tokens (n); graph != 0 replays a captured CUDA graph;
 *  *used_graph says whether it did (else cllm_cuda_graph_error says why). */
cllm_status cllm_cuda_generate(cllm_cuda_engine* e, int32_t n, int32_t graph, int32_t* tokens, float* ms, int32_t* used_graph);
/** B prompts (prompts[b], lengths[b] tokens) prefilled into slots 0..B-1, then n batched greedy steps: tokens
 *  (B, n + 1) — each sequence's first token after its prompt, then its n decoded tokens. */
cllm_status cllm_cuda_generate_batch(cllm_cuda_engine* e, const int32_t* const* prompts, const int32_t* lengths, int32_t B, int32_t n,
                                     int32_t graph, int32_t* tokens, float* prefill_ms, float* ms, int32_t* used_graph);
/** Why the last graph capture failed ("" when it did not). Valid until the next call on e. */
const char* cllm_cuda_graph_error(cllm_cuda_engine* e);
/** Time every op of one decode step of batch B (0: the single sequence): visit(ctx, op, ms) per op, then "total". */
cllm_status cllm_cuda_profile_decode(cllm_cuda_engine* e, int32_t B, void (*visit)(void* ctx, const char* op, double ms), void* ctx);
/** The engine's VRAM by category (bytes) and its linears by storage mode (counts); *schedule: CLLM_CUDA_SCHED_*. */
cllm_status cllm_cuda_ledger(cllm_cuda_engine* e, void (*category)(void* ctx, const char* name, double bytes),
                             void (*mode)(void* ctx, const char* name, double count), void* ctx, int32_t* schedule);
/** The vocabulary size V the engine was created with. */
int32_t cllm_cuda_vocab(const cllm_cuda_engine* e);
/** The engine's id: its VRAM ledger buffers are tagged "engine<id>:<category>" (device.h). */
uint32_t cllm_cuda_id(const cllm_cuda_engine* e);

#ifdef __cplusplus
}
#endif

#endif /* CODECLLM_ENGINE_H */
