// nvcomp.cc — nvCOMP batched C API (pip wheel nvidia-libnvcomp-cu13; pinned 5.1.0.21, which is built against CUDA
// 13.0 like the H100 host's driver; 6.x compiles too, see the NVCOMP_VER_MAJOR branches) for ANS, Bitcomp,
// Cascaded, Deflate, GDeflate, LZ4, Snappy and Zstd (CUDA + nvCOMP builds).
//
// A tensor of `bytes` bytes is cut into chunks of `chunkSize` (default 64 KiB, capped by the codec's
// nvcomp<X>CompressionMaxAllowedChunkSize); chunk i covers [i*chunkSize, min((i+1)*chunkSize, bytes)).
// Compressed chunks are packed into one device buffer, chunk i at chunkOffsets[i] (16-byte aligned, which satisfies
// every codec's decompression input alignment), chunkBytes[i] long.
//
// Every launch status and every per-chunk status is checked; decompression also checks each chunk's actual
// decompressed size against the expected one. Failures throw E_NVCOMP with fields codec, tensor, op, chunk, chunks,
// status (or got/expected), which src/native.ts turns into msg.nvcompChunkFailed / msg.nvcompChunkSize.
// Compression returns each packed chunk's CRC-32 (nvcompBatchedCRC32Async, = zlib crc32); decompression given them
// verifies every chunk on the device before the decoder runs: nvCOMP 5.1 documents corrupt input as undefined
// behaviour for every decoder but ANS and LZ4 (an illegal memory access there poisons the whole CUDA context).
// Temp space is the larger of <X>GetTempSizeAsync (sizes only) and <X>GetTempSizeSync (reads the chunk table on the
// device); CODECLLM_NVCOMP_TEMP=async keeps the first only, CODECLLM_NVCOMP_EXACT=1 allocates temp and output slots
// as exact separate blocks (for compute-sanitizer), CODECLLM_NVCOMP_SLOT_PAD adds bytes to each output slot.
// ANS compress gets headroom (see NvcompCompress: nvCOMP 5.1's kernel overruns its own temp bound);
// CODECLLM_NVCOMP_ANS_HEADROOM=0 turns it off.
// Per call there is no cudaMalloc or stream creation once warm: pointer/size arrays, statuses, temp space and the
// per-chunk output slots come from the scratch pool, host staging from the pinned pool, streams from the pool.
// cuda::NvGroupDecoder (device.h) is the GPU engine's capturable per-layer decode; nvcompDecompressGroup tests it.
//
// JS: nvcompInfo() -> {version, cudartVersion}
//     nvcompCodecs() -> [{name, maxChunkBytes, defaultDataType}]
//     nvcompCompress(codec, srcId, srcOffset, bytes, tag, opts) -> {id, compressedBytes, packedBytes, chunkSize,
//           chunkBytes: Float64Array, chunkOffsets: Float64Array, chunkCrc32: Uint32Array, tempBytes, slotBytes, ms}
//     nvcompDecompress(codec, srcId, chunkOffsets, chunkBytes, dstId, dstOffset, rawBytes, opts, chunkCrc32?)
//           -> {ms, verified}
//     nvcompDecompressGroup(codec, [{id, chunkOffsets, chunkBytes, rawBytes, dstOffset}], dstId, opts) -> {chunks, ms, path, tempBytes}
//     opts: {tensor?, chunkSize?, dataType?, algorithm?, numRLEs?, numDeltas?, useBitPacking?, iterations?, stream?}
#include <napi.h>

#include "binding.h"

#if defined(CODECLLM_HAVE_NVCOMP)
#include <nvcomp.h>
#include <nvcomp/ans.h>
#include <nvcomp/bitcomp.h>
#include <nvcomp/cascaded.h>
#include <nvcomp/deflate.h>
#include <nvcomp/gdeflate.h>
#include <nvcomp/lz4.h>
#include <nvcomp/snappy.h>
#include <nvcomp/zstd.h>
#if NVCOMP_VER_MAJOR < 6
#include <nvcomp/crc32.h>
#include <nvcomp/native/bitcomp.h>
#define CODECLLM_NVCOMP_CRC32 1
#define CODECLLM_BITCOMP_NATIVE 1
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "cuda/kernels.h"
#include "device.h"
#include "env.h"

