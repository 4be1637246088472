/**
 * Extended attributes (fs/ext4/xattr.h): the block header and entry tables,
 * bounded parsing of the entry lists in the inode body and in an xattr
 * block (the kernel's check_xattrs), name-index prefixes, the entry and
 * block hashes, and the xattr block checksum.
 */
import { crc32cRaw } from "../crc.js";
import { badChecksum, corrupt, type Ext4ErrorContext } from "../errors.js";
import { bytes, defineStruct, u8, u16, u32 } from "../struct.js";
import { ByteView } from "../view.js";

/** struct ext4_xattr_header: the start of an xattr block. */
export const XATTR_HEADER = defineStruct("ext4_xattr_header", [
  u32("h_magic", "0xEA020000"),
  u32("h_refcount", "inodes sharing this block"),
  u32("h_blocks", "number of blocks (always 1)"),
  u32("h_hash", "hash of all entry hashes (for block sharing)"),
  u32("h_checksum", "crc32c(fs seed, le64 block, block with h_checksum zeroed)"),
  bytes("h_reserved", 12, "zero"),
]);

/** struct ext4_xattr_ibody_header: the magic before in-inode entries. */
export const XATTR_IBODY_HEADER = defineStruct("ext4_xattr_ibody_header", [
  u32("h_magic", "0xEA020000"),
]);

/** struct ext4_xattr_entry without its name (e_name follows, padded to 4). */
export const XATTR_ENTRY = defineStruct("ext4_xattr_entry", [
  u8("e_name_len", "length of the name suffix"),
  u8("e_name_index", "name prefix index (user., trusted., ...)"),
  u16("e_value_offs", "value offset (block start, or first in-inode entry)"),
  u32("e_value_inum", "inode holding the value (ea_inode), or 0"),
  u32("e_value_size", "value size in bytes"),
  u32("e_hash", "hash of name and value"),
]);

/** h_magic of both headers. */
export const EXT4_XATTR_MAGIC = 0xea020000;
/** EXT4_XATTR_SIZE_MAX: no value is larger. */
export const EXT4_XATTR_SIZE_MAX = 1 << 24;
/** The name index of "system.data" (inline data). */
export const EXT4_XATTR_INDEX_SYSTEM = 7;

/** Name index → prefix, as e2fsprogs and the kernel's handlers map them. */
export const XATTR_PREFIXES: Readonly<Record<number, string>> = {
  1: "user.",
  2: "system.posix_acl_access",
  3: "system.posix_acl_default",
  4: "trusted.",
  6: "security.",
  7: "system.",
  8: "system.richacl",
};

/** Splits a full attribute name into the index and suffix stored on disk (longest prefix wins). */
export function splitXattrName(name: string): { index: number; suffix: string } {
  let best: { index: number; suffix: string } = { index: 0, suffix: name };
  let bestLen = 0;
  for (const [k, prefix] of Object.entries(XATTR_PREFIXES)) {
    if (name.startsWith(prefix) && prefix.length > bestLen) {
      best = { index: Number(k), suffix: name.slice(prefix.length) };
      bestLen = prefix.length;
    }
  }
  return best;
}

/** The full name of an entry: its index's prefix then the stored suffix. */
export function joinXattrName(index: number, suffix: string): string {
  return (XATTR_PREFIXES[index] ?? "") + suffix;
}

/** One entry as stored, with where its value is. */
export interface XattrEntry {
  readonly nameIndex: number;
  /** The stored name suffix, bytes as on disk. */
  readonly nameBytes: Uint8Array;
  /** The full name (prefix + suffix, suffix decoded as UTF-8). */
  readonly name: string;
  readonly valueOffset: number;
  readonly valueInum: number;
  readonly valueSize: number;
  readonly hash: number;
  /** Offset of the entry in its region (block, or inode body). */
  readonly entryOffset: number;
  /** The value bytes (a copy) when stored inline; null when in an EA inode. */
  readonly value: Uint8Array | null;
}

/** Rounds up to a multiple of 4 (EXT4_XATTR_PAD). */
const pad4 = (n: number): number => (n + 3) & ~3;

/** Limits for {@link parseXattrEntries}. */
export interface XattrParseLimits {
  /** ea_inode feature: entries may point at value inodes. */
  readonly eaInode: boolean;
  /** s_inodes_count: value inodes must be valid inode numbers. */
  readonly inodesCount: number;
}

