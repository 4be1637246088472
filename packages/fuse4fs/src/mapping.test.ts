/**
 * Fast-path ranges: block runs become byte ranges that cover each run
 * exactly (minus excluded blocks), the system zone of a real image holds
 * its metadata and none of a file's data, and evicting a range from the
 * buffer cache writes dirty blocks through and keeps only pinned ones.
 */
import { execFileSync } from "node:child_process";
import { type BlockRun, Filesystem } from "@ext4/core";
import { BufferCache, FileDevice, MemoryDevice } from "@ext4/iocache";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fixture } from "../../core/src/test-support/fixtures.js";
import { freshImage } from "../../core/src/test-support/rw.js";
import { evictRange, MappingPublisher, SystemZone, toRanges } from "./mapping.js";

const run: fc.Arbitrary<BlockRun[]> = fc
  .array(
    fc.record({
      kind: fc.constantFrom("hole", "mapped", "unwritten"),
      length: fc.integer({ min: 1, max: 50 }),
      physical: fc.integer({ min: 0, max: 5000 }),
    }),
    { maxLength: 20 },
  )
  .map((xs) => {
    let l = 0;
    return xs.map((x) => {
      const logical = l;
      l += x.length;
      return x.kind === "hole"
        ? { kind: "hole" as const, logical, length: x.length }
        : {
            kind: "mapped" as const,
            logical,
            length: x.length,
            physical: x.physical,
            unwritten: x.kind === "unwritten",
          };
    });
  });

describe("SystemZone", () => {
  it("merges overlapping ranges given in any order", () => {
    const z = SystemZone.fromRanges([
      [0, 2],
      [0, 1],
      [10, 12],
      [5, 11],
    ]);
    expect(z.overlapping(1, 1)).toEqual([[0, 2]]);
    expect(z.overlapping(12, 3)).toEqual([]);
    expect(z.overlapping(4, 2)).toEqual([[5, 12]]);
  });
});

describe("toRanges", () => {
  it("covers every run byte for byte, leaving out exactly the excluded blocks", () => {
    fc.assert(
      fc.property(
        run,
        fc.array(fc.tuple(fc.nat(5000), fc.integer({ min: 1, max: 30 })), { maxLength: 5 }),
        (runs, ex) => {
          const zone = SystemZone.fromRanges(ex.map(([s, n]) => [s, s + n] as const));
          const bs = 1024;
          const ranges = toRanges(runs, {
            blockSize: bs,
            deviceOffset: 7 * bs,
            exclude: (s, n) => zone.overlapping(s, n),
          });
          const excluded = (b: number) => ex.some(([s, n]) => b >= s && b < s + n);
          // Expected: per logical block, what it should map to (or nothing).
          const want = new Map<number, string>();
          for (const r of runs) {
            for (let i = 0; i < r.length; i++) {
              if (r.kind === "hole") want.set(r.logical + i, "hole");
              else if (r.unwritten) want.set(r.logical + i, "unwritten");
              else if (!excluded(r.physical + i))
                want.set(r.logical + i, `w${(7 + r.physical + i) * bs}`);
            }
          }
          const got = new Map<number, string>();
          let last = -1;
          for (const r of ranges) {
            expect(r.offset % bs).toBe(0);
            expect(r.length % bs).toBe(0);
            expect(r.offset).toBeGreaterThanOrEqual(last);
            last = r.offset + r.length;
            for (let i = 0; i < r.length / bs; i++) {
              got.set(
                r.offset / bs + i,
                r.kind === "written" ? `w${r.deviceOffset + i * bs}` : r.kind,
              );
            }
          }
          expect(got).toEqual(want);
        },
      ),
    );
  });
});

describe("SystemZone", () => {
  it("holds the metadata of a real image and no block of its files", () => {
    const image = fixture("ext4");
    const fs = Filesystem.open(FileDevice.open(image, { readOnly: true }));
    try {
      const zone = SystemZone.of(fs);
      const g0 = fs.groups[0]!;
      expect(zone.overlapping(0, 1).length).toBe(1);
      expect(zone.overlapping(g0.inodeTable, 1).length).toBe(1);
      expect(zone.overlapping(g0.blockBitmap, 1).length).toBe(1);
      const journal = fs.blockList(fs.readInode(fs.superblock.journalInum))[0]!;
      expect(zone.overlapping(journal.physical, 1).length).toBe(1);
      for (const path of ["/big.bin", "/frag.bin", "/sparse.bin"]) {
        const ino = Number(
          /Inode: (\d+)/.exec(
            execFileSync("debugfs", ["-R", `stat ${path}`, image], {
              encoding: "utf8",
              stdio: ["ignore", "pipe", "ignore"],
            }),
          )?.[1],
        );
        for (const b of fs.blockList(fs.readInode(ino))) {
          const n = b.kind === "metadata" ? 1 : b.length;
          expect(zone.overlapping(b.physical, n), path).toEqual([]);
        }
      }
    } finally {
      fs.close();
    }
  });
});

