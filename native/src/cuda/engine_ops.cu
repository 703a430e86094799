// engine_ops.cu — element-wise and attention kernels of the GPU engine (declared in engine.cuh).
// Twins in native/src/engine/ops_ref.h; shapes are documented there and in engine.cuh.
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>

#include "../check.h"
#include "../env.h"
#include "engine.cuh"
#include "pdl.cuh"

#include <string>

namespace codecllm {
namespace engine {

namespace {

__device__ __forceinline__ float WarpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float WarpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
/** Block-wide sum (blockDim.x a multiple of 32, <= 1024); every thread gets the result. `red` has 32 floats. */
__device__ float BlockSum(float v, float* red) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = WarpSum(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : 0.f;
  return WarpSum(v);
}
__device__ float BlockMax(float v, float* red) {
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  v = WarpMax(v);
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  v = lane < nw ? red[lane] : -FLT_MAX;
  return WarpMax(v);
}


// ---- embedding: one block per token
__global__ void EmbeddingKernel(float* x, const uint16_t* table, const int32_t* tokens, int h) {
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  const uint16_t* row = table + (size_t)tokens[t] * h;
  for (int i = threadIdx.x; i < h; i += blockDim.x) x[(size_t)t * h + i] = half_bits_to_f32(row[i]);
}

__global__ void EmbeddingQ8Kernel(float* x, const int8_t* codes, const uint16_t* d16, const int32_t* tokens, int h) {
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  const size_t row = (size_t)tokens[t];
  for (int i = threadIdx.x; i < h; i += blockDim.x) x[(size_t)t * h + i] = (float)codes[row * h + i] * half_bits_to_f32(d16[row * (h / 32) + i / 32]);
}

// ---- rmsnorm: one block per row
__global__ void RmsNormKernel(float* out, uint16_t* out16, const float* x, const float* w, int h, float eps) {
  __shared__ float red[32];
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  const float* xr = x + (size_t)t * h;
  float ss = 0;
  for (int i = threadIdx.x; i < h; i += blockDim.x) ss += xr[i] * xr[i];
  ss = BlockSum(ss, red);
  float r = 1.0f / sqrtf(ss / h + eps);
  for (int i = threadIdx.x; i < h; i += blockDim.x) {
    float y = __fmul_rn(__fmul_rn(xr[i], r), w[i]);
    if (out) out[(size_t)t * h + i] = y;
    if (out16) out16[(size_t)t * h + i] = f32_to_half_bits(y);
  }
}

__global__ void SwiGLUKernel(float* out, uint16_t* out16, const float* g, const float* u, size_t n) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    float gv = g[i];
    float sig = 1.0f / (1.0f + expf(-gv));
    float y = __fmul_rn(__fmul_rn(gv, sig), u[i]);
    if (out) out[i] = y;
    if (out16) out16[i] = f32_to_half_bits(y);
  }
}

// ---- rope + kv append: one block per token
template <class KV>
__device__ __forceinline__ void StoreKV(KV* p, float v);
template <>
__device__ __forceinline__ void StoreKV<float>(float* p, float v) { *p = v; }
template <>
__device__ __forceinline__ void StoreKV<uint16_t>(uint16_t* p, float v) { *p = f32_to_half_bits(v); }

__device__ __forceinline__ void Rotate(float* v, const float* cs, const float* sn, int i, int half) {
  float x1 = v[i], x2 = v[i + half];
  float a = __fmul_rn(x1, cs[i]), b = __fmul_rn(-x2, sn[i]);
  float c = __fmul_rn(x2, cs[i]), d = __fmul_rn(x1, sn[i]);
  v[i] = __fadd_rn(a, b);
  v[i + half] = __fadd_rn(c, d);
}

template <class KV>
__global__ void RopeAppendKernel(float* q, float* k, const float* v, KV* kc, KV* vc, const float* cos_tab, const float* sin_tab,
                                 int H, int Hkv, int D, int P_host, const int32_t* P_dev, int Smax, const int32_t* P_rows,
                                 size_t slot_stride) {
  PdlWait();
  PdlTrigger();
  int t = blockIdx.x;
  int pos;
  if (P_rows) {  // batched decode: row t is sequence t, in cache slot t
    pos = P_rows[t];
    kc += (size_t)t * slot_stride;
    vc += (size_t)t * slot_stride;
  } else {
    pos = (P_dev ? *P_dev : P_host) + t;
  }
  if (pos < 0 || pos >= Smax) return;  // the host checks capacity; never write out of bounds
  int half = D / 2;
  const float* cs = cos_tab + (size_t)pos * half;
  const float* sn = sin_tab + (size_t)pos * half;
  for (int j = threadIdx.x; j < H * half; j += blockDim.x) {
    int hh = j / half, i = j % half;
    Rotate(q + ((size_t)t * H + hh) * D, cs, sn, i, half);
  }
  for (int j = threadIdx.x; j < Hkv * half; j += blockDim.x) {
    int hh = j / half, i = j % half;
    float* kr = k + ((size_t)t * Hkv + hh) * D;
    Rotate(kr, cs, sn, i, half);
    KV* dst = kc + ((size_t)hh * Smax + pos) * D;
    StoreKV(dst + i, kr[i]);
    StoreKV(dst + i + half, kr[i + half]);
  }
  for (int j = threadIdx.x; j < Hkv * D; j += blockDim.x) {
    int hh = j / D, i = j % D;
    StoreKV(vc + ((size_t)hh * Smax + pos) * D + i, v[((size_t)t * Hkv + hh) * D + i]);
  }
}

// ---- attention: one block of kAttnThreads (512) threads per (query head, token). Scores: one thread per key, the key row read as
// 16-byte vectors (D/VEC of them, all issued before use); softmax over the block; output: the block is split into
// groups of D/VEC threads, group g accumulating rows s = g, g + groups, ... of V (16-byte loads, coalesced per row),
// then the groups are summed in shared memory. Dynamic shared memory: q (D) | scores (Smax) | partials
// (kAttnThreads/(D/VEC) x D) | new k, v (2 D; the rope variant).
template <class KV>
struct Vec16;
template <>
struct Vec16<uint16_t> {
  static constexpr int N = 8;
  static __device__ __forceinline__ void Load(const uint16_t* p, float* f) {
    uint4 u = *reinterpret_cast<const uint4*>(p);
    const __half2* h = reinterpret_cast<const __half2*>(&u);
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float2 x = __half22float2(h[j]);
      f[2 * j] = x.x;
      f[2 * j + 1] = x.y;
    }
  }
};
template <>
struct Vec16<float> {
  static constexpr int N = 4;
  static __device__ __forceinline__ void Load(const float* p, float* f) {
    float4 u = *reinterpret_cast<const float4*>(p);
    f[0] = u.x, f[1] = u.y, f[2] = u.z, f[3] = u.w;
  }
};

