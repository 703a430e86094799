#!/usr/bin/env bash
# issue 17: the local executor on GPUs vs the in-process sweep — same 16-point plan of the Llama-3.2-1B shape
# (random weights, real tokenizer), cuda engine. Prints wall times, the executor's overhead (N=1) or speed-up (N>1),
# and checks that the merged rows equal the in-process rows (every field but time_s).
#   bash scripts/gpu/bench-exec.sh 0          # one GPU: overhead target <= 5%
#   bash scripts/gpu/bench-exec.sh 0,1,2,3    # N GPUs: speed-up target >= 0.9 x N
# Env: CODECLLM (default: node bin/codecllm.js), MODEL (a path or a named model; default data/shapes/llama3.2-1b,
#      made when missing),
#      TOKENS (512), LAYERS (the 16 points), ENGINE (cuda), OUT (default out-exec).
set -euo pipefail
cd "$(dirname "$0")/../.."
GPUS=${1:?usage: bench-exec.sh GPU_IDS (e.g. 0 or 0,1,2,3)}
CLI=${CODECLLM:-node bin/codecllm.js}
MODEL=${MODEL:-data/shapes/llama3.2-1b}
OUT=${OUT:-$PWD/out-exec}
export CODECLLM_PROGRESS=0
mkdir -p "$OUT"
if [ "$MODEL" = data/shapes/llama3.2-1b ] && [ ! -e "$MODEL" ]; then $CLI make-shape llama3.2-1b --out "$MODEL"; fi
ARGS=("$MODEL" --layers "${LAYERS:-1,2,4,8,12,16,24,32,40,48,56,64,72,88,100,all}" --quant int8:per-channel --tokens "${TOKENS:-512}" --engine "${ENGINE:-cuda}")
PLAN=$OUT/plan.jsonl
rm -rf "$PLAN" "$PLAN.results"
$CLI sweep "${ARGS[@]}" --plan "$PLAN" >/dev/null
now() { date +%s.%N; }
{ nvidia-smi --query-gpu=index,name --format=csv,noheader || echo 'no nvidia-smi'; echo "date $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"; } | tee "$OUT/env.txt"
t0=$(now); CUDA_VISIBLE_DEVICES=${GPUS%%,*} $CLI sweep "${ARGS[@]}" --json >"$OUT/sweep.json"; t1=$(now)
$CLI job exec "$PLAN" --gpus "$GPUS" --json >"$OUT/exec.json"; t2=$(now)
$CLI job merge "$PLAN" --json >"$OUT/merge.json"
node -e '
const [dir, a, b, c, gpus] = process.argv.slice(1);
const f = (n) => JSON.parse(require("fs").readFileSync(`${dir}/${n}.json`, "utf8"));
const strip = (rows) => JSON.stringify(rows.map(({ time_s, ...r }) => r));
const sweep = b - a, exec = c - b, n = gpus.split(",").length;
console.log(`in-process sweep ${sweep.toFixed(1)} s; job exec --gpus ${gpus} ${exec.toFixed(1)} s; ` +
  (n === 1 ? `overhead ${((exec / sweep - 1) * 100).toFixed(1)}%` : `speed-up ${(sweep / exec).toFixed(2)}x on ${n} GPUs (${(sweep / exec / n).toFixed(2)} x N)`) +
  `; merged rows equal the in-process rows: ${strip(f("sweep").rows) === strip(f("merge").rows)}`);
' "$OUT" "$t0" "$t1" "$t2" "$GPUS" | tee "$OUT/result.txt"
