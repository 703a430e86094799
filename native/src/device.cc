// device.cc — device memory from JS (CUDA builds): caller-owned buffers with ids and tags (the VRAM ledger),
// host<->device and device<->device copies, CUDA-event timing, the stream pool, the scratch and pinned pools, a
// byte-mismatch check and a device-to-device copy bandwidth measurement.
//
// JS (ids are plain numbers; src/codec/device.ts wraps them in DeviceBuffer objects with dispose() + a finalizer):
//   deviceCount() -> number (0 when no driver/GPU; never throws)
//   deviceInfo() -> {device, name, computeCapability, multiprocessors, totalBytes, freeBytes, driverVersion, runtimeVersion}
//   deviceAlloc(bytes, tag) -> id          deviceFree(id) -> bool (false if already freed)      deviceSize(id) -> bytes
//   deviceUpload(id, offset, data)         deviceDownload(id, offset, length) -> Buffer
//   deviceCopy(dstId, dstOffset, srcId, srcOffset, length)                                      deviceMemset(id, byte)
//   deviceCountMismatches(aId, aOffset, bId, bOffset, length) -> number
//   deviceLedger() -> {entries:[{id, tag, bytes}], ownBytes, scratchBytes, pinnedBytes, freeBytes, totalBytes}
//   deviceSynchronize()     deviceTrimScratch() -> bytes released
//   deviceCopyBandwidth(bytes, iterations) -> {bytes, iterations, ms}   (ms = mean time of one D2D copy of `bytes`)
//   eventCreate() -> id   eventRecord(id, stream?)   eventElapsedMs(startId, endId) -> ms   eventDestroy(id) -> bool
#include <napi.h>

#include "binding.h"

#if defined(CODECLLM_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include <algorithm>
#include <limits>
#include <map>
#include <vector>

#include "cuda/kernels.h"
#include "device.h"

namespace codecllm {
namespace cuda {

namespace {
std::map<uint32_t, Buffer>& Buffers() {
  static std::map<uint32_t, Buffer> m;
  return m;
}
uint32_t next_buffer_id = 1;
std::map<uint32_t, cudaEvent_t>& Events() {
  static std::map<uint32_t, cudaEvent_t> m;
  return m;
}
uint32_t next_event_id = 1;

size_t RoundCapacity(size_t need) {
  constexpr size_t kMin = 64 * 1024, kBig = 64ull << 20, kGrain = 2ull << 20;
  if (need <= kMin) return kMin;
  if (need >= kBig) return (need + kGrain - 1) / kGrain * kGrain;
  size_t c = kMin;
  while (c < need) c <<= 1;
  return c;
}
}  // namespace

cudaStream_t Stream(int i) {
  CHECK_ARG(i >= 0 && i < kStreams, "stream index " + std::to_string(i) + " outside the pool of " + std::to_string(kStreams));
  static cudaStream_t streams[kStreams] = {};
  if (!streams[i]) CHECK_CUDA(cudaStreamCreateWithFlags(&streams[i], cudaStreamNonBlocking));
  return streams[i];
}

void* Pool::Get(size_t need, size_t* cap) {
  if (need == 0) need = 1;
  // reuse the smallest idle block that fits and wastes at most half of it
  auto it = free_.lower_bound(need);
  if (it != free_.end() && it->first <= std::max<size_t>(2 * need, 64 * 1024)) {
    *cap = it->first;
    void* p = it->second;
    free_.erase(it);
    return p;
  }
  size_t c = RoundCapacity(need);
  void* p = nullptr;
  cudaError_t e = device_ ? cudaMalloc(&p, c) : cudaMallocHost(&p, c);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    Trim();
    if (device_) PinnedStaging().Trim();
    e = device_ ? cudaMalloc(&p, c) : cudaMallocHost(&p, c);
  }
  CHECK_CUDA(e);
  held_ += c;
  *cap = c;
  return p;
}

void Pool::Put(void* p, size_t cap) { free_.emplace(cap, p); }

size_t Pool::Trim() {
  size_t n = 0;
  for (auto& kv : free_) {
    if (device_) cudaFree(kv.second);
    else cudaFreeHost(kv.second);
    n += kv.first;
  }
  free_.clear();
  held_ -= n;
  return n;
}

size_t Pool::Idle() const {
  size_t n = 0;
  for (auto& kv : free_) n += kv.first;
  return n;
}

Pool& DeviceScratch() {
  static Pool p(true);
  return p;
}
Pool& PinnedStaging() {
  static Pool p(false);
  return p;
}

uint32_t AllocBuffer(size_t bytes, const std::string& tag) {
  void* p = nullptr;
  size_t n = std::max<size_t>(bytes, 1);
  cudaError_t e = cudaMalloc(&p, n);
  if (e == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    DeviceScratch().Trim();
    e = cudaMalloc(&p, n);
  }
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    throw CODECLLM_ERROR(e == cudaErrorMemoryAllocation ? "E_OOM" : "E_CUDA",
                         "cudaMalloc(" + std::to_string(bytes) + " bytes for '" + tag + "'): " + cudaGetErrorName(e) + " (" +
                             cudaGetErrorString(e) + ")")
        .with("status", cudaGetErrorName(e))
        .with("tag", tag);
  }
  uint32_t id = next_buffer_id++;
  Buffers()[id] = Buffer{static_cast<uint8_t*>(p), bytes, tag};
  return id;
}

