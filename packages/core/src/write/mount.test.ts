import { readFileSync } from "node:fs";
import { MemoryDevice } from "@ext4/iocache";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { setSuperblockChecksum } from "../format/superblock.js";
import { Filesystem } from "../fs.js";
import { dumpe2fs, mkfs } from "../test-support/mkfs.js";
import { expectFsckClean, freshImage, openWritable } from "../test-support/rw.js";

function header(image: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of dumpe2fs(image, true).split("\n")) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2].trim();
  }
  return out;
}

describe("mounting read-write", () => {
  it("marks the filesystem in use while open and clean after close, counting the mount", () => {
    const image = freshImage("ext4");
    const before = header(image);
    const fs = openWritable(image, { clock: () => ({ sec: 1_800_000_000, nsec: 5 }) });
    expect(fs.writable).toBe(true);
    expect(fs.readOnly).toBe(false);
    const during = header(image);
    // ext4_setup_super: with a journal the state stays clean and needs_recovery is set.
    expect(during["Filesystem state"]).toBe("clean");
    expect(during["Filesystem features"]).toMatch(/needs_recovery/);
    expect(Number(during["Mount count"])).toBe(Number(before["Mount count"]) + 1);
    expect(fs.superblock.mountTime).toBe(1_800_000_000);
    fs.close();
    const after = header(image);
    expect(after["Filesystem state"]).toBe("clean");
    expect(Number(after["Mount count"])).toBe(Number(before["Mount count"]) + 1);
    expect(after["Last write time"]).toBeDefined();
    expect(after["Filesystem features"]).not.toMatch(/needs_recovery/);
    expectFsckClean(image);
    // Without a journal the state itself says "not clean" while mounted.
    const plain = freshImage("ext2");
    const fs2 = openWritable(plain);
    expect(header(plain)["Filesystem state"]).toBe("not clean");
    fs2.close();
    expect(header(plain)["Filesystem state"]).toBe("clean");
  });

  it("refuses to write a read-only device or to ignore a journal needing recovery", () => {
    const image = mkfs({ size: 8 << 20 });
    const ro = new MemoryDevice(new Uint8Array(readFileSync(image)), { readOnly: true });
    expect(() => Filesystem.open(ro, { writable: true })).toThrowError(
      expect.objectContaining({ kind: "ReadOnly", code: "DEVICE_READ_ONLY" }),
    );
    const bytes = new Uint8Array(readFileSync(image));
    // Set needs_recovery (incompat 0x4) and fix the superblock checksum.
    const sb = Filesystem.open(new MemoryDevice(bytes.slice(), { readOnly: true })).superblock;
    const raw = sb.bytes.slice();
    const dv = new DataView(raw.buffer);
    dv.setUint32(0x60, dv.getUint32(0x60, true) | 4, true);
    setSuperblockChecksum(raw);
    bytes.set(raw, 1024);
    try {
      Filesystem.open(new MemoryDevice(bytes.slice()), { writable: true, journal: "ignore" });
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "ReadOnly") && e.code).toBe("JOURNAL_NEEDS_RECOVERY");
    }
    // With replay (the default) the empty log is recovered and the flag cleared.
    const dev = new MemoryDevice(bytes);
    const fs = Filesystem.open(dev, { writable: true });
    expect(fs.recovery).toMatchObject({ inMemory: false, transactions: 0 });
    fs.close();
    expect(Filesystem.open(new MemoryDevice(dev.bytes)).needsRecovery).toBe(false);
  });

  it("opens read-only with a reason for features it does not write", () => {
    const image = mkfs({ size: 64 << 20, args: ["-O", "quota"] });
    const fs = openWritable(image);
    expect(fs.writable).toBe(false);
    expect(fs.readOnlyReason).toMatch(/quota/);
    fs.close();
  });

  it("sync writes the counters and leaves the image consistent", () => {
    const image = freshImage("ext4-1k");
    const fs = openWritable(image);
    fs.sync();
    fs.close();
    expectFsckClean(image);
  });
});
