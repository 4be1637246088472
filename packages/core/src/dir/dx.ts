/**
 * htree index blocks (fs/ext4/namei.c): the dx_root in block 0 (fake "."
 * and ".." entries, dx_root_info, then a dx_countlimit overlaid on the first
 * dx_entry), dx_node blocks (one fake entry covering the block, then the
 * entries), and the dx_tail checksum after `limit` entries. Decoding never
 * judges; {@link checkDxRoot} and {@link checkDxNode} apply the kernel's
 * `dx_probe` rules with named codes.
 */
import { crc32cRange, crc32cRaw, crc32cZeros } from "../crc.js";
import { badChecksum, corrupt, type Ext4Error, type Ext4ErrorContext } from "../errors.js";
import { bytes, defineStruct, u8, u16, u32 } from "../struct.js";
import { ByteView } from "../view.js";
import { dirRecLen, hex, recLenFromDisk } from "./entry.js";
import { DxHashVersion } from "./hash.js";

/** struct fake_dirent: the 8-byte entry header index blocks hide behind. */
export const fakeDirentStruct = defineStruct("fake_dirent", [
  u32("inode", "0 in a dx_node; the directory itself in dx_root's '.'"),
  u16("rec_len", "the whole block in a dx_node"),
  u8("name_len", "0 in a dx_node"),
  u8("file_type", "0 in a dx_node"),
]);

/** struct dx_root: block 0 of an indexed directory, up to the first dx_entry. */
export const dxRootStruct = defineStruct("dx_root", [
  u32("dot_inode", "'.': this directory"),
  u16("dot_rec_len", "12"),
  u8("dot_name_len", "1"),
  u8("dot_file_type", "EXT4_FT_DIR"),
  bytes("dot_name", 4, "'.' padded with NULs"),
  u32("dotdot_inode", "'..': the parent"),
  u16("dotdot_rec_len", "block size - 12: covers the rest of the block"),
  u8("dotdot_name_len", "2"),
  u8("dotdot_file_type", "EXT4_FT_DIR"),
  bytes("dotdot_name", 4, "'..' padded with NULs"),
  u32("reserved_zero", "dx_root_info.reserved_zero: must be 0"),
  u8("hash_version", "dx_root_info.hash_version: DX_HASH_*"),
  u8("info_length", "dx_root_info.info_length: 8"),
  u8("indirect_levels", "dx_root_info.indirect_levels: index levels below the root"),
  u8("unused_flags", "dx_root_info.unused_flags"),
]);

/** struct dx_root_info, on its own (it sits at offset 24 of dx_root). */
export const dxRootInfoStruct = defineStruct("dx_root_info", [
  u32("reserved_zero", "must be 0"),
  u8("hash_version", "DX_HASH_*"),
  u8("info_length", "8"),
  u8("indirect_levels", "index levels below the root"),
  u8("unused_flags", "bit 0 is refused by the kernel"),
]);

/** struct dx_countlimit: overlays the first dx_entry of a root or node. */
export const dxCountLimitStruct = defineStruct("dx_countlimit", [
  u16("limit", "entries that fit"),
  u16("count", "entries in use, including this one"),
]);

/** struct dx_entry: a child pointer with the lowest hash it holds (bit 0: continues a collision). */
export const dxEntryStruct = defineStruct("dx_entry", [
  u32("hash", "lowest hash in the child; bit 0 set when it continues the previous child's hash"),
  u32("block", "logical block of the child"),
]);

/** struct dx_node: an interior index block, up to the first dx_entry. */
export const dxNodeStruct = defineStruct("dx_node", [
  u32("fake_inode", "0"),
  u16("fake_rec_len", "the whole block"),
  u8("fake_name_len", "0"),
  u8("fake_file_type", "0"),
]);

/** struct dx_tail: the checksum after `limit` entries (metadata_csum). */
export const dxTailStruct = defineStruct("dx_tail", [
  u32("dt_reserved", "covered by the checksum"),
  u32("dt_checksum", "crc32c(inode seed, count_offset + count*8 bytes, dt_reserved, 0)"),
]);

