#!/usr/bin/env bash
# Installs ZipNN (PyPI zipnn==0.5.4, the peer of issue 14's lossless bf16 mode) into its own venv .cache/zipnn-venv,
# because zipnn imports torch and torch pulls its own CUDA wheels (kept away from the system python whose
# cuda-toolkit pins the native build). NOT part of setup.sh / CI: on demand for scripts/bench-lossless.ts.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.cache/zipnn-venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --no-cache-dir zipnn==0.5.4 torch==2.15.0 numpy==2.4.6 safetensors==0.8.0
"$venv/bin/python" -c "import zipnn; from importlib.metadata import version; print('zipnn', version('zipnn'), 'torch', version('torch'))"
