/**
 * Decoding one raw inode record for the checker, and the per-inode tests
 * that more than one pass needs (e2fsck's check_device_inode,
 * check_symlink, the inode checksum and the xattr entry hash).
 */
import {
  type ByteView,
  crc32cRaw,
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
import { EXTENT_HEADER, I_BLOCK, INODE } from "./layout.js";

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
  raw: Uint8Array;
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
  block: number[];
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
 * Decodes the fields of a raw inode record of at least 128 bytes. `view`
 * and `base` let a caller decode straight out of a larger buffer (an inode
 * table chunk) without building a view per inode. Throws Corrupt (from the
 * view) only if the record is shorter than 128 bytes.
 */
export function decodeInode(ino: number, raw: Uint8Array, view?: ByteView, base = 0): RawInode {
  const v = view ?? viewOf(raw, { inode: ino });
  const block: number[] = [];
  for (let k = 0; k < 15; k++) block.push(v.u32(base + I_BLOCK + 4 * k));
  const sizeHigh = v.u32(base + O.sizeHigh);
  return {
    ino,
    raw,
    mode: v.u16(base + O.mode),
    linksCount: v.u16(base + O.links),
    dtime: v.u32(base + O.dtime),
    flags: v.u32(base + O.flags),
    // A size past 2^53 cannot be a real file; clamp so arithmetic stays exact.
    size: Math.min(sizeHigh * 2 ** 32 + v.u32(base + O.sizeLo), Number.MAX_SAFE_INTEGER),
    sizeHigh,
    blocks: v.u32(base + O.blocksLo),
    blocksHi: v.u16(base + O.blocksHi),
    fileAcl: v.u32(base + O.fileAclLo),
    fileAclHigh: v.u16(base + O.fileAclHi),
    generation: v.u32(base + O.generation),
    faddr: v.u32(base + O.faddr),
    extraIsize: raw.length > 128 ? v.u16(base + O.extra) : 0,
    block,
    view: v,
    base,
  };
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
export function fileTypeOf(mode: number): number {
  switch (typeOf(mode)) {
    case S_IFREG:
      return 1;
    case S_IFDIR:
      return 2;
    case S_IFCHR:
      return 3;
    case S_IFBLK:
      return 4;
    case S_IFIFO:
      return 5;
    case S_IFSOCK:
      return 6;
    case S_IFLNK:
      return 7;
    default:
      return 0;
  }
}

/** True for the seven valid file types. */
export function validType(mode: number): boolean {
  return fileTypeOf(mode) !== 0;
}

let csumScratch = new Uint8Array(0);
let csumView = viewOf(csumScratch);

/**
 * The inode checksum test (ext4_inode_csum_verify), computed in one crc32c
 * call over [le32 ino, le32 generation, inode with both checksum halves
 * zeroed] (crc chaining makes that equal to the kernel's seed-then-body
 * computation; a test holds it to the core's inodeChecksumValid). An inode
 * whose base 128 bytes are all zero passes, as in libext2fs.
 */
export function inodeCsumOk(ctx: CheckContext, inode: RawInode): boolean {
  const { raw, view: rv, base } = inode;
  const size = raw.length;
  if (csumScratch.length !== size + 8) {
    csumScratch = new Uint8Array(size + 8);
    csumView = viewOf(csumScratch);
  }
  const s = csumScratch;
  const sv = csumView;
  sv.setU32(0, inode.ino);
  sv.setU32(4, inode.generation);
  s.set(raw, 8);
  const stored = rv.u16(base + O.csumLo);
  sv.setU16(8 + O.csumLo, 0);
  const hasHi = size > 128 && inode.extraIsize >= 4;
  let want = stored;
  if (hasHi) {
    want = (stored | (rv.u16(base + O.csumHi) << 16)) >>> 0;
    sv.setU16(8 + O.csumHi, 0);
  }
  const calc = crc32cRaw(ctx.g.csumSeed, s);
  if ((hasHi ? calc : calc & 0xffff) === want) return true;
  for (let k = 0; k < 128; k++) if (raw[k] !== 0) return false;
  return true;
}

/** ext2fs_extent_header_verify on a header of `size` bytes (the inode's 60 or a block). */
export function extentHeaderOk(bytes: Uint8Array, size: number): boolean {
  if (bytes.length < 12) return false;
  const v = viewOf(bytes);
  if (v.u16(EH_MAGIC) !== 0xf30a) return false;
  const entries = v.u16(EH_ENTRIES);
  const max = v.u16(EH_MAX);
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
