/**
 * Linear directory entries: the on-disk records (ext4_dir_entry_2, the old
 * ext4_dir_entry, the checksum tail, the hash stored after the name in
 * encrypted+casefolded directories), rec_len encoding, the kernel's entry
 * checks (fs/ext4/dir.c `__ext4_check_dir_entry`) and the leaf block
 * checksum (fs/ext4/namei.c `ext4_dirblock_csum`).
 */
import { crc32cRaw, crc32cU32 } from "../crc.js";
import { badChecksum, corrupt, type Ext4ErrorContext } from "../errors.js";
import { defineStruct, u8, u16, u32 } from "../struct.js";
import { ByteView, le32 } from "../view.js";
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
const O_TAIL_ZERO1 = dirEntryTailStruct.offsetOf("det_reserved_zero1");
const O_TAIL_REC_LEN = dirEntryTailStruct.offsetOf("det_rec_len");
const O_TAIL_ZERO2 = dirEntryTailStruct.offsetOf("det_reserved_zero2");
const O_TAIL_FT = dirEntryTailStruct.offsetOf("det_reserved_ft");
const O_HASH = dirEntryHashStruct.offsetOf("hash");
const O_MINOR_HASH = dirEntryHashStruct.offsetOf("minor_hash");

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
function isFakeEntry(b: Uint8Array, off: number, nameLen: number, fileType: number): boolean {
  if (fileType === DirFileType.DirChecksum) return true;
  if (nameLen < 1 || nameLen > 2 || off + DIRENT_HEADER_SIZE + 2 > b.length) return false;
  const c0 = b[off + DIRENT_HEADER_SIZE];
  const c1 = b[off + DIRENT_HEADER_SIZE + 1];
  return c0 === 0x2e && (c1 === 0x2e || c1 === 0);
}

/** The error context of the record at `off` (built only when a check fails: the checks run for every record). */
function at(ctx: Ext4ErrorContext, off: number): Ext4ErrorContext {
  return { ...ctx, offset: off };
}

/** dirRecLen(1): the smallest record the kernel accepts without a stored hash. */
const MIN_REC_LEN = (1 + DIRENT_HEADER_SIZE + 3) & ~3;

/**
 * Checks one record at `off` of the region `b` the way the kernel's
 * `__ext4_check_dir_entry` does, and returns its decoded rec_len. Throws
 * Corrupt with a code naming the failed check. Runs for every record of
 * every walk: the common case (no stored hash, blocks below 64 KiB) is the
 * conjunction of the checks of {@link checkRecordFully} on the header bytes
 * read directly, small enough to be inlined into the walks; anything else,
 * and every failure, goes through the full checks in their order.
 */
function checkRecord(
  b: Uint8Array,
  off: number,
  blockSize: number,
  hashInDirent: boolean,
  metadataCsum: boolean,
  ctx: Ext4ErrorContext,
): number {
  const size = b.length;
  if (size - off >= DIRENT_HEADER_SIZE && !hashInDirent && blockSize < 65536) {
    // OK to assert: the header [off, off + 8) lies inside `b` (just checked).
    const rlen = b[off + O_REC_LEN]! | (b[off + O_REC_LEN + 1]! << 8);
    const next = off + rlen;
    if (
      rlen >= MIN_REC_LEN &&
      (rlen & 3) === 0 &&
      rlen >= ((b[off + O_NAME_LEN]! + DIRENT_HEADER_SIZE + 3) & ~3) &&
      next <= size &&
      (next === size || next <= size - MIN_REC_LEN)
    ) {
      return rlen;
    }
  }
  return checkRecordFully(b, off, blockSize, hashInDirent, metadataCsum, ctx);
}

