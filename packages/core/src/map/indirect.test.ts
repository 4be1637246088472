import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { buildIndirectMap, MemoryMap } from "../test-support/maps.js";
import { ByteView } from "../view.js";
import { indirectBlockList, indirectMaxBlocks, mapIndirect } from "./indirect.js";
import type { BlockRun } from "./types.js";

const BS = 1024;
const P = BS / 4;
const TIND = 12 + P + P * P;

/** A sparse logical → physical map touching direct, single, double and triple ranges. */
const sparseMap = fc
  .uniqueArray(
    fc.oneof(
      fc.nat(11),
      fc.integer({ min: 12, max: 12 + P - 1 }),
      fc.integer({ min: 12 + P, max: TIND - 1 }),
      fc.integer({ min: TIND, max: TIND + 3 * P * P }),
    ),
    { maxLength: 60 },
  )
  .chain((lblks) =>
    fc.tuple(
      fc.constant(lblks.sort((a, b) => a - b)),
      fc.array(fc.integer({ min: 1, max: 90_000 }), {
        minLength: lblks.length,
        maxLength: lblks.length,
      }),
    ),
  )
  .map(([l, p]) => new Map(l.map((x, i) => [x, p[i] ?? 1])));

function model(map: ReadonlyMap<number, number>, from: number, to: number): BlockRun[] {
  const runs: BlockRun[] = [];
  for (let l = from; l < to; l++) {
    const phys = map.get(l);
    const prev = runs[runs.length - 1];
    if (phys === undefined) {
      if (prev?.kind === "hole") runs[runs.length - 1] = { ...prev, length: prev.length + 1 };
      else runs.push({ kind: "hole", logical: l, length: 1 });
    } else if (prev?.kind === "mapped" && prev.physical + prev.length === phys) {
      runs[runs.length - 1] = { ...prev, length: prev.length + 1 };
    } else {
      runs.push({ kind: "mapped", logical: l, physical: phys, length: 1, unwritten: false });
    }
  }
  return runs;
}

describe("indirect block maps", () => {
  it("address 12 + p + p² + p³ blocks", () => {
    expect(indirectMaxBlocks(1024)).toBe(12 + 256 + 256 ** 2 + 256 ** 3);
  });

  it("map any range as the model says (direct to triple indirect)", () => {
    fc.assert(
      fc.property(sparseMap, fc.nat(TIND + 3 * P * P), fc.nat(4000), (map, from, len) => {
        const mem = new MemoryMap(BS, 2 ** 20);
        const root = buildIndirectMap(mem, map, 100_000);
        expect(mapIndirect(mem, 12, root, from, from + len)).toEqual(model(map, from, from + len));
        const keys = [...map.keys()];
        for (const k of keys.slice(0, 5)) {
          expect(mapIndirect(mem, 12, root, k, k + 1)).toEqual(model(map, k, k + 1));
        }
        const list = indirectBlockList(mem, 12, root);
        const data = list.flatMap((e) =>
          e.kind === "mapped" ? Array.from({ length: e.length }, (_, i) => e.physical + i) : [],
        );
        expect(data).toEqual([...map.values()]);
        expect(list.filter((e) => e.kind === "metadata").length).toBe(mem.blocks.size);
      }),
      { numRuns: 100 },
    );
  });

  it("rejects pointers outside the filesystem and shared indirect blocks", () => {
    const mem = new MemoryMap(BS, 1000);
    const root = new Uint8Array(60);
    new ByteView(root).setU32(0, 5000);
    try {
      mapIndirect(mem, 12, root, 0, 1);
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
    }
    // A double-indirect block whose two slots point at the same single-indirect block.
    const r2 = new Uint8Array(60);
    new ByteView(r2).setU32(52, 10);
    const dind = new ByteView(mem.readBlock(10, {}));
    dind.setU32(0, 11);
    dind.setU32(4, 11);
    new ByteView(mem.readBlock(11, {})).setU32(0, 12);
    try {
      mapIndirect(mem, 12, r2, 0, TIND);
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
    }
  });

  it("throws only Ext4Error on arbitrary pointer blocks, and stays bounded", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 60, maxLength: 60 }),
        fc.uint8Array({ minLength: 1024, maxLength: 1024 }),
        (root, block) => {
          const mem = new MemoryMap(BS, 2 ** 16);
          // Every pointer block reads as the same arbitrary bytes.
          mem.readBlock = () => block;
          try {
            const runs = mapIndirect(mem, 12, root, 0, indirectMaxBlocks(BS));
            expect(runs.length).toBeLessThan(4 * P * P);
          } catch (e) {
            expect(isExt4Error(e)).toBe(true);
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
