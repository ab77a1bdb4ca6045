#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd from the Go module proxy into a cache
# keyed by this module's go.sum, and prints the directory that holds them.
# A warm cache builds nothing. Progress goes to stderr; only the path to stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
k8s_version="$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' "$here/go.mod")"
key="$(cat "$here/go.mod" "$here/go.sum" | sha256sum | cut -c1-16)"
cache_root="${BLUEGREEN_GUARD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bluegreen-guard}"
out="$cache_root/kube-$key"
bins=(kube-apiserver kubectl etcd)

have_all() { for b in "${bins[@]}"; do [ -x "$out/$b" ] || return 1; done; }
if have_all; then echo "$out"; exit 0; fi

# Two test processes may ask at once: one builds, the other waits for it.
mkdir -p "$cache_root"
exec 9>"$cache_root/.build.lock"
flock 9
if have_all; then echo "$out"; exit 0; fi

command -v go >/dev/null || { echo "test/kube/build.sh: Go is not installed; install Go 1.25 or newer to build the test control plane" >&2; exit 1; }
echo "building kube-apiserver, kubectl ($k8s_version) and etcd into $out (cold build: several minutes on 2 cores)..." >&2
tmp="$out.tmp.$$"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS
(
  cd "$here"
  # Print a heartbeat while the linker works: nothing silent for long.
  while sleep 20; do echo "  ... still building ($((SECONDS - start))s)" >&2; done &
  beat=$!
  trap 'kill $beat 2>/dev/null' EXIT
  go build -trimpath \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$k8s_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$k8s_version" | cut -d. -f2)" \
    -o "$tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3
)
mv "$tmp/v3" "$tmp/etcd" 2>/dev/null || true
mv "$tmp/server" "$tmp/etcd" 2>/dev/null || true
rm -rf "$out" && mv "$tmp" "$out"
trap - EXIT
have_all || { echo "test/kube/build.sh: build finished but $out lacks one of: ${bins[*]}" >&2; ls -l "$out" >&2; exit 1; }
echo "built in $((SECONDS - start))s" >&2
echo "$out"
