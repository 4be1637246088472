/**
 * Pass 2: every directory block (e2fsck's check_dir_block over the sorted
 * directory block list): record lengths and alignment, names, '.' and '..',
 * entries naming bad, unused or reserved inodes, file types, duplicates,
 * checksum tails, and the htree index (limits, counts, hash order, hash
 * ranges of the leaves, depth, unreferenced blocks). Counts the references
 * pass 4 compares with the link counts and records '..' and the first
 * parent of every directory for pass 3.
 */
import { ByteView, crc32cRaw, isExt4Error, viewOf } from "@ext4/core";
import { IoError } from "@ext4/iocache";
import { BG_INODE_UNINIT, type CheckContext, F, IS } from "./context.js";
import { type DirBlockList, DirRuns } from "./dirblocks.js";
import { DX_HASH, dxHash } from "./hash.js";
import {
  decodeInode,
  deviceInodeOk,
  FL,
  fileAclBlock,
  fileTypeOf,
  type RawInode,
  readerGeometry,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFSOCK,
  symlinkOk,
  typeOf,
  validType,
} from "./inode.js";
import { DX_COUNTLIMIT, DX_ROOT_INFO } from "./layout.js";
import { inlineBytes } from "./pass1.js";
import {
  JOB_DIR,
  JOB_STRIDE,
  type Prefetcher,
  READ_STRIDE,
  type Session,
  SLOT_BYTES,
  TASK_STRIDE,
} from "./prefetch.js";
import { type BlockVisitor, walkBlockMap, walkExtents } from "./walk.js";
import { checkIbodyXattrs, findSystemData } from "./xattr.js";

const ROOT_INO = 2;

/** Directory block kinds in an htree (e2fsck's DX_DIRBLOCK_*). */
const LEAF = 1;
const ROOT = 2;
const NODE = 3;
const FLAG_REFERENCED = 1;
const FLAG_DUP_REF = 2;
const FLAG_FIRST = 4;
const FLAG_LAST = 8;

interface DxBlock {
  type: number;
  flags: number;
  parent: number;
  minHash: number;
  maxHash: number;
  nodeMinHash: number;
  nodeMaxHash: number;
}

interface DxDir {
  ino: number;
  numBlocks: number;
  hashVersion: number;
  depth: number;
  blocks: DxBlock[];
}

/** Lists a directory's blocks the way pass 1 would have (holes below the last block included). */
function collectDirBlocks(
  ctx: CheckContext,
  inode: RawInode,
  list: DirBlockList,
  runs: DirRuns,
  seed: number,
): void {
  runs.reset();
  const v: BlockVisitor = {
    data(lblk, pblk, len) {
      runs.add(lblk, pblk, len);
    },
    meta() {},
  };
  const extents = (inode.flags & FL.EXTENTS) !== 0 && ctx.incompat(F.INCOMPAT_EXTENTS);
  if (extents) walkExtents(ctx, inode, v, false);
  else walkBlockMap(ctx, inode, v, null);
  list.addRuns(inode.ino, seed, runs, extents);
}

/** Largest read-ahead over the sorted directory block list, in blocks. */
const READ_AHEAD_BLOCKS = 256;

/**
 * Reads directory blocks for pass 2 in the order of the sorted list, past
 * the buffer cache. The reads are planned up front: a dense run of wanted
 * blocks (at least every other block) is one read of a window, anything
 * else a window of one block. With a reader thread, consecutive windows are
 * batched into jobs of up to a slot (SLOT_BYTES) each, which the thread
 * reads with the blocks' leaf checksums; a job it did not do is read here
 * window by window. A window that cannot be read is read block by block
 * through the cache, which reports the blocks that fail. The bytes of a row
 * stay valid until the next row's, whatever the checks read through the
 * cache meanwhile, so nothing is copied per block.
 */
class DirBlockReader {
  private readonly maxBlocks: number;
  private readonly window: Uint8Array;
  private readonly one: Uint8Array;
  /** The windows: first block, blocks, job, byte offset in the job's slot. */
  private wins = 0;
  private winFirst = new Float64Array(64);
  private winBlocks = new Int32Array(64);
  private winJob = new Int32Array(64);
  private winAt = new Int32Array(64);
  /** Per row of the sorted order: its window (-1: nothing to read), offset in it, crc task (-1: none). */
  private readonly rowWin: Int32Array;
  private readonly rowAt: Int32Array;
  private readonly rowTask: Int32Array;
  private session: Session | null = null;
  private job = -1;
  private slot: Uint8Array | null = null;
  private win = -1;
  private winOk = false;

