#!/usr/bin/env bash
# Quick GPU check of the lossless bf16/fp16 GEMV alone (issue 14), without the model or Node.js: after
# `bash scripts/gpu/engine-on-device.sh prepare` here, one device call
#   carry [.gpuengine/twins]      command: bash scripts/gpu/lossless-on-device.sh
# runs the twin binary's lossless_gemv case (native/test/gpu_twins.cc) on the odd shapes, the TinyLlama and
# Llama-3.1-8B projection shapes (device decode bit-exact, GEMV vs twin, ms vs the plain 16-bit loop) and writes its
# CASE rows to $OUT/lossless-gemv.txt (+ gpu.txt: card, driver, date). The default cases of the binary also run
# inside scripts/gpu/check-engine.ts --part kernels (stage 4 of engine-on-device.sh).
set -uo pipefail
bin=$PWD/.gpuengine/twins/codecllm_gpu_twins
[ -x "$bin" ] || { echo "codecllm: lossless-on-device.sh: $bin missing (run engine-on-device.sh prepare here) [E_NATIVE]" >&2; exit 2; }
out=${OUT:-/tmp/out}; mkdir -p "$out"
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv; } | tee "$out/gpu.txt"
cases=(
  "rows=37 cols=264 f16=0 rowsPerSeg=4" "rows=5 cols=8 f16=1 rowsPerSeg=1" "rows=300 cols=1032 f16=1 rowsPerSeg=7"
  "rows=2048 cols=2048 f16=0 rowsPerSeg=1 iterations=200" "rows=2048 cols=2048 f16=0 rowsPerSeg=4 iterations=200"
  "rows=2048 cols=2048 f16=0 rowsPerSeg=16 iterations=200"
  "rows=5632 cols=2048 f16=0 rowsPerSeg=4 iterations=200" "rows=2048 cols=5632 f16=0 rowsPerSeg=4 iterations=200"
  "rows=4096 cols=4096 f16=0 rowsPerSeg=1 iterations=100" "rows=4096 cols=4096 f16=0 rowsPerSeg=4 iterations=100"
  "rows=4096 cols=4096 f16=0 rowsPerSeg=16 iterations=100"
  "rows=14336 cols=4096 f16=0 rowsPerSeg=4 iterations=50" "rows=14336 cols=4096 f16=0 rowsPerSeg=16 iterations=50"
  "rows=4096 cols=14336 f16=0 rowsPerSeg=4 iterations=50" "rows=4096 cols=14336 f16=0 rowsPerSeg=16 iterations=50"
)
ok=1
: > "$out/lossless-gemv.txt"
for i in "${!cases[@]}"; do
  # shellcheck disable=SC2086  # the case's key=value words
  "$bin" lossless_gemv ${cases[$i]} seed=$((500 + i)) | grep -v ' twins passed' | tee -a "$out/lossless-gemv.txt"
  [ "${PIPESTATUS[0]}" = 0 ] || ok=0
done
if [ $ok = 1 ]; then echo "lossless-gemv: all pass"; else echo "lossless-gemv: FAIL"; exit 1; fi
