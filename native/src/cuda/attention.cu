// attention.cu — causal GQA attention over the KV cache, and the fused rope + append + attention decode kernel (declared in engine.cuh).
// Twin: ref::attention_ex (scale, sliding window, soft-cap; + ref::rope_rotate_half, ref::kv_append for the fused kernel)
// (engine/ops_ref.h).
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>
#include <string>

#include "../check.h"
#include "engine.cuh"
#include "ops_common.cuh"
#include "pdl.cuh"
#include "rope.cuh"

namespace codecllm {
namespace engine {

namespace {

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
                                                                const int32_t* P_rows, size_t slot_stride, RopeIn rope, AttnOpts opt) {
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
  const float scale = opt.scale > 0 ? opt.scale : 1.0f / sqrtf((float)D);
  // keys [s0, S): the sliding window of a local layer keeps the last `window` positions (ref::attention_ex)
  const int s0 = opt.window > 0 && S > opt.window ? S - opt.window : 0;
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
  for (int s = s0 + threadIdx.x; s < S; s += blockDim.x) {
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
    if (opt.softcap > 0) d = __fmul_rn(tanhf(__fdiv_rn(d, opt.softcap)), opt.softcap);
    sc[s] = d;
    mx = fmaxf(mx, d);
  }
  mx = BlockMax(mx, red);
  float sum = 0;
  for (int s = s0 + threadIdx.x; s < S; s += blockDim.x) {
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
    for (int sb = s0 + g; sb < S; sb += UNR * groups) {
      float f[UNR][VEC];
#pragma unroll
      for (int u = 0; u < UNR; u++) {
        const int s = sb + u * groups;
        if (ROPE && s == pos) {
#pragma unroll
          for (int j = 0; j < VEC; j++) f[u][j] = vn[c * VEC + j];
        } else if (s < S) {
          Vec16<KV>::Load(vb + (size_t)s * D + c * VEC, f[u]);
        }
      }
#pragma unroll
      for (int u = 0; u < UNR; u++) {
        const int s = sb + u * groups;
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

}  // namespace

template <class KV, bool ROPE>
void LaunchAttentionKV(float* out, uint16_t* out16, const float* q, const void* k_cache, const void* v_cache, int T, int H, int Hkv,
                       int D, int P_host, const int32_t* P_dev, int Smax, cudaStream_t s, const int32_t* P_rows, size_t slot_stride,
                       RopeIn rope, AttnOpts opt) {
  constexpr int vec = 16 / sizeof(KV);
  CHECK_ARG(D % vec == 0 && D / vec <= kAttnThreads, "attention: head dim " + std::to_string(D) + " must be a multiple of " +
                                                         std::to_string(vec) + " and at most " + std::to_string(kAttnThreads * vec));
  int groups = kAttnThreads / (D / vec);
  size_t smem = sizeof(float) * ((size_t)D + Smax + (size_t)groups * D + 2 * (size_t)D);
  dim3 grid(H, T);
  auto k = D == 64 ? AttentionKernel<KV, 64, ROPE> : D == 128 ? AttentionKernel<KV, 128, ROPE> : AttentionKernel<KV, 0, ROPE>;
  RaiseSmem(k, 200 * 1024);
  LaunchK(k, grid, dim3(kAttnThreads), smem, s, out, out16, q, static_cast<KV*>(const_cast<void*>(k_cache)),
          static_cast<KV*>(const_cast<void*>(v_cache)), H, Hkv, D, P_host, P_dev, Smax, P_rows, slot_stride, rope, opt);
}

void LaunchAttention(float* out, uint16_t* out16, const float* q, const void* k_cache, const void* v_cache, bool kv16, int T,
                     int H, int Hkv, int D, int P_host, const int32_t* P_dev, int Smax, cudaStream_t s,
                     const int32_t* P_rows, size_t slot_stride, AttnOpts opt) {
  if (kv16)
    LaunchAttentionKV<uint16_t, false>(out, out16, q, k_cache, v_cache, T, H, Hkv, D, P_host, P_dev, Smax, s, P_rows, slot_stride, RopeIn{}, opt);
  else
    LaunchAttentionKV<float, false>(out, out16, q, k_cache, v_cache, T, H, Hkv, D, P_host, P_dev, Smax, s, P_rows, slot_stride, RopeIn{}, opt);
}

void LaunchRopeAttention(float* out, const float* q, const float* k, const float* v, void* k_cache, void* v_cache, bool kv16,
                         const float* cos_tab, const float* sin_tab, int T, int H, int Hkv, int D, const int32_t* P_rows,
                         size_t slot_stride, int Smax, cudaStream_t s, AttnOpts opt) {
  CHECK_ARG(P_rows, "rope attention: per-row positions required");
  RopeIn r{k, v, cos_tab, sin_tab};
  if (kv16) LaunchAttentionKV<uint16_t, true>(out, nullptr, q, k_cache, v_cache, T, H, Hkv, D, 0, nullptr, Smax, s, P_rows, slot_stride, r, opt);
  else LaunchAttentionKV<float, true>(out, nullptr, q, k_cache, v_cache, T, H, Hkv, D, 0, nullptr, Smax, s, P_rows, slot_stride, r, opt);
}

}  // namespace engine
}  // namespace codecllm
