#!/usr/bin/env bash
# On-demand benchmark (not in CI): ext4-check against `e2fsck -fn`, in one
# run, on the same 4 GiB ext4 image holding 500,000 inodes in 50,000
# directories. Prints both times, the ratio (ext4-check / e2fsck; goal
# <= 1.0) and both peak memories from /usr/bin/time -v (goal: ext4-check
# <= 1.5 x e2fsck), and checks that the two verdicts agree.
#   usage: bash bench/ext4-check/run.sh [WORKDIR]
# The image is built once per WORKDIR (default bench/ext4-check/.cache) and
# reused; delete it to rebuild.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$ROOT"
if [[ ! -f packages/fsck-lite/dist/cli.js ]]; then
  pnpm exec tsc -b packages/fsck-lite
fi

work="${1:-$ROOT/bench/ext4-check/.cache}"
mkdir -p "$work"
img="$work/bench-4g-500k.img"
if [[ ! -f "$img" ]]; then
  echo "building the tree (50,000 directories, 450,000 files) and a 4 GiB image in $work ..." >&2
  tree="$work/tree"
  rm -rf "$tree"
  mkdir -p "$tree"
  # 500 top-level directories x 100 subdirectories = 50,000 directories,
  # 9 files in each (450,000 files); every 10th file holds 6 KiB (two
  # blocks), the rest a few bytes (one block each).
  node - "$tree" <<'JS'
const fs = require("node:fs");
const path = require("node:path");
const root = process.argv[2];
const big = Buffer.alloc(6144, 0x61);
let n = 0;
for (let a = 0; a < 500; a++) {
  const top = path.join(root, `top-${a}`);
  fs.mkdirSync(top);
  for (let b = 0; b < 100; b++) {
    const d = b === 0 ? top : path.join(top, `sub-${b}`);
    if (b !== 0) fs.mkdirSync(d);
    for (let f = 0; f < 9; f++) {
      fs.writeFileSync(path.join(d, `file-${f}.txt`), n % 10 === 0 ? big : `${a}/${b}/${f}\n`);
      n++;
    }
  }
}
JS
  truncate -s 4G "$img"
  mke2fs -q -F -t ext4 -N 520000 -d "$tree" "$img"
  rm -rf "$tree"
fi

measure() { # label, command... -> "seconds peak_kib exit"
  local log="$work/time.log" rc=0
  /usr/bin/time -v -o "$log" "${@:2}" >/dev/null 2>&1 || rc=$?
  local secs kib
  secs="$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')"
  kib="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")"
  echo "$secs $kib $rc"
}

# Warm the page cache once so neither tool pays the first read alone.
cat "$img" >/dev/null
read -r e_s e_kib e_rc < <(measure e2fsck e2fsck -fn "$img")
read -r c_s c_kib c_rc < <(measure ext4-check node packages/fsck-lite/bin/run.js "$img")

printf '%-12s %10s %12s %6s\n' tool seconds "peak MiB" exit
printf '%-12s %10.2f %12.1f %6s\n' "e2fsck -fn" "$e_s" "$(echo "$e_kib / 1024" | bc -l)" "$e_rc"
printf '%-12s %10.2f %12.1f %6s\n' ext4-check "$c_s" "$(echo "$c_kib / 1024" | bc -l)" "$c_rc"
printf 'time ratio (ext4-check / e2fsck): %.2f   (goal <= 1.0)\n' "$(echo "$c_s / $e_s" | bc -l)"
printf 'peak memory ratio:                %.2f   (goal <= 1.5)\n' "$(echo "$c_kib / $e_kib" | bc -l)"
if [[ "$e_rc" != "$c_rc" ]]; then
  echo "VERDICTS DIFFER: e2fsck exit $e_rc, ext4-check exit $c_rc" >&2
  exit 1
fi
