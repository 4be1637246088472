/**
 * Pass 1: every inode. Modes and flags, reserved inodes, dtime and link
 * counts, the block map (extents or indirect), blocks outside the
 * filesystem or claimed twice, i_size and i_blocks against the map, xattrs,
 * inline data, symlinks, htree roots. Builds the in-use inode and block
 * maps the later passes compare against.
 */
import { type ByteView, crc32cRaw, isExt4Error, viewOf } from "@ext4/core";
import { IoError } from "@ext4/iocache";
import { Bitmap } from "./bitmap.js";
import { BG_INODE_UNINIT, type CheckContext, F, IS } from "./context.js";
import { DirRuns } from "./dirblocks.js";
import {
  decodeInode,
  deviceInodeOk,
  extentHeaderAt,
  FL,
  fileAclBlock,
  InodeRecord,
  iBlocks,
  inodeCsumFor,
  inodeCsumOk,
  isFastSymlink,
  type RawInode,
  readerGeometry,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  S_IFSOCK,
  symlinkOk,
  typeOf,
} from "./inode.js";
import { DX_ROOT_INFO, I_BLOCK } from "./layout.js";
import { JOB_ITABLE, JOB_STRIDE, READ_STRIDE, type Session } from "./prefetch.js";
import { type BlockVisitor, walkBlockMap, walkExtents } from "./walk.js";
import { checkIbodyXattrs, checkXattrBlock, findSystemData, type XattrBlockRefs } from "./xattr.js";

const ROOT_INO = 2;
const BAD_INO = 1;
const RESIZE_INO = 7;

/** Marks superblocks, descriptors, bitmaps and inode tables as in use (e2fsck's mark_table_blocks). */
export function markTableBlocks(ctx: CheckContext): void {
  const mark = (first: number, count: number) => {
    ctx.blockFound.setRange(first, count);
    ctx.blockMeta.setRange(first, count);
  };
  for (let grp = 0; grp < ctx.g.groupCount; grp++) {
    ctx.superAndDescBlocks(grp, mark);
    if (ctx.gdItableOk[grp] === 1) mark(ctx.gdInodeTable[grp]!, ctx.g.itableBlocks);
    if (ctx.gdBlockBitmapOk[grp] === 1) mark(ctx.gdBlockBitmap[grp]!, 1);
    if (ctx.gdInodeBitmapOk[grp] === 1) mark(ctx.gdInodeBitmap[grp]!, 1);
  }
}

/** Marks a block used, noting a second claim in the dup map. */
function markUsed(ctx: CheckContext, blk: number): void {
  if (ctx.blockFound.set(blk)) {
    if (ctx.blockDup === null) ctx.blockDup = new Bitmap(ctx.g.blocksCount);
    ctx.blockDup.set(blk);
  }
}

/** markUsed for `len` blocks from `pblk`. */
function markRange(ctx: CheckContext, pblk: number, len: number): void {
  for (let k = 0; k < len; k++) markUsed(ctx, pblk + k);
}

interface Pass1State {
  refs: XattrBlockRefs;
  lowDtimeCheck: boolean;
  maxSizes: number;
  /** The in-inode xattrs of the inode being checked, once looked at (undefined: not yet). */
  ibody: ReturnType<typeof checkIbodyXattrs> | undefined;
  /** Counts and marks the blocks of the inode being checked. */
  counter: BlockCounter;
  /** Every inode of the chunk being checked has a valid checksum (verified at once). */
  chunkCsumOk: boolean;
}

