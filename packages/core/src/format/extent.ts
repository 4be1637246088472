/**
 * Extent tree nodes (fs/ext4/ext4_extents.h): the header, leaf and index
 * entry tables, decoding and validating one node (root in i_block or a tree
 * block), the tail checksum, and encoders for writers and round-trip tests.
 */
import { crc32cRaw } from "../crc.js";
import { badChecksum, corrupt, type Ext4ErrorContext } from "../errors.js";
import { defineStruct, u16, u32 } from "../struct.js";
import { ByteView } from "../view.js";

/** struct ext4_extent_header. */
export const EXTENT_HEADER = defineStruct("ext4_extent_header", [
  u16("eh_magic", "0xF30A"),
  u16("eh_entries", "valid entries following the header"),
  u16("eh_max", "capacity of the node in entries"),
  u16("eh_depth", "0 for a leaf; the root's depth is the tree's"),
  u32("eh_generation", "generation of the tree (unused by Linux)"),
]);

/** struct ext4_extent: a leaf entry. */
export const EXTENT = defineStruct("ext4_extent", [
  u32("ee_block", "first logical block covered"),
  u16("ee_len", "length; > 32768 marks an unwritten extent of ee_len - 32768"),
  u16("ee_start_hi", "first physical block, high 16 bits"),
  u32("ee_start_lo", "first physical block, low 32 bits"),
]);

/** struct ext4_extent_idx: an index entry. */
export const EXTENT_IDX = defineStruct("ext4_extent_idx", [
  u32("ei_block", "index covers logical blocks from here on"),
  u32("ei_leaf_lo", "child node block, low 32 bits"),
  u16("ei_leaf_hi", "child node block, high 16 bits"),
  u16("ei_unused", "unused"),
]);

/** struct ext4_extent_tail: follows eh_max entries in a tree block. */
export const EXTENT_TAIL = defineStruct("ext4_extent_tail", [
  u32("et_checksum", "crc32c(inode seed, block up to the tail)"),
]);

/** eh_magic. */
export const EXT4_EXT_MAGIC = 0xf30a;
/** EXT4_MAX_EXTENT_DEPTH: deeper trees are corrupt. */
export const EXT4_MAX_EXTENT_DEPTH = 5;
/** EXT_INIT_MAX_LEN: an ee_len above this marks an unwritten extent. */
export const EXT_INIT_MAX_LEN = 32768;
/** The largest logical block (EXT4_MAX_LOGICAL_BLOCK). */
export const EXT4_MAX_LOGICAL_BLOCK = 0xfffffffe;

// Offsets from the tables above, computed once: every block map of every
// directory and file lookup decodes the root, and tree walks every node.
const EH_MAGIC = EXTENT_HEADER.offsetOf("eh_magic");
const EH_ENTRIES = EXTENT_HEADER.offsetOf("eh_entries");
const EH_MAX = EXTENT_HEADER.offsetOf("eh_max");
const EH_DEPTH = EXTENT_HEADER.offsetOf("eh_depth");
const EH_GENERATION = EXTENT_HEADER.offsetOf("eh_generation");
const EE_BLOCK = EXTENT.offsetOf("ee_block");
const EE_LEN = EXTENT.offsetOf("ee_len");
const EE_START_HI = EXTENT.offsetOf("ee_start_hi");
const EE_START_LO = EXTENT.offsetOf("ee_start_lo");
const EI_BLOCK = EXTENT_IDX.offsetOf("ei_block");
const EI_LEAF_LO = EXTENT_IDX.offsetOf("ei_leaf_lo");
const EI_LEAF_HI = EXTENT_IDX.offsetOf("ei_leaf_hi");

/** A leaf entry, decoded. */
export interface Extent {
  /** First logical block. */
  readonly logical: number;
  /** First physical block. */
  readonly physical: number;
  /** Number of blocks (1..32768). */
  readonly length: number;
  /** Allocated but reads as zeros (fallocate). */
  readonly unwritten: boolean;
}

/** An index entry, decoded. */
export interface ExtentIndex {
  /** First logical block covered by the child. */
  readonly logical: number;
  /** Block of the child node. */
  readonly child: number;
}

/** One decoded node: its header and either extents (depth 0) or index entries. */
export interface ExtentNodeData {
  readonly entries: number;
  readonly max: number;
  readonly depth: number;
  readonly generation: number;
  readonly extents: readonly Extent[];
  readonly indexes: readonly ExtentIndex[];
}

/** Limits a node is checked against. */
export interface ExtentNodeCheck {
  /** The depth this node must have (its parent's depth - 1, or any for the root). */
  readonly expectedDepth?: number;
  /** Logical range the node's keys must lie in: [start, end) from the parent index. */
  readonly start?: number;
  readonly end?: number;
  /** Physical blocks must be in [firstDataBlock, blocksCount). */
  readonly firstDataBlock: number;
  readonly blocksCount: number;
}

