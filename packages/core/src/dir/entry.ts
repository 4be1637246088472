/**
 * Linear directory entries: the on-disk records (ext4_dir_entry_2, the old
 * ext4_dir_entry, the checksum tail, the hash stored after the name in
 * encrypted+casefolded directories), rec_len encoding, the kernel's entry
 * checks (fs/ext4/dir.c `__ext4_check_dir_entry`) and the leaf block
 * checksum (fs/ext4/namei.c `ext4_dirblock_csum`).
 */
import { crc32cRaw } from "../crc.js";
import { badChecksum, corrupt, type Ext4ErrorContext } from "../errors.js";
import { defineStruct, u8, u16, u32 } from "../struct.js";
import { ByteView } from "../view.js";
import { DirFileType } from "./constants.js";

/** struct ext4_dir_entry_2: the header before the name (filetype feature). */
export const dirEntry2Struct = defineStruct("ext4_dir_entry_2", [
  u32("inode", "inode number; 0 marks an unused record"),
  u16("rec_len", "length of this record (encoded, see recLenFromDisk)"),
  u8("name_len", "name length"),
  u8("file_type", "EXT4_FT_* (meaningful only with the filetype feature)"),
]);

/** struct ext4_dir_entry: the original header with a 16-bit name_len (no filetype feature). */
export const dirEntryStruct = defineStruct("ext4_dir_entry", [
  u32("inode", "inode number; 0 marks an unused record"),
  u16("rec_len", "length of this record (encoded)"),
  u16("name_len", "name length"),
]);

/** struct ext4_dir_entry_tail: the fake entry holding a leaf block's checksum (metadata_csum). */
export const dirEntryTailStruct = defineStruct("ext4_dir_entry_tail", [
  u32("det_reserved_zero1", "looks like inode 0"),
  u16("det_rec_len", "12"),
  u8("det_reserved_zero2", "looks like name_len 0"),
  u8("det_reserved_ft", "EXT4_FT_DIR_CSUM (0xDE)"),
  u32("det_checksum", "crc32c(inode seed, block bytes before the tail)"),
]);

/** struct ext4_dir_entry_hash: stored after the name when a directory is encrypted and casefolded. */
export const dirEntryHashStruct = defineStruct("ext4_dir_entry_hash", [
  u32("hash", "major hash"),
  u32("minor_hash", "minor hash"),
]);

const O_INODE = dirEntry2Struct.offsetOf("inode");
const O_REC_LEN = dirEntry2Struct.offsetOf("rec_len");
const O_NAME_LEN = dirEntry2Struct.offsetOf("name_len");
const O_FILE_TYPE = dirEntry2Struct.offsetOf("file_type");
/** Size of the entry header; the name follows it. */
export const DIRENT_HEADER_SIZE = dirEntry2Struct.size;
/** Size of the checksum tail entry. */
export const DIRENT_TAIL_SIZE = dirEntryTailStruct.size;
const O_TAIL_CSUM = dirEntryTailStruct.offsetOf("det_checksum");

/** EXT4_MAX_REC_LEN: the on-disk rec_len that means "the whole 64 KiB block". */
const EXT4_MAX_REC_LEN = 0xffff;

/**
 * Decodes an on-disk rec_len (e2fsprogs `ext2fs_get_rec_len`, the kernel's
 * `ext4_rec_len_from_disk`): 16 bits cannot say 65536, so 64 KiB blocks keep
 * bits 16-17 in the two low bits, and 0 or 0xFFFF mean the whole block.
 */
export function recLenFromDisk(raw: number, blockSize: number): number {
  if (blockSize < 65536) return raw;
  if (raw === EXT4_MAX_REC_LEN || raw === 0) return blockSize;
  return (raw & 65532) | ((raw & 3) << 16);
}

/**
 * Encodes a rec_len for disk (the inverse of {@link recLenFromDisk}). Throws
 * RangeError for a length that cannot be represented (a programming error).
 */