  constructor(
    private readonly ctx: CheckContext,
    order: Uint32Array,
    list: DirBlockList,
    inlineDirs: Map<number, Uint8Array>,
  ) {
    const bs = ctx.g.blockSize;
    this.maxBlocks = Math.max(1, Math.min(READ_AHEAD_BLOCKS, Math.floor((1 << 20) / bs)));
    this.window = new Uint8Array(this.maxBlocks * bs);
    this.one = new Uint8Array(bs);
    const n = order.length;
    this.rowWin = new Int32Array(n).fill(-1);
    this.rowAt = new Int32Array(n);
    this.rowTask = new Int32Array(n).fill(-1);
    const devBlocks = ctx.cache.blockCount;
    let first = -1;
    let count = 0;
    for (let k = 0; k < n; k++) {
      // OK to assert: order holds row numbers below list.length.
      const idx = order[k]!;
      const pblk = list.pblk[idx]!;
      if (pblk === 0 || inlineDirs.has(list.dir[idx]!)) continue;
      // Outside the device: nothing to read (CheckContext.readBlock's null, unreported).
      if (!Number.isSafeInteger(pblk) || pblk < 0 || pblk >= devBlocks) continue;
      if (pblk < first || pblk >= first + count) {
        // The blocks ahead in the sorted list are mostly close together;
        // read them with this one when they are dense enough to be worth it.
        let end = pblk;
        let wanted = 1;
        for (let j = k + 1; j < n && j < k + this.maxBlocks; j++) {
          const p = list.pblk[order[j]!]!;
          if (p < pblk || p - pblk >= this.maxBlocks || p - pblk + 1 > 2 * (wanted + 1)) break;
          if (p > end) end = p;
          wanted++;
        }
        first = pblk;
        count = Math.min(end, devBlocks - 1) - pblk + 1;
        this.addWindow(first, count);
      }
      this.rowWin[k] = this.wins - 1;
      this.rowAt[k] = (pblk - first) * bs;
    }
    if (ctx.reader !== null && this.wins > 0) this.startSession(ctx.reader, order, list);
  }

  private addWindow(first: number, count: number): void {
    if (this.wins === this.winFirst.length) {
      const n = this.wins * 2;
      const f = new Float64Array(n);
      f.set(this.winFirst);
      this.winFirst = f;
      for (const key of ["winBlocks", "winJob", "winAt"] as const) {
        const a = new Int32Array(n);
        a.set(this[key]);
        this[key] = a;
      }
    }
    this.winFirst[this.wins] = first;
    this.winBlocks[this.wins] = count;
    this.wins++;
  }

  /** Packs the windows into slot-sized jobs and hands them to the reader thread with the rows' crc tasks. */
  private startSession(reader: Prefetcher, order: Uint32Array, list: DirBlockList): void {
    const bs = this.ctx.g.blockSize;
    const jobs: number[] = [];
    let used = 0;
    for (let w = 0; w < this.wins; w++) {
      const bytes = this.winBlocks[w]! * bs;
      if (jobs.length === 0 || used + bytes > SLOT_BYTES) {
        jobs.push(w, 0, JOB_DIR, 0, 0);
        used = 0;
      }
      // OK to assert: a job was just pushed when there was none.
      jobs[jobs.length - 4]!++;
      this.winJob[w] = jobs.length / JOB_STRIDE - 1;
      this.winAt[w] = used;
      used += bytes;
    }
    const reads = new Float64Array(this.wins * READ_STRIDE);
    for (let w = 0; w < this.wins; w++) {
      reads.set([this.winFirst[w]!, this.winBlocks[w]!, this.winAt[w]!], w * READ_STRIDE);
    }
    // The rows of a job are consecutive in the order, and so are their tasks.
    const tasks: number[] = [];
    if (this.ctx.csum) {
      let job = -1;
      for (let k = 0; k < order.length; k++) {
        const w = this.rowWin[k]!;
        if (w < 0) continue;
        const j = this.winJob[w]!;
        if (j !== job) {
          job = j;
          jobs[j * JOB_STRIDE + 3] = tasks.length / TASK_STRIDE;
        }
        jobs[j * JOB_STRIDE + 4]!++;
        this.rowTask[k] = tasks.length / TASK_STRIDE;
        tasks.push(this.winAt[w]! + this.rowAt[k]!, list.seed[order[k]!]!);
      }
    }
    this.session = reader.session(
      readerGeometry(this.ctx),
      Float64Array.from(jobs),
      jobs.length / JOB_STRIDE,
      reads,
      this.wins,
      Float64Array.from(tasks),
      tasks.length / TASK_STRIDE,
    );
  }

  /**
   * The bytes of row `k` (block `pblk` of directory `dir`) as a view, or
   * null when it has nothing to read or cannot be read (reported once as
   * IO_ERROR, by CheckContext.readBlock).
   */
  read(k: number, pblk: number, dir: number): ByteView | null {
    const w = this.rowWin[k]!;
    if (w < 0) return null;
    const bs = this.ctx.g.blockSize;
    if (this.session !== null) {
      const j = this.winJob[w]!;
      if (j !== this.job) {
        this.session.release(j);
        this.job = j;
        this.slot = this.session.take(j);
      }
      if (this.slot !== null) {
        return new ByteView(
          this.slot,
          { inode: dir, block: pblk },
          this.winAt[w]! + this.rowAt[k]!,
          bs,
        );
      }
    }
    if (w !== this.win) {
      this.win = w;
      this.winOk = false;
      try {
        this.ctx.cache.readRange(this.winFirst[w]!, this.winBlocks[w]!, this.window);
        this.winOk = true;
      } catch (e) {
        if (!(e instanceof IoError)) throw e;
      }
    }
    if (!this.winOk) {
      // The window failed: this block alone, through the cache.
      const b = this.ctx.readBlock(pblk);
      if (b === null) return null;
      this.one.set(b);
      return new ByteView(this.one, { inode: dir, block: pblk }, 0, bs);
    }
    return new ByteView(this.window, { inode: dir, block: pblk }, this.rowAt[k]!, bs);
  }

