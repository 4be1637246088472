import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BlockDevice, IoError } from "./device.js";
import { FileDevice, splitDevId } from "./file-device.js";
import { MemoryDevice } from "./memory-device.js";
import { OffsetDevice } from "./offset-device.js";

/** Runs `fn` and returns the IoError it throws (failing the test otherwise). */
function ioError(fn: () => unknown): IoError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IoError);
    return e as IoError;
  }
  throw new Error("expected an IoError, nothing was thrown");
}

function pattern(n: number, seed = 1): Uint8Array {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return a;
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "iocache-test-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Checks the contract every device shares, on a device holding `expected`. */
function checkCommonContract(dev: BlockDevice, expected: Uint8Array): void {
  expect(dev.size).toBe(expected.length);
  const all = new Uint8Array(dev.size);
  dev.read(0, all);
  expect(all).toEqual(expected);
  const mid = new Uint8Array(100);
  dev.read(1000, mid);
  expect(mid).toEqual(expected.subarray(1000, 1100));
  dev.read(dev.size, new Uint8Array(0));

  const past = ioError(() => dev.read(dev.size - 10, new Uint8Array(11)));
  expect(past.errno).toBe("EIO");
  expect(past.op).toBe("read");
  expect(ioError(() => dev.read(-1, new Uint8Array(1))).errno).toBe("EINVAL");
  expect(ioError(() => dev.read(0.5, new Uint8Array(1))).errno).toBe("EINVAL");
  expect(ioError(() => dev.write(dev.size, new Uint8Array(1))).errno).toBe("ENOSPC");

  const data = pattern(300, 9);
  dev.write(4000, data);
  const back = new Uint8Array(300);
  dev.read(4000, back);
  expect(back).toEqual(data);
  dev.flush();
}

describe("MemoryDevice", () => {
  it("honours the device contract", () => {
    const bytes = pattern(8192);
    checkCommonContract(new MemoryDevice(bytes.slice()), bytes);
  });

  it("uses the given array without copying, and starts zeroed from a size", () => {
    const bytes = new Uint8Array(64);
    const dev = new MemoryDevice(bytes);
    dev.write(3, Uint8Array.of(7));
    expect(bytes[3]).toBe(7);
    expect(new MemoryDevice(16).bytes).toEqual(new Uint8Array(16));
    expect(() => new MemoryDevice(-1)).toThrow(RangeError);
  });

  it("refuses writes when read-only, and everything after close", () => {
    const dev = new MemoryDevice(pattern(64), { readOnly: true, name: "ro" });
    expect(dev.readOnly).toBe(true);
    const e = ioError(() => dev.write(0, new Uint8Array(1)));
    expect(e.errno).toBe("EROFS");
    expect(dev.bytes).toEqual(pattern(64));
    dev.close();
    dev.close();
    expect(ioError(() => dev.read(0, new Uint8Array(1))).errno).toBe("EBADF");
    expect(ioError(() => dev.flush()).errno).toBe("EBADF");
  });
});

describe("OffsetDevice", () => {
  it("honours the device contract inside its window", () => {
    const whole = pattern(20000);
    const win = new OffsetDevice(new MemoryDevice(whole), 3000, 9000);
    checkCommonContract(win, pattern(20000).subarray(3000, 12000));
    expect(win.name).toBe("memory@3000");
  });

  it("never touches bytes outside the window", () => {
    fc.assert(
      fc.property(
        fc.nat(200),
        fc.nat(200),
        fc.integer({ min: -50, max: 250 }),
        fc.nat(60),
        (start, len, off, n) => {
          const whole = new MemoryDevice(400);
          const win = new OffsetDevice(whole, start, len);
          const before = whole.bytes.slice();
          try {
            win.write(off, new Uint8Array(n).fill(0xaa));
          } catch (e) {
            expect(e).toBeInstanceOf(IoError);
            expect(whole.bytes).toEqual(before);
            return;
          }
          expect(off >= 0 && off + n <= len).toBe(true);
          for (let i = 0; i < 400; i++) {
            const inside = i >= start + off && i < start + off + n;
            expect(whole.bytes[i]).toBe(inside ? 0xaa : 0);
          }
        },
      ),
    );
  });

  it("defaults to the rest of the device, rejects windows outside it, inherits read-only", () => {
    const inner = new MemoryDevice(100, { readOnly: true });
    expect(new OffsetDevice(inner, 40).size).toBe(60);
    expect(new OffsetDevice(inner, 40).readOnly).toBe(true);
    expect(ioError(() => new OffsetDevice(inner, 40).write(0, new Uint8Array(1))).errno).toBe(
      "EROFS",
    );
    expect(() => new OffsetDevice(inner, 101)).toThrow(RangeError);
    expect(() => new OffsetDevice(inner, 50, 51)).toThrow(RangeError);
    expect(() => new OffsetDevice(inner, -1, 5)).toThrow(RangeError);
  });

  it("closes the inner device unless told not to", () => {
    const a = new MemoryDevice(10);
    new OffsetDevice(a, 0).close();
    expect(ioError(() => a.read(0, new Uint8Array(1))).errno).toBe("EBADF");
    const b = new MemoryDevice(10);
    new OffsetDevice(b, 0, 5, { closeInner: false }).close();
    b.read(0, new Uint8Array(1));
  });
});

describe("FileDevice on a regular file", () => {
  it("honours the device contract and writes reach the file", () => {
    const path = join(dir, "rw.img");
    const bytes = pattern(16384, 3);
    writeFileSync(path, bytes);
    const dev = FileDevice.open(path);
    expect(dev.readOnly).toBe(false);
    expect(dev.isBlockDevice).toBe(false);
    expect(dev.fd).toBeGreaterThanOrEqual(0);
    try {
      checkCommonContract(dev, bytes);
    } finally {
      dev.close();
    }
    dev.close();
    const ro = FileDevice.open(path, { readOnly: true });
    try {
      const back = new Uint8Array(300);
      ro.read(4000, back);
      expect(back).toEqual(pattern(300, 9));
    } finally {
      ro.close();
    }
  });

  it("opens a 0444 file of another owner read-only and refuses writes with EROFS", () => {
    const path = join(dir, "ro.img");
    writeFileSync(path, pattern(4096));
    chmodSync(path, 0o444);
    chownSync(path, 65534, 65534);
    const dev = FileDevice.open(path, { readOnly: true });
    try {
      expect(dev.readOnly).toBe(true);
      expect(dev.size).toBe(4096);
      const e = ioError(() => dev.write(0, new Uint8Array(1)));
      expect(e.errno).toBe("EROFS");
      dev.flush();
      const all = new Uint8Array(4096);
      dev.read(0, all);
      expect(all).toEqual(pattern(4096));
    } finally {
      dev.close();
    }
  });

  it("maps open failures to errno names", () => {
    expect(ioError(() => FileDevice.open(join(dir, "missing.img"))).errno).toBe("ENOENT");
    expect(ioError(() => FileDevice.open(dir)).errno).toBe("EISDIR");
    const e = ioError(() => FileDevice.open(dir, { readOnly: true }));
    expect(e.errno).toBe("EINVAL");
    expect(e.op).toBe("open");
  });

  it("reports a file that shrank under it as a short read, not zeros", () => {
    const path = join(dir, "shrink.img");
    writeFileSync(path, pattern(8192));
    const dev = FileDevice.open(path, { readOnly: true });
    try {
      execFileSync("truncate", ["-s", "4096", path]);
      const e = ioError(() => dev.read(4000, new Uint8Array(200)));
      expect(e.errno).toBe("EIO");
      expect(e.offset).toBe(4096);
    } finally {
      dev.close();
    }
    expect(ioError(() => dev.read(0, new Uint8Array(1))).errno).toBe("EBADF");
  });
});

describe("splitDevId", () => {
  it("inverts glibc's makedev for every major/minor", () => {
    // makedev from glibc's <sys/sysmacros.h> (__SYSMACROS_DEFINE_MAKEDEV).
    const makedev = (major: bigint, minor: bigint): bigint =>
      ((major & 0xfffn) << 8n) |
      ((major & ~0xfffn) << 32n) |
      (minor & 0xffn) |
      ((minor & ~0xffn) << 12n);
    fc.assert(
      fc.property(fc.nat(0xffffffff), fc.nat(0xffffffff), (major, minor) => {
        expect(splitDevId(makedev(BigInt(major), BigInt(minor)))).toEqual({ major, minor });
      }),
    );
  });
});

describe("FileDevice on a block device (loop)", () => {
  const img = () => join(dir, "loop.img");
  let loop: string | undefined;

  beforeAll(() => {
    writeFileSync(img(), pattern(3 * 1024 * 1024 + 512 * 5, 5));
    try {
      loop = execFileSync("losetup", ["--find", "--show", img()], { encoding: "utf8" }).trim();
    } catch (e) {
      console.warn(
        `\n!!! iocache: losetup could not attach a loop device (${String(e)}); ` +
          "the block-device tests of FileDevice are SKIPPED !!!\n",
      );
    }
  });
  afterAll(() => {
    if (loop !== undefined) execFileSync("losetup", ["--detach", loop]);
  });

  it("takes the size from sysfs and reads the same bytes as the file", (ctx) => {
    if (loop === undefined) ctx.skip();
    const path = loop!;
    // Oracle for the major:minor decoding: stat(1) prints them in hex.
    const [maj, min] = execFileSync("stat", ["-c", "%t %T", path], { encoding: "utf8" })
      .trim()
      .split(" ")
      .map((h) => Number.parseInt(h, 16));
    expect(splitDevId(statSync(path, { bigint: true }).rdev)).toEqual({ major: maj, minor: min });

    const dev = FileDevice.open(path);
    try {
      expect(dev.isBlockDevice).toBe(true);
      expect(dev.size).toBe(3 * 1024 * 1024 + 512 * 5);
      const tail = new Uint8Array(4096);
      dev.read(dev.size - 4096, tail);
      expect(tail).toEqual(pattern(dev.size, 5).subarray(dev.size - 4096));
      expect(ioError(() => dev.read(dev.size - 1, new Uint8Array(2))).errno).toBe("EIO");
      dev.write(512, pattern(1024, 11));
      dev.flush();
    } finally {
      dev.close();
    }
    const ro = FileDevice.open(path, { readOnly: true });
    try {
      expect(ioError(() => ro.write(0, new Uint8Array(512))).errno).toBe("EROFS");
      const back = new Uint8Array(1024);
      ro.read(512, back);
      expect(back).toEqual(pattern(1024, 11));
    } finally {
      ro.close();
    }
  });

  it("claims the block device exclusively with O_EXCL", (ctx) => {
    if (loop === undefined) ctx.skip();
    const first = FileDevice.open(loop!, { exclusive: true });
    try {
      const e = ioError(() => FileDevice.open(loop!, { exclusive: true, readOnly: true }));
      expect(e.errno).toBe("EBUSY");
      // A plain (shared) open is still allowed, as for any block device.
      FileDevice.open(loop!, { readOnly: true }).close();
    } finally {
      first.close();
    }
    FileDevice.open(loop!, { exclusive: true }).close();
  });
});
