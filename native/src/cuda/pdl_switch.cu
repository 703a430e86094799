// pdl_switch.cu — the per-thread programmatic-dependent-launch switch of the engine's kernels (pdl.cuh reads PdlOn;
// SetPdl is declared in engine.cuh). Honoured only on sm_90+ and where CODECLLM_PDL is not "0".
#include <cuda_runtime_api.h>

#include "../env.h"
#include "engine.cuh"
#include "pdl.cuh"

namespace codecllm {
namespace engine {

namespace {

thread_local bool t_pdl = false;

bool PdlAllowed() {
  static const bool ok = [] {
    if (!EnvFlag("CODECLLM_PDL", true)) return false;
    int dev = 0, major = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
      (void)cudaGetLastError();
      return false;
    }
    return major >= 9;
  }();
  return ok;
}

}  // namespace

bool PdlOn() { return t_pdl; }
bool SetPdl(bool on) {
  bool prev = t_pdl;
  t_pdl = on && PdlAllowed();
  return prev;
}

}  // namespace engine
}  // namespace codecllm