  /** The reader thread's leaf checksum of row `k`'s block, or null when it did not compute one. */
  crc(k: number): number | null {
    const t = this.rowTask[k]!;
    if (this.slot === null || t < 0 || this.session === null) return null;
    return this.session.taskCrc(t);
  }

  /** Done with every window. */
  finish(): void {
    this.session?.finish();
  }
}

/** Runs pass 2. */
export function pass2(ctx: CheckContext, progress?: (done: number, total: number) => void): void {
  const list = ctx.dirBlocks;
  const inlineDirs = new Map<number, Uint8Array>();
  const dx = new Map<number, DxDir>();
  const runs = new DirRuns();
  // The directories pass 1 left pending: read their inodes again and list
  // their blocks here.
  for (const ino of ctx.dblist) {
    const raw = ctx.readInode(ino);
    if (raw === null) continue;
    const inode = decodeInode(ino, raw);
    if ((inode.flags & FL.INLINE_DATA) !== 0 && ctx.incompat(F.INCOMPAT_INLINE_DATA)) {
      // libext2fs reads inline data through a checksum-verified inode read:
      // e2fsck sees no entries at all in an inline directory whose inode fails.
      if (ctx.badCsum?.test(ino) === true) continue;
      const sys = findSystemData(checkIbodyXattrs(ctx, inode, false));
      const data = inlineBytes(inode, sys);
      inlineDirs.set(ino, data);
      list.push(ino, 0, 0, 0);
      if (data.length > 60) list.push(ino, 1, 0, 0);
      continue;
    }
    collectDirBlocks(
      ctx,
      inode,
      list,
      runs,
      ctx.csum ? ctx.inodeCsumSeed(ino, inode.generation) : 0,
    );
  }
  // Every inode pass 1 kept as an htree gets its block table (e2fsck's
  // e2fsck_add_dx_dir), directories or not; blocks pass 2 never sees stay
  // unreferenced and are reported at the end.
  for (const [ino, numBlocks] of ctx.htreeDirs) {
    if (numBlocks <= 0 || numBlocks > 1 << 22) continue;
    const blocks: DxBlock[] = [];
    for (let k = 0; k < numBlocks; k++) {
      blocks.push({
        type: 0,
        flags: 0,
        parent: 0,
        minHash: 0,
        maxHash: 0,
        nodeMinHash: 0,
        nodeMaxHash: 0,
      });
    }
    dx.set(ino, { ino, numBlocks, hashVersion: 0, depth: 0, blocks });
  }
  // e2fsck sorts the list: every directory's block 0 first, then by physical block.
  const order = new Uint32Array(list.length);
  for (let k = 0; k < order.length; k++) order[k] = k;
  const { lblk: lb, pblk: pb, dir: db } = list;
  // OK to assert: a and b are row numbers below list.length.
  order.sort((a, b) => {
    const la = lb[a] === 0 ? 0 : 1;
    const lbb = lb[b] === 0 ? 0 : 1;
    if (la !== lbb) return la - lbb;
    return pb[a]! - pb[b]! || lb[a]! - lb[b]! || db[a]! - db[b]!;
  });
  // The root is its own parent.
  ctx.setParent(ROOT_INO, ROOT_INO);
  const reader = new DirBlockReader(ctx, order, list, inlineDirs);
  const scan = new EntryScan(ctx.g.blockSize);
  for (let k = 0; k < order.length; k++) {
    if ((k & 1023) === 0) progress?.(k, order.length);
    const idx = order[k]!;
    const dir = list.dir[idx]!;
    const lblk = list.lblk[idx]!;
    const pblk = list.pblk[idx]!;
    const inline = inlineDirs.get(dir);
    if (inline !== undefined) {
      try {
        checkInlineBlock(ctx, scan, dir, lblk, inline);
      } catch (e) {
        if (!isExt4Error(e)) throw e;
        ctx.report("STRUCTURE_2", { ino: dir, lblk, str: e.message });
      }
      continue;
    }
    if (pblk === 0) {
      ctx.report("DIR_HOLE", { ino: dir, lblk });
      continue;
    }
    try {
      const v = reader.read(k, pblk, dir);
      if (v !== null) {
        checkDirBlock(ctx, scan, dir, lblk, v, dx.get(dir) ?? null, list.seed[idx]!, reader.crc(k));
      }
    } catch (e) {
      if (!isExt4Error(e)) throw e;
      ctx.report("STRUCTURE_2", { ino: dir, lblk, str: e.message });
    }
    if (ctx.stopped) {
      reader.finish();
      return;
    }
  }
  reader.finish();
  for (const d of dx.values()) verifyHtree(ctx, d);
}

