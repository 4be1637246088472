/**
 * Bounded walks of an inode's block map: the extent tree (e2fsck's
 * scan_extent_node) and the indirect map (ext2fs_block_iterate3 with
 * process_block). Pass 1 walks with reporting on and marks what it finds;
 * pass 1B and pass 2 walk the same trees again quietly to learn which
 * blocks an inode owns. Every count, depth and pointer is checked before
 * use; a broken node is reported and skipped, never followed.
 */
import { type ByteView, extentBlockChecksum, joinLoHi, viewOf } from "@ext4/core";
import type { CheckContext } from "./context.js";
import { extentHeaderAt, extentHeaderOk, type RawInode } from "./inode.js";
import { EXTENT, EXTENT_HEADER, EXTENT_INDEX, I_BLOCK } from "./layout.js";
import type { ProblemContext } from "./problems.js";

/** What a walk tells its caller. */
export interface BlockVisitor {
  /** A run of `len` valid data blocks from logical `lblk` at physical `pblk`. */
  data(lblk: number, pblk: number, len: number, uninit: boolean): void;
  /** A valid mapping block (extent index/leaf block, IND/DIND/TIND). */
  meta(pblk: number, lblk: number): void;
}

// Entry field offsets from the core's tables, resolved once (walks run for
// every file).
const EE_BLOCK = EXTENT.offsetOf("ee_block");
const EE_LEN = EXTENT.offsetOf("ee_len");
const EE_START_HI = EXTENT.offsetOf("ee_start_hi");
const EE_START_LO = EXTENT.offsetOf("ee_start_lo");
const EI_BLOCK = EXTENT_INDEX.offsetOf("ei_block");
const EI_LEAF_LO = EXTENT_INDEX.offsetOf("ei_leaf_lo");
const EI_LEAF_HI = EXTENT_INDEX.offsetOf("ei_leaf_hi");
const EH_ENTRIES = EXTENT_HEADER.offsetOf("eh_entries");
const EH_MAX = EXTENT_HEADER.offsetOf("eh_max");
const EH_DEPTH = EXTENT_HEADER.offsetOf("eh_depth");

/** The extent tree depth limit (EXT4_MAX_EXTENT_DEPTH in libext2fs). */
const MAX_DEPTH = 5;

/**
 * Walks an inode's extent tree. `report` turns problem reports on (pass 1);
 * ranges past i_size in blocks are judged as e2fsck does. Returns the
 * highest logical block mapped by an initialised leaf extent, or -1.
 */
export function walkExtents(
  ctx: CheckContext,
  ino: RawInode,
  v: BlockVisitor,
  report: boolean,
): number {
  if (!extentHeaderAt(ino.view, ino.base + I_BLOCK, 60)) {
    if (report) ctx.report("EXTENT_HEADER", { ino: ino.ino });
    return -1;
  }
  const depth = ino.view.u16(ino.base + I_BLOCK + EH_DEPTH);
  if (depth > MAX_DEPTH) {
    if (report) ctx.report("EXTENT_TOO_DEEP", { ino: ino.ino, num: depth });
    return -1;
  }
  const eofBlock = Math.ceil(ino.size / ctx.g.blockSize);
  // One scan object serves every walk (pass 1 walks half a million trees);
  // a walk started from inside another (none does today) gets its own.
  const scan = idle ?? new ExtentScan();
  idle = null;
  try {
    scan.start(ctx, ino, v, report, depth, eofBlock);
    scan.node(ino.view, ino.base + I_BLOCK, 60, 0, 0, 0, Math.max(eofBlock, 0));
    return scan.lastInitLblock;
  } finally {
    scan.start(null, null, null, false, 0, 0);
    idle = scan;
  }
}

let idle: ExtentScan | null = null;

/** The state of one extent tree walk (no closures; reused walk after walk). */
class ExtentScan {
  /** The highest logical block mapped by an initialised leaf extent, or -1. */
  lastInitLblock = -1;
  private nextLblock = 0;
  private reported = 0;
  private isDir = false;
  private doReport = false;
  private depth = 0;
  private eofBlock = 0;
  private c: CheckContext | null = null;
  private i: RawInode | null = null;
  private vis: BlockVisitor | null = null;

