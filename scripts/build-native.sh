#!/usr/bin/env bash
# Builds the native addon -> native/build/Release/codecllm_native.node (Release).
#   CPU-only where no nvcc is found; with CUDA (sm_90) where nvcc is found (CUDACXX, PATH, /usr/local/cuda/bin, or
#   pip's cuda-toolkit wheels); with nvCOMP where found (CODECLLM_NVCOMP_ROOT, or pip's nvidia-libnvcomp-cu13).
# Needs (Debian): cmake g++ ninja-build|make libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev libxxhash-dev;
# npm: cmake-js, node-api-headers, node-addon-api (no Node header download: native/package.json marks the addon as
# Node-API, so cmake-js takes the headers from the node-api-headers package). Works offline.
# Env: CODECLLM_CUDA=OFF forces CPU-only; CODECLLM_NVCOMP_ROOT=<prefix>; CODECLLM_CUDA_ARCHS=90; JOBS=<n>.
set -euo pipefail
cd "$(dirname "$0")/.."
common=(-d native --out native/build --config Release)
# configure every time: switches (CODECLLM_CUDA) and newly added native/src files must take effect
npx --no-install cmake-js configure "${common[@]}" "--CDCODECLLM_CUDA=${CODECLLM_CUDA:-ON}" >/dev/null
npx --no-install cmake-js build "${common[@]}" ${JOBS:+--parallel "$JOBS"} | grep -v "^\(INFO\|  '\|\]\)" || true
test -f native/build/Release/codecllm_native.node
test -x native/build/Release/codecllm_cpu_twins  # the twin test binaries are built beside the addon (native/test/*.cc)
node -e "const m=require('./native/build/Release/codecllm_native.node'); console.log('codecllm_native', JSON.stringify(m.buildInfo()))"
