/**
 * Decoding one raw inode record for the checker, and the per-inode tests
 * that more than one pass needs (e2fsck's check_device_inode,
 * check_symlink, the inode checksum and the xattr entry hash).
 */
import {
  type ByteView,
  fileTypeOfMode,
  joinLoHi,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  viewOf,
  xattrEntryHash,
} from "@ext4/core";
import { type CheckContext, F } from "./context.js";
import { InodeCsum } from "./csum.js";
import { EXTENT_HEADER, I_BLOCK, INODE } from "./layout.js";
import type { ReaderGeometry } from "./reader-thread.js";

// The i_mode type bits are the core's S_IF* constants, re-exported for the passes.
export { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK };

/** i_flags bits (EXT4_*_FL). */
export const FL = {
  IMMUTABLE: 0x10,
  APPEND: 0x20,
  INDEX: 0x1000,
  IMAGIC: 0x2000,
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  VERITY: 0x100000,
  EA_INODE: 0x200000,
  INLINE_DATA: 0x10000000,
  CASEFOLD: 0x40000000,
  ENCRYPT: 0x800,
} as const;

/** The fields of an inode the checker reads, decoded once. */
export interface RawInode {
  ino: number;
  /** The record's bytes (inodeSize of them, or 128 at least). */
  readonly raw: Uint8Array;
  /** Bytes in the record (the filesystem's inode size). */
  recordSize: number;
  mode: number;
  linksCount: number;
  dtime: number;
  flags: number;
  size: number;
  sizeHigh: number;
  blocks: number;
  blocksHi: number;
  fileAcl: number;
  fileAclHigh: number;
  generation: number;
  faddr: number;
  extraIsize: number;
  /** The 15 words of i_block. */
  readonly block: readonly number[];
  /** A view holding the record at `base` (saves building one per use). */
  view: ByteView;
  base: number;
}

// Field offsets from the core's inode table, resolved once: decoding runs
// for every inode of the filesystem.
const O = {
  mode: INODE.offsetOf("i_mode"),
  sizeLo: INODE.offsetOf("i_size_lo"),
  dtime: INODE.offsetOf("i_dtime"),
  links: INODE.offsetOf("i_links_count"),
  blocksLo: INODE.offsetOf("i_blocks_lo"),
  flags: INODE.offsetOf("i_flags"),
  generation: INODE.offsetOf("i_generation"),
  fileAclLo: INODE.offsetOf("i_file_acl_lo"),
  sizeHigh: INODE.offsetOf("i_size_high"),
  faddr: INODE.offsetOf("i_obso_faddr"),
  blocksHi: INODE.offsetOf("l_i_blocks_high"),
  fileAclHi: INODE.offsetOf("l_i_file_acl_high"),
  csumLo: INODE.offsetOf("l_i_checksum_lo"),
  extra: INODE.offsetOf("i_extra_isize"),
  csumHi: INODE.offsetOf("i_checksum_hi"),
} as const;

/**
 * One inode record decoded in place: the fields every check needs are read
 * once from the view; `raw` and `block` are made only when asked for. Pass 1
 * reuses a single instance for every inode of the filesystem ({@link load}),
 * so scanning half a million inodes allocates nothing per inode.
 */
export class InodeRecord implements RawInode {
  ino = 0;
  recordSize = 0;
  mode = 0;
  linksCount = 0;
  dtime = 0;
  flags = 0;
  size = 0;
  sizeHigh = 0;
  blocks = 0;
  blocksHi = 0;
  fileAcl = 0;
  fileAclHigh = 0;
  generation = 0;
  faddr = 0;
  extraIsize = 0;
  view: ByteView = EMPTY_VIEW;
  base = 0;
  private rawBytes: Uint8Array | null = null;
  private readonly words: number[] = [];
  private wordsLoaded = false;

  /**
   * Decodes the record of inode `ino` at `base` in `view` (`recordSize`
   * bytes, at least 128). Throws Corrupt (from the view) when the record
   * runs past the view.
   */
  load(ino: number, view: ByteView, base: number, recordSize: number): this {
    if (recordSize < 128) throw new RangeError(`inode record of ${recordSize} bytes`);
    // One bounds check for the whole record; the reads below are inside it.
    if (base < 0 || base + recordSize > view.length) view.slice(base, recordSize);
    const v = view;
    this.ino = ino;
    this.recordSize = recordSize;
    this.view = v;
    this.base = base;
    this.rawBytes = null;
    this.wordsLoaded = false;
    const sizeHigh = v.u32(base + O.sizeHigh);
    this.mode = v.u16(base + O.mode);
    this.linksCount = v.u16(base + O.links);
    this.dtime = v.u32(base + O.dtime);
    this.flags = v.u32(base + O.flags);
    // A size past 2^53 cannot be a real file; clamp so arithmetic stays exact.
    this.size = Math.min(sizeHigh * 2 ** 32 + v.u32(base + O.sizeLo), Number.MAX_SAFE_INTEGER);
    this.sizeHigh = sizeHigh;
    this.blocks = v.u32(base + O.blocksLo);
    this.blocksHi = v.u16(base + O.blocksHi);
    this.fileAcl = v.u32(base + O.fileAclLo);
    this.fileAclHigh = v.u16(base + O.fileAclHi);
    this.generation = v.u32(base + O.generation);
    this.faddr = v.u32(base + O.faddr);
    this.extraIsize = recordSize > 128 ? v.u16(base + O.extra) : 0;
    return this;
  }

