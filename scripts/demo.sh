#!/usr/bin/env bash
# `npm run demo`: set-up on a fresh machine, then the demo program on the
# project's Node 24 (node_modules/.bin/node). Arguments go to the program:
#   npm run demo -- --keep     leave the cluster up to explore with kubectl
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { echo "[demo] $*" >&2; }
started=$SECONDS

# A heartbeat while the set-up works: a cold build of kube-apiserver takes
# minutes, and nothing should look stuck.
heartbeat() {
  trap 'kill "$nap" 2>/dev/null; exit 0' TERM
  while :; do
    sleep 5 & nap=$!
    wait "$nap"
    say "… set-up still running ($((SECONDS - started)) s)"
  done
}
heartbeat &
beat=$!
disown "$beat"
stop_heartbeat() { kill "$beat" 2>/dev/null || true; }
trap stop_heartbeat EXIT

say "set-up: npm packages, Prometheus and Alertmanager, kube-apiserver/kubectl/etcd and helm (built once, then cached)"
bash scripts/setup.sh
say "building bluegreen-guard (npm run build)"
PATH="$PWD/node_modules/.bin:$PATH" npm run --silent build
stop_heartbeat
trap - EXIT
say "set-up done in $((SECONDS - started)) s; starting the demo"
# exec: Ctrl-C and SIGTERM reach the demo itself, which stops what it started.
exec node_modules/.bin/node --import ./bench/ts-loader.ts demo/run-demo.ts "$@"
