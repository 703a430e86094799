// codecs_cpu.cc — CPU codecs from well-kept C libraries (no hand-written codec code):
//   zstd (libzstd, one standard frame), lz4 (liblz4 raw block = nvCOMP LZ4's chunk format), lz4frame (LZ4 frame
//   format), deflate (zlib, RAW deflate RFC 1951 = nvCOMP Deflate's chunk format), snappy (raw snappy = nvCOMP
//   Snappy's chunk format), none (copy); xxhash64 (libxxhash, XXH64).
//
// JS: cpuCompress(codec, data, level?) -> Buffer
//     cpuDecompress(codec, data, rawSize) -> Buffer of exactly rawSize bytes, else E_CODEC
//     xxhash64(data, seed?: bigint) -> bigint
//     cpuCodecVersions() -> { zstd, lz4, zlib, xxhash }
// Decompression is strict: the output must be exactly rawSize bytes and the whole input must be consumed; a corrupt
// input is an E_CODEC error, never a crash (all libraries used here are bounds-checked "safe" decoders).
#include <lz4.h>
#include <lz4frame.h>
#include <lz4hc.h>
#include <napi.h>
#include <snappy-c.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "binding.h"

using codecllm::ArgBytes;
using codecllm::ArgSize;
using codecllm::ArgString;
using codecllm::Bytes;

namespace {

// Largest raw or compressed size accepted (Node Buffers are limited to 4 GiB; codecs below handle < 2 GiB blocks).
constexpr uint64_t kMaxBytes = (1ull << 32) - 1;

enum class Codec { None, Zstd, Lz4, Lz4Frame, Deflate, Snappy };

Codec ParseCodec(const std::string& s) {
  if (s == "none") return Codec::None;
  if (s == "zstd") return Codec::Zstd;
  if (s == "lz4") return Codec::Lz4;
  if (s == "lz4frame") return Codec::Lz4Frame;
  if (s == "deflate") return Codec::Deflate;
  if (s == "snappy") return Codec::Snappy;
  THROW_ERROR("E_ARG", "unknown CPU codec '" + s + "' (none, zstd, lz4, lz4frame, deflate, snappy)");
}

std::vector<uint8_t> CompressZstd(Bytes in, int level) {
  CHECK_ARG(level >= ZSTD_minCLevel() && level <= ZSTD_maxCLevel(), "zstd level " + std::to_string(level) + " out of range");
  std::vector<uint8_t> out(ZSTD_compressBound(in.size));
  size_t r = ZSTD_compress(out.data(), out.size(), in.data, in.size, level);
  CHECK_CODEC(!ZSTD_isError(r), std::string("zstd compress: ") + ZSTD_getErrorName(r));
  out.resize(r);
  return out;
}

void DecompressZstd(Bytes in, uint8_t* out, size_t raw) {
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> ctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  CHECK_OOM(ctx != nullptr, "ZSTD_createDCtx failed");
  // ZSTD_decompressDCtx decodes every frame in the input; it fails on truncation, trailing garbage and on output
  // larger than `raw` (dstSize_tooSmall).
  size_t r = ZSTD_decompressDCtx(ctx.get(), out, raw, in.data, in.size);
  CHECK_CODEC(!ZSTD_isError(r), std::string("zstd decompress: ") + ZSTD_getErrorName(r));
  CHECK_CODEC(r == raw, "zstd decompress: produced " + std::to_string(r) + " bytes, expected " + std::to_string(raw));
}

std::vector<uint8_t> CompressLz4(Bytes in, int level) {
  CHECK_ARG(in.size <= LZ4_MAX_INPUT_SIZE, "lz4 block input larger than LZ4_MAX_INPUT_SIZE");
  CHECK_ARG(level >= 0 && level <= LZ4HC_CLEVEL_MAX, "lz4 level " + std::to_string(level) + " out of range [0, 12]");
  int bound = LZ4_compressBound(static_cast<int>(in.size));
  std::vector<uint8_t> out(static_cast<size_t>(std::max(bound, 1)));
  int r;
  if (level == 0)
    r = LZ4_compress_default(reinterpret_cast<const char*>(in.data), reinterpret_cast<char*>(out.data()),
                             static_cast<int>(in.size), bound);
  else
    r = LZ4_compress_HC(reinterpret_cast<const char*>(in.data), reinterpret_cast<char*>(out.data()),
                        static_cast<int>(in.size), bound, level);
  CHECK_CODEC(r > 0 || in.size == 0, "lz4 compress failed");
  out.resize(static_cast<size_t>(std::max(r, 0)));
  return out;
}

void DecompressLz4(Bytes in, uint8_t* out, size_t raw) {
  CHECK_ARG(in.size <= static_cast<size_t>(std::numeric_limits<int>::max()) &&
                raw <= static_cast<size_t>(std::numeric_limits<int>::max()),
            "lz4 block larger than 2 GiB");
  // LZ4_decompress_safe never writes past `raw` nor reads past `in.size`; it returns < 0 on malformed input.
  int r = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data), reinterpret_cast<char*>(out),
                              static_cast<int>(in.size), static_cast<int>(raw));
  CHECK_CODEC(r >= 0, "lz4 decompress: malformed block (LZ4_decompress_safe returned " + std::to_string(r) + ")");
  CHECK_CODEC(static_cast<size_t>(r) == raw,
              "lz4 decompress: produced " + std::to_string(r) + " bytes, expected " + std::to_string(raw));
}