constexpr int kAttnThreads = 512;  // one pass over the keys up to S = 512, one V round trip up to S = 256 (H100: 256 threads took ~2 µs more a layer)

// DT = head dim known at compile time (64 or 128: the key-row loads unroll and issue together), 0 = any D.
/** KV-cache rounding of a value (what a store + load of the cache returns). */
template <class KV>
__device__ __forceinline__ float RoundKV(float v);
template <>
__device__ __forceinline__ float RoundKV<float>(float v) { return v; }
template <>
__device__ __forceinline__ float RoundKV<uint16_t>(float v) { return half_bits_to_f32(f32_to_half_bits(v)); }

// ROPE = true (decode, one token per row): the kernel also does LaunchRopeAppend's work for its row, saving a launch
// per layer. Every block rotates its own q head and its kv head's new key (rope.k, unrotated) in shared memory and
// uses that key and rope.v (rounded as the cache rounds them) for position `pos`; the first query block of each kv
// head also stores them in the cache for later steps. Same arithmetic, same values: outputs equal the two-kernel path
// bit for bit.
template <class KV, int DT, bool ROPE>
__global__ void __launch_bounds__(kAttnThreads) AttentionKernel(float* out, uint16_t* out16, const float* q, KV* kc, KV* vc,
                                                                int H, int Hkv, int D, int P_host, const int32_t* P_dev, int Smax,
                                                                const int32_t* P_rows, size_t slot_stride, RopeIn rope) {
  constexpr int VEC = Vec16<KV>::N;
  PdlWait();
  PdlTrigger();
  extern __shared__ float sm[];
  __shared__ float red[32];
  float* qs = sm;                  // D
  float* sc = sm + D;              // Smax
  float* part = sc + Smax;         // groups x D
  float* kn = part + (kAttnThreads / ((DT ? DT : D) / VEC)) * D;  // D: new key (ROPE)
  float* vn = kn + D;              // D: new value (ROPE)
  int hq = blockIdx.x, t = blockIdx.y;
  int pos = P_rows ? P_rows[t] : (P_dev ? *P_dev : P_host) + t;
  int S = min(pos + 1, Smax);
  if (P_rows) {
    kc += (size_t)t * slot_stride;
    vc += (size_t)t * slot_stride;
  }
  int G = H / Hkv, kv = hq / G;
  const float scale = 1.0f / sqrtf((float)D);
  const float* qr = q + ((size_t)t * H + hq) * D;
  if (ROPE) {
    const int half = D / 2;
    const float* cs = rope.cos + (size_t)pos * half;
    const float* sn = rope.sin + (size_t)pos * half;
    const float* kr = rope.k + ((size_t)t * Hkv + kv) * D;
    const float* vr = rope.v + ((size_t)t * Hkv + kv) * D;
    for (int i = threadIdx.x; i < half; i += blockDim.x) {
      float x1 = qr[i], x2 = qr[i + half];  // as Rotate()
      qs[i] = __fadd_rn(__fmul_rn(x1, cs[i]), __fmul_rn(-x2, sn[i]));
      qs[i + half] = __fadd_rn(__fmul_rn(x2, cs[i]), __fmul_rn(x1, sn[i]));
      x1 = kr[i], x2 = kr[i + half];
      kn[i] = RoundKV<KV>(__fadd_rn(__fmul_rn(x1, cs[i]), __fmul_rn(-x2, sn[i])));
      kn[i + half] = RoundKV<KV>(__fadd_rn(__fmul_rn(x2, cs[i]), __fmul_rn(x1, sn[i])));
    }
    for (int i = threadIdx.x; i < D; i += blockDim.x) vn[i] = RoundKV<KV>(vr[i]);
    __syncthreads();
    if (hq % G == 0 && pos >= 0 && pos < Smax) {
      KV* kd = kc + ((size_t)kv * Smax + pos) * D;
      KV* vd = vc + ((size_t)kv * Smax + pos) * D;
      for (int i = threadIdx.x; i < D; i += blockDim.x) {
        StoreKV(kd + i, kn[i]);
        StoreKV(vd + i, vn[i]);
      }
    }
  } else {
    for (int i = threadIdx.x; i < D; i += blockDim.x) qs[i] = qr[i];
    __syncthreads();
  }
  const KV* kb = kc + (size_t)kv * Smax * D;
  const KV* vb = vc + (size_t)kv * Smax * D;
  const int nvec = DT ? DT / VEC : D / VEC;
  // scores, one thread per key
  float mx = -FLT_MAX;
  for (int s = threadIdx.x; s < S; s += blockDim.x) {
    const KV* kr = kb + (size_t)s * D;
    float d = 0;
#pragma unroll
    for (int c = 0; c < nvec; c++) {
      float f[VEC];
      if (ROPE && s == pos) {
#pragma unroll
        for (int j = 0; j < VEC; j++) f[j] = kn[c * VEC + j];
      } else {
        Vec16<KV>::Load(kr + c * VEC, f);
      }
#pragma unroll
      for (int j = 0; j < VEC; j++) d += qs[c * VEC + j] * f[j];
    }
    d *= scale;
    sc[s] = d;
    mx = fmaxf(mx, d);
  }
  mx = BlockMax(mx, red);
  float sum = 0;
  for (int s = threadIdx.x; s < S; s += blockDim.x) {
    float e = expf(sc[s] - mx);
    sc[s] = e;
    sum += e;
  }
  sum = BlockSum(sum, red);  // syncs: every sc[] is written before the output loop reads it
  const float inv = 1.0f / sum;
  // output: groups of nvec threads over rows of V
  const int groups = blockDim.x / nvec;
  const int g = threadIdx.x / nvec, c = threadIdx.x % nvec;
  if (g < groups) {
    float acc[VEC];
#pragma unroll
    for (int j = 0; j < VEC; j++) acc[j] = 0;
    // four rows of V in flight per thread, summed in row order (same result as one at a time)
    constexpr int UNR = 4;
    for (int s0 = g; s0 < S; s0 += UNR * groups) {
      float f[UNR][VEC];
#pragma unroll
      for (int u = 0; u < UNR; u++) {
        const int s = s0 + u * groups;
        if (ROPE && s == pos) {
#pragma unroll
          for (int j = 0; j < VEC; j++) f[u][j] = vn[c * VEC + j];
        } else if (s < S) {
          Vec16<KV>::Load(vb + (size_t)s * D + c * VEC, f[u]);
        }
      }
#pragma unroll
      for (int u = 0; u < UNR; u++) {
        const int s = s0 + u * groups;
        if (s >= S) break;
        float p = sc[s];
#pragma unroll
        for (int j = 0; j < VEC; j++) acc[j] += p * f[u][j];
      }
    }
#pragma unroll
    for (int j = 0; j < VEC; j++) part[g * D + c * VEC + j] = acc[j];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < D; i += blockDim.x) {
    float a = 0;
    for (int gg = 0; gg < groups; gg++) a += part[gg * D + i];
    a *= inv;
    size_t o = ((size_t)t * H + hq) * D + i;
    out[o] = a;
    if (out16) out16[o] = f32_to_half_bits(a);
  }
}

