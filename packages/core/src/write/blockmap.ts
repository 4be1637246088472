/**
 * One interface over both block maps of a work inode (extent tree or
 * indirect map), wired to the engine: map blocks are allocated with the
 * `nofail` policy (like the kernel's reserved metadata pool), checked
 * against the system zone before they are written, and every block the map
 * gains or loses is counted in the inode's i_blocks.
 */
import { fsError } from "../errors.js";
import type { Extent } from "../format/extent.js";
import { ExtentWriter, maxExtentLen } from "../map/extent-write.js";
import { IndirectWriter } from "../map/indirect-write.js";
import type { BlockRun } from "../map/types.js";
import type { MapWriteEnv } from "../map/write-env.js";
import type { SpacePolicy, WorkInode, WriteEngine } from "./engine.js";

/** A block map being changed. Changes go to `w.f.iBlock` and `w.blocks512`; the caller stores `w`. */
export interface FileMap {
  readonly extents: boolean;
  /** Logical blocks the map can address (2^32 for extents). */
  readonly maxBlocks: number;
  /** The map of [from, from + n). */
  map(from: number, n: number): BlockRun[];
  /** Maps [lblk, +length) → physical (must be unmapped); unwritten only with extents. */
  insert(lblk: number, physical: number, length: number, unwritten: boolean): void;
  /** Unmaps [from, to), freeing data and emptied map blocks. */
  remove(from: number, to: number): void;
  /** Sets the written state of mapped blocks in [from, to) (extents only). */
  convert(from: number, to: number, unwritten: boolean): void;
  /** Goal for a new block at `lblk`: after the block mapped before it, or null. */
  goalFor(lblk: number): number | null;
  /** The map's own blocks (tree nodes, indirect blocks). */
  treeBlocks(): number[];
}

/** The MapWriteEnv of `w`: allocation with `policy` plus nofail, accounting in w.blocks512. */
export function mapWriteEnv(e: WriteEngine, w: WorkInode, policy: SpacePolicy): MapWriteEnv {
  const sb = e.geo;
  const per = sb.blockSize / 512;
  const ctx = { inode: w.ino };
  return {
    blockSize: sb.blockSize,
    blocksCount: sb.blocksCount,
    firstDataBlock: sb.firstDataBlock,
    readBlock: (b, c) => e.host.readBlock(b, c),
    inodeSeed: e.inodeSeed(w),
    verifyChecksums: e.host.verifyChecksums,
    blockForWrite: (b, c) => {
      e.alloc.checkFileBlocks(b, 1, c);
      return e.blockForWrite(b, c);
    },
    zeroBlock: (b) => e.zeroBlock(b),
    dirty: (b) => e.dirty(b),
    allocMeta: (goal, count) => {
      const got: number[] = [];
      try {
        while (got.length < count) {
          const r = e.alloc.allocBlocks(goal, count - got.length, { ...policy, nofail: true });
          for (let i = 0; i < r.count; i++) got.push(r.start + i);
          goal = r.start + r.count;
        }
      } catch (err) {
        for (const b of got) e.alloc.freeBlocks(b, 1, ctx);
        throw err;
      }
      w.blocks512 += count * per;
      return got;
    },
    freeMeta: (b) => {
      e.alloc.freeBlocks(b, 1, ctx);
      w.blocks512 = Math.max(0, w.blocks512 - per);
    },
    freeData: (p, len) => {
      e.alloc.freeBlocks(p, len, ctx);
      w.blocks512 = Math.max(0, w.blocks512 - len * per);
    },
  };
}

/**
 * The map of `w` (an extent tree with EXT4_EXTENTS_FL, else an indirect
 * map). Throws InvalidArgument for an inode that keeps inline data.
 */
export function fileMap(e: WriteEngine, w: WorkInode, policy: SpacePolicy): FileMap {
  if (w.hasInline()) {
    throw fsError("InvalidArgument", "INLINE_NO_BLOCKS", "inode keeps its data inline", {
      inode: w.ino,
    });
  }
  const env = mapWriteEnv(e, w, policy);
  if (w.usesExtents()) {
    const t = new ExtentWriter(env, w.ino, w.f.iBlock);
    return {
      extents: true,
      maxBlocks: 2 ** 32 - 1,
      map: (from, n) => t.map(from, n),
      insert: (lblk, physical, length, unwritten) => {
        const max = maxExtentLen(unwritten);
        for (let done = 0; done < length; done += max) {
          const x: Extent = {
            logical: lblk + done,
            physical: physical + done,
            length: Math.min(max, length - done),
            unwritten,
          };
          t.insert(x);
        }
      },
      remove: (from, to) => {
        t.remove(from, to, true);
      },
      convert: (from, to, unwritten) => t.convert(from, to, unwritten),
      goalFor: (lblk) => t.goalFor(lblk),
      treeBlocks: () => t.treeBlocks(),
    };
  }
  const t = new IndirectWriter(env, w.ino, w.f.iBlock);
  return {
    extents: false,
    maxBlocks: t.maxBlocks,
    map: (from, n) => t.map(from, n),
    insert: (lblk, physical, length, unwritten) => {
      if (unwritten) {
        throw fsError(
          "NotSupported",
          "INDIRECT_UNWRITTEN",
          "indirect maps have no unwritten blocks",
          {
            inode: w.ino,
          },
        );
      }
      t.insert(lblk, physical, length);
    },
    remove: (from, to) => {
      t.remove(from, to);
    },
    convert: () => {
      throw fsError(
        "NotSupported",
        "INDIRECT_UNWRITTEN",
        "indirect maps have no unwritten blocks",
        {
          inode: w.ino,
        },
      );
    },
    goalFor: (lblk) => t.goalFor(lblk),
    treeBlocks: () => t.treeBlocks(),
  };
}
