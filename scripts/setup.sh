#!/usr/bin/env bash
# Idempotent set-up: Debian packages (Jupyter, Chromium) when missing, npm packages when the
# lockfile changed, and the Deno Jupyter kernel when its spec is stale. A second run is fast
# and changes nothing. Called by scripts/main.sh and scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=/usr/bin/python3
say() { echo "setup: $*" >&2; }

# --- Debian packages --------------------------------------------------------------------
APT_PKGS=()
command -v chromium >/dev/null 2>&1 || APT_PKGS+=(chromium fonts-liberation fonts-dejavu-core)
# Mesa's software Vulkan (lavapipe): the WebGPU adapter the webgpu tests run on without a GPU
ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1 || APT_PKGS+=(mesa-vulkan-drivers)
if ! { [ -x "$PY" ] && "$PY" -c "import nbclient, nbformat, jupyter_client, ipykernel" 2>/dev/null; }; then
  APT_PKGS+=(python3 jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel)
fi
if [ "${#APT_PKGS[@]}" -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      say "missing Debian packages and no root/sudo. Install by hand: apt-get install -y ${APT_PKGS[*]}"
      exit 1
    fi
  fi
  say "installing Debian packages: ${APT_PKGS[*]}"
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    --no-install-recommends "${APT_PKGS[@]}" >/dev/null; }; then
    say "apt-get failed (no access to Debian's package archive?). Install by hand:"
    say "  apt-get install -y ${APT_PKGS[*]}"
    exit 1
  fi
fi

# --- npm packages (Deno itself comes from the npm package 'deno', pinned) -----------------
STAMP=node_modules/.tedloc-lock.sha256
WANT=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -x node_modules/.bin/deno ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$WANT" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    say "npm not found. Install Node.js 20+ with npm (e.g. apt-get install -y nodejs npm), then rerun."
    exit 1
  fi
  say "installing npm packages (npm ci)"
  if ! npm ci --no-audit --no-fund --loglevel=error; then
    say "npm ci failed (no access to the npm registry?). Run 'npm ci' by hand once the registry is reachable."
    exit 1
  fi
  echo "$WANT" >"$STAMP"
fi
DENO="$ROOT/node_modules/.bin/deno"
"$DENO" --version >/dev/null

# --- Deno Jupyter kernel (argv holds the deno path; NO_COLOR keeps outputs clean) ---------
KDIR=$("$PY" -c "from jupyter_core.paths import jupyter_data_dir; print(jupyter_data_dir())")/kernels/deno
if ! "$PY" - "$KDIR/kernel.json" "$DENO" <<'PYEOF' 2>/dev/null; then
import json, sys
spec = json.load(open(sys.argv[1]))
ok = spec["argv"][0] == sys.argv[2] and spec.get("env", {}).get("NO_COLOR") == "1"
sys.exit(0 if ok else 1)
PYEOF
  say "installing the Deno Jupyter kernel"
  "$DENO" jupyter --install --force >/dev/null 2>&1 || { say "deno jupyter --install failed"; exit 1; }
  "$PY" - "$KDIR/kernel.json" "$DENO" <<'PYEOF'
import json, sys
path, deno = sys.argv[1], sys.argv[2]
spec = json.load(open(path))
spec["argv"][0] = deno
spec.setdefault("env", {})["NO_COLOR"] = "1"
json.dump(spec, open(path, "w"), indent=2)
PYEOF
fi

# --- Optional: JupyterLab with Plotly's renderer, for scripts/e2e.sh and interactive figures ---
# pip is not a registry this project may count on, so this runs only when asked
# (TEDLOC_JUPYTERLAB=1) and a failure leaves everything else set up.
if [ "${TEDLOC_JUPYTERLAB:-0}" = 1 ] && ! tmp/jupyterlab/bin/jupyter lab --version >/dev/null 2>&1; then
  say "installing JupyterLab + plotly (Plotly's JupyterLab renderer) into tmp/jupyterlab (pip)"
  if ! { "$PY" -m venv tmp/jupyterlab && tmp/jupyterlab/bin/pip install -q jupyterlab plotly; }; then
    say "pip could not install JupyterLab (no package index?); scripts/e2e.sh will skip"
  fi
fi
