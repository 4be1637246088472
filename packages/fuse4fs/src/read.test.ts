/**
 * The read side on real mounts: every fixture kind of the core (mke2fs -d
 * trees with sparse, fragmented and far files, symlinks, a fifo, a device
 * node, xattrs, an ACL and unwritten extents) mounted read-only by fuse4fs
 * must show exactly the tree the kernel's ext4 driver shows (types, modes,
 * owners, link counts, sizes, contents, xattrs); and the image stays
 * byte-for-byte untouched.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { FIXTURE_KINDS, type FixtureKind, fixture } from "../../core/src/test-support/fixtures.js";
import { debugfsOut, kernelWalk, sh, shOk, walk, withMount } from "./test-support/harness.js";

function digest(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

describe("read-only mounts match the kernel", () => {
  for (const kind of Object.keys(FIXTURE_KINDS) as FixtureKind[]) {
    it(`${kind}: same tree as a kernel loop mount; image untouched`, async () => {
      const image = fixture(kind);
      const before = digest(image);
      const kernel = await kernelWalk(image);
      const ours = await withMount(image, ["ro"], async (_m, mp) => walk(mp));
      expect(ours).toEqual(kernel);
      expect(digest(image)).toBe(before);
    }, 120_000);
  }
});

describe("read-side details", () => {
  it("statfs, statx birth time, SEEK_DATA/SEEK_HOLE, lsattr, readlink", async () => {
    const image = fixture("ext4");
    await withMount(image, ["ro"], async (_m, mp) => {
      const out = await sh(
        `cd ${mp} && stat -c '%W %w' small.txt && python3 -c "
import os
fd = os.open('sparse.bin', os.O_RDONLY)
print(os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 20000, os.SEEK_DATA))
" && lsattr -d sub && readlink long-link && stat -f -c '%S %b %f %a %c %d %l' .`,
      );
      expect(out.stderr).toBe("");
      const lines = out.stdout.trim().split("\n");
      // Birth time is the inode's crtime (mke2fs -d stamps it): not 0 and not "-".
      expect(lines[0]).toMatch(/^[1-9]\d* \d{4}-/);
      // 16 KiB of data at 0, a hole after it, next data at 96 KiB.
      expect(lines[1]).toBe("0 16384 98304");
      expect(lines[2]).toMatch(/^-+e-+ sub$/);
      expect(lines[3]).toBe(`${"d".repeat(90)}/${"e".repeat(40)}/target`);
      const k = await sh(
        `mkdir -p ${mp}-k && mount -o ro,loop ${image} ${mp}-k && stat -f -c '%S %b %f %a %c %d %l' ${mp}-k; umount ${mp}-k; rmdir ${mp}-k`,
      );
      expect(lines[4]).toBe(k.stdout.trim());
    });
    // minixdf counts every block; bsddf (the default, above) leaves out the overhead.
    const blocks = /Block count:\s+(\d+)/.exec(debugfsOut(image, "stats"))?.[1];
    await withMount(image, ["ro", "minixdf"], async (_m, mp) => {
      expect((await shOk(`stat -f -c %b ${mp}`)).trim()).toBe(blocks);
    });
  }, 60_000);
});
