/**
 * Block and inode bitmaps: a small bit-set type, the crc32c bitmap checksums
 * stored in the group descriptor, and the block bitmap the kernel computes
 * for a BLOCK_UNINIT group (ext4_init_block_bitmap).
 */
import { crc32cRaw } from "../crc.js";
import {
  BG_BLOCK_BITMAP_CSUM_HI_END,
  BG_INODE_BITMAP_CSUM_HI_END,
  type GroupDesc,
  groupGdtBlocks,
} from "./group-desc.js";
import { blocksInGroup, groupFirstBlock, groupHasSuper, type Superblock } from "./superblock.js";

/** A fixed-length little-endian bit set (bit i is byte i>>3, bit i&7), as ext4 bitmaps are stored. */
export class Bitmap {
  /**
   * @param bytes the bits (owned by this bitmap; a copy of any cache buffer)
   * @param length the number of meaningful bits (clusters or inodes per group)
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly length: number,
  ) {
    if (length > bytes.length * 8) throw new RangeError(`${length} bits in ${bytes.length} bytes`);
  }

  /** Bit `i`. Throws RangeError outside [0, length). */
  get(i: number): boolean {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`bit ${i} outside [0, ${this.length})`);
    // OK to assert: i < length ≤ bytes.length × 8.
    return ((this.bytes[i >>> 3]! >>> (i & 7)) & 1) === 1;
  }

  /** Sets bit `i`. Throws RangeError outside [0, length). */
  set(i: number): void {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`bit ${i} outside [0, ${this.length})`);
    // OK to assert: as in get().
    this.bytes[i >>> 3] = this.bytes[i >>> 3]! | (1 << (i & 7));
  }

  /** Clears bit `i`. Throws RangeError outside [0, length). */
  clear(i: number): void {
    if (!(i >= 0 && i < this.length)) throw new RangeError(`bit ${i} outside [0, ${this.length})`);
    // OK to assert: as in get().
    this.bytes[i >>> 3] = this.bytes[i >>> 3]! & ~(1 << (i & 7));
  }

  /** Number of set bits among the first `length`. */
  countSet(): number {
    let n = 0;
    const whole = this.length >>> 3;
    for (let i = 0; i < whole; i++) n += POPCOUNT[this.bytes[i] ?? 0] ?? 0;
    for (let i = whole * 8; i < this.length; i++) if (this.get(i)) n++;
    return n;
  }
}

const POPCOUNT = (() => {
  const t = new Uint8Array(256);
  for (let i = 1; i < 256; i++) t[i] = (i & 1) + (t[i >>> 1] ?? 0);
  return t;
})();

/** ext4_block_bitmap_csum: crc32c(seed) over the first clusters-per-group / 8 bytes. */
export function blockBitmapChecksum(sb: Superblock, bitmap: Uint8Array): number {
  return crc32cRaw(sb.csumSeed, bitmap.subarray(0, sb.clustersPerGroup >>> 3));
}

/** ext4_inode_bitmap_csum: crc32c(seed) over the first inodes-per-group / 8 bytes. */
export function inodeBitmapChecksum(sb: Superblock, bitmap: Uint8Array): number {
  return crc32cRaw(sb.csumSeed, bitmap.subarray(0, sb.inodesPerGroup >>> 3));
}

/**
 * True when a block bitmap matches the checksum in its descriptor (compared
 * over 16 bits for 32-byte descriptors, as ext4_block_bitmap_csum_verify), or
 * the fs has no metadata_csum.
 */
export function blockBitmapChecksumValid(
  sb: Superblock,
  gd: GroupDesc,
  bitmap: Uint8Array,
): boolean {
  if (!sb.features.metadataCsum) return true;
  const c = blockBitmapChecksum(sb, bitmap);
  return sb.descSize >= BG_BLOCK_BITMAP_CSUM_HI_END
    ? c === gd.blockBitmapCsum
    : (c & 0xffff) === gd.blockBitmapCsum;
}

/** As {@link blockBitmapChecksumValid}, for the inode bitmap. */
export function inodeBitmapChecksumValid(
  sb: Superblock,
  gd: GroupDesc,
  bitmap: Uint8Array,
): boolean {
  if (!sb.features.metadataCsum) return true;
  const c = inodeBitmapChecksum(sb, bitmap);
  return sb.descSize >= BG_INODE_BITMAP_CSUM_HI_END
    ? c === gd.inodeBitmapCsum
    : (c & 0xffff) === gd.inodeBitmapCsum;
}

/**
 * Clusters at the start of a group used by the superblock copy, GDT and
 * reserved GDT blocks (ext4_num_base_meta_clusters).
 */
export function baseMetaBlocks(sb: Superblock, group: number): number {
  let num = groupHasSuper(sb, group) ? 1 : 0;
  if (!sb.features.has("meta_bg") || group < sb.firstMetaBg * sb.descPerBlock) {
    if (num !== 0) num += groupGdtBlocks(sb, group) + sb.reservedGdtBlocks;
  } else {
    num += groupGdtBlocks(sb, group);
  }
  return num;
}

/**
 * The block bitmap of a BLOCK_UNINIT group, as ext4_init_block_bitmap builds
 * it: superblock/GDT/reserved GDT blocks, then this group's own bitmaps and
 * inode table when they lie inside it (flex_bg may put them elsewhere), and
 * every bit past the group's last cluster set.
 */
