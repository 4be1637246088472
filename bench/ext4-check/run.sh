#!/usr/bin/env bash
# On-demand benchmark (not in CI): ext4-check against `e2fsck -fn`, in one
# run, on the same 4 GiB ext4 image holding 500,000 inodes in 50,000
# directories. Runs both ROUNDS times (default 5), alternating which goes
# first, each round after an untimed e2fsck that warms the page cache; prints
# median wall time, median CPU time (user + sys) and peak memory
# (/usr/bin/time -v) of each, the ratios, a verdict on both goals and
# checks that every run agrees on the exit status.
#   Goals: time ratio ext4-check / e2fsck <= 1.0 (median wall clock);
#          peak memory ext4-check <= 1.5 x e2fsck.
#   usage: bash bench/ext4-check/run.sh [WORKDIR]      (ROUNDS=n to change)
# The image is built once per WORKDIR (default bench/ext4-check/.cache) and
# reused; delete it to rebuild. The machine is shared: medians over rounds,
# and the CPU times beside the wall times, say how much is contention.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"
cd "$ROOT"
# Incremental: a no-op when dist/ is up to date.
pnpm exec tsc -b packages/fsck-lite

work="${1:-$ROOT/bench/ext4-check/.cache}"
rounds="${ROUNDS:-5}"
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

results="$work/results.txt"
: >"$results"
measure() { # label, command... -> appends "label wall cpu peak_kib exit" to $results
  local log="$work/time.log" rc=0
  /usr/bin/time -v -o "$log" "${@:2}" >/dev/null 2>&1 || rc=$?
  awk -v label="$1" -v rc="$rc" -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, t, ":"); wall = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
    /User time \(seconds\)/ { cpu += $2 }
    /System time \(seconds\)/ { cpu += $2 }
    /Maximum resident set size/ { kib = $2 }
    END { printf "%s %.3f %.3f %d %d\n", label, wall, cpu, kib, rc }' "$log" >>"$results"
}

e2=(e2fsck -fn "$img")
ours=(node packages/fsck-lite/bin/run.js "$img")
echo "ext4-check vs e2fsck -fn on $img, $rounds rounds ..." >&2
for ((r = 0; r < rounds; r++)); do
  "${e2[@]}" >/dev/null 2>&1 || true # untimed: warms the page cache for both
  if ((r % 2 == 0)); then
    measure e2fsck "${e2[@]}"
    measure ext4-check "${ours[@]}"
  else
    measure ext4-check "${ours[@]}"
    measure e2fsck "${e2[@]}"
  fi
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
def pick(label):
    rs = [r for r in rows if r[0] == label]
    wall = [float(r[1]) for r in rs]
    cpu = [float(r[2]) for r in rs]
    return {
        "wall": statistics.median(wall), "wmin": min(wall), "wmax": max(wall),
        "cpu": statistics.median(cpu), "kib": max(int(r[3]) for r in rs),
        "exits": sorted({int(r[4]) for r in rs}),
    }
e, c = pick("e2fsck"), pick("ext4-check")
print(f"{'tool':<12} {'wall s (median, min-max)':>26} {'cpu s':>7} {'peak MiB':>9} {'exit':>5}")
for name, x in (("e2fsck -fn", e), ("ext4-check", c)):
    span = f"{x['wall']:.2f} ({x['wmin']:.2f}-{x['wmax']:.2f})"
    print(f"{name:<12} {span:>26} {x['cpu']:>7.2f} {x['kib'] / 1024:>9.1f} {','.join(map(str, x['exits'])):>5}")
tr = c["wall"] / e["wall"]
cr = c["cpu"] / e["cpu"]
mr = c["kib"] / e["kib"]
print(f"time ratio (ext4-check / e2fsck, median wall): {tr:.2f}   goal <= 1.0: {'MET' if tr <= 1.0 else 'NOT MET'}")
print(f"cpu ratio  (ext4-check / e2fsck, median cpu):  {cr:.2f}   (for contention on a shared machine)")
print(f"peak memory ratio:                             {mr:.2f}   goal <= 1.5: {'MET' if mr <= 1.5 else 'NOT MET'}")
if len(e["exits"]) != 1 or e["exits"] != c["exits"]:
    print(f"VERDICTS DIFFER: e2fsck exit {e['exits']}, ext4-check exit {c['exits']}", file=sys.stderr)
    sys.exit(1)
PY