/** Entries that fit a node of `bytes` bytes: (size - header) / 12. */
export function extentCapacity(bytes: number): number {
  return Math.floor((bytes - EXTENT_HEADER.size) / EXTENT.size);
}

/**
 * Decodes and validates a node (ext4's __ext4_ext_check and
 * ext4_valid_extent_entries): magic, entries ≤ max ≤ capacity, depth ≤ 5
 * and as expected, keys strictly ascending and inside the parent's range,
 * leaf lengths non-zero and not wrapping past 2^32, physical blocks inside
 * the filesystem. Throws Corrupt with EXTENT_* codes.
 */
export function decodeExtentNode(
  bytes: Uint8Array,
  check: ExtentNodeCheck,
  ctx: Ext4ErrorContext = {},
): ExtentNodeData {
  const v = new ByteView(bytes, ctx);
  const magic = v.u16(EH_MAGIC);
  if (magic !== EXT4_EXT_MAGIC) {
    throw corrupt("EXTENT_BAD_MAGIC", `extent header magic 0x${magic.toString(16)}`, ctx);
  }
  const entries = v.u16(EH_ENTRIES);
  const max = v.u16(EH_MAX);
  const depth = v.u16(EH_DEPTH);
  const generation = v.u32(EH_GENERATION);
  if (depth > EXT4_MAX_EXTENT_DEPTH) {
    throw corrupt("EXTENT_TOO_DEEP", `extent depth ${depth} > ${EXT4_MAX_EXTENT_DEPTH}`, ctx);
  }
  if (check.expectedDepth !== undefined && depth !== check.expectedDepth) {
    throw corrupt("EXTENT_BAD_DEPTH", `depth ${depth}, expected ${check.expectedDepth}`, ctx);
  }
  const capacity = extentCapacity(bytes.length);
  if (max === 0 || max > capacity) {
    throw corrupt("EXTENT_BAD_MAX", `eh_max ${max} (capacity ${capacity})`, ctx);
  }
  if (entries > max) {
    throw corrupt("EXTENT_TOO_MANY_ENTRIES", `eh_entries ${entries} > eh_max ${max}`, ctx);
  }
  if (entries === 0 && depth > 0) {
    throw corrupt("EXTENT_EMPTY_INDEX", "index node with no entries", ctx);
  }
  const start = check.start ?? 0;
  const end = check.end ?? 2 ** 32;
  const blockOk = (b: number, n: number): boolean =>
    b >= check.firstDataBlock && b + n <= check.blocksCount;
  const extents: Extent[] = [];
  const indexes: ExtentIndex[] = [];
  let prevEnd = start;
  for (let i = 0; i < entries; i++) {
    const off = EXTENT_HEADER.size + i * EXTENT.size;
    // The entry's own context only when a check fails: this loop runs for every entry.
    const e = v.sub(off, EXTENT.size);
    const ectx = (): Ext4ErrorContext => ({ ...ctx, offset: (ctx.offset ?? 0) + off });
    if (depth === 0) {
      const x = decodeExtent(e);
      if (x.length === 0) throw corrupt("EXTENT_ZERO_LENGTH", "extent of length 0", ectx());
      if (x.logical < prevEnd || (i === 0 && x.logical < start)) {
        throw corrupt(
          "EXTENT_UNORDERED",
          `extent at ${x.logical} overlaps or precedes ${prevEnd}`,
          ectx(),
        );
      }
      if (x.logical + x.length > end) {
        throw corrupt("EXTENT_OUT_OF_RANGE", `extent ${x.logical}+${x.length} past ${end}`, ectx());
      }
      if (!blockOk(x.physical, x.length)) {
        throw corrupt(
          "EXTENT_BAD_PHYSICAL",
          `extent blocks ${x.physical}+${x.length} outside the filesystem`,
          { ...ectx(), block: x.physical },
        );
      }
      prevEnd = x.logical + x.length;
      extents.push(x);
    } else {
      const x = decodeExtentIndex(e);
      // Index keys strictly ascend and stay inside the parent's range.
      if ((i > 0 && x.logical < prevEnd) || (i === 0 && x.logical < start)) {
        throw corrupt("EXTENT_UNORDERED", `index key ${x.logical} not ascending`, ectx());
      }
      if (x.logical >= end) {
        throw corrupt("EXTENT_OUT_OF_RANGE", `index key ${x.logical} past ${end}`, ectx());
      }
      if (!blockOk(x.child, 1)) {
        throw corrupt("EXTENT_BAD_PHYSICAL", `index child ${x.child} outside the filesystem`, {
          ...ectx(),
          block: x.child,
        });
      }
      prevEnd = x.logical + 1;
      indexes.push(x);
    }
  }
  return { entries, max, depth, generation, extents, indexes };
}

