// pdl.cuh — the engine kernels' launch helpers (LaunchK, RaiseSmem) and programmatic dependent launch (PDL, sm_90);
// included by engine_*.cu only.
//
// With PDL a kernel may start while the kernel before it in the stream is still finishing: its blocks become resident
// as soon as every block of the previous kernel has executed `griddepcontrol.launch_dependents` (PdlTrigger), and
// they must execute `griddepcontrol.wait` (PdlWait) before touching anything the previous kernels wrote. The wait
// returns only when the previous grid has completed and its memory is visible, and every engine kernel waits, so the
// ordering is transitive down the stream. Without the launch attribute both instructions are no-ops.
//
// What the decode step gains: a GEMV issues the first loads of its weight rows *before* its wait — weights are not
// written by the forward pass — so the weight stream of kernel n+1 overlaps the tail of kernel n and the launch gap.
// That is only sound while nothing in the stream writes weights: the engine turns PDL off for the schedules that
// decode weights inside the forward (decode-per-forward, fused) and for every launch outside its forward
// (SetPdl(false) is the default; gpu_engine.cc's PdlScope turns it on around a forward). CODECLLM_PDL=0 disables it.
#pragma once
#include <cuda_runtime.h>

#include <mutex>
#include <set>
#include <utility>

#include "../check.h"

namespace codecllm {
namespace engine {

bool PdlOn();  // pdl_switch.cu

__device__ __forceinline__ void PdlWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void PdlTrigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

/** cudaFuncSetAttribute(MaxDynamicSharedMemorySize, bytes) once per kernel. */
template <class F>
void RaiseSmem(F* k, int bytes) {
  static std::mutex m;
  static std::set<const void*> done;
  std::lock_guard<std::mutex> g(m);
  if (done.count(reinterpret_cast<const void*>(k))) return;
  CHECK_CUDA(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
  done.insert(reinterpret_cast<const void*>(k));
}

/** kernel<<<grid, block, smem, s>>>(args...) with the PDL launch attribute when PdlOn(); checks the launch. */
template <typename... KArgs, typename... Args>
void LaunchK(void (*kernel)(KArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t s, Args&&... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = s;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = PdlOn() ? 1 : 0;
  CHECK_CUDA(cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...));
}

}  // namespace engine
}  // namespace codecllm
