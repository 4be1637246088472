#!/usr/bin/env bash
# The main job on a demo image this script makes itself: builds a small tree,
# turns it into an ext4 image with `mke2fs -d`, and inspects it with ext4-debug.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
bash scripts/setup.sh

work="$(mktemp -d /tmp/ext4-demo.XXXXXX)"
trap 'rm -rf "$work"' EXIT
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

run() {
  echo
  echo "\$ ext4-debug -R '$1' demo.img"
  node packages/debugfs/bin/run.js -R "$1" "$img"
}
run "stats -h"
run "ls -l /"
run "stat /hello.txt"
run "cat /hello.txt"
run "ea_list /hello.txt"
run "ex /bin/blob"
run "htree_dump /docs" | sed -n "1,16p"
echo "   ... (htree dump cut to 16 lines)"
echo
echo "== the same image, checked: e2fsck -fn says"
e2fsck -fn "$img" | tail -1