/** {@link checkRecord}'s checks one by one, each failure with its own code. */
function checkRecordFully(
  b: Uint8Array,
  off: number,
  blockSize: number,
  hashInDirent: boolean,
  metadataCsum: boolean,
  ctx: Ext4ErrorContext,
): number {
  const size = b.length;
  // Every record needs its 8-byte header; a region whose tail is shorter is malformed.
  if (size - off < DIRENT_HEADER_SIZE) {
    throw corrupt(
      "DIRENT_HEADER_TRUNCATED",
      `only ${size - off} bytes left for a directory entry`,
      at(ctx, off),
    );
  }
  // OK to assert: the header [off, off + 8) was just checked to lie inside `b`.
  const raw = b[off + O_REC_LEN]! | (b[off + O_REC_LEN + 1]! << 8);
  const rlen = blockSize < 65536 ? raw : recLenFromDisk(raw, blockSize);
  const nameLen = b[off + O_NAME_LEN]!;
  const hashed = hashInDirent && !isFakeEntry(b, off, nameLen, b[off + O_FILE_TYPE]!);
  if (rlen < (hashed ? dirRecLen(1, true) : MIN_REC_LEN)) {
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
  const minTail = hashInDirent && !metadataCsum ? dirRecLen(1, true) : MIN_REC_LEN;
  if (next > size - minTail && next !== size) {
    throw corrupt(
      "DIRENT_TOO_CLOSE_TO_END",
      `entry ends ${size - next} bytes before the block end`,
      at(ctx, off),
    );
  }
  return rlen;
}

/**
 * Checks the name of a live record (`[start, start + len)` inside `bytes`):
 * not empty, no '/' or NUL. Names with '/' or NUL cannot be looked up or
 * returned through the VFS; e2fsck pass 2 calls them "illegal characters"
 * (PR_2_BAD_NAME). Throws Corrupt DIRENT_EMPTY_NAME, DIRENT_BAD_NAME.
 */
function checkName(
  bytes: Uint8Array,
  start: number,
  len: number,
  ctx: Ext4ErrorContext,
  off: number,
): void {
  if (len !== 0 && nameBytesOk(bytes, start, start + len)) return;
  if (len === 0) {
    throw corrupt("DIRENT_EMPTY_NAME", "live directory entry has an empty name", at(ctx, off));
  }
  throw corrupt("DIRENT_BAD_NAME", "directory entry name contains '/' or NUL", at(ctx, off));
}

/**
 * True when no byte of `bytes[start, end)` is '/' or NUL. Four bytes at a
 * time (this runs for every live record of every walk): a word has a zero
 * byte iff (w - 0x01010101) & ~w & 0x80808080 is non-zero, and a '/' byte
 * iff w ^ 0x2f2f2f2f has a zero byte.
 */
function nameBytesOk(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    // OK to assert: [start, end) lies inside `bytes` (checked by checkRecord).
    const w = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    const x = w ^ 0x2f2f2f2f;
    if ((((w - 0x01010101) & ~w) | ((x - 0x01010101) & ~x)) & 0x80808080) return false;
  }
  for (; i < end; i++) {
    const c = bytes[i];
    if (c === 0x2f || c === 0) return false;
  }
  return true;
}

/**
 * The record a {@link walkDirRecords} visitor is looking at. One object is
 * reused for every record of a walk (a walk over a large directory visits
 * hundreds of thousands): read what you need before returning, and copy
 * the name if you keep it.
 */
export class DirRecordCursor {
  /** Byte offset of the record in the region. */
  offset = 0;
  /** inode (0 for an unused record). */
  inode = 0;
  /** Decoded record length. */
  recLen = 0;
  /** rec_len exactly as stored. */
  recLenRaw = 0;
  /** name_len (the low byte). */
  nameLen = 0;
  /** file_type, or the high byte of the old 16-bit name_len. */
  fileTypeRaw = 0;
  /** ext4_dir_entry_hash of a record that stores one (hash-in-dirent directories), else undefined. */
  hash: number | undefined = undefined;
  /** ext4_dir_entry_hash.minor_hash, likewise. */
  minorHash: number | undefined = undefined;

  /** @param bytes the region being walked */
  constructor(readonly bytes: Uint8Array) {}

  /** The name: a view into the region, valid while the region is. */
  name(): Uint8Array {
    const start = this.offset + DIRENT_HEADER_SIZE;
    return this.bytes.subarray(start, start + this.nameLen);
  }

  /** True when the name is exactly `name` (no view is made). */
  nameIs(name: Uint8Array): boolean {
    const len = name.length;
    if (this.nameLen !== len) return false;
    const b = this.bytes;
    const start = this.offset + DIRENT_HEADER_SIZE;
    for (let i = 0; i < len; i++) if (b[start + i] !== name[i]) return false;
    return true;
  }
}

/**
 * Walks a linear directory region (a whole block, or one part of an inline
 * directory) with the kernel's checks, calling `visit` for every record
 * including unused ones and the checksum tail, until it returns true. The
 * cursor is reused from record to record and nothing is allocated per
 * record. Returns true when `visit` stopped the walk. Throws Corrupt
 * (codes DIRENT_*) at the first malformed record.
 */
export function walkDirRecords(
  bytes: Uint8Array,
  opts: DirParseOptions,
  visit: (r: DirRecordCursor) => boolean | undefined,
): boolean {
  const ctx = opts.context ?? {};
  const blockSize = opts.blockSize;
  const hashInDirent = opts.hashInDirent === true;
  const metadataCsum = opts.metadataCsum === true;
  const checkNames = opts.checkNames ?? true;
  const r = new DirRecordCursor(bytes);
  const size = bytes.length;
  let off = 0;
  // Each record is at least 12 bytes (checked), so this loop ends within size/12 steps.
  while (off < size) {
    const rlen = checkRecord(bytes, off, blockSize, hashInDirent, metadataCsum, ctx);
    // OK to assert: checkRecord proved the header and the name lie inside the region.
    const inode = le32(bytes, off + O_INODE);
    const nameLen = bytes[off + O_NAME_LEN]!;
    const fileTypeRaw = bytes[off + O_FILE_TYPE]!;
    if (inode !== 0 && checkNames) checkName(bytes, off + DIRENT_HEADER_SIZE, nameLen, ctx, off);
    r.offset = off;
    r.inode = inode;
    r.recLen = rlen;
    r.recLenRaw = bytes[off + O_REC_LEN]! | (bytes[off + O_REC_LEN + 1]! << 8);
    r.nameLen = nameLen;
    r.fileTypeRaw = fileTypeRaw;
    if (hashInDirent && !isFakeEntry(bytes, off, nameLen, fileTypeRaw)) {
      // Inside the record: checkRecord required room for the hash after the name.
      const h = off + ((DIRENT_HEADER_SIZE + nameLen + 3) & ~3);
      r.hash = le32(bytes, h + O_HASH);
      r.minorHash = le32(bytes, h + O_MINOR_HASH);
    } else {
      r.hash = undefined;
      r.minorHash = undefined;
    }
    if (visit(r) === true) return true;
    off += rlen;
  }
  return false;
}

