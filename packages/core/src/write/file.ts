/**
 * File contents: writes (allocating holes near the previous block,
 * converting unwritten extents, zero-filling partial new blocks), truncate
 * (grow and shrink, the partial last block zeroed, everything past EOF
 * freed as ext4_truncate does), fallocate (preallocation as unwritten
 * extents, punch hole, zero range), SEEK_DATA / SEEK_HOLE, and copies
 * within the filesystem — on extent trees, legacy indirect maps and inline
 * data, with the kernel's size limits.
 */
import { Ext4Error, type Ext4ErrorContext, fsError, io } from "../errors.js";
import { InodeFlags } from "../format/inode.js";
import type { Superblock } from "../format/superblock.js";
import type { Inode } from "../inode.js";
import { maxExtentLen } from "../map/extent-write.js";
import type { BlockRun } from "../map/types.js";
import { type FileMap, fileMap } from "./blockmap.js";
import type { SpacePolicy, WorkInode, WriteEngine } from "./engine.js";
import {
  clearInline,
  inlineCapacity,
  inlineContent,
  makeInline,
  setInlineContent,
} from "./inline.js";

/** fallocate(2) mode bits (include/uapi/linux/falloc.h). */
export const FALLOC = {
  KEEP_SIZE: 0x01,
  PUNCH_HOLE: 0x02,
  NO_HIDE_STALE: 0x04,
  COLLAPSE_RANGE: 0x08,
  ZERO_RANGE: 0x10,
  INSERT_RANGE: 0x20,
  UNSHARE_RANGE: 0x40,
} as const;

/** The page size the kernel rounds punch-hole ranges past EOF to. */
const PAGE_SIZE = 4096;

/**
 * The largest file size (s_maxbytes / s_bitmap_maxbytes): ext4_max_size for
 * extent files (2^32 - 1 blocks, or what 2^32 sectors of i_blocks allow
 * without huge_file), ext4_max_bitmap_size for indirect maps (what 12
 * direct, single, double and triple indirect pointers address, limited by
 * i_blocks counting the indirect blocks too).
 */
export function maxFileBytes(sb: Superblock, extents: boolean): number {
  const bits = sb.logBlockSize + 10;
  const huge = sb.features.has("huge_file");
  const cap = Number.MAX_SAFE_INTEGER;
  if (extents) {
    let upper = cap;
    if (!huge) upper = Math.floor((2 ** 32 - 1) / 2 ** (bits - 9)) * 2 ** bits;
    return Math.min((2 ** 32 - 1) * 2 ** bits, upper, cap);
  }
  const ppb = 2 ** (bits - 2);
  let upper = huge ? 2 ** 48 - 1 : Math.floor((2 ** 32 - 1) / 2 ** (bits - 9));
  let res = 12 + ppb + ppb * ppb + ppb * ppb * ppb;
  let meta = 1 + (1 + ppb) + (1 + ppb + ppb * ppb);
  if (res + meta > upper) {
    res = upper;
    upper -= 12;
    meta = 1;
    upper -= ppb;
    if (upper < ppb * ppb) {
      meta += 1 + Math.ceil(upper / ppb);
    } else {
      meta += 1 + ppb;
      upper -= ppb * ppb;
      meta += 1 + Math.ceil(upper / ppb) + Math.ceil(upper / (ppb * ppb));
    }
    res -= meta;
  }
  return Math.min(res * 2 ** bits, cap);
}

/** The size limit of `w`: extent files and inline files (which become extent files) get s_maxbytes. */
export function inodeMaxBytes(e: WriteEngine, w: WorkInode): number {
  const extents = w.usesExtents() || (w.hasInline() && e.geo.features.has("extent"));
  return maxFileBytes(e.geo, extents);
}

function ctxOf(w: WorkInode): Ext4ErrorContext {
  return { inode: w.ino };
}

/** Refuses content changes the kernel refuses: directories, non-regular files, immutable inodes. */
function checkRegular(w: WorkInode): void {
  if (w.isDir()) throw fsError("IsADirectory", "IS_A_DIRECTORY", "is a directory", ctxOf(w));
  if (!w.isReg()) throw fsError("InvalidArgument", "NOT_REGULAR", "not a regular file", ctxOf(w));
  if ((w.f.flags & InodeFlags.IMMUTABLE) !== 0) {
    throw fsError("Permission", "IMMUTABLE", "the file is immutable", ctxOf(w));
  }
}