export function uninitBlockBitmap(sb: Superblock, gd: GroupDesc, group: number): Bitmap {
  const bytes = new Uint8Array(sb.blockSize);
  const bm = new Bitmap(bytes, sb.clustersPerGroup);
  const bits = bm.length;
  const ratio = sb.clusterRatio;
  const start = groupFirstBlock(sb, group);
  const clusters = Math.ceil(blocksInGroup(sb, group) / ratio);
  const base = Math.ceil(baseMetaBlocks(sb, group) / ratio);
  for (let i = 0; i < base && i < bits; i++) bm.set(i);
  const mark = (block: number, count: number): void => {
    for (let b = block; b < block + count; b++) {
      const rel = b - start;
      if (rel >= 0 && rel < blocksInGroup(sb, group)) bm.set(Math.floor(rel / ratio));
    }
  };
  mark(gd.blockBitmap, 1);
  mark(gd.inodeBitmap, 1);
  mark(gd.inodeTable, sb.inodeTableBlocks);
  for (let i = clusters; i < bits; i++) bm.set(i);
  // ext4_mark_bitmap_end also sets the padding up to blockSize × 8.
  for (let i = bits; i < sb.blockSize * 8; i++) {
    // OK to assert: i < blockSize × 8, so the byte exists.
    bytes[i >>> 3] = bytes[i >>> 3]! | (1 << (i & 7));
  }
  return bm;
}

/** Bit `i` of a little-endian bitmap held in `bytes` (bits past the array read as set). */
export function testBit(bytes: Uint8Array, i: number): boolean {
  const b = bytes[i >>> 3];
  return b === undefined || ((b >>> (i & 7)) & 1) === 1;
}

/**
 * The first clear bit in [from, end) of `bytes`, or `end` when there is
 * none. Whole 0xff bytes are skipped at once: allocators scan groups of
 * 32768 bits with this.
 */
export function findClearBit(bytes: Uint8Array, from: number, end: number): number {
  return findBit(bytes, from, end, false);
}

/** The first set bit in [from, end) of `bytes`, or `end` when there is none (0x00 bytes skipped at once). */
export function findSetBit(bytes: Uint8Array, from: number, end: number): number {
  return findBit(bytes, from, end, true);
}

/** The first bit equal to `set` in [from, end), skipping whole bytes that hold none. */
function findBit(bytes: Uint8Array, from: number, end: number, set: boolean): number {
  // A byte without the bit sought: 0x00 when looking for a set bit, 0xff for a clear one.
  const skip = set ? 0 : 0xff;
  let i = from;
  while (i < end) {
    if ((i & 7) === 0) {
      // Whole bytes, then eight at a time: an allocation scans the group's
      // bitmap from its start, so a filling group costs a scan of its used part.
      let byte = i >>> 3;
      // Bits past the array read as set (testBit): only bytes inside it are skipped.
      const last = Math.min(end >>> 3, bytes.length);
      while (byte + 8 <= last) {
        // OK to assert: byte + 8 <= last <= bytes.length.
        const differs =
          (bytes[byte]! ^ skip) |
          (bytes[byte + 1]! ^ skip) |
          (bytes[byte + 2]! ^ skip) |
          (bytes[byte + 3]! ^ skip) |
          (bytes[byte + 4]! ^ skip) |
          (bytes[byte + 5]! ^ skip) |
          (bytes[byte + 6]! ^ skip) |
          (bytes[byte + 7]! ^ skip);
        if (differs !== 0) break;
        byte += 8;
      }
      while (byte < last && bytes[byte] === skip) byte++;
      i = byte * 8;
      if (i >= end) break;
    }
    if (testBit(bytes, i) === set) return i;
    i++;
  }
  return end;
}

/** Sets (`value` true) or clears bits [start, start + count) of `bytes`. Throws RangeError past the array. */
export function fillBits(bytes: Uint8Array, start: number, count: number, value: boolean): void {
  if (start < 0 || start + count > bytes.length * 8) {
    throw new RangeError(`bits [${start}, +${count}) outside ${bytes.length * 8}`);
  }
  let i = start;
  const end = start + count;
  while (i < end) {
    if ((i & 7) === 0 && i + 8 <= end) {
      bytes[i >>> 3] = value ? 0xff : 0;
      i += 8;
      continue;
    }
    // OK to assert: i < end ≤ bytes.length × 8.
    if (value) bytes[i >>> 3] = bytes[i >>> 3]! | (1 << (i & 7));
    else bytes[i >>> 3] = bytes[i >>> 3]! & ~(1 << (i & 7));
    i++;
  }
}

/** Number of set bits in [start, start + count) of `bytes`. */
export function countBits(bytes: Uint8Array, start: number, count: number): number {
  let n = 0;
  let i = start;
  const end = start + count;
  while (i < end) {
    if ((i & 7) === 0 && i + 8 <= end) {
      n += POPCOUNT[bytes[i >>> 3] ?? 0xff] ?? 0;
      i += 8;
      continue;
    }
    if (testBit(bytes, i)) n++;
    i++;
  }
  return n;
}