bool FreeBuffer(uint32_t id) {
  auto it = Buffers().find(id);
  if (it == Buffers().end()) return false;
  uint8_t* p = it->second.ptr;
  Buffers().erase(it);
  CHECK_CUDA(cudaFree(p));
  return true;
}

Buffer& GetBuffer(uint32_t id) {
  auto it = Buffers().find(id);
  CHECK_ARG(it != Buffers().end(), "device buffer " + std::to_string(id) + " does not exist (disposed?)");
  return it->second;
}

uint8_t* BufferRange(uint32_t id, uint64_t offset, uint64_t length) {
  Buffer& b = GetBuffer(id);
  CHECK_ARG(offset <= b.bytes && length <= b.bytes - offset,
            "range [" + std::to_string(offset) + ", +" + std::to_string(length) + ") outside device buffer '" + b.tag +
                "' of " + std::to_string(b.bytes) + " bytes");
  return b.ptr + offset;
}

}  // namespace cuda
}  // namespace codecllm

namespace {
using namespace codecllm;
using namespace codecllm::cuda;

constexpr uint64_t kMaxBytes = 1ull << 48;

uint32_t ArgId(const Napi::CallbackInfo& info, size_t i, const char* name) {
  return static_cast<uint32_t>(ArgSize(info, i, name, std::numeric_limits<uint32_t>::max()));
}
int ArgStream(const Napi::CallbackInfo& info, size_t i) {
  return static_cast<int>(ArgInt(info, i, "stream", 0, kStreams - 1, 0));
}

Napi::Value DeviceCount(const Napi::CallbackInfo& info) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();
    n = 0;
  }
  return Napi::Number::New(info.Env(), n);
}

Napi::Value DeviceInfo(const Napi::CallbackInfo& info) {
  int dev = 0;
  CHECK_CUDA(cudaGetDevice(&dev));
  cudaDeviceProp p;
  CHECK_CUDA(cudaGetDeviceProperties(&p, dev));
  size_t freeB = 0, totalB = 0;
  CHECK_CUDA(cudaMemGetInfo(&freeB, &totalB));
  int drv = 0, rt = 0;
  CHECK_CUDA(cudaDriverGetVersion(&drv));
  CHECK_CUDA(cudaRuntimeGetVersion(&rt));
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("device", dev);
  o.Set("name", std::string(p.name));
  o.Set("computeCapability", std::to_string(p.major) + "." + std::to_string(p.minor));
  o.Set("multiprocessors", p.multiProcessorCount);
  o.Set("totalBytes", static_cast<double>(totalB));
  o.Set("freeBytes", static_cast<double>(freeB));
  o.Set("driverVersion", drv);
  o.Set("runtimeVersion", rt);
  return o;
}