/**
 * Writes bytes of `data` (file offset `offset`) into the physical blocks
 * `physical..` that back logical blocks [lblk, lblk + n): whole blocks in
 * one device write, partial ones through the cache (zero-filled first when
 * `fresh`: a new or unwritten block has no old contents to keep).
 */
function writeRun(
  e: WriteEngine,
  w: WorkInode,
  physical: number,
  lblk: number,
  n: number,
  offset: number,
  data: Uint8Array,
  fresh: boolean,
): void {
  const bs = e.blockSize;
  const end = offset + data.length;
  const a = Math.max(offset, lblk * bs);
  const b = Math.min(end, (lblk + n) * bs);
  if (a >= b) return;
  const ctx = ctxOf(w);
  e.alloc.checkFileBlocks(physical, n, ctx);
  let batchStart = -1;
  let batchCount = 0;
  let batchSrc = 0;
  const flush = (): void => {
    if (batchCount === 0) return;
    const first = batchStart;
    const src = data.subarray(batchSrc, batchSrc + batchCount * bs);
    io(() => e.cache.writeRange(first, batchCount, src), { ...ctx, block: first });
    batchCount = 0;
  };
  for (let k = Math.floor(a / bs); k * bs < b; k++) {
    const p = physical + (k - lblk);
    const s = Math.max(a, k * bs);
    const t = Math.min(b, (k + 1) * bs);
    if (t - s === bs) {
      if (batchCount === 0) {
        batchStart = p;
        batchSrc = s - offset;
      }
      batchCount++;
      continue;
    }
    flush();
    const buf = io(() => (fresh ? e.cache.zero(p) : e.cache.get(p)), { ...ctx, block: p });
    buf.set(data.subarray(s - offset, t - offset), s - k * bs);
    e.dirtyData(p);
  }
  flush();
}

/** Zeroes bytes [from, to) of the file if they lie in one written block (partial-block zeroing). */
function zeroInBlock(e: WriteEngine, w: WorkInode, map: FileMap, from: number, to: number): void {
  if (from >= to) return;
  const bs = e.blockSize;
  const lblk = Math.floor(from / bs);
  const [run] = map.map(lblk, 1);
  if (run === undefined || run.kind === "hole" || run.unwritten) return;
  e.alloc.checkFileBlocks(run.physical, 1, ctxOf(w));
  const buf = io(() => e.cache.get(run.physical), { inode: w.ino, block: run.physical });
  buf.fill(0, from - lblk * bs, to - lblk * bs);
  e.dirtyData(run.physical);
}

/**
 * Maps every hole of [lblk, lblk + n) to new blocks (written or
 * unwritten), each piece allocated near the block before it. `onMapped` is
 * called for each new piece (to fill it). Stops at the first NoSpace and
 * rethrows it, after `onMapped` saw everything mapped so far.
 */
function fillHoles(
  e: WriteEngine,
  w: WorkInode,
  map: FileMap,
  runs: readonly BlockRun[],
  unwritten: boolean,
  policy: SpacePolicy,
  onMapped: (physical: number, lblk: number, n: number) => void,
): void {
  const per = e.blockSize / 512;
  for (const run of runs) {
    if (run.kind !== "hole") continue;
    let l = run.logical;
    let left = run.length;
    while (left > 0) {
      const goal = map.goalFor(l) ?? e.alloc.inodeGoal(w.ino, w.isReg());
      let want = map.extents ? Math.min(left, maxExtentLen(unwritten)) : left;
      let r: { start: number; count: number };
      for (;;) {
        r = e.alloc.allocBlocks(goal, want, policy);
        try {
          map.insert(l, r.start, r.count, unwritten);
          break;
        } catch (err) {
          e.alloc.freeBlocks(r.start, r.count, ctxOf(w));
          // Near a full filesystem the map's own blocks may not fit beside
          // the data: ask for less data and try again.
          if (!(err instanceof Ext4Error && err.kind === "NoSpace") || r.count === 1) throw err;
          want = Math.floor(r.count / 2);
        }
      }
      w.blocks512 += r.count * per;
      onMapped(r.start, l, r.count);
      l += r.count;
      left -= r.count;
    }
  }
}

