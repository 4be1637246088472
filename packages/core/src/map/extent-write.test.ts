import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { encodeExtentNode, verifyExtentBlockChecksum } from "../format/extent.js";
import { type ExtentTreeNode, readExtentTree } from "./extent-tree.js";
import { EXT4_ROOT_MAX, ExtentWriter, normalizeExtents } from "./extent-write.js";
import type { BlockRun } from "./types.js";
import type { MapWriteEnv } from "./write-env.js";

/**
 * An in-memory block store and allocator: 64-byte blocks hold 4 extents,
 * so a few dozen extents make a tree three or four levels deep.
 */
class MemEnv implements MapWriteEnv {
  readonly blockSize: number;
  readonly blocksCount = 1 << 20;
  readonly firstDataBlock = 0;
  readonly inodeSeed: number | null;
  readonly verifyChecksums = true;
  readonly blocks = new Map<number, Uint8Array>();
  readonly metaInUse = new Set<number>();
  readonly freedData: Array<[number, number]> = [];
  private nextMeta = 500_000;
  /** Fail metadata allocation after this many more blocks (NoSpace testing). */
  budget = Number.POSITIVE_INFINITY;

  constructor(blockSize: number, seed: number | null) {
    this.blockSize = blockSize;
    this.inodeSeed = seed;
  }
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
    if (count > this.budget) {
      const e = new Error("no space") as Error & { kind: string };
      throw Object.assign(e, { kind: "NoSpace" });
    }
    this.budget -= count;
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const b = this.nextMeta++;
      this.metaInUse.add(b);
      out.push(b);
    }
    return out;
  }
  freeMeta(block: number): void {
    if (!this.metaInUse.delete(block)) throw new Error(`meta block ${block} freed twice`);
    this.blocks.delete(block);
  }
  freeData(physical: number, length: number): void {
    this.freedData.push([physical, length]);
  }
}

type Model = Map<number, { physical: number; unwritten: boolean }>;

function emptyRoot(): Uint8Array {
  const root = new Uint8Array(60);
  encodeExtentNode(root, { max: EXT4_ROOT_MAX, depth: 0, generation: 0, extents: [], indexes: [] });
  return root;
}

function modelRuns(model: Model, from: number, to: number): BlockRun[] {
  const out: BlockRun[] = [];
  for (let l = from; l < to; l++) {
    const m = model.get(l);
    const prev = out[out.length - 1];
    if (m === undefined) {
      if (prev?.kind === "hole") out[out.length - 1] = { ...prev, length: prev.length + 1 };
      else out.push({ kind: "hole", logical: l, length: 1 });
    } else if (
      prev?.kind === "mapped" &&
      prev.unwritten === m.unwritten &&
      prev.physical + prev.length === m.physical
    ) {
      out[out.length - 1] = { ...prev, length: prev.length + 1 };
    } else {
      out.push({
        kind: "mapped",
        logical: l,
        physical: m.physical,
        length: 1,
        unwritten: m.unwritten,
      });
    }
  }
  return out;
}

/** Checks the structure: keys equal first child keys, no empty nodes, checksums, no leaked blocks. */
function checkTree(env: MemEnv, root: Uint8Array): void {
  const tree = readExtentTree(env, 12, root);
  const seen = new Set<number>();
  const walk = (n: ExtentTreeNode, isRoot: boolean): void => {
    if (!isRoot) expect(n.entries).toBeGreaterThan(0);
    if (n.block !== null) {
      seen.add(n.block);
      if (env.inodeSeed !== null) {
        verifyExtentBlockChecksum(env.inodeSeed, env.readBlock(n.block), n.max, {});
      }
    }
    for (const c of n.children) {
      const first = c.node.depth === 0 ? c.node.extents[0]?.logical : c.node.children[0]?.logical;
      expect(first).toBe(c.logical);
      walk(c.node, false);
    }
    if (n.depth === 0) expect(normalizeExtents(n.extents)).toEqual(n.extents);
  };
  walk(tree, true);
  expect(seen).toEqual(env.metaInUse);
  if (tree.depth > 0 && tree.children.length === 1) {
    // OK to assert: one child.
    expect(tree.children[0]!.node.entries).toBeGreaterThan(EXT4_ROOT_MAX);
  }
}

const op = fc.oneof(
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(400),
    len: fc.integer({ min: 1, max: 12 }),
    unwritten: fc.boolean(),
    contiguous: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("remove" as const),
    at: fc.nat(420),
    len: fc.integer({ min: 1, max: 60 }),
  }),
  fc.record({
    kind: fc.constant("convert" as const),
    at: fc.nat(420),
    len: fc.integer({ min: 1, max: 60 }),
    unwritten: fc.boolean(),
  }),
);

