#!/usr/bin/env bash
# Prints the path of Istio's CustomResourceDefinitions (networking.istio.io and
# the rest, with their OpenAPI schemas and CEL rules) from the istio.io/api Go
# module at a pinned version. The module lands in Go's module cache, outside
# git; a second run downloads nothing.
set -euo pipefail
istio_api_version="${ISTIO_API_VERSION:-v1.32.0}"
command -v go >/dev/null || { echo "test/kube/istio-crds.sh: Go is not installed; install Go 1.25 or newer" >&2; exit 1; }
json="$(cd / && go mod download -json "istio.io/api@$istio_api_version")" || {
  echo "test/kube/istio-crds.sh: go mod download istio.io/api@$istio_api_version failed: $json" >&2; exit 1; }
dir="$(printf '%s\n' "$json" | awk -F'"' '$2=="Dir"{print $4}')"
crds="$dir/kubernetes/customresourcedefinitions.gen.yaml"
[ -f "$crds" ] || { echo "test/kube/istio-crds.sh: istio.io/api@$istio_api_version has no $crds" >&2; exit 1; }
echo "$crds"