/** Decodes one leaf entry (no validation). */
export function decodeExtent(v: ByteView): Extent {
  const len = v.u16(EE_LEN);
  const unwritten = len > EXT_INIT_MAX_LEN;
  return {
    logical: v.u32(EE_BLOCK),
    physical: v.u32(EE_START_LO) + v.u16(EE_START_HI) * 2 ** 32,
    length: unwritten ? len - EXT_INIT_MAX_LEN : len,
    unwritten,
  };
}

/** Encodes one leaf entry. Throws RangeError for a length the format cannot hold. */
export function encodeExtent(v: ByteView, x: Extent): void {
  const maxLen = x.unwritten ? EXT_INIT_MAX_LEN - 1 : EXT_INIT_MAX_LEN;
  if (x.length < 1 || x.length > maxLen) throw new RangeError(`extent length ${x.length}`);
  EXTENT.set(v, "ee_block", x.logical);
  EXTENT.set(v, "ee_len", x.unwritten ? x.length + EXT_INIT_MAX_LEN : x.length);
  EXTENT.set(v, "ee_start_lo", x.physical % 2 ** 32);
  EXTENT.set(v, "ee_start_hi", Math.floor(x.physical / 2 ** 32));
}

/** Decodes one index entry (no validation). */
export function decodeExtentIndex(v: ByteView): ExtentIndex {
  return {
    logical: v.u32(EI_BLOCK),
    child: v.u32(EI_LEAF_LO) + v.u16(EI_LEAF_HI) * 2 ** 32,
  };
}

/** Encodes one index entry. */
export function encodeExtentIndex(v: ByteView, x: ExtentIndex): void {
  EXTENT_IDX.set(v, "ei_block", x.logical);
  EXTENT_IDX.set(v, "ei_leaf_lo", x.child % 2 ** 32);
  EXTENT_IDX.set(v, "ei_leaf_hi", Math.floor(x.child / 2 ** 32));
  EXTENT_IDX.set(v, "ei_unused", 0);
}

/** Encodes a whole node (header then entries) into `bytes`; the rest is left as is. */
export function encodeExtentNode(bytes: Uint8Array, node: Omit<ExtentNodeData, "entries">): void {
  const v = new ByteView(bytes);
  const entries = node.depth === 0 ? node.extents.length : node.indexes.length;
  if (entries > node.max) throw new RangeError(`${entries} entries > max ${node.max}`);
  EXTENT_HEADER.set(v, "eh_magic", EXT4_EXT_MAGIC);
  EXTENT_HEADER.set(v, "eh_entries", entries);
  EXTENT_HEADER.set(v, "eh_max", node.max);
  EXTENT_HEADER.set(v, "eh_depth", node.depth);
  EXTENT_HEADER.set(v, "eh_generation", node.generation);
  for (let i = 0; i < entries; i++) {
    const e = v.sub(EXTENT_HEADER.size + i * EXTENT.size, EXTENT.size);
    // OK to assert: i < entries = the length of the array chosen by depth.
    if (node.depth === 0) encodeExtent(e, node.extents[i]!);
    else encodeExtentIndex(e, node.indexes[i]!);
  }
}

/** Offset of the tail checksum in a tree block: after eh_max entries. */
export function extentTailOffset(max: number): number {
  return EXTENT_HEADER.size + max * EXTENT.size;
}

/** ext4_extent_block_csum: crc32c(inode seed) over the block up to the tail. */
export function extentBlockChecksum(inodeSeed: number, block: Uint8Array, max: number): number {
  return crc32cRaw(inodeSeed, block.subarray(0, extentTailOffset(max)));
}

/**
 * Verifies a tree block's tail checksum. Throws BadChecksum
 * (EXTENT_BAD_CHECKSUM), or Corrupt when the tail does not fit the block.
 */
export function verifyExtentBlockChecksum(
  inodeSeed: number,
  block: Uint8Array,
  max: number,
  ctx: Ext4ErrorContext,
): void {
  const off = extentTailOffset(max);
  const stored = new ByteView(block, ctx).u32(off);
  const want = extentBlockChecksum(inodeSeed, block, max);
  if (stored !== want) {
    throw badChecksum(
      "EXTENT_BAD_CHECKSUM",
      `extent block checksum 0x${stored.toString(16)} != computed 0x${want.toString(16)}`,
      ctx,
    );
  }
}

/** Stores a tree block's tail checksum (writers and tests). */
export function setExtentBlockChecksum(inodeSeed: number, block: Uint8Array, max: number): void {
  new ByteView(block).setU32(extentTailOffset(max), extentBlockChecksum(inodeSeed, block, max));
}
