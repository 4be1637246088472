/**
 * Builders of in-memory block maps (extent trees and indirect maps) for the
 * walker property tests: the model is a list of extents; the builder lays it
 * out the way the kernel would, through the format encoders.
 */
import type { Ext4ErrorContext } from "../errors.js";
import { corrupt } from "../errors.js";
import {
  type Extent,
  type ExtentIndex,
  encodeExtentNode,
  extentCapacity,
  setExtentBlockChecksum,
} from "../format/extent.js";
import type { MapEnv } from "../map/types.js";
import { ByteView } from "../view.js";

/** A MapEnv over blocks held in a Map (missing blocks read as zeros). */
export class MemoryMap implements MapEnv {
  readonly blocks = new Map<number, Uint8Array>();
  verifyChecksums = true;
  constructor(
    readonly blockSize: number,
    readonly blocksCount: number,
    readonly inodeSeed: number | null = null,
    readonly firstDataBlock = 1,
  ) {}
  readBlock(block: number, ctx: Ext4ErrorContext): Uint8Array {
    if (block >= this.blocksCount) throw corrupt("TEST_RANGE", `block ${block}`, ctx);
    let b = this.blocks.get(block);
    if (b === undefined) {
      b = new Uint8Array(this.blockSize);
      this.blocks.set(block, b);
    }
    return b;
  }
}

/**
 * Lays `extents` (sorted, non-overlapping) out as an extent tree: leaves
 * packed to capacity in blocks from `nextBlock` on, index levels above until
 * the root's four slots suffice. Returns the 60-byte i_block.
 */
export function buildExtentTree(
  mem: MemoryMap,
  extents: readonly Extent[],
  nextBlock: number,
): Uint8Array {
  const per = extentCapacity(mem.blockSize);
  let level: Array<{ logical: number; block: number }> = [];
  let depth = 0;
  let items: Array<Extent | ExtentIndex> = [...extents];
  let next = nextBlock;
  while (items.length > 4) {
    level = [];
    for (let i = 0; i < items.length; i += per) {
      const chunk = items.slice(i, i + per);
      const block = next++;
      const buf = mem.readBlock(block, {});
      encodeExtentNode(buf, {
        max: per,
        depth,
        generation: 0,
        extents: depth === 0 ? (chunk as Extent[]) : [],
        indexes: depth === 0 ? [] : (chunk as ExtentIndex[]),
      });
      if (mem.inodeSeed !== null) setExtentBlockChecksum(mem.inodeSeed, buf, per);
      // OK to assert: chunks are never empty.
      level.push({ logical: chunk[0]!.logical, block });
    }
    items = level.map((l) => ({ logical: l.logical, child: l.block }));
    depth++;
  }
  const root = new Uint8Array(60);
  encodeExtentNode(root, {
    max: 4,
    depth,
    generation: 0,
    extents: depth === 0 ? (items as Extent[]) : [],
    indexes: depth === 0 ? [] : (items as ExtentIndex[]),
  });
  return root;
}

/**
 * Lays a sparse map (logical → physical, sorted) out as an indirect map,
 * allocating indirect blocks from `nextBlock` on. Returns the 60-byte i_block.
 */
export function buildIndirectMap(
  mem: MemoryMap,
  map: ReadonlyMap<number, number>,
  nextBlock: number,
): Uint8Array {
  const p = mem.blockSize / 4;
  const root = new Uint8Array(60);
  const rv = new ByteView(root);
  let next = nextBlock;
  const slot = (v: ByteView, off: number): ByteView => {
    let b = v.u32(off);
    if (b === 0) {
      b = next++;
      v.setU32(off, b);
    }
    return new ByteView(mem.readBlock(b, {}));
  };
  for (const [lblk, phys] of map) {
    let rel = lblk;
    if (rel < 12) {
      rv.setU32(rel * 4, phys);
      continue;
    }
    rel -= 12;
    if (rel < p) {
      slot(rv, 48).setU32(rel * 4, phys);
      continue;
    }
    rel -= p;
    if (rel < p * p) {
      slot(slot(rv, 52), Math.floor(rel / p) * 4).setU32((rel % p) * 4, phys);
      continue;
    }
    rel -= p * p;
    const l1 = slot(rv, 56);
    const l2 = slot(l1, Math.floor(rel / (p * p)) * 4);
    slot(l2, (Math.floor(rel / p) % p) * 4).setU32((rel % p) * 4, phys);
  }
  return root;
}
