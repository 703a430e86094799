// cpu/pool.cc — the CPU engine's persistent thread pool and its ISA choice.
// Declarations: cpu/engine.h.
#include "cpu/engine.h"

namespace codecllm {
namespace cpu {

Pool& GlobalPool() {
  static Pool* pool = [] {
    int n = (int)std::thread::hardware_concurrency();
    const int v = EnvInt("CODECLLM_THREADS", 0);
    if (v > 0 && v <= 256) n = v;
    return new Pool(n <= 0 ? 1 : n);  // never destroyed: workers live as long as the process
  }();
  return *pool;
}

bool HasAvx2() {
#if defined(CODECLLM_X86)
  static const bool ok = [] {
    __builtin_cpu_init();
    if (EnvSet("CODECLLM_NO_AVX2")) return false;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
  }();
  return ok;
#else
  return false;
#endif
}

}  // namespace cpu
}  // namespace codecllm
