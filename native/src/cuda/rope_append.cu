// rope_append.cu — rotary embedding of q and k plus the KV-cache append, one block per token (declared in engine.cuh).
// Twin: ref::rope_rotate_half + ref::kv_append (engine/ops_ref.h).
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

}  // namespace

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

}  // namespace engine
}  // namespace codecllm
