#!/usr/bin/env bash
# On-demand benchmark (not in CI): ext4-debug against debugfs, in one run, on
# the same 1 GiB image holding 50,000 files. Times `rdump /` and `ls -l` of a
# 20,000-entry directory, prints each ratio (ext4-debug / debugfs; goal ≤ 1.5)
# and the peak memory of every run (goal: under the cache bound + 150 MiB).
#   usage: bash bench/ext4-debug/run.sh [WORKDIR]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$ROOT"
bash scripts/setup.sh >/dev/null 2>&1 || bash scripts/setup.sh

work="${1:-$(mktemp -d /tmp/ext4-bench.XXXXXX)}"
mkdir -p "$work"
img="$work/bench-1g.img"
if [[ ! -f "$img" ]]; then
  echo "building the tree and a 1 GiB image in $work ..." >&2
  tree="$work/tree"
  rm -rf "$tree"
  mkdir -p "$tree/big"
  # 20,000 empty-ish files in one directory (the ls -l case) ...
  (cd "$tree/big" && seq -f "entry-%06g" 1 20000 | xargs touch)
  # ... and 30,000 small files with content spread over 300 directories.
  for d in $(seq 1 300); do
    mkdir -p "$tree/d$d"
    for f in $(seq 1 100); do printf '%s %s\n' "$d" "$f" >"$tree/d$d/f$f"; done
  done
  head -c 200M /dev/urandom >"$tree/large.bin"
  truncate -s 1G "$img"
  mke2fs -q -F -t ext4 -N 100000 -d "$tree" "$img"
  rm -rf "$tree"
fi

CACHE_MIB=64
measure() { # label, command...  → prints "seconds peak_kib"
  /usr/bin/time -o "$work/time.out" -f '%e %M' "${@:2}" >/dev/null 2>"$work/$1.err" || {
    echo "$1 failed:" >&2
    cat "$work/$1.err" >&2
  }
  tail -1 "$work/time.out"
}
row() { # name, debugfs-args, ext4-debug-args
  rm -rf "$work/out-d" "$work/out-e"
  mkdir -p "$work/out-d" "$work/out-e"
  sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r td md < <(measure debugfs debugfs -R "$2" "$img")
  rm -rf "$work/out-d"/*; sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
  read -r te me < <(measure ext4-debug node packages/debugfs/bin/run.js -R "$3" "$img")
  awk -v n="$1" -v td="$td" -v te="$te" -v md="$md" -v me="$me" 'BEGIN {
    printf "%-22s debugfs %7.2fs %6.0f MiB   ext4-debug %7.2fs %6.0f MiB   ratio %5.2f\n", n, td, md/1024, te, me/1024, (td > 0 ? te/td : 0) }'
}
echo "ext4-debug vs debugfs on $img (cache bound ${CACHE_MIB} MiB; ratio = ext4-debug time / debugfs time, goal <= 1.5)"
row "rdump /" "rdump / $work/out-d" "rdump / $work/out-e"
row "ls -l /big (20,000)" "ls -l /big" "ls -l /big"
rm -rf "$work/out-d" "$work/out-e"