/** Runs pass 1 over every inode in every group's used part of the inode table. */
export function pass1(ctx: CheckContext, progress?: (done: number, total: number) => void): void {
  markTableBlocks(ctx);
  const sb = (n: Parameters<CheckContext["sb"]>[0]) => ctx.sb(n);
  const ic = ctx.g.inodesCount;
  const st: Pass1State = {
    refs: { remaining: new Map() },
    // Filesystems whose clocks were never set have tiny timestamps that look
    // like orphan-list links; e2fsck skips the low-dtime test for them.
    lowDtimeCheck: !(
      (sb("s_wtime") !== 0 && sb("s_wtime") < ic) ||
      (sb("s_mtime") !== 0 && sb("s_mtime") < ic) ||
      (sb("s_mkfs_time") !== 0 && sb("s_mkfs_time") < ic)
    ),
    maxSizes: maxIndirectSize(ctx.g.blockSize),
    ibody: undefined,
    counter: new BlockCounter(ctx),
    chunkCsumOk: false,
  };
  const { inodesPerGroup: ipg, inodeSize, blockSize } = ctx.g;
  const perBlock = blockSize / inodeSize;
  // The used part of each inode table is read in large chunks straight
  // from the device (readRange does not fill the cache), as e2fsck's inode
  // scan does with its inode buffer; with a reader thread, the chunks and
  // their checksums come from it. One view over the chunk and one decoded
  // record serve every inode: nothing is allocated per inode.
  const chunkBlocks = Math.max(1, Math.floor((1024 * 1024) / blockSize));
  const chunk = new Uint8Array(chunkBlocks * blockSize);
  const chunkView = viewOf(chunk);
  const inode = new InodeRecord();
  const csum = inodeCsumFor(inodeSize);
  const chunks = planChunks(ctx, chunkBlocks);
  const session = ctx.reader === null ? null : startSession(ctx, chunks);
  let job = 0;
  for (let grp = 0; grp < ctx.g.groupCount; grp++) {
    progress?.(grp, ctx.g.groupCount);
    for (; job < chunks.count && chunks.group[job] === grp; job++) {
      const b0 = chunks.b0[job]!;
      const nb = chunks.blocks[job]!;
      const lastIdx = chunks.lastIdx[job]!;
      const firstIdx = b0 * perBlock;
      let view = chunkView;
      const fromThread = session === null ? null : session.take(job);
      if (session !== null && fromThread !== null) {
        view = viewOf(fromThread);
        st.chunkCsumOk = ctx.csum && session.result(job) === 1;
      } else {
        readChunk(ctx, chunks.first[job]!, nb, chunk);
        // Checksums first, for the whole chunk in one native crc pass; only
        // a chunk that does not verify at once is checked inode by inode.
        st.chunkCsumOk =
          ctx.csum &&
          csum.verifyRun(
            ctx.g.csumSeed,
            grp * ipg + firstIdx + 1,
            chunk,
            0,
            lastIdx - firstIdx,
            crc32cRaw,
          );
      }
      checkChunk(ctx, st, inode, view, grp * ipg + firstIdx + 1, lastIdx - firstIdx);
      session?.release(job + 1);
    }
  }
  if (ctx.largeDirs > 0 && !ctx.incompat(F.INCOMPAT_LARGEDIR)) ctx.report("LARGE_DIR_FEATURE");
  // End of pass 1: xattr blocks whose h_refcount disagrees with the users found.
  for (const [blk, r] of st.refs.remaining) {
    if (r.refcount === r.seen) continue;
    // adjust_extattr_refcount re-reads the block; a bad header stops e2fsck.
    if (r.badHeader) {
      ctx.report("XATTR_REFCOUNT_READ", { blk });
      break;
    }
    ctx.report("XATTR_REFCOUNT", { blk, num: r.refcount, num2: r.seen });
  }
  if (ctx.blockDup !== null && !ctx.stopped) pass1b(ctx);
}

/** Checks the `count` inodes from `firstIno` whose records start `view`. */
function checkChunk(
  ctx: CheckContext,
  st: Pass1State,
  inode: InodeRecord,
  view: ByteView,
  firstIno: number,
  count: number,
): void {
  const inodeSize = ctx.g.inodeSize;
  for (let k = 0; k < count; k++) {
    const ino = firstIno + k;
    try {
      checkInode(ctx, st, inode.load(ino, view, k * inodeSize, inodeSize));
    } catch (e) {
      // A structure the checks did not expect to be malformed: report it
      // against this inode and go on with the next one.
      if (!isExt4Error(e)) throw e;
      ctx.report("STRUCTURE_1", { ino, str: e.message });
    }
  }
}

/** The inode table chunks pass 1 reads, in order (parallel arrays). */
interface ChunkPlan {
  count: number;
  group: Int32Array;
  /** First table block of the chunk, relative to the group's table. */
  b0: Int32Array;
  /** Device block of the chunk. */
  first: Float64Array;
  blocks: Int32Array;
  /** The index in the group after the chunk's last inode to check. */
  lastIdx: Int32Array;
}

/**
 * The chunks of every group's used part of the inode table. ext2fs's inode
 * scan is lazy with group checksums: an INODE_UNINIT group is skipped
 * whole, and only the inodes before bg_itable_unused are read elsewhere
 * (EXT2_SF_DO_LAZY). A chunk past the end of the device is not read.
 */