export function recLenToDisk(len: number, blockSize: number): number {
  if (len > blockSize || len % 4 !== 0 || len < 0) {
    throw new RangeError(`rec_len ${len} invalid for ${blockSize}-byte blocks`);
  }
  if (len < 65536) return len;
  if (len === blockSize) return blockSize === 65536 ? EXT4_MAX_REC_LEN : 0;
  return (len & 65532) | ((len >> 16) & 3);
}

/**
 * The smallest record that holds a name of `nameLen` bytes (the kernel's
 * `ext4_dir_rec_len`): header + name rounded up to 4, plus the stored hash
 * in directories that keep one after the name.
 */
export function dirRecLen(nameLen: number, hashInDirent = false): number {
  const len = (nameLen + DIRENT_HEADER_SIZE + 3) & ~3;
  return hashInDirent ? len + dirEntryHashStruct.size : len;
}

/** One record of a linear directory region, as stored (no judgement beyond the structural checks). */
export interface RawDirEntry {
  /** Byte offset of the record in its block or inline region. */
  readonly offset: number;
  /** inode (0 for an unused record). */
  readonly inode: number;
  /** Decoded record length. */
  readonly recLen: number;
  /** rec_len exactly as stored (what `debugfs ls` prints). */
  readonly recLenRaw: number;
  /** name_len (the low byte; the kernel reads ext4_dir_entry_2). */
  readonly nameLen: number;
  /** The byte after name_len: file_type with the filetype feature, else the high byte of the old 16-bit name_len. */
  readonly fileTypeRaw: number;
  /** The name bytes: a view into the block, valid only while the block is. */
  readonly name: Uint8Array;
  /** ext4_dir_entry_hash.hash, for records of directories that store it. */
  readonly hash?: number;
  /** ext4_dir_entry_hash.minor_hash, likewise. */
  readonly minorHash?: number;
}

/** How a linear region is judged. */
export interface DirParseOptions {
  /** Filesystem block size (rec_len decoding). */
  readonly blockSize: number;
  /** The directory keeps ext4_dir_entry_hash after names (encrypted + casefolded). */
  readonly hashInDirent?: boolean;
  /** metadata_csum is on (changes the "too close to the end" rule for hash-in-dirent directories). */
  readonly metadataCsum?: boolean;
  /** Reject names with '/' or NUL and empty names of live entries (off for encrypted names, which are binary). */
  readonly checkNames?: boolean;
  /** Attached to every error (inode, block). */
  readonly context?: Ext4ErrorContext;
}

/** ".", "..", or the checksum tail: records the kernel never expects a stored hash in (`is_fake_dir_entry`). */
function isFakeEntry(v: ByteView, off: number, nameLen: number, fileType: number): boolean {
  if (fileType === DirFileType.DirChecksum) return true;
  if (nameLen < 1 || nameLen > 2 || off + DIRENT_HEADER_SIZE + 2 > v.length) return false;
  const c0 = v.u8(off + DIRENT_HEADER_SIZE);
  const c1 = v.u8(off + DIRENT_HEADER_SIZE + 1);
  return c0 === 0x2e && (c1 === 0x2e || c1 === 0);
}

/** The error context of the record at `off` (built only when a check fails: the checks run for every record). */
function at(ctx: Ext4ErrorContext, off: number): Ext4ErrorContext {
  return { ...ctx, offset: off };
}

/**
 * Checks one record at `off` of a region of `size` bytes the way the kernel's
 * `__ext4_check_dir_entry` does, and returns its decoded rec_len. Throws
 * Corrupt with a code naming the failed check.
 */
