#!/usr/bin/env bash
# Installs everything codecllm and its tests need on a fresh machine of this kind (Debian, Node 20, Python 3),
# idempotently: Debian packages (compression libraries for the native addon, chromium for the report test,
# slurm-wlm for the one-node Slurm cluster test/jobs-slurm.test.ts starts),
# npm packages (npm ci), Python packages for notebook execution, the native addon, the compiled library and the
# named models (default, gemma3-270m). Each step prints one line.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '[setup] %s\n' "$*"; }

# --- Debian packages
APT_PKGS=(cmake g++ ninja-build libzstd-dev liblz4-dev zlib1g-dev libsnappy-dev libxxhash-dev chromium fonts-dejavu-core slurm-wlm)
missing=()
for p in "${APT_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- npm
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Python packages for notebook execution (reports) and JupyterLab (live test), pinned in scripts/setup-report.sh
if ! python3 -c "import nbclient, nbconvert, nbformat, ipykernel, jupyterlab" 2>/dev/null; then
  say "python packages for reports"
  bash scripts/setup-report.sh --no-apt | sed 's/^/[setup] /'
fi
# Python's safetensors reads what `codecllm decompress` writes (test/cllm-model.test.ts checks it)
if ! python3 -c "import safetensors.numpy" 2>/dev/null; then
  say "pip install safetensors==0.8.0 numpy==2.4.6"
  python3 -m pip install -q --disable-pip-version-check "safetensors==0.8.0" "numpy==2.4.6"
fi

# --- CUDA 13 toolkit (nvcc, runtime, CCCL), cuBLAS and nvCOMP from PyPI, so the CUDA sources compile here too (no
#     GPU is needed to compile; CI checks the CUDA build). cuBLAS (the CUDA engine's prefill GEMM,
#     native/src/gpu/prefill_gemm.h) comes as the toolkit's own pin: cuda-toolkit 13.0.2's [cublas] extra is
#     nvidia-cublas==13.1.0.3 (headers + libcublas.so.13 / libcublasLt.so.13, ~600 MB). CODECLLM_CUDA=OFF skips this
#     and builds CPU-only.
if [ "${CODECLLM_CUDA:-ON}" != OFF ]; then
  # one `pip show` per package: with several names pip exits 0 when any one of them is installed
  if ! { python3 -m pip show -q cuda-toolkit && python3 -m pip show -q nvidia-libnvcomp-cu13 && python3 -m pip show -q nvidia-cublas; } >/dev/null 2>&1; then
    say "pip install cuda-toolkit[nvcc,cccl,cudart,crt,nvvm,cublas]==13.0.2 nvidia-libnvcomp-cu13==5.1.0.21"
    python3 -m pip install -q --disable-pip-version-check "cuda-toolkit[nvcc,cccl,cudart,crt,nvvm,cublas]==13.0.2" "nvidia-libnvcomp-cu13==5.1.0.21"
  fi
fi

# --- native addon (CPU-only when no nvcc)
if [ -f scripts/build-native.sh ]; then say "native addon"; bash scripts/build-native.sh; fi

# --- library
say "tsc build"
node_modules/.bin/tsc -p tsconfig.json

# --- default model and the second named model (gemma3-270m); both skip the download when the hash matches
bash scripts/fetch-default-model.sh | sed 's/^/[setup] /'
bash scripts/fetch-gemma3-model.sh | sed 's/^/[setup] /'
