#!/usr/bin/env bash
# Builds the native addon -> native/build/Release/codecllm_native.node (Release).
#   CPU-only where no nvcc is found; with CUDA (sm_90) where nvcc is found (PATH, /usr/local/cuda/bin, or pip's
#   cuda-toolkit wheels); with nvCOMP where found (CODECLLM_NVCOMP_ROOT, or pip's nvidia-libnvcomp-cu13).
# Needs (Debian): cmake g++ libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev libxxhash-dev; npm: cmake-js,
# node-api-headers, node-addon-api (no Node header download: native/package.json marks the addon as Node-API).
# Env: CODECLLM_CUDA=OFF forces CPU-only; CODECLLM_NVCOMP_ROOT=<prefix>; CODECLLM_CUDA_ARCHS=90; JOBS=<n>.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(compile -d native --out native/build --config Release)
[ "${CODECLLM_CUDA:-}" = "OFF" ] && args+=(--CDCODECLLM_CUDA=OFF)
[ -n "${JOBS:-}" ] && args+=(--parallel "$JOBS")
npx --no-install cmake-js "${args[@]}"
node -e "const m=require('./native/build/Release/codecllm_native.node'); console.log('codecllm_native', JSON.stringify(m.buildInfo()))"
