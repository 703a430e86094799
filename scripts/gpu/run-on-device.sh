#!/usr/bin/env bash
# Runs ON the GPU host (the lead's device tool), from the repo root, with .gpukit and .gpubuild carried
# (make them here first: bash scripts/gpu/prepare.sh). The host has CUDA 13 nvcc, cmake, g++ and ninja, but no
# nvCOMP, no Node.js, no node_modules and no network.
#   1. source .gpukit/activate.sh           node + libnvcomp into /tmp/gpukit, PATH / LD_LIBRARY_PATH
#   2. cmake build of native/ (sm_90) with the carried headers/libraries -> native/build/Release/codecllm_native.node
#   3. node .gpubuild/check-nvcomp.mjs      correctness table (exit 1 on any failure)
#   4. node .gpubuild/bench-nvcomp.mjs      ratio / GB/s / fraction of D2D copy bandwidth
#   5. compute-sanitizer memcheck with CODECLLM_NVCOMP_EXACT=1 (nvCOMP temp space and output slots as separate
#      exact-size allocations, addresses on stderr) on the parts in SANITIZE_PARTS (default ans-file) and on parts
#      that stopped on a CUDA fault (check-nvcomp.json "faulted"), at most SANITIZE_MAX (3), SANITIZE_TIMEOUT (90) s each
# Results go to $OUT (env.txt, build.log, check-nvcomp.{txt,json}, bench-nvcomp.{txt,md,json}, sanitizer-*.txt).
# Env: CHECK_MIB (8), BENCH_MIB (256), BENCH_ITERS (10), SKIP_BENCH=1, SANITIZE_PARTS, SANITIZE_MAX, SANITIZE_TIMEOUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-$PWD/out-gpu}
mkdir -p "$OUT"
G=$PWD/.gpubuild
[ -f .gpukit/activate.sh ] && [ -d "$G/nvcomp/include" ] || { echo "run-on-device: carry .gpukit and .gpubuild (bash scripts/gpu/prepare.sh)" >&2; exit 2; }
# shellcheck disable=SC1091
source .gpukit/activate.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  nvcc --version | tail -2
  cmake --version | head -1
  echo "node $(node --version)"
  ls /tmp/gpukit/lib
} 2>&1 | tee "$OUT/env.txt"

NVROOT=/tmp/codecllm-nvcomp
rm -rf "$NVROOT" && mkdir -p "$NVROOT" && ln -s "$G/nvcomp/include" "$NVROOT/include" && ln -s /tmp/gpukit/lib "$NVROOT/lib"
gen=(); command -v ninja >/dev/null && gen=(-G Ninja)
BUILD=/tmp/codecllm-build
rm -rf "$BUILD"
{
  cmake -S native -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$(command -v nvcc)" \
    -DCODECLLM_NODE_API_INC="$G/include/node-api;$G/include/node-addon-api" -DCODECLLM_NVCOMP_ROOT="$NVROOT" \
    -DCODECLLM_CODEC_ROOT="$G/codecs" -DCMAKE_LIBRARY_OUTPUT_DIRECTORY="$PWD/native/build/Release" &&
    cmake --build "$BUILD" -j "$(nproc)"
} > "$OUT/build.log" 2>&1
rc=$?
tail -5 "$OUT/build.log"
[ $rc = 0 ] || { echo "run-on-device: native build failed (see build.log)"; grep -E "error|Error" "$OUT/build.log" | head -20; exit 3; }
node -e "const m=require('./native/build/Release/codecllm_native.node'); let d; try { d = m.deviceInfo(); } catch (e) { d = e.message; } console.log(JSON.stringify({build: m.buildInfo(), nvcomp: m.nvcompInfo(), device: d}))" 2>&1 | tee -a "$OUT/env.txt"

node .gpubuild/check-nvcomp.mjs --mib "${CHECK_MIB:-8}" --out "$OUT/check-nvcomp.json" 2>&1 | tee "$OUT/check-nvcomp.txt"
check=${PIPESTATUS[0]}
bench=0
if [ "${SKIP_BENCH:-0}" != 1 ]; then
  node .gpubuild/bench-nvcomp.mjs --mib "${BENCH_MIB:-256}" --iters "${BENCH_ITERS:-10}" --out-dir "$OUT" 2>&1 | tee "$OUT/bench-nvcomp.txt"
  bench=${PIPESTATUS[0]}
fi
# compute-sanitizer memcheck (CODECLLM_NVCOMP_EXACT=1): the parts in SANITIZE_PARTS (default: ans-file, the ANS repro
# of the issue's bug 2), then parts that stopped on a fault, except observations of undefined behaviour (raw-corrupt:*)
# and the binding-as-before repro
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
if [ -n "$CS" ] && [ -f "$OUT/check-nvcomp.json" ]; then
  { for p in ${SANITIZE_PARTS-ans-file}; do echo "$p"; done
    node -e '
      const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      for (const x of j.faulted || []) if (!x.part.startsWith("raw-") && !x.env) console.log(x.part);
    ' "$OUT/check-nvcomp.json"; } | awk '!seen[$0]++' | head -"${SANITIZE_MAX:-3}" | while read -r part; do
    f="$OUT/sanitizer-${part//[:\/]/-}.txt"
    echo "run-on-device: compute-sanitizer memcheck on part $part -> $(basename "$f")"
    env CODECLLM_NVCOMP_EXACT=1 timeout "${SANITIZE_TIMEOUT:-90}" "$CS" --tool memcheck --print-limit 12 \
      node .gpubuild/check-nvcomp.mjs --part "$part" --mib "${CHECK_MIB:-8}" > "$f" 2>&1
    echo "  exit $?; $(grep -c "Invalid" "$f") 'Invalid' lines"; grep -m 12 -E "ROW|ERROR SUMMARY|Invalid|bytes after|by thread|nvcomp-debug|FAULT" "$f" | cut -c1-260
  done
fi
echo "run-on-device: check exit $check, bench exit $bench; results in $OUT"
exit $((check != 0 ? 1 : bench != 0 ? 4 : 0))
