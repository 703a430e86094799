// gemm_blas.cuh — the two small kernels around the cuBLAS prefill GEMM (native/src/gpu/prefill_gemm.cc), declared
// for plain C++: dequantizing a quantized linear into the fp16 scratch cuBLAS reads, and the epilogue that applies the
// per-row scale, bias and residual exactly as our own GEMM's epilogue (engine_gemm.cu) does.
// Twins: ref::dequant_f16_split and ref::gemm_epilogue (native/src/engine/prefill_gemm_ref.h); native/test/gpu_twins.cc
// runs "dequant_f16" and "gemm_epilogue" beside them, and "gemm" with blas=1 runs the whole cuBLAS linear beside
// ref::linear_*.
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "../common/weight_types.h"

namespace codecllm {
namespace engine {

/** The weight types LaunchDequantF16 takes (int8 per-channel codes, q4_1, q8_0); others prefill with our own GEMM. */
inline bool DequantF16Takes(int wtype) { return wtype == kWeightI8Channel || wtype == kWeightQ4_1 || wtype == kWeightQ8_0; }

/**
 * dst (N, K) fp16 bits = the weight of a quantized linear as our GEMM stages it in shared memory:
 *   kWeightI8Channel: half(code) (exact; the per-row scale stays for the epilogue),
 *   kWeightQ4_1: half(fmaf(q, d, m)), kWeightQ8_0: half(q * d) (w / aux split as engine.cuh's WeightType says).
 * K % 32 == 0 for block types, K % 16 == 0 for int8.
 */
void LaunchDequantF16(uint16_t* dst, const void* W, int wtype, const void* aux, int N, int K, cudaStream_t s);

/**
 * Y (M, N) = (accumulate ? Y : 0) + (Yt (M, N) * (scale ? scale[n] : 1) + (bias ? bias[n] : 0)): the epilogue of
 * engine_gemm.cu's GemmKernel applied to a product Yt computed elsewhere (cuBLAS).
 */
void LaunchGemmEpilogue(float* Y, const float* Yt, const float* scale, const float* bias, int M, int N, bool accumulate,
                        cudaStream_t s);

}  // namespace engine
}  // namespace codecllm