Napi::Value DeviceAlloc(const Napi::CallbackInfo& info) {
  uint64_t bytes = ArgSize(info, 0, "bytes", kMaxBytes);
  std::string tag = ArgString(info, 1, "tag");
  return Napi::Number::New(info.Env(), AllocBuffer(static_cast<size_t>(bytes), tag));
}

Napi::Value DeviceFree(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), FreeBuffer(ArgId(info, 0, "id")));
}

Napi::Value DeviceSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(GetBuffer(ArgId(info, 0, "id")).bytes));
}

Napi::Value DeviceUpload(const Napi::CallbackInfo& info) {
  uint32_t id = ArgId(info, 0, "id");
  uint64_t off = ArgSize(info, 1, "offset", kMaxBytes);
  Bytes src = ArgBytes(info, 2, "data");
  uint8_t* dst = BufferRange(id, off, src.size);
  if (src.size == 0) return info.Env().Undefined();
  cudaStream_t s = Stream(0);
  CHECK_CUDA(cudaMemcpyAsync(dst, src.data, src.size, cudaMemcpyHostToDevice, s));
  CHECK_CUDA(cudaStreamSynchronize(s));
  return info.Env().Undefined();
}

Napi::Value DeviceDownload(const Napi::CallbackInfo& info) {
  uint32_t id = ArgId(info, 0, "id");
  uint64_t off = ArgSize(info, 1, "offset", kMaxBytes);
  uint64_t len = ArgSize(info, 2, "length", (1ull << 32) - 1);
  uint8_t* src = BufferRange(id, off, len);
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(info.Env(), static_cast<size_t>(len));
  if (len == 0) return out;
  cudaStream_t s = Stream(0);
  CHECK_CUDA(cudaMemcpyAsync(out.Data(), src, len, cudaMemcpyDeviceToHost, s));
  CHECK_CUDA(cudaStreamSynchronize(s));
  return out;
}

Napi::Value DeviceCopy(const Napi::CallbackInfo& info) {
  uint32_t dstId = ArgId(info, 0, "dstId");
  uint64_t dstOff = ArgSize(info, 1, "dstOffset", kMaxBytes);
  uint32_t srcId = ArgId(info, 2, "srcId");
  uint64_t srcOff = ArgSize(info, 3, "srcOffset", kMaxBytes);
  uint64_t len = ArgSize(info, 4, "length", kMaxBytes);
  uint8_t* dst = BufferRange(dstId, dstOff, len);
  uint8_t* src = BufferRange(srcId, srcOff, len);
  if (len == 0) return info.Env().Undefined();
  cudaStream_t s = Stream(0);
  CHECK_CUDA(cudaMemcpyAsync(dst, src, len, cudaMemcpyDeviceToDevice, s));
  CHECK_CUDA(cudaStreamSynchronize(s));
  return info.Env().Undefined();
}

Napi::Value DeviceMemset(const Napi::CallbackInfo& info) {
  Buffer& b = GetBuffer(ArgId(info, 0, "id"));
  int v = static_cast<int>(ArgInt(info, 1, "value", 0, 255, 0));
  cudaStream_t s = Stream(0);
  CHECK_CUDA(cudaMemsetAsync(b.ptr, v, b.bytes, s));
  CHECK_CUDA(cudaStreamSynchronize(s));
  return info.Env().Undefined();
}

