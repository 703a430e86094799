// gemv_lossless.cu — GEMV with the lossless bf16/fp16 decoder inside (issue 14). Layout: common/lossless.h.
// Twin: lossless::Decode (common/lossless.h) + a double-precision reference linear (lossless.cc losslessGemvTest).
//
// Grid: persistent-ish, kWarps warps per block, each warp loops over segments s = blockIdx.x * kWarps + warp, +=
// gridDim.x * kWarps. Block start: the 8 KiB decode table is copied into shared memory once. Per segment every lane
// keeps a 64-bit left-aligned bit buffer, refilled one 32-bit word at a time from its interleaved lane stream
// (word w of lane l at seg.wordOffset + 32 w + l: coalesced loads); per group of 8 columns it loads the 8 raw bytes
// (one 8-byte load), peeks 12 bits per symbol, joins symbol and raw byte into the 16-bit weight, widens to fp32 and
// multiplies with x. Nothing decoded is written to global memory (the GEMV); LosslessDecodeKernel writes the
// weights instead (tests only).
#include <cuda_fp16.h>

#include "common/lossless.h"
#include "cuda/gemv_lossless.cuh"

namespace codecllm {
namespace lossless {
namespace {

constexpr int kWarps = 8;

template <int kDtype>
__device__ __forceinline__ float WeightToF32(uint32_t h) {
  if (kDtype == kDtypeBF16) return __uint_as_float(h << 16);
  return __half2float(__ushort_as_half((unsigned short)h));
}

/** One lane's reader of its interleaved code stream. */
struct LaneReader {
  const uint32_t* code;  // this lane's first word
  uint32_t wpl, next;
  unsigned long long buf;
  int bits;
  __device__ __forceinline__ uint32_t Symbol(const uint16_t* lut) {
    if (bits < (int)kMaxCodeLen) {
      uint32_t word = next < wpl ? __ldg(code + (size_t)next * kLanes) : 0u;
      ++next;
      buf |= (unsigned long long)word << (32 - bits);
      bits += 32;
    }
    uint32_t t = lut[buf >> (64 - kMaxCodeLen)];
    uint32_t len = t >> 8;
    buf <<= len;
    bits -= (int)len;
    return t & 0xffu;
  }
};

template <int kDtype, bool kGemv>
__global__ void __launch_bounds__(kWarps * 32) LosslessKernel(DeviceStream s, const float* __restrict__ x, float* __restrict__ y,
                                                             uint16_t* __restrict__ wOut) {
  __shared__ __align__(16) uint16_t lut[kLutSize];
  for (uint32_t i = threadIdx.x; i < kLutSize / 8; i += blockDim.x)
    reinterpret_cast<uint4*>(lut)[i] = __ldg(reinterpret_cast<const uint4*>(s.lut) + i);
  __syncthreads();
  const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const uint32_t groups = s.cols / kGroup;
  for (uint32_t seg = blockIdx.x * kWarps + warp; seg < s.segments; seg += gridDim.x * kWarps) {
    LaneReader rd;
    rd.code = s.code + s.seg[2 * seg] + lane;
    rd.wpl = (uint32_t)(s.seg[2 * seg + 1] & 0xffffffffull);
    rd.next = 0;
    rd.buf = 0;
    rd.bits = 0;
    const uint32_t r0 = seg * s.rowsPerSeg, r1 = min(s.rows, r0 + s.rowsPerSeg);
    for (uint32_t r = r0; r < r1; ++r) {
      float acc = 0.f;
      const uint8_t* rawRow = s.raw + (size_t)r * s.cols;
      for (uint32_t g = lane; g < groups; g += kLanes) {
        const uint2 rw = __ldg(reinterpret_cast<const uint2*>(rawRow + (size_t)g * kGroup));
        uint32_t h[kGroup];
#pragma unroll
        for (int e = 0; e < (int)kGroup; ++e) {
          const uint32_t sym = rd.Symbol(lut);
          const uint32_t rawb = ((e < 4 ? rw.x : rw.y) >> ((e & 3) * 8)) & 0xffu;
          h[e] = Join(kDtype, sym, rawb);
        }
        if (kGemv) {
          const float4 xa = __ldg(reinterpret_cast<const float4*>(x + (size_t)g * kGroup));
          const float4 xb = __ldg(reinterpret_cast<const float4*>(x + (size_t)g * kGroup + 4));
          acc = fmaf(WeightToF32<kDtype>(h[0]), xa.x, acc);
          acc = fmaf(WeightToF32<kDtype>(h[1]), xa.y, acc);
          acc = fmaf(WeightToF32<kDtype>(h[2]), xa.z, acc);
          acc = fmaf(WeightToF32<kDtype>(h[3]), xa.w, acc);
          acc = fmaf(WeightToF32<kDtype>(h[4]), xb.x, acc);
          acc = fmaf(WeightToF32<kDtype>(h[5]), xb.y, acc);
          acc = fmaf(WeightToF32<kDtype>(h[6]), xb.z, acc);
          acc = fmaf(WeightToF32<kDtype>(h[7]), xb.w, acc);
        } else {
          uint4 o;
          o.x = h[0] | h[1] << 16, o.y = h[2] | h[3] << 16, o.z = h[4] | h[5] << 16, o.w = h[6] | h[7] << 16;
          *reinterpret_cast<uint4*>(wOut + (size_t)r * s.cols + (size_t)g * kGroup) = o;
        }
      }
      if (kGemv) {
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
        if (lane == 0) y[r] = acc;
      }
    }
  }
}

template <int kDtype>
__global__ void __launch_bounds__(kWarps * 32) PlainKernel(const uint16_t* __restrict__ w, uint32_t rows, uint32_t cols,
                                                          uint32_t rowsPerWarp, const float* __restrict__ x, float* __restrict__ y) {
  const uint32_t lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const uint32_t groups = cols / kGroup, units = (rows + rowsPerWarp - 1) / rowsPerWarp;
  for (uint32_t u = blockIdx.x * kWarps + warp; u < units; u += gridDim.x * kWarps) {
    const uint32_t r0 = u * rowsPerWarp, r1 = min(rows, r0 + rowsPerWarp);
    for (uint32_t r = r0; r < r1; ++r) {
      float acc = 0.f;
      for (uint32_t g = lane; g < groups; g += kLanes) {
        const uint4 v = __ldg(reinterpret_cast<const uint4*>(w + (size_t)r * cols + (size_t)g * kGroup));
        const float4 xa = __ldg(reinterpret_cast<const float4*>(x + (size_t)g * kGroup));
        const float4 xb = __ldg(reinterpret_cast<const float4*>(x + (size_t)g * kGroup + 4));
        acc = fmaf(WeightToF32<kDtype>(v.x & 0xffffu), xa.x, acc);
        acc = fmaf(WeightToF32<kDtype>(v.x >> 16), xa.y, acc);
        acc = fmaf(WeightToF32<kDtype>(v.y & 0xffffu), xa.z, acc);
        acc = fmaf(WeightToF32<kDtype>(v.y >> 16), xa.w, acc);
        acc = fmaf(WeightToF32<kDtype>(v.z & 0xffffu), xb.x, acc);
        acc = fmaf(WeightToF32<kDtype>(v.z >> 16), xb.y, acc);
        acc = fmaf(WeightToF32<kDtype>(v.w & 0xffffu), xb.z, acc);
        acc = fmaf(WeightToF32<kDtype>(v.w >> 16), xb.w, acc);
      }
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, o);
      if (lane == 0) y[r] = acc;
    }
  }
}

unsigned GridFor(uint32_t units, int sms) {
  uint32_t blocks = (units + kWarps - 1) / kWarps;
  uint32_t cap = (uint32_t)(sms > 0 ? sms : 1) * 8u;
  return blocks < cap ? (blocks ? blocks : 1) : cap;
}

}  // namespace

void LosslessGemvLaunch(const DeviceStream& s, const float* x, float* y, int sms, cudaStream_t stream) {
  const unsigned grid = GridFor(s.segments, sms);
  if (s.dtype == kDtypeBF16) LosslessKernel<kDtypeBF16, true><<<grid, kWarps * 32, 0, stream>>>(s, x, y, nullptr);
  else LosslessKernel<kDtypeF16, true><<<grid, kWarps * 32, 0, stream>>>(s, x, y, nullptr);
}

void LosslessDecodeLaunch(const DeviceStream& s, uint16_t* w, int sms, cudaStream_t stream) {
  const unsigned grid = GridFor(s.segments, sms);
  if (s.dtype == kDtypeBF16) LosslessKernel<kDtypeBF16, false><<<grid, kWarps * 32, 0, stream>>>(s, nullptr, nullptr, w);
  else LosslessKernel<kDtypeF16, false><<<grid, kWarps * 32, 0, stream>>>(s, nullptr, nullptr, w);
}

void PlainGemvLaunch(int dtype, const uint16_t* w, uint32_t rows, uint32_t cols, uint32_t rowsPerWarp, const float* x, float* y,
                     int sms, cudaStream_t stream) {
  const unsigned grid = GridFor((rows + rowsPerWarp - 1) / rowsPerWarp, sms);
  if (dtype == kDtypeBF16) PlainKernel<kDtypeBF16><<<grid, kWarps * 32, 0, stream>>>(w, rows, cols, rowsPerWarp, x, y);
  else PlainKernel<kDtypeF16><<<grid, kWarps * 32, 0, stream>>>(w, rows, cols, rowsPerWarp, x, y);
}

}  // namespace lossless
}  // namespace codecllm
