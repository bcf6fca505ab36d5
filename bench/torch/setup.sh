#!/usr/bin/env bash
# Make .venv-torch/ (git-ignored) for bench/side_by_side.ts: the official PyTorch CPU wheel,
# NumPy and OpenCV, bench only (the product never runs Python). Idempotent: a venv that already
# imports torch 2.13.0+cpu, numpy and cv2 is left alone. pip is not a registry this project
# promises: when it cannot get a package, this says which and exits 1; the bench then skips.
#
#   bench/torch/setup.sh            # ~1 min on the dev machine (local index + /opt/wheels)
set -u
cd "$(dirname "$0")/../.." || exit 1
VENV=.venv-torch
WANT=2.13.0+cpu
PY="$VENV/bin/python"
check() {
  "$PY" -c "import torch, numpy, cv2, sys; sys.exit(0 if torch.__version__ == '$WANT' else 3)" \
    2>/dev/null
}
if [ -x "$PY" ] && check; then
  echo "setup.sh: $VENV already has torch $WANT, numpy and cv2"
  exit 0
fi
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV" || {
    echo "setup.sh: python3 -m venv $VENV failed (Debian: apt-get install python3-venv)" >&2
    exit 1
  }
fi
log=$(mktemp)
if ! "$PY" -m pip install "torch==$WANT" numpy opencv-python-headless >"$log" 2>&1; then
  what=$(grep -oE "(No matching distribution found for|Could not find a version that satisfies the requirement|Cannot install) [^ ]+" "$log" | head -1)
  err=$(grep -m1 "^ERROR:" "$log")
  where=$(grep -m1 "^Looking in indexes:" "$log")
  net=""
  if grep -q "Failed to establish a new connection\|Name or service not known" "$log"; then
    net="; a remote index was not reachable (${where#Looking in indexes: })"
  fi
  echo "setup.sh: pip cannot get a package: ${what:-$err}${net}; without $VENV the side-by-side bench skips" >&2
  echo "setup.sh: pip's log: $(grep "^ERROR:\|conflict is caused by\|requested" "$log" | tr '\n' ' ')" >&2
  rm -f "$log"
  exit 1
fi
rm -f "$log"
if ! check; then
  echo "setup.sh: installed, but $PY does not import torch $WANT, numpy and cv2" >&2
  exit 1
fi
echo "setup.sh: $VENV ready ($("$PY" -c 'import torch; print("torch", torch.__version__)'))"