/**
 * Parses an entry list, bounded as the kernel's check_xattrs: `region` holds
 * the entries from `entriesStart` to its end and values at
 * `valueBase + e_value_offs`. Every entry and name must end before the
 * region does, the list ends with a zero word, values lie after the entries
 * and inside the region, sizes ≤ 16 MiB, value inodes valid and only with
 * ea_inode. Throws Corrupt with XATTR_* codes.
 */
export function parseXattrEntries(
  region: ByteView,
  entriesStart: number,
  valueBase: number,
  limits: XattrParseLimits,
  ctx: Ext4ErrorContext,
): XattrEntry[] {
  const end = region.length;
  const out: XattrEntry[] = [];
  let off = entriesStart;
  // Each entry takes ≥ 16 bytes and offsets only grow: the loop is bounded by end / 16.
  for (;;) {
    if (off + 4 > end) {
      throw corrupt("XATTR_NO_END", "entry list runs past its region", { ...ctx, offset: off });
    }
    if (region.u32(off) === 0) break;
    const ectx = { ...ctx, offset: off };
    if (off + XATTR_ENTRY.size > end) {
      throw corrupt("XATTR_ENTRY_BOUNDS", "entry runs past its region", ectx);
    }
    const e = region.sub(off, XATTR_ENTRY.size);
    const nameLen = XATTR_ENTRY.get(e, "e_name_len");
    const next = off + pad4(XATTR_ENTRY.size + nameLen);
    if (next >= end) throw corrupt("XATTR_NAME_BOUNDS", "entry name runs past its region", ectx);
    const nameBytes = region.slice(off + XATTR_ENTRY.size, nameLen).slice();
    if (nameBytes.includes(0)) throw corrupt("XATTR_BAD_NAME", "NUL inside an entry name", ectx);
    const nameIndex = XATTR_ENTRY.get(e, "e_name_index");
    out.push({
      nameIndex,
      nameBytes,
      name: joinXattrName(nameIndex, new TextDecoder().decode(nameBytes)),
      valueOffset: XATTR_ENTRY.get(e, "e_value_offs"),
      valueInum: XATTR_ENTRY.get(e, "e_value_inum"),
      valueSize: XATTR_ENTRY.get(e, "e_value_size"),
      hash: XATTR_ENTRY.get(e, "e_hash"),
      entryOffset: off,
      value: null,
    });
    off = next;
  }
  const namesEnd = off + 4;
  return out.map((x) => {
    const ectx = { ...ctx, offset: x.entryOffset };
    if (x.valueInum !== 0) {
      if (!limits.eaInode) {
        throw corrupt("XATTR_EA_INODE_NO_FEATURE", "value inode without ea_inode", ectx);
      }
      if (x.valueInum === 2 || x.valueInum > limits.inodesCount) {
        throw corrupt("XATTR_BAD_EA_INODE", `invalid value inode ${x.valueInum}`, ectx);
      }
    }
    if (x.valueSize > EXT4_XATTR_SIZE_MAX) {
      throw corrupt("XATTR_VALUE_TOO_LARGE", `value size ${x.valueSize}`, ectx);
    }
    if (x.valueSize === 0 || x.valueInum !== 0) {
      return x.valueInum !== 0 ? x : { ...x, value: new Uint8Array(0) };
    }
    const at = valueBase + x.valueOffset;
    if (at < namesEnd || at + pad4(x.valueSize) > end) {
      throw corrupt(
        "XATTR_VALUE_BOUNDS",
        `value at ${at}+${x.valueSize} overlaps the entries or runs past the region`,
        ectx,
      );
    }
    return { ...x, value: region.slice(at, x.valueSize).slice() };
  });
}

const NAME_HASH_SHIFT = 5;
const VALUE_HASH_SHIFT = 16;
const BLOCK_HASH_SHIFT = 16;

const rotl = (h: number, s: number): number => ((h << s) | (h >>> (32 - s))) >>> 0;

/**
 * The kernel's ext4_xattr_hash_entry over the name suffix and the value as
 * little-endian 32-bit words (padded with zeros to a multiple of 4). With
 * `signedChars` the name bytes are sign-extended, as
 * ext4_xattr_hash_entry_signed (older kernels on x86) did.
 */
