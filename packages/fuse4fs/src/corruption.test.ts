/**
 * A corrupted image never takes the server down: the operation that meets
 * the corruption gets EUCLEAN with a log line naming inode and block, the
 * error is recorded in the superblock as the kernel records it, every other
 * operation keeps working, and errors=remount-ro / errors=panic do what
 * they say.
 */
import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import { mountOf, spawnCli, waitFor } from "./test-support/cli-run.js";
import { cleanup, debugfsOut, sh, shOk, tempDir, withMount } from "./test-support/harness.js";

let dir: string;

beforeEach(() => {
  dir = tempDir("f4-corrupt-");
});

afterEach(async () => {
  await cleanup(dir);
});

/**
 * An ext4 image (4 KiB blocks) holding `/victim`, a fragmented file whose
 * extent tree has a leaf block, `/fine` and `/dir/other`; the victim's
 * extent leaf is then overwritten with garbage. Returns the image and the
 * clobbered block.
 */
async function corruptImage(): Promise<{ image: string; block: number; ino: number }> {
  const image = freshImage("ext4", 64 << 20);
  await withMount(image, [], async (_m, mp) => {
    // Every other 4 KiB block written: far more extents than the inode's four.
    await shOk(
      `cd ${mp} && python3 -c "
import os
fd = os.open('victim', os.O_CREAT | os.O_WRONLY, 0o644)
for i in range(64):
    os.pwrite(fd, bytes([i]) * 4096, i * 8192)
os.close(fd)
" && echo fine > fine && mkdir dir && echo other > dir/other`,
    );
  });
  const ex = debugfsOut(image, "ex /victim");
  // The level-0 row of a depth-1 tree names the leaf block: "0/ 1   1/  1     0 - ... BLOCK ..."
  const m = /^\s*0\/\s*1\s+1\/\s*\d+\s+\d+\s+-\s+\d+\s+(\d+)/m.exec(ex);
  if (m?.[1] === undefined) throw new Error(`no extent leaf block in:\n${ex}`);
  const block = Number(m[1]);
  const ino = Number(/Inode: (\d+)/.exec(debugfsOut(image, "stat /victim"))?.[1]);
  const fd = openSync(image, "r+");
  writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, block * 4096);
  closeSync(fd);
  return { image, block, ino };
}

function errorFields(image: string): string {
  return debugfsOut(image, "stats")
    .split("\n")
    .filter((l) => /error|Filesystem state/i.test(l))
    .join("\n");
}

describe("corruption while serving", () => {
  it("EUCLEAN for the damaged file, a log line naming it, the error recorded; the rest works", async () => {
    const { image, block, ino } = await corruptImage();
    const logs = await withMount(image, [], async (_m, mp, logs) => {
      const bad = await sh(`cat ${mp}/victim > /dev/null`);
      expect(bad.stderr).toMatch(/Structure needs cleaning/);
      // The server lives on: everything else still works, reads and writes.
      expect(await shOk(`cat ${mp}/fine ${mp}/dir/other && stat -c %s ${mp}/victim`)).toBe(
        "fine\nother\n520192\n",
      );
      await shOk(
        `echo new > ${mp}/dir/new && mkdir ${mp}/d2 && mv ${mp}/fine ${mp}/d2/ && cat ${mp}/d2/fine ${mp}/dir/new`,
      );
      expect((await sh(`cat ${mp}/victim`)).stderr).toMatch(/Structure needs cleaning/);
      return [...logs];
    });
    expect(logs.join("\n")).toMatch(
      new RegExp(`READ: corruption \\[EXTENT_[A-Z_]+\\].*\\(inode ${ino}, block ${block}\\)`),
    );
    const fields = errorFields(image);
    expect(fields).toMatch(/FS Error count:\s+[1-9]/);
    expect(fields).toMatch(/First error function:\s+fuse4fs_read/);
    expect(fields).toMatch(new RegExp(`First error inode #:\\s+${ino}`));
    expect(fields).toMatch(new RegExp(`First error block #:\\s+${block}`));
    expect(fields).toMatch(/Filesystem state:\s+clean with errors/);
  }, 90_000);

  it("errors=remount-ro: after the corruption every change is EROFS, reads go on", async () => {
    const { image } = await corruptImage();
    await withMount(image, ["errors=remount-ro"], async (_m, mp) => {
      await shOk(`echo before > ${mp}/before`);
      expect((await sh(`cat ${mp}/victim`)).stderr).toMatch(/Structure needs cleaning/);
      expect((await sh(`mkdir ${mp}/after`)).stderr).toMatch(/Read-only file system/);
      expect(await shOk(`cat ${mp}/before ${mp}/dir/other`)).toBe("before\nother\n");
    });
    expect(debugfsOut(image, "cat /before")).toBe("before\n");
  }, 90_000);

  it("errors=panic: the server stops at once, the error recorded; the mountpoint is recoverable", async () => {
    const { image } = await corruptImage();
    const mp = join(dir, "mnt");
    mkdirSync(mp);
    const s = spawnCli([image, mp, "-f", "-o", "errors=panic"]);
    try {
      expect(await waitFor(() => mountOf(mp) !== null)).toBe(true);
      await sh(`cat ${mp}/victim`);
      expect(await s.exited).toBe(32);
    } finally {
      s.proc.kill("SIGKILL");
      await sh(`umount -l ${mp}`);
    }
    expect(s.stderr()).toMatch(/errors=panic/);
    expect(errorFields(image)).toMatch(/FS Error count:\s+[1-9]/);
  }, 90_000);
});
