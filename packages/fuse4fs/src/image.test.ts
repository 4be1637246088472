import { statSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import { devString, findExistingMount, ImageError, openImage, parseMountInfo } from "./image.js";

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