export function xattrEntryHash(
  nameBytes: Uint8Array,
  valueWords: Uint8Array,
  signedChars = false,
): number {
  let hash = 0;
  for (const c of nameBytes) {
    const ch = signedChars && c >= 0x80 ? c - 0x100 : c;
    hash = (rotl(hash, NAME_HASH_SHIFT) ^ ch) >>> 0;
  }
  const padded = new Uint8Array(pad4(valueWords.length));
  padded.set(valueWords);
  const v = new ByteView(padded);
  for (let i = 0; i < padded.length; i += 4) {
    hash = (rotl(hash, VALUE_HASH_SHIFT) ^ v.u32(i)) >>> 0;
  }
  return hash;
}

/** The entry hash of a value kept in an EA inode: the name, then the value inode's crc32c hash as one word. */
export function xattrEaInodeEntryHash(nameBytes: Uint8Array, eaInodeHash: number): number {
  const w = new Uint8Array(4);
  new ByteView(w).setU32(0, eaInodeHash);
  return xattrEntryHash(nameBytes, w);
}

/** ext4_xattr_inode_hash: crc32c(fs seed) of a value stored in an EA inode. */
export function xattrEaInodeValueHash(csumSeed: number, value: Uint8Array): number {
  return crc32cRaw(csumSeed, value);
}

/**
 * ext4_xattr_rehash: the block hash mixes every entry hash in order; any
 * entry with hash 0 makes the block hash 0 (the block is not shared).
 */
export function xattrBlockHash(entryHashes: readonly number[]): number {
  let hash = 0;
  for (const h of entryHashes) {
    if (h === 0) return 0;
    hash = (rotl(hash, BLOCK_HASH_SHIFT) ^ h) >>> 0;
  }
  return hash;
}

/** ext4_xattr_block_csum: crc32c(fs seed, le64 block number, block with h_checksum zeroed). */
export function xattrBlockChecksum(csumSeed: number, blockNr: number, block: Uint8Array): number {
  const le = new Uint8Array(8);
  const lv = new ByteView(le);
  lv.setU32(0, blockNr % 2 ** 32);
  lv.setU32(4, Math.floor(blockNr / 2 ** 32));
  const off = XATTR_HEADER.offsetOf("h_checksum");
  let c = crc32cRaw(csumSeed, le);
  c = crc32cRaw(c, block.subarray(0, off));
  c = crc32cRaw(c, new Uint8Array(4));
  return crc32cRaw(c, block.subarray(off + 4));
}

/** A parsed xattr block. */
export interface XattrBlock {
  readonly block: number;
  readonly refcount: number;
  readonly blocks: number;
  readonly hash: number;
  readonly checksum: number;
  /** True when h_checksum matches, or the fs has no metadata_csum. */
  readonly checksumValid: boolean;
  /** The block hash recomputed from the entries (compare with {@link hash}). */
  readonly computedHash: number;
  readonly entries: readonly XattrEntry[];
}

/** Options for {@link parseXattrBlock}. */
export interface XattrBlockOptions extends XattrParseLimits {
  /** crc32c fs seed when metadata_csum is set, else null (no checksum). */
  readonly csumSeed: number | null;
  /** Throw BadChecksum on a mismatch (default true). */
  readonly verifyChecksum?: boolean;
}

/**
 * Parses an xattr block (ext4_xattr_block_check): magic, h_blocks = 1,
 * checksum, then the entries. Throws Corrupt (XATTR_BAD_MAGIC,
 * XATTR_BAD_BLOCKS, XATTR_*) or BadChecksum (XATTR_BAD_CHECKSUM).
 */