namespace {
using namespace codecllm;
using namespace codecllm::cuda;

constexpr size_t kDefaultChunk = 64 * 1024;
constexpr size_t kPackAlign = 16;
constexpr uint64_t kMaxBytes = 1ull << 48;

size_t RoundUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

struct DataType {
  const char* name;
  nvcompType_t type;
  size_t size;
};
const DataType kTypes[] = {
    {"char", NVCOMP_TYPE_CHAR, 1},         {"uchar", NVCOMP_TYPE_UCHAR, 1},         {"short", NVCOMP_TYPE_SHORT, 2},
    {"ushort", NVCOMP_TYPE_USHORT, 2},     {"int", NVCOMP_TYPE_INT, 4},             {"uint", NVCOMP_TYPE_UINT, 4},
    {"longlong", NVCOMP_TYPE_LONGLONG, 8}, {"ulonglong", NVCOMP_TYPE_ULONGLONG, 8}, {"float16", NVCOMP_TYPE_FLOAT16, 2},
#if NVCOMP_VER_MAJOR >= 6
    {"float8e4m3", NVCOMP_TYPE_FLOAT8_E4M3, 1}, {"float32", NVCOMP_TYPE_FLOAT32, 4}, {"float64", NVCOMP_TYPE_FLOAT64, 8},
#endif
};

const DataType& ParseType(const std::string& s) {
  for (const auto& t : kTypes)
    if (s == t.name) return t;
  std::string known;
  for (const auto& t : kTypes) known += std::string(known.empty() ? "" : ", ") + t.name;
  THROW_ERROR("E_ARG", "unknown nvCOMP data type '" + s + "' (" + known + ")");
}

/** Options from JS. */
struct Options {
  std::string tensor = "?";
  size_t chunkSize = kDefaultChunk;
  std::string dataType;  // "" = codec default
  int algorithm = -1;    // -1 = codec default
  int numRLEs = -1, numDeltas = -1, useBitPacking = -1;  // Cascaded (nvCOMP 5), -1 = default
  int iterations = 1;
  int stream = 0;
};

Options ParseOptions(const Napi::Value& v) {
  Options o;
  if (!v.IsObject()) return o;
  Napi::Object obj = v.As<Napi::Object>();
  auto num = [&](const char* k, double lo, double hi, double dflt) -> double {
    Napi::Value x = obj.Get(k);
    if (x.IsUndefined() || x.IsNull()) return dflt;
    CHECK_ARG(x.IsNumber(), std::string("nvCOMP option ") + k + ": expected a number");
    double d = x.As<Napi::Number>().DoubleValue();
    CHECK_ARG(d == static_cast<double>(static_cast<int64_t>(d)) && d >= lo && d <= hi,
              std::string("nvCOMP option ") + k + ": must be an integer in [" + std::to_string(static_cast<int64_t>(lo)) + ", " +
                  std::to_string(static_cast<int64_t>(hi)) + "]");
    return d;
  };
  Napi::Value t = obj.Get("tensor");
  if (t.IsString()) o.tensor = t.As<Napi::String>().Utf8Value();
  Napi::Value dt = obj.Get("dataType");
  if (dt.IsString()) o.dataType = dt.As<Napi::String>().Utf8Value();
  o.chunkSize = static_cast<size_t>(num("chunkSize", 1, double(1ull << 32), double(kDefaultChunk)));
  o.algorithm = static_cast<int>(num("algorithm", 0, 255, -1));
  o.iterations = static_cast<int>(num("iterations", 1, 100000, 1));
  o.numRLEs = static_cast<int>(num("numRLEs", 0, 8, -1));
  o.numDeltas = static_cast<int>(num("numDeltas", 0, 8, -1));
  Napi::Value bp = obj.Get("useBitPacking");
  if (bp.IsBoolean()) o.useBitPacking = bp.As<Napi::Boolean>().Value() ? 1 : 0;
  o.stream = static_cast<int>(num("stream", 0, kStreams - 1, 0));
  return o;
}

// ---- one interface over the eight codecs' identical batched APIs


class NvCodec {
 public:
  virtual ~NvCodec() = default;
  const char* name = "";
  size_t maxChunk = 0;   // nvcomp<X>CompressionMaxAllowedChunkSize
  size_t typeSize = 1;   // chunk sizes must be multiples of it
  virtual nvcompAlignmentRequirements_t CompressAlign() = 0;
  virtual nvcompAlignmentRequirements_t DecompressAlign() = 0;
  virtual size_t CompressTemp(size_t n, size_t chunk, size_t total, cudaStream_t s) = 0;
  /** <X>CompressGetTempSizeSync over the chunk table already on the device (0 where the API has none). */
  virtual size_t CompressTempSync(const void* const* in, const size_t* inBytes, size_t n, size_t chunk, size_t total,
                                  cudaStream_t s) = 0;
  virtual size_t MaxOutputChunk(size_t chunk) = 0;
  virtual nvcompStatus_t Compress(const void* const* in, const size_t* inBytes, size_t chunk, size_t n, void* temp,
                                  size_t tempBytes, void* const* out, size_t* outBytes, nvcompStatus_t* st, cudaStream_t s) = 0;
  virtual size_t DecompressTemp(size_t n, size_t chunk, size_t total, cudaStream_t s) = 0;
  virtual size_t DecompressTempSync(const void* const* in, const size_t* inBytes, size_t n, size_t chunk, size_t total,
                                    nvcompStatus_t* st, cudaStream_t s) = 0;
  virtual nvcompStatus_t Decompress(const void* const* in, const size_t* inBytes, const size_t* outCap, size_t* outBytes,
                                    size_t n, void* temp, size_t tempBytes, void* const* out, nvcompStatus_t* st,
                                    cudaStream_t s) = 0;
};

// nvCOMP 6 renamed <X>GetTempSizeAsync(n, chunk, opts, &temp, total) to <X>GetTempSize(..., stream).
#if NVCOMP_VER_MAJOR >= 6
#define NV_TEMP_ARGS size_t, size_t, CO, size_t*, size_t, cudaStream_t
#define NV_DTEMP_ARGS size_t, size_t, DO, size_t*, size_t, cudaStream_t
#define NV_TEMP_SUFFIX
#define NV_STREAM_ARG(s) , s
#else
#define NV_TEMP_ARGS size_t, size_t, CO, size_t*, size_t
#define NV_DTEMP_ARGS size_t, size_t, DO, size_t*, size_t
#define NV_TEMP_SUFFIX Async
#define NV_STREAM_ARG(s)
#endif
#define NV_CAT3_(a, b, c) a##b##c
#define NV_CAT3(a, b, c) NV_CAT3_(a, b, c)

template <class CO, class DO>
struct Api {
  nvcompStatus_t (*compAlign)(CO, nvcompAlignmentRequirements_t*);
  nvcompStatus_t (*compTemp)(NV_TEMP_ARGS);
  nvcompStatus_t (*maxOut)(size_t, CO, size_t*);
  nvcompStatus_t (*compress)(const void* const*, const size_t*, size_t, size_t, void*, size_t, void* const*, size_t*, CO,
                             nvcompStatus_t*, cudaStream_t);
  nvcompStatus_t (*decAlign)(DO, nvcompAlignmentRequirements_t*);
  nvcompStatus_t (*decTemp)(NV_DTEMP_ARGS);
  nvcompStatus_t (*decompress)(const void* const*, const size_t*, const size_t*, size_t*, size_t, void*, size_t, void* const*,
                               DO, nvcompStatus_t*, cudaStream_t);
#if NVCOMP_VER_MAJOR < 6
  nvcompStatus_t (*compTempSync)(const void* const*, const size_t*, size_t, size_t, CO, size_t*, size_t, cudaStream_t);
  nvcompStatus_t (*decTempSync)(const void* const*, const size_t*, size_t, size_t, size_t*, size_t, DO, nvcompStatus_t*,
                                cudaStream_t);
#endif
};

template <class CO, class DO>
class Impl : public NvCodec {
 public:
  Impl(const char* n, size_t max, Api<CO, DO> a, CO c, DO d) : api(a), co(c), dopts(d) {
    name = n;
    maxChunk = max;
  }
  Api<CO, DO> api;
  CO co;
  DO dopts;
  nvcompAlignmentRequirements_t CompressAlign() override {
    nvcompAlignmentRequirements_t a{};
    CHECK_NVCOMP(api.compAlign(co, &a));
    return a;
  }
  nvcompAlignmentRequirements_t DecompressAlign() override {
    nvcompAlignmentRequirements_t a{};
    CHECK_NVCOMP(api.decAlign(dopts, &a));
    return a;
  }
  size_t CompressTemp(size_t n, size_t chunk, size_t total, cudaStream_t s) override {
    size_t t = 0;
    CHECK_NVCOMP(api.compTemp(n, chunk, co, &t, total NV_STREAM_ARG(s)));
    return t;
  }
  size_t CompressTempSync(const void* const* in, const size_t* inBytes, size_t n, size_t chunk, size_t total,
                          cudaStream_t s) override {
    size_t t = 0;
#if NVCOMP_VER_MAJOR < 6
    // an auxiliary query: a codec that refuses it keeps the size-only bound (t = 0 here)
    if (api.compTempSync(in, inBytes, n, chunk, co, &t, total, s) != nvcompSuccess) t = 0;
#endif
    return t;
  }
  size_t DecompressTempSync(const void* const* in, const size_t* inBytes, size_t n, size_t chunk, size_t total,
                            nvcompStatus_t* st, cudaStream_t s) override {
    size_t t = 0;
#if NVCOMP_VER_MAJOR < 6
    if (api.decTempSync(in, inBytes, n, chunk, &t, total, dopts, st, s) != nvcompSuccess) t = 0;
#endif
    return t;
  }
  size_t MaxOutputChunk(size_t chunk) override {
    size_t m = 0;
    CHECK_NVCOMP(api.maxOut(chunk, co, &m));
    return m;
  }
  nvcompStatus_t Compress(const void* const* in, const size_t* inBytes, size_t chunk, size_t n, void* temp, size_t tempBytes,
                          void* const* out, size_t* outBytes, nvcompStatus_t* st, cudaStream_t s) override {
    return api.compress(in, inBytes, chunk, n, temp, tempBytes, out, outBytes, co, st, s);
  }
  size_t DecompressTemp(size_t n, size_t chunk, size_t total, cudaStream_t s) override {
    size_t t = 0;
    CHECK_NVCOMP(api.decTemp(n, chunk, dopts, &t, total NV_STREAM_ARG(s)));
    return t;
  }
  nvcompStatus_t Decompress(const void* const* in, const size_t* inBytes, const size_t* outCap, size_t* outBytes, size_t n,
                            void* temp, size_t tempBytes, void* const* out, nvcompStatus_t* st, cudaStream_t s) override {
    return api.decompress(in, inBytes, outCap, outBytes, n, temp, tempBytes, out, dopts, st, s);
  }
};

#if NVCOMP_VER_MAJOR < 6
#define NV_API_SYNC(X) , nvcompBatched##X##CompressGetTempSizeSync, nvcompBatched##X##DecompressGetTempSizeSync
#else
#define NV_API_SYNC(X)
#endif
#define NV_API(X)                                                                                                     \
  Api<nvcompBatched##X##CompressOpts_t, nvcompBatched##X##DecompressOpts_t> {                                         \
    nvcompBatched##X##CompressGetRequiredAlignments, NV_CAT3(nvcompBatched##X, CompressGetTempSize, NV_TEMP_SUFFIX), \
        nvcompBatched##X##CompressGetMaxOutputChunkSize, nvcompBatched##X##CompressAsync,                             \
        nvcompBatched##X##DecompressGetRequiredAlignments,                                                            \
        NV_CAT3(nvcompBatched##X, DecompressGetTempSize, NV_TEMP_SUFFIX),                                             \
        nvcompBatched##X##DecompressAsync NV_API_SYNC(X)                                                              \
  }

template <class CO, class DO>
std::unique_ptr<NvCodec> Make(const char* n, size_t max, Api<CO, DO> a, CO c, DO d, size_t typeSize) {
  auto p = std::make_unique<Impl<CO, DO>>(n, max, a, c, d);
  p->typeSize = typeSize;
  return p;
}

const char* const kCodecNames[] = {"ans", "bitcomp", "cascaded", "deflate", "gdeflate", "lz4", "snappy", "zstd"};

/** The codec `name` configured by `o` (data type, algorithm). */
std::unique_ptr<NvCodec> MakeCodec(const std::string& name, const Options& o) {
  auto type = [&](const char* dflt) -> const DataType& { return ParseType(o.dataType.empty() ? dflt : o.dataType); };
  auto algo = [&](int dflt, int lo, int hi) {
    int a = o.algorithm < 0 ? dflt : o.algorithm;
    CHECK_ARG(a >= lo && a <= hi, name + " algorithm " + std::to_string(a) + " outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return a;
  };
  if (name == "lz4") {
    const DataType& t = type("char");
    CHECK_ARG(t.type == NVCOMP_TYPE_CHAR || t.type == NVCOMP_TYPE_UCHAR || t.type == NVCOMP_TYPE_SHORT || t.type == NVCOMP_TYPE_USHORT ||
                  t.type == NVCOMP_TYPE_INT || t.type == NVCOMP_TYPE_UINT,
              "lz4 data type must be char/uchar/short/ushort/int/uint");
    auto c = nvcompBatchedLZ4CompressDefaultOpts;
    c.data_type = t.type;
    auto d = nvcompBatchedLZ4DecompressDefaultOpts;
#if NVCOMP_VER_MAJOR >= 6
    d.data_type = t.type;
#endif
    return Make("lz4", nvcompLZ4CompressionMaxAllowedChunkSize, NV_API(LZ4), c, d, t.size);
  }
  if (name == "snappy")
    return Make("snappy", nvcompSnappyCompressionMaxAllowedChunkSize, NV_API(Snappy), nvcompBatchedSnappyCompressDefaultOpts,
                nvcompBatchedSnappyDecompressDefaultOpts, 1);
  if (name == "zstd")
    return Make("zstd", nvcompZstdCompressionMaxAllowedChunkSize, NV_API(Zstd), nvcompBatchedZstdCompressDefaultOpts,
                nvcompBatchedZstdDecompressDefaultOpts, 1);
  if (name == "deflate") {
    auto c = nvcompBatchedDeflateCompressDefaultOpts;
    c.algorithm = algo(1, 0, 5);
    return Make("deflate", nvcompDeflateCompressionMaxAllowedChunkSize, NV_API(Deflate), c, nvcompBatchedDeflateDecompressDefaultOpts, 1);
  }
  if (name == "gdeflate") {
    auto c = nvcompBatchedGdeflateCompressDefaultOpts;
    c.algorithm = algo(1, 0, 5);
    return Make("gdeflate", nvcompGdeflateCompressionMaxAllowedChunkSize, NV_API(Gdeflate), c, nvcompBatchedGdeflateDecompressDefaultOpts, 1);
  }
  if (name == "ans") {
    const DataType& t = type("uchar");
    CHECK_ARG(t.type == NVCOMP_TYPE_CHAR || t.type == NVCOMP_TYPE_UCHAR || t.type == NVCOMP_TYPE_FLOAT16
#if NVCOMP_VER_MAJOR >= 6
                  || t.type == NVCOMP_TYPE_FLOAT8_E4M3 || t.type == NVCOMP_TYPE_FLOAT32
#endif
              ,
              "ans data type must be char, uchar or float16 (nvCOMP 6: also float8e4m3, float32)");
    auto c = nvcompBatchedANSCompressDefaultOpts;
    c.data_type = t.type;
    return Make("ans", nvcompANSCompressionMaxAllowedChunkSize, NV_API(ANS), c, nvcompBatchedANSDecompressDefaultOpts, t.size);
  }
  if (name == "bitcomp") {
    const DataType& t = type("uchar");
#if NVCOMP_VER_MAJOR >= 6
    CHECK_ARG(t.type != NVCOMP_TYPE_FLOAT8_E4M3, "bitcomp data type must be an integer type, float16, float32 or float64");
#endif
    auto c = nvcompBatchedBitcompCompressDefaultOpts;
    c.algorithm = algo(0, 0, 1);
    c.data_type = t.type;
    return Make("bitcomp", nvcompBitcompCompressionMaxAllowedChunkSize, NV_API(Bitcomp), c, nvcompBatchedBitcompDecompressDefaultOpts, t.size);
  }
  if (name == "cascaded") {
    const DataType& t = type("uchar");
    CHECK_ARG(t.type == NVCOMP_TYPE_CHAR || t.type == NVCOMP_TYPE_UCHAR || t.type == NVCOMP_TYPE_SHORT || t.type == NVCOMP_TYPE_USHORT ||
                  t.type == NVCOMP_TYPE_INT || t.type == NVCOMP_TYPE_UINT || t.type == NVCOMP_TYPE_LONGLONG || t.type == NVCOMP_TYPE_ULONGLONG,
              "cascaded data type must be a signed or unsigned 8/16/32/64-bit integer type");
    auto c = nvcompBatchedCascadedCompressDefaultOpts;
#if NVCOMP_VER_MAJOR >= 6
    c.common_opts.data_type = t.type;
    c.compression_level = static_cast<uint8_t>(algo(3, 0, 7));
#else
    c.type = t.type;
    if (o.numRLEs >= 0) c.num_RLEs = o.numRLEs;
    if (o.numDeltas >= 0) c.num_deltas = o.numDeltas;
    if (o.useBitPacking >= 0) c.use_bp = o.useBitPacking;
#endif
    return Make("cascaded", nvcompCascadedCompressionMaxAllowedChunkSize, NV_API(Cascaded), c,
                nvcompBatchedCascadedDecompressDefaultOpts, t.size);
  }
  THROW_ERROR("E_ARG", "unknown nvCOMP codec '" + name + "' (ans, bitcomp, cascaded, deflate, gdeflate, lz4, snappy, zstd)");
}

/** Chunk size actually used: the requested one capped by the codec, a multiple of the data type and the input alignment. */
size_t EffectiveChunk(const NvCodec& c, const Options& o, size_t inputAlign) {
  size_t chunk = std::min(o.chunkSize, c.maxChunk);
  size_t unit = std::max(c.typeSize, inputAlign);
  CHECK_ARG(chunk >= unit && chunk % unit == 0, std::string(c.name) + ": chunkSize " + std::to_string(chunk) +
                                                    " must be a positive multiple of " + std::to_string(unit));
  return chunk;
}

/** RAII pair of CUDA events for timing `iterations` launches. */
struct EventPair {
  cudaEvent_t a = nullptr, b = nullptr;
  EventPair() {
    CHECK_CUDA(cudaEventCreate(&a));
    CHECK_CUDA(cudaEventCreate(&b));
  }
  ~EventPair() {
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
  }
};

template <class F>
auto WithContext(const std::string& codec, const std::string& tensor, const char* op, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (Error& e) {
    e.with("codec", codec).with("tensor", tensor).with("op", op);
    throw;
  }
}

Napi::Value NvcompInfo(const Napi::CallbackInfo& info) {
  nvcompProperties_t p{};
  CHECK_NVCOMP(nvcompGetProperties(&p));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("version", p.version);
  o.Set("cudartVersion", p.cudart_version);
  o.Set("headerVersion", std::to_string(NVCOMP_VER_MAJOR) + "." + std::to_string(NVCOMP_VER_MINOR) + "." + std::to_string(NVCOMP_VER_PATCH));
  return o;
}

Napi::Value NvcompCodecs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array a = Napi::Array::New(env);
  uint32_t i = 0;
  for (const char* n : kCodecNames) {
    auto c = MakeCodec(n, Options{});
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", n);
    o.Set("maxChunkBytes", static_cast<double>(c->maxChunk));
    o.Set("dataTypeBytes", static_cast<double>(c->typeSize));
    a.Set(i++, o);
  }
  return a;
}

// ---- switches (env, read per call; tinygrad style)

/** CODECLLM_NVCOMP_TEMP=async: temp bytes from <X>GetTempSizeAsync alone (a bound computed from sizes only).
 *  Default: the larger of it and <X>GetTempSizeSync, which reads the actual chunk table on the device. */
bool TempSyncQuery() { return EnvStr("CODECLLM_NVCOMP_TEMP") != "async"; }
/** CODECLLM_NVCOMP_EXACT=1: temp space and output slots are separate exact-size cudaMalloc blocks (not pool
 *  slices), and their addresses go to stderr, so compute-sanitizer memcheck can say which one a kernel overran. */
bool ExactAlloc() {
  const std::string e = EnvStr("CODECLLM_NVCOMP_EXACT");
  return !e.empty() && e != "0";
}
/** CODECLLM_NVCOMP_SLOT_PAD=<bytes>: extra bytes per compression output slot beyond
 *  <X>CompressGetMaxOutputChunkSize (default 0: the documented bound). */
size_t SlotPad() { return static_cast<size_t>(std::strtoull(EnvStr("CODECLLM_NVCOMP_SLOT_PAD").c_str(), nullptr, 10)); }

/** CODECLLM_NVCOMP_ANS_HEADROOM=0 turns off the ANS compress headroom below (to reproduce the nvCOMP fault). */
bool AnsHeadroom() { return EnvFlag("CODECLLM_NVCOMP_ANS_HEADROOM", true); }

/** Per-chunk outcome of a batched nvCOMP call: how many of n chunks failed `bad(i)`, and the first one (n: none). */
struct ChunkFailures {
  size_t failed = 0, first = 0;
};
template <class Bad>
ChunkFailures CountFailures(size_t n, Bad bad) {
  ChunkFailures f;
  f.first = n;
  for (size_t i = 0; i < n; i++)
    if (bad(i)) {
      if (f.first == n) f.first = i;
      f.failed++;
    }
  return f;
}

/** nvCOMP temp space + compression output slots of one call: pool slices, or (ExactAlloc) exact cudaMalloc blocks.
 *  Declare a SyncOnExit after it: the stream must be idle before the memory goes back. */
class WorkMem {
 public:
  WorkMem(size_t tempBytes, size_t slotBytes, const std::string& what) {
    if (ExactAlloc()) {
      if (tempBytes) CHECK_CUDA(cudaMalloc(&exact_[0], tempBytes));
      if (slotBytes) CHECK_CUDA(cudaMalloc(&exact_[1], slotBytes));
      temp = static_cast<uint8_t*>(exact_[0]);
      slots = static_cast<uint8_t*>(exact_[1]);
      std::fprintf(stderr, "nvcomp-debug: %s: temp [%p, +%zu) slots [%p, +%zu)\n", what.c_str(), exact_[0], tempBytes,
                   exact_[1], slotBytes);
      return;
    }
    lease_ = Lease(DeviceScratch(), Carver::Align(tempBytes) + slotBytes + 512);
    Carver c(lease_.data());
    uint8_t* t = c.take<uint8_t>(tempBytes);
    temp = tempBytes ? t : nullptr;  // the headers allow NULL when no temp space is needed
    slots = c.take<uint8_t>(slotBytes);
  }
  WorkMem(const WorkMem&) = delete;
  WorkMem& operator=(const WorkMem&) = delete;
  ~WorkMem() {
    for (void* p : exact_)
      if (p) cudaFree(p);
  }
  uint8_t* temp = nullptr;
  uint8_t* slots = nullptr;