  /** The record's bytes (a subarray of the view, made on first use). */
  get raw(): Uint8Array {
    if (this.rawBytes === null) this.rawBytes = this.view.slice(this.base, this.recordSize);
    return this.rawBytes;
  }

  /** The 15 words of i_block (decoded on first use). */
  get block(): readonly number[] {
    if (!this.wordsLoaded) {
      for (let k = 0; k < 15; k++) this.words[k] = this.view.u32(this.base + I_BLOCK + 4 * k);
      this.wordsLoaded = true;
    }
    return this.words;
  }
}

const EMPTY_VIEW = viewOf(new Uint8Array(0));

/**
 * Decodes the fields of a raw inode record of at least 128 bytes. `view`
 * and `base` let a caller decode straight out of a larger buffer (an inode
 * table chunk) without building a view per inode. Throws Corrupt (from the
 * view) only if the record is shorter than 128 bytes.
 */
export function decodeInode(ino: number, raw: Uint8Array, view?: ByteView, base = 0): RawInode {
  if (raw.length < 128) viewOf(raw, { inode: ino }).u8(127);
  return new InodeRecord().load(ino, view ?? viewOf(raw, { inode: ino }), base, raw.length);
}

/** The file type of a mode (i_mode & S_IFMT). */
export const typeOf = (mode: number): number => mode & S_IFMT;

/** The xattr block of an inode (i_file_acl with its high half on 64bit filesystems). */
export function fileAclBlock(ctx: CheckContext, ino: RawInode): number {
  return ctx.incompat(F.INCOMPAT_64BIT) ? joinLoHi(ino.fileAcl, ino.fileAclHigh) : ino.fileAcl;
}

/** i_blocks as e2fsck reads it (ext2fs_inode_i_blocks: the high half only with huge_file). */
export function iBlocks(ctx: CheckContext, ino: RawInode): number {
  return ctx.roCompat(F.RO_HUGE_FILE) ? ino.blocksHi * 2 ** 32 + ino.blocks : ino.blocks;
}

/** ext2_file_type(): the directory entry file type a mode should have. */
export const fileTypeOf: (mode: number) => number = fileTypeOfMode;

/** True for the seven valid file types. */
export function validType(mode: number): boolean {
  return fileTypeOf(mode) !== 0;
}

let csumTables: InodeCsum | null = null;

/** The geometry the reader thread needs to read and verify inode tables and directory blocks. */
export function readerGeometry(ctx: CheckContext): ReaderGeometry {
  return {
    blockSize: ctx.g.blockSize,
    csum: ctx.csum,
    csumSeed: ctx.g.csumSeed,
    inodeSize: ctx.g.inodeSize,
    fields: { lo: O.csumLo, hi: O.csumHi, generation: O.generation, extra: O.extra },
  };
}

/** The checksum tables for records of `size` bytes (built once per size). Throws RangeError below 128 bytes. */
export function inodeCsumFor(size: number): InodeCsum {
  if (csumTables?.recordSize !== size) {
    csumTables = new InodeCsum(size, O.csumLo, O.csumHi, O.generation, O.extra);
  }
  return csumTables;
}

/**
 * The inode checksum test (ext4_inode_csum_verify): crc32c over [le32 ino,
 * le32 generation, the record with both checksum halves taken as zero],
 * computed in place in the record's buffer (a test holds it to the core's
 * inodeChecksumValid). An inode whose base 128 bytes are all zero passes,
 * as in libext2fs. Never throws for a record inside its view.
 */
export function inodeCsumOk(ctx: CheckContext, inode: RawInode): boolean {
  const { view, base, recordSize: size } = inode;
  const tables = inodeCsumFor(size);
  const bytes = view.bytes;
  const at = view.start + base;
  const stored = view.u16(base + O.csumLo);
  const hasHi = size > 128 && inode.extraIsize >= 4;
  let want = stored;
  if (hasHi) want = (stored | (view.u16(base + O.csumHi) << 16)) >>> 0;
  const calc = tables.compute(ctx.g.csumSeed, inode.ino, inode.generation, bytes, at, hasHi);
  if ((hasHi ? calc : calc & 0xffff) === want) return true;
  // OK to assert: the record lies inside the view (it was loaded from it).
  for (let k = 0; k < 128; k++) if (bytes[at + k] !== 0) return false;
  return true;
}

