// argmax.cu — on-device greedy step: argmax of the logits and the step / position bookkeeping (single and batched) (declared in engine.cuh).
// Twin: ref::argmax (engine/ops_ref.h).
#include <cuda_fp16.h>

#include <cfloat>
#include <cstdint>
#include <string>

#include "../check.h"
#include "engine.cuh"
#include "ops_common.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

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

}  // namespace

void LaunchArgmaxStep(const float* logits, int V, int32_t* step, int32_t* out_tokens, int new_pos, cudaStream_t s) {
  LaunchK(ArgmaxStepKernel, dim3(1), dim3(1024), 0, s, logits, V, step, out_tokens, new_pos);
}

void LaunchArgmaxRows(const float* logits, int V, int B, int32_t* tok, int32_t* pos, int32_t* out_tokens, int Smax,
                      cudaStream_t s) {
  LaunchK(ArgmaxRowsKernel, dim3(B), dim3(1024), 0, s, logits, V, tok, pos, out_tokens, Smax);
}

}  // namespace engine
}  // namespace codecllm
