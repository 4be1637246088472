import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { debugfs } from "../test-support/mkfs.js";
import { expectFsckClean, freshImage, openWritable } from "../test-support/rw.js";

function e2fsckOutput(image: string): string {
  try {
    return execFileSync("e2fsck", ["-fn", image], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
  } catch (e) {
    return String((e as { stdout?: string }).stdout);
  }
}

describe("the superblock's error record and last mount point", () => {
  it("are kept as the kernel keeps them, checksummed, and survive the unmount", () => {
    const image = freshImage("ext4", 16 << 20);
    const fs = openWritable(image);
    fs.setLastMounted("/mnt/somewhere");
    // Written home at once: readable while still mounted.
    expect(debugfs(image, "stats")).toMatch(/Last mounted on:\s+\/mnt\/somewhere/);
    fs.recordError({
      time: 1_800_000_000,
      ino: 12,
      block: 345,
      func: "fuse4fs_read",
      line: 0,
      errcode: 5,
    });
    expect(debugfs(image, "stats")).toMatch(/FS Error count:\s+1/);
    fs.recordError({
      time: 1_800_000_100,
      ino: 13,
      block: 0,
      func: "fuse4fs_lookup",
      line: 7,
      errcode: 4,
    });
    fs.mkdir(2, "after", { mode: 0o755, uid: 0, gid: 0 });
    fs.close();
    const stats = debugfs(image, "stats");
    expect(stats).toMatch(/Last mounted on:\s+\/mnt\/somewhere/);
    expect(stats).toMatch(/Filesystem state:\s+clean with errors/);
    expect(stats).toMatch(/FS Error count:\s+2/);
    expect(stats).toMatch(/First error function:\s+fuse4fs_read/);
    expect(stats).toMatch(/First error inode #:\s+12/);
    expect(stats).toMatch(/First error block #:\s+345/);
    expect(stats).toMatch(/First error err:\s+EFSCORRUPTED/);
    expect(stats).toMatch(/Last error function:\s+fuse4fs_lookup/);
    expect(stats).toMatch(/Last error line #:\s+7/);
    expect(stats).toMatch(/Last error err:\s+EFSBADCRC/);
    expect(stats).not.toMatch(/checksum does not match/i);
    // e2fsck sees a filesystem with errors but nothing wrong in it.
    expect(e2fsckOutput(image)).not.toMatch(/Superblock checksum|Fix\?/);
    // A second session adds to the count and keeps the first error.
    const again = openWritable(image);
    again.recordError({
      time: 1_800_000_200,
      ino: 14,
      block: 1,
      func: "fuse4fs_write",
      line: 0,
      errcode: 2,
    });
    again.close();
    const later = debugfs(image, "stats");
    expect(later).toMatch(/FS Error count:\s+3/);
    expect(later).toMatch(/First error function:\s+fuse4fs_read/);
    expect(later).toMatch(/Last error function:\s+fuse4fs_write/);
  });

  it("change nothing when nothing is recorded", () => {
    const image = freshImage("ext4", 16 << 20);
    openWritable(image).close();
    expectFsckClean(image);
    expect(debugfs(image, "stats")).toMatch(/Last mounted on:\s+<not available>/);
    expect(debugfs(image, "stats")).not.toMatch(/FS Error count/);
  });
});
