#!/usr/bin/env bash
# GPU engine checks + bench on the GPU host (no Node.js, no nvCOMP, no network there), in stages that fit the
# device tool's 64 MiB carry limit. Run from the repository root.
#
#   here:   bash scripts/gpu/engine-on-device.sh prepare
#             builds the addon and the twin binary codecllm_gpu_twins here (CUDA 13 + nvCOMP from pip, sm_90) into
#             .gpuengine/build, copies the addon and the codec .so files it links into .gpuengine/native and the twin
#             binary into .gpuengine/twins (carried with call 2: call 3 is near the 64 MiB limit), bundles the
#             scripts with esbuild into .gpuengine/dist, makes the reference logits here on the CPU (.gpuengine/ref:
#             TS model, original + int8 + every patched lab scheme; only what .gpuengine/ref lacks is made: nothing
#             when complete, a new scheme alone, ~15 min from empty), packs node + nvCOMP (.gpukit, via
#             ../shared/gpu/kit.sh, from a git worktree the main checkout's) and splits the default model into
#             .gpuengine/m1 m2 m3; last it prints each call's carry + the tracked tree against the 64 MiB limit.
#   device, one call after the other while the machine stays warm (it keeps /tmp); each call well under 4 min
#   (each carry below + the ~9.5 MB tree stays under 64 MiB: the twin binary made call 2 of the former three too big):
#     1. carry [.gpukit]                                           command: bash scripts/gpu/engine-on-device.sh 1
#     2. carry [.gpuengine/m1, .gpuengine/ref, .gpuengine/twins]   command: bash scripts/gpu/engine-on-device.sh 2
#     3. carry [.gpuengine/m2, .gpuengine/dist, .gpuengine/native] command: bash scripts/gpu/engine-on-device.sh 3
#     4. carry [.gpuengine/m3]                                     command: bash scripts/gpu/engine-on-device.sh 4
#          (reassembles the model; check part 'kernels': codecllm_gpu_twins, lossless_gemv included)
#     4. no carry   command: bash scripts/gpu/engine-on-device.sh check logits     (every mode vs the TS reference)
#     5. no carry   command: bash scripts/gpu/engine-on-device.sh check patched    (lab schemes vs stored tfjs logits)
#     5b. no carry  command: bash scripts/gpu/engine-on-device.sh check prefill    (cuBLAS prefill == own GEMM, ledger)
#     6. no carry   command: bash scripts/gpu/engine-on-device.sh check batch      (batched == single, profile, PDL)
#     7. no carry   command: bash scripts/gpu/engine-on-device.sh check chunks     (corrupted nvCOMP chunk)
#     8. no carry   command: bash scripts/gpu/engine-on-device.sh bench            (hf_baseline.py + bench-engine.ts)
#   Each writes check-<part>.json / check-<part>.log (bench: bench-engine.*) under $OUT.
#   The addon links libcublas.so.13 (prefill GEMM): it is NOT carried; the host's CUDA 13 provides it through
#   /usr/local/cuda/lib64 on LD_LIBRARY_PATH (the check and bench stages set it).
#
# Architecture features on CUDA (issue 13): the zoo's tiny checkpoints travel in the tree (data/reference/zoo), so
#   here:   bash scripts/gpu/engine-on-device.sh prepare        (as above; or prepare-gemma, which also does the below)
#   device: carry [.gpukit]                 command: source .gpukit/activate.sh && cp .gpukit/activate.sh /tmp/gpukit/
#           carry [.gpuengine/dist, .gpuengine/native, .gpuengine/twins]   command: bash scripts/gpu/engine-on-device.sh zoo
#   runs the kernel twins + every zoo checkpoint on the CUDA engine ($OUT/check-zoo.json, check-zoo.log).
# Gemma 3 270M (253 MB GGUF: more than one 64 MiB carry):
#   here:   bash scripts/gpu/engine-on-device.sh prepare-gemma
#             prepare's build/bundle, the tfjs reference logits of gemma3-270m (.gpuengine/ref-gemma: the short prompt,
#             5 steps, original weights and int8 per-channel patched) and the GGUF split into
#             .gpuengine/g1 .. g6 (48 MB each, the last one small)
#   device, calls within 30 s of each other (the machine keeps /tmp while warm):
#     carry [.gpukit]                           command: source .gpukit/activate.sh && cp .gpukit/activate.sh /tmp/gpukit/
#     carry [.gpuengine/gN]  for N = 1 .. 5     command: bash scripts/gpu/engine-on-device.sh gemma-part N
#     carry [.gpuengine/g6, .gpuengine/dist, .gpuengine/native, .gpuengine/twins, .gpuengine/ref-gemma]
#                                               command: bash scripts/gpu/engine-on-device.sh gemma 6
#   (the last call copies its part, reassembles and sha256-checks the file, then runs the kernel twins, the zoo and
#   the Gemma 3 checks — vs the tfjs reference and vs transformers' stored top-64 logits, short and 600-token prompts:
#   $OUT/check-gemma.json, check-gemma.log)
set -uo pipefail
stage=${1:?usage: engine-on-device.sh prepare|prepare-gemma|1|2|3|4|check <part>|bench|zoo|gemma-part N|gemma N}
gemma=${CODECLLM_GEMMA_MODEL:-data/models/gemma-3-270m-q4_k_m.gguf}
# the environment of the device runs (node from the kit, the addon and its codec libraries from the bundle)
device_env() {
  export GPUKIT_DIR=/tmp/gpukit PATH=/tmp/gpukit/bin:$PATH
  export LD_LIBRARY_PATH=$PWD/.gpuengine/native/lib:/tmp/gpukit/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
  export CODECLLM_NATIVE=$PWD/.gpuengine/native/codecllm_native.node CODECLLM_BACKEND=cpu PYTHONUNBUFFERED=1
  export CODECLLM_TWINS_DIR=$PWD/.gpuengine/twins  # codecllm_gpu_twins (carried beside, not inside, native/)
}
model=${CODECLLM_MODEL:-data/models/SmolLM2-135M-Instruct.Q4_1.gguf}
case $stage in
  prepare)
    set -e
    # a fresh clone has no .gpuengine/ yet (the logs below are redirected into it), and in a git worktree .git is a
    # file: ask git where info/exclude lives
    mkdir -p .gpuengine
    exclude=$(git rev-parse --git-path info/exclude)
    mkdir -p "$(dirname "$exclude")"
    grep -qsx "/.gpuengine/" "$exclude" || echo "/.gpuengine/" >> "$exclude"
    npx --no-install cmake-js configure -d native --out .gpuengine/build --config Release --CDCODECLLM_CUDA=ON > .gpuengine/configure.log
    npx --no-install cmake-js build -d native --out .gpuengine/build --config Release --parallel "${JOBS:-2}" > .gpuengine/build.log
    mkdir -p .gpuengine/native/lib .gpuengine/dist
    rm -rf .gpuengine/twins && mkdir -p .gpuengine/twins
    cp .gpuengine/build/Release/codecllm_native.node .gpuengine/native/
    cp .gpuengine/build/Release/codecllm_gpu_twins .gpuengine/twins/
    for l in libzstd.so.1 libsnappy.so.1 libz.so.1; do cp -L "$(ldconfig -p | awk -v l=$l '$1==l {print $NF; exit}')" .gpuengine/native/lib/; done
    for s in check-engine bench-engine; do
      node_modules/.bin/esbuild "scripts/gpu/$s.ts" --bundle --platform=node --format=esm --target=node20 --log-level=error --ignore-annotations \
        --outfile=".gpuengine/dist/$s.mjs" --banner:js="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
    done
    # the tfjs references (~15 min from nothing); --only-missing keeps a stored ref.json and the stored patched
    # schemes, and makes only the schemes PATCHED_SCHEMES added since (seconds when none)
    node --import tsx scripts/gpu/check-engine.ts --make-reference .gpuengine/ref --model "$model" --only-missing
    # the kit script lives beside the main checkout (../shared); a git worktree elsewhere finds it through the
    # main checkout (git's common dir); its output .gpukit/ is in .gitignore
    kit=../shared/gpu/kit.sh
    [ -f "$kit" ] || kit="$(dirname "$(git rev-parse --path-format=absolute --git-common-dir)")/../shared/gpu/kit.sh"
    bash "$kit" > /dev/null
    rm -rf .gpuengine/m1 .gpuengine/m2 .gpuengine/m3; mkdir -p .gpuengine/m1 .gpuengine/m2 .gpuengine/m3
    sha256sum "$model" | awk '{print $1}' > .gpuengine/native/model.sha256
    dd if="$model" of=.gpuengine/m1/model.part.1 bs=1M iflag=count_bytes count=33000000 status=none
    dd if="$model" of=.gpuengine/m2/model.part.2 bs=1M iflag=skip_bytes,count_bytes skip=33000000 count=33000000 status=none
    dd if="$model" of=.gpuengine/m3/model.part.3 bs=1M iflag=skip_bytes skip=66000000 status=none
    du -sh .gpukit .gpuengine/m1 .gpuengine/m2 .gpuengine/m3 .gpuengine/dist .gpuengine/native .gpuengine/ref .gpuengine/twins
    # each device call's carry plus the working tree the device tool sends with it (tracked files), vs 64 MiB
    tree=$(git ls-files -z | du -cb --files0-from=- | tail -1 | cut -f1)
    for c in ".gpukit" ".gpuengine/m1 .gpuengine/ref .gpuengine/twins" ".gpuengine/m2 .gpuengine/dist .gpuengine/native" ".gpuengine/m3"; do
      b=$(du -scb $c | tail -1 | cut -f1)
      echo "carry [$c] + tree: $(( (b + tree) >> 20 )) MiB$([ $((b + tree)) -le $((64 << 20)) ] || echo ' OVER the 64 MiB limit')"
    done
    ;;
  prepare-gemma)
    set -e
    bash "$0" prepare
    # the short prompt only (--no-long): the tfjs cpu backend needs 15+ min for a prompt past the 512-token window on
    # a 2-core host (wasm runs out of heap there); the window is checked against transformers' stored logits of a
    # 600-token prompt instead (data/reference/gemma3-transformers.json, in the tree). The short prompt fits wasm.
    [ -f .gpuengine/ref-gemma/ref.json ] || node --import tsx scripts/gpu/check-engine.ts --make-reference .gpuengine/ref-gemma --model "$gemma" --no-long --no-patched
    rm -rf .gpuengine/g[0-9]*; mkdir -p .gpuengine/gsplit
    split -b 48000000 -d -a 1 "$gemma" .gpuengine/gsplit/gemma.part.
    n=0
    for f in .gpuengine/gsplit/gemma.part.*; do n=$((n + 1)); mkdir -p ".gpuengine/g$n"; mv "$f" ".gpuengine/g$n/gemma.part.$n"; done
    rmdir .gpuengine/gsplit
    sha256sum "$gemma" | awk '{print $1}' > .gpuengine/native/gemma.sha256
    echo "$n" > .gpuengine/native/gemma.parts
    du -sh .gpuengine/g[0-9]* .gpuengine/ref-gemma .gpuengine/dist .gpuengine/native
    ;;
  zoo)
    device_env
    out=${OUT:-/tmp/out}; mkdir -p "$out"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
    node .gpuengine/dist/check-engine.mjs --no-default --out "$out/check-zoo.json" 2>&1 | tee "$out/check-zoo.log"
    echo "check-engine (zoo) exit ${PIPESTATUS[0]}"
    ;;
  gemma-part)
    cp ".gpuengine/g$2/gemma.part.$2" /tmp/ && ls -la /tmp/gemma.part.*
    ;;
  gemma)
    cp ".gpuengine/g$2/gemma.part.$2" /tmp/
    n=$(cat .gpuengine/native/gemma.parts)
    for i in $(seq 1 "$n"); do [ -f "/tmp/gemma.part.$i" ] || { echo "gemma: /tmp/gemma.part.$i missing (run gemma-part $i first)"; exit 2; }; done
    for i in $(seq 1 "$n"); do cat "/tmp/gemma.part.$i"; done > /tmp/gemma.gguf
    [ "$(sha256sum /tmp/gemma.gguf | awk '{print $1}')" = "$(cat .gpuengine/native/gemma.sha256)" ] || { echo "gemma reassembly: sha256 mismatch"; exit 2; }
    device_env
    out=${OUT:-/tmp/out}; mkdir -p "$out"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$out/gpu.txt"
    node .gpuengine/dist/check-engine.mjs --no-default --gemma-ref .gpuengine/ref-gemma --gemma-model /tmp/gemma.gguf --out "$out/check-gemma.json" 2>&1 | tee "$out/check-gemma.log"
    echo "check-engine (gemma) exit ${PIPESTATUS[0]}"
    ;;
  1)
    source .gpukit/activate.sh && node --version && cp .gpukit/activate.sh /tmp/gpukit/activate.sh
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
    ;;
  2)
    rm -f /tmp/model.part.* && cp .gpuengine/m1/model.part.1 /tmp/
    rm -rf /tmp/ge && mkdir -p /tmp/ge/native && cp -r .gpuengine/ref /tmp/ge/ && cp .gpuengine/twins/codecllm_gpu_twins /tmp/ge/native/
    du -sh /tmp/ge/*
    ;;
  3)
    cp .gpuengine/m2/model.part.2 /tmp/ && ls -la /tmp/model.part.*
    cp -r .gpuengine/dist /tmp/ge/ && cp -r .gpuengine/native/. /tmp/ge/native/
    du -sh /tmp/ge/*
    ;;
  4)
    cp .gpuengine/m3/model.part.3 /tmp/
    cat /tmp/model.part.1 /tmp/model.part.2 /tmp/model.part.3 > /tmp/model.gguf
    [ "$(sha256sum /tmp/model.gguf | awk '{print $1}')" = "$(cat /tmp/ge/native/model.sha256)" ] || { echo "model reassembly: sha256 mismatch"; exit 2; }
    exec bash "$0" check kernels
    ;;
  check|bench)
    export GPUKIT_DIR=/tmp/gpukit PATH=/tmp/gpukit/bin:$PATH
    export LD_LIBRARY_PATH=/tmp/ge/native/lib:/tmp/gpukit/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
    export CODECLLM_NATIVE=/tmp/ge/native/codecllm_native.node CODECLLM_BACKEND=cpu PYTHONUNBUFFERED=1
    out=${OUT:-/tmp/out}; mkdir -p "$out"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/gpu.txt"
    if [ "$stage" = check ]; then
      part=${2:?usage: engine-on-device.sh check kernels|zoo|logits|patched|prefill|batch|chunks}
      # extra arguments go to check-engine, e.g. check patched --schemes int4:group=64,nf4:group=64
      node /tmp/ge/dist/check-engine.mjs --part "$part" --ref /tmp/ge/ref --model /tmp/model.gguf --out "$out/check-$part.json" "${@:3}" 2>&1 | tee "$out/check-$part.log"
      check=${PIPESTATUS[0]}
      echo "check-engine --part $part exit $check"
      exit "$check"
    fi
    timeout 240 python3 scripts/gpu/hf_baseline.py --json "$out/hf.json" --prefill-lens "${PREFILL_LENS:-4,16,64,128,512}" 2>&1 | tee /tmp/hf.log
    node /tmp/ge/dist/bench-engine.mjs --model /tmp/model.gguf --out "$out" --hf "$out/hf.json" ${BENCH_ARGS:-} 2>&1 | tee "$out/bench.log"
    # launch-feature variants (measurement only), e.g. BENCH_ENV_VARIANTS="CODECLLM_GEMV_PREFETCH=0 CODECLLM_PDL_LATE_TRIGGER=0":
    # each runs the fp16 / int8 rows (PDL on and off; BENCH_VARIANT_MODES to choose) once more with that variable set;
    # tables in $out/bench-variants.md (the device tool returns a handful of files: one file for all variants)
    n=0
    for v in ${BENCH_ENV_VARIANTS:-}; do
      n=$((n + 1))
      env "$v" node /tmp/ge/dist/bench-engine.mjs --model /tmp/model.gguf --out "/tmp/variant$n" --hf "$out/hf.json" \
        --modes "${BENCH_VARIANT_MODES:-fp16,fp16@nopdl,int8,int8@nopdl}" > "/tmp/variant$n.log" 2>&1
      { echo; echo "## variant $n: $v"; echo; cat "/tmp/variant$n/bench-engine.md"; } >> "$out/bench-variants.md"
    done
    ;;
  *)
    echo "engine-on-device.sh: unknown stage '$stage' (prepare|prepare-gemma|1|2|3|4|check <part>|bench|zoo|gemma-part N|gemma N)"; exit 2
    ;;
esac
