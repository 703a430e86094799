// kernels.h — host launchers of the addon's CUDA kernels (native/src/cuda/*.cu). All asynchronous on `stream`.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace codecllm {
namespace cuda {

/** *d_count (device) += number of i in [0, n) with a[i] != b[i]. Reference twin: compare the downloaded bytes. */
void LaunchCountMismatches(const uint8_t* a, const uint8_t* b, size_t n, unsigned long long* d_count, cudaStream_t stream);

/** For each chunk i < n: copy d_bytes[i] bytes from d_src[i] to d_dst[i] (arrays in device memory; one block a chunk).
 *  Used to pack nvCOMP's per-chunk output slots into one contiguous buffer. */
void LaunchBatchedCopy(const void* const* d_src, void* const* d_dst, const size_t* d_bytes, size_t n, cudaStream_t stream);

}  // namespace cuda
}  // namespace codecllm