function checkRecord(
  v: ByteView,
  off: number,
  opts: DirParseOptions,
  ctx: Ext4ErrorContext,
): number {
  const size = v.length;
  // Every record needs its 8-byte header; a region whose tail is shorter is malformed.
  if (size - off < DIRENT_HEADER_SIZE) {
    throw corrupt(
      "DIRENT_HEADER_TRUNCATED",
      `only ${size - off} bytes left for a directory entry`,
      at(ctx, off),
    );
  }
  const rlen = recLenFromDisk(v.u16(off + O_REC_LEN), opts.blockSize);
  const nameLen = v.u8(off + O_NAME_LEN);
  const fake = isFakeEntry(v, off, nameLen, v.u8(off + O_FILE_TYPE));
  const hashed = (opts.hashInDirent ?? false) && !fake;
  if (rlen < dirRecLen(1, hashed)) {
    throw corrupt(
      "DIRENT_REC_LEN_TOO_SMALL",
      `rec_len ${rlen} is smaller than minimal`,
      at(ctx, off),
    );
  }
  if (rlen % 4 !== 0) {
    throw corrupt(
      "DIRENT_REC_LEN_UNALIGNED",
      `rec_len ${rlen} is not a multiple of 4`,
      at(ctx, off),
    );
  }
  if (rlen < dirRecLen(nameLen, hashed)) {
    throw corrupt(
      "DIRENT_NAME_OVERFLOW",
      `rec_len ${rlen} is too small for name_len ${nameLen}`,
      at(ctx, off),
    );
  }
  const next = off + rlen;
  if (next > size) {
    throw corrupt(
      "DIRENT_OVERRUN",
      `entry of ${rlen} bytes runs past the ${size}-byte block`,
      at(ctx, off),
    );
  }
  // A gap too small for any entry cannot be the start of one: the kernel refuses it.
  const minTail = dirRecLen(1, (opts.hashInDirent ?? false) && !(opts.metadataCsum ?? false));
  if (next > size - minTail && next !== size) {
    throw corrupt(
      "DIRENT_TOO_CLOSE_TO_END",
      `entry ends ${size - next} bytes before the block end`,
      at(ctx, off),
    );
  }
  return rlen;
}

function checkName(
  bytes: Uint8Array,
  start: number,
  len: number,
  ctx: Ext4ErrorContext,
  off: number,
): void {
  // Names with '/' or NUL cannot be looked up or returned through the VFS;
  // e2fsck pass 2 calls them "illegal characters" (PR_2_BAD_NAME).
  if (len === 0) {
    throw corrupt("DIRENT_EMPTY_NAME", "live directory entry has an empty name", at(ctx, off));
  }
  for (let i = start; i < start + len; i++) {
    const c = bytes[i];
    if (c === 0x2f || c === 0) {
      throw corrupt("DIRENT_BAD_NAME", "directory entry name contains '/' or NUL", at(ctx, off));
    }
  }
}

/**
 * Walks a linear directory region (a whole block, or one part of an inline
 * directory) with the kernel's checks, calling `visit` for every record
 * including unused ones and the checksum tail, until it returns true. Names
 * are views into `bytes`. Returns true when `visit` stopped the walk. Throws
 * Corrupt (codes DIRENT_*) at the first malformed record.
 */
export function scanDirEntries(
  bytes: Uint8Array,
  opts: DirParseOptions,
  visit: (e: RawDirEntry) => boolean | undefined,
): boolean {
  const v = new ByteView(bytes, opts.context ?? {});
  const ctx = opts.context ?? {};
  const hashInDirent = opts.hashInDirent ?? false;
  let off = 0;
  // Each record is at least 12 bytes (checked), so this loop ends within size/12 steps.
  while (off < v.length) {
    const rlen = checkRecord(v, off, opts, ctx);
    const inode = v.u32(off + O_INODE);
    const nameLen = v.u8(off + O_NAME_LEN);
    const fileTypeRaw = v.u8(off + O_FILE_TYPE);
    const name = v.slice(off + DIRENT_HEADER_SIZE, nameLen);
    if (inode !== 0 && (opts.checkNames ?? true)) {
      checkName(name, 0, nameLen, ctx, off);
    }
    const recLenRaw = v.u16(off + O_REC_LEN);
    let e: RawDirEntry;
    if (hashInDirent && !isFakeEntry(v, off, nameLen, fileTypeRaw)) {
      const h = off + ((DIRENT_HEADER_SIZE + nameLen + 3) & ~3);
      e = {
        offset: off,
        inode,
        recLen: rlen,
        recLenRaw,
        nameLen,
        fileTypeRaw,
        name,
        hash: v.u32(h + dirEntryHashStruct.offsetOf("hash")),
        minorHash: v.u32(h + dirEntryHashStruct.offsetOf("minor_hash")),
      };
    } else {
      e = { offset: off, inode, recLen: rlen, recLenRaw, nameLen, fileTypeRaw, name };
    }
    if (visit(e) === true) return true;
    off += rlen;
  }
  return false;
}