// ---- argmax + greedy step bookkeeping: one block of 1024 threads
/** argmax of logits (V) over the block (first index on ties; all NaN / -inf: 0, as ref::argmax); thread 0 gets it. */
__device__ int BlockArgmax(const float* logits, int V) {
  __shared__ float bv[32];
  __shared__ int bi[32];
  float best = -FLT_MAX;
  int idx = 0x7fffffff;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    float v = logits[i];
    if (v > best) {  // NaN never wins; within a thread indices grow, so '>' keeps the first
      best = v;
      idx = i;
    }
  }
  for (int o = 16; o > 0; o >>= 1) {
    float ov = __shfl_xor_sync(0xffffffffu, best, o);
    int oi = __shfl_xor_sync(0xffffffffu, idx, o);
    if (ov > best || (ov == best && oi < idx)) {
      best = ov;
      idx = oi;
    }
  }
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    bv[warp] = best;
    bi[warp] = idx;
  }
  __syncthreads();
  if (warp == 0) {
    int nw = blockDim.x >> 5;
    best = lane < nw ? bv[lane] : -FLT_MAX;
    idx = lane < nw ? bi[lane] : 0x7fffffff;
    for (int o = 16; o > 0; o >>= 1) {
      float ov = __shfl_xor_sync(0xffffffffu, best, o);
      int oi = __shfl_xor_sync(0xffffffffu, idx, o);
      if (ov > best || (ov == best && oi < idx)) {
        best = ov;
        idx = oi;
      }
    }
  }
  return idx == 0x7fffffff ? 0 : idx;
}

