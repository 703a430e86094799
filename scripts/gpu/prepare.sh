#!/usr/bin/env bash
# Run HERE (the dev machine) before a GPU run: fills the git-ignored carry folders for scripts/gpu/run-on-device.sh.
#   .gpukit/    node + libnvcomp (xz), by ../shared/gpu/kit.sh (pip install nvidia-libnvcomp-cu13==5.1.0.21 first)
#   .gpubuild/  what the addon's cmake build needs on the GPU host, which has nvcc/cmake/g++ but no nvCOMP headers,
#               no node_modules and no network:
#                 include/node-api, include/node-addon-api   Node-API headers (npm node-api-headers, node-addon-api)
#                 nvcomp/include                             nvCOMP headers of the same wheel as .gpukit's library
#                 codecs/{include,lib}                       zstd/lz4/zlib/snappy/xxhash headers; liblz4.a and
#                                                            libxxhash.a (PIC), libzstd/libz/libsnappy .so.1 (Debian 12)
#                 check-nvcomp.mjs, bench-nvcomp.mjs         the GPU scripts bundled by esbuild (no node_modules needed)
#                 samples/                                   the default model's weight samples (make-samples.ts)
# Prints the sizes (tree + carry must stay under the device tool's 64 MiB) and the device command.
set -euo pipefail
cd "$(dirname "$0")/../.."
G=.gpubuild
for d in /.gpubuild/ /.gpukit/; do grep -qx "$d" .git/info/exclude 2>/dev/null || echo "$d" >> .git/info/exclude; done
rm -rf "$G/include" "$G/nvcomp" "$G/codecs" "$G"/*.mjs
mkdir -p "$G/include/node-addon-api" "$G/nvcomp" "$G/codecs/include" "$G/codecs/lib"

cp -r node_modules/node-api-headers/include "$G/include/node-api"
cp node_modules/node-addon-api/napi.h node_modules/node-addon-api/napi-inl.h node_modules/node-addon-api/napi-inl.deprecated.h "$G/include/node-addon-api/"

NV=${CODECLLM_NVCOMP_ROOT:-$(python3 -c 'import site; print(site.getsitepackages()[0])')/nvidia/libnvcomp}
[ -f "$NV/include/nvcomp/lz4.h" ] || { echo "prepare: no nvCOMP headers under $NV (pip install nvidia-libnvcomp-cu13==5.1.0.21)" >&2; exit 1; }
cp -r "$NV/include" "$G/nvcomp/include"

for h in zstd.h zstd_errors.h zdict.h lz4.h lz4hc.h lz4frame.h zlib.h zconf.h snappy-c.h xxhash.h xxh3.h; do cp "/usr/include/$h" "$G/codecs/include/"; done
L=/usr/lib/x86_64-linux-gnu
cp "$L/liblz4.a" "$L/libxxhash.a" "$G/codecs/lib/"
for so in libzstd libz libsnappy; do cp -L "$L/$so.so.1" "$G/codecs/lib/"; ln -sf "$so.so.1" "$G/codecs/lib/$so.so"; done

npx --no-install esbuild scripts/gpu/check-nvcomp.ts scripts/gpu/bench-nvcomp.ts --bundle --platform=node --format=esm \
  --target=node20 --outdir="$G" --out-extension:.js=.mjs --log-level=warning

if [ ! -f "$G/samples/samples.json" ]; then
  if [ -f data/models/SmolLM2-135M-Instruct.Q4_1.gguf ]; then node --import tsx scripts/gpu/make-samples.ts --out "$G/samples" --mib 8
  else echo "prepare: default model not fetched: the GPU run uses synthetic data only"; fi
fi

bash ../shared/gpu/kit.sh .gpukit
tree=$(git ls-files -co --exclude-standard -z | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
kit=$(du -sb .gpukit | cut -f1); gb=$(du -sb "$G" | cut -f1)
echo "prepare: working tree $((tree / 1048576)) MiB + .gpukit $((kit / 1048576)) MiB + .gpubuild $((gb / 1048576)) MiB = $(((tree + kit + gb) / 1048576)) MiB (limit 64 MiB)"
echo 'prepare: device command: run(command="bash scripts/gpu/run-on-device.sh", carry=[".gpukit", ".gpubuild"], timeout_s=600)'