/** Zeroes the tail of the old last block past the old EOF when a file grows past it. */
function zeroOldTail(
  e: WriteEngine,
  w: WorkInode,
  map: FileMap,
  oldSize: number,
  newStart: number,
): void {
  const bs = e.blockSize;
  if (oldSize % bs === 0 || newStart <= oldSize) return;
  zeroInBlock(e, w, map, oldSize, Math.min(newStart, (Math.floor(oldSize / bs) + 1) * bs));
}

/** What {@link writeFile} did. */
export interface WriteResult {
  /** Bytes written (less than asked only when the filesystem filled up or the size limit was met). */
  readonly written: number;
  /** The inode after the write. */
  readonly inode: Inode;
}

/**
 * Writes `data` at byte `offset` of regular file `ino` (pwrite): holes and
 * the range past EOF get new blocks, unwritten extents become written, the
 * size grows, mtime and ctime change. An inline file stays inline while it
 * fits and moves to a block when it does not; a file created in this
 * session with inline_data becomes inline on a first write that fits. When
 * the filesystem fills up midway, the bytes before the failing block stay
 * written and their count is returned (a short write); nothing written
 * returns NoSpace. Throws IsADirectory, InvalidArgument (not a regular
 * file), Permission (immutable; append-only unless writing at EOF),
 * FileTooBig (at or past the size limit), NoSpace, Corrupt, Io.
 */
export function writeFile(
  e: WriteEngine,
  ino: number,
  offset: number,
  data: Uint8Array,
  policy: SpacePolicy,
): WriteResult {
  const w = e.load(ino);
  checkRegular(w);
  if (!(Number.isSafeInteger(offset) && offset >= 0)) {
    throw fsError("InvalidArgument", "BAD_OFFSET", `bad offset ${offset}`, ctxOf(w));
  }
  if ((w.f.flags & InodeFlags.APPEND) !== 0 && offset !== w.f.size) {
    throw fsError("Permission", "APPEND_ONLY", "append-only file written before its end", ctxOf(w));
  }
  if (data.length === 0) return { written: 0, inode: e.inodeOf(w) };
  const max = inodeMaxBytes(e, w);
  if (offset >= max) {
    throw fsError(
      "FileTooBig",
      "FILE_TOO_BIG",
      `offset ${offset} at or past the ${max}-byte limit`,
      ctxOf(w),
    );
  }
  const src = data.subarray(0, Math.min(data.length, max - offset));
  const end = offset + src.length;
  const oldSize = w.f.size;

  // Inline data: a new file becomes inline on a first write that fits (EXT4_STATE_MAY_INLINE_DATA).
  if (
    !w.hasInline() &&
    e.mayInline.has(ino) &&
    oldSize === 0 &&
    w.blocks512 === (w.f.fileAcl !== 0 ? e.blockSize / 512 : 0) &&
    e.geo.features.has("inline_data") &&
    end <= inlineCapacity(e, w)
  ) {
    makeInline(e, w);
  }
  if (w.hasInline()) {
    const content = inlineContent(e, w) ?? new Uint8Array(0);
    if (end <= inlineCapacity(e, w)) {
      const next = new Uint8Array(Math.max(oldSize, end));
      next.set(content.subarray(0, Math.min(oldSize, next.length)));
      next.set(src, offset);
      setInlineContent(e, w, next);
      w.f.size = next.length;
      const now = e.now();
      w.f.mtime = now;
      w.f.ctime = now;
      return { written: src.length, inode: e.store(w) };
    }
    moveOutOfInode(e, w, policy);
  }
  e.mayInline.delete(ino);

  let written = 0;
  let failure: unknown = null;
  try {
    written = writeThroughMap(e, w, offset, src, policy);
  } catch (err) {
    if (!(err instanceof Ext4Error && err.kind === "NoSpace")) {
      e.store(w);
      throw err;
    }
    failure = err;
  }
  if (written > 0) {
    w.f.size = Math.max(oldSize, offset + written);
    const now = e.now();
    w.f.mtime = now;
    w.f.ctime = now;
  }
  const inode = e.store(w);
  if (written === 0 && failure !== null) throw failure;
  return { written, inode };
}