 private:
  Lease lease_;
  void* exact_[2] = {nullptr, nullptr};
};

/** CRC-32 (ISO-HDLC: zlib's crc32) of each chunk, on the device (nvcompBatchedCRC32Async). */
void LaunchCrc32(const void* const* dPtrs, const size_t* dBytes, size_t n, size_t maxBytes, uint32_t* dCrc, cudaStream_t s) {
#if defined(CODECLLM_NVCOMP_CRC32)
  nvcompBatchedCRC32Opts_t o{};
  o.spec = nvcompCRC32;
  CHECK_NVCOMP(nvcompBatchedCRC32GetHeuristicConf(nvcompCRC32IgnoredInputChunkBytes, n, &o.kernel_conf, std::max<size_t>(maxBytes, 1), s));
  CHECK_NVCOMP(nvcompBatchedCRC32Async(dPtrs, dBytes, n, dCrc, o, nvcompCRC32OnlySegment, nullptr, s));
#else
  THROW_ERROR("E_NVCOMP", "chunk checksums need nvCOMP 5's nvcompBatchedCRC32Async");
#endif
}

Napi::Value NvcompCompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string codecName = ArgString(info, 0, "codec");
  uint32_t srcId = static_cast<uint32_t>(ArgSize(info, 1, "srcId", std::numeric_limits<uint32_t>::max()));
  uint64_t srcOff = ArgSize(info, 2, "srcOffset", kMaxBytes);
  uint64_t bytes = ArgSize(info, 3, "bytes", kMaxBytes);
  std::string tag = ArgString(info, 4, "tag");
  Options o = ParseOptions(info.Length() > 5 ? info[5] : env.Undefined());
  return WithContext(codecName, o.tensor, "compress", [&]() -> Napi::Value {
    auto codec = MakeCodec(codecName, o);
    cudaStream_t s = Stream(o.stream);
    const uint8_t* src = BufferRange(srcId, srcOff, bytes);
    nvcompAlignmentRequirements_t al = codec->CompressAlign();
    size_t chunk = EffectiveChunk(*codec, o, al.input);
    CHECK_ARG(reinterpret_cast<uintptr_t>(src) % al.input == 0,
              codecName + ": srcOffset " + std::to_string(srcOff) + " is not a multiple of the input alignment " + std::to_string(al.input));
    CHECK_ARG(bytes % codec->typeSize == 0, codecName + ": " + std::to_string(bytes) + " bytes is not a multiple of the data type size " +
                                                std::to_string(codec->typeSize));
    size_t n = static_cast<size_t>((bytes + chunk - 1) / chunk);
    Napi::Float64Array chunkBytesJs = Napi::Float64Array::New(env, n);
    Napi::Float64Array chunkOffsJs = Napi::Float64Array::New(env, n);
    Napi::Uint32Array crcJs = Napi::Uint32Array::New(env, n);
    Napi::Object result = Napi::Object::New(env);
    result.Set("chunkSize", static_cast<double>(chunk));
    result.Set("chunkBytes", chunkBytesJs);
    result.Set("chunkOffsets", chunkOffsJs);
    result.Set("chunkCrc32", crcJs);
    if (n == 0) {
      result.Set("id", AllocBuffer(0, tag));
      result.Set("compressedBytes", 0.0);
      result.Set("packedBytes", 0.0);
      result.Set("ms", 0.0);
      return result;
    }
    // nvCOMP 5.1.0.21's ANS compress_kernel can write past the temp space that nvCOMP's own GetTempSize* report:
    // compute-sanitizer on the H100 (2026-11-25) caught writes 77..85+ bytes past the end of a 16,801,712-byte temp
    // block (block (175,7) = last chunk of a 5632x2048 int8 tensor, 64 KiB chunks; both the Async and the Sync query
    // give that size); the engine saw it as cudaErrorIllegalAddress. Per chunk the temp is
    // GetMaxOutputChunkSize(max chunk) + 6176 bytes, so ANS is told a max chunk 25% above the real one (temp, slots
    // and launch alike: ~0.33x chunk more staging per chunk, not only at the end) and gets a 64 KiB guard after it.
    size_t launchChunk = chunk, guard = 0;
    if (codecName == "ans" && AnsHeadroom()) {
      launchChunk = std::min(codec->maxChunk, RoundUp(chunk + chunk / 4, codec->typeSize));
      guard = 64 << 10;
    }
    size_t slot = RoundUp(codec->MaxOutputChunk(launchChunk) + SlotPad(), std::max<size_t>(kPackAlign, al.output));
    // chunk tables, device and pinned host: in ptrs | in sizes | out ptrs | out sizes | statuses | pack dst ptrs | crc32
    size_t tabBytes = 3 * Carver::Need<void*>(n) + 2 * Carver::Need<size_t>(n) + Carver::Need<nvcompStatus_t>(n) +
                      Carver::Need<uint32_t>(n) + 256;
    Lease dev(DeviceScratch(), tabBytes);
    Lease host(PinnedStaging(), tabBytes);
    SyncOnExit syncTables{s};
    Carver dc(dev.data()), hc(host.data());
    auto** dIn = dc.take<const void*>(n);
    auto* dInBytes = dc.take<size_t>(n);
    auto** dOut = dc.take<void*>(n);
    auto* dOutBytes = dc.take<size_t>(n);
    auto* dStatus = dc.take<nvcompStatus_t>(n);
    auto** dPack = dc.take<void*>(n);
    auto* dCrc = dc.take<uint32_t>(n);
    auto** hIn = hc.take<const void*>(n);
    auto* hInBytes = hc.take<size_t>(n);
    auto** hOut = hc.take<void*>(n);
    auto* hOutBytes = hc.take<size_t>(n);
    auto* hStatus = hc.take<nvcompStatus_t>(n);
    auto** hPack = hc.take<void*>(n);
    auto* hCrc = hc.take<uint32_t>(n);
    for (size_t i = 0; i < n; i++) {
      hIn[i] = src + i * chunk;
      hInBytes[i] = std::min<size_t>(chunk, static_cast<size_t>(bytes - i * chunk));
    }
    CHECK_CUDA(cudaMemcpyAsync(dIn, hIn, n * sizeof(void*), cudaMemcpyHostToDevice, s));
    CHECK_CUDA(cudaMemcpyAsync(dInBytes, hInBytes, n * sizeof(size_t), cudaMemcpyHostToDevice, s));
    // temp space for this batch: the size-only bound and (default) the query that reads the real chunk table
    size_t bound = std::max<size_t>(bytes, n * launchChunk);
    size_t temp = codec->CompressTemp(n, launchChunk, bound, s);
    if (TempSyncQuery()) temp = std::max(temp, codec->CompressTempSync(dIn, dInBytes, n, launchChunk, bound, s));
    temp += guard;
    WorkMem work(temp, n * slot, codecName + " compress of " + o.tensor + " (" + std::to_string(n) + " chunks of " + std::to_string(chunk) + ")");
    SyncOnExit syncWork{s};
    for (size_t i = 0; i < n; i++) hOut[i] = work.slots + i * slot;
    CHECK_CUDA(cudaMemcpyAsync(dOut, hOut, n * sizeof(void*), cudaMemcpyHostToDevice, s));
    EventPair ev;
    CHECK_CUDA(cudaEventRecord(ev.a, s));
    for (int it = 0; it < o.iterations; it++)
      CHECK_NVCOMP(codec->Compress(dIn, dInBytes, launchChunk, n, work.temp, temp, dOut, dOutBytes, dStatus, s));
    CHECK_CUDA(cudaEventRecord(ev.b, s));
    CHECK_CUDA(cudaMemcpyAsync(hOutBytes, dOutBytes, n * sizeof(size_t), cudaMemcpyDeviceToHost, s));
    CHECK_CUDA(cudaMemcpyAsync(hStatus, dStatus, n * sizeof(nvcompStatus_t), cudaMemcpyDeviceToHost, s));
    CHECK_CUDA(cudaStreamSynchronize(s));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, ev.a, ev.b));
    // per-chunk statuses and sizes
    const auto [failed, first] = CountFailures(n, [&](size_t i) { return hStatus[i] != nvcompSuccess || hOutBytes[i] > slot; });
    if (failed) {
      Error e = CODECLLM_ERROR("E_NVCOMP", codecName + " compress: " + std::to_string(failed) + " of " + std::to_string(n) + " chunks failed");
      e.with("chunk", std::to_string(first)).with("chunks", std::to_string(n)).with("failed", std::to_string(failed));
      if (hStatus[first] != nvcompSuccess) e.with("status", NvcompStatusName(hStatus[first]));
      else e.with("status", "compressed size " + std::to_string(hOutBytes[first]) + " exceeds the bound " + std::to_string(slot));
      throw e;
    }
    // pack the chunks: chunk i at a 16-byte aligned offset; then CRC-32 of each packed chunk
    double* offs = chunkOffsJs.Data();
    double* sizes = chunkBytesJs.Data();
    size_t off = 0, total = 0, maxOut = 0;
    for (size_t i = 0; i < n; i++) {
      offs[i] = static_cast<double>(off);
      sizes[i] = static_cast<double>(hOutBytes[i]);
      total += hOutBytes[i];
      maxOut = std::max(maxOut, hOutBytes[i]);
      off = RoundUp(off + hOutBytes[i], kPackAlign);
    }
    size_t packed = static_cast<size_t>(offs[n - 1] + sizes[n - 1]);
    uint32_t outId = AllocBuffer(packed, tag);
    try {
      uint8_t* base = GetBuffer(outId).ptr;
      for (size_t i = 0; i < n; i++) hPack[i] = base + static_cast<size_t>(offs[i]);
      CHECK_CUDA(cudaMemcpyAsync(dPack, hPack, n * sizeof(void*), cudaMemcpyHostToDevice, s));
      LaunchBatchedCopy(reinterpret_cast<const void* const*>(dOut), dPack, dOutBytes, n, s);
      LaunchCrc32(reinterpret_cast<const void* const*>(dPack), dOutBytes, n, maxOut, dCrc, s);
      CHECK_CUDA(cudaMemcpyAsync(hCrc, dCrc, n * sizeof(uint32_t), cudaMemcpyDeviceToHost, s));
      CHECK_CUDA(cudaStreamSynchronize(s));
      std::memcpy(crcJs.Data(), hCrc, n * sizeof(uint32_t));
    } catch (...) {
      try {
        FreeBuffer(outId);
      } catch (...) {
      }
      throw;
    }
    result.Set("id", outId);
    result.Set("compressedBytes", static_cast<double>(total));
    result.Set("packedBytes", static_cast<double>(packed));
    result.Set("tempBytes", static_cast<double>(temp));
    result.Set("slotBytes", static_cast<double>(slot));
    result.Set("ms", static_cast<double>(ms) / o.iterations);
    return result;
  });
}

