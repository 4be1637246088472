/**
 * Changing a legacy block map (ext2/ext3 files, fs/ext4/indirect.c):
 * mapping logical blocks (allocating the single, double and triple
 * indirect blocks on the way, zeroed, before anything is changed) and
 * unmapping ranges (truncate, punch hole), freeing the data and every
 * indirect block left with no pointer.
 */
import { corrupt, type Ext4ErrorContext, fsError } from "../errors.js";
import { ByteView } from "../view.js";
import { indirectMaxBlocks, mapIndirect, NDIR_BLOCKS } from "./indirect.js";
import type { BlockRun } from "./types.js";
import type { MapWriteEnv } from "./write-env.js";

/** Where logical block `lblk` hangs: the i_block slot and the offsets at each indirect level. */
function route(lblk: number, p: number): { slot: number; offsets: number[] } {
  if (lblk < NDIR_BLOCKS) return { slot: lblk, offsets: [] };
  let rel = lblk - NDIR_BLOCKS;
  if (rel < p) return { slot: 12, offsets: [rel] };
  rel -= p;
  if (rel < p * p) return { slot: 13, offsets: [Math.floor(rel / p), rel % p] };
  rel -= p * p;
  return { slot: 14, offsets: [Math.floor(rel / (p * p)), Math.floor(rel / p) % p, rel % p] };
}

/** A writer for the block map in an inode's i_block (`root`, changed in place). */
export class IndirectWriter {
  private readonly p: number;
  private readonly rootView: ByteView;
  /** Logical blocks the map can address. */
  readonly maxBlocks: number;

  constructor(
    private readonly env: MapWriteEnv,
    private readonly ino: number,
    readonly root: Uint8Array,
  ) {
    this.p = env.blockSize / 4;
    this.rootView = new ByteView(root, { inode: ino });
    this.maxBlocks = indirectMaxBlocks(env.blockSize);
  }

  private ctx(block?: number): Ext4ErrorContext {
    return block === undefined ? { inode: this.ino } : { inode: this.ino, block };
  }

  private check(b: number, ctx: Ext4ErrorContext): number {
    if (b < this.env.firstDataBlock || b >= this.env.blocksCount) {
      throw corrupt("INDIRECT_BAD_BLOCK", `block pointer ${b} outside the filesystem`, {
        ...ctx,
        block: b,
      });
    }
    return b;
  }

  /** The block map of [from, from + n). Throws Ext4Error. */
  map(from: number, n: number): BlockRun[] {
    return mapIndirect(this.env, this.ino, this.root, from, from + n);
  }

  /**
   * Maps `length` consecutive logical blocks from `lblk` to physical blocks
   * from `physical`, all or nothing: the blocks must be unmapped, and every
   * indirect block the pointers need is counted and allocated (near
   * `physical`) before anything changes. Throws FileTooBig past the
   * addressable range, InvalidArgument (INDIRECT_ALREADY_MAPPED), NoSpace,
   * Corrupt.
   */
  insert(lblk: number, physical: number, length: number): void {
    if (lblk + length > this.maxBlocks) {
      throw fsError(
        "FileTooBig",
        "INDIRECT_TOO_FAR",
        `block ${lblk + length - 1} past the map`,
        this.ctx(),
      );
    }
    // Dry run: which indirect blocks are missing (each counted once), and is any target mapped?
    const exists = new Map<string, number>();
    let missing = 0;
    const child = (key: string, parentBlock: number, off: number): number => {
      const have = exists.get(key);
      if (have !== undefined) return have;
      const b =
        parentBlock === 0
          ? 0
          : new ByteView(
              this.env.readBlock(this.check(parentBlock, this.ctx()), this.ctx(parentBlock)),
            ).u32(off * 4);
      exists.set(key, b);
      if (b === 0) missing++;
      return b;
    };
    for (let i = 0; i < length; i++) {
      const { slot, offsets } = route(lblk + i, this.p);
      if (offsets.length === 0) {
        if (this.rootView.u32(slot * 4) !== 0) throw this.mapped(lblk + i);
        continue;
      }
      let key = `${slot}`;
      let ptr = exists.get(key) ?? this.rootView.u32(slot * 4);
      if (!exists.has(key)) {
        exists.set(key, ptr);
        if (ptr === 0) missing++;
      }
      for (let k = 0; k < offsets.length; k++) {
        // OK to assert: k < offsets.length.
        const off = offsets[k]!;
        if (k === offsets.length - 1) {
          if (
            ptr !== 0 &&
            new ByteView(this.env.readBlock(this.check(ptr, this.ctx()), this.ctx(ptr))).u32(
              off * 4,
            ) !== 0
          ) {
            throw this.mapped(lblk + i);
          }
          break;
        }
        key = `${key}/${off}`;
        ptr = child(key, ptr, off);
      }
    }
    const pool = missing > 0 ? this.env.allocMeta(physical, missing) : [];
    for (let i = 0; i < length; i++) this.set(lblk + i, physical + i, pool);
  }