  /** Prepares a walk (or, with nulls, lets go of the last one's objects). */
  start(
    ctx: CheckContext | null,
    ino: RawInode | null,
    v: BlockVisitor | null,
    report: boolean,
    depth: number,
    eofBlock: number,
  ): void {
    this.c = ctx;
    this.i = ino;
    this.vis = v;
    this.doReport = report;
    this.depth = depth;
    this.eofBlock = eofBlock;
    this.lastInitLblock = -1;
    this.nextLblock = 0;
    this.reported = 0;
    this.isDir = ino !== null && (ino.mode & 0xf000) === 0x4000;
  }

  private rep(code: Parameters<CheckContext["report"]>[0], c: ProblemContext): void {
    if (this.doReport && this.reported++ < 64) this.c!.report(code, c);
  }

  /**
   * Scans one node: a view and the offset of its header in it (the root
   * lives in the inode record, children in their own blocks).
   */
  node(
    nv: ByteView,
    at: number,
    nodeLen: number,
    level: number,
    startBlock: number,
    endBlock: number,
    endBlk: number,
  ): void {
    // OK to assert: node() runs only between start(ctx, ino, v) and the reset.
    const ctx = this.c!;
    const ino = this.i!;
    const v = this.vis!;
    const bs = ctx.g.blockSize;
    const entries = nv.u16(at + EH_ENTRIES);
    const isLeaf = level === this.depth;
    for (let k = 0; k < entries; k++) {
      const rel = 12 + 12 * k;
      if (rel + 12 > nodeLen) break;
      const off = at + rel;
      let lblk: number;
      let len: number;
      let pblk: number;
      let uninit = false;
      if (isLeaf) {
        lblk = nv.u32(off + EE_BLOCK);
        const raw = nv.u16(off + EE_LEN);
        uninit = raw > 32768;
        len = uninit ? raw - 32768 : raw;
        pblk = joinLoHi(nv.u32(off + EE_START_LO), nv.u16(off + EE_START_HI));
      } else {
        lblk = nv.u32(off + EI_BLOCK);
        pblk = joinLoHi(nv.u32(off + EI_LEAF_LO), nv.u16(off + EI_LEAF_HI));
        // libext2fs gives an index the length up to the next index, or to
        // the end of its parent's range.
        const next = k + 1 < entries && rel + 24 <= nodeLen ? nv.u32(off + 12) : endBlk;
        len = next - lblk;
      }
      const last = lblk + len - 1;
      let problem: Parameters<CheckContext["report"]>[0] | null = null;
      if (pblk === 0 || pblk < ctx.g.firstDataBlock || pblk >= ctx.g.blocksCount)
        problem = "EXTENT_BAD_START";
      else if (lblk < startBlock) problem = "EXTENT_ORDER";
      else if (endBlock !== 0 && last > endBlock && !(last > this.eofBlock && uninit))
        problem = "EXTENT_END_BEYOND";
      else if (isLeaf && len === 0) problem = "EXTENT_ZERO_LEN";
      else if (isLeaf && pblk + len > ctx.g.blocksCount) problem = "EXTENT_BAD_LEN";
      if (isLeaf && problem === null && len > 0) {
        if (lblk < this.nextLblock) problem = "EXTENT_ORDER";
        else if (lblk + len > this.nextLblock) this.nextLblock = lblk + len;
      }
      if (problem !== null) {
        this.rep(problem, { ino: ino.ino, lblk, blk: pblk, num: len });
        continue;
      }
      if (!isLeaf) {
        const child = ctx.readBlock(pblk);
        if (child === null || !extentHeaderOk(child, bs)) {
          this.rep("EXTENT_NODE", { ino: ino.ino, blk: pblk, lblk });
          continue;
        }
        const copy = child.slice();
        const cv = viewOf(copy);
        const childMax = cv.u16(EH_MAX);
        if (ctx.csum && 12 + 12 * childMax + 4 <= bs) {
          const stored = cv.u32(12 + 12 * childMax);
          const calc = extentBlockChecksum(
            ctx.inodeCsumSeed(ino.ino, ino.generation),
            copy,
            childMax,
          );
          if (stored !== calc) this.rep("EXTENT_CSUM", { ino: ino.ino, blk: pblk, lblk });
        }
        // libext2fs cannot step down into a node with no entries
        // (EXT2_ET_EXTENT_NO_DOWN); e2fsck stops the check of this node there.
        if (cv.u16(EH_ENTRIES) === 0) {
          this.rep("EXTENT_ITERATE", { ino: ino.ino, blk: pblk, lblk });
          return;
        }
        // e2fsck scans the child from its own first logical block, after
        // reporting a disagreement with the index.
        let childStart = lblk;
        if (cv.u16(EH_ENTRIES) > 0) {
          childStart = cv.u32(12);
          if (childStart !== lblk)
            this.rep("EXTENT_INDEX_START", { ino: ino.ino, lblk, num: childStart });
        }
        this.node(cv, 0, bs, level + 1, childStart, last, lblk + len);
        v.meta(pblk, lblk);
        continue;
      }
      if (uninit && this.isDir) this.rep("UNINIT_DIR_EXTENT", { ino: ino.ino, lblk });
      v.data(lblk, pblk, len, uninit);
      if (!this.isDir && !uninit && last > this.lastInitLblock) this.lastInitLblock = last;
    }
  }
}

