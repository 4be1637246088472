import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Ext4Error, isExt4Error } from "../errors.js";
import { extentBlockList, mapExtents, readExtentTree } from "../map/extent-tree.js";
import type { BlockRun } from "../map/types.js";
import { buildExtentTree, MemoryMap } from "../test-support/maps.js";
import { ByteView } from "../view.js";
import {
  decodeExtent,
  decodeExtentIndex,
  decodeExtentNode,
  EXTENT,
  EXTENT_HEADER,
  EXTENT_IDX,
  EXTENT_TAIL,
  type Extent,
  type ExtentNodeCheck,
  encodeExtent,
  encodeExtentIndex,
  encodeExtentNode,
} from "./extent.js";

const extent: fc.Arbitrary<Extent> = fc
  .record({
    logical: fc.nat(0xffffffff),
    physical: fc.nat(2 ** 48 - 1),
    unwritten: fc.boolean(),
    length: fc.integer({ min: 1, max: 32768 }),
  })
  .map((x) => ({ ...x, length: x.unwritten ? Math.min(x.length, 32767) : x.length }));

/** Sorted, non-overlapping extents with gaps, physical blocks inside [1, 2^20). */
const extentList = (max: number): fc.Arbitrary<Extent[]> =>
  fc
    .array(
      fc.record({
        gap: fc.nat(20),
        length: fc.integer({ min: 1, max: 40 }),
        unwritten: fc.boolean(),
        phys: fc.integer({ min: 1, max: 2 ** 20 - 100 }),
      }),
      { minLength: 0, maxLength: max },
    )
    .map((xs) => {
      let pos = 0;
      return xs.map((x) => {
        const e = {
          logical: pos + x.gap,
          physical: x.phys,
          length: x.length,
          unwritten: x.unwritten,
        };
        pos = e.logical + e.length;
        return e;
      });
    });

function model(extents: readonly Extent[], from: number, to: number): BlockRun[] {
  const runs: BlockRun[] = [];
  for (let l = from; l < to; l++) {
    const x = extents.find((e) => l >= e.logical && l < e.logical + e.length);
    const prev = runs[runs.length - 1];
    if (x === undefined) {
      if (prev?.kind === "hole") runs[runs.length - 1] = { ...prev, length: prev.length + 1 };
      else runs.push({ kind: "hole", logical: l, length: 1 });
      continue;
    }
    const phys = x.physical + (l - x.logical);
    if (
      prev?.kind === "mapped" &&
      prev.unwritten === x.unwritten &&
      prev.physical + prev.length === phys
    ) {
      runs[runs.length - 1] = { ...prev, length: prev.length + 1 };
    } else {
      runs.push({ kind: "mapped", logical: l, physical: phys, length: 1, unwritten: x.unwritten });
    }
  }
  return runs;
}

describe("extent tables", () => {
  it("have the kernel's sizes", () => {
    expect([EXTENT_HEADER.size, EXTENT.size, EXTENT_IDX.size, EXTENT_TAIL.size]).toEqual([
      12, 12, 12, 4,
    ]);
    expect(EXTENT.offsetOf("ee_start_hi")).toBe(6);
    expect(EXTENT_IDX.offsetOf("ei_leaf_hi")).toBe(8);
    expect(EXTENT_HEADER.offsetOf("eh_depth")).toBe(6);
  });

  it("round-trip leaf and index entries (decode ∘ encode = identity)", () => {
    fc.assert(
      fc.property(extent, fc.nat(0xffffffff), fc.nat(2 ** 48 - 1), (x, lblk, child) => {
        const b = new Uint8Array(12);
        encodeExtent(new ByteView(b), x);
        expect(decodeExtent(new ByteView(b))).toEqual(x);
        encodeExtentIndex(new ByteView(b), { logical: lblk, child });
        expect(decodeExtentIndex(new ByteView(b))).toEqual({ logical: lblk, child });
      }),
    );
  });

  it("round-trip whole nodes", () => {
    fc.assert(
      fc.property(extentList(4), fc.nat(0xffffffff), (xs, gen) => {
        const root = new Uint8Array(60);
        encodeExtentNode(root, { max: 4, depth: 0, generation: gen, extents: xs, indexes: [] });
        const n = decodeExtentNode(root, { firstDataBlock: 1, blocksCount: 2 ** 21 });
        expect(n).toEqual({
          entries: xs.length,
          max: 4,
          depth: 0,
          generation: gen,
          extents: xs,
          indexes: [],
        });
      }),
    );
  });
});