const double* ArgF64(const Napi::CallbackInfo& info, size_t i, const char* name, size_t* len) {
  CHECK_ARG(info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array,
            std::string(name) + ": expected a Float64Array");
  Napi::Float64Array a = info[i].As<Napi::Float64Array>();
  *len = a.ElementLength();
  static const double empty = 0;
  return a.ElementLength() ? a.Data() : &empty;
}
const double* ObjF64(Napi::Object o, const char* key, size_t* len) {
  Napi::Value v = o.Get(key);
  CHECK_ARG(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float64_array, std::string(key) + ": expected a Float64Array");
  Napi::Float64Array a = v.As<Napi::Float64Array>();
  *len = a.ElementLength();
  static const double empty = 0;
  return a.ElementLength() ? a.Data() : &empty;
}

/** Validated chunk i of a packed buffer: offset/size integers inside the buffer, offset at the input alignment. */
const uint8_t* ChunkPtr(const Buffer& b, double fo, double fs, size_t i, size_t inputAlign, size_t* size) {
  CHECK_ARG(fo >= 0 && fs >= 1 && fo == static_cast<double>(static_cast<uint64_t>(fo)) && fs == static_cast<double>(static_cast<uint64_t>(fs)),
            "chunk " + std::to_string(i) + ": offset/size must be non-negative integers (size >= 1)");
  uint64_t co = static_cast<uint64_t>(fo), cs = static_cast<uint64_t>(fs);
  CHECK_ARG(co <= b.bytes && cs <= b.bytes - co, "chunk " + std::to_string(i) + ": [" + std::to_string(co) + ", +" + std::to_string(cs) +
                                                     ") outside the " + std::to_string(b.bytes) + "-byte source buffer '" + b.tag + "'");
  CHECK_ARG(reinterpret_cast<uintptr_t>(b.ptr + co) % inputAlign == 0,
            "chunk " + std::to_string(i) + ": offset " + std::to_string(co) + " is not a multiple of the input alignment " + std::to_string(inputAlign));
  *size = static_cast<size_t>(cs);
  return b.ptr + co;
}

