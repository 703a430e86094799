// lossless.cc — addon entry points of the lossless bf16/fp16 weight stream (common/lossless.h, issue 14):
//   losslessLayout()                                   the layout constants (tied to src/codec/lossless.ts by a test)
//   losslessEncode(dtype, rows, cols, words, rowsPerSeg?) -> CLLW stream (Uint8Array)
//   losslessDecode(stream, label?)                     -> the 16-bit words (Uint8Array); checksums verified
//   losslessInfo(stream, label?)                       -> header fields, byte split, code lengths
// The device decoder and the in-register GEMV (cuda/gemv_lossless.cu) are tested by the twin binary
// codecllm_gpu_twins, case lossless_gemv (native/test/gpu_twins.cc), not through the addon.
// Errors: E_ARG for bad arguments, E_CODEC for a corrupt/truncated stream (one line naming the problem).
#include <xxhash.h>

#include <cstring>
#include <string>
#include <vector>

#include "binding.h"
#include "common/lossless.h"

namespace {
using namespace codecllm;
namespace ll = codecllm::lossless;

uint64_t Hash(const uint8_t* p, size_t n) { return XXH64(n ? p : EmptyBytes(), n, 0); }

int ArgDtype(const Napi::CallbackInfo& info, size_t i) {
  int t = ArgWeightType(info, i, "dtype");
  CHECK_ARG(t == ll::kDtypeBF16 || t == ll::kDtypeF16, "dtype: lossless streams hold bf16 or f16 weights");
  return t;
}

/** Parse + verify checksums; throws E_CODEC "<label>: <problem>". */
ll::View ParseChecked(Bytes in, const std::string& label) {
  ll::View v;
  std::string why;
  if (!ll::Parse(in.data, in.size, &v, &why)) THROW_ERROR("E_CODEC", label + ": " + why).with("codec", "lossless");
  if (Hash(v.lengths, ll::kSymbols + (size_t)v.segments * ll::kSegEntryBytes) != v.hashTables)
    THROW_ERROR("E_CODEC", label + ": checksum mismatch in the code table / segment table").with("codec", "lossless");
  if (Hash(v.code, v.codeWords * 4) != v.hashCode)
    THROW_ERROR("E_CODEC", label + ": checksum mismatch in the code area").with("codec", "lossless");
  if (Hash(v.raw, (size_t)v.rows * v.cols) != v.hashRaw)
    THROW_ERROR("E_CODEC", label + ": checksum mismatch in the raw area").with("codec", "lossless");
  return v;
}

std::string ArgLabel(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string("lossless stream");
}

Napi::Value LosslessLayout(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("magic", (double)ll::kMagic);
  o.Set("version", (double)ll::kVersion);
  o.Set("headerBytes", (double)ll::kHeaderBytes);
  o.Set("symbols", (double)ll::kSymbols);
  o.Set("maxCodeLen", (double)ll::kMaxCodeLen);
  o.Set("lanes", (double)ll::kLanes);
  o.Set("group", (double)ll::kGroup);
  o.Set("segEntryBytes", (double)ll::kSegEntryBytes);
  o.Set("defaultRowsPerSeg", (double)ll::kDefaultRowsPerSeg);
  o.Set("maxRowsPerSeg", (double)ll::kMaxRowsPerSeg);
  o.Set("dtypeF16", (double)ll::kDtypeF16);
  o.Set("dtypeBF16", (double)ll::kDtypeBF16);
  return o;
}

Napi::Value LosslessEncode(const Napi::CallbackInfo& info) {
  const int dtype = ArgDtype(info, 0);
  const uint32_t rows = (uint32_t)ArgSize(info, 1, "rows", 1u << 30);
  const uint32_t cols = (uint32_t)ArgSize(info, 2, "cols", 1u << 30);
  Bytes in = ArgBytes(info, 3, "words");
  const uint32_t rps = (uint32_t)ArgInt(info, 4, "rowsPerSeg", 1, ll::kMaxRowsPerSeg, ll::kDefaultRowsPerSeg);
  CHECK_ARG(rows > 0 && cols > 0, "rows, cols: must be positive");
  CHECK_ARG(cols % ll::kGroup == 0, "cols: must be a multiple of " + std::to_string(ll::kGroup));
  CHECK_ARG((uint64_t)rows * cols * 2 == in.size, "words: expected rows*cols*2 = " + std::to_string((uint64_t)rows * cols * 2) +
                                                      " bytes, got " + std::to_string(in.size));
  std::vector<uint16_t> w((size_t)rows * cols);
  memcpy(w.data(), in.data, in.size);
  std::vector<uint8_t> out = ll::Encode(dtype, rows, cols, w.data(), rps, Hash);
  return NewBytes(info.Env(), out.data(), out.size());
}

Napi::Value LosslessDecode(const Napi::CallbackInfo& info) {
  Bytes in = ArgBytes(info, 0, "stream");
  const std::string label = ArgLabel(info, 1);
  ll::View v = ParseChecked(in, label);
  const size_t n = (size_t)v.rows * v.cols;
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), n * 2);
  std::vector<uint16_t> w(n);
  std::string why;
  if (!ll::Decode(v, w.data(), &why)) THROW_ERROR("E_CODEC", label + ": " + why).with("codec", "lossless");
  memcpy(out.Data(), w.data(), n * 2);
  return out;
}

Napi::Value LosslessInfo(const Napi::CallbackInfo& info) {
  Bytes in = ArgBytes(info, 0, "stream");
  ll::View v = ParseChecked(in, ArgLabel(info, 1));
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("dtype", v.dtype == ll::kDtypeBF16 ? "bf16" : "f16");
  o.Set("rows", (double)v.rows);
  o.Set("cols", (double)v.cols);
  o.Set("rowsPerSeg", (double)v.rowsPerSeg);
  o.Set("segments", (double)v.segments);
  o.Set("maxCodeLen", (double)v.maxCodeLen);
  o.Set("tableBytes", (double)(ll::kHeaderBytes + ll::kSymbols + (uint64_t)v.segments * ll::kSegEntryBytes));
  o.Set("codeBytes", (double)(v.codeWords * 4));
  o.Set("rawBytes", (double)((uint64_t)v.rows * v.cols));
  o.Set("totalBytes", (double)v.totalBytes);
  Napi::Array lens = Napi::Array::New(env, ll::kSymbols);
  for (uint32_t s = 0; s < ll::kSymbols; ++s) lens.Set(s, (double)v.lengths[s]);
  o.Set("lengths", lens);
  return o;
}

}  // namespace

void InitLossless(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "losslessLayout", LosslessLayout);
  EXPORT_FN(env, exports, "losslessEncode", LosslessEncode);
  EXPORT_FN(env, exports, "losslessDecode", LosslessDecode);
  EXPORT_FN(env, exports, "losslessInfo", LosslessInfo);
}
