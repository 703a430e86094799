// gemv_lossless.cuh — host interface of the lossless bf16/fp16 GEMV (cuda/gemv_lossless.cu; layout common/lossless.h).
//
// y[rows] = W[rows, cols] · x[cols] (fp32 x and y, fp32 accumulation) with W held as a CLLW stream on the device:
// each warp decodes one segment (rowsPerSeg rows) from its 32 interleaved lane streams through a 4096-entry lookup
// table in shared memory; decoded weights live in registers only. LosslessDecodeLaunch decodes into global memory
// (tests only: the bit-exact check of the device decoder). PlainGemvLaunch is the same loop on uncompressed 16-bit
// weights (the speed baseline of the kernel test).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace codecllm {
namespace lossless {

struct DeviceStream {
  int dtype;                 // kDtypeBF16 | kDtypeF16
  uint32_t rows, cols, rowsPerSeg, segments;
  const uint32_t* code;      // code area (codeWords)
  const uint8_t* raw;        // raw area [rows, cols], 16-byte aligned
  const unsigned long long* seg;  // segment table, 2 x u64 per segment (16-byte aligned)
  const uint16_t* lut;       // 4096-entry decode table (BuildLut), 16-byte aligned
};

void LosslessGemvLaunch(const DeviceStream& s, const float* x, float* y, int sms, cudaStream_t stream);
void LosslessDecodeLaunch(const DeviceStream& s, uint16_t* w, int sms, cudaStream_t stream);
void PlainGemvLaunch(int dtype, const uint16_t* w, uint32_t rows, uint32_t cols, uint32_t rowsPerWarp, const float* x, float* y,
                     int sms, cudaStream_t stream);

}  // namespace lossless
}  // namespace codecllm
