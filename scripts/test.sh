#!/usr/bin/env bash
# The test command: set-up, lint, type check, and every test tier.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
echo "[test] lint and type check" >&2
npm run --silent lint
npm run --silent typecheck
echo "[test] unit, integration and end-to-end tests" >&2
node --experimental-vm-modules node_modules/jest/bin/jest.js --ci
echo "[test] benchmark smoke run, so the benchmark code cannot rot (docs/benchmarks.md)" >&2
bash scripts/bench.sh --quick
