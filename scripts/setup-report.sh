#!/usr/bin/env bash
# Installs what `codecllm report`, the browser test and the live JupyterLab test need (issues 6, 15):
#   - Python: nbclient/nbconvert/nbformat/ipykernel/jupyter_client/jupyter_core (pinned) to execute notebooks headless
#     and export HTML; jupyterlab + jupyter_server (pinned) for test/lab-live.test.ts;
#   - Debian: chromium (headless browser for test/browser-report.test.ts, driven by playwright-core).
# The TypeScript kernel itself (tslab 1.0.22 + zeromq 6, prebuilt addon shipped in the npm package) comes with `npm ci`.
# Usage: bash scripts/setup-report.sh [--no-apt]
set -euo pipefail

PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check \
  "nbclient==0.10.2" "nbconvert==7.16.6" "nbformat==5.10.4" "ipykernel==6.29.5" \
  "jupyter_client==8.6.3" "jupyter_core==5.7.2" "jupyterlab==4.6.6" "jupyter_server==2.21.1"

if [[ "${1:-}" != "--no-apt" ]]; then
  if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    # dpkg's lock may be held by another installer for a while: wait for it instead of failing.
    $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
      chromium fonts-dejavu-core
  fi
fi
"$PY" -c "import nbclient, nbconvert, nbformat, jupyterlab; print('report deps: nbclient', nbclient.__version__, 'nbconvert', nbconvert.__version__, 'nbformat', nbformat.__version__, 'jupyterlab', jupyterlab.__version__)"
command -v chromium >/dev/null 2>&1 && chromium --version || echo "chromium: not installed (browser test will skip outside CI)"
