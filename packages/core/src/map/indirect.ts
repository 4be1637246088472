/**
 * Legacy block maps (ext2/ext3 files without EXT4_EXTENTS_FL): i_block[0..11]
 * point at data, i_block[12] at a single-indirect block of pointers,
 * [13] double and [14] triple indirect. Pointers must lie inside the
 * filesystem; an indirect block met twice in one walk is corruption, so a
 * walk reads each block at most once.
 */
import { corrupt, type Ext4ErrorContext } from "../errors.js";
import { ByteView } from "../view.js";
import { type BlockListEntry, type BlockRun, type MapEnv, pushRun, withHoles } from "./types.js";

/** EXT4_NDIR_BLOCKS. */
export const NDIR_BLOCKS = 12;

/** Logical blocks an indirect map can address: 12 + p + p² + p³ for p pointers per block. */
export function indirectMaxBlocks(blockSize: number): number {
  const p = blockSize / 4;
  return NDIR_BLOCKS + p + p * p + p * p * p;
}

type Emit = (e: { logical: number; physical: number } | { meta: number; level: number }) => void;

/**
 * Walks the map over [from, to), calling `emit` for each data pointer (and
 * each indirect block, pre-order, when `withMeta`). Throws Corrupt
 * (INDIRECT_BAD_BLOCK, INDIRECT_LOOP).
 */
function walk(
  env: MapEnv,
  ino: number,
  iBlock: Uint8Array,
  from: number,
  to: number,
  withMeta: boolean,
  emit: Emit,
): void {
  const p = env.blockSize / 4;
  const seen = new Set<number>();
  const root = new ByteView(iBlock, { inode: ino });
  const check = (b: number, ctx: Ext4ErrorContext): void => {
    if (b < env.firstDataBlock || b >= env.blocksCount) {
      throw corrupt("INDIRECT_BAD_BLOCK", `block pointer ${b} outside the filesystem`, {
        ...ctx,
        block: b,
      });
    }
  };
  // Visits the subtree under pointer `ptr` at `level` (0 = data) covering
  // logical blocks [base, base + span(level)).
  const visit = (ptr: number, level: number, base: number, ctx: Ext4ErrorContext): void => {
    const span = p ** level;
    if (ptr === 0 || base + span <= from || base >= to) return;
    check(ptr, ctx);
    if (level === 0) {
      emit({ logical: base, physical: ptr });
      return;
    }
    if (seen.has(ptr)) {
      throw corrupt("INDIRECT_LOOP", `indirect block ${ptr} is reached twice`, {
        ...ctx,
        block: ptr,
      });
    }
    seen.add(ptr);
    if (withMeta) emit({ meta: ptr, level });
    const bctx = { inode: ino, block: ptr };
    // Copy the pointers: children read other blocks through the same cache.
    const ptrs = new ByteView(env.readBlock(ptr, bctx).slice(), bctx);
    const childSpan = span / p;
    const first = Math.max(0, Math.floor((from - base) / childSpan));
    const last = Math.min(p - 1, Math.floor((to - 1 - base) / childSpan));
    for (let i = first; i <= last; i++) {
      visit(ptrs.u32(i * 4), level - 1, base + i * childSpan, { ...bctx, offset: i * 4 });
    }
  };
  for (let i = 0; i < NDIR_BLOCKS; i++) visit(root.u32(i * 4), 0, i, { inode: ino });
  visit(root.u32(48), 1, NDIR_BLOCKS, { inode: ino });
  visit(root.u32(52), 2, NDIR_BLOCKS + p, { inode: ino });
  visit(root.u32(56), 3, NDIR_BLOCKS + p + p * p, { inode: ino });
}

/**
 * The block map of [from, to) for an indirect-mapped inode: mapped runs
 * (never unwritten) and holes covering the range. Throws Ext4Error.
 */
export function mapIndirect(
  env: MapEnv,
  ino: number,
  iBlock: Uint8Array,
  from: number,
  to: number,
): BlockRun[] {
  const runs: BlockRun[] = [];
  walk(env, ino, iBlock, from, Math.min(to, indirectMaxBlocks(env.blockSize)), false, (e) => {
    if ("logical" in e) {
      pushRun(runs, {
        kind: "mapped",
        logical: e.logical,
        physical: e.physical,
        length: 1,
        unwritten: false,
      });
    }
  });
  return withHoles(runs, from, to);
}

/**
 * Every block of the map in libext2fs iteration order: each indirect block
 * before the blocks it points to, data blocks as runs. Throws Ext4Error.
 */
export function indirectBlockList(env: MapEnv, ino: number, iBlock: Uint8Array): BlockListEntry[] {
  const out: BlockListEntry[] = [];
  walk(env, ino, iBlock, 0, indirectMaxBlocks(env.blockSize), true, (e) => {
    if ("meta" in e) {
      out.push({ kind: "metadata", physical: e.meta, level: e.level });
      return;
    }
    const prev = out[out.length - 1];
    if (
      prev?.kind === "mapped" &&
      prev.logical + prev.length === e.logical &&
      prev.physical + prev.length === e.physical
    ) {
      out[out.length - 1] = { ...prev, length: prev.length + 1 };
    } else {
      out.push({
        kind: "mapped",
        logical: e.logical,
        physical: e.physical,
        length: 1,
        unwritten: false,
      });
    }
  });
  return out;
}
