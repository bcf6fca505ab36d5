#!/usr/bin/env bash
# End-to-end check of what a researcher sees: starts JupyterLab (private config, a free port,
# a random token, autosave off so the committed notebooks are never rewritten), then drives
# headless Chromium with puppeteer-core through JupyterLab's menus on the notebooks given
# (default: 00_quickstart and 01_main_results): the committed notebook shows its figures
# untrusted; after Edit → Clear Outputs and Run → Run All Cells there is no error, every
# code cell has output, each Plotly figure is interactive (answers a hover) and every output
# sits under its own cell. See tests/notebook/e2e_lab.ts.
#
#   bash scripts/e2e.sh [NOTEBOOK.ipynb …]
#
# JupyterLab comes from pip, which is not a registry this project may count on, so it is
# optional: TEDLOC_JUPYTERLAB=1 bash scripts/setup.sh installs it (with Plotly's renderer)
# into tmp/jupyterlab/. Without it this prints "e2e: SKIPPED (reason)" and exits 0.
# Environment: TEDLOC_JUPYTER (a `jupyter` executable), TEDLOC_E2E_SHOTS (screenshot folder,
# default tmp/e2e-shots), TEDLOC_PROFILE (default ci; CUB-50 off).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/node_modules/.bin:$PATH" NO_COLOR=1
skip() { echo "e2e: SKIPPED ($*)"; exit 0; }

JUPYTER=${TEDLOC_JUPYTER:-}
if [ -z "$JUPYTER" ]; then
  for candidate in "$ROOT/tmp/jupyterlab/bin/jupyter" "$(command -v jupyter 2>/dev/null || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" lab --version >/dev/null 2>&1; then
      JUPYTER=$candidate
      break
    fi
  done
fi
[ -n "$JUPYTER" ] || skip "JupyterLab not installed: TEDLOC_JUPYTERLAB=1 bash scripts/setup.sh (needs pip)"
CHROMIUM=${TEDLOC_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || skip "Chromium not found at $CHROMIUM: bash scripts/setup.sh"
[ -x node_modules/.bin/deno ] || skip "node_modules missing: bash scripts/setup.sh"

NOTEBOOKS=("$@")
[ "${#NOTEBOOKS[@]}" -gt 0 ] || NOTEBOOKS=(00_quickstart.ipynb 01_main_results.ipynb)
SHOTS=${TEDLOC_E2E_SHOTS:-$ROOT/tmp/e2e-shots}
mkdir -p "$SHOTS"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/tedloc-e2e-XXXXXX")
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# private Jupyter folders: our kernelspec, no autosave, no news pop-ups, nothing of the user's
export JUPYTER_CONFIG_DIR=$WORK/config JUPYTER_DATA_DIR=$WORK/data JUPYTER_RUNTIME_DIR=$WORK/runtime
mkdir -p "$JUPYTER_DATA_DIR/kernels/deno" "$WORK/settings/@jupyterlab/docmanager-extension" \
  "$WORK/settings/@jupyterlab/apputils-extension" "$WORK/settings/@jupyterlab/notebook-extension" \
  "$WORK/workspaces"
cat >"$JUPYTER_DATA_DIR/kernels/deno/kernel.json" <<EOF
{"argv": ["$ROOT/node_modules/.bin/deno", "jupyter", "--kernel", "--conn", "{connection_file}"],
 "display_name": "Deno", "language": "typescript", "env": {"NO_COLOR": "1"}}
EOF
echo '{"autosave": false}' >"$WORK/settings/@jupyterlab/docmanager-extension/plugin.jupyterlab-settings"
# every cell rendered (JupyterLab 4 renders only the visible ones by default), so all are checked
echo '{"windowingMode": "none"}' >"$WORK/settings/@jupyterlab/notebook-extension/tracker.jupyterlab-settings"
echo '{"fetchNews": "false", "checkForUpdates": false}' \
  >"$WORK/settings/@jupyterlab/apputils-extension/notification.jupyterlab-settings"

export TEDLOC_PROFILE=${TEDLOC_PROFILE:-ci} TEDLOC_WITH_CUB=${TEDLOC_WITH_CUB:-0}
export TEDLOC_FIGURES_DIR=$WORK/figures # the committed figures/ stay as they are
PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=$(/usr/bin/python3 -c 'import secrets; print(secrets.token_hex(16))')
ROOT_FLAG=()
[ "$(id -u)" != 0 ] || ROOT_FLAG=(--allow-root)
T0=$(date +%s)
"$JUPYTER" lab --no-browser --ip=127.0.0.1 --port="$PORT" --IdentityProvider.token="$TOKEN" \
  --ServerApp.root_dir="$ROOT" --LabApp.expose_app_in_browser=True \
  --LabApp.user_settings_dir="$WORK/settings" --LabApp.workspaces_dir="$WORK/workspaces" \
  "${ROOT_FLAG[@]}" >"$WORK/lab.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 120); do
  if /usr/bin/python3 -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/api/status?token=$TOKEN', timeout=2)" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$WORK/lab.log"; echo "e2e: FAIL (JupyterLab exited)"; exit 1; }
  sleep 1
done
echo "e2e: JupyterLab $("$JUPYTER" lab --version) on port $PORT ($(($(date +%s) - T0)) s to start); $("$JUPYTER" labextension list 2>&1 | grep -c 'jupyterlab-plotly.*enabled' || true) Plotly renderer"
STATUS=0
deno run -A tests/notebook/e2e_lab.ts "http://127.0.0.1:$PORT" "$TOKEN" "$SHOTS" "${NOTEBOOKS[@]}" || STATUS=$?
if [ "$STATUS" = 0 ]; then RESULT=PASS; else RESULT=FAIL; tail -30 "$WORK/lab.log" >&2; fi
echo "e2e: $RESULT on $(date -u +%Y-%m-%d) in $(($(date +%s) - T0)) s; screenshots in $SHOTS"
exit "$STATUS"