function planChunks(ctx: CheckContext, chunkBlocks: number): ChunkPlan {
  const { inodesPerGroup: ipg, inodeSize, blockSize, groupCount } = ctx.g;
  const perBlock = blockSize / inodeSize;
  const rows: number[] = [];
  for (let grp = 0; grp < groupCount; grp++) {
    if (ctx.gdItableOk[grp] !== 1) continue;
    let count = ipg;
    if (ctx.gdtCsum) {
      if ((ctx.gdFlags[grp]! & BG_INODE_UNINIT) !== 0) continue;
      count = ipg - Math.min(ipg, ctx.gdItableUnused[grp]!);
    }
    const tableBlocks = Math.ceil(count / perBlock);
    for (let b0 = 0; b0 < tableBlocks; b0 += chunkBlocks) {
      const nb = Math.min(chunkBlocks, tableBlocks - b0);
      const first = ctx.gdInodeTable[grp]! + b0;
      if (first < 0 || first + nb > ctx.cache.blockCount) continue;
      rows.push(grp, b0, first, nb, Math.min(count, (b0 + nb) * perBlock));
    }
  }
  const n = rows.length / 5;
  const plan: ChunkPlan = {
    count: n,
    group: new Int32Array(n),
    b0: new Int32Array(n),
    first: new Float64Array(n),
    blocks: new Int32Array(n),
    lastIdx: new Int32Array(n),
  };
  for (let k = 0; k < n; k++) {
    // OK to assert: rows holds five numbers per chunk.
    plan.group[k] = rows[5 * k]!;
    plan.b0[k] = rows[5 * k + 1]!;
    plan.first[k] = rows[5 * k + 2]!;
    plan.blocks[k] = rows[5 * k + 3]!;
    plan.lastIdx[k] = rows[5 * k + 4]!;
  }
  return plan;
}

/** Hands the chunks to the reader thread, with what it needs to verify their checksums. */
function startSession(ctx: CheckContext, plan: ChunkPlan): Session | null {
  const reader = ctx.reader;
  if (reader === null) return null;
  const { inodesPerGroup: ipg, inodeSize, blockSize } = ctx.g;
  const perBlock = blockSize / inodeSize;
  const jobs = new Float64Array(plan.count * JOB_STRIDE);
  const reads = new Float64Array(plan.count * READ_STRIDE);
  for (let k = 0; k < plan.count; k++) {
    const firstIdx = plan.b0[k]! * perBlock;
    jobs.set(
      [k, 1, JOB_ITABLE, plan.group[k]! * ipg + firstIdx + 1, plan.lastIdx[k]! - firstIdx],
      k * JOB_STRIDE,
    );
    reads.set([plan.first[k]!, plan.blocks[k]!, 0], k * READ_STRIDE);
  }
  return reader.session(
    readerGeometry(ctx),
    jobs,
    plan.count,
    reads,
    plan.count,
    new Float64Array(0),
    0,
  );
}

/** Reads `count` blocks at `first` into `dest` past the cache; on an I/O error, block by block (unreadable ones zeroed). */
function readChunk(ctx: CheckContext, first: number, count: number, dest: Uint8Array): void {
  const bs = ctx.g.blockSize;
  try {
    ctx.cache.readRange(first, count, dest);
    return;
  } catch (e) {
    if (!(e instanceof IoError)) throw e;
  }
  for (let k = 0; k < count; k++) {
    const b = ctx.readBlock(first + k);
    if (b === null) dest.fill(0, k * bs, (k + 1) * bs);
    else dest.set(b, k * bs);
  }
}

/** ext2_max_sizes[]: the largest file an indirect map can address. */
function maxIndirectSize(bs: number): number {
  const bpp = bs / 4;
  return (12 + bpp + bpp * bpp + bpp * bpp * bpp) * bs;
}

/**
 * Checks one inode; the checksum failure, when there is one, is reported
 * after everything else found in the inode (where e2fsck reports it). An
 * Ext4Error from a malformed structure propagates without it.
 */
function checkInode(ctx: CheckContext, st: Pass1State, inode: InodeRecord): void {
  const failedCsum = ctx.csum && !st.chunkCsumOk && !inodeCsumOk(ctx, inode);
  if (failedCsum) {
    if (ctx.firstBadCsumIno === 0) ctx.firstBadCsumIno = inode.ino;
    if (ctx.badCsum === null) ctx.badCsum = new Bitmap(ctx.g.inodesCount + 1);
    ctx.badCsum.set(inode.ino);
  }
  st.ibody = undefined;
  checkInodeBody(ctx, st, inode, failedCsum);
  if (failedCsum) ctx.report("INODE_CSUM", { ino: inode.ino });
}

