/**
 * Claiming an image: mountinfo parsing (escapes, optional fields), finding
 * an existing mount by device, loop device or source, device numbers as
 * the kernel prints them, the lock between two openers, and the
 * superblock overlay (s_last_mounted and the kernel's error record, read
 * back by debugfs with a valid checksum).
 */
import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { Filesystem } from "@ext4/core";
import { describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import { devString, findExistingMount, ImageError, openImage, parseMountInfo } from "./image.js";
import { debugfsOut, expectClean } from "./test-support/harness.js";

describe("mountinfo", () => {
  const text = [
    "22 27 0:21 / /proc rw,relatime - proc proc rw",
    "40 27 7:3 / /mnt/with\\040space rw,relatime shared:1 master:2 - ext4 /dev/loop3 rw",
    "41 27 0:50 / /mnt/f rw - fuse.fuse4fs /images/a\\040b.img rw,user_id=0",
    "garbage line",
  ].join("\n");

  it("parses fields, optional tags and octal escapes", () => {
    expect(parseMountInfo(text)).toEqual([
      { dev: "0:21", mountpoint: "/proc", fstype: "proc", source: "proc" },
      { dev: "7:3", mountpoint: "/mnt/with space", fstype: "ext4", source: "/dev/loop3" },
      { dev: "0:50", mountpoint: "/mnt/f", fstype: "fuse.fuse4fs", source: "/images/a b.img" },
    ]);
  });

  it("finds a mount by block device, by a loop device backing the file, or by source", () => {
    const m = parseMountInfo(text);
    expect(findExistingMount("/dev/loop3", true, 7 * 256 + 3, m, [])?.mountpoint).toBe(
      "/mnt/with space",
    );
    expect(findExistingMount("/x.img", false, 0, m, ["7:3"])?.mountpoint).toBe("/mnt/with space");
    expect(findExistingMount("/images/a b.img", false, 0, m, [])?.mountpoint).toBe("/mnt/f");
    expect(findExistingMount("/other.img", false, 0, m, ["7:9"])).toBeNull();
  });

  it("prints device numbers as the kernel does", () => {
    expect(devString(statSync("/dev/null").rdev)).toBe("1:3");
    expect(devString((259 << 8) | 1 | ((300 & ~0xff) << 12))).toBe("259:257");
  });
});

describe("openImage", () => {
  it("locks the image against a second opener until closed", () => {
    const image = freshImage("ext4", 8 << 20);
    const a = openImage(image, { readOnly: true, offset: 0 });
    try {
      let err: unknown;
      try {
        openImage(image, { readOnly: false, offset: 0 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ImageError);
      expect((err as ImageError).code).toBe("LOCKED");
    } finally {
      a.device.close();
    }
    openImage(image, { readOnly: false, offset: 0 }).device.close();
  });

  it("refuses an offset past the end", () => {
    const image = freshImage("ext4", 8 << 20);
    expect(() => openImage(image, { readOnly: true, offset: 9 << 20 })).toThrow(/past the end/);
  });
});

describe("SuperblockOverlay", () => {
  it("keeps s_last_mounted and the error record in every superblock write, checksummed", () => {
    const image = freshImage("ext4", 16 << 20);
    const img = openImage(image, { readOnly: false, offset: 0 });
    img.device.setLastMounted("/mnt/somewhere");
    const fs = Filesystem.open(img.device, { writable: true });
    img.device.recordError({
      time: 1_800_000_000,
      ino: 12,
      block: 345,
      func: "fuse4fs_read",
      line: 0,
      errcode: 5,
    });
    img.device.recordError({
      time: 1_800_000_100,
      ino: 13,
      block: 0,
      func: "fuse4fs_lookup",
      line: 0,
      errcode: 4,
    });
    fs.sync();
    fs.close();
    const stats = debugfsOut(image, "stats");
    expect(stats).toMatch(/Last mounted on:\s+\/mnt\/somewhere/);
    expect(stats).toMatch(/Filesystem state:\s+clean with errors/);
    expect(stats).toMatch(/FS Error count:\s+2/);
    expect(stats).toMatch(/First error function:\s+fuse4fs_read/);
    expect(stats).toMatch(/First error inode #:\s+12/);
    expect(stats).toMatch(/First error block #:\s+345/);
    expect(stats).toMatch(/First error err:\s+EFSCORRUPTED/);
    expect(stats).toMatch(/Last error function:\s+fuse4fs_lookup/);
    expect(stats).toMatch(/Last error err:\s+EFSBADCRC/);
    expect(stats).not.toMatch(/checksum does not match/i);
    // e2fsck sees a filesystem with errors but nothing wrong in it.
    const out = (() => {
      try {
        return execFileSync("e2fsck", ["-fn", image], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "pipe"],
        });
      } catch (e) {
        return String((e as { stdout?: string }).stdout);
      }
    })();
    expect(out).not.toMatch(/Superblock checksum|Fix\?/);
  });

  it("changes nothing without errors or a mount point to record", () => {
    const image = freshImage("ext4", 16 << 20);
    const img = openImage(image, { readOnly: false, offset: 0 });
    const fs = Filesystem.open(img.device, { writable: true });
    fs.close();
    expectClean(image);
    expect(debugfsOut(image, "stats")).toMatch(/Last mounted on:\s+<not available>/);
  });
});