describe("evictRange", () => {
  it("writes dirty blocks through, drops clean ones, keeps pinned ones out", () => {
    const dev = new MemoryDevice(64 * 1024);
    const cache = new BufferCache(dev, { blockSize: 1024 });
    cache.get(3).fill(3);
    cache.markDirty(3);
    cache.get(4);
    cache.pin(6);
    cache.get(6).fill(6);
    cache.markDirty(6);
    const kept = evictRange(cache, 2, 6);
    expect(kept).toEqual([[6, 7]]);
    expect(cache.has(3) || cache.has(4)).toBe(false);
    const b = new Uint8Array(1024);
    dev.read(3 * 1024, b);
    expect(b.every((x) => x === 3)).toBe(true);
    // The pinned block was not written (a pin forbids it).
    dev.read(6 * 1024, b);
    expect(b.every((x) => x === 0)).toBe(true);
  });
});

describe("MappingPublisher.overwrite", () => {
  it("writes through only inside written ranges below the size of a node published for overwrites", () => {
    const image = fixture("ext4");
    const fs = Filesystem.open(FileDevice.open(image, { readOnly: true }));
    try {
      const ino = Number(
        /Inode: (\d+)/.exec(
          execFileSync("debugfs", ["-R", "stat /sparse.bin", image], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "ignore"],
          }),
        )?.[1],
      );
      const upserts: Array<{ node: number; size: number; fastWrite: boolean | undefined }> = [];
      const writes: Array<[number, number]> = [];
      const p = new MappingPublisher(
        fs,
        {
          upsertMapping: (node, size, _r, o) =>
            upserts.push({ node, size, fastWrite: o.fastWrite }),
          invalidateMapping: () => undefined,
        },
        4096,
        (dev, data) => writes.push([dev, data.length]),
      );
      const inode = fs.readInode(ino);
      expect(p.overwrite(ino, 0, new Uint8Array(10))).toBe(false);
      p.publish(ino, inode, true);
      expect(upserts).toEqual([{ node: ino, size: inode.size, fastWrite: true }]);
      const run0 = fs.mapBlocks(inode, 0, 1)[0]!;
      expect(run0.kind).toBe("mapped");
      // Inside the first 16 KiB of data: straight to the device at the mapped offset.
      expect(p.overwrite(ino, 100, new Uint8Array(5000))).toBe(true);
      expect(writes).toEqual([[4096 + (run0 as { physical: number }).physical * 4096 + 100, 5000]]);
      // Into the hole after it, or past the size: not an overwrite.
      expect(p.overwrite(ino, 16000, new Uint8Array(1000))).toBe(false);
      expect(p.overwrite(ino, inode.size - 1, new Uint8Array(2))).toBe(false);
      p.invalidate(ino);
      expect(p.overwrite(ino, 100, new Uint8Array(1))).toBe(false);
      p.publish(ino, inode, false);
      expect(p.overwrite(ino, 100, new Uint8Array(1))).toBe(false);
      expect(writes.length).toBe(1);
    } finally {
      fs.close();
    }
  });
});

describe("MappingPublisher.touch", () => {
  it("evicts exactly the cached blocks under the ranges the core changed", () => {
    const image = freshImage("ext4", 16 << 20);
    const fs = Filesystem.open(FileDevice.open(image), { writable: true });
    try {
      const file = fs.create(2, "f", { mode: 0o644, uid: 0, gid: 0 });
      fs.writeFile(file.ino, 0, new Uint8Array(64 * 1024).fill(1));
      // A partial-block write goes through the buffer cache and stays there, dirty.
      const inode = fs.writeFile(file.ino, 10_000, new Uint8Array(100).fill(9)).inode;
      const [run] = fs.mapBlocks(inode, 2, 1);
      if (run?.kind !== "mapped") throw new Error("block 2 is not mapped");
      expect(fs.cache.isDirty(run.physical)).toBe(true);
      const p = new MappingPublisher(
        fs,
        { upsertMapping: () => undefined, invalidateMapping: () => undefined },
        0,
      );
      p.publish(file.ino, inode, true);
      // Nothing recorded: a whole-file scan is skipped, the block stays where it is.
      expect(fs.cache.isDirty(run.physical)).toBe(true);
      p.invalidate(file.ino);
      p.touch(file.ino, { offset: 10_000, length: 100 });
      p.publish(file.ino, inode, true);
      expect(fs.cache.has(run.physical)).toBe(false);
      const b = new Uint8Array(100);
      fs.device.read(run.physical * fs.blockSize + (10_000 % fs.blockSize), b);
      expect(b.every((x) => x === 9)).toBe(true);
    } finally {
      fs.close();
    }
  });
});