/** dx_root_info.info_length the kernel writes. */
export const DX_ROOT_INFO_LENGTH = dxRootInfoStruct.size;
const ROOT_INFO_OFFSET = dxRootStruct.offsetOf("reserved_zero");
const ENTRY_SIZE = dxEntryStruct.size;
const O_LIMIT = dxCountLimitStruct.offsetOf("limit");
const O_COUNT = dxCountLimitStruct.offsetOf("count");
// Every probe and checksum reads these: offsets from the tables, once.
const R_DOT_INODE = dxRootStruct.offsetOf("dot_inode");
const R_DOT_REC_LEN = dxRootStruct.offsetOf("dot_rec_len");
const R_DOTDOT_INODE = dxRootStruct.offsetOf("dotdot_inode");
const R_DOTDOT_REC_LEN = dxRootStruct.offsetOf("dotdot_rec_len");
const R_RESERVED_ZERO = dxRootStruct.offsetOf("reserved_zero");
const R_HASH_VERSION = dxRootStruct.offsetOf("hash_version");
const R_INFO_LENGTH = dxRootStruct.offsetOf("info_length");
const R_INDIRECT_LEVELS = dxRootStruct.offsetOf("indirect_levels");
const R_UNUSED_FLAGS = dxRootStruct.offsetOf("unused_flags");
const N_FAKE_INODE = dxNodeStruct.offsetOf("fake_inode");
const N_FAKE_REC_LEN = dxNodeStruct.offsetOf("fake_rec_len");
const F_REC_LEN = fakeDirentStruct.offsetOf("rec_len");
const E_HASH = dxEntryStruct.offsetOf("hash");
const E_BLOCK = dxEntryStruct.offsetOf("block");
const T_RESERVED = dxTailStruct.offsetOf("dt_reserved");
const T_CHECKSUM = dxTailStruct.offsetOf("dt_checksum");

/** Index levels (root included) allowed: 2, or 3 with largedir (`ext4_dir_htree_level`). */
export function maxHtreeLevels(largedir: boolean): number {
  return largedir ? 3 : 2;
}

/** `dx_root_limit`: dx_entries that fit in block 0 after the fake entries and the info. */
export function dxRootLimit(blockSize: number, infoLength: number, metadataCsum: boolean): number {
  const space =
    blockSize - dirRecLen(1) - dirRecLen(2) - infoLength - (metadataCsum ? dxTailStruct.size : 0);
  return Math.max(0, Math.floor(space / ENTRY_SIZE));
}

/** `dx_node_limit`: dx_entries that fit in an interior block. */
export function dxNodeLimit(blockSize: number, metadataCsum: boolean): number {
  const space = blockSize - dirRecLen(0) - (metadataCsum ? dxTailStruct.size : 0);
  return Math.max(0, Math.floor(space / ENTRY_SIZE));
}

/** One child pointer. */
export interface DxEntry {
  /** The hash (reported as 0 for entry 0, whose hash field holds count/limit). */
  readonly hash: number;
  readonly block: number;
}

/** The counted part shared by root and node blocks. */
export interface DxEntries {
  /** Byte offset of dx_countlimit in the block (32 for a root with info_length 8, 8 for a node). */
  readonly countOffset: number;
  readonly limit: number;
  readonly count: number;
  /** The first min(count, what fits in the block) entries. */
  readonly entries: readonly DxEntry[];
}

/** A decoded dx_root (no judgement). */
export interface DxRoot extends DxEntries {
  readonly dotInode: number;
  readonly dotRecLen: number;
  readonly dotdotInode: number;
  readonly dotdotRecLen: number;
  readonly reservedZero: number;
  readonly hashVersion: number;
  readonly infoLength: number;
  readonly indirectLevels: number;
  readonly unusedFlags: number;
}

/** A decoded dx_node (no judgement). */
export interface DxNode extends DxEntries {
  readonly fakeInode: number;
  /** Decoded rec_len of the fake entry (a real index node covers the block). */
  readonly fakeRecLen: number;
}

function decodeEntries(
  v: ByteView,
  countOffset: number,
  ctx: Ext4ErrorContext,
  maxEntries: number,
): DxEntries {
  const cl = v.sub(countOffset, dxCountLimitStruct.size, { ...ctx, offset: countOffset });
  const limit = cl.u16(O_LIMIT);
  const count = cl.u16(O_COUNT);
  // Read no more entries than the block holds, whatever count says.
  const fits = Math.floor((v.length - countOffset) / ENTRY_SIZE);
  const n = Math.min(count, fits, maxEntries);
  const entries: DxEntry[] = [];
  for (let i = 0; i < n; i++) {
    const off = countOffset + i * ENTRY_SIZE;
    entries.push({
      hash: i === 0 ? 0 : v.u32(off + E_HASH),
      block: v.u32(off + E_BLOCK),
    });
  }
  return { countOffset, limit, count, entries };
}

/**
 * Decodes block 0 of an indexed directory. The entries start at
 * 24 + info_length as the kernel computes them; `entries` holds at most
 * `maxEntries` of them (a probe reads them in place with {@link DxEntryView}
 * instead). Throws Corrupt only when the block cannot even hold the header
 * or the count/limit word.
 */