std::vector<uint8_t> CompressLz4Frame(Bytes in, int level) {
  CHECK_ARG(level >= 0 && level <= LZ4HC_CLEVEL_MAX, "lz4frame level " + std::to_string(level) + " out of range [0, 12]");
  LZ4F_preferences_t prefs;
  std::memset(&prefs, 0, sizeof(prefs));
  prefs.compressionLevel = level;
  prefs.frameInfo.contentSize = in.size;
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  std::vector<uint8_t> out(LZ4F_compressFrameBound(in.size, &prefs));
  size_t r = LZ4F_compressFrame(out.data(), out.size(), in.data, in.size, &prefs);
  CHECK_CODEC(!LZ4F_isError(r), std::string("lz4frame compress: ") + LZ4F_getErrorName(r));
  out.resize(r);
  return out;
}

void DecompressLz4Frame(Bytes in, uint8_t* out, size_t raw) {
  LZ4F_dctx* dctx = nullptr;
  size_t e = LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION);
  CHECK_CODEC(!LZ4F_isError(e), std::string("lz4frame: ") + LZ4F_getErrorName(e));
  std::unique_ptr<LZ4F_dctx, size_t (*)(LZ4F_dctx*)> guard(dctx, LZ4F_freeDecompressionContext);
  size_t inPos = 0, outPos = 0, hint = 1;
  uint8_t sink = 0;  // 1-byte scratch so that "output longer than raw" is detected instead of silently stopping
  while (hint != 0) {
    size_t srcSize = in.size - inPos;
    CHECK_CODEC(srcSize > 0, "lz4frame decompress: truncated frame");
    bool full = outPos == raw;
    size_t dstSize = full ? 1 : raw - outPos;
    hint = LZ4F_decompress(dctx, full ? &sink : out + outPos, &dstSize, in.data + inPos, &srcSize, nullptr);
    CHECK_CODEC(!LZ4F_isError(hint), std::string("lz4frame decompress: ") + LZ4F_getErrorName(hint));
    CHECK_CODEC(!(full && dstSize > 0), "lz4frame decompress: output longer than expected " + std::to_string(raw));
    CHECK_CODEC(dstSize > 0 || srcSize > 0, "lz4frame decompress: no progress (truncated or corrupt)");
    inPos += srcSize;
    outPos += dstSize;
  }
  CHECK_CODEC(inPos == in.size, "lz4frame decompress: " + std::to_string(in.size - inPos) + " trailing bytes");
  CHECK_CODEC(outPos == raw, "lz4frame decompress: produced " + std::to_string(outPos) + " bytes, expected " + std::to_string(raw));
}

// zlib's avail_in / avail_out are 32-bit: feed at most 1 GiB per call.
constexpr size_t kZStep = 1u << 30;

