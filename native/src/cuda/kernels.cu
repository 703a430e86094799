// kernels.cu — small CUDA kernels of the addon: byte-mismatch count (round-trip checks without a host copy) and a
// batched chunk copy (packing nvCOMP outputs). Shapes: a, b are (n,) bytes; chunks are (n,) (src, dst, bytes) triples.
#include <cstdint>

#include "kernels.h"
#include "../check.h"

namespace codecllm {
namespace cuda {

__global__ void CountMismatchesKernel(const uint8_t* __restrict__ a, const uint8_t* __restrict__ b, size_t n,
                                      unsigned long long* __restrict__ count) {
  unsigned long long local = 0;
  size_t stride = size_t(blockDim.x) * gridDim.x;
  size_t i = size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  // 16-byte words when both pointers are 16-byte aligned, bytes for the rest
  bool vec = ((reinterpret_cast<uintptr_t>(a) | reinterpret_cast<uintptr_t>(b)) & 15) == 0;
  size_t head = 0;
  if (vec) {
    size_t words = n / 16;
    const uint4* a4 = reinterpret_cast<const uint4*>(a);
    const uint4* b4 = reinterpret_cast<const uint4*>(b);
    for (size_t w = i; w < words; w += stride) {
      uint4 x = a4[w], y = b4[w];
      if (x.x != y.x || x.y != y.y || x.z != y.z || x.w != y.w) {
        const uint8_t* pa = reinterpret_cast<const uint8_t*>(&x);
        const uint8_t* pb = reinterpret_cast<const uint8_t*>(&y);
        for (int k = 0; k < 16; k++) local += pa[k] != pb[k];
      }
    }
    head = words * 16;
  }
  for (size_t j = head + i; j < n; j += stride) local += a[j] != b[j];
  // warp reduce, then one atomic per warp
  for (int off = 16; off > 0; off >>= 1) local += __shfl_down_sync(0xffffffffu, local, off);
  if ((threadIdx.x & 31) == 0 && local) atomicAdd(count, local);
}

__global__ void BatchedCopyKernel(const void* const* __restrict__ src, void* const* __restrict__ dst,
                                  const size_t* __restrict__ bytes, size_t n) {
  size_t c = blockIdx.x;
  if (c >= n) return;
  const uint8_t* s = static_cast<const uint8_t*>(src[c]);
  uint8_t* d = static_cast<uint8_t*>(dst[c]);
  size_t len = bytes[c];
  if (((reinterpret_cast<uintptr_t>(s) | reinterpret_cast<uintptr_t>(d)) & 15) == 0) {
    size_t words = len / 16;
    for (size_t w = threadIdx.x; w < words; w += blockDim.x)
      reinterpret_cast<uint4*>(d)[w] = reinterpret_cast<const uint4*>(s)[w];
    for (size_t j = words * 16 + threadIdx.x; j < len; j += blockDim.x) d[j] = s[j];
  } else {
    for (size_t j = threadIdx.x; j < len; j += blockDim.x) d[j] = s[j];
  }
}

void LaunchCountMismatches(const uint8_t* a, const uint8_t* b, size_t n, unsigned long long* d_count, cudaStream_t stream) {
  if (n == 0) return;
  int threads = 256;
  size_t want = (n / 16 + threads - 1) / threads;
  int blocks = static_cast<int>(want < 1 ? 1 : (want > 4096 ? 4096 : want));
  CountMismatchesKernel<<<blocks, threads, 0, stream>>>(a, b, n, d_count);
  CHECK_CUDA(cudaGetLastError());
}

void LaunchBatchedCopy(const void* const* d_src, void* const* d_dst, const size_t* d_bytes, size_t n, cudaStream_t stream) {
  if (n == 0) return;
  CHECK_ARG(n <= 0x7fffffffull, "too many chunks for one batched copy");
  BatchedCopyKernel<<<static_cast<unsigned>(n), 256, 0, stream>>>(d_src, d_dst, d_bytes, n);
  CHECK_CUDA(cudaGetLastError());
}

}  // namespace cuda
}  // namespace codecllm