/**
 * Walks a linear directory region like {@link walkDirRecords}, handing
 * `visit` each record as its own object (names are views into `bytes`).
 * Returns true when `visit` stopped the walk. Throws Corrupt (codes
 * DIRENT_*) at the first malformed record.
 */
export function scanDirEntries(
  bytes: Uint8Array,
  opts: DirParseOptions,
  visit: (e: RawDirEntry) => boolean | undefined,
): boolean {
  return walkDirRecords(bytes, opts, (r) => visit(recordOf(r)));
}

/** The cursor's record as a {@link RawDirEntry} of its own (the name still a view). */
export function recordOf(r: DirRecordCursor): RawDirEntry {
  const base = {
    offset: r.offset,
    inode: r.inode,
    recLen: r.recLen,
    recLenRaw: r.recLenRaw,
    nameLen: r.nameLen,
    fileTypeRaw: r.fileTypeRaw,
    name: r.name(),
  };
  return r.hash === undefined || r.minorHash === undefined
    ? base
    : { ...base, hash: r.hash, minorHash: r.minorHash };
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
 * structural checks of {@link scanDirEntries} (record lengths and bounds)
 * to every record before it, without allocating per record (lookups run
 * this on every leaf they visit). Names are not checked for '/' and NUL,
 * as ext4_search_dir does not check them: `name` (a path component) has
 * neither, so a bad name can never match it, and listings still report
 * one. Returns null when absent. Throws Corrupt (DIRENT_*) like
 * scanDirEntries.
 */
export function findDirEntry(
  bytes: Uint8Array,
  opts: DirParseOptions,
  name: Uint8Array,
): DirEntryMatch | null {
  // The walk of walkDirRecords, inlined: this loop runs over every record of
  // every leaf a lookup visits (all the blocks of an unindexed directory).
  const ctx = opts.context ?? {};
  const blockSize = opts.blockSize;
  const hashInDirent = opts.hashInDirent === true;
  const metadataCsum = opts.metadataCsum === true;
  const size = bytes.length;
  const len = name.length;
  let off = 0;
  // Each record is at least 12 bytes (checked), so this loop ends within size/12 steps.
  while (off < size) {
    const rlen = checkRecord(bytes, off, blockSize, hashInDirent, metadataCsum, ctx);
    // OK to assert: checkRecord proved the header and the name lie inside the region.
    const inode = le32(bytes, off + O_INODE);
    if (inode !== 0) {
      const nameLen = bytes[off + O_NAME_LEN]!;
      const start = off + DIRENT_HEADER_SIZE;
      if (nameLen === len) {
        let i = 0;
        while (i < len && bytes[start + i] === name[i]) i++;
        if (i === len) return { offset: off, inode, fileTypeRaw: bytes[off + O_FILE_TYPE]! };
      }
    }
    off += rlen;
  }
  return null;
}

/** The checksum tail of a leaf block, if the last 12 bytes are one (the kernel's `get_dirent_tail`). */
export function readDirTail(block: Uint8Array, blockSize: number): { checksum: number } | null {
  if (block.length < blockSize || blockSize < DIRENT_TAIL_SIZE) return null;
  // Read on every leaf verification: offsets come from the table, not a lookup per field.
  const v = new ByteView(block, {}, blockSize - DIRENT_TAIL_SIZE, DIRENT_TAIL_SIZE);
  if (
    v.u32(O_TAIL_ZERO1) !== 0 ||
    recLenFromDisk(v.u16(O_TAIL_REC_LEN), blockSize) !== DIRENT_TAIL_SIZE ||
    v.u8(O_TAIL_ZERO2) !== 0 ||
    v.u8(O_TAIL_FT) !== DirFileType.DirChecksum
  ) {
    return null;
  }
  return { checksum: v.u32(O_TAIL_CSUM) };
}

/**
 * The per-inode checksum seed (`ei->i_csum_seed`): crc32c over the inode
 * number then the generation, both little-endian, from the filesystem seed.
 */
export function dirCsumSeed(csumSeed: number, ino: number, generation: number): number {
  return crc32cU32(crc32cU32(csumSeed, ino), generation);
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
  v.setU32(O_TAIL_ZERO1, 0);
  v.setU16(O_TAIL_REC_LEN, DIRENT_TAIL_SIZE);
  v.setU8(O_TAIL_ZERO2, 0);
  v.setU8(O_TAIL_FT, DirFileType.DirChecksum);
  v.setU32(O_TAIL_CSUM, dirBlockChecksum(inodeSeed, block, blockSize));
}