std::vector<uint8_t> CompressDeflate(Bytes in, int level) {
  CHECK_ARG(level >= 0 && level <= 9, "deflate level " + std::to_string(level) + " out of range [0, 9]");
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  int rc = deflateInit2(&zs, level, Z_DEFLATED, -15 /* raw deflate, 32 KiB window */, 8, Z_DEFAULT_STRATEGY);
  CHECK_CODEC(rc == Z_OK, std::string("deflateInit2: ") + (zs.msg ? zs.msg : std::to_string(rc)));
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, deflateEnd);
  // deflateBound is for a single deflate() call; add slack for the block headers of our 1 GiB steps.
  std::vector<uint8_t> out(deflateBound(&zs, static_cast<uLong>(in.size)) + 64 * (in.size / kZStep + 1));
  size_t inPos = 0, outPos = 0;
  for (;;) {
    size_t inStep = std::min(kZStep, in.size - inPos);
    size_t outStep = std::min(kZStep, out.size() - outPos);
    zs.next_in = const_cast<Bytef*>(in.data + inPos);
    zs.avail_in = static_cast<uInt>(inStep);
    zs.next_out = out.data() + outPos;
    zs.avail_out = static_cast<uInt>(outStep);
    bool last = inPos + inStep == in.size;
    rc = deflate(&zs, last ? Z_FINISH : Z_NO_FLUSH);
    CHECK_CODEC(rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR, std::string("deflate: ") + (zs.msg ? zs.msg : std::to_string(rc)));
    inPos += inStep - zs.avail_in;
    outPos += outStep - zs.avail_out;
    if (rc == Z_STREAM_END) break;
    if (outPos == out.size()) out.resize(out.size() + out.size() / 8 + 1024);
  }
  out.resize(outPos);
  return out;
}

void DecompressDeflate(Bytes in, uint8_t* out, size_t raw) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  int rc = inflateInit2(&zs, -15);
  CHECK_CODEC(rc == Z_OK, std::string("inflateInit2: ") + (zs.msg ? zs.msg : std::to_string(rc)));
  std::unique_ptr<z_stream, int (*)(z_stream*)> guard(&zs, inflateEnd);
  size_t inPos = 0, outPos = 0;
  uint8_t sink = 0;
  for (;;) {
    size_t inStep = std::min(kZStep, in.size - inPos);
    bool full = outPos == raw;
    size_t outStep = full ? 1 : std::min(kZStep, raw - outPos);
    zs.next_in = const_cast<Bytef*>(in.data + inPos);
    zs.avail_in = static_cast<uInt>(inStep);
    zs.next_out = full ? &sink : out + outPos;
    zs.avail_out = static_cast<uInt>(outStep);
    rc = inflate(&zs, Z_NO_FLUSH);
    size_t produced = outStep - zs.avail_out, consumed = inStep - zs.avail_in;
    CHECK_CODEC(!(full && produced > 0), "deflate decompress: output longer than expected " + std::to_string(raw));
    inPos += consumed;
    outPos += produced;
    if (rc == Z_STREAM_END) break;
    // Z_BUF_ERROR = no progress possible: the output always has room here, so the input ran out before the end.
    CHECK_CODEC(rc != Z_BUF_ERROR, "deflate decompress: truncated stream");
    CHECK_CODEC(rc == Z_OK, std::string("deflate decompress: ") + (zs.msg ? zs.msg : ("zlib status " + std::to_string(rc))));
  }
  CHECK_CODEC(inPos == in.size, "deflate decompress: " + std::to_string(in.size - inPos) + " trailing bytes");
  CHECK_CODEC(outPos == raw, "deflate decompress: produced " + std::to_string(outPos) + " bytes, expected " + std::to_string(raw));
}

std::vector<uint8_t> CompressSnappy(Bytes in) {
  CHECK_ARG(in.size <= 0xFFFFFFFFull, "snappy input larger than 4 GiB");
  size_t n = snappy_max_compressed_length(in.size);
  std::vector<uint8_t> out(std::max<size_t>(n, 1));
  snappy_status s = snappy_compress(reinterpret_cast<const char*>(in.data), in.size, reinterpret_cast<char*>(out.data()), &n);
  CHECK_CODEC(s == SNAPPY_OK, "snappy compress failed (status " + std::to_string(s) + ")");
  out.resize(n);
  return out;
}

