#!/usr/bin/env bash
# Runs the Dockerfile's build steps without a container engine, so the test
# suite exercises exactly what an image build does (no engine runs here).
#
#   scripts/image-build-steps.sh OUT_DIR [DOCKERFILE] [CONTEXT]
#
# Reads the Dockerfile itself: each stage `FROM image AS name` gets its own
# root OUT_DIR/stages/<name>/ (the absolute paths of WORKDIR and COPY --from
# live under it), COPY takes files from CONTEXT after checking .dockerignore
# lets them in, RUN runs with sh -c in the stage's WORKDIR with its ENV, on the
# project's Node (node_modules/.bin/node, same major as the base image, which
# the script checks). It then writes OUT_DIR/image.json: the final stage's
# root, workdir, user, env, entrypoint and cmd, for a test to start the image
# as the container runtime would. Any other instruction stops the script:
# extend it here when the Dockerfile needs one.
set -euo pipefail

out="${1:?usage: image-build-steps.sh OUT_DIR [DOCKERFILE] [CONTEXT]}"
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dockerfile="${2:-$repo/Dockerfile}"
context="${3:-$repo}"
say() { echo "[image] $*" >&2; }
fail() { echo "image-build-steps.sh: $dockerfile: $*" >&2; exit 1; }

node_bin="$repo/node_modules/.bin"
[ -x "$node_bin/node" ] || fail "the project's Node is missing ($node_bin/node); run 'npm ci' first"
node_major="$("$node_bin/node" -p 'process.versions.node.split(".")[0]')"
export PATH="$node_bin:$PATH"

mkdir -p "$out/stages"
out="$(cd "$out" && pwd)"

# .dockerignore: the context an engine would send. Only the whitelist form
# ('*' then '!path' lines) is supported, which is what this project uses.
allowed=()
ignore_all=0
if [ -f "$context/.dockerignore" ]; then
  while IFS= read -r line; do
    line="${line%%#*}"; line="${line%"${line##*[![:space:]]}"}"
    [ -z "$line" ] && continue
    case "$line" in
      '*') ignore_all=1 ;;
      '!'*) p="${line#!}"; allowed+=("${p%/}") ;;
      *) fail ".dockerignore line '$line': only '*' and '!path' lines are understood by this script" ;;
    esac
  done < "$context/.dockerignore"
fi
in_context() {
  local p="${1#./}"; p="${p%/}"
  [ "$ignore_all" = 0 ] && return 0
  local a
  for a in "${allowed[@]}"; do [ "$p" = "$a" ] || [[ "$p" == "$a"/* ]] && return 0; done
  return 1
}

# Join continuation lines, drop comments and blank lines.
mapfile -t instructions < <(sed -e 's/^[[:space:]]*#.*$//' "$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n[[:space:]]*/ /; ta' | grep -v '^[[:space:]]*$')

stage="" root="" workdir="/" user="root" entrypoint="[]" cmd="[]"
declare -a envs=()
copy_into() { # copy_into SRC_ABS DEST_ABS: Docker semantics, a directory's contents go into DEST
  local src="$1" dest="$2"
  if [ -d "$src" ]; then mkdir -p "$dest" && cp -a "$src/." "$dest/"
  elif [[ "$dest" == */ ]]; then mkdir -p "$dest" && cp -a "$src" "$dest"
  else mkdir -p "$(dirname "$dest")" && cp -a "$src" "$dest"
  fi
}
resolve() { # resolve PATH: a path inside the current stage's root
  case "$1" in /*) echo "$root$1" ;; *) echo "$root${workdir%/}/$1" ;; esac
}

for ins in "${instructions[@]}"; do
  read -r keyword rest <<<"$ins"
  case "${keyword^^}" in
    FROM)
      read -r image as name extra <<<"$rest"
      [ "${as^^}" = AS ] && [ -n "$name" ] && [ -z "${extra:-}" ] || fail "'FROM $rest': every stage needs 'FROM image AS name'"
      [[ "$image" =~ ^node:([0-9]+)[-.] ]] || fail "'FROM $image': only node:<major>... base images can be reproduced here"
      [ "${BASH_REMATCH[1]}" = "$node_major" ] || fail "'FROM $image' is Node ${BASH_REMATCH[1]} but the project's Node is $node_major: keep them on one major"
      stage="$name" root="$out/stages/$name" workdir="/" user="root" entrypoint="[]" cmd="[]" envs=()
      rm -rf "$root" && mkdir -p "$root"
      say "stage $stage ($image)"
      ;;
    WORKDIR)
      [[ "$rest" == /* ]] || fail "WORKDIR '$rest' must be absolute"
      workdir="$rest"; mkdir -p "$root$workdir" ;;
    ENV)
      for kv in $rest; do [[ "$kv" == *=* ]] || fail "'ENV $rest': write ENV as KEY=value pairs without spaces"; envs+=("$kv"); done ;;
    COPY)
      read -ra words <<<"$rest"
      from=""
      while [[ "${words[0]}" == --* ]]; do
        case "${words[0]}" in --from=*) from="${words[0]#--from=}" ;; *) fail "'COPY $rest': option ${words[0]} is not supported" ;; esac
        words=("${words[@]:1}")
      done
      [ "${#words[@]}" -ge 2 ] || fail "'COPY $rest' needs a source and a destination"
      dest="$(resolve "${words[-1]}")"
      [ "${#words[@]}" -gt 2 ] && [[ "$dest" != */ ]] && fail "'COPY $rest': several sources need a destination ending in /"
      for src in "${words[@]:0:${#words[@]}-1}"; do
        if [ -n "$from" ]; then
          [ -d "$out/stages/$from" ] || fail "'COPY $rest': no earlier stage named $from"
          [[ "$src" == /* ]] || fail "'COPY $rest': a path from another stage must be absolute"
          from_path="$out/stages/$from$src"
        else
          in_context "$src" || fail "'COPY $rest': $src is excluded by .dockerignore, so an image build would not see it"
          from_path="$context/${src#./}"
        fi
        [ -e "$from_path" ] || fail "'COPY $rest': $src does not exist${from:+ in stage $from}"
        copy_into "$from_path" "$dest"
      done ;;
    RUN)
      say "$stage: RUN $rest"
      (cd "$root$workdir" && env "${envs[@]}" sh -c "$rest") >&2 || fail "step 'RUN $rest' of stage $stage failed"
      ;;
    USER) user="$rest" ;;
    ENTRYPOINT) entrypoint="$rest" ;;
    CMD) cmd="$rest" ;;
    *) fail "instruction '$keyword' is not reproduced by scripts/image-build-steps.sh; add it there" ;;
  esac
done
[ -n "$stage" ] || fail "no FROM instruction"

IMAGE_ROOT="$root" IMAGE_WORKDIR="$workdir" IMAGE_USER="$user" IMAGE_ENTRYPOINT="$entrypoint" IMAGE_CMD="$cmd" IMAGE_STAGE="$stage" \
  node -e '
    const e = process.env;
    const env = Object.fromEntries(process.argv.slice(1).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
    const image = { stage: e.IMAGE_STAGE, root: e.IMAGE_ROOT, workdir: e.IMAGE_WORKDIR, user: e.IMAGE_USER, env,
      entrypoint: JSON.parse(e.IMAGE_ENTRYPOINT), cmd: JSON.parse(e.IMAGE_CMD) };
    process.stdout.write(JSON.stringify(image, null, 2) + "\n");
  ' -- "${envs[@]}" > "$out/image.json" || fail "ENTRYPOINT or CMD is not a JSON array (use the exec form)"
say "final stage $stage in $root; description in $out/image.json"
echo "$out/image.json"
