import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { indirectBlockList, indirectMaxBlocks } from "./indirect.js";
import { IndirectWriter } from "./indirect-write.js";
import type { MapWriteEnv } from "./write-env.js";

/** In-memory blocks of 64 bytes: 16 pointers per block, so triple indirection starts at block 284. */
class MemEnv implements MapWriteEnv {
  readonly blockSize = 64;
  readonly blocksCount = 1 << 22;
  readonly firstDataBlock = 1;
  readonly inodeSeed = null;
  readonly verifyChecksums = true;
  readonly blocks = new Map<number, Uint8Array>();
  readonly metaInUse = new Set<number>();
  readonly freed = new Set<number>();
  private next = 3_000_000;
  budget = Number.POSITIVE_INFINITY;

  readBlock(block: number): Uint8Array {
    const b = this.blocks.get(block);
    if (b === undefined) throw new Error(`read of unknown block ${block}`);
    return b;
  }
  blockForWrite(block: number): Uint8Array {
    return this.readBlock(block);
  }
  zeroBlock(block: number): Uint8Array {
    const b = new Uint8Array(this.blockSize);
    this.blocks.set(block, b);
    return b;
  }
  dirty(): void {}
  allocMeta(_goal: number, count: number): number[] {
    if (count > this.budget) throw Object.assign(new Error("no space"), { kind: "NoSpace" });
    this.budget -= count;
    return Array.from({ length: count }, () => {
      const b = this.next++;
      this.metaInUse.add(b);
      return b;
    });
  }
  freeMeta(block: number): void {
    if (!this.metaInUse.delete(block)) throw new Error(`meta block ${block} freed twice`);
  }
  freeData(physical: number, length: number): void {
    for (let i = 0; i < length; i++) {
      if (this.freed.has(physical + i)) throw new Error(`data ${physical + i} freed twice`);
      this.freed.add(physical + i);
    }
  }
}

const MAX = indirectMaxBlocks(64);

describe("IndirectWriter against an in-memory model", () => {
  it("random map/unmap sequences over direct, single, double and triple ranges", () => {
    const at = fc.oneof(
      fc.nat(40),
      fc.integer({ min: 20, max: 320 }),
      fc.integer({ min: 270, max: MAX - 1 }),
    );
    const op = fc.record({ remove: fc.boolean(), at, len: fc.integer({ min: 1, max: 40 }) });
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 80 }), (ops) => {
        const env = new MemEnv();
        const root = new Uint8Array(60);
        const t = new IndirectWriter(env, 12, root);
        const model = new Map<number, number>();
        let next = 10;
        for (const o of ops) {
          const end = Math.min(MAX, o.at + o.len);
          if (o.remove) {
            t.remove(o.at, end);
            for (let l = o.at; l < end; l++) {
              const p = model.get(l);
              if (p !== undefined) expect(env.freed.has(p)).toBe(true);
              model.delete(l);
            }
          } else {
            let len = 0;
            while (o.at + len < end && !model.has(o.at + len)) len++;
            if (len === 0) continue;
            t.insert(o.at, next, len);
            for (let i = 0; i < len; i++) model.set(o.at + i, next + i);
            next += len + 1;
          }
          // The map agrees with the model, and every indirect block is in use and reachable.
          const list = indirectBlockList(env, 12, root);
          const meta = new Set(list.filter((x) => x.kind === "metadata").map((x) => x.physical));
          expect(meta).toEqual(env.metaInUse);
          const mapped = new Map<number, number>();
          for (const x of list) {
            if (x.kind === "mapped")
              for (let i = 0; i < x.length; i++) mapped.set(x.logical + i, x.physical + i);
          }
          expect(mapped).toEqual(model);
        }
        t.remove(0, MAX);
        expect(env.metaInUse.size).toBe(0);
        expect(root.every((b) => b === 0)).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it("allocates the indirect blocks a pointer needs all at once, or nothing", () => {
    const env = new MemEnv();
    const root = new Uint8Array(60);
    const t = new IndirectWriter(env, 12, root);
    env.budget = 2;
    // The first triple-indirect block needs three indirect blocks.
    const triple = 12 + 16 + 256;
    try {
      t.insert(triple, 99, 1);
      expect.unreachable();
    } catch (e) {
      expect((e as { kind?: string }).kind).toBe("NoSpace");
    }
    expect(root.every((b) => b === 0)).toBe(true);
    env.budget = 3;
    t.insert(triple, 99, 1);
    expect(env.metaInUse.size).toBe(3);
    expect(t.map(triple, 1)).toEqual([
      { kind: "mapped", logical: triple, physical: 99, length: 1, unwritten: false },
    ]);
  });

  it("refuses blocks past the map and blocks already mapped", () => {
    const env = new MemEnv();
    const t = new IndirectWriter(env, 12, new Uint8Array(60));
    expect(() => t.insert(MAX, 5, 1)).toThrowError(expect.objectContaining({ kind: "FileTooBig" }));
    t.insert(3, 50, 1);
    try {
      t.insert(3, 51, 1);
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "InvalidArgument")).toBe(true);
    }
  });
});