/**
 * Parses a whole linear region into records (see {@link scanDirEntries}).
 * Throws Corrupt (codes DIRENT_*) at the first malformed record.
 */
export function parseDirEntries(bytes: Uint8Array, opts: DirParseOptions): RawDirEntry[] {
  const out: RawDirEntry[] = [];
  scanDirEntries(bytes, opts, (e) => {
    out.push(e);
    return false;
  });
  return out;
}

/** A live record whose name matched, from {@link findDirEntry}. */
export interface DirEntryMatch {
  readonly offset: number;
  readonly inode: number;
  readonly fileTypeRaw: number;
}

/**
 * Searches a linear region for the live record named `name`, applying the
 * same checks as {@link scanDirEntries} to every record before it, without
 * allocating per record (lookups run this on every leaf they visit).
 * Returns null when absent. Throws Corrupt (DIRENT_*) like scanDirEntries.
 */
export function findDirEntry(
  bytes: Uint8Array,
  opts: DirParseOptions,
  name: Uint8Array,
): DirEntryMatch | null {
  const v = new ByteView(bytes, opts.context ?? {});
  const ctx = opts.context ?? {};
  const checkNames = opts.checkNames ?? true;
  const len = name.length;
  let off = 0;
  // Each record is at least 12 bytes (checked), so this loop ends within size/12 steps.
  while (off < v.length) {
    const rlen = checkRecord(v, off, opts, ctx);
    const inode = v.u32(off + O_INODE);
    const nameLen = v.u8(off + O_NAME_LEN);
    const start = v.start + off + DIRENT_HEADER_SIZE;
    if (inode !== 0) {
      if (checkNames) checkName(v.bytes, start, nameLen, ctx, off);
      if (nameLen === len) {
        let i = 0;
        while (i < len && v.bytes[start + i] === name[i]) i++;
        if (i === len) return { offset: off, inode, fileTypeRaw: v.u8(off + O_FILE_TYPE) };
      }
    }
    off += rlen;
  }
  return null;
}

/** The checksum tail of a leaf block, if the last 12 bytes are one (the kernel's `get_dirent_tail`). */
export function readDirTail(block: Uint8Array, blockSize: number): { checksum: number } | null {
  if (block.length < blockSize || blockSize < DIRENT_TAIL_SIZE) return null;
  const v = new ByteView(block, {}, blockSize - DIRENT_TAIL_SIZE, DIRENT_TAIL_SIZE);
  const t = dirEntryTailStruct;
  if (
    t.get(v, "det_reserved_zero1") !== 0 ||
    recLenFromDisk(t.get(v, "det_rec_len"), blockSize) !== DIRENT_TAIL_SIZE ||
    t.get(v, "det_reserved_zero2") !== 0 ||
    t.get(v, "det_reserved_ft") !== DirFileType.DirChecksum
  ) {
    return null;
  }
  return { checksum: t.get(v, "det_checksum") };
}

function le32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new ByteView(b).setU32(0, n);
  return b;
}

/**
 * The per-inode checksum seed (`ei->i_csum_seed`): crc32c over the inode
 * number then the generation, both little-endian, from the filesystem seed.
 */
export function dirCsumSeed(csumSeed: number, ino: number, generation: number): number {
  return crc32cRaw(crc32cRaw(csumSeed, le32(ino)), le32(generation));
}

/** `ext4_dirblock_csum`: crc32c of the block bytes before the tail, from the inode seed. */
export function dirBlockChecksum(inodeSeed: number, block: Uint8Array, blockSize: number): number {
  return crc32cRaw(inodeSeed, block.subarray(0, blockSize - DIRENT_TAIL_SIZE));
}

/** Result of checking a leaf block's tail checksum. */
export interface DirBlockCsum {
  /** The stored checksum, or null when the block has no tail. */
  readonly stored: number | null;
  /** The checksum computed over the block. */
  readonly computed: number;
}