/**
 * Writes `src` at byte `offset` of `w` through its block map: holes get
 * new blocks near the block before them, unwritten extents become written,
 * the tail of the old last block past the old EOF is zeroed. Changes
 * neither i_size nor the times. Returns the bytes written: fewer than
 * asked when the filesystem filled up after some blocks were mapped (a
 * NoSpace before anything was written is thrown). Throws NoSpace, Corrupt,
 * Io.
 */
export function writeThroughMap(
  e: WriteEngine,
  w: WorkInode,
  offset: number,
  src: Uint8Array,
  policy: SpacePolicy,
): number {
  const map = fileMap(e, w, policy);
  zeroOldTail(e, w, map, w.f.size, offset);
  const bs = e.blockSize;
  const end = offset + src.length;
  const first = Math.floor(offset / bs);
  const last = Math.ceil(end / bs);
  let doneUntil = offset;
  try {
    for (const run of map.map(first, last - first)) {
      if (run.kind === "hole") {
        fillHoles(e, w, map, [run], false, policy, (p, l, n) => {
          writeRun(e, w, p, l, n, offset, src, true);
          doneUntil = Math.min(end, (l + n) * bs);
        });
      } else if (run.unwritten) {
        map.convert(run.logical, run.logical + run.length, false);
        writeRun(e, w, run.physical, run.logical, run.length, offset, src, true);
      } else {
        writeRun(e, w, run.physical, run.logical, run.length, offset, src, false);
      }
      doneUntil = Math.min(end, (run.logical + run.length) * bs);
    }
  } catch (err) {
    if (err instanceof Ext4Error && err.kind === "NoSpace" && doneUntil > offset) {
      return doneUntil - offset;
    }
    throw err;
  }
  return doneUntil - offset;
}

/** Writes all of `data` at `offset` of `w` through its map, or throws NoSpace (symlink blocks). */
export function fillNewBlocks(
  e: WriteEngine,
  w: WorkInode,
  offset: number,
  data: Uint8Array,
  policy: SpacePolicy,
): void {
  const n = writeThroughMap(e, w, offset, data, policy);
  if (n < data.length) throw fsError("NoSpace", "NO_FREE_BLOCKS", "no free blocks left", ctxOf(w));
}

/**
 * Moves an inline file to a block (or to nothing, when empty), keeping its
 * size: ext4_convert_inline_data. Throws NoSpace with nothing changed.
 */
export function moveOutOfInode(e: WriteEngine, w: WorkInode, policy: SpacePolicy): void {
  const size = w.f.size;
  const saved = {
    flags: w.f.flags,
    iBlock: w.f.iBlock.slice(),
    raw: w.raw.slice(),
    blocks: w.blocks512,
  };
  const content = clearInline(e, w).slice(0, size);
  e.mayInline.delete(w.ino);
  try {
    if (size > 0) {
      const map = fileMap(e, w, policy);
      const padded = new Uint8Array(Math.ceil(size / e.blockSize) * e.blockSize);
      padded.set(content);
      fillHoles(e, w, map, map.map(0, padded.length / e.blockSize), false, policy, (p, l, n) => {
        writeRun(e, w, p, l, n, 0, padded, true);
      });
    }
  } catch (err) {
    w.f.flags = saved.flags;
    w.f.iBlock = saved.iBlock;
    w.raw.set(saved.raw);
    w.blocks512 = saved.blocks;
    w.f.size = size;
    throw err;
  }
  w.f.size = size;
}

/**
 * Sets the size of `w` (not stored: the caller stores it). Shrinking (or
 * keeping the size) frees every block past the new EOF, preallocated ones
 * included, and zeroes the rest of the new last block; growing zeroes the
 * old last block's tail and allocates nothing. Inline files stay inline
 * while the size fits the inode. Throws FileTooBig, NoSpace (moving inline
 * data out), Corrupt, Io.
 */