/** Everything pass 1 checks in one inode but its checksum. */
function checkInodeBody(
  ctx: CheckContext,
  st: Pass1State,
  inode: InodeRecord,
  failedCsum: boolean,
): void {
  const ino = inode.ino;
  const first = ctx.g.firstIno;
  if (inode.dtime !== 0 && st.lowDtimeCheck && inode.dtime < ctx.g.inodesCount) {
    ctx.report("INODE_LOW_DTIME", { ino });
  }
  if (inode.linksCount !== 0) {
    ctx.linkCount[ino] = inode.linksCount;
  } else if (ino >= first) {
    if (inode.dtime === 0 && inode.mode !== 0) ctx.report("INODE_ZERO_DTIME", { ino });
    return;
  }
  const extentFs = ctx.incompat(F.INCOMPAT_EXTENTS);
  const inlineFs = ctx.incompat(F.INCOMPAT_INLINE_DATA);
  const special = ino === BAD_INO || ino === ROOT_INO || ino === ctx.g.journalInum;
  if ((inode.flags & FL.INLINE_DATA) !== 0 && (inode.flags & FL.EXTENTS) !== 0) {
    ctx.report("INLINE_AND_EXTENTS", { ino });
  }
  if ((inode.flags & FL.INLINE_DATA) !== 0 && !inlineFs && ino >= first) {
    ctx.report("INLINE_FL_NO_FEATURE", { ino });
  }
  if (
    (inode.flags & FL.INLINE_DATA) !== 0 &&
    inlineFs &&
    ino >= first &&
    findSystemData(ibodyOf(ctx, st, inode)) === null
  ) {
    ctx.report("INLINE_NO_XATTR", { ino });
  }
  if ((inode.flags & FL.EXTENTS) !== 0 && !extentFs && (inode.linksCount !== 0 || special)) {
    ctx.report("EXTENTS_FL_NO_FEATURE", { ino });
  }
  if (
    extentFs &&
    (inode.flags & FL.EXTENTS) === 0 &&
    (inode.linksCount !== 0 || special) &&
    (typeOf(inode.mode) === S_IFREG || typeOf(inode.mode) === S_IFDIR) &&
    extentHeaderAt(inode.view, inode.base + I_BLOCK, 60)
  ) {
    ctx.report("EXTENTS_FL_MISSING", { ino });
  }

  if (ino === BAD_INO) {
    if (
      failedCsum ||
      inode.mode !== 0 ||
      inode.linksCount !== 0 ||
      (inode.flags & FL.INLINE_DATA) !== 0 ||
      inode.fileAcl !== 0
    ) {
      ctx.report("BAD_BLOCKS_INODE", { ino });
    }
    ctx.istate[ino] = IS.USED | IS.SPECIAL;
    walkBlockMap(ctx, inode, st.counter.start(false, false, false), null);
    return;
  }
  if (ino === ROOT_INO) {
    if (typeOf(inode.mode) !== S_IFDIR) ctx.report("ROOT_NOT_DIR", { ino });
    if (inode.dtime !== 0 && inode.linksCount !== 0) ctx.report("ROOT_DTIME", { ino });
  } else if (ino === ctx.g.journalInum && ctx.compat(F.COMPAT_HAS_JOURNAL)) {
    ctx.istate[ino] = IS.USED | IS.SPECIAL;
    if (typeOf(inode.mode) !== S_IFREG) ctx.report("JOURNAL_NOT_REGULAR", { ino });
    checkBlocks(ctx, st, inode, null);
    return;
  } else if (ino < first) {
    ctx.istate[ino] = IS.USED | IS.SPECIAL;
    const quotaInode =
      (ino === 3 || ino === 4) &&
      ctx.roCompat(F.RO_QUOTA) &&
      (ctx.sb("s_usr_quota_inum") === ino || ctx.sb("s_grp_quota_inum") === ino);
    let bad = false;
    if (ino === 5) bad = typeOf(inode.mode) === S_IFDIR;
    else if (ino === RESIZE_INO || quotaInode)
      bad = inode.mode !== 0 && typeOf(inode.mode) !== S_IFREG;
    else if (ino !== 8 && ino !== 3 && ino !== 4) bad = inode.mode !== 0;
    if (bad) ctx.report("RESERVED_BAD_MODE", { ino });
    checkBlocks(ctx, st, inode, null);
    return;
  }
  if (inode.linksCount === 0) return;
  if (inode.dtime !== 0) ctx.report("INODE_SET_DTIME", { ino });

  let state: number = IS.USED;
  ctx.usedInodes++;
  const mode = typeOf(inode.mode);
  if (
    inode.faddr !== 0 ||
    (!ctx.incompat(F.INCOMPAT_LARGEDIR) && mode === S_IFDIR && inode.sizeHigh !== 0)
  )
    state |= IS.BAD;
  if (!ctx.incompat(F.INCOMPAT_64BIT) && inode.fileAclHigh !== 0) state |= IS.BAD;
  if (!ctx.roCompat(F.RO_HUGE_FILE) && inode.blocksHi !== 0) state |= IS.BAD;

  // check_inode_extra_space
  if (ctx.g.inodeSize > 128) {
    const extra = inode.extraIsize;
    const max = ctx.g.inodeSize - 128;
    if (extra !== 0 && (extra < 4 || extra > max || (extra & 3) !== 0)) {
      ctx.report("INODE_EXTRA_ISIZE", { ino, num: extra });
    } else if (extra >= 4 && extra <= max) {
      st.ibody = checkIbodyXattrs(ctx, inode, true);
    }
  }

  let skipBlocks = false;
  switch (mode) {
    case S_IFDIR:
      state |= IS.DIR;
      ctx.dirs.push(ino);
      ctx.dirsPerGroup[ctx.inodeGroup(ino)]!++;
      break;
    case S_IFREG:
      state |= IS.REG;
      break;
    case S_IFCHR:
    case S_IFBLK:
    case S_IFIFO:
    case S_IFSOCK:
      if (deviceInodeOk(inode)) {
        immutableSpecial(ctx, inode);
        if (inode.size !== 0) ctx.report("SPECIAL_NONZERO_SIZE", { ino });
      } else state |= IS.BAD;
      break;
    case S_IFLNK: {
      state |= IS.LNK;
      const sys = findSystemData(ibodyOf(ctx, st, inode));
      const target = (inode.flags & FL.INLINE_DATA) !== 0 ? inlineBytes(inode, sys) : null;
      if (symlinkOk(ctx, inode, target)) {
        immutableSpecial(ctx, inode);
        if ((inode.flags & FL.INLINE_DATA) !== 0) skipBlocks = true;
        else if (isFastSymlink(inode)) {
          ctx.istate[ino] = state;
          checkBlocks(ctx, st, inode, st.ibody ?? null);
          return;
        }
      } else state |= IS.BAD;
      break;
    }
    default:
      state |= IS.BAD;
  }
  ctx.istate[ino] = state;
  if (!skipBlocks) checkBlocks(ctx, st, inode, st.ibody ?? null);
}

