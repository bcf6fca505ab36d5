#!/usr/bin/env bash
# The test command: set-up (idempotent), then format, lint and type checks, then the test
# suite. Extra arguments go to `deno test` (e.g. a file or --filter NAME).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH" NO_COLOR=1
echo "== deno fmt --check"
deno fmt --check
echo "== deno lint"
deno lint
echo "== deno check"
deno check lib/ tasks/ tests/ bench/
echo "== deno test"
deno test -A --no-check=remote tests/ "$@"