/** ext2fs_extent_header_verify on a header of `size` bytes (the inode's 60 or a block). */
export function extentHeaderOk(bytes: Uint8Array, size: number): boolean {
  if (bytes.length < 12) return false;
  return extentHeaderAt(viewOf(bytes), 0, size);
}

/**
 * {@link extentHeaderOk} on the header at `at` in `v` (no view or copy per
 * call: pass 1 asks this of every inode). False when fewer than 12 bytes
 * are left in the view.
 */
export function extentHeaderAt(v: ByteView, at: number, size: number): boolean {
  if (at < 0 || at + 12 > v.length) return false;
  if (v.u16(at + EH_MAGIC) !== 0xf30a) return false;
  const entries = v.u16(at + EH_ENTRIES);
  const max = v.u16(at + EH_MAX);
  if (entries > max) return false;
  const fit = Math.floor((size - 12) / 12);
  // libext2fs allows up to two slots of slack at the end (room for the tail).
  return max <= fit && max >= fit - 2;
}

const EH_MAGIC = EXTENT_HEADER.offsetOf("eh_magic");
const EH_ENTRIES = EXTENT_HEADER.offsetOf("eh_entries");
const EH_MAX = EXTENT_HEADER.offsetOf("eh_max");

/** e2fsck_pass1_check_device_inode: a device, fifo or socket with sane flags. */
export function deviceInodeOk(ino: RawInode): boolean {
  if ((ino.flags & (FL.INDEX | FL.EXTENTS)) !== 0) return false;
  if ((ino.flags & (FL.IMMUTABLE | FL.APPEND)) !== 0) {
    for (let k = 4; k < 15; k++) if (ino.block[k] !== 0) return false;
  }
  return true;
}

/** ext2fs_is_fast_symlink: a symlink whose target lives in i_block. */
export function isFastSymlink(ino: RawInode): boolean {
  return typeOf(ino.mode) === S_IFLNK && ino.size > 0 && ino.size < 60;
}

function strnlen(bytes: Uint8Array, max: number): number {
  const n = Math.min(max, bytes.length);
  for (let k = 0; k < n; k++) if (bytes[k] === 0) return k;
  return n;
}

/**
 * e2fsck_pass1_check_symlink: the target's length (up to its NUL) equals
 * i_size, it fits its storage, and a block symlink has exactly one valid
 * block. `inlineTarget` gives the inline data of an inline symlink.
 */
export function symlinkOk(
  ctx: CheckContext,
  ino: RawInode,
  inlineTarget: Uint8Array | null,
): boolean {
  if (ino.sizeHigh !== 0 || ino.size === 0 || (ino.flags & FL.INDEX) !== 0) return false;
  if ((ino.flags & FL.INLINE_DATA) !== 0) {
    if (inlineTarget === null) return false;
    const len = strnlen(inlineTarget, inlineTarget.length);
    return len === ino.size;
  }
  let buf: Uint8Array;
  if (isFastSymlink(ino)) {
    if ((ino.flags & FL.EXTENTS) !== 0) return false;
    buf = ino.raw.subarray(I_BLOCK, I_BLOCK + 60);
  } else {
    let blk: number;
    if ((ino.flags & FL.EXTENTS) !== 0) {
      const ib = ino.raw.subarray(I_BLOCK, I_BLOCK + 60);
      if (!extentHeaderOk(ib, 60)) return false;
      const v = viewOf(ib);
      if (EXTENT_HEADER.get(v, "eh_depth") !== 0 || EXTENT_HEADER.get(v, "eh_entries") < 1)
        return false;
      const lblk = v.u32(12);
      const len = v.u16(16);
      blk = joinLoHi(v.u32(20), v.u16(18));
      if (lblk !== 0 || len !== 1) return false;
    } else {
      blk = ino.block[0]!;
      for (let k = 1; k < 15; k++) if (ino.block[k] !== 0) return false;
    }
    if (blk < ctx.g.firstDataBlock || blk >= ctx.g.blocksCount) return false;
    const data = ctx.readBlock(blk);
    if (data === null) return false;
    buf = data;
  }
  const len =
    (ino.flags & FL.ENCRYPT) !== 0 && buf.length >= 2
      ? (buf[0]! | (buf[1]! << 8)) + 2
      : strnlen(buf, buf.length);
  if (len >= buf.length) return false;
  return len === ino.size;
}

/**
 * ext2fs_ext_attr_hash_entry with signed and unsigned name bytes (either is
 * accepted, as e2fsprogs 1.47 does), via the core's xattrEntryHash.
 */
export function xattrEntryHashes(name: Uint8Array, value: Uint8Array | null): [number, number] {
  const v = value ?? new Uint8Array(0);
  return [xattrEntryHash(name, v, true), xattrEntryHash(name, v, false)];
}