  /** Sets one pointer, creating missing indirect blocks from `pool` (zeroed on use). */
  private set(lblk: number, physical: number, pool: number[]): void {
    const { slot, offsets } = route(lblk, this.p);
    if (offsets.length === 0) {
      this.rootView.setU32(slot * 4, physical);
      return;
    }
    const take = (): number => {
      const b = pool.shift();
      // OK to throw: insert counted exactly what is missing.
      if (b === undefined)
        throw fsError(
          "NoSpace",
          "INDIRECT_POOL_EMPTY",
          "indirect map ran out of blocks",
          this.ctx(),
        );
      this.env.zeroBlock(b);
      return b;
    };
    let ptr = this.rootView.u32(slot * 4);
    if (ptr === 0) {
      ptr = take();
      this.rootView.setU32(slot * 4, ptr);
    }
    for (let k = 0; k < offsets.length; k++) {
      // OK to assert: k < offsets.length.
      const off = offsets[k]!;
      const buf = this.env.blockForWrite(this.check(ptr, this.ctx()), this.ctx(ptr));
      const v = new ByteView(buf, this.ctx(ptr));
      if (k === offsets.length - 1) {
        v.setU32(off * 4, physical);
        this.env.dirty(ptr);
        return;
      }
      let next = v.u32(off * 4);
      if (next === 0) {
        next = pool[0] ?? 0;
        v.setU32(off * 4, next);
        this.env.dirty(ptr);
        take();
      }
      ptr = next;
    }
  }

  private mapped(lblk: number): Error {
    return fsError(
      "InvalidArgument",
      "INDIRECT_ALREADY_MAPPED",
      `block ${lblk} is already mapped`,
      this.ctx(),
    );
  }

  /**
   * Unmaps [from, to): data pointers are cleared and their blocks freed,
   * and an indirect block left with no pointer is freed and cleared from
   * its parent. Returns the number of data blocks freed. Throws Corrupt.
   */
  remove(from: number, to: number): number {
    const p = this.p;
    const end = Math.min(to, this.maxBlocks);
    let freed = 0;
    let run: { start: number; len: number } | null = null;
    const flush = (): void => {
      if (run !== null) this.env.freeData(run.start, run.len);
      run = null;
    };
    const freeData = (b: number): void => {
      freed++;
      if (run !== null && run.start + run.len === b) run.len++;
      else {
        flush();
        run = { start: b, len: 1 };
      }
    };
    // Returns true when the block at `ptr` was freed (all its pointers gone).
    const visit = (ptr: number, level: number, base: number): boolean => {
      this.check(ptr, this.ctx());
      const ctx = this.ctx(ptr);
      const ptrs = this.env.readBlock(ptr, ctx).slice();
      const v = new ByteView(ptrs, ctx);
      const childSpan = p ** (level - 1);
      const first = Math.max(0, Math.floor((from - base) / childSpan));
      const last = Math.min(p - 1, Math.floor((end - 1 - base) / childSpan));
      let changed = false;
      for (let i = first; i <= last; i++) {
        const c = v.u32(i * 4);
        if (c === 0) continue;
        if (level === 1) {
          freeData(this.check(c, ctx));
          v.setU32(i * 4, 0);
          changed = true;
        } else if (visit(c, level - 1, base + i * childSpan)) {
          v.setU32(i * 4, 0);
          changed = true;
        }
      }
      if (!changed) return false;
      if (ptrs.every((x) => x === 0)) {
        flush();
        this.env.freeMeta(ptr);
        return true;
      }
      const buf = this.env.blockForWrite(ptr, ctx);
      buf.set(ptrs);
      this.env.dirty(ptr);
      return false;
    };
    for (let i = Math.max(0, from); i < Math.min(NDIR_BLOCKS, end); i++) {
      const b = this.rootView.u32(i * 4);
      if (b === 0) continue;
      freeData(this.check(b, this.ctx()));
      this.rootView.setU32(i * 4, 0);
    }
    let base = NDIR_BLOCKS;
    for (let level = 1; level <= 3; level++) {
      const span = p ** level;
      const slot = 11 + level;
      const ptr = this.rootView.u32(slot * 4);
      if (ptr !== 0 && base < end && base + span > from && visit(ptr, level, base)) {
        this.rootView.setU32(slot * 4, 0);
      }
      base += span;
    }
    flush();
    return freed;
  }

  /** The block after the one mapped just before `lblk` (ext4_find_near), or null. */
  goalFor(lblk: number): number | null {
    if (lblk === 0) return null;
    const [run] = this.map(lblk - 1, 1);
    return run?.kind === "mapped" ? run.physical + 1 : null;
  }

  /** Every indirect block of the map (for deletion accounting). Throws Ext4Error. */
  treeBlocks(): number[] {
    const out: number[] = [];
    const walk = (ptr: number, level: number): void => {
      out.push(this.check(ptr, this.ctx()));
      if (out.length > this.env.blocksCount) {
        throw corrupt(
          "INDIRECT_LOOP",
          "indirect map has more blocks than the filesystem",
          this.ctx(),
        );
      }
      if (level === 1) return;
      const v = new ByteView(this.env.readBlock(ptr, this.ctx(ptr)).slice(), this.ctx(ptr));
      for (let i = 0; i < this.p; i++) {
        const c = v.u32(i * 4);
        if (c !== 0) walk(c, level - 1);
      }
    };
    for (let level = 1; level <= 3; level++) {
      const ptr = this.rootView.u32((11 + level) * 4);
      if (ptr !== 0) walk(ptr, level);
    }
    return out;
  }
}