/** Device files, fifos, sockets and symlinks cannot be immutable or append-only (e2fsck's check_immutable). */
function immutableSpecial(ctx: CheckContext, inode: RawInode): void {
  if ((inode.flags & (FL.IMMUTABLE | FL.APPEND)) !== 0)
    ctx.report("IMMUTABLE_SPECIAL", { ino: inode.ino });
}

/** The in-inode xattrs of the inode being checked, looked at quietly on first use. */
function ibodyOf(
  ctx: CheckContext,
  st: Pass1State,
  inode: RawInode,
): ReturnType<typeof checkIbodyXattrs> {
  if (st.ibody === undefined) st.ibody = checkIbodyXattrs(ctx, inode, false);
  return st.ibody;
}

/** The inline data of an inode: i_block followed by the system.data value. */
export function inlineBytes(
  inode: RawInode,
  sys: { valueOffset: number; valueSize: number } | null,
): Uint8Array {
  const head = inode.raw.subarray(40, 100);
  if (sys === null || sys.valueSize === 0) return head.slice();
  const tail = inode.raw.subarray(
    sys.valueOffset,
    Math.min(inode.raw.length, sys.valueOffset + sys.valueSize),
  );
  const out = new Uint8Array(60 + tail.length);
  out.set(head);
  out.set(tail, 60);
  return out;
}

/**
 * The visitor of pass 1's block map walks: marks every block it is told
 * about and counts them for i_blocks, i_size and contiguity, and for a
 * directory notes the data runs for the directory block list. One instance
 * serves every inode ({@link start} resets it).
 */
class BlockCounter implements BlockVisitor {
  blocks = 0;
  last = -1;
  prev = 0;
  frag = false;
  /** Where the data runs of a directory being walked go (always the same object: one shape for V8). */
  readonly runs = new DirRuns();
  /** Whether to note the runs (a directory is being walked). */
  recordRuns = false;
  /** Mapping blocks count for contiguity (indirect maps). */
  metaInSequence = false;
  private counting = true;

  constructor(private readonly ctx: CheckContext) {}

  /**
   * Resets the counts for the next walk. `counting` off only marks;
   * `metaInSequence` makes mapping blocks count for contiguity.
   */
  start(counting: boolean, metaInSequence: boolean, recordRuns: boolean): this {
    this.blocks = 0;
    this.last = -1;
    this.prev = 0;
    this.frag = false;
    this.counting = counting;
    this.metaInSequence = metaInSequence;
    this.recordRuns = recordRuns;
    this.runs.reset();
    return this;
  }