/** Reads the tail and computes the checksum a leaf block should carry. */
export function dirBlockCsum(
  inodeSeed: number,
  block: Uint8Array,
  blockSize: number,
): DirBlockCsum {
  const tail = readDirTail(block, blockSize);
  return {
    stored: tail?.checksum ?? null,
    computed: dirBlockChecksum(inodeSeed, block, blockSize),
  };
}

/**
 * Verifies a leaf block's checksum (`ext4_dirblock_csum_verify`). Throws
 * BadChecksum DIRENT_TAIL_MISSING when there is no tail to hold one (the
 * kernel fails the block then too) or DIRBLOCK_BAD_CHECKSUM on a mismatch.
 */
export function verifyDirBlockChecksum(
  inodeSeed: number,
  block: Uint8Array,
  blockSize: number,
  context: Ext4ErrorContext = {},
): void {
  const { stored, computed } = dirBlockCsum(inodeSeed, block, blockSize);
  if (stored === null) {
    throw badChecksum("DIRENT_TAIL_MISSING", "directory block has no checksum tail", context);
  }
  if (stored !== computed) {
    throw badChecksum(
      "DIRBLOCK_BAD_CHECKSUM",
      `directory block checksum 0x${hex(stored)} != computed 0x${hex(computed)}`,
      context,
    );
  }
}

/** Formats a u32 as 8 hex digits. */
export function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

/** An entry to encode with {@link writeDirEntry}. */
export interface DirEntrySpec {
  readonly inode: number;
  readonly recLen: number;
  readonly name: Uint8Array;
  /** file_type byte (0 without the filetype feature). */
  readonly fileType: number;
  /** Stored hash for hash-in-dirent directories. */
  readonly hash?: { readonly hash: number; readonly minorHash: number };
}

/**
 * Encodes one record at `offset` of `block` (header, name, optional stored
 * hash). Throws RangeError when it does not fit: encoders are given
 * trusted input.
 */
export function writeDirEntry(
  block: Uint8Array,
  offset: number,
  e: DirEntrySpec,
  blockSize: number,
): void {
  if (e.name.length > 255) throw new RangeError(`name of ${e.name.length} bytes`);
  const need = dirRecLen(e.name.length, e.hash !== undefined);
  if (e.recLen < need || offset + e.recLen > block.length) {
    throw new RangeError(`record of ${e.recLen} bytes at ${offset} cannot hold the entry`);
  }
  const v = new ByteView(block, {}, offset, e.recLen);
  dirEntry2Struct.set(v, "inode", e.inode);
  dirEntry2Struct.set(v, "rec_len", recLenToDisk(e.recLen, blockSize));
  dirEntry2Struct.set(v, "name_len", e.name.length);
  dirEntry2Struct.set(v, "file_type", e.fileType);
  block.set(e.name, offset + DIRENT_HEADER_SIZE);
  if (e.hash !== undefined) {
    const h = (DIRENT_HEADER_SIZE + e.name.length + 3) & ~3;
    const hv = v.sub(h, dirEntryHashStruct.size);
    dirEntryHashStruct.set(hv, "hash", e.hash.hash);
    dirEntryHashStruct.set(hv, "minor_hash", e.hash.minorHash);
  }
}

/**
 * Writes the checksum tail at the end of a leaf block and fills in its
 * checksum (`ext4_initialize_dirent_tail` + `ext4_dirblock_csum_set`).
 */
export function writeDirTail(block: Uint8Array, blockSize: number, inodeSeed: number): void {
  const v = new ByteView(block, {}, blockSize - DIRENT_TAIL_SIZE, DIRENT_TAIL_SIZE);
  const t = dirEntryTailStruct;
  t.set(v, "det_reserved_zero1", 0);
  t.set(v, "det_rec_len", DIRENT_TAIL_SIZE);
  t.set(v, "det_reserved_zero2", 0);
  t.set(v, "det_reserved_ft", DirFileType.DirChecksum);
  v.setU32(O_TAIL_CSUM, dirBlockChecksum(inodeSeed, block, blockSize));
}