/** Compares device CRC-32s of the chunk table with the expected ones; throws E_NVCOMP naming the first bad chunk. */
void VerifyCrc32(const std::string& codecName, const void* const* dIn, const size_t* dInBytes, size_t n, size_t maxIn, const uint32_t* want,
                 uint32_t* dCrc, uint32_t* hCrc, cudaStream_t s) {
  LaunchCrc32(dIn, dInBytes, n, maxIn, dCrc, s);
  CHECK_CUDA(cudaMemcpyAsync(hCrc, dCrc, n * sizeof(uint32_t), cudaMemcpyDeviceToHost, s));
  CHECK_CUDA(cudaStreamSynchronize(s));
  const auto [bad, first] = CountFailures(n, [&](size_t i) { return hCrc[i] != want[i]; });
  if (!bad) return;
  char buf[160];
  std::snprintf(buf, sizeof buf, "crc32 mismatch (stored %08x, computed %08x; %zu chunk(s) differ): corrupt input, not handed to the decoder",
                want[first], hCrc[first], bad);
  THROW_ERROR("E_NVCOMP", codecName + " decompress: corrupt chunk")
      .with("chunk", std::to_string(first))
      .with("chunks", std::to_string(n))
      .with("status", buf);
}

Napi::Value NvcompDecompress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string codecName = ArgString(info, 0, "codec");
  uint32_t srcId = static_cast<uint32_t>(ArgSize(info, 1, "srcId", std::numeric_limits<uint32_t>::max()));
  size_t n = 0, n2 = 0;
  const double* offs = ArgF64(info, 2, "chunkOffsets", &n);
  const double* sizes = ArgF64(info, 3, "chunkBytes", &n2);
  uint32_t dstId = static_cast<uint32_t>(ArgSize(info, 4, "dstId", std::numeric_limits<uint32_t>::max()));
  uint64_t dstOff = ArgSize(info, 5, "dstOffset", kMaxBytes);
  uint64_t raw = ArgSize(info, 6, "rawBytes", kMaxBytes);
  Options o = ParseOptions(info.Length() > 7 ? info[7] : env.Undefined());
  // optional per-chunk CRC-32s (from nvcompCompress): verified on the device before any chunk reaches the decoder
  const uint32_t* wantCrc = nullptr;
  if (info.Length() > 8 && !info[8].IsUndefined() && !info[8].IsNull()) {
    CHECK_ARG(info[8].IsTypedArray() && info[8].As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array,
              "chunkCrc32: expected a Uint32Array");
    Napi::Uint32Array c = info[8].As<Napi::Uint32Array>();
    CHECK_ARG(c.ElementLength() == n, "chunkCrc32 and chunkOffsets differ in length");
    wantCrc = n ? c.Data() : nullptr;
  }
  return WithContext(codecName, o.tensor, "decompress", [&]() -> Napi::Value {
    auto codec = MakeCodec(codecName, o);
    cudaStream_t s = Stream(o.stream);
    CHECK_ARG(n == n2, "chunkOffsets and chunkBytes differ in length");
    nvcompAlignmentRequirements_t al = codec->DecompressAlign();
    size_t chunk = EffectiveChunk(*codec, o, 1);
    CHECK_ARG(chunk % al.output == 0, codecName + ": chunkSize must be a multiple of the output alignment " + std::to_string(al.output));
    size_t want = static_cast<size_t>((raw + chunk - 1) / chunk);
    CHECK_ARG(n == want, codecName + ": " + std::to_string(n) + " chunks given, " + std::to_string(raw) + " bytes in chunks of " +
                             std::to_string(chunk) + " need " + std::to_string(want));
    uint8_t* dst = BufferRange(dstId, dstOff, raw);
    Napi::Object result = Napi::Object::New(env);
    if (n == 0) {
      result.Set("ms", 0.0);
      return result;
    }
    CHECK_ARG(reinterpret_cast<uintptr_t>(dst) % al.output == 0,
              codecName + ": dstOffset is not a multiple of the output alignment " + std::to_string(al.output));
    Buffer& srcBuf = GetBuffer(srcId);
    // chunk tables: in ptrs | in sizes | caps | got | out ptrs | statuses | crc32
    size_t tabBytes = 2 * Carver::Need<void*>(n) + 3 * Carver::Need<size_t>(n) + Carver::Need<nvcompStatus_t>(n) + Carver::Need<uint32_t>(n) + 256;
    Lease dev(DeviceScratch(), tabBytes);
    Lease host(PinnedStaging(), tabBytes);
    SyncOnExit syncTables{s};
    Carver dc(dev.data()), hc(host.data());
    auto** dIn = dc.take<const void*>(n);
    auto* dInBytes = dc.take<size_t>(n);
    auto* dCap = dc.take<size_t>(n);
    auto* dGot = dc.take<size_t>(n);
    auto** dOut = dc.take<void*>(n);
    auto* dStatus = dc.take<nvcompStatus_t>(n);
    auto* dCrc = dc.take<uint32_t>(n);
    auto** hIn = hc.take<const void*>(n);
    auto* hInBytes = hc.take<size_t>(n);
    auto* hCap = hc.take<size_t>(n);
    auto* hGot = hc.take<size_t>(n);
    auto** hOut = hc.take<void*>(n);
    auto* hStatus = hc.take<nvcompStatus_t>(n);
    auto* hCrc = hc.take<uint32_t>(n);
    size_t maxIn = 0;
    for (size_t i = 0; i < n; i++) {
      hIn[i] = ChunkPtr(srcBuf, offs[i], sizes[i], i, al.input, &hInBytes[i]);
      maxIn = std::max(maxIn, hInBytes[i]);
      hCap[i] = std::min<size_t>(chunk, static_cast<size_t>(raw - i * chunk));
      hOut[i] = dst + i * chunk;
    }
    CHECK_CUDA(cudaMemcpyAsync(dIn, hIn, n * sizeof(void*), cudaMemcpyHostToDevice, s));
    CHECK_CUDA(cudaMemcpyAsync(dInBytes, hInBytes, n * sizeof(size_t), cudaMemcpyHostToDevice, s));
    CHECK_CUDA(cudaMemcpyAsync(dCap, hCap, n * sizeof(size_t), cudaMemcpyHostToDevice, s));
    CHECK_CUDA(cudaMemcpyAsync(dOut, hOut, n * sizeof(void*), cudaMemcpyHostToDevice, s));
    if (wantCrc) VerifyCrc32(codecName, reinterpret_cast<const void* const*>(dIn), dInBytes, n, maxIn, wantCrc, dCrc, hCrc, s);
    size_t temp = codec->DecompressTemp(n, chunk, raw, s);
    if (TempSyncQuery()) temp = std::max(temp, codec->DecompressTempSync(dIn, dInBytes, n, chunk, raw, dStatus, s));
    WorkMem work(temp, 0, codecName + " decompress of " + o.tensor + " (" + std::to_string(n) + " chunks)");
    SyncOnExit syncWork{s};
    EventPair ev;
    CHECK_CUDA(cudaEventRecord(ev.a, s));
    for (int it = 0; it < o.iterations; it++)
      CHECK_NVCOMP(codec->Decompress(dIn, dInBytes, dCap, dGot, n, work.temp, temp, dOut, dStatus, s));
    CHECK_CUDA(cudaEventRecord(ev.b, s));
    CHECK_CUDA(cudaMemcpyAsync(hGot, dGot, n * sizeof(size_t), cudaMemcpyDeviceToHost, s));
    CHECK_CUDA(cudaMemcpyAsync(hStatus, dStatus, n * sizeof(nvcompStatus_t), cudaMemcpyDeviceToHost, s));
    CHECK_CUDA(cudaStreamSynchronize(s));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, ev.a, ev.b));
    const auto [failed, first] = CountFailures(n, [&](size_t i) { return hStatus[i] != nvcompSuccess || hGot[i] != hCap[i]; });
    if (failed) {
      Error e = CODECLLM_ERROR("E_NVCOMP", codecName + " decompress: " + std::to_string(failed) + " of " + std::to_string(n) + " chunks failed");
      e.with("chunk", std::to_string(first)).with("chunks", std::to_string(n)).with("failed", std::to_string(failed));
      if (hStatus[first] != nvcompSuccess) e.with("status", NvcompStatusName(hStatus[first]));
      else e.with("got", std::to_string(hGot[first])).with("expected", std::to_string(hCap[first]));
      throw e;
    }
    result.Set("ms", static_cast<double>(ms) / o.iterations);
    result.Set("verified", wantCrc != nullptr);
    return result;
  });
}