/**
 * The names of one directory block (e2fsck's per-block dict for duplicate
 * entries): an open-addressing hash table of name bytes copied into an
 * arena, reset per block without freeing anything.
 */
class NameSet {
  private slots: Int32Array;
  private stamp: Int32Array;
  private arena: Uint8Array;
  private used = 0;
  private count = 0;
  private gen = 1;

  constructor(blockSize: number) {
    this.slots = new Int32Array(1024);
    this.stamp = new Int32Array(1024);
    this.arena = new Uint8Array(Math.max(4096, blockSize));
  }

  /** Forgets every name. */
  reset(): void {
    this.used = 0;
    this.count = 0;
    this.gen++;
  }

  /** Adds the name `bytes[at, at+len)`; true when it was already there. */
  add(bytes: Uint8Array, at: number, len: number): boolean {
    let h = 0x811c9dc5 ^ len;
    // OK to assert: the caller's name range lies inside `bytes`.
    for (let i = 0; i < len; i++) h = Math.imul(h ^ bytes[at + i]!, 0x01000193);
    const mask = this.slots.length - 1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      if (this.stamp[s] !== this.gen) {
        this.insert(s, bytes, at, len);
        return false;
      }
      // A slot holds the name's arena offset; its length is stored before it.
      const o = this.slots[s]!;
      const a = this.arena;
      if (a[o - 1] !== len) continue;
      let same = true;
      for (let i = 0; i < len; i++) {
        if (a[o + i] !== bytes[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
  }

  private insert(slot: number, bytes: Uint8Array, at: number, len: number): void {
    if (this.used + len + 1 > this.arena.length) {
      const bigger = new Uint8Array(2 * (this.arena.length + len + 1));
      bigger.set(this.arena.subarray(0, this.used));
      this.arena = bigger;
    }
    this.arena[this.used] = len;
    this.arena.set(bytes.subarray(at, at + len), this.used + 1);
    this.slots[slot] = this.used + 1;
    this.stamp[slot] = this.gen;
    this.used += len + 1;
    this.count++;
    // Keep the table at most half full so probes stay short and end.
    if (this.count * 2 > this.slots.length) this.rehash();
  }

  private rehash(): void {
    const old = this.slots;
    const oldStamp = this.stamp;
    const gen = this.gen;
    this.slots = new Int32Array(old.length * 2);
    this.stamp = new Int32Array(old.length * 2);
    const mask = this.slots.length - 1;
    const a = this.arena;
    for (let s = 0; s < old.length; s++) {
      if (oldStamp[s] !== gen) continue;
      const o = old[s]!;
      const len = a[o - 1]!;
      let h = 0x811c9dc5 ^ len;
      for (let i = 0; i < len; i++) h = Math.imul(h ^ a[o + i]!, 0x01000193);
      let t = h & mask;
      while (this.stamp[t] === gen) t = (t + 1) & mask;
      this.slots[t] = o;
      this.stamp[t] = gen;
    }
  }
}

/** What the entries of one block share while they are checked. */
class EntryScan {
  dir = 0;
  lblk = 0;
  dxBlock: DxBlock | null = null;
  dxDir: DxDir | null = null;
  /** The current entry's location for problems, once made. */
  where: EntryWhere | null = null;
  readonly names: NameSet;

  constructor(blockSize: number) {
    this.names = new NameSet(blockSize);
  }

  /** Starts a block. */
  begin(dir: number, lblk: number, dxBlock: DxBlock | null, dxDir: DxDir | null): this {
    this.dir = dir;
    this.lblk = lblk;
    this.dxBlock = dxBlock;
    this.dxDir = dxDir;
    this.names.reset();
    return this;
  }
}

/** check_dir_block for one block of a block-mapped directory, whose bytes `v` holds. */
function checkDirBlock(
  ctx: CheckContext,
  scan: EntryScan,
  dir: number,
  lblk: number,
  v: ByteView,
  dxDir: DxDir | null,
  seed: number,
  leafCrc: number | null,
): void {
  const bs = ctx.g.blockSize;
  let dxBlock: DxBlock | null = null;
  let isLeaf = true;
  if (dxDir !== null) {
    if (lblk >= dxDir.numBlocks) {
      ctx.report("HTREE_BAD_BLOCK", { ino: dir, lblk });
    } else {
      dxBlock = dxDir.blocks[lblk]!;
      dxBlock.type = LEAF;
      dxBlock.minHash = 0xffffffff;
      dxBlock.maxHash = 0;
      const recLen0 = v.u16(4);
      const limitAt8 = v.u16(8);
      if (lblk === 0) {
        const info = v.sub(24, 8);
        dxBlock.type = ROOT;
        dxBlock.flags |= FLAG_FIRST | FLAG_LAST;
        const levels = DX_ROOT_INFO.get(info, "indirect_levels");
        if (
          DX_ROOT_INFO.get(info, "reserved_zero") !== 0 ||
          DX_ROOT_INFO.get(info, "info_length") < 8 ||
          levels >= (ctx.incompat(F.INCOMPAT_LARGEDIR) ? 3 : 2)
        ) {
          ctx.report("HTREE_ROOT_INVALID", { ino: dir });
        }
        let hv = DX_ROOT_INFO.get(info, "hash_version");
        if (hv <= DX_HASH.TEA && ctx.g.unsignedHash) hv += 3;
        dxDir.hashVersion = hv;
        dxDir.depth = levels + 1;
      } else if (
        v.u32(0) === 0 &&
        recLen0 === bs &&
        v.u8(6) === 0 &&
        limitAt8 === Math.floor((bs - (8 + (ctx.csum ? 8 : 0))) / 8)
      ) {
        dxBlock.type = NODE;
      }
      isLeaf = dxBlock.type === LEAF;
    }
  }

  // Checksums: ext2fs_read_dir_block4 verifies a leaf tail or an htree
  // node's dx_tail; check_dir_block then decides how much of the block the
  // entries may use and which checksum problem to report.
  let failedCsum = false;
  let deCsumSize = ctx.csum ? 12 : 0;
  if (ctx.csum) {
    const tail = direntTail(v, bs);
    // ext2fs_dir_block_csum_verify re-reads the directory's inode for its
    // seed: when that inode fails its own checksum, every block fails.
    const inodeBad = ctx.badCsum?.test(dir) === true;
    if (tail === "ok") {
      const calc = leafCrc ?? crc32cRaw(seed, v.slice(0, bs - 12));
      failedCsum = inodeBad || calc !== v.u32(bs - 4);
    } else {
      const dxc = dxCountLimit(v, bs);
      failedCsum = dxc === null ? true : inodeBad || !dxCsumOk(v, bs, dxc, seed);
    }
    if (isLeaf && failedCsum && tail === "nospace") {
      deCsumSize = 0;
      ctx.report("DIR_NO_CSUM", { ino: dir, lblk, num: 0 });
      failedCsum = false;
    }
    if (!isLeaf) deCsumSize = 0;
  }
  const maxLen = bs - deCsumSize;

  scan.begin(dir, lblk, dxBlock, dxDir);
  const bytes = v.bytes;
  const base = v.start;
  let offset = 0;
  let dotState = lblk === 0 ? 0 : 2;
  const minLen = 12;
  let corrupted = false;
  for (let guard = 0; offset < maxLen && guard < bs; guard++) {
    const recLen = maxLen - offset < 8 ? 12 : v.u16(offset + 4);
    const nameLen = maxLen - offset < 8 ? 0 : v.u8(offset + 6);
    if (
      offset + recLen > maxLen ||
      recLen < minLen ||
      recLen % 4 !== 0 ||
      ((nameLen + 8 + 3) & ~3) > recLen
    ) {
      ctx.report("DIR_CORRUPTED", { ino: dir, lblk, num: offset });
      corrupted = true;
      break;
    }
    // The name lies inside the record, which lies inside the block (checked above).
    checkEntry(
      ctx,
      scan,
      dotState,
      v.u32(offset),
      bytes,
      base + offset + 8,
      nameLen,
      v.u8(offset + 7),
    );
    offset += recLen;
    dotState++;
  }
  if (corrupted) return;
  if (dxBlock !== null && (dxBlock.type === ROOT || dxBlock.type === NODE)) {
    parseIntNode(ctx, dxDir!, lblk, v, failedCsum);
  } else if (isLeaf && failedCsum) {
    ctx.report("DIR_CSUM", { ino: dir, lblk });
  }
}

/**
 * __get_dirent_tail: walks the entries to the last 12 bytes. "ok" when a
 * valid tail sits there, "corrupt" when the walk breaks, "nospace" when the
 * entries run over where the tail should be or the tail is malformed.
 */
function direntTail(v: ByteView, bs: number): "ok" | "corrupt" | "nospace" {
  const top = bs - 12;
  let off = 0;
  for (let guard = 0; off < top && guard < bs; guard++) {
    const rl = v.u16(off + 4);
    if (rl < 8 || rl % 4 !== 0) return "corrupt";
    off += rl;
  }
  if (off > bs) return "corrupt";
  if (off !== top) return "nospace";
  const ok =
    v.u32(top) === 0 && v.u16(top + 4) === 12 && v.u8(top + 6) === 0 && v.u8(top + 7) === 0xde;
  return ok ? "ok" : "nospace";
}

/** __get_dx_countlimit: the offset of the count/limit header of an htree block, or null. */
function dxCountLimit(v: ByteView, bs: number): number | null {
  const rl = v.u16(4);
  let countOffset: number;
  if (rl === bs && v.u8(6) === 0) countOffset = 8;
  else if (rl === 12) {
    const rl2 = v.u16(12 + 4);
    if (rl2 !== bs - 12 || v.u8(12 + 6) !== 2) return null;
    if (v.u32(24) !== 0 || v.u8(29) !== 8) return null;
    countOffset = 32;
  } else return null;
  const max = Math.floor((bs - countOffset) / 8);
  if (v.u16(countOffset) > max || v.u16(countOffset + 2) > max) return null;
  return countOffset;
}

const ZERO4 = new Uint8Array(4);

/** ext2fs_dx_csum_verify. */
function dxCsumOk(v: ByteView, bs: number, countOffset: number, seed: number): boolean {
  const limit = v.u16(countOffset);
  const count = v.u16(countOffset + 2);
  if (countOffset + limit * 8 > bs - 8) return false;
  const tail = countOffset + limit * 8;
  let c = crc32cRaw(seed, v.slice(0, countOffset + count * 8));
  c = crc32cRaw(c, v.slice(tail, 4));
  c = crc32cRaw(c, ZERO4);
  return c === v.u32(tail + 4);
}

const DOT = Uint8Array.of(0x2e);
const DOTDOT = Uint8Array.of(0x2e, 0x2e);
const LOST_FOUND = new TextEncoder().encode("lost+found");

/** The inline directory's two "blocks": i_block (parent + entries) and the system.data value. */
function checkInlineBlock(
  ctx: CheckContext,
  scan: EntryScan,
  dir: number,
  lblk: number,
  data: Uint8Array,
): void {
  scan.begin(dir, lblk, null, null);
  const v = viewOf(data);
  if (lblk === 0) {
    // '.' is implicit; '..' is the first four bytes.
    checkEntry(ctx, scan, 0, dir, DOT, 0, 1, 2);
    checkEntry(ctx, scan, 1, v.u32(0), DOTDOT, 0, 2, 2);
  }
  const start = lblk === 0 ? 4 : 60;
  const end = lblk === 0 ? 60 : data.length;
  let offset = start;
  for (let guard = 0; offset < end && guard < 1024; guard++) {
    const left = end - offset;
    const recLen = left < 8 ? 12 : v.u16(offset + 4);
    const nameLen = left < 8 ? 0 : v.u8(offset + 6);
    if (
      offset + recLen > end ||
      recLen < 8 ||
      recLen % 4 !== 0 ||
      ((nameLen + 8 + 3) & ~3) > recLen
    ) {
      ctx.report("DIR_CORRUPTED", { ino: dir, lblk, num: offset - start });
      return;
    }
    checkEntry(ctx, scan, 2, v.u32(offset), data, offset + 8, nameLen, v.u8(offset + 7));
    offset += recLen;
  }
}

/** Where an entry is, for the problems that name it. */
type EntryWhere = { ino: number; entry: string; str: string };

/** The entry's {@link EntryWhere}, made on first use (most entries have no problem). */
function whereOf(scan: EntryScan, bytes: Uint8Array, at: number, len: number): EntryWhere {
  if (scan.where === null) {
    const entry = Buffer.from(bytes.buffer, bytes.byteOffset + at, len).toString("latin1");
    scan.where = { ino: scan.dir, entry, str: `<${scan.dir}>` };
  }
  return scan.where;
}

/**
 * The per-entry checks of check_dir_block, in e2fsck's order. The name is
 * `bytes[at, at+len)`; it is turned into a string only for a problem.
 */
function checkEntry(
  ctx: CheckContext,
  scan: EntryScan,
  dotState: number,
  inum: number,
  bytes: Uint8Array,
  at: number,
  len: number,
  fileType: number,
): void {
  const dir = scan.dir;
  scan.where = null;
  // OK to assert below: the name range lies inside `bytes` (checked by the caller).
  const isDot = len === 1 && bytes[at] === 0x2e;
  const isDotDot = len === 2 && bytes[at] === 0x2e && bytes[at + 1] === 0x2e;
  if (dotState === 0) {
    if (inum === 0 || !isDot)
      ctx.report("DIR_MISSING_DOT", { ...whereOf(scan, bytes, at, len), num: inum });
    if (inum !== dir) ctx.report("DIR_BAD_DOT_INODE", { ino: dir });
  } else if (dotState === 1) {
    if (inum === 0 || !isDotDot) {
      ctx.report("DIR_MISSING_DOTDOT", { ...whereOf(scan, bytes, at, len), num: inum });
    } else {
      ctx.setDotdot(dir, inum);
    }
  } else if (inum === dir) {
    ctx.report("DIRENT_LINK_DOT", whereOf(scan, bytes, at, len));
    return;
  }
  if (inum === 0) return;

  if ((inum !== ROOT_INO && inum < ctx.g.firstIno) || inum > ctx.g.inodesCount) {
    ctx.report("DIRENT_BAD_INODE", { ...whereOf(scan, bytes, at, len), num: inum });
    return;
  }
  if (dotState > 1) {
    let problem: "DIRENT_DUP_DOT" | "DIRENT_LINK_ROOT" | "DIRENT_ZERO_NAME" | null = null;
    if (isDot || isDotDot) problem = "DIRENT_DUP_DOT";
    else if (inum === ROOT_INO) problem = "DIRENT_LINK_ROOT";
    else if (len === 0) problem = "DIRENT_ZERO_NAME";
    if (problem !== null) ctx.report(problem, whereOf(scan, bytes, at, len));
    for (let i = 0; i < len; i++) {
      const c = bytes[at + i];
      if (c === 0x2f || c === 0) {
        ctx.report("DIRENT_BAD_NAME", whereOf(scan, bytes, at, len));
        break;
      }
    }
  }

  const st = ctx.istate[inum]!;
  if ((st & IS.BAD) !== 0) processBadInode(ctx, inum, whereOf(scan, bytes, at, len));

  if (ctx.gdtCsum) {
    const ipg = ctx.g.inodesPerGroup;
    const grp = ctx.inodeGroup(inum);
    const firstUnused = grp * ipg + 1 + ipg - ctx.gdItableUnused[grp]!;
    // e2fsck would clear the flags and restart; with -n it goes on and also
    // reports the entry as naming an unused inode.
    if ((ctx.gdFlags[grp]! & BG_INODE_UNINIT) !== 0) {
      ctx.report("DIRENT_UNINIT_INODE", {
        ...whereOf(scan, bytes, at, len),
        num: inum,
        group: grp,
      });
    } else if (inum >= firstUnused) {
      ctx.report("DIRENT_UNUSED_AREA", { ...whereOf(scan, bytes, at, len), num: inum, group: grp });
    }
  }
  if ((st & IS.USED) === 0) {
    ctx.report("DIRENT_UNUSED_INODE", { ...whereOf(scan, bytes, at, len), num: inum });
    return;
  }

  // check_filetype
  if (ctx.incompat(F.INCOMPAT_FILETYPE)) {
    let shouldBe: number;
    if ((st & IS.DIR) !== 0) shouldBe = 2;
    else if ((st & IS.REG) !== 0) shouldBe = 1;
    else if ((st & IS.BAD) !== 0) shouldBe = 0;
    else {
      const raw = ctx.readInode(inum);
      shouldBe = raw === null ? 0 : fileTypeOf(viewOf(raw).u16(0));
    }
    if (fileType !== shouldBe && fileType !== 0)
      ctx.report("DIRENT_FILETYPE", {
        ...whereOf(scan, bytes, at, len),
        num: fileType,
        num2: shouldBe,
      });
  } else if (fileType !== 0) {
    ctx.report("DIRENT_FILETYPE_SET", whereOf(scan, bytes, at, len));
  }

  if (scan.dxBlock !== null && scan.dxDir !== null) {
    // An unknown hash version leaves e2fsck's hash at 0.
    const h = dxHash(bytes.subarray(at, at + len), scan.dxDir.hashVersion, ctx.g.hashSeed) ?? 0;
    if (h < scan.dxBlock.minHash) scan.dxBlock.minHash = h;
    if (h > scan.dxBlock.maxHash) scan.dxBlock.maxHash = h;
  }

  if (dotState > 1 && (st & IS.DIR) !== 0) {
    if (ctx.parent(inum) !== 0)
      ctx.report("DIRENT_LINK_DIR", { ...whereOf(scan, bytes, at, len), num: inum });
    else ctx.setParent(inum, dir);
  }

  if (scan.names.add(bytes, at, len)) {
    ctx.report("DIRENT_DUPLICATE", whereOf(scan, bytes, at, len));
    ctx.dupNameDirs.add(dir);
  }

  if (dir === ROOT_INO && len === LOST_FOUND.length) {
    let same = true;
    for (let i = 0; i < len; i++) if (bytes[at + i] !== LOST_FOUND[i]) same = false;
    if (same) ctx.lostFound = inum;
  }
  ctx.addRef(inum);
  ctx.istate[inum] = st | IS.REACHED;
}

/**
 * e2fsck_process_bad_inode: reports what pass 1 found wrong with an inode
 * once a directory entry leads to it (so the message can name the entry).
 */
export function processBadInode(
  ctx: CheckContext,
  ino: number,
  where: { ino: number; entry: string; str: string },
): void {
  const raw = ctx.readInode(ino);
  if (raw === null) return;
  const inode = decodeInode(ino, raw);
  const c = { ino, str: where.entry === "" ? `<${ino}>` : where.entry };
  const acl = fileAclBlock(ctx, inode);
  if (acl !== 0 && !ctx.compat(F.COMPAT_EXT_ATTR))
    ctx.report("XATTR_BLOCK_INVALID_REF", { ...c, blk: acl });
  const mode = typeOf(inode.mode);
  if (!validType(inode.mode)) ctx.report("INODE_BAD_MODE", { ...c, num: inode.mode });
  else if (
    (mode === S_IFCHR || mode === S_IFBLK || mode === S_IFIFO || mode === S_IFSOCK) &&
    !deviceInodeOk(inode)
  ) {
    ctx.report("INODE_BAD_DEVICE", c);
  } else if (mode === S_IFLNK) {
    const sys =
      (inode.flags & FL.INLINE_DATA) !== 0
        ? findSystemData(checkIbodyXattrs(ctx, inode, false))
        : null;
    if (
      !symlinkOk(ctx, inode, (inode.flags & FL.INLINE_DATA) !== 0 ? inlineBytes(inode, sys) : null)
    ) {
      ctx.report("SYMLINK_INVALID", c);
    }
  }
  if (inode.faddr !== 0) ctx.report("INODE_FADDR", { ...c, num: inode.faddr });
  if (!ctx.roCompat(F.RO_HUGE_FILE) && inode.blocksHi !== 0)
    ctx.report("INODE_BLOCKS_HIGH", { ...c, num: inode.blocksHi });
  if (!ctx.incompat(F.INCOMPAT_64BIT) && inode.fileAclHigh !== 0)
    ctx.report("INODE_FILE_ACL_HIGH", { ...c, num: inode.fileAclHigh });
  if (acl !== 0 && (acl < ctx.g.firstDataBlock || acl >= ctx.g.blocksCount))
    ctx.report("XATTR_BLOCK_INVALID_REF", { ...c, blk: acl });
  if (inode.sizeHigh !== 0 && !ctx.incompat(F.INCOMPAT_LARGEDIR) && mode === S_IFDIR) {
    ctx.report("INODE_DIR_SIZE_HIGH", { ...c, num: inode.sizeHigh });
  }
}

/** parse_int_node: an htree root or interior node's entries. */
function parseIntNode(
  ctx: CheckContext,
  d: DxDir,
  lblk: number,
  v: ByteView,
  failedCsum: boolean,
): void {
  const bs = ctx.g.blockSize;
  let entOff: number;
  if (lblk === 0) {
    const infoLength = v.u8(24 + 5);
    entOff = 24 + infoLength;
    if (failedCsum) ctx.report("HTREE_ROOT_CSUM", { ino: d.ino });
  } else {
    entOff = 8;
    if (failedCsum) ctx.report("HTREE_NODE_CSUM", { ino: d.ino, lblk });
  }
  if (entOff + 8 > bs) {
    ctx.report("HTREE_BAD_LIMIT", { ino: d.ino, lblk, num: 0 });
    return;
  }
  const cl = v.sub(entOff, 8);
  const limit = DX_COUNTLIMIT.get(cl, "limit");
  let count = DX_COUNTLIMIT.get(cl, "count");
  const expect = Math.floor((bs - ((ctx.csum ? 8 : 0) + entOff)) / 8);
  if (limit !== expect) ctx.report("HTREE_BAD_LIMIT", { ino: d.ino, lblk, num: limit });
  if (count > expect) {
    ctx.report("HTREE_BAD_COUNT", { ino: d.ino, lblk, num: count });
    count = expect;
  }
  let minHash = 0xffffffff;
  let maxHash = 0;
  let hash = 0;
  for (let k = 0; k < count; k++) {
    const prev = hash;
    const e = entOff + 8 * k;
    if (e + 8 > bs) break;
    hash = k === 0 ? 0 : (v.u32(e) & ~1) >>> 0;
    const blk = v.u32(e + 4) & 0x0fffffff;
    if (blk >= d.numBlocks) {
      ctx.report("HTREE_BAD_BLOCK", { ino: d.ino, lblk: blk });
      continue;
    }
    if (hash < prev) ctx.report("HTREE_HASH_ORDER", { ino: d.ino, lblk });
    const b = d.blocks[blk]!;
    if ((b.flags & FLAG_REFERENCED) !== 0) b.flags |= FLAG_DUP_REF;
    else {
      b.flags |= FLAG_REFERENCED;
      b.parent = lblk;
    }
    if (hash < minHash) minHash = hash;
    if (hash > maxHash) maxHash = hash;
    b.nodeMinHash = hash;
    if (k + 1 < count && e + 12 <= bs) b.nodeMaxHash = (v.u32(e + 8) & ~1) >>> 0;
    else {
      b.nodeMaxHash = 0xfffffffe;
      b.flags |= FLAG_LAST;
    }
    if (k === 0) b.flags |= FLAG_FIRST;
  }
  const self = d.blocks[lblk]!;
  self.minHash = minHash;
  self.maxHash = maxHash;
}

/** The per-directory htree verdict at the end of pass 2. */
function verifyHtree(ctx: CheckContext, d: DxDir): void {
  const root = d.blocks[0];
  if (root === undefined) return;
  root.flags |= FLAG_REFERENCED;
  let bad = 0;
  for (let b = 0; b < d.numBlocks; b++) {
    const x = d.blocks[b]!;
    if ((x.flags & FLAG_FIRST) === 0 && x.minHash < x.nodeMinHash) {
      ctx.report("HTREE_MIN_HASH", { ino: d.ino, lblk: b });
      bad++;
    }
    if (x.type === LEAF) {
      let depth = 0;
      let cur = b;
      for (let hops = 0; cur !== 0 && hops < 8; hops++) {
        cur = d.blocks[cur]!.parent;
        depth++;
      }
      if (depth !== d.depth) {
        ctx.report("HTREE_BAD_DEPTH", { ino: d.ino, lblk: b, num: d.depth });
        bad++;
      }
    }
    if (b !== 0 && x.maxHash > x.nodeMaxHash) {
      ctx.report("HTREE_MAX_HASH", { ino: d.ino, lblk: b });
      bad++;
    }
    if ((x.flags & FLAG_REFERENCED) === 0) {
      ctx.report("HTREE_NOT_REFERENCED", { ino: d.ino, lblk: b });
      bad++;
    } else if ((x.flags & FLAG_DUP_REF) !== 0) {
      ctx.report("HTREE_DUP_REF", { ino: d.ino, lblk: b });
      bad++;
    }
  }
  if (bad > 0) ctx.report("HTREE_INVALID", { ino: d.ino, str: `<${d.ino}>` });
}