export function decodeDxRoot(
  block: Uint8Array,
  ctx: Ext4ErrorContext = {},
  maxEntries = Number.POSITIVE_INFINITY,
): DxRoot {
  const v = new ByteView(block, ctx);
  const r = dxRootStruct;
  if (v.length < r.size) {
    throw corrupt("DX_ROOT_TRUNCATED", `dx_root needs ${r.size} bytes, block has ${v.length}`, ctx);
  }
  const infoLength = v.u8(R_INFO_LENGTH);
  const countOffset = ROOT_INFO_OFFSET + infoLength;
  if (countOffset + dxCountLimitStruct.size > v.length) {
    throw corrupt(
      "DX_ROOT_INFO_LENGTH",
      `info_length ${infoLength} leaves no room for entries`,
      ctx,
    );
  }
  return {
    dotInode: v.u32(R_DOT_INODE),
    dotRecLen: recLenFromDisk(v.u16(R_DOT_REC_LEN), v.length),
    dotdotInode: v.u32(R_DOTDOT_INODE),
    dotdotRecLen: recLenFromDisk(v.u16(R_DOTDOT_REC_LEN), v.length),
    reservedZero: v.u32(R_RESERVED_ZERO),
    hashVersion: v.u8(R_HASH_VERSION),
    infoLength,
    indirectLevels: v.u8(R_INDIRECT_LEVELS),
    unusedFlags: v.u8(R_UNUSED_FLAGS),
    ...decodeEntries(v, countOffset, ctx, maxEntries),
  };
}

/**
 * Decodes an interior index block (`entries` capped at `maxEntries`).
 * Throws Corrupt only for a block shorter than 12 bytes.
 */
export function decodeDxNode(
  block: Uint8Array,
  ctx: Ext4ErrorContext = {},
  maxEntries = Number.POSITIVE_INFINITY,
): DxNode {
  const v = new ByteView(block, ctx);
  return {
    fakeInode: v.u32(N_FAKE_INODE),
    fakeRecLen: recLenFromDisk(v.u16(N_FAKE_REC_LEN), v.length),
    ...decodeEntries(v, dxNodeStruct.size, ctx, maxEntries),
  };
}

/** What the checks need to know about the filesystem and directory. */
export interface DxCheckOptions {
  readonly blockSize: number;
  readonly metadataCsum: boolean;
  readonly largedir: boolean;
  /** The directory stores hashes in its entries (encrypted + casefolded): its root must say siphash. */
  readonly hashInDirent: boolean;
  readonly context?: Ext4ErrorContext;
}

/**
 * Codes of index problems after which the kernel falls back to a linear
 * scan (`ERR_BAD_DX_DIR` from `dx_probe`); other failures (checksums, holes,
 * blocks past i_size, a leaf where an index block should be) are errors.
 */
export const DX_FALLBACK_CODES: ReadonlySet<string> = new Set([
  "DX_ROOT_BAD_HASH_VERSION",
  "DX_ROOT_SIPHASH_MISMATCH",
  "DX_ROOT_UNUSED_FLAGS",
  "DX_ROOT_TOO_DEEP",
  "DX_ROOT_RESERVED",
  "DX_ROOT_INFO_LENGTH",
  "DX_BAD_LIMIT",
  "DX_BAD_COUNT",
  "DX_TREE_CYCLE",
]);

/** True for an error after which a lookup should scan linearly instead. */
export function isDxFallback(e: Ext4Error): boolean {
  return e.kind === "Corrupt" && DX_FALLBACK_CODES.has(e.code);
}

function checkCounts(d: DxEntries, expectedLimit: number, ctx: Ext4ErrorContext): void {
  if (d.limit !== expectedLimit) {
    throw corrupt("DX_BAD_LIMIT", `dx limit ${d.limit} != expected ${expectedLimit}`, ctx);
  }
  // The limit matched the block geometry above, so count ≤ limit also bounds the entries to the block.
  if (d.count === 0 || d.count > d.limit) {
    throw corrupt("DX_BAD_COUNT", `dx count ${d.count} outside 1..${d.limit}`, ctx);
  }
}

/**
 * Applies `dx_probe`'s root checks (plus e2fsck's reserved_zero and
 * info_length rules). Throws Corrupt DX_ROOT_* / DX_BAD_LIMIT / DX_BAD_COUNT.
 */
