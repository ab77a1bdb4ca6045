#!/usr/bin/env bash
# Everything the tests, the demo and the benchmarks need on a fresh machine:
# npm packages (with Node 24 from npm), Prometheus, Alertmanager and
# VictoriaMetrics from Debian, and the Kubernetes control plane and Thanos built
# with Go. Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { echo "[setup] $*" >&2; }

if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages (npm ci)"
  npm ci --no-audit --no-fund >&2
fi

missing=()
command -v prometheus >/dev/null || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null || missing+=(prometheus-alertmanager)
command -v openssl >/dev/null || missing+=(openssl)
command -v victoria-metrics >/dev/null || missing+=(victoria-metrics)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  say "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

say "control plane binaries: $(test/kube/build.sh)"
say "helm for the chart tests: $(test/helm/build.sh)"
say "thanos for the scale-out metrics tests: $(test/thanos/build.sh)"