Napi::Value DeviceCountMismatches(const Napi::CallbackInfo& info) {
  uint32_t aId = ArgId(info, 0, "aId");
  uint64_t aOff = ArgSize(info, 1, "aOffset", kMaxBytes);
  uint32_t bId = ArgId(info, 2, "bId");
  uint64_t bOff = ArgSize(info, 3, "bOffset", kMaxBytes);
  uint64_t len = ArgSize(info, 4, "length", kMaxBytes);
  const uint8_t* a = BufferRange(aId, aOff, len);
  const uint8_t* b = BufferRange(bId, bOff, len);
  Lease counter(DeviceScratch(), sizeof(unsigned long long));
  Lease host(PinnedStaging(), sizeof(unsigned long long));
  auto* d = reinterpret_cast<unsigned long long*>(counter.data());
  auto* h = reinterpret_cast<unsigned long long*>(host.data());
  cudaStream_t s = Stream(0);
  SyncOnExit sync{s};
  CHECK_CUDA(cudaMemsetAsync(d, 0, sizeof(*d), s));
  LaunchCountMismatches(a, b, len, d, s);
  CHECK_CUDA(cudaMemcpyAsync(h, d, sizeof(*d), cudaMemcpyDeviceToHost, s));
  CHECK_CUDA(cudaStreamSynchronize(s));
  return Napi::Number::New(info.Env(), static_cast<double>(*h));
}

Napi::Value DeviceLedger(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array entries = Napi::Array::New(env);
  double own = 0;
  uint32_t k = 0;
  for (auto& kv : Buffers()) {
    Napi::Object e = Napi::Object::New(env);
    e.Set("id", kv.first);
    e.Set("tag", kv.second.tag);
    e.Set("bytes", static_cast<double>(kv.second.bytes));
    entries.Set(k++, e);
    own += static_cast<double>(kv.second.bytes);
  }
  size_t freeB = 0, totalB = 0;
  CHECK_CUDA(cudaMemGetInfo(&freeB, &totalB));
  Napi::Object o = Napi::Object::New(env);
  o.Set("entries", entries);
  o.Set("ownBytes", own);
  o.Set("scratchBytes", static_cast<double>(DeviceScratch().Held()));
  o.Set("pinnedBytes", static_cast<double>(PinnedStaging().Held()));
  o.Set("freeBytes", static_cast<double>(freeB));
  o.Set("totalBytes", static_cast<double>(totalB));
  return o;
}

Napi::Value DeviceSynchronize(const Napi::CallbackInfo& info) {
  CHECK_CUDA(cudaDeviceSynchronize());
  return info.Env().Undefined();
}

Napi::Value DeviceTrimScratch(const Napi::CallbackInfo& info) {
  size_t n = DeviceScratch().Trim() + PinnedStaging().Trim();
  return Napi::Number::New(info.Env(), static_cast<double>(n));
}

// Mean time of one cudaMemcpyAsync device-to-device of `bytes` (2 warm-up copies, then `iterations` timed ones).
Napi::Value DeviceCopyBandwidth(const Napi::CallbackInfo& info) {
  uint64_t bytes = ArgSize(info, 0, "bytes", kMaxBytes);
  int iters = static_cast<int>(ArgInt(info, 1, "iterations", 1, 100000, 20));
  CHECK_ARG(bytes > 0, "bytes must be positive");
  Lease a(DeviceScratch(), bytes), b(DeviceScratch(), bytes);
  cudaStream_t s = Stream(0);
  SyncOnExit sync{s};
  CHECK_CUDA(cudaMemsetAsync(a.data(), 1, bytes, s));
  for (int i = 0; i < 2; i++) CHECK_CUDA(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, s));
  cudaEvent_t e0, e1;
  CHECK_CUDA(cudaEventCreate(&e0));
  CHECK_CUDA(cudaEventCreate(&e1));
  float ms = 0;
  try {
    CHECK_CUDA(cudaEventRecord(e0, s));
    for (int i = 0; i < iters; i++) CHECK_CUDA(cudaMemcpyAsync(b.data(), a.data(), bytes, cudaMemcpyDeviceToDevice, s));
    CHECK_CUDA(cudaEventRecord(e1, s));
    CHECK_CUDA(cudaEventSynchronize(e1));
    CHECK_CUDA(cudaEventElapsedTime(&ms, e0, e1));
  } catch (...) {
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    throw;
  }
  cudaEventDestroy(e0);
  cudaEventDestroy(e1);
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("bytes", static_cast<double>(bytes));
  o.Set("iterations", iters);
  o.Set("ms", static_cast<double>(ms) / iters);
  return o;
}