#if defined(CODECLLM_BITCOMP_NATIVE)
const char* BitcompResultName(bitcompResult_t r) {
  switch (r) {
    case BITCOMP_SUCCESS: return "BITCOMP_SUCCESS";
    case BITCOMP_INVALID_PARAMETER: return "BITCOMP_INVALID_PARAMETER";
    case BITCOMP_INVALID_COMPRESSED_DATA: return "BITCOMP_INVALID_COMPRESSED_DATA";
    case BITCOMP_INVALID_ALIGNMENT: return "BITCOMP_INVALID_ALIGNMENT";
    case BITCOMP_INVALID_INPUT_LENGTH: return "BITCOMP_INVALID_INPUT_LENGTH";
    case BITCOMP_CUDA_KERNEL_LAUNCH_ERROR: return "BITCOMP_CUDA_KERNEL_LAUNCH_ERROR";
    case BITCOMP_CUDA_API_ERROR: return "BITCOMP_CUDA_API_ERROR";
    default: return "BITCOMP_UNKNOWN_ERROR";
  }
}
#define CHECK_BITCOMP(call)                                                                                  \
  do {                                                                                                       \
    bitcompResult_t r_ = (call);                                                                             \
    if (r_ != BITCOMP_SUCCESS)                                                                               \
      throw CODECLLM_ERROR("E_NVCOMP", std::string(#call) + ": " + BitcompResultName(r_)).with("status", BitcompResultName(r_)); \
  } while (0)
#endif

}  // namespace

// ---- group decoder (declared in device.h): the GPU engine's per-layer decode over device-resident chunk tables

namespace codecllm {
namespace cuda {

struct NvGroupDecoder::Impl {
  std::string name;
  std::unique_ptr<NvCodec> codec;
  size_t n = 0, temp = 0;
#if defined(CODECLLM_BITCOMP_NATIVE)
  bitcompHandle_t plan = nullptr;
  void** hostPtrs = nullptr;  // pinned (device-visible) copy of the chunk pointers the plan was made from
#endif
};

NvGroupDecoder::NvGroupDecoder(const std::string& codec, const void* const* dIn, const size_t* dInBytes, size_t n, size_t maxChunk,
                               size_t totalBytes, bool bitcompPlan, cudaStream_t s)
    : impl_(new Impl) {
  impl_->name = codec;
  impl_->n = n;
  impl_->codec = MakeCodec(codec, Options{});
  CHECK_ARG(n > 0, "nvCOMP group decoder: empty chunk table");
#if defined(CODECLLM_BITCOMP_NATIVE)
  if (codec == "bitcomp" && bitcompPlan) {
    // nvcompBatchedBitcompDecompressAsync makes a bitcomp plan from the compressed headers on every call (it
    // synchronizes the stream and reads device memory from the host: not capturable). Make the plan once here;
    // Launch then only enqueues bitcompBatchUncompressCheck. The pointer array is pinned host memory, readable by
    // the host and (UVA) by the device, whichever the plan builder reads.
    CHECK_CUDA(cudaStreamSynchronize(s));
    CHECK_CUDA(cudaMallocHost(reinterpret_cast<void**>(&impl_->hostPtrs), n * sizeof(void*)));
    CHECK_CUDA(cudaMemcpy(impl_->hostPtrs, dIn, n * sizeof(void*), cudaMemcpyDeviceToHost));
    bitcompResult_t r = bitcompCreateBatchPlanFromCompressedData(&impl_->plan, impl_->hostPtrs, n, nullptr, 0);
    if (r != BITCOMP_SUCCESS) {
      impl_->plan = nullptr;
      THROW_ERROR("E_NVCOMP", std::string("bitcompCreateBatchPlanFromCompressedData (") + std::to_string(n) + " chunks): " + BitcompResultName(r))
          .with("status", BitcompResultName(r));
    }
    return;
  }
#else
  (void)bitcompPlan;
#endif
  impl_->temp = impl_->codec->DecompressTemp(n, maxChunk, totalBytes, s);
  if (TempSyncQuery()) {
    Lease st(DeviceScratch(), n * sizeof(nvcompStatus_t));
    SyncOnExit sync{s};
    impl_->temp = std::max(impl_->temp, impl_->codec->DecompressTempSync(dIn, dInBytes, n, maxChunk, totalBytes,
                                                                         reinterpret_cast<nvcompStatus_t*>(st.data()), s));
  }
}

NvGroupDecoder::~NvGroupDecoder() {
#if defined(CODECLLM_BITCOMP_NATIVE)
  if (impl_->plan) bitcompDestroyPlan(impl_->plan);
  if (impl_->hostPtrs) cudaFreeHost(impl_->hostPtrs);
#endif
}

size_t NvGroupDecoder::TempBytes() const { return impl_->temp; }

const char* NvGroupDecoder::Path() const {
#if defined(CODECLLM_BITCOMP_NATIVE)
  if (impl_->plan) return "bitcomp-plan";
#endif
  return "nvcomp-batched";
}

void NvGroupDecoder::Launch(const void* const* dIn, const size_t* dInBytes, const size_t* dCap, size_t* dGot, void* const* dOut, int* dStatus,
                            void* temp, size_t tempBytes, cudaStream_t s) const {
#if defined(CODECLLM_BITCOMP_NATIVE)
  if (impl_->plan) {
    CHECK_BITCOMP(bitcompSetStream(impl_->plan, s));
    // bitcomp's header leaves open whether uncompressed_sizes is read or written: start it at the capacities
    CHECK_CUDA(cudaMemcpyAsync(dGot, dCap, impl_->n * sizeof(size_t), cudaMemcpyDeviceToDevice, s));
    CHECK_BITCOMP(bitcompBatchUncompressCheck(impl_->plan, dIn, dOut, dCap, reinterpret_cast<bitcompResult_t*>(dStatus), dGot, true));
    return;
  }
#endif
  CHECK_ARG(tempBytes >= impl_->temp, "nvCOMP group decoder: " + std::to_string(tempBytes) + " temp bytes given, " + std::to_string(impl_->temp) + " needed");
  CHECK_NVCOMP(impl_->codec->Decompress(dIn, dInBytes, dCap, dGot, impl_->n, impl_->temp ? temp : nullptr, impl_->temp, dOut,
                                        reinterpret_cast<nvcompStatus_t*>(dStatus), s));
}

}  // namespace cuda
}  // namespace codecllm

namespace {
using namespace codecllm;
using namespace codecllm::cuda;

// nvcompDecompressGroup(codec, parts, dstId, opts) -> {chunks, ms, path}
//   parts: [{id, chunkOffsets: Float64Array, chunkBytes: Float64Array, rawBytes, dstOffset}] (one packed buffer each,
//   as nvcompCompress made them); opts: {chunkSize, stream, tensor, bitcompPlan (default true)}.
// Decodes all parts' chunks in ONE batched call through NvGroupDecoder, the GPU engine's decode path (chunks from
// several buffers, tables on the device), then checks every chunk's status and size. For tests and diagnosis.
Napi::Value NvcompDecompressGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string codecName = ArgString(info, 0, "codec");
  CHECK_ARG(info.Length() > 1 && info[1].IsArray(), "parts: expected an array");
  Napi::Array parts = info[1].As<Napi::Array>();
  uint32_t dstId = static_cast<uint32_t>(ArgSize(info, 2, "dstId", std::numeric_limits<uint32_t>::max()));
  Options o = ParseOptions(info.Length() > 3 ? info[3] : env.Undefined());
  bool plan = true;
  if (info.Length() > 3 && info[3].IsObject()) {
    Napi::Value p = info[3].As<Napi::Object>().Get("bitcompPlan");
    if (p.IsBoolean()) plan = p.As<Napi::Boolean>().Value();
  }
  return WithContext(codecName, o.tensor, "decompress", [&]() -> Napi::Value {
    auto codec = MakeCodec(codecName, o);
    nvcompAlignmentRequirements_t al = codec->DecompressAlign();
    size_t chunk = EffectiveChunk(*codec, o, 1);
    cudaStream_t s = Stream(o.stream);
    std::vector<const void*> in;
    std::vector<size_t> inBytes, cap;
    std::vector<void*> out;
    std::vector<size_t> partOf;
    size_t total = 0;
    for (uint32_t p = 0; p < parts.Length(); p++) {
      CHECK_ARG(parts.Get(p).IsObject(), "parts[" + std::to_string(p) + "]: expected an object");
      Napi::Object po = parts.Get(p).As<Napi::Object>();
      CHECK_ARG(po.Get("id").IsNumber() && po.Get("rawBytes").IsNumber() && po.Get("dstOffset").IsNumber(),
                "parts[" + std::to_string(p) + "]: id, rawBytes and dstOffset must be numbers");
      uint32_t id = static_cast<uint32_t>(po.Get("id").As<Napi::Number>().Int64Value());
      double rawD = po.Get("rawBytes").As<Napi::Number>().DoubleValue();
      double dOffD = po.Get("dstOffset").As<Napi::Number>().DoubleValue();
      CHECK_ARG(rawD >= 0 && dOffD >= 0 && rawD < 1e15 && dOffD < 1e15, "parts[" + std::to_string(p) + "]: bad rawBytes/dstOffset");
      size_t raw = static_cast<size_t>(rawD), dOff = static_cast<size_t>(dOffD);
      size_t nc = 0, nc2 = 0;
      const double* offs = ObjF64(po, "chunkOffsets", &nc);
      const double* sizes = ObjF64(po, "chunkBytes", &nc2);
      CHECK_ARG(nc == nc2 && nc == (raw + chunk - 1) / chunk, "parts[" + std::to_string(p) + "]: chunk table does not match rawBytes");
      Buffer& b = GetBuffer(id);
      uint8_t* dst = BufferRange(dstId, dOff, raw);
      CHECK_ARG(reinterpret_cast<uintptr_t>(dst) % al.output == 0, "parts[" + std::to_string(p) + "]: dstOffset not output-aligned");
      for (size_t i = 0; i < nc; i++) {
        size_t cs = 0;
        in.push_back(ChunkPtr(b, offs[i], sizes[i], i, al.input, &cs));
        inBytes.push_back(cs);
        cap.push_back(std::min(chunk, raw - i * chunk));
        out.push_back(dst + i * chunk);
        partOf.push_back(p);
      }
      total += raw;
    }
    size_t n = in.size();
    CHECK_ARG(n > 0, "nvcompDecompressGroup: no chunks");
    size_t tabBytes = 2 * Carver::Need<void*>(n) + 3 * Carver::Need<size_t>(n) + Carver::Need<int>(n) + 256;
    Lease dev(DeviceScratch(), tabBytes);
    Lease host(PinnedStaging(), 2 * Carver::Need<size_t>(n) + Carver::Need<int>(n) + 256);
    SyncOnExit syncTables{s};
    Carver dc(dev.data()), hc(host.data());
    auto** dIn = dc.take<const void*>(n);
    auto* dInBytes = dc.take<size_t>(n);
    auto* dCap = dc.take<size_t>(n);
    auto* dGot = dc.take<size_t>(n);
    auto** dOut = dc.take<void*>(n);
    auto* dStatus = dc.take<int>(n);
    auto* hGot = hc.take<size_t>(n);
    auto* hStatus = hc.take<int>(n);
    // like the engine's BuildGroups: synchronous copies of the tables
    CHECK_CUDA(cudaMemcpy(dIn, in.data(), n * sizeof(void*), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(dInBytes, inBytes.data(), n * sizeof(size_t), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(dCap, cap.data(), n * sizeof(size_t), cudaMemcpyHostToDevice));
    CHECK_CUDA(cudaMemcpy(dOut, out.data(), n * sizeof(void*), cudaMemcpyHostToDevice));
    NvGroupDecoder dec(codecName, reinterpret_cast<const void* const*>(dIn), dInBytes, n, chunk, total, plan, s);
    WorkMem work(dec.TempBytes(), 0, codecName + " group decompress (" + std::to_string(n) + " chunks)");
    SyncOnExit syncWork{s};
    EventPair ev;
    CHECK_CUDA(cudaEventRecord(ev.a, s));
    for (int it = 0; it < o.iterations; it++)
      dec.Launch(reinterpret_cast<const void* const*>(dIn), dInBytes, dCap, dGot, dOut, dStatus, work.temp, dec.TempBytes(), s);
    CHECK_CUDA(cudaEventRecord(ev.b, s));
    CHECK_CUDA(cudaMemcpyAsync(hGot, dGot, n * sizeof(size_t), cudaMemcpyDeviceToHost, s));
    CHECK_CUDA(cudaMemcpyAsync(hStatus, dStatus, n * sizeof(int), cudaMemcpyDeviceToHost, s));
    CHECK_CUDA(cudaStreamSynchronize(s));
    float ms = 0;
    CHECK_CUDA(cudaEventElapsedTime(&ms, ev.a, ev.b));
    const auto [failed, first] = CountFailures(n, [&](size_t i) { return hStatus[i] != nvcompSuccess || hGot[i] != cap[i]; });
    if (failed) {
      Error e = CODECLLM_ERROR("E_NVCOMP", codecName + " group decompress: " + std::to_string(failed) + " of " + std::to_string(n) + " chunks failed");
      e.with("chunk", std::to_string(first) + " (part " + std::to_string(partOf[first]) + ")").with("chunks", std::to_string(n));
      if (hStatus[first] != nvcompSuccess) e.with("status", NvcompStatusName(static_cast<nvcompStatus_t>(hStatus[first])));
      else e.with("got", std::to_string(hGot[first])).with("expected", std::to_string(cap[first]));
      throw e;
    }
    Napi::Object r = Napi::Object::New(env);
    r.Set("chunks", static_cast<double>(n));
    r.Set("ms", static_cast<double>(ms) / o.iterations);
    r.Set("path", dec.Path());
    r.Set("tempBytes", static_cast<double>(dec.TempBytes()));
    return r;
  });
}

}  // namespace

void InitNvcomp(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "nvcompInfo", NvcompInfo);
  EXPORT_FN(env, exports, "nvcompCodecs", NvcompCodecs);
  EXPORT_FN(env, exports, "nvcompCompress", NvcompCompress);
  EXPORT_FN(env, exports, "nvcompDecompress", NvcompDecompress);
  EXPORT_FN(env, exports, "nvcompDecompressGroup", NvcompDecompressGroup);
}

#else  // built without nvCOMP: no nvcomp* functions (src/codec/nvcomp.ts reports it)
void InitNvcomp(Napi::Env env, Napi::Object exports) {}
#endif
