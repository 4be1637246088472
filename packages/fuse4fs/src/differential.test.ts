/**
 * Differential tests: the same scripted workload — a generated tree copied
 * in, files edited, truncated, extended sparsely, renamed (also over
 * existing names), linked, deleted, xattrs and ACLs set, device nodes and
 * fifos made, a tarball extracted — runs on a kernel ext4 loop mount and on
 * a fuse4fs mount of identical fresh images. Both must end with the same
 * tree (names, types, sizes, contents, modes, owners, link counts,
 * xattrs), both images must pass `e2fsck -fn`, and the kernel must read
 * back from our image what fuse4fs showed.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshImage, WRITE_MATRIX, type WriteKind } from "../../core/src/test-support/rw.js";
import {
  cleanup,
  expectClean,
  kernelWalk,
  run,
  shOk,
  tempDir,
  walk,
  withMount,
} from "./test-support/harness.js";

let host: string;

beforeAll(() => {
  host = tempDir("f4-diff-");
  // A host tree to copy and a tarball to extract (deterministic contents).
  const tree = join(host, "tree");
  for (let d = 0; d < 6; d++) {
    const dir = join(tree, `dir${d}`, `deep${d % 3}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 40; f++) {
      writeFileSync(join(dir, `file-${f}.txt`), `${d}/${f} `.repeat(1 + ((d * 40 + f) % 97) * 13));
    }
  }
  writeFileSync(join(tree, "dir0", "binary.bin"), Buffer.alloc(300_000, 7));
  execFileSync("ln", ["-s", "dir0/binary.bin", join(tree, "link-to-bin")]);
  execFileSync("chmod", ["0751", join(tree, "dir1")]);
  execFileSync("tar", ["-C", tree, "-cf", join(host, "tree.tar"), "."]);
});

afterAll(async () => {
  await cleanup(host);
});

/** The workload, run with `M` the mounted directory and `H` the host directory. */
const WORKLOAD = String.raw`
set -e
cd "$M"
umask 022
mkdir -p gen/a/b/c gen/d
i=1; while [ $i -le 300 ]; do echo "file $i" > gen/a/f$i; i=$((i+1)); done
seq 1 150000 > gen/d/big
cp -a "$H/tree" copied
mkfifo gen/d/fifo
mknod gen/d/chr c 1 3
mknod gen/d/blk b 7 200
ln gen/d/big gen/d/big-link
ln -s ../d/big gen/a/sym
chmod 4755 gen/d/big
chmod 2710 gen/a/b
chown 1000:1000 gen/a/f1
chown 1000:100 gen/a/b/c
setfattr -n user.k -v val gen/a/f2
setfattr -n user.big -v "$(head -c 700 /dev/zero | tr '\0' x)" gen/a/f3
setfattr -n trusted.t -v 0x00ff00 gen/a/f4
setfacl -m u:1000:rwx,g:100:r-x gen/a/b
setfacl -d -m u:1000:rwx,g:100:r-x,o::--- gen/a/b
touch gen/a/b/inherited
mkdir gen/a/b/inherited-dir
echo appended >> gen/a/f5
truncate -s 1000000 gen/a/f6
truncate -s 3 gen/a/f7
python3 -c "
import os
fd = os.open('gen/sparse', os.O_CREAT | os.O_WRONLY, 0o644)
os.pwrite(fd, b'head', 0)
os.pwrite(fd, b'tail' * 1000, 10 << 20)
os.close(fd)
fd = os.open('gen/d/big', os.O_WRONLY)
os.pwrite(fd, b'OVERWRITE' * 100, 50000)
os.close(fd)
os.rename('gen/a/f8', 'gen/a/f9')
os.rename('gen/a/f10', 'gen/d/f10-moved')
"
mv gen/a/b gen/b-renamed
mv copied/dir2 gen/b-renamed/
i=20; while [ $i -le 120 ]; do rm gen/a/f$i; i=$((i+1)); done
rm gen/d/big-link
rm -r copied/dir3
mkdir extracted
tar -C extracted -xf "$H/tree.tar"
chmod 0600 extracted/dir4/deep1/file-3.txt
rm -r extracted/dir5
echo done
`;

async function workload(mp: string): Promise<void> {
  await shOk(`M='${mp}' H='${host}' sh -c '${WORKLOAD.replace(/'/g, "'\\''")}'`, {
    timeoutMs: 120_000,
  });
}

describe("the same workload on the kernel and on fuse4fs gives the same tree", () => {
  for (const kind of Object.keys(WRITE_MATRIX) as WriteKind[]) {
    it(kind, async () => {
      const ref = freshImage(kind, 64 << 20);
      const ours = freshImage(kind, 64 << 20);
      const dir = tempDir("f4-kw-");
      try {
        const kmp = join(dir, "k");
        mkdirSync(kmp);
        const m = await run("mount", ["-o", "loop", ref, kmp]);
        expect(m.stderr).toBe("");
        try {
          await workload(kmp);
        } finally {
          await run("umount", [kmp]);
        }
      } finally {
        await cleanup(dir);
      }
      const seen = await withMount(ours, [], async (_m, mp) => {
        await workload(mp);
        return walk(mp);
      });
      expectClean(ref);
      expectClean(ours);
      const kernelRef = await kernelWalk(ref);
      const kernelOurs = await kernelWalk(ours);
      expect(seen).toEqual(kernelOurs);
      expect(kernelOurs).toEqual(kernelRef);
    }, 180_000);
  }
});
