#!/usr/bin/env bash
# The test command: set-up, lint, type check, and every test tier.
#
# BLUEGREEN_GUARD_TEST_STEPS limits it to some steps, in this order, comma
# separated: setup, lint, typecheck, list (jest --listTests: the test files jest
# finds, one path a line on stdout; not part of the default), jest (unit,
# integration and end-to-end tests), bench (benchmark smoke run). Unset: every
# step but list, e.g. BLUEGREEN_GUARD_TEST_STEPS=setup,lint,typecheck,list is
# what the test of the README's commands runs inside a copy of the tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
all_steps="setup,lint,typecheck,list,jest,bench"
steps=",${BLUEGREEN_GUARD_TEST_STEPS:-setup,lint,typecheck,jest,bench},"
for step in ${steps//,/ }; do
  case ",$all_steps," in
    *",$step,"*) ;;
    *) echo "[test] BLUEGREEN_GUARD_TEST_STEPS: unknown step \"$step\" (steps: $all_steps)" >&2; exit 2 ;;
  esac
done
want() { [[ "$steps" == *",$1,"* ]]; }

if want setup; then bash scripts/setup.sh; fi
export PATH="$PWD/node_modules/.bin:$PATH"
if want lint; then
  echo "[test] lint" >&2
  npm run --silent lint
fi
if want typecheck; then
  echo "[test] type check" >&2
  npm run --silent typecheck
fi
if want list; then
  echo "[test] the test files jest finds" >&2
  node --experimental-vm-modules node_modules/jest/bin/jest.js --listTests
fi
if want jest; then
  echo "[test] unit, integration and end-to-end tests" >&2
  node --experimental-vm-modules node_modules/jest/bin/jest.js --ci
fi
if want bench; then
  echo "[test] benchmark smoke run, so the benchmark code cannot rot (docs/benchmarks.md)" >&2
  bash scripts/bench.sh --quick
fi