export function checkDxRoot(root: DxRoot, o: DxCheckOptions): void {
  const ctx = { ...o.context, block: 0 };
  const hv = root.hashVersion;
  if (
    hv !== DxHashVersion.Legacy &&
    hv !== DxHashVersion.HalfMd4 &&
    hv !== DxHashVersion.Tea &&
    hv !== DxHashVersion.Siphash
  ) {
    throw corrupt("DX_ROOT_BAD_HASH_VERSION", `unrecognised hash version ${hv}`, ctx);
  }
  if ((hv === DxHashVersion.Siphash) !== o.hashInDirent) {
    throw corrupt(
      "DX_ROOT_SIPHASH_MISMATCH",
      o.hashInDirent ? "hash in dirent, but hash is not siphash" : "siphash without hash in dirent",
      ctx,
    );
  }
  if (root.unusedFlags & 1) {
    throw corrupt("DX_ROOT_UNUSED_FLAGS", `unimplemented hash flags 0x${root.unusedFlags}`, ctx);
  }
  if (root.indirectLevels >= maxHtreeLevels(o.largedir)) {
    throw corrupt(
      "DX_ROOT_TOO_DEEP",
      `htree indirect levels ${root.indirectLevels} exceed the supported ${maxHtreeLevels(o.largedir) - 1}`,
      ctx,
    );
  }
  if (root.reservedZero !== 0) {
    throw corrupt("DX_ROOT_RESERVED", `dx_root_info.reserved_zero is ${root.reservedZero}`, ctx);
  }
  if (root.infoLength !== DX_ROOT_INFO_LENGTH) {
    throw corrupt("DX_ROOT_INFO_LENGTH", `dx_root_info.info_length is ${root.infoLength}`, ctx);
  }
  checkCounts(root, dxRootLimit(o.blockSize, root.infoLength, o.metadataCsum), ctx);
}

/**
 * Applies the checks on an interior node (`__ext4_read_dirblock` INDEX and
 * `dx_probe`). Throws Corrupt DX_NODE_NOT_INDEX, DX_BAD_LIMIT, DX_BAD_COUNT.
 */
export function checkDxNode(node: DxNode, lblk: number, o: DxCheckOptions): void {
  const ctx = { ...o.context, block: lblk };
  if (node.fakeRecLen !== o.blockSize) {
    throw corrupt("DX_NODE_NOT_INDEX", "directory leaf block found instead of index block", ctx);
  }
  checkCounts(node, dxNodeLimit(o.blockSize, o.metadataCsum), ctx);
}

/**
 * Where dx_countlimit is in an index block (`get_dx_countlimit`): 8 when the
 * first entry covers the block (a node), 32 when it is a well-formed root;
 * null otherwise.
 */
export function dxCountOffset(block: Uint8Array, blockSize: number): number | null {
  const v = new ByteView(block);
  if (v.length < blockSize || blockSize < dxRootStruct.size) return null;
  const rlen = recLenFromDisk(v.u16(F_REC_LEN), blockSize);
  if (rlen === blockSize) return dxNodeStruct.size;
  if (rlen !== dirRecLen(1)) return null;
  const dotdot = recLenFromDisk(v.u16(R_DOTDOT_REC_LEN), blockSize);
  if (dotdot !== blockSize - dirRecLen(1)) return null;
  if (v.u32(R_RESERVED_ZERO) !== 0) return null;
  if (v.u8(R_INFO_LENGTH) !== DX_ROOT_INFO_LENGTH) return null;
  return ROOT_INFO_OFFSET + DX_ROOT_INFO_LENGTH;
}

/** A dx_tail's stored and computed checksums. */
export interface DxCsum {
  /** dt_reserved (covered by the checksum). */
  readonly reserved: number;
  readonly stored: number;
  readonly computed: number;
}

/**
 * Reads the dx_tail of an index block and computes `ext4_dx_csum`: crc32c
 * over count_offset + count*8 bytes, then dt_reserved, then four zero bytes.
 * Returns null when the block has no room for a tail after `limit` entries
 * (or count exceeds limit, which leaves nothing sound to checksum).
 */
export function dxCsum(
  inodeSeed: number,
  block: Uint8Array,
  blockSize: number,
  countOffset: number,
): DxCsum | null {
  const v = new ByteView(block);
  if (countOffset + dxCountLimitStruct.size > blockSize) return null;
  const limit = v.u16(countOffset + O_LIMIT);
  const count = v.u16(countOffset + O_COUNT);
  const tailOff = countOffset + limit * ENTRY_SIZE;
  if (tailOff + dxTailStruct.size > blockSize || count > limit) return null;
  const tail = v.sub(tailOff, dxTailStruct.size);
  const reserved = tail.u32(T_RESERVED);
  let c = crc32cRaw(inodeSeed, block.subarray(0, countOffset + count * ENTRY_SIZE));
  c = crc32cRange(c, block, tailOff + T_RESERVED, tailOff + T_RESERVED + 4);
  c = crc32cZeros(c, 4);
  return { reserved, stored: tail.u32(T_CHECKSUM), computed: c };
}

