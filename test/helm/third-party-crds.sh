#!/usr/bin/env bash
# Prints, one per line, the paths of the real CustomResourceDefinitions the
# chart's optional kinds need (cert-manager's Certificate and Issuer, the
# Prometheus Operator's ServiceMonitor and PrometheusRule), taken from those
# projects' Go modules at pinned versions. The modules land in Go's module
# cache, outside git; a second run downloads nothing.
set -euo pipefail
cert_manager_version="${CERT_MANAGER_VERSION:-v1.21.2}"
prometheus_operator_version="${PROMETHEUS_OPERATOR_VERSION:-v0.85.0}"
command -v go >/dev/null || { echo "test/helm/third-party-crds.sh: Go is not installed; install Go 1.26 or newer" >&2; exit 1; }

module_dir() {
  local json
  json="$(cd / && go mod download -json "$1")" || {
    echo "test/helm/third-party-crds.sh: go mod download $1 failed: $json" >&2; exit 1; }
  printf '%s\n' "$json" | awk -F'"' '$2=="Dir"{print $4}'
}

cm="$(module_dir "github.com/cert-manager/cert-manager@$cert_manager_version")"
po="$(module_dir "github.com/prometheus-operator/prometheus-operator@$prometheus_operator_version")"
for f in \
  "$cm/deploy/crds/cert-manager.io_issuers.yaml" \
  "$cm/deploy/crds/cert-manager.io_clusterissuers.yaml" \
  "$cm/deploy/crds/cert-manager.io_certificates.yaml" \
  "$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
  "$po/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml"; do
  [ -f "$f" ] || { echo "test/helm/third-party-crds.sh: $f is missing from the module" >&2; exit 1; }
  echo "$f"
done