void DecompressSnappy(Bytes in, uint8_t* out, size_t raw) {
  size_t n = 0;
  const char* src = reinterpret_cast<const char*>(in.data);
  CHECK_CODEC(snappy_uncompressed_length(src, in.size, &n) == SNAPPY_OK, "snappy decompress: malformed length header");
  CHECK_CODEC(n == raw, "snappy decompress: stream holds " + std::to_string(n) + " bytes, expected " + std::to_string(raw));
  CHECK_CODEC(snappy_validate_compressed_buffer(src, in.size) == SNAPPY_OK, "snappy decompress: corrupt stream");
  size_t outLen = raw;
  uint8_t sink = 0;
  snappy_status s = snappy_uncompress(src, in.size, raw == 0 ? reinterpret_cast<char*>(&sink) : reinterpret_cast<char*>(out), &outLen);
  CHECK_CODEC(s == SNAPPY_OK && outLen == raw, "snappy decompress: corrupt stream (status " + std::to_string(s) + ")");
}

Napi::Value CpuCompress(const Napi::CallbackInfo& info) {
  Codec c = ParseCodec(ArgString(info, 0, "codec"));
  Bytes in = ArgBytes(info, 1, "data");
  CHECK_ARG(in.size <= kMaxBytes, "data: larger than 4 GiB");
  std::vector<uint8_t> out;
  switch (c) {
    case Codec::None: return codecllm::NewBytes(info.Env(), in.data, in.size);
    case Codec::Zstd: out = CompressZstd(in, static_cast<int>(codecllm::ArgInt(info, 2, "level", -131072, 22, 3))); break;
    case Codec::Lz4: out = CompressLz4(in, static_cast<int>(codecllm::ArgInt(info, 2, "level", 0, 12, 0))); break;
    case Codec::Lz4Frame: out = CompressLz4Frame(in, static_cast<int>(codecllm::ArgInt(info, 2, "level", 0, 12, 0))); break;
    case Codec::Deflate: out = CompressDeflate(in, static_cast<int>(codecllm::ArgInt(info, 2, "level", 0, 9, 6))); break;
    case Codec::Snappy: out = CompressSnappy(in); break;
  }
  return codecllm::NewBytes(info.Env(), out.data(), out.size());
}

Napi::Value CpuDecompress(const Napi::CallbackInfo& info) {
  Codec c = ParseCodec(ArgString(info, 0, "codec"));
  Bytes in = ArgBytes(info, 1, "data");
  size_t raw = static_cast<size_t>(ArgSize(info, 2, "rawSize", kMaxBytes));
  if (c == Codec::None) {
    CHECK_CODEC(in.size == raw, "none: stored " + std::to_string(in.size) + " bytes, expected " + std::to_string(raw));
    return codecllm::NewBytes(info.Env(), in.data, in.size);
  }
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), raw);
  uint8_t* dst = raw == 0 ? codecllm::EmptyBytes() : out.Data();
  switch (c) {
    case Codec::Zstd: DecompressZstd(in, dst, raw); break;
    case Codec::Lz4: DecompressLz4(in, dst, raw); break;
    case Codec::Lz4Frame: DecompressLz4Frame(in, dst, raw); break;
    case Codec::Deflate: DecompressDeflate(in, dst, raw); break;
    case Codec::Snappy: DecompressSnappy(in, dst, raw); break;
    case Codec::None: break;
  }
  return out;
}

Napi::Value Xxhash64(const Napi::CallbackInfo& info) {
  Bytes in = ArgBytes(info, 0, "data");
  uint64_t seed = 0;
  if (info.Length() > 1 && !info[1].IsUndefined()) seed = ArgSize(info, 1, "seed", std::numeric_limits<uint64_t>::max());
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(XXH64(in.data, in.size, seed)));
}

Napi::Value CpuCodecVersions(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("zstd", ZSTD_versionString());
  o.Set("lz4", LZ4_versionString());
  o.Set("zlib", zlibVersion());
  unsigned x = XXH_versionNumber();
  o.Set("xxhash", std::to_string(x / 10000) + "." + std::to_string(x / 100 % 100) + "." + std::to_string(x % 100));
  return o;
}

}  // namespace

void InitCpuCodecs(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "cpuCompress", CpuCompress);
  EXPORT_FN(env, exports, "cpuDecompress", CpuDecompress);
  EXPORT_FN(env, exports, "xxhash64", Xxhash64);
  EXPORT_FN(env, exports, "cpuCodecVersions", CpuCodecVersions);
}