/**
 * Verifies an index block's checksum (`ext4_dx_csum_verify`). Throws
 * BadChecksum DX_COUNTLIMIT_NOT_FOUND when the block is neither a well-formed
 * root nor a node, DX_TAIL_MISSING when no tail fits, DX_BAD_CHECKSUM on a
 * mismatch.
 */
export function verifyDxChecksum(
  inodeSeed: number,
  block: Uint8Array,
  blockSize: number,
  context: Ext4ErrorContext = {},
): void {
  const countOffset = dxCountOffset(block, blockSize);
  if (countOffset === null) {
    throw badChecksum("DX_COUNTLIMIT_NOT_FOUND", "index block has no dx_countlimit", context);
  }
  const c = dxCsum(inodeSeed, block, blockSize, countOffset);
  if (c === null) {
    throw badChecksum("DX_TAIL_MISSING", "index block has no room for dx_tail", context);
  }
  if (c.stored !== c.computed) {
    throw badChecksum(
      "DX_BAD_CHECKSUM",
      `index block checksum 0x${hex(c.stored)} != computed 0x${hex(c.computed)}`,
      context,
    );
  }
}

/** dx_entries read in place from an index block (a private copy: probes keep it across reads). */
export class DxEntryView {
  private readonly v: ByteView;
  /**
   * @param block the index block; `count` entries at `countOffset` must lie
   *   inside it (checkDxRoot/checkDxNode guarantee it)
   */
  constructor(
    block: Uint8Array,
    readonly countOffset: number,
    readonly count: number,
  ) {
    this.v = new ByteView(block);
  }
  /** Hash of entry `i` (0 for entry 0, whose slot holds count/limit). Throws Corrupt past the block. */
  hash(i: number): number {
    return i === 0 ? 0 : this.v.u32(this.countOffset + i * ENTRY_SIZE + E_HASH);
  }
  /** Child block of entry `i`. Throws Corrupt past the block. */
  block(i: number): number {
    return this.v.u32(this.countOffset + i * ENTRY_SIZE + E_BLOCK);
  }
}

/**
 * The index position `dx_probe` picks in one node: the last entry whose hash
 * is ≤ `hash`, searching entries 1..count-1 (entry 0 covers everything below
 * entry 1).
 */
export function dxSearch(entries: readonly DxEntry[] | DxEntryView, hash: number): number {
  const count = entries instanceof DxEntryView ? entries.count : entries.length;
  // OK to assert: the search stays within 1..count-1.
  const hashAt = (i: number) =>
    entries instanceof DxEntryView ? entries.hash(i) : entries[i]!.hash;
  let p = 1;
  let q = count - 1;
  while (p <= q) {
    const m = p + ((q - p) >> 1);
    if (hashAt(m) > hash) q = m - 1;
    else p = m + 1;
  }
  return p - 1;
}

/**
 * Writes dx_countlimit and entries into an index block at `countOffset`
 * (for builders and writers; entry 0's hash slot is the countlimit).
 */
export function writeDxEntries(
  block: Uint8Array,
  countOffset: number,
  limit: number,
  entries: readonly DxEntry[],
): void {
  const v = new ByteView(block);
  entries.forEach((e, i) => {
    const off = countOffset + i * ENTRY_SIZE;
    if (i > 0) v.setU32(off + E_HASH, e.hash);
    v.setU32(off + E_BLOCK, e.block);
  });
  v.setU16(countOffset + O_LIMIT, limit);
  v.setU16(countOffset + O_COUNT, entries.length);
}

/** Writes the dx_tail after `limit` entries and fills in its checksum (`ext4_dx_csum_set`). */
export function writeDxTail(
  block: Uint8Array,
  blockSize: number,
  countOffset: number,
  inodeSeed: number,
): void {
  const v = new ByteView(block);
  const limit = v.u16(countOffset + O_LIMIT);
  const tailOff = countOffset + limit * ENTRY_SIZE;
  v.setU32(tailOff + T_RESERVED, 0);
  const c = dxCsum(inodeSeed, block, blockSize, countOffset);
  // OK to assert: the caller laid out limit entries with room for the tail.
  v.setU32(tailOff + T_CHECKSUM, c!.computed);
}