export function setSize(e: WriteEngine, w: WorkInode, size: number, policy: SpacePolicy): void {
  if (!(Number.isSafeInteger(size) && size >= 0)) {
    throw fsError("InvalidArgument", "BAD_SIZE", `bad size ${size}`, ctxOf(w));
  }
  if (size > inodeMaxBytes(e, w)) {
    throw fsError("FileTooBig", "FILE_TOO_BIG", `size ${size} past the limit`, ctxOf(w));
  }
  const old = w.f.size;
  if (w.hasInline()) {
    if (size <= inlineCapacity(e, w)) {
      const content = inlineContent(e, w) ?? new Uint8Array(0);
      const next = new Uint8Array(size);
      next.set(content.subarray(0, Math.min(old, size)));
      setInlineContent(e, w, next);
      w.f.size = size;
      return;
    }
    moveOutOfInode(e, w, policy);
  }
  const map = fileMap(e, w, policy);
  const bs = e.blockSize;
  if (size <= old) {
    map.remove(Math.ceil(size / bs), map.maxBlocks);
    if (size % bs !== 0) zeroInBlock(e, w, map, size, (Math.floor(size / bs) + 1) * bs);
  } else {
    zeroOldTail(e, w, map, old, size);
  }
  w.f.size = size;
}

/**
 * fallocate(2) on regular file `ino`: mode 0 or KEEP_SIZE preallocates the
 * range as unwritten extents (i_size grows without KEEP_SIZE); PUNCH_HOLE
 * (with KEEP_SIZE) zeroes the partial blocks at the ends and frees the
 * whole blocks between (the range past EOF limited to the page holding EOF,
 * as the kernel does); ZERO_RANGE makes the range read as zeros, whole
 * blocks becoming unwritten and holes preallocated. Preallocation and zero
 * range need an extent file (EOPNOTSUPP otherwise, as the kernel answers);
 * inline files are moved to a block first. ctime always changes, mtime
 * when the size or contents do. Throws InvalidArgument (bad range),
 * NotSupported (COLLAPSE/INSERT/UNSHARE/NO_HIDE_STALE, PUNCH without
 * KEEP_SIZE, PUNCH with ZERO, non-extent files), IsADirectory, Permission
 * (immutable; append-only for anything but preallocation), FileTooBig,
 * NoSpace, Corrupt, Io.
 */
export function fallocate(
  e: WriteEngine,
  ino: number,
  mode: number,
  offset: number,
  length: number,
  policy: SpacePolicy,
): Inode {
  const w = e.load(ino);
  const ctx = ctxOf(w);
  if (
    !(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length > 0)
  ) {
    throw fsError("InvalidArgument", "BAD_RANGE", `bad range ${offset}+${length}`, ctx);
  }
  const known = FALLOC.KEEP_SIZE | FALLOC.PUNCH_HOLE | FALLOC.ZERO_RANGE;
  if ((mode & ~known) !== 0) {
    throw fsError("NotSupported", "FALLOC_MODE", `fallocate mode 0x${mode.toString(16)}`, ctx);
  }
  const punch = (mode & FALLOC.PUNCH_HOLE) !== 0;
  const zero = (mode & FALLOC.ZERO_RANGE) !== 0;
  const keep = (mode & FALLOC.KEEP_SIZE) !== 0;
  if (punch && (!keep || zero)) {
    throw fsError(
      "NotSupported",
      "FALLOC_MODE",
      "PUNCH_HOLE needs KEEP_SIZE and excludes ZERO_RANGE",
      ctx,
    );
  }
  checkRegular(w);
  if ((w.f.flags & InodeFlags.APPEND) !== 0 && (mode & ~FALLOC.KEEP_SIZE) !== 0) {
    throw fsError("Permission", "APPEND_ONLY", "append-only file", ctx);
  }
  if (offset + length > inodeMaxBytes(e, w)) {
    throw fsError("FileTooBig", "FILE_TOO_BIG", `range end ${offset + length} past the limit`, ctx);
  }
  if (w.hasInline()) moveOutOfInode(e, w, policy);
  e.mayInline.delete(ino);
  const map = fileMap(e, w, policy);
  const bs = e.blockSize;
  const now = e.now();
  if (punch) {
    const size = w.f.size;
    if (offset >= size) return e.store(w);
    let len = length;
    if (offset + len > size) len = size + PAGE_SIZE - (size % PAGE_SIZE) - offset;
    const end = offset + len;
    const firstFull = Math.ceil(offset / bs);
    const lastFull = Math.floor(end / bs);
    if (firstFull > lastFull) {
      zeroInBlock(e, w, map, offset, end);
    } else {
      zeroInBlock(e, w, map, offset, firstFull * bs);
      zeroInBlock(e, w, map, lastFull * bs, end);
      if (firstFull < lastFull) map.remove(firstFull, lastFull);
    }
    w.f.mtime = now;
    w.f.ctime = now;
    return e.store(w);
  }
  if (!map.extents) {
    throw fsError(
      "NotSupported",
      "FALLOC_NO_EXTENTS",
      "preallocation needs an extent-mapped file",
      ctx,
    );
  }
  const end = offset + length;
  const first = Math.floor(offset / bs);
  const last = Math.ceil(end / bs);
  let failure: unknown = null;
  try {
    fillHoles(e, w, map, map.map(first, last - first), true, policy, () => {});
    if (zero) {
      const firstFull = Math.ceil(offset / bs);
      const lastFull = Math.floor(end / bs);
      if (firstFull < lastFull) map.convert(firstFull, lastFull, true);
      if (firstFull > lastFull) zeroInBlock(e, w, map, offset, end);
      else {
        zeroInBlock(e, w, map, offset, firstFull * bs);
        zeroInBlock(e, w, map, lastFull * bs, end);
      }
    }
  } catch (err) {
    failure = err;
  }
  w.f.ctime = now;
  if (zero) w.f.mtime = now;
  if (!keep && failure === null && end > w.f.size) {
    w.f.size = end;
    w.f.mtime = now;
  }
  const inode = e.store(w);
  if (failure !== null) throw failure;
  return inode;
}

