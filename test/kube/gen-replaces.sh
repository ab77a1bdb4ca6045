#!/usr/bin/env bash
# Regenerates the `replace` directives of test/kube/go.mod from k8s.io/kubernetes'
# own go.mod. That module requires its staging modules (k8s.io/api,
# k8s.io/apimachinery, ...) at v0.0.0, which exists nowhere; each one is
# published as k8s.io/<name> v0.<minor>.<patch>, so every `k8s.io/<name> v0.0.0`
# line there needs a replace to the matching version here.
#
#   test/kube/gen-replaces.sh             regenerate for the pinned version
#   test/kube/gen-replaces.sh v1.35.5     move to another Kubernetes release
#
# Moving to another release changes go.sum, so test/kube/build.sh builds anew.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
command -v go >/dev/null || { echo "gen-replaces.sh: Go is not installed" >&2; exit 1; }

k8s_version="${1:-$(awk '$1=="k8s.io/kubernetes"{print $2; exit}' go.mod)}"
[[ "$k8s_version" =~ ^v1\.([0-9]+)\.([0-9]+)$ ]] || {
  echo "gen-replaces.sh: '$k8s_version' is not a Kubernetes release like v1.35.4" >&2; exit 1; }
staging_version="v0.${BASH_REMATCH[1]}.${BASH_REMATCH[2]}"

upstream_mod="$(go mod download -json "k8s.io/kubernetes@$k8s_version" | awk -F'"' '$2=="GoMod"{print $4}')"
[ -f "$upstream_mod" ] || { echo "gen-replaces.sh: go mod download gave no go.mod for k8s.io/kubernetes@$k8s_version" >&2; exit 1; }
mapfile -t staging < <(awk '$1 ~ /^k8s\.io\// && $2 == "v0.0.0" {print $1}' "$upstream_mod" | sort -u)
[ "${#staging[@]}" -gt 0 ] || { echo "gen-replaces.sh: no k8s.io/* v0.0.0 requirements in $upstream_mod" >&2; exit 1; }

# The replace block holds only these generated lines: rewrite it whole, so the
# file (and with it the cache key of build.sh) stays byte-identical when
# nothing changed.
go mod edit -require="k8s.io/kubernetes@$k8s_version"
{
  awk '/^replace \($/ {skip=1; next} skip && /^\)$/ {skip=0; next} !skip' go.mod | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
  echo
  echo "replace ("
  for m in "${staging[@]}"; do printf '\t%s => %s %s\n' "$m" "$m" "$staging_version"; done
  echo ")"
} > go.mod.new
mv go.mod.new go.mod
go mod tidy
echo "gen-replaces.sh: ${#staging[@]} staging modules replaced at $staging_version for k8s.io/kubernetes $k8s_version" >&2