describe("decodeExtentNode", () => {
  const check = { firstDataBlock: 1, blocksCount: 1000 };
  const node = (f: (v: ByteView) => void): Uint8Array => {
    const b = new Uint8Array(60);
    encodeExtentNode(b, {
      max: 4,
      depth: 0,
      generation: 0,
      extents: [
        { logical: 0, physical: 10, length: 2, unwritten: false },
        { logical: 5, physical: 20, length: 3, unwritten: true },
      ],
      indexes: [],
    });
    f(new ByteView(b));
    return b;
  };
  const codeOf = (b: Uint8Array, extra: Partial<ExtentNodeCheck> = {}): string => {
    try {
      decodeExtentNode(b, { ...check, ...extra });
      return "ok";
    } catch (e) {
      if (e instanceof Ext4Error) return e.code;
      throw e;
    }
  };

  it("names each failed check", () => {
    expect(codeOf(node(() => {}))).toBe("ok");
    expect(codeOf(node((v) => v.setU16(0, 0xf30b)))).toBe("EXTENT_BAD_MAGIC");
    expect(codeOf(node((v) => v.setU16(2, 5)))).toBe("EXTENT_TOO_MANY_ENTRIES");
    expect(codeOf(node((v) => v.setU16(4, 5)))).toBe("EXTENT_BAD_MAX");
    expect(codeOf(node((v) => v.setU16(6, 6)))).toBe("EXTENT_TOO_DEEP");
    expect(
      codeOf(
        node(() => {}),
        { expectedDepth: 1 },
      ),
    ).toBe("EXTENT_BAD_DEPTH");
    expect(codeOf(node((v) => v.setU32(24, 1)))).toBe("EXTENT_UNORDERED");
    expect(codeOf(node((v) => v.setU16(16, 0)))).toBe("EXTENT_ZERO_LENGTH");
    expect(codeOf(node((v) => v.setU32(20, 999)))).toBe("EXTENT_BAD_PHYSICAL");
    expect(codeOf(node((v) => v.setU32(32, 0xffffffff)))).toBe("EXTENT_BAD_PHYSICAL");
    expect(
      codeOf(
        node(() => {}),
        { end: 6 },
      ),
    ).toBe("EXTENT_OUT_OF_RANGE");
  });

  it("throws only Ext4Error on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), fc.boolean(), (bytes, magic) => {
        if (magic && bytes.length >= 2) new ByteView(bytes).setU16(0, 0xf30a);
        try {
          decodeExtentNode(bytes, check);
        } catch (e) {
          expect(isExt4Error(e)).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("extent tree walker", () => {
  it("maps any range as the extent model says, at any depth", () => {
    fc.assert(
      fc.property(
        extentList(400),
        fc.nat(3000),
        fc.nat(3000),
        fc.constantFrom(1024, 4096),
        (xs, from, len, bs) => {
          const mem = new MemoryMap(bs, 2 ** 21, 0xabcdef);
          const root = buildExtentTree(mem, xs, 2 ** 20);
          expect(mapExtents(mem, 12, root, from, from + len)).toEqual(model(xs, from, from + len));
          const tree = readExtentTree(mem, 12, root);
          const list = extentBlockList(mem, 12, root);
          expect(list.filter((e) => e.kind === "mapped")).toEqual(
            xs.map((x) => ({ kind: "mapped", ...x })),
          );
          expect(list.filter((e) => e.kind === "metadata").length).toBe(mem.blocks.size);
          if (xs.length > 4 * Math.floor((bs - 12) / 12)) expect(tree.depth).toBe(2);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("rejects a bad tail checksum and a block reached twice", () => {
    const xs = Array.from({ length: 10 }, (_, i) => ({
      logical: i * 4,
      physical: 100 + i,
      length: 2,
      unwritten: false,
    }));
    const mem = new MemoryMap(1024, 2 ** 21, 0x1234);
    const root = buildExtentTree(mem, xs, 5000);
    expect(() => mapExtents(mem, 12, root, 0, 100)).not.toThrow();
    const leaf = mem.blocks.get(5000) ?? new Uint8Array();
    leaf[8] = (leaf[8] ?? 0) ^ 1; // eh_generation: still a valid node
    try {
      mapExtents(mem, 12, root, 0, 100);
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "BadChecksum")).toBe(true);
    }
    mem.verifyChecksums = false;
    expect(() => mapExtents(mem, 12, root, 0, 100)).not.toThrow();
    // Two index entries pointing at the same leaf.
    const twice = new Uint8Array(60);
    encodeExtentNode(twice, {
      max: 4,
      depth: 1,
      generation: 0,
      extents: [],
      indexes: [
        { logical: 0, child: 5000 },
        { logical: 1, child: 5000 },
      ],
    });
    try {
      readExtentTree(mem, 12, twice);
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
    }
  });

  it("throws only Ext4Error on corrupted tree blocks", () => {
    const xs = Array.from({ length: 200 }, (_, i) => ({
      logical: i * 3,
      physical: 100 + i * 2,
      length: 2,
      unwritten: i % 3 === 0,
    }));
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(2), fc.nat(1024 * 8 - 1)), { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (flips, verify) => {
          const mem = new MemoryMap(1024, 2 ** 21, 0x99);
          mem.verifyChecksums = verify;
          const root = buildExtentTree(mem, xs, 7000);
          for (const [which, bit] of flips) {
            const b = mem.blocks.get(7000 + which) ?? new Uint8Array(1024);
            b[bit >> 3] = (b[bit >> 3] ?? 0) ^ (1 << (bit & 7));
          }
          try {
            mapExtents(mem, 12, root, 0, 1000);
            readExtentTree(mem, 12, root);
          } catch (e) {
            expect(isExt4Error(e)).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
