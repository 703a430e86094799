// lossless.h — THE layout of the lossless bf16/fp16 weight stream (format "CLLW", version 1), decoded inside the
// GEMV (issue 14). One definition for the encoder, the readable reference decoder (this file) and the CUDA kernel
// (cuda/gemv_lossless.cu); src/codec/lossless.ts mirrors the constants and test/lossless.test.ts ties them to
// losslessLayout() of the addon.
//
// Idea (DFloat11 / ZipNN style, own code): every 16-bit weight is split into an 8-bit SYMBOL that is entropy-coded
// and an 8-bit RAW byte stored as is.
//   bf16: symbol = exponent (bits 14..7), raw = sign << 7 | 7 mantissa bits   (the exponent carries ~2.6 bits)
//   fp16: symbol = high byte (sign, 5 exponent bits, 2 mantissa bits), raw = low 8 mantissa bits
// Symbols are coded with ONE canonical Huffman code per tensor whose code length is bounded by kMaxCodeLen (12), so a
// 2^12-entry lookup table (uint16: symbol | length << 8, 8 KiB) in shared memory decodes one symbol per peek.
//
// Matrix W [rows, cols] (row-major, out x in; cols % 8 == 0) is cut into SEGMENTS of rowsPerSeg rows; one GEMV warp
// decodes one segment into registers with no global scratch. Inside a segment the columns are cut into GROUPS of
// kGroup (8) consecutive columns; group g belongs to lane g % 32. Lane l's BIT STREAM holds, MSB first, the codes of
// its elements in the order: for r in segment rows, for g = l, l+32, l+64, ... < cols/8, for e in 0..7: sym[r][8g+e].
// The 32 lane streams of a segment are INTERLEAVED by 32-bit words (word w of lane l at segWordOffset + 32 w + l, so a
// warp's loads are coalesced); each lane stream is padded with zero bits to the segment's wordsPerLane.
//
// File layout (little endian; offsets from the start):
//   header (kHeaderBytes = 64):
//     0  magic "CLLW"            4  version u16 (=1)      6  dtype u16 (weight_types.h: 1 f16, 2 bf16)
//     8  rows u32               12  cols u32             16  rowsPerSeg u32          20  segments u32
//    24  maxCodeLen u8 (<= 12)  25..31 zero
//    32  codeWords u64 (total 32-bit words of the code area)
//    40  xxhash64 of [lengths | segment table]   48  xxhash64 of the code area   56  xxhash64 of the raw area
//   code lengths: kSymbols (256) bytes, 0 = symbol absent
//   segment table: segments x { wordOffset u64, wordsPerLane u32, zero u32 } (16 bytes each)
//   code area: codeWords x u32 (word offsets in the segment table are relative to its start)
//   raw area: rows x cols bytes, row-major (raw[r][c])
// Total = 64 + 256 + 16 segments + 4 codeWords + rows cols.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace codecllm {
namespace lossless {

constexpr uint32_t kMagic = 0x574c4c43u;  // "CLLW" little endian
constexpr uint16_t kVersion = 1;
constexpr uint32_t kHeaderBytes = 64;
constexpr uint32_t kSymbols = 256;
constexpr uint32_t kMaxCodeLen = 12;
constexpr uint32_t kLutSize = 1u << kMaxCodeLen;
constexpr uint32_t kLanes = 32;
constexpr uint32_t kGroup = 8;
constexpr uint32_t kSegEntryBytes = 16;
constexpr uint32_t kDefaultRowsPerSeg = 4;
constexpr uint32_t kMaxRowsPerSeg = 64;
constexpr int kDtypeF16 = 1;   // = kWeightF16 (weight_types.h)
constexpr int kDtypeBF16 = 2;  // = kWeightBF16

/** 16-bit weight -> (symbol, raw). */
inline void Split(int dtype, uint16_t w, uint8_t* sym, uint8_t* raw) {
  if (dtype == kDtypeBF16) {
    *sym = (uint8_t)((w >> 7) & 0xff);
    *raw = (uint8_t)(((w >> 8) & 0x80) | (w & 0x7f));
  } else {
    *sym = (uint8_t)(w >> 8);
    *raw = (uint8_t)(w & 0xff);
  }
}

/** (symbol, raw) -> 16-bit weight; the inverse of Split. Host and device. */
#if defined(__CUDACC__)
__host__ __device__
#endif
inline uint16_t Join(int dtype, uint32_t sym, uint32_t raw) {
  return dtype == kDtypeBF16 ? (uint16_t)(((raw & 0x80u) << 8) | (sym << 7) | (raw & 0x7fu)) : (uint16_t)((sym << 8) | raw);
}

/** Parsed header + views into a stream (no copies). */
struct View {
  int dtype = 0;
  uint32_t rows = 0, cols = 0, rowsPerSeg = 0, segments = 0, maxCodeLen = 0;
  uint64_t codeWords = 0;
  uint64_t hashTables = 0, hashCode = 0, hashRaw = 0;
  const uint8_t* lengths = nullptr;   // [256]
  const uint8_t* segTable = nullptr;  // [segments][16]
  const uint8_t* code = nullptr;      // [codeWords * 4]
  const uint8_t* raw = nullptr;       // [rows * cols]
  uint64_t totalBytes = 0;
  uint64_t SegWordOffset(uint32_t s) const {
    uint64_t v;
    memcpy(&v, segTable + (uint64_t)s * kSegEntryBytes, 8);
    return v;
  }
  uint32_t SegWordsPerLane(uint32_t s) const {
    uint32_t v;
    memcpy(&v, segTable + (uint64_t)s * kSegEntryBytes + 8, 4);
    return v;
  }
};

/** Bytes of a stream with these dimensions (checked by the parser against the buffer size). */
inline uint64_t StreamBytes(uint64_t rows, uint64_t cols, uint64_t segments, uint64_t codeWords) {
  return kHeaderBytes + kSymbols + segments * kSegEntryBytes + codeWords * 4 + rows * cols;
}

/** Canonical codes from lengths: code[s] (MSB-first value of length len[s]). Returns false unless Kraft sum <= 1
 *  with every length in 1..kMaxCodeLen (lengths 0 = absent) and at least one symbol present. */
inline bool CanonicalCodes(const uint8_t* len, uint32_t* code) {
  uint32_t count[kMaxCodeLen + 1] = {0};
  int present = 0;
  for (uint32_t s = 0; s < kSymbols; ++s) {
    if (len[s] > kMaxCodeLen) return false;
    if (len[s]) count[len[s]]++, present++;
  }
  if (!present) return false;
  uint64_t kraft = 0;  // in units of 2^-kMaxCodeLen
  for (uint32_t l = 1; l <= kMaxCodeLen; ++l) kraft += (uint64_t)count[l] << (kMaxCodeLen - l);
  if (kraft > kLutSize) return false;
  uint32_t next[kMaxCodeLen + 2] = {0};
  uint32_t c = 0;
  for (uint32_t l = 1; l <= kMaxCodeLen; ++l) {
    c = (c + count[l - 1]) << 1;
    next[l] = c;
  }
  for (uint32_t s = 0; s < kSymbols; ++s)
    if (len[s]) code[s] = next[len[s]]++;
  return true;
}

/** Decode table: lut[peek of kMaxCodeLen bits] = symbol | length << 8 (length 0 = no code: corrupt stream). */
inline bool BuildLut(const uint8_t* len, uint16_t* lut) {
  uint32_t code[kSymbols];
  if (!CanonicalCodes(len, code)) return false;
  std::fill(lut, lut + kLutSize, (uint16_t)0);
  for (uint32_t s = 0; s < kSymbols; ++s) {
    if (!len[s]) continue;
    uint32_t shift = kMaxCodeLen - len[s];
    uint32_t first = code[s] << shift;
    for (uint32_t i = 0; i < (1u << shift); ++i) lut[first + i] = (uint16_t)(s | (uint32_t)len[s] << 8);
  }
  return true;
}

/** Huffman code lengths bounded by kMaxCodeLen for the symbol counts (halving the counts until the bound holds). */
inline void CodeLengths(const uint64_t* counts, uint8_t* len) {
  std::vector<uint64_t> f(counts, counts + kSymbols);
  for (;;) {
    std::fill(len, len + kSymbols, (uint8_t)0);
    std::vector<int> live;
    for (uint32_t s = 0; s < kSymbols; ++s)
      if (f[s]) live.push_back((int)s);
    if (live.empty()) return;
    if (live.size() == 1) {
      len[live[0]] = 1;
      return;
    }
    // plain Huffman over (weight, node) with parent links; leaves 0..255, internal nodes 256..
    std::vector<uint64_t> w;
    std::vector<int> parent(2 * kSymbols, -1);
    std::vector<std::pair<uint64_t, int>> heap;
    for (int s : live) heap.push_back({f[s], s});
    auto cmp = [](const std::pair<uint64_t, int>& a, const std::pair<uint64_t, int>& b) {
      return a.first != b.first ? a.first > b.first : a.second > b.second;
    };
    std::make_heap(heap.begin(), heap.end(), cmp);
    int next = kSymbols;
    while (heap.size() > 1) {
      std::pop_heap(heap.begin(), heap.end(), cmp);
      auto a = heap.back();
      heap.pop_back();
      std::pop_heap(heap.begin(), heap.end(), cmp);
      auto b = heap.back();
      heap.pop_back();
      parent[a.second] = next;
      parent[b.second] = next;
      heap.push_back({a.first + b.first, next});
      std::push_heap(heap.begin(), heap.end(), cmp);
      ++next;
    }
    uint32_t maxLen = 0;
    for (int s : live) {
      uint32_t d = 0;
      for (int n = s; parent[n] >= 0; n = parent[n]) ++d;
      len[s] = (uint8_t)std::min<uint32_t>(d, 255);
      maxLen = std::max(maxLen, d);
    }
    if (maxLen <= kMaxCodeLen) return;
    for (uint32_t s = 0; s < kSymbols; ++s)
      if (f[s]) f[s] = (f[s] + 1) / 2;  // flatten: nonzero stays nonzero
  }
}

/** Parse and bound-check a stream; on failure returns false with *why (one line). Does not verify checksums. */
inline bool Parse(const uint8_t* p, uint64_t n, View* v, std::string* why) {
  auto rd32 = [&](uint64_t o) { uint32_t x; memcpy(&x, p + o, 4); return x; };
  auto rd64 = [&](uint64_t o) { uint64_t x; memcpy(&x, p + o, 8); return x; };
  if (n < kHeaderBytes + kSymbols) return *why = "truncated header (" + std::to_string(n) + " bytes)", false;
  if (rd32(0) != kMagic) return *why = "bad magic (not a CLLW lossless weight stream)", false;
  uint16_t ver, dt;
  memcpy(&ver, p + 4, 2);
  memcpy(&dt, p + 6, 2);
  if (ver != kVersion) return *why = "unsupported version " + std::to_string(ver), false;
  if (dt != kDtypeBF16 && dt != kDtypeF16) return *why = "bad dtype " + std::to_string(dt), false;
  v->dtype = dt;
  v->rows = rd32(8), v->cols = rd32(12), v->rowsPerSeg = rd32(16), v->segments = rd32(20);
  v->maxCodeLen = p[24];
  v->codeWords = rd64(32), v->hashTables = rd64(40), v->hashCode = rd64(48), v->hashRaw = rd64(56);
  if (v->rows == 0 || v->cols == 0 || v->cols % kGroup) return *why = "bad shape", false;
  if (v->rowsPerSeg == 0 || v->rowsPerSeg > kMaxRowsPerSeg) return *why = "bad rowsPerSeg", false;
  if (v->segments != (v->rows + v->rowsPerSeg - 1) / v->rowsPerSeg) return *why = "segment count does not match rows", false;
  if (v->maxCodeLen == 0 || v->maxCodeLen > kMaxCodeLen) return *why = "bad maxCodeLen", false;
  if (v->codeWords > (1ull << 40)) return *why = "code area too large", false;
  uint64_t need = StreamBytes(v->rows, v->cols, v->segments, v->codeWords);
  if (need != n) return *why = "size mismatch: header says " + std::to_string(need) + " bytes, have " + std::to_string(n), false;
  v->lengths = p + kHeaderBytes;
  v->segTable = v->lengths + kSymbols;
  v->code = v->segTable + (uint64_t)v->segments * kSegEntryBytes;
  v->raw = v->code + v->codeWords * 4;
  v->totalBytes = n;
  uint32_t codes[kSymbols];
  for (uint32_t s = 0; s < kSymbols; ++s)
    if (v->lengths[s] > v->maxCodeLen) return *why = "code length above maxCodeLen", false;
  if (!CanonicalCodes(v->lengths, codes)) return *why = "corrupt code table (Kraft sum > 1 or empty)", false;
  uint64_t expect = 0;
  for (uint32_t s = 0; s < v->segments; ++s) {
    uint64_t off = v->SegWordOffset(s), w = v->SegWordsPerLane(s);
    if (off != expect) return *why = "segment table: segment " + std::to_string(s) + " offset out of order", false;
    expect = off + w * kLanes;
    if (expect > v->codeWords) return *why = "segment table: segment " + std::to_string(s) + " past the code area", false;
  }
  if (expect != v->codeWords) return *why = "segment table does not cover the code area", false;
  return true;
}

/** Encode W [rows, cols] of 16-bit words. Returns the stream; hash(ptr, n) = xxhash64 seed 0 (given by the caller). */
template <typename Hash>
std::vector<uint8_t> Encode(int dtype, uint32_t rows, uint32_t cols, const uint16_t* w, uint32_t rowsPerSeg, Hash hash) {
  uint64_t n = (uint64_t)rows * cols;
  std::vector<uint8_t> sym(n), raw(n);
  uint64_t counts[kSymbols] = {0};
  for (uint64_t i = 0; i < n; ++i) {
    Split(dtype, w[i], &sym[i], &raw[i]);
    counts[sym[i]]++;
  }
  uint8_t len[kSymbols];
  CodeLengths(counts, len);
  uint32_t code[kSymbols] = {0};
  CanonicalCodes(len, code);
  uint32_t maxLen = 1;
  for (uint32_t s = 0; s < kSymbols; ++s) maxLen = std::max<uint32_t>(maxLen, len[s]);
  uint32_t segments = (rows + rowsPerSeg - 1) / rowsPerSeg;
  uint32_t groups = cols / kGroup;
  std::vector<uint8_t> segTable((uint64_t)segments * kSegEntryBytes, 0);
  std::vector<uint32_t> words;
  std::vector<std::vector<uint32_t>> lane(kLanes);
  for (uint32_t s = 0; s < segments; ++s) {
    uint32_t r0 = s * rowsPerSeg, r1 = std::min(rows, r0 + rowsPerSeg);
    size_t maxWords = 0;
    for (uint32_t l = 0; l < kLanes; ++l) {
      std::vector<uint32_t>& out = lane[l];
      out.clear();
      uint64_t acc = 0;  // bits pending, left-aligned at bit 63
      uint32_t bits = 0;
      for (uint32_t r = r0; r < r1; ++r)
        for (uint32_t g = l; g < groups; g += kLanes)
          for (uint32_t e = 0; e < kGroup; ++e) {
            uint8_t sy = sym[(uint64_t)r * cols + (uint64_t)g * kGroup + e];
            acc |= (uint64_t)code[sy] << (64 - bits - len[sy]);
            bits += len[sy];
            if (bits >= 32) {
              out.push_back((uint32_t)(acc >> 32));
              acc <<= 32;
              bits -= 32;
            }
          }
      if (bits) out.push_back((uint32_t)(acc >> 32));
      maxWords = std::max(maxWords, out.size());
    }
    uint64_t off = words.size();
    uint32_t wpl = (uint32_t)maxWords;
    memcpy(&segTable[(uint64_t)s * kSegEntryBytes], &off, 8);
    memcpy(&segTable[(uint64_t)s * kSegEntryBytes + 8], &wpl, 4);
    words.resize(off + (uint64_t)wpl * kLanes, 0);
    for (uint32_t l = 0; l < kLanes; ++l)
      for (size_t i = 0; i < lane[l].size(); ++i) words[off + i * kLanes + l] = lane[l][i];
  }
  uint64_t total = StreamBytes(rows, cols, segments, words.size());
  std::vector<uint8_t> out(total, 0);
  uint8_t* p = out.data();
  auto wr16 = [&](uint64_t o, uint16_t x) { memcpy(p + o, &x, 2); };
  auto wr32 = [&](uint64_t o, uint32_t x) { memcpy(p + o, &x, 4); };
  auto wr64 = [&](uint64_t o, uint64_t x) { memcpy(p + o, &x, 8); };
  wr32(0, kMagic);
  wr16(4, kVersion);
  wr16(6, (uint16_t)dtype);
  wr32(8, rows), wr32(12, cols), wr32(16, rowsPerSeg), wr32(20, segments);
  p[24] = (uint8_t)maxLen;
  wr64(32, words.size());
  uint8_t* q = p + kHeaderBytes;
  memcpy(q, len, kSymbols);
  memcpy(q + kSymbols, segTable.data(), segTable.size());
  uint8_t* codeArea = q + kSymbols + segTable.size();
  if (!words.empty()) memcpy(codeArea, words.data(), words.size() * 4);
  uint8_t* rawArea = codeArea + words.size() * 4;
  memcpy(rawArea, raw.data(), n);
  wr64(40, hash(q, kSymbols + segTable.size()));
  wr64(48, hash(codeArea, words.size() * 4));
  wr64(56, hash(rawArea, n));
  return out;
}

/** Reference decoder (the twin of the GEMV's in-register decode): stream -> W [rows, cols] 16-bit words.
 *  Returns false with *why on a corrupt stream (missing code, a lane reading past its words). */
inline bool Decode(const View& v, uint16_t* w, std::string* why) {
  std::vector<uint16_t> lut(kLutSize);
  if (!BuildLut(v.lengths, lut.data())) return *why = "corrupt code table", false;
  const uint32_t groups = v.cols / kGroup;
  for (uint32_t s = 0; s < v.segments; ++s) {
    uint32_t r0 = s * v.rowsPerSeg, r1 = std::min(v.rows, r0 + v.rowsPerSeg);
    uint64_t off = v.SegWordOffset(s);
    uint32_t wpl = v.SegWordsPerLane(s);
    for (uint32_t l = 0; l < kLanes; ++l) {
      uint64_t buf = 0;  // left-aligned bits
      uint32_t bits = 0, next = 0;
      for (uint32_t r = r0; r < r1; ++r)
        for (uint32_t g = l; g < groups; g += kLanes)
          for (uint32_t e = 0; e < kGroup; ++e) {
            if (bits < kMaxCodeLen) {
              uint32_t word = 0;
              if (next < wpl) memcpy(&word, v.code + (off + (uint64_t)next * kLanes + l) * 4, 4);
              else if (next > wpl) return *why = "segment " + std::to_string(s) + " lane " + std::to_string(l) + ": code stream overrun", false;
              ++next;
              buf |= (uint64_t)word << (32 - bits);
              bits += 32;
            }
            uint16_t t = lut[buf >> (64 - kMaxCodeLen)];
            uint32_t len = t >> 8;
            if (len == 0 || len > bits) return *why = "segment " + std::to_string(s) + " lane " + std::to_string(l) + ": invalid code", false;
            buf <<= len;
            bits -= len;
            uint64_t i = (uint64_t)r * v.cols + (uint64_t)g * kGroup + e;
            w[i] = Join(v.dtype, t & 0xffu, v.raw[i]);
          }
      // a lane may have consumed at most its words (+ the zero pad word read for the peek of the last code)
      if (next > wpl + 1) return *why = "segment " + std::to_string(s) + " lane " + std::to_string(l) + ": code stream overrun", false;
    }
  }
  return true;
}

}  // namespace lossless
}  // namespace codecllm