export function parseXattrBlock(
  block: Uint8Array,
  blockNr: number,
  opts: XattrBlockOptions,
): XattrBlock {
  const ctx = { block: blockNr };
  const v = new ByteView(block, ctx);
  const magic = XATTR_HEADER.get(v, "h_magic");
  if (magic !== EXT4_XATTR_MAGIC) {
    throw corrupt("XATTR_BAD_MAGIC", `xattr block magic 0x${magic.toString(16)}`, ctx);
  }
  const blocks = XATTR_HEADER.get(v, "h_blocks");
  if (blocks !== 1) throw corrupt("XATTR_BAD_BLOCKS", `xattr block h_blocks ${blocks}`, ctx);
  const checksum = XATTR_HEADER.get(v, "h_checksum");
  let checksumValid = true;
  if (opts.csumSeed !== null) {
    const want = xattrBlockChecksum(opts.csumSeed, blockNr, block);
    checksumValid = want === checksum;
    if (!checksumValid && opts.verifyChecksum !== false) {
      throw badChecksum(
        "XATTR_BAD_CHECKSUM",
        `xattr block checksum 0x${checksum.toString(16)} != computed 0x${want.toString(16)}`,
        ctx,
      );
    }
  }
  const entries = parseXattrEntries(v, XATTR_HEADER.size, 0, opts, ctx);
  return {
    block: blockNr,
    refcount: XATTR_HEADER.get(v, "h_refcount"),
    blocks,
    hash: XATTR_HEADER.get(v, "h_hash"),
    checksum,
    checksumValid,
    computedHash: xattrBlockHash(entries.map((e) => e.hash)),
    entries,
  };
}

/**
 * Parses the in-inode entries: after the 128 + i_extra_isize bytes, a magic
 * word then entries; values are relative to the first entry. Returns [] when
 * there is no room or no magic (no in-inode xattrs).
 */
export function parseInodeXattrs(
  inode: Uint8Array,
  inodeSize: number,
  extraIsize: number,
  limits: XattrParseLimits,
  ctx: Ext4ErrorContext,
): XattrEntry[] {
  const start = 128 + extraIsize;
  if (inodeSize <= 128 || start + 4 > inodeSize) return [];
  const body = new ByteView(inode, ctx, start, inodeSize - start);
  if (body.u32(0) !== EXT4_XATTR_MAGIC) return [];
  const entries = new ByteView(inode, ctx, start + 4, inodeSize - start - 4);
  return parseXattrEntries(entries, 0, 0, limits, { ...ctx, offset: start + 4 });
}

/** An entry to encode: full name and inline value. */
export interface XattrToEncode {
  readonly name: string;
  readonly value: Uint8Array;
}

/**
 * Lays out entries and values in a region as the kernel does (entries from
 * `entriesStart` growing up, values packed down from the end, each padded
 * to 4), with entry hashes when `withHashes`. Returns false when they do not
 * fit. For writers and round-trip tests.
 */
export function encodeXattrEntries(
  region: ByteView,
  entriesStart: number,
  valueBase: number,
  attrs: readonly XattrToEncode[],
  withHashes: boolean,
): boolean {
  let off = entriesStart;
  let valueEnd = region.length;
  const enc = new TextEncoder();
  for (const a of attrs) {
    const { index, suffix } = splitXattrName(a.name);
    const nameBytes = enc.encode(suffix);
    if (nameBytes.length > 255) return false;
    const entryLen = pad4(XATTR_ENTRY.size + nameBytes.length);
    const valueStart = valueEnd - pad4(a.value.length);
    if (off + entryLen + 4 > (a.value.length > 0 ? valueStart : valueEnd)) return false;
    const e = region.sub(off, XATTR_ENTRY.size);
    XATTR_ENTRY.set(e, "e_name_len", nameBytes.length);
    XATTR_ENTRY.set(e, "e_name_index", index);
    XATTR_ENTRY.set(e, "e_value_offs", a.value.length > 0 ? valueStart - valueBase : 0);
    XATTR_ENTRY.set(e, "e_value_inum", 0);
    XATTR_ENTRY.set(e, "e_value_size", a.value.length);
    XATTR_ENTRY.set(e, "e_hash", withHashes ? xattrEntryHash(nameBytes, a.value) : 0);
    region.slice(off + XATTR_ENTRY.size, entryLen - XATTR_ENTRY.size).fill(0);
    region.slice(off + XATTR_ENTRY.size, nameBytes.length).set(nameBytes);
    if (a.value.length > 0) {
      region.slice(valueStart, pad4(a.value.length)).fill(0);
      region.slice(valueStart, a.value.length).set(a.value);
      valueEnd = valueStart;
    }
    off += entryLen;
  }
  region.setU32(off, 0);
  return true;
}