describe("ExtentWriter against an in-memory model", () => {
  it.each([
    [64, 0x1234],
    [64, null],
    [1024, 7],
  ])(
    "random insert/remove/convert sequences keep the map and the tree right (%d-byte blocks)",
    (bs, seed) => {
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 120 }), (ops) => {
          const env = new MemEnv(bs, seed);
          const root = emptyRoot();
          const t = new ExtentWriter(env, 12, root);
          const model: Model = new Map();
          let nextData = 1000;
          let lastPhys = 0;
          for (const o of ops) {
            if (o.kind === "insert") {
              // Shrink to the hole starting at `at`.
              let len = 0;
              while (len < o.len && !model.has(o.at + len)) len++;
              if (len === 0) continue;
              const physical = o.contiguous && lastPhys > 0 ? lastPhys : nextData;
              nextData = Math.max(nextData, physical + len) + 1;
              lastPhys = physical + len;
              t.insert({ logical: o.at, physical, length: len, unwritten: o.unwritten });
              for (let i = 0; i < len; i++)
                model.set(o.at + i, { physical: physical + i, unwritten: o.unwritten });
            } else if (o.kind === "remove") {
              const before = env.freedData.length;
              t.remove(o.at, o.at + o.len);
              const freed = new Set<number>();
              for (const [p, n] of env.freedData.slice(before))
                for (let i = 0; i < n; i++) freed.add(p + i);
              const expected = new Set<number>();
              for (let l = o.at; l < o.at + o.len; l++) {
                const m = model.get(l);
                if (m !== undefined) expected.add(m.physical);
                model.delete(l);
              }
              expect(freed).toEqual(expected);
            } else {
              t.convert(o.at, o.at + o.len, o.unwritten);
              for (let l = o.at; l < o.at + o.len; l++) {
                const m = model.get(l);
                if (m !== undefined) model.set(l, { ...m, unwritten: o.unwritten });
              }
            }
            expect(t.map(0, 500)).toEqual(modelRuns(model, 0, 500));
            checkTree(env, root);
          }
          t.remove(0, 2 ** 32);
          expect(env.metaInUse.size).toBe(0);
          expect(t.map(0, 500)).toEqual([{ kind: "hole", logical: 0, length: 500 }]);
        }),
        { numRuns: 60 },
      );
    },
  );

  it("appends fill leaves completely and grow the tree a level when the root overflows", () => {
    const env = new MemEnv(64, null);
    const root = emptyRoot();
    const t = new ExtentWriter(env, 12, root);
    for (let i = 0; i < 64; i++)
      t.insert({ logical: i * 2, physical: 10_000 + i * 5, length: 1, unwritten: false });
    // 64 extents in full 4-entry leaves: 16 leaves under 4 full index blocks under the root.
    expect(readExtentTree(env, 12, root).depth).toBe(2);
    expect(env.metaInUse.size).toBe(16 + 4);
    checkTree(env, root);
    // One more leaf needs a fifth index block: the root grows a level.
    t.insert({ logical: 1000, physical: 90_000, length: 1, unwritten: false });
    expect(readExtentTree(env, 12, root).depth).toBe(3);
    expect(env.metaInUse.size).toBe(17 + 5 + 2);
    checkTree(env, root);
  });

  it("merges with neighbours and respects the maximum extent lengths", () => {
    const env = new MemEnv(1024, null);
    const root = emptyRoot();
    const t = new ExtentWriter(env, 12, root);
    t.insert({ logical: 0, physical: 100, length: 32000, unwritten: false });
    t.insert({ logical: 32000, physical: 32100, length: 768, unwritten: false });
    t.insert({ logical: 32768, physical: 32868, length: 10, unwritten: false });
    const tree = readExtentTree(env, 12, root);
    expect(tree.extents.map((x) => x.length)).toEqual([32768, 10]);
    t.convert(0, 32778, true);
    const after = readExtentTree(env, 12, root);
    expect(after.extents.every((x) => x.unwritten && x.length <= 32767)).toBe(true);
    expect(t.map(0, 32778)).toEqual([
      { kind: "mapped", logical: 0, physical: 100, length: 32778, unwritten: true },
    ]);
  });

  it("leaves the tree unchanged when a split cannot get a block", () => {
    const env = new MemEnv(64, null);
    const root = emptyRoot();
    const t = new ExtentWriter(env, 12, root);
    for (let i = 0; i < 4; i++)
      t.insert({ logical: i * 10, physical: 100 + i * 10, length: 5, unwritten: false });
    const before = root.slice();
    env.budget = 0;
    let kind: unknown;
    try {
      t.insert({ logical: 100, physical: 900, length: 1, unwritten: false });
    } catch (e) {
      kind = (e as { kind?: string }).kind;
    }
    expect(kind).toBe("NoSpace");
    expect(root).toEqual(before);
    // A punch in the middle of an extent needs a split too.
    expect(() => t.remove(1, 2)).toThrow();
    expect(root).toEqual(before);
  });

  it("refuses overlapping inserts", () => {
    const env = new MemEnv(1024, null);
    const t = new ExtentWriter(env, 12, emptyRoot());
    t.insert({ logical: 10, physical: 100, length: 5, unwritten: false });
    try {
      t.insert({ logical: 12, physical: 300, length: 5, unwritten: false });
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "InvalidArgument")).toBe(true);
    }
  });
});
