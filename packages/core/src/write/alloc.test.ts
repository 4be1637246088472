import { readFileSync, writeFileSync } from "node:fs";
import { MemoryDevice } from "@ext4/iocache";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { findClearBit, testBit, uninitBlockBitmap } from "../format/bitmap.js";
import { EXT4_BG_BLOCK_UNINIT } from "../format/group-desc.js";
import { blocksInGroup } from "../format/superblock.js";
import { Filesystem } from "../fs.js";
import { expectFsckClean, freshImage, openWritable } from "../test-support/rw.js";
import { findRun } from "./alloc.js";
import { WriteEngine } from "./engine.js";
import { MetaState } from "./meta.js";

/** A write engine over an in-memory copy of a fresh image (the Filesystem itself opened read-only). */
function engineOn(kind: "ext4" | "ext4-1k" | "ext2" | "ext4-nocsum"): {
  e: WriteEngine;
  fs: Filesystem;
  dev: MemoryDevice;
  image: string;
} {
  const image = freshImage(kind, 48 << 20);
  const dev = new MemoryDevice(new Uint8Array(readFileSync(image)));
  const fs = Filesystem.open(dev);
  const e = new WriteEngine(fs, new MetaState(fs.superblock, [...fs.groups]));
  return { e, fs, dev, image };
}

/** Free clusters counted in the bitmaps (computed for BLOCK_UNINIT groups). */
function bitmapFree(e: WriteEngine, g: number): number {
  const sb = e.geo;
  // OK to assert: g < groupCount.
  const gd = e.meta.groups[g]!;
  const bits = blocksInGroup(sb, g);
  const bytes =
    (gd.flags & EXT4_BG_BLOCK_UNINIT) !== 0 && sb.features.groupDescCsum
      ? uninitBlockBitmap(sb, gd, g).bytes
      : e.host.readBlock(gd.blockBitmap);
  let free = 0;
  for (let i = 0; i < bits; i++) if (!testBit(bytes, i)) free++;
  return free;
}

describe("findRun", () => {
  it("finds the first run long enough, or the longest shorter one", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        fc.nat(511),
        fc.integer({ min: 1, max: 40 }),
        (bytes, from0, want) => {
          const to = bytes.length * 8;
          const from = from0 % to;
          const r = findRun(bytes, from, to, want);
          // Reference: scan bit by bit.
          let best = { start: 0, len: 0 };
          for (let i = from; i < to; ) {
            if (testBit(bytes, i)) {
              i++;
              continue;
            }
            let j = i;
            while (j < to && j - i < want && !testBit(bytes, j)) j++;
            if (j - i >= want) {
              expect(r).toEqual({ found: true, start: i, len: want });
              return;
            }
            if (j - i > best.len) best = { start: i, len: j - i };
            i = j;
          }
          expect(r).toEqual({ found: false, ...best });
          expect(findClearBit(bytes, from, to)).toBe(
            best.len === 0 ? to : findClearBit(bytes, from, to),
          );
        },
      ),
    );
  });
});

