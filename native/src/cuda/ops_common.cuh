// ops_common.cuh — device helpers shared by the engine's op kernels (one op per native/src/cuda/*.cu file):
// warp / block reductions and the grid size rule. Each including file gets its own copy (anonymous namespace).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

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

int GridFor(size_t n, int block) {
  size_t g = (n + block - 1) / block;
  return (int)(g < 4096 ? (g ? g : 1) : 4096);
}

}  // namespace
}  // namespace engine
}  // namespace codecllm