/**
 * lseek(SEEK_DATA / SEEK_HOLE) on `inode`: the first offset at or after
 * `offset` holding data (written blocks; unwritten extents count as holes,
 * as the kernel's iomap walk treats them without cached pages), or the
 * first hole (EOF is one). Throws NoSuchAddress (ENXIO) at or past EOF or
 * when no data follows; Corrupt.
 */
export function seekDataHole(
  mapBlocks: (lblk: number, n: number) => BlockRun[],
  inode: Inode,
  offset: number,
  what: "data" | "hole",
  blockSize: number,
): number {
  const size = inode.size;
  if (!(Number.isSafeInteger(offset) && offset >= 0) || offset >= size) {
    throw fsError("NoSuchAddress", "SEEK_PAST_EOF", `offset ${offset} at or past EOF`, {
      inode: inode.ino,
    });
  }
  if (inode.hasInlineData() || !(inode.isRegular() || inode.isDirectory() || inode.isSymlink())) {
    return what === "data" ? offset : size;
  }
  const first = Math.floor(offset / blockSize);
  const last = Math.ceil(size / blockSize);
  // Walk in bounded windows so a huge sparse file does not need one huge map.
  const window = 1 << 20;
  for (let l = first; l < last; l += window) {
    const n = Math.min(window, last - l);
    for (const run of mapBlocks(l, n)) {
      const isData = run.kind === "mapped" && !run.unwritten;
      if ((what === "data") === isData) {
        return Math.min(size, Math.max(offset, run.logical * blockSize));
      }
    }
  }
  if (what === "hole") return size;
  throw fsError("NoSuchAddress", "SEEK_NO_DATA", "no data after the offset", { inode: inode.ino });
}

/**
 * Frees every block of `w` (data, map blocks) and empties its map, for
 * deletion. Inline content is dropped by the caller with the inode.
 */
export function freeAllBlocks(e: WriteEngine, w: WorkInode): void {
  if (w.hasInline() || !(w.isReg() || w.isDir() || (w.isLink() && !isFastSymlinkWork(e, w))))
    return;
  const map = fileMap(e, w, { reserved: true, nofail: true });
  map.remove(0, map.maxBlocks);
}

/** ext4_inode_is_fast_symlink on a work inode: no blocks but an xattr block. */
export function isFastSymlinkWork(e: WriteEngine, w: WorkInode): boolean {
  if (!w.isLink() || w.hasInline()) return false;
  const ea = w.f.fileAcl !== 0 ? e.blockSize / 512 : 0;
  return w.blocks512 - ea === 0;
}

/** Largest chunk a copy moves at once (bounded memory). */
const COPY_CHUNK = 1 << 20;

/**
 * copy_file_range(2) within the filesystem: `len` bytes (clipped to the
 * source's EOF) from `src` at `srcOff` to `dst` at `dstOff`, in 1 MiB
 * chunks; all-zero chunks landing on holes of the destination are skipped
 * (the destination keeps its holes), and the size grows to the end of the
 * copy. Returns the bytes copied. Throws InvalidArgument (overlapping
 * ranges of one file, non-regular files), IsADirectory, Permission
 * (immutable or append-only destination), FileTooBig, NoSpace, Corrupt,
 * Io.
 */