__global__ void ArgmaxStepKernel(const float* logits, int V, int32_t* step, int32_t* out_tokens, int new_pos) {
  PdlWait();
  PdlTrigger();
  int idx = BlockArgmax(logits, V);
  if (threadIdx.x == 0) {
    step[0] = idx;
    step[1] = new_pos >= 0 ? new_pos : step[1] + 1;
    if (out_tokens) out_tokens[step[2]++] = idx;
  }
}

__global__ void ArgmaxRowsKernel(const float* logits, int V, int32_t* tok, int32_t* pos, int32_t* out_tokens, int Smax) {
  PdlWait();
  PdlTrigger();
  int b = blockIdx.x;
  int idx = BlockArgmax(logits + (size_t)b * V, V);
  if (threadIdx.x == 0) {
    tok[b] = idx;
    int p = pos[b];
    pos[b] = p + 1;
    if (out_tokens && p >= 0 && p < Smax) out_tokens[(size_t)b * Smax + p] = idx;
  }
}

__global__ void F32ToF16Kernel(uint16_t* dst, const float* src, size_t n) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) dst[i] = f32_to_half_bits(src[i]);
}

// one block per row: absmax, then codes. Division in double so the codes equal nearbyint((double)w / scale).
__global__ void QuantizeRowsKernel(int8_t* codes, float* scale, const float* w, int K) {
  __shared__ float red[32];
  PdlWait();
  PdlTrigger();
  int r = blockIdx.x;
  const float* wr = w + (size_t)r * K;
  float m = 0;
  for (int i = threadIdx.x; i < K; i += blockDim.x) m = fmaxf(m, fabsf(wr[i]));
  m = BlockMax(m, red);
  float s = (float)((double)m / 127.0);
  if (threadIdx.x == 0) scale[r] = s;
  for (int i = threadIdx.x; i < K; i += blockDim.x) {
    double x = s == 0.f ? 0.0 : (double)wr[i] / (double)s;
    double c = rint(x);
    c = c > 127 ? 127 : (c < -127 ? -127 : c);
    codes[(size_t)r * K + i] = (int8_t)c;
  }
}