  data(lblk: number, pblk: number, len: number): void {
    // The loop lives in markRange: a loop in this small hot method would be
    // compiled on the stack (OSR) on the first long extent and thrown away.
    if (len === 1) markUsed(this.ctx, pblk);
    else markRange(this.ctx, pblk, len);
    if (this.recordRuns) this.runs.add(lblk, pblk, len);
    if (this.counting) {
      this.blocks += len;
      if (lblk + len - 1 > this.last) this.last = lblk + len - 1;
      if (this.prev !== 0 && this.prev + 1 !== pblk) this.frag = true;
      this.prev = pblk + len - 1;
    }
  }

  meta(pblk: number): void {
    markUsed(this.ctx, pblk);
    if (this.counting) {
      this.blocks++;
      // ext2fs_block_iterate3 hands indirect blocks to process_block in
      // sequence with the data, so they count for contiguity there.
      if (this.metaInSequence) {
        if (this.prev !== 0 && this.prev + 1 !== pblk) this.frag = true;
        this.prev = pblk;
      }
    }
  }
}

/**
 * Lists a directory's blocks from the runs its walk found and takes it off
 * the pending list (it is the last entry: checkBlocks pushed it).
 */
function listDirBlocks(ctx: CheckContext, inode: RawInode, runs: DirRuns, extents: boolean): void {
  const seed = ctx.csum ? ctx.inodeCsumSeed(inode.ino, inode.generation) : 0;
  ctx.dirBlocks.addRuns(inode.ino, seed, runs, extents);
  ctx.dblist.pop();
}

/** ext2fs_inode_has_valid_blocks2: whether i_block holds a block map at all. */
function hasValidBlocks(ctx: CheckContext, inode: RawInode): boolean {
  const mode = typeOf(inode.mode);
  if (mode !== S_IFDIR && mode !== S_IFREG && mode !== S_IFLNK) return false;
  if (mode === S_IFLNK) {
    if (fileAclBlock(ctx, inode) === 0) {
      if (inode.blocks === 0) return false;
    } else {
      if (inode.size >= 60) return true;
      if (inode.size > 4 && inode.block[1] === 0) return true;
      return false;
    }
  }
  return (inode.flags & FL.INLINE_DATA) === 0;
}

/**
 * check_blocks: the xattr block, the block map, then i_size and i_blocks
 * against what the map holds, htree roots and zero-length directories.
 */
