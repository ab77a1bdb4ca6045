#!/usr/bin/env bash
# Builds helm from helm.sh/helm/v3 (Go module proxy) into a cache keyed by this
# module's go.mod and go.sum, the same scheme as test/kube/build.sh, and prints
# the directory that holds it. A warm cache builds nothing. Progress goes to
# stderr; only the path to stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Like helm's Makefile: the Kubernetes version `helm template` and `helm lint`
# assume comes from the client-go it is built with (else v1.20).
client_go="$(awk '{for (i = 1; i < NF; i++) if ($i == "k8s.io/client-go") { print $(i + 1); exit }}' "$here/go.mod")"
k8s_minor="$(echo "$client_go" | cut -d. -f2)"
helm_version="$(awk '{for (i = 1; i < NF; i++) if ($i == "helm.sh/helm/v3") { print $(i + 1); exit }}' "$here/go.mod")"
key="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
cache_root="${BLUEGREEN_GUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-guard}"
out="$cache_root/helm-$key"

if [ -x "$out/helm" ]; then echo "$out"; exit 0; fi

# Two test processes may ask at once: one builds, the other waits for it.
mkdir -p "$cache_root"
exec 9>"$cache_root/.helm-build.lock"
flock 9
if [ -x "$out/helm" ]; then echo "$out"; exit 0; fi

command -v go >/dev/null || { echo "test/helm/build.sh: Go is not installed; install Go 1.26 or newer to build helm for the chart tests" >&2; exit 1; }
echo "building helm $helm_version into $out (cold build: a few minutes on 2 cores)..." >&2
tmp="$out.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
(
  cd "$here"
  # Print a heartbeat while the linker works: nothing silent for long.
  while sleep 20; do echo "  ... still building helm ($((SECONDS - start))s)" >&2; done &
  beat=$!
  trap 'kill $beat 2>/dev/null' EXIT
  go build -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor" \
    -o "$tmp/helm" helm.sh/helm/v3/cmd/helm
)
rm -rf "$out" && mv "$tmp" "$out"
trap - EXIT
[ -x "$out/helm" ] || { echo "test/helm/build.sh: build finished but $out/helm is missing" >&2; exit 1; }
echo "built helm in $((SECONDS - start))s" >&2
echo "$out"
