#!/usr/bin/env bash
# The benchmarks (docs/benchmarks.md):
#
#   npm run bench                 # every part, full sizes (under 15 minutes on 2 cores)
#   npm run bench -- --quick      # a smoke run of every part (CI)
#   npm run bench -- --only admission,rules [--profile]
#
# Set-up first (npm packages, Prometheus, Alertmanager, the control plane),
# then a fresh build: the webhook and watcher run as they ship, from dist/.
# The benchmark code itself runs from source through bench/ts-loader.ts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
echo "[bench] building dist/" >&2
npm run --silent build
exec node --import ./bench/ts-loader.ts bench/run.ts "$@"
