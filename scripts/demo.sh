#!/usr/bin/env bash
# The main job on a demo image this script makes itself: builds a small tree,
# turns it into an ext4 image with `mke2fs -d`, mounts it read-write with
# fuse4fs, uses it through the mount, unmounts, and shows the result with
# ext4-debug, ext4-check and e2fsck.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
bash scripts/setup.sh

work="$(mktemp -d /tmp/ext4-demo.XXXXXX)"
mnt="$work/mnt"
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" 2>/dev/null || umount -l "$mnt" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
tree="$work/tree"
mkdir -p "$tree/docs/nested/deeper" "$tree/bin"
printf 'Hello from an ext4 image built by mke2fs -d.\n' >"$tree/hello.txt"
printf 'nested file\n' >"$tree/docs/nested/deeper/note.md"
head -c 300000 /dev/urandom >"$tree/bin/blob"
ln -s ../hello.txt "$tree/docs/link-to-hello"
for i in $(seq 1 300); do : >"$tree/docs/entry-$i"; done
setfattr -n user.demo -v "it works" "$tree/hello.txt" 2>/dev/null || true

img="$work/demo.img"
truncate -s 64M "$img"
mke2fs -q -F -t ext4 -L demo -d "$tree" "$img"
# mke2fs -d fills directories linearly; let e2fsck build their hash indexes (-D)
# so the demo can show an htree. It exits 1 ("fixed") when it did so.
e2fsck -fyD "$img" >/dev/null 2>&1 || [[ $? -eq 1 ]]
echo "== demo image: $img (64 MiB ext4, made with mke2fs -d)"

say() {
  echo
  echo "\$ $*"
}

mkdir -p "$mnt"
echo
echo "== mount it read-write with fuse4fs (starts in the background once the mount is ready)"
say "fuse4fs demo.img mnt"
fuse4fs "$img" "$mnt"
grep " $mnt " /proc/mounts
say "ls -la mnt/"
ls -la "$mnt/"
say "cat mnt/hello.txt"
cat "$mnt/hello.txt"
say "getfattr -n user.demo mnt/hello.txt"
getfattr --only-values -n user.demo "$mnt/hello.txt" 2>/dev/null && echo || echo "(no xattr tools)"
say "cmp mnt/bin/blob tree/bin/blob"
cmp "$mnt/bin/blob" "$tree/bin/blob" && echo "identical"
say "ls mnt/docs | wc -l"
ls "$mnt/docs" | wc -l
echo
echo "== write through the mount: a directory, a 20 MiB file, a rename, a symlink, an xattr"
mkdir -p "$mnt/new/dir"
head -c 20M /dev/urandom >"$work/big.src"
cp "$work/big.src" "$mnt/new/dir/big.bin"
mv "$mnt/hello.txt" "$mnt/new/hello-moved.txt"
ln -s dir/big.bin "$mnt/new/big-link"
setfattr -n user.written -v "by fuse4fs" "$mnt/new/dir" 2>/dev/null || true
sync -f "$mnt"
say "ls -lR mnt/new"
ls -lR "$mnt/new"
say "df -h mnt"
df -h "$mnt"
say "umount mnt"
umount "$mnt"
# The server exits once it has flushed and marked the image clean.
for _ in $(seq 1 100); do
  dumpe2fs -h "$img" 2>/dev/null | grep -q needs_recovery || break
  sleep 0.1
done

run() {
  echo
  echo "\$ ext4-debug -R '$1' demo.img"
  ext4-debug -R "$1" "$img"
}
echo
echo "== the image after unmount, inspected with ext4-debug"
run "stats -h" | sed -n "1,12p"
echo "   ... (stats cut to 12 lines)"
run "ls -l /new"
run "stat /new/hello-moved.txt"
run "ea_list /new/dir"
run "ex /new/dir/big.bin"
run "htree_dump /docs" | sed -n "1,12p"
echo "   ... (htree dump cut to 12 lines)"
echo
echo "== the data written through fuse4fs, read back by ext4-debug"
ext4-debug -R "dump /new/dir/big.bin $work/big.back" "$img"
cmp "$work/big.src" "$work/big.back" && echo "big.bin: identical"
echo
echo "== the same image, checked"
say "ext4-check demo.img"
ext4-check "$img"
say "e2fsck -fn demo.img"
e2fsck -fn "$img" 2>&1 | tail -1
