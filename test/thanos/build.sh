#!/usr/bin/env bash
# Builds the `thanos` binary (sidecar, query) from the Go module proxy into a
# cache keyed by this module's go.mod, go.sum and build tags, and prints its path.
# A warm cache builds nothing. Progress goes to stderr; only the path to stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="$(grep -oE "github.com/thanos-io/thanos v[^ ]+" "$here/go.mod" | head -1 | cut -d" " -f2)"
# Thanos's own release build (.promu.yml) uses these tags: slicelabels gives
# Prometheus's labels the slice layout Thanos's zero-copy protobuf conversions
# assume. Without it the sidecar panics on its first gRPC answer.
tags="netgo,slicelabels"
key="$( (cat "$here/go.mod" "$here/go.sum"; echo "$tags") | sha256sum | cut -c1-16)"
cache_root="${BLUEGREEN_GUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-guard}"
out="$cache_root/thanos-$key"

if [ -x "$out/thanos" ]; then echo "$out/thanos"; exit 0; fi

# Two test processes may ask at once: one builds, the other waits for it.
mkdir -p "$cache_root"
exec 9>"$cache_root/.thanos-build.lock"
flock 9
if [ -x "$out/thanos" ]; then echo "$out/thanos"; exit 0; fi

command -v go >/dev/null || { echo "test/thanos/build.sh: Go is not installed; install Go 1.26 or newer to build Thanos for the scale-out tests" >&2; exit 1; }
echo "building thanos $version into $out (cold build: a few minutes on 2 cores)..." >&2
tmp="$out.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
(
  cd "$here"
  while sleep 20; do echo "  ... still building ($((SECONDS - start))s)" >&2; done &
  beat=$!
  trap 'kill $beat 2>/dev/null' EXIT
  go build -trimpath -tags "$tags" -ldflags "-s -w" -o "$tmp/thanos" github.com/thanos-io/thanos/cmd/thanos
)
rm -rf "$out" && mv "$tmp" "$out"
trap - EXIT
[ -x "$out/thanos" ] || { echo "test/thanos/build.sh: build finished but $out/thanos is missing" >&2; exit 1; }
echo "built in $((SECONDS - start))s" >&2
echo "$out/thanos"