__device__ __forceinline__ uint32_t Hash32(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return (uint32_t)x;
}
__global__ void RandomNormalKernel(float* w, size_t n, uint64_t seed, float mean, float stdv) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint64_t k = seed * 0x9e3779b97f4a7c15ull + 2 * i;
    float u1 = (Hash32(k) + 0.5f) * 2.3283064365386963e-10f;
    float u2 = (Hash32(k + 1) + 0.5f) * 2.3283064365386963e-10f;
    w[i] = mean + stdv * sqrtf(-2.f * logf(u1)) * cospif(2.f * u2);
  }
}

__global__ void RandomBlocksKernel(uint8_t* w, uint16_t* aux, int wtype, size_t rows, int K, uint64_t seed, float stdv) {
  PdlWait();
  PdlTrigger();
  const size_t nblk = rows * (size_t)(K / 32);
  for (size_t b = blockIdx.x * (size_t)blockDim.x + threadIdx.x; b < nblk; b += (size_t)gridDim.x * blockDim.x) {
    const uint64_t k = seed * 0x9e3779b97f4a7c15ull + 64 * b;
    if (wtype == kWeightQ4_1) {
      for (int j = 0; j < 16; j++) w[b * 16 + j] = (uint8_t)(Hash32(k + j) & 0xff);
      const float d = stdv / 4.61f;
      aux[2 * b] = f32_to_half_bits(d);
      aux[2 * b + 1] = f32_to_half_bits(-7.5f * d);
    } else {
      for (int j = 0; j < 32; j++) w[b * 32 + j] = (uint8_t)(int8_t)((int)(Hash32(k + j) % 255u) - 127);
      aux[b] = f32_to_half_bits(stdv / 73.6f);
    }
  }
}

__global__ void CheckChunksKernel(const int* status, const size_t* got, const size_t* want, size_t n, int base, int32_t* err) {
  PdlWait();
  PdlTrigger();
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
    if (status[i] != 0 || got[i] != want[i]) {
      atomicAdd(&err[0], 1);
      atomicMin(&err[1], base + (int)i);
    }
}

int GridFor(size_t n, int block) {
  size_t g = (n + block - 1) / block;
  return (int)(g < 4096 ? (g ? g : 1) : 4096);
}