function checkBlocks(
  ctx: CheckContext,
  st: Pass1State,
  inode: RawInode,
  ibodyAttrs: ReturnType<typeof checkIbodyXattrs> | null,
): void {
  const ino = inode.ino;
  const bs = ctx.g.blockSize;
  const isDir = typeOf(inode.mode) === S_IFDIR;
  // Listed as pending until its blocks are listed below; pass 2 lists the
  // blocks of those left pending itself (inline directories, maps pass 1
  // does not walk, a walk a malformed structure cut short).
  if (isDir) ctx.dblist.push(ino);
  const counts = st.counter.start(true, false, false);
  let lastInit = -1;

  const acl = fileAclBlock(ctx, inode);
  if (acl !== 0) {
    if (!ctx.compat(F.COMPAT_EXT_ATTR) || acl < ctx.g.firstDataBlock || acl >= ctx.g.blocksCount) {
      ctx.istate[ino] = ctx.istate[ino]! | IS.BAD;
    } else if (checkXattrBlock(ctx, inode, acl, st.refs)) {
      if (st.refs.remaining.get(acl)?.seen === 1) markUsed(ctx, acl);
      counts.blocks++;
    }
  }

  const inlineFs = ctx.incompat(F.INCOMPAT_INLINE_DATA);
  if (inlineFs && (inode.flags & FL.INLINE_DATA) !== 0) {
    // Inline data holds no blocks; directories are checked in pass 2.
  } else if ((inode.flags & FL.EXTENTS) !== 0 && !ctx.incompat(F.INCOMPAT_EXTENTS)) {
    // libext2fs cannot iterate an extent-flagged inode on a filesystem
    // without extents: e2fsck counts no blocks for it.
  } else if (hasValidBlocks(ctx, inode)) {
    const runs = counts.runs;
    if (ino === RESIZE_INO) {
      // The resize inode's other blocks are the reserved GDT blocks, marked
      // with the metadata; only its double-indirect block is its own.
      if (inode.block[13] !== 0 && inode.block[13]! < ctx.g.blocksCount)
        markUsed(ctx, inode.block[13]!);
      walkBlockMap(ctx, inode, { data: () => counts.blocks++, meta: () => counts.blocks++ }, null);
    } else if (ctx.incompat(F.INCOMPAT_EXTENTS) && (inode.flags & FL.EXTENTS) !== 0) {
      counts.recordRuns = isDir;
      lastInit = walkExtents(ctx, inode, counts, true);
      if (isDir) listDirBlocks(ctx, inode, runs, true);
    } else {
      counts.metaInSequence = true;
      counts.recordRuns = isDir;
      let reported = 0;
      let latch = false;
      const res = walkBlockMap(ctx, inode, counts, (lblk, pblk) => {
        if (!latch) {
          latch = true;
          ctx.report("ILLEGAL_BLOCK", { ino, lblk, blk: pblk });
        }
        if (lblk < 0) ctx.report("ILLEGAL_INDIRECT", { ino, blk: pblk });
        else if (reported++ < 12) ctx.report("ILLEGAL_BLOCK", { ino, lblk, blk: pblk });
      });
      // An illegal mapping block found inside another one makes
      // ext2fs_block_iterate3 fail, and e2fsck -n stops there.
      if (res.failed) ctx.report("BLOCK_ITERATE", { ino });
      lastInit = counts.last;
      if (isDir) listDirBlocks(ctx, inode, runs, false);
    }
  }
  if (counts.frag && counts.blocks < ctx.g.blocksPerGroup) ctx.fragmented++;

  if ((inode.flags & FL.INDEX) !== 0) {
    // e2fsck -n declines to clear the index, so the inode stays an htree
    // for pass 2 whatever handle_htree found.
    handleHtree(ctx, inode);
    ctx.istate[ino] = ctx.istate[ino]! | IS.HTREE;
    ctx.htreeDirs.set(ino, counts.last + 1);
  }
  if (counts.blocks === 0 && isDir && (inode.flags & FL.INLINE_DATA) === 0) {
    ctx.report("ZERO_LENGTH_DIR", { ino });
    return;
  }

  const size = inode.size;
  let badSize = false;
  let shouldBe = (counts.last + 1) * bs;
  if (isDir) {
    if ((inode.flags & FL.INLINE_DATA) !== 0 && inlineFs) {
      const sys = findSystemData(ibodyAttrs ?? checkIbodyXattrs(ctx, inode, false));
      const inlineSize = sys === null ? 0 : 60 + sys.valueSize;
      if (inlineSize !== size) {
        badSize = true;
        shouldBe = inlineSize;
      }
    } else if (size % bs !== 0) badSize = true;
    else {
      const nblock = size / bs;
      if (nblock > counts.last + 1) badSize = true;
      else if (nblock < counts.last + 1 && counts.last + 1 - nblock > ctx.g.preallocDirBlocks)
        badSize = true;
    }
  } else if (lastInit >= 0 && size < lastInit * bs && (inode.flags & FL.VERITY) === 0)
    badSize = true;
  else if (
    !(ctx.incompat(F.INCOMPAT_EXTENTS) && (inode.flags & FL.EXTENTS) !== 0) &&
    size > st.maxSizes
  )
    badSize = true;
  else if (
    ctx.incompat(F.INCOMPAT_EXTENTS) &&
    (inode.flags & FL.EXTENTS) !== 0 &&
    size > 2 ** 32 * bs - 1
  )
    badSize = true;
  if (badSize && typeOf(inode.mode) !== S_IFLNK)
    ctx.report("BAD_I_SIZE", { ino, num: size, num2: shouldBe });

  let expected = counts.blocks;
  if (!ctx.roCompat(F.RO_HUGE_FILE) || (inode.flags & FL.HUGE_FILE) === 0) expected *= bs / 512;
  if (
    expected !== iBlocks(ctx, inode) ||
    (ctx.roCompat(F.RO_HUGE_FILE) && (inode.flags & FL.HUGE_FILE) !== 0 && inode.blocksHi !== 0)
  ) {
    ctx.report("BAD_I_BLOCKS", { ino, num: iBlocks(ctx, inode), num2: expected });
  }
}

/**
 * handle_htree: reports what is wrong with an htree root. Every check runs
 * (e2fsck -n answers "no" to clearing the index and goes on to the next).
 */
