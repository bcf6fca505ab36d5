#!/usr/bin/env bash
# The main job: set-up (idempotent), then execute every notebook on the embedded default
# dataset (quick profile unless TEDLOC_PROFILE says otherwise) and export figures/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" NO_COLOR=1
export TEDLOC_PROFILE="${TEDLOC_PROFILE:-quick}"
deno task notebooks "$@"
echo "done: executed notebooks in notebooks/, figures in figures/"