thread_local bool t_pdl = false;

bool PdlAllowed() {
  static const bool ok = [] {
    if (!EnvFlag("CODECLLM_PDL", true)) return false;
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return major >= 9;
  }();
  return ok;
}

}  // namespace

bool PdlOn() { return t_pdl; }
bool SetPdl(bool on) {
  bool prev = t_pdl;
  t_pdl = on && PdlAllowed();
  return prev;
}

void LaunchEmbedding(float* x, const uint16_t* table16, const int32_t* tokens, int T, int h, cudaStream_t s) {
  LaunchK(EmbeddingKernel, dim3(T), dim3(256), 0, s, x, table16, tokens, h);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchEmbeddingQ8(float* x, const int8_t* codes, const uint16_t* d16, const int32_t* tokens, int T, int h, cudaStream_t s) {
  CHECK_ARG(h % 32 == 0, "embedding q8_0: hidden size must be a multiple of 32");
  LaunchK(EmbeddingQ8Kernel, dim3(T), dim3(256), 0, s, x, codes, d16, tokens, h);
}

void LaunchRandomBlocks(void* w, void* aux, int wtype, int rows, int K, uint64_t seed, float stdv, cudaStream_t s) {
  CHECK_ARG((wtype == kWeightQ4_1 || wtype == kWeightQ8_0) && K % 32 == 0, "random blocks: q4_1 or q8_0 with K % 32 == 0");
  const size_t nblk = (size_t)rows * (K / 32);
  LaunchK(RandomBlocksKernel, dim3(GridFor(nblk, 256)), dim3(256), 0, s, static_cast<uint8_t*>(w), static_cast<uint16_t*>(aux), wtype,
          (size_t)rows, K, seed, stdv);
}

void LaunchRmsNorm(float* out, uint16_t* out16, const float* x, const float* w, int T, int h, float eps, cudaStream_t s) {
  LaunchK(RmsNormKernel, dim3(T), dim3(256), 0, s, out, out16, x, w, h, eps);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchSwiGLU(float* out, uint16_t* out16, const float* gate, const float* up, size_t n, cudaStream_t s) {
  LaunchK(SwiGLUKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, out, out16, gate, up, n);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchRopeAppend(float* q, float* k, const float* v, void* k_cache, void* v_cache, bool kv16, const float* cos_tab,
                      const float* sin_tab, int T, int H, int Hkv, int D, int P_host, const int32_t* P_dev, int Smax,
                      cudaStream_t s, const int32_t* P_rows, size_t slot_stride) {
  if (kv16)
    LaunchK(RopeAppendKernel<uint16_t>, dim3(T), dim3(128), 0, s, q, k, v, static_cast<uint16_t*>(k_cache),
            static_cast<uint16_t*>(v_cache), cos_tab, sin_tab, H, Hkv, D, P_host, P_dev, Smax, P_rows, slot_stride);
  else
    LaunchK(RopeAppendKernel<float>, dim3(T), dim3(128), 0, s, q, k, v, static_cast<float*>(k_cache), static_cast<float*>(v_cache),
            cos_tab, sin_tab, H, Hkv, D, P_host, P_dev, Smax, P_rows, slot_stride);
  CHECK_CUDA(cudaGetLastError());
}

template <class KV, bool ROPE>
void LaunchAttentionKV(float* out, uint16_t* out16, const float* q, const void* k_cache, const void* v_cache, int T, int H, int Hkv,
                       int D, int P_host, const int32_t* P_dev, int Smax, cudaStream_t s, const int32_t* P_rows, size_t slot_stride,
                       RopeIn rope) {
  constexpr int vec = 16 / sizeof(KV);
  CHECK_ARG(D % vec == 0 && D / vec <= kAttnThreads, "attention: head dim " + std::to_string(D) + " must be a multiple of " +
                                                         std::to_string(vec) + " and at most " + std::to_string(kAttnThreads * vec));
  int groups = kAttnThreads / (D / vec);
  size_t smem = sizeof(float) * ((size_t)D + Smax + (size_t)groups * D + 2 * (size_t)D);
  dim3 grid(H, T);
  auto k = D == 64 ? AttentionKernel<KV, 64, ROPE> : D == 128 ? AttentionKernel<KV, 128, ROPE> : AttentionKernel<KV, 0, ROPE>;
  RaiseSmem(k, 200 * 1024);
  LaunchK(k, grid, dim3(kAttnThreads), smem, s, out, out16, q, static_cast<KV*>(const_cast<void*>(k_cache)),
          static_cast<KV*>(const_cast<void*>(v_cache)), H, Hkv, D, P_host, P_dev, Smax, P_rows, slot_stride, rope);
}

void LaunchAttention(float* out, uint16_t* out16, const float* q, const void* k_cache, const void* v_cache, bool kv16, int T,
                     int H, int Hkv, int D, int P_host, const int32_t* P_dev, int Smax, cudaStream_t s,
                     const int32_t* P_rows, size_t slot_stride) {
  if (kv16)
    LaunchAttentionKV<uint16_t, false>(out, out16, q, k_cache, v_cache, T, H, Hkv, D, P_host, P_dev, Smax, s, P_rows, slot_stride, RopeIn{});
  else
    LaunchAttentionKV<float, false>(out, out16, q, k_cache, v_cache, T, H, Hkv, D, P_host, P_dev, Smax, s, P_rows, slot_stride, RopeIn{});
}

void LaunchRopeAttention(float* out, const float* q, const float* k, const float* v, void* k_cache, void* v_cache, bool kv16,
                         const float* cos_tab, const float* sin_tab, int T, int H, int Hkv, int D, const int32_t* P_rows,
                         size_t slot_stride, int Smax, cudaStream_t s) {
  CHECK_ARG(P_rows, "rope attention: per-row positions required");
  RopeIn r{k, v, cos_tab, sin_tab};
  if (kv16) LaunchAttentionKV<uint16_t, true>(out, nullptr, q, k_cache, v_cache, T, H, Hkv, D, 0, nullptr, Smax, s, P_rows, slot_stride, r);
  else LaunchAttentionKV<float, true>(out, nullptr, q, k_cache, v_cache, T, H, Hkv, D, 0, nullptr, Smax, s, P_rows, slot_stride, r);
}

void LaunchArgmaxStep(const float* logits, int V, int32_t* step, int32_t* out_tokens, int new_pos, cudaStream_t s) {
  LaunchK(ArgmaxStepKernel, dim3(1), dim3(1024), 0, s, logits, V, step, out_tokens, new_pos);
}

void LaunchArgmaxRows(const float* logits, int V, int B, int32_t* tok, int32_t* pos, int32_t* out_tokens, int Smax,
                      cudaStream_t s) {
  LaunchK(ArgmaxRowsKernel, dim3(B), dim3(1024), 0, s, logits, V, tok, pos, out_tokens, Smax);
}

void LaunchF32ToF16(uint16_t* dst, const float* src, size_t n, cudaStream_t s) {
  LaunchK(F32ToF16Kernel, dim3(GridFor(n, 256)), dim3(256), 0, s, dst, src, n);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchQuantizeRowsI8(int8_t* codes, float* scale, const float* w, int rows, int K, cudaStream_t s) {
  LaunchK(QuantizeRowsKernel, dim3(rows), dim3(256), 0, s, codes, scale, w, K);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchRandomNormal(float* w, size_t n, uint64_t seed, float mean, float stdv, cudaStream_t s) {
  LaunchK(RandomNormalKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, w, n, seed, mean, stdv);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchCheckChunks(const int* status, const size_t* got, const size_t* want, size_t n, int base, int32_t* err,
                       cudaStream_t s) {
  if (n == 0) return;
  LaunchK(CheckChunksKernel, dim3(GridFor(n, 256)), dim3(256), 0, s, status, got, want, n, base, err);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace engine
}  // namespace codecllm