Napi::Value EventCreate(const Napi::CallbackInfo& info) {
  cudaEvent_t e;
  CHECK_CUDA(cudaEventCreate(&e));
  uint32_t id = next_event_id++;
  Events()[id] = e;
  return Napi::Number::New(info.Env(), id);
}

cudaEvent_t GetEvent(uint32_t id) {
  auto it = Events().find(id);
  CHECK_ARG(it != Events().end(), "CUDA event " + std::to_string(id) + " does not exist");
  return it->second;
}

Napi::Value EventRecord(const Napi::CallbackInfo& info) {
  cudaEvent_t e = GetEvent(ArgId(info, 0, "id"));
  CHECK_CUDA(cudaEventRecord(e, Stream(ArgStream(info, 1))));
  return info.Env().Undefined();
}

Napi::Value EventElapsedMs(const Napi::CallbackInfo& info) {
  cudaEvent_t a = GetEvent(ArgId(info, 0, "startId"));
  cudaEvent_t b = GetEvent(ArgId(info, 1, "endId"));
  CHECK_CUDA(cudaEventSynchronize(b));
  float ms = 0;
  CHECK_CUDA(cudaEventElapsedTime(&ms, a, b));
  return Napi::Number::New(info.Env(), ms);
}

Napi::Value EventDestroy(const Napi::CallbackInfo& info) {
  auto it = Events().find(ArgId(info, 0, "id"));
  if (it == Events().end()) return Napi::Boolean::New(info.Env(), false);
  cudaEvent_t e = it->second;
  Events().erase(it);
  CHECK_CUDA(cudaEventDestroy(e));
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace

void InitDevice(Napi::Env env, Napi::Object exports) {
  EXPORT_FN(env, exports, "deviceCount", DeviceCount);
  EXPORT_FN(env, exports, "deviceInfo", DeviceInfo);
  EXPORT_FN(env, exports, "deviceAlloc", DeviceAlloc);
  EXPORT_FN(env, exports, "deviceFree", DeviceFree);
  EXPORT_FN(env, exports, "deviceSize", DeviceSize);
  EXPORT_FN(env, exports, "deviceUpload", DeviceUpload);
  EXPORT_FN(env, exports, "deviceDownload", DeviceDownload);
  EXPORT_FN(env, exports, "deviceCopy", DeviceCopy);
  EXPORT_FN(env, exports, "deviceMemset", DeviceMemset);
  EXPORT_FN(env, exports, "deviceCountMismatches", DeviceCountMismatches);
  EXPORT_FN(env, exports, "deviceLedger", DeviceLedger);
  EXPORT_FN(env, exports, "deviceSynchronize", DeviceSynchronize);
  EXPORT_FN(env, exports, "deviceTrimScratch", DeviceTrimScratch);
  EXPORT_FN(env, exports, "deviceCopyBandwidth", DeviceCopyBandwidth);
  EXPORT_FN(env, exports, "eventCreate", EventCreate);
  EXPORT_FN(env, exports, "eventRecord", EventRecord);
  EXPORT_FN(env, exports, "eventElapsedMs", EventElapsedMs);
  EXPORT_FN(env, exports, "eventDestroy", EventDestroy);
}

#else  // CPU-only build: no device functions (src/codec/device.ts reports msg.cudaUnavailable)
void InitDevice(Napi::Env env, Napi::Object exports) {}
#endif
