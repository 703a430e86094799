// device.h — shared CUDA runtime state of the addon (CUDA builds only): the stream pool, the device scratch-buffer
// pool, the pinned host staging pool, and the registry of caller-owned device buffers (the VRAM ledger).
// Nothing here allocates per call once warm: streams are created once, scratch/pinned blocks are cached and reused
// (trimmed only on request or when an allocation would otherwise fail).
#pragma once
#if defined(CODECLLM_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace codecllm {
namespace cuda {

/** Number of streams in the pool. */
constexpr int kStreams = 4;
/** Stream `i` of the pool (created on first use, non-blocking). */
cudaStream_t Stream(int i);

/** A cache of device (or pinned host) blocks reused across calls. */
class Pool {
 public:
  explicit Pool(bool device) : device_(device) {}
  /** A block of at least `need` bytes; `cap` receives its real size. */
  void* Get(size_t need, size_t* cap);
  void Put(void* p, size_t cap);
  /** Frees the idle blocks; returns the bytes released. */
  size_t Trim();
  /** Bytes held (idle + in use). */
  size_t Held() const { return held_; }
  size_t Idle() const;

 private:
  bool device_;
  std::multimap<size_t, void*> free_;
  size_t held_ = 0;
};

Pool& DeviceScratch();
Pool& PinnedStaging();

/** RAII lease of a pool block. */
class Lease {
 public:
  Lease() = default;
  Lease(Pool& pool, size_t need) : pool_(&pool) { p_ = pool.Get(need, &cap_); }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Lease(Lease&& o) noexcept { *this = std::move(o); }
  Lease& operator=(Lease&& o) noexcept {
    std::swap(pool_, o.pool_);
    std::swap(p_, o.p_);
    std::swap(cap_, o.cap_);
    return *this;
  }
  ~Lease() {
    if (p_) pool_->Put(p_, cap_);
  }
  uint8_t* data() const { return static_cast<uint8_t*>(p_); }
  size_t capacity() const { return cap_; }

 private:
  Pool* pool_ = nullptr;
  void* p_ = nullptr;
  size_t cap_ = 0;
};

/** Declared after the Leases of a call: on every exit (exceptions included) waits for the stream before the
 *  leases go back to the pool, so that no queued kernel can touch memory another call has been given. */
struct SyncOnExit {
  cudaStream_t stream;
  ~SyncOnExit() {
    if (cudaStreamSynchronize(stream) != cudaSuccess) (void)cudaGetLastError();
  }
};

/** Bump allocator carving 256-byte aligned slices out of one lease. */
class Carver {
 public:
  explicit Carver(uint8_t* base) : base_(base) {}
  template <class T>
  T* take(size_t count) {
    size_t off = off_;
    off_ = Align(off_ + count * sizeof(T));
    return reinterpret_cast<T*>(base_ + off);
  }
  static size_t Align(size_t n) { return (n + 255) & ~size_t(255); }
  template <class T>
  static size_t Need(size_t count) { return Align(count * sizeof(T)); }

 private:
  uint8_t* base_;
  size_t off_ = 0;
};

/** A caller-owned device allocation, listed by the VRAM ledger under its tag. */
struct Buffer {
  uint8_t* ptr;
  size_t bytes;
  std::string tag;
};
/** Allocates and registers a buffer (trims the scratch pool and retries once on out-of-memory). */
uint32_t AllocBuffer(size_t bytes, const std::string& tag);
/** Frees and unregisters buffer `id`; false when it does not exist. */
bool FreeBuffer(uint32_t id);
/** The live buffer `id`, or E_ARG. */
Buffer& GetBuffer(uint32_t id);
/** Checks that [offset, offset+length) lies inside buffer `id` (checked arithmetic) and returns its address. */
uint8_t* BufferRange(uint32_t id, uint64_t offset, uint64_t length);

#if defined(CODECLLM_HAVE_NVCOMP)
/** Batched nvCOMP decompression over a chunk table that stays on the device (the GPU engine decodes a layer's
 *  linears with one per layer; nvcomp.cc implements it and tests it through nvcompDecompressGroup). Everything that
 *  needs the host happens in the constructor (temp size queries; for Bitcomp, the plan made from the compressed
 *  headers, which nvcompBatchedBitcompDecompressAsync would otherwise redo with a stream sync on every call), so
 *  Launch() only enqueues work: no host sync, capturable into a CUDA graph. The compressed chunks must be complete
 *  (on the device) when it is constructed; the tables (dIn, dInBytes) must outlive it. */
class NvGroupDecoder {
 public:
  NvGroupDecoder(const std::string& codec, const void* const* dIn, const size_t* dInBytes, size_t n, size_t maxChunk, size_t totalBytes,
                 bool bitcompPlan, cudaStream_t s);
  ~NvGroupDecoder();
  NvGroupDecoder(const NvGroupDecoder&) = delete;
  NvGroupDecoder& operator=(const NvGroupDecoder&) = delete;
  /** temp space Launch needs (256-byte aligned pointer) */
  size_t TempBytes() const;
  /** "bitcomp-plan" or "nvcomp-batched" */
  const char* Path() const;
  /** statuses are nvcompStatus_t (int); dCap = output capacity per chunk, dGot = decompressed sizes */
  void Launch(const void* const* dIn, const size_t* dInBytes, const size_t* dCap, size_t* dGot, void* const* dOut, int* dStatus, void* temp,
              size_t tempBytes, cudaStream_t s) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};
#endif

}  // namespace cuda
}  // namespace codecllm
#endif