/** Result of a block-map walk. */
export interface MapWalk {
  /** Set when a mapping block pointed outside the filesystem. */
  badIndirect: boolean;
  /**
   * Set when ext2fs_block_iterate3 would return an error: a mapping block
   * pointed outside the filesystem and no later mapping block was read
   * successfully (each successful read resets libext2fs' error code). e2fsck
   * then stops the check.
   */
  failed: boolean;
  illegal: number;
}

/**
 * Walks an indirect block map (i_block[0..11] direct, [12] IND, [13] DIND,
 * [14] TIND) in the order ext2fs_block_iterate3 visits it: a mapping block
 * is reported before its children. Illegal data blocks are reported (pass
 * 1) and skipped; an illegal mapping block is reported, not followed, and
 * ends the walk of the mapping block that holds it. `reportIllegal` is
 * called for each illegal block with its logical number (negative for
 * mapping blocks).
 */
export function walkBlockMap(
  ctx: CheckContext,
  ino: RawInode,
  v: BlockVisitor,
  reportIllegal: ((lblk: number, pblk: number) => void) | null,
): MapWalk {
  const bs = ctx.g.blockSize;
  const per = bs / 4;
  const out: MapWalk = { badIndirect: false, failed: false, illegal: 0 };
  let errcode = false;
  const legal = (b: number) => b >= ctx.g.firstDataBlock && b < ctx.g.blocksCount;
  const dataBlock = (lblk: number, b: number) => {
    if (b === 0) return;
    if (!legal(b)) {
      out.illegal++;
      reportIllegal?.(lblk, b);
      return;
    }
    v.data(lblk, b, 1, false);
  };
  for (let k = 0; k < 12; k++) dataBlock(k, ino.block[k]!);
  // Returns true when the walk of the parent must stop (an illegal child).
  const walkInd = (blk: number, level: number, base: number, code: number): boolean => {
    if (blk === 0) return false;
    if (!legal(blk)) {
      out.illegal++;
      reportIllegal?.(code, blk);
      out.badIndirect = true;
      errcode = true;
      return true;
    }
    v.meta(blk, code);
    const buf = ctx.readBlock(blk);
    if (buf === null) return true;
    errcode = false;
    const entries = viewOf(buf.slice());
    const span = per ** (level - 1);
    for (let k = 0; k < per; k++) {
      const child = entries.u32(4 * k);
      if (child === 0) continue;
      if (level === 1) dataBlock(base + k, child);
      else if (walkInd(child, level - 1, base + k * span, code + 1)) return true;
    }
    return false;
  };
  walkInd(ino.block[12]!, 1, 12, -1);
  walkInd(ino.block[13]!, 2, 12 + per, -2);
  walkInd(ino.block[14]!, 3, 12 + per + per * per, -3);
  out.failed = out.badIndirect && errcode;
  return out;
}