function handleHtree(ctx: CheckContext, inode: RawInode): void {
  const ino = inode.ino;
  if (typeOf(inode.mode) !== S_IFDIR) ctx.report("INDEX_FL_NOT_DIR", { ino });
  if (!ctx.compat(F.COMPAT_DIR_INDEX)) ctx.report("HTREE_NO_FEATURE", { ino });
  const blk = firstDataBlockOf(ctx, inode);
  if (blk === null || blk < ctx.g.firstDataBlock || blk >= ctx.g.blocksCount) {
    ctx.report("HTREE_ROOT_INVALID", { ino });
    return;
  }
  const buf = ctx.readBlock(blk);
  if (buf === null) return;
  const v = viewOf(buf).sub(24, 8);
  const hashVersion = DX_ROOT_INFO.get(v, "hash_version");
  const levels = DX_ROOT_INFO.get(v, "indirect_levels");
  if (DX_ROOT_INFO.get(v, "reserved_zero") !== 0 || DX_ROOT_INFO.get(v, "info_length") < 8) {
    ctx.report("HTREE_ROOT_INVALID", { ino });
  }
  if (hashVersion !== 0 && hashVersion !== 1 && hashVersion !== 2 && hashVersion !== 6) {
    ctx.report("HTREE_HASH_VERSION", { ino, num: hashVersion });
  }
  if ((DX_ROOT_INFO.get(v, "unused_flags") & 1) !== 0) ctx.report("HTREE_INCOMPAT", { ino });
  if (levels > 3) ctx.report("DIR_TOO_DEEP_HTREE", { ino, num: levels });
  const largedir = ctx.incompat(F.INCOMPAT_LARGEDIR);
  if (levels > 2 && !largedir) {
    const blockbits = Math.log2(ctx.g.blockSize);
    const idxPb = 2 ** (blockbits - 3);
    const maxSize = (idxPb - 1) * (idxPb - 2) * 2 ** blockbits;
    if (inode.size < maxSize && inode.blocks < maxSize / 512)
      ctx.report("DIR_TOO_DEEP_HTREE", { ino, num: levels });
    ctx.largeDirs++;
  }
}

/** Physical block of logical block 0 of an inode (quiet walk), or null. */
export function firstDataBlockOf(ctx: CheckContext, inode: RawInode): number | null {
  let found: number | null = null;
  const v: BlockVisitor = {
    data(lblk, pblk) {
      if (lblk === 0 && found === null) found = pblk;
    },
    meta() {},
  };
  if ((inode.flags & FL.EXTENTS) !== 0 && ctx.incompat(F.INCOMPAT_EXTENTS))
    walkExtents(ctx, inode, v, false);
  else walkBlockMap(ctx, inode, v, null);
  return found;
}

/**
 * Pass 1B-1D: which inodes share the multiply-claimed blocks, by walking
 * every in-use inode's map again quietly.
 */
function pass1b(ctx: CheckContext): void {
  const dup = ctx.blockDup;
  if (dup === null) return;
  if (ctx.firstBadCsumIno !== 0) {
    // e2fsck's pass 1B rescans the inode table without tolerating checksum
    // errors, and stops at the first inode that fails.
    ctx.report("DUP_SCAN_ABORT", { ino: ctx.firstBadCsumIno });
    return;
  }
  const owners: Array<{ ino: number; count: number }> = [];
  const shared = new Map<number, number>();
  for (let ino = 1; ino <= ctx.g.inodesCount; ino++) {
    const s = ctx.istate[ino]!;
    if ((s & IS.USED) === 0) continue;
    const raw = ctx.readInode(ino);
    if (raw === null) continue;
    const inode = decodeInode(ino, raw);
    let count = 0;
    const hit = (b: number) => {
      if (dup.test(b)) {
        count++;
        shared.set(b, (shared.get(b) ?? 0) + 1);
      }
    };
    const v: BlockVisitor = {
      data(_l, pblk, len) {
        for (let k = 0; k < len; k++) hit(pblk + k);
      },
      meta(pblk) {
        hit(pblk);
      },
    };
    const acl = fileAclBlock(ctx, inode);
    if (acl !== 0 && acl < ctx.g.blocksCount && (s & IS.BAD) === 0) hit(acl);
    if (!hasValidBlocks(ctx, inode) || ino === RESIZE_INO) {
      if (count > 0) owners.push({ ino, count });
      continue;
    }
    if ((inode.flags & FL.EXTENTS) !== 0 && ctx.incompat(F.INCOMPAT_EXTENTS))
      walkExtents(ctx, inode, v, false);
    else walkBlockMap(ctx, inode, v, null);
    if (count > 0) owners.push({ ino, count });
  }
  let meta = 0;
  for (const b of shared.keys()) if (ctx.blockMeta.test(b)) meta++;
  for (const o of owners) {
    const others = owners.length - 1;
    const parts: string[] = [];
    if (others > 0) parts.push(`${others} file(s)`);
    if (meta > 0) parts.push("<filesystem metadata>");
    ctx.report("DUP_BLOCKS", { ino: o.ino, num: o.count, str: parts.join(" and ") || "itself" });
  }
  if (owners.length === 0) {
    ctx.report("DUP_BLOCKS", { ino: 0, num: shared.size, str: "<filesystem metadata>" });
  }
}
