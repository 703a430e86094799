#!/usr/bin/env bash
# Quick GPU check of the lossless bf16/fp16 GEMV alone (issue 14), without the model: after
# `bash scripts/gpu/engine-on-device.sh prepare` here, one device call
#   carry [.gpukit, .gpuengine/native]      command: bash scripts/gpu/lossless-on-device.sh
# runs losslessGemvTest on the odd shapes, the TinyLlama and Llama-3.1-8B projection shapes (device decode bit-exact,
# GEMV vs twin, ms vs the plain 16-bit loop) and writes $OUT/lossless-gemv.json (+ gpu.txt: card, driver, date).
# The same cases run inside scripts/gpu/check-engine.ts (stage 3 of engine-on-device.sh).
set -uo pipefail
source .gpukit/activate.sh
# /usr/local/cuda/lib64: libcublas.so.13, which the addon links (cuBLAS prefill GEMM), comes from the host's CUDA 13
export LD_LIBRARY_PATH=$PWD/.gpuengine/native/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
out=${OUT:-/tmp/out}; mkdir -p "$out"
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv; } | tee "$out/gpu.txt"
node -e '
const m = require(process.cwd() + "/.gpuengine/native/codecllm_native.node");
const cases = [
  { rows: 37, cols: 264, dtype: "bf16", rowsPerSeg: 4 }, { rows: 5, cols: 8, dtype: "f16", rowsPerSeg: 1 },
  { rows: 300, cols: 1032, dtype: "f16", rowsPerSeg: 7 },
  ...[1, 4, 16].map((r) => ({ rows: 2048, cols: 2048, dtype: "bf16", rowsPerSeg: r, iterations: 200 })),
  { rows: 5632, cols: 2048, dtype: "bf16", rowsPerSeg: 4, iterations: 200 }, { rows: 2048, cols: 5632, dtype: "bf16", rowsPerSeg: 4, iterations: 200 },
  ...[1, 4, 16].map((r) => ({ rows: 4096, cols: 4096, dtype: "bf16", rowsPerSeg: r, iterations: 100 })),
  ...[4, 16].map((r) => ({ rows: 14336, cols: 4096, dtype: "bf16", rowsPerSeg: r, iterations: 50 })),
  ...[4, 16].map((r) => ({ rows: 4096, cols: 14336, dtype: "bf16", rowsPerSeg: r, iterations: 50 })),
];
const rows = [];
let ok = true;
for (const [i, p] of cases.entries()) {
  let r;
  try { r = m.losslessGemvTest({ ...p, seed: 500 + i }); } catch (e) { r = { pass: false, error: e.message, code: e.code }; }
  ok = ok && r.pass;
  rows.push({ ...p, ...r });
  console.log(JSON.stringify({ ...p, ...r }));
}
require("fs").writeFileSync(process.argv[1] + "/lossless-gemv.json", JSON.stringify({ date: new Date().toISOString(), device: m.deviceInfo(), rows }, null, 1));
console.log(ok ? "lossless-gemv: all pass" : "lossless-gemv: FAIL");
process.exit(ok ? 0 : 1);
' "$out"
