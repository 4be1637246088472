/**
 * The directory block list against a model of what pass 2 has always
 * listed for a directory (e2fsck's dblist with holes): every logical block
 * from 0 to the last mapped one, the first mapping of a block winning, a
 * hole as 0, block 0 alone for an empty block-mapped directory, and the
 * bounds on logical blocks and run lengths.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DirBlockList, DirRuns, MAX_DIR_LBLK, MAX_RUN } from "./dirblocks.js";

type Row = [number, number, number];

/** The model: a map filled run by run, first mapping wins. */
function model(runs: Array<[number, number, number]>, extents: boolean, dir: number): Row[] {
  const map = new Map<number, number>();
  let last = -1;
  for (const [lblk, pblk, len] of runs) {
    const n = Math.min(len, MAX_RUN);
    for (let k = 0; k < n; k++) if (!map.has(lblk + k)) map.set(lblk + k, pblk + k);
    if (lblk + n - 1 > last) last = lblk + n - 1;
  }
  const end = Math.min(last, MAX_DIR_LBLK);
  const out: Row[] = [];
  if (end < 0 && !extents) out.push([dir, 0, 0]);
  for (let l = 0; l <= end; l++) out.push([dir, l, map.get(l) ?? 0]);
  return out;
}

function rows(list: DirBlockList): Row[] {
  const out: Row[] = [];
  for (let k = 0; k < list.length; k++) out.push([list.dir[k]!, list.lblk[k]!, list.pblk[k]!]);
  return out;
}

const run = fc.tuple(
  fc.integer({ min: 0, max: 200 }),
  fc.integer({ min: 1, max: 1 << 30 }),
  fc.integer({ min: 1, max: 40 }),
);

describe("DirBlockList.addRuns", () => {
  it("lists what the first-mapping-wins model lists, sorted runs or not", () => {
    fc.assert(
      fc.property(
        fc.array(run, { maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (runs, extents, sort) => {
          const input = sort ? [...runs].sort((a, b) => a[0] - b[0]) : runs;
          const dr = new DirRuns();
          for (const [l, p, n] of input) dr.add(l, p, n);
          const list = new DirBlockList();
          list.addRuns(7, 0xabc, dr, extents);
          expect(rows(list)).toEqual(model(input, extents, 7));
          for (let k = 0; k < list.length; k++) expect(list.seed[k]).toBe(0xabc);
        },
      ),
    );
  });

  it("bounds logical blocks and run lengths (a corrupt map cannot list without end)", () => {
    const dr = new DirRuns();
    dr.add(MAX_DIR_LBLK - 2, 100, 10);
    dr.add(2 ** 32 - 5, 500, 3);
    const list = new DirBlockList();
    list.addRuns(9, 0, dr, true);
    expect(list.length).toBe(MAX_DIR_LBLK + 1);
    expect(list.pblk[MAX_DIR_LBLK]).toBe(102);
    const long = new DirRuns();
    long.add(0, 1, MAX_RUN + 1000);
    const l2 = new DirBlockList();
    l2.addRuns(9, 0, long, true);
    expect(l2.length).toBe(MAX_RUN);
  });
});