export function copyRange(
  e: WriteEngine,
  read: (inode: Inode, offset: number, length: number) => Uint8Array,
  src: number,
  srcOff: number,
  dst: number,
  dstOff: number,
  len: number,
  policy: SpacePolicy,
): number {
  const s = e.host.readInode(src);
  const dw = e.load(dst);
  if (
    !(
      Number.isSafeInteger(srcOff) &&
      Number.isSafeInteger(dstOff) &&
      Number.isSafeInteger(len) &&
      srcOff >= 0 &&
      dstOff >= 0 &&
      len >= 0
    )
  ) {
    throw fsError("InvalidArgument", "BAD_RANGE", "bad copy range");
  }
  if (s.isDirectory())
    throw fsError("IsADirectory", "IS_A_DIRECTORY", "is a directory", { inode: src });
  if (!s.isRegular())
    throw fsError("InvalidArgument", "NOT_REGULAR", "not a regular file", { inode: src });
  checkRegular(dw);
  if ((dw.f.flags & InodeFlags.APPEND) !== 0) {
    throw fsError("Permission", "APPEND_ONLY", "append-only destination", ctxOf(dw));
  }
  const n = Math.max(0, Math.min(len, s.size - srcOff));
  if (n === 0) return 0;
  if (src === dst && srcOff < dstOff + n && dstOff < srcOff + n) {
    throw fsError("InvalidArgument", "COPY_OVERLAP", "overlapping ranges in one file", {
      inode: src,
    });
  }
  if (dstOff + n > inodeMaxBytes(e, dw)) {
    throw fsError("FileTooBig", "FILE_TOO_BIG", "copy past the size limit", ctxOf(dw));
  }
  const bs = e.blockSize;
  // Writes [at, at + len) of the destination from `data`; false when space ran out.
  const put = (at: number, data: Uint8Array): boolean =>
    writeFile(e, dst, at, data, policy).written === data.length;
  // Zeros need writing only where the destination holds data: its holes stay holes.
  const zero = (at: number, len: number): boolean => {
    const cur = e.host.readInode(dst);
    if (cur.hasInlineData()) return put(at, new Uint8Array(len));
    const first = Math.floor(at / bs);
    const last = Math.ceil((at + len) / bs);
    for (let l = first; l < last; l += COPY_CHUNK / bs) {
      for (const run of e.host.mapBlocks(
        e.host.readInode(dst),
        l,
        Math.min(COPY_CHUNK / bs, last - l),
      )) {
        if (run.kind === "hole" || run.unwritten) continue;
        const a = Math.max(at, run.logical * bs);
        const b = Math.min(at + len, (run.logical + run.length) * bs);
        if (a < b && !put(a, new Uint8Array(b - a))) return false;
      }
    }
    return true;
  };
  const srcInode = e.host.readInode(src);
  const pieces: Array<{ a: number; b: number; data: boolean }> = [];
  if (srcInode.hasInlineData()) pieces.push({ a: srcOff, b: srcOff + n, data: true });
  else {
    const first = Math.floor(srcOff / bs);
    const last = Math.ceil((srcOff + n) / bs);
    for (const run of e.host.mapBlocks(srcInode, first, last - first)) {
      const a = Math.max(srcOff, run.logical * bs);
      const b = Math.min(srcOff + n, (run.logical + run.length) * bs);
      if (a < b) pieces.push({ a, b, data: run.kind === "mapped" && !run.unwritten });
    }
  }
  for (const p of pieces) {
    for (let a = p.a; a < p.b; a += COPY_CHUNK) {
      const len = Math.min(COPY_CHUNK, p.b - a);
      const at = dstOff + (a - srcOff);
      const ok = p.data ? put(at, read(e.host.readInode(src), a, len)) : zero(at, len);
      if (!ok) {
        // Out of space: what was copied before this piece stays, as a short copy.
        return a - srcOff;
      }
    }
  }
  const w = e.load(dst);
  if (dstOff + n > w.f.size) setSize(e, w, dstOff + n, policy);
  const now = e.now();
  w.f.mtime = now;
  w.f.ctime = now;
  e.store(w);
  return n;
}