describe("the allocator against its bitmaps", () => {
  it.each(["ext4", "ext4-1k", "ext2", "ext4-nocsum"] as const)(
    "random allocations and frees keep bitmaps, descriptors and counters in step (%s)",
    (kind) => {
      const action = fc.oneof(
        fc.record({
          t: fc.constant("alloc" as const),
          goal: fc.nat(),
          count: fc.integer({ min: 1, max: 3000 }),
          reserved: fc.boolean(),
        }),
        fc.record({ t: fc.constant("free" as const), pick: fc.nat(), part: fc.boolean() }),
        fc.record({ t: fc.constant("inode" as const), parent: fc.nat(), dir: fc.boolean() }),
        fc.record({ t: fc.constant("ifree" as const), pick: fc.nat() }),
      );
      fc.assert(
        fc.property(fc.array(action, { minLength: 1, maxLength: 60 }), (actions) => {
          const { e, dev, image } = engineOn(kind);
          const sb = e.geo;
          const held: Array<{ start: number; count: number }> = [];
          const inodes: Array<{ ino: number; dir: boolean }> = [];
          const owned = new Set<number>();
          const initialFree = e.freeClusters;
          const initialFreeInodes = e.freeInodes;
          e.op(() => {
            for (const a of actions) {
              if (a.t === "alloc") {
                const goal = sb.firstDataBlock + (a.goal % (sb.blocksCount - sb.firstDataBlock));
                let r: { start: number; count: number };
                try {
                  r = e.alloc.allocBlocks(goal, a.count, { reserved: a.reserved });
                } catch (err) {
                  expect(isExt4Error(err, "NoSpace")).toBe(true);
                  continue;
                }
                expect(r.count).toBeGreaterThanOrEqual(1);
                expect(r.count).toBeLessThanOrEqual(a.count);
                expect(e.alloc.inSystemZone(r.start, r.count)).toBe(false);
                for (let b = r.start; b < r.start + r.count; b++) {
                  expect(owned.has(b)).toBe(false);
                  owned.add(b);
                }
                held.push(r);
              } else if (a.t === "free" && held.length > 0) {
                const i = a.pick % held.length;
                // OK to assert: i < held.length.
                const r = held[i]!;
                const n = a.part && r.count > 1 ? Math.ceil(r.count / 2) : r.count;
                e.alloc.freeBlocks(r.start, n);
                for (let b = r.start; b < r.start + n; b++) owned.delete(b);
                if (n === r.count) held.splice(i, 1);
                else held[i] = { start: r.start + n, count: r.count - n };
              } else if (a.t === "inode") {
                const parent = 1 + (a.parent % sb.inodesCount);
                const ino = e.alloc.allocInode(parent, a.dir);
                expect(inodes.some((x) => x.ino === ino)).toBe(false);
                expect(ino).toBeGreaterThanOrEqual(sb.firstIno);
                inodes.push({ ino, dir: a.dir });
              } else if (a.t === "ifree" && inodes.length > 0) {
                const i = a.pick % inodes.length;
                // OK to assert: i < inodes.length.
                const x = inodes[i]!;
                e.alloc.freeInode(x.ino, x.dir);
                inodes.splice(i, 1);
              }
            }
          });
          // Counters, descriptors and bitmaps agree.
          let sum = 0;
          for (let g = 0; g < sb.groupCount; g++) {
            // OK to assert: g < groupCount.
            expect(e.meta.groups[g]!.freeBlocksCount).toBe(bitmapFree(e, g));
            sum += e.meta.groups[g]!.freeBlocksCount;
          }
          expect(sum).toBe(e.freeClusters);
          expect(e.freeClusters).toBe(initialFree - owned.size);
          expect(e.freeInodes).toBe(initialFreeInodes - inodes.length);
          // The reserve was respected by non-root calls: they never take the last r_blocks.
          expect(e.freeClusters).toBeGreaterThanOrEqual(0);
          // Free everything: the image must be exactly consistent again.
          e.op(() => {
            for (const r of held) e.alloc.freeBlocks(r.start, r.count);
            for (const x of inodes) e.alloc.freeInode(x.ino, x.dir);
            e.writeSuperblock();
          });
          e.cache.flush();
          writeFileSync(image, dev.bytes);
          expectFsckClean(image);
        }),
        { numRuns: 12 },
      );
    },
    120_000,
  );

  it("takes the run at the goal, then the first run long enough, and refuses double frees", () => {
    const { e } = engineOn("ext4");
    const sb = e.geo;
    e.op(() => {
      const goal = sb.blocksCount - 1000;
      const a = e.alloc.allocBlocks(goal, 100, { reserved: false });
      expect(a).toEqual({ start: goal, count: 100 });
      const b = e.alloc.allocBlocks(goal, 10, { reserved: false });
      expect(b).toEqual({ start: goal + 100, count: 10 });
      e.alloc.freeBlocks(a.start, a.count);
      try {
        e.alloc.freeBlocks(a.start + 5, 1);
        expect.unreachable();
      } catch (err) {
        expect(isExt4Error(err, "Corrupt") && err.code).toBe("BLOCK_DOUBLE_FREE");
      }
      // Metadata is never freed.
      // OK to assert: group 0 exists.
      expect(() => e.alloc.freeBlocks(e.meta.groups[0]!.inodeTable, 1)).toThrowError(
        expect.objectContaining({ code: "BLOCK_IN_SYSTEM_ZONE" }),
      );
    });
  });

  it("keeps the root reserve from ordinary callers and the kernel's reserve from everyone but nofail", () => {
    const image = freshImage("ext4", 16 << 20);
    const fs = openWritable(image);
    const free = fs.statfs().bfree;
    const st = fs.statfs();
    // Fill as an ordinary user: stops at bavail.
    const f = fs.create(2, "fill", { mode: 0o644, uid: 1000, gid: 1000 });
    let written = 0;
    const chunk = new Uint8Array(1 << 20);
    for (;;) {
      try {
        const r = fs.writeFile(f.ino, written, chunk);
        written += r.written;
        if (r.written < chunk.length) break;
      } catch (err) {
        expect(isExt4Error(err, "NoSpace")).toBe(true);
        break;
      }
    }
    expect(fs.statfs().bavail).toBe(0);
    const used = free - fs.statfs().bfree;
    // Data plus a few extent blocks: no more than bavail (+ tree blocks).
    expect(used).toBeGreaterThanOrEqual(st.bavail);
    expect(used).toBeLessThanOrEqual(st.bavail + 8);
    // Root may go on into the r_blocks reserve.
    const g = fs.create(2, "root-fill", { mode: 0o644, uid: 0, gid: 0, reserved: true });
    const r = fs.writeFile(g.ino, 0, new Uint8Array(64 << 10), { reserved: true });
    expect(r.written).toBe(64 << 10);
    expect(() => fs.writeFile(f.ino, written, new Uint8Array(4096))).toThrowError(
      expect.objectContaining({ kind: "NoSpace" }),
    );
    fs.close();
    expectFsckClean(image);
  });
});
