/**
 * Block group descriptors (struct ext4_group_desc: 32 bytes, or s_desc_size
 * ≥ 64 with the 64bit feature): the field table, the validated
 * {@link GroupDesc}, the crc16 / crc32c descriptor checksums, and where the
 * descriptor table lives (classic layout and meta_bg).
 */
import { crc16, crc32cRange, crc32cU32, crc32cZeros } from "../crc.js";
import { badChecksum, corrupt } from "../errors.js";
import { defineStruct, type RawRecord, u16, u32 } from "../struct.js";
import { ByteView } from "../view.js";
import { groupFirstBlock, groupHasSuper, type Superblock } from "./superblock.js";

/** struct ext4_group_desc (fs/ext4/ext4.h); the first 32 bytes are all a non-64bit fs has. */
export const GROUP_DESC = defineStruct("ext4_group_desc", [
  u32("bg_block_bitmap_lo", "block bitmap block"),
  u32("bg_inode_bitmap_lo", "inode bitmap block"),
  u32("bg_inode_table_lo", "first inode table block"),
  u16("bg_free_blocks_count_lo", "free blocks (clusters) count"),
  u16("bg_free_inodes_count_lo", "free inodes count"),
  u16("bg_used_dirs_count_lo", "directories count"),
  u16("bg_flags", "EXT4_BG_INODE_UNINIT 1, BLOCK_UNINIT 2, INODE_ZEROED 4"),
  u32("bg_exclude_bitmap_lo", "snapshot exclude bitmap block"),
  u16("bg_block_bitmap_csum_lo", "crc32c(seed, block bitmap), low 16 bits"),
  u16("bg_inode_bitmap_csum_lo", "crc32c(seed, inode bitmap), low 16 bits"),
  u16("bg_itable_unused_lo", "never-used inodes at the end of the table"),
  u16("bg_checksum", "crc16 or low 16 bits of crc32c of (uuid, group, descriptor)"),
  u32("bg_block_bitmap_hi", "block bitmap block, high 32 bits"),
  u32("bg_inode_bitmap_hi", "inode bitmap block, high 32 bits"),
  u32("bg_inode_table_hi", "inode table block, high 32 bits"),
  u16("bg_free_blocks_count_hi", "free blocks count, high 16 bits"),
  u16("bg_free_inodes_count_hi", "free inodes count, high 16 bits"),
  u16("bg_used_dirs_count_hi", "directories count, high 16 bits"),
  u16("bg_itable_unused_hi", "unused inodes count, high 16 bits"),
  u32("bg_exclude_bitmap_hi", "exclude bitmap block, high 32 bits"),
  u16("bg_block_bitmap_csum_hi", "block bitmap checksum, high 16 bits"),
  u16("bg_inode_bitmap_csum_hi", "inode bitmap checksum, high 16 bits"),
  u32("bg_reserved", "padding"),
]);

/** Offset of bg_checksum, from the table (checksummed around on every descriptor write). */
const BG_CHECKSUM = GROUP_DESC.offsetOf("bg_checksum");

/** Field names of {@link GROUP_DESC}. */
export type GroupDescField = (typeof GROUP_DESC.fields)[number]["name"];
/** The raw layer of a descriptor (fields past a 32-byte descriptor are absent). */
export type RawGroupDesc = Partial<RawRecord<GroupDescField>>;

/** bg_flags: the inode table and bitmap are not initialised. */
export const EXT4_BG_INODE_UNINIT = 0x1;
/** bg_flags: the block bitmap is not initialised (computed on read). */
export const EXT4_BG_BLOCK_UNINIT = 0x2;
/** bg_flags: the inode table has been zeroed. */
export const EXT4_BG_INODE_ZEROED = 0x4;
/** e2fsprogs' name for {@link EXT4_BG_INODE_ZEROED}. */
export const EXT4_BG_ITABLE_ZEROED = EXT4_BG_INODE_ZEROED;

/** End of bg_block_bitmap_csum_hi: descriptors at least this long carry 32-bit block bitmap checksums. */
export const BG_BLOCK_BITMAP_CSUM_HI_END = GROUP_DESC.offsetOf("bg_block_bitmap_csum_hi") + 2;
/** End of bg_inode_bitmap_csum_hi. */
export const BG_INODE_BITMAP_CSUM_HI_END = GROUP_DESC.offsetOf("bg_inode_bitmap_csum_hi") + 2;

/** A validated group descriptor. */
export interface GroupDesc {
  readonly group: number;
  readonly raw: RawGroupDesc;
  readonly blockBitmap: number;
  readonly inodeBitmap: number;
  readonly inodeTable: number;
  readonly freeBlocksCount: number;
  readonly freeInodesCount: number;
  readonly usedDirsCount: number;
  readonly flags: number;
  readonly excludeBitmap: number;
  /** Stored block bitmap checksum (16 or 32 bits, as the descriptor size allows). */
  readonly blockBitmapCsum: number;
  readonly inodeBitmapCsum: number;
  readonly itableUnused: number;
  readonly checksum: number;
  /** True when the descriptor checksum matches, or the fs has none. */
  readonly checksumValid: boolean;
  /** The GDT block and byte offset in it where this descriptor lives. */
  readonly location: { readonly block: number; readonly offset: number };
}

/** Blocks of the primary GDT before meta_bg starts, as ext4's descriptor_loc counts them. */
function logicalSbBlock(sb: Superblock): number {
  return Math.floor(1024 / sb.blockSize);
}

/**
 * The block holding descriptor-table block `nr` (ext4's descriptor_loc):
 * right after the superblock, or with meta_bg (from s_first_meta_bg on) in
 * the first group of its meta group, after that group's superblock copy.
 */
export function descriptorBlock(sb: Superblock, nr: number): number {
  if (!sb.features.has("meta_bg") || nr < sb.firstMetaBg) return logicalSbBlock(sb) + nr + 1;
  const bg = sb.descPerBlock * nr;
  let hasSuper = groupHasSuper(sb, bg) ? 1 : 0;
  // meta_bg with 1 KiB blocks and s_first_data_block 0 (bigalloc): group 0's GDT is at block 2.
  if (sb.blockSize === 1024 && nr === 0 && sb.firstDataBlock === 0) hasSuper++;
  return hasSuper + groupFirstBlock(sb, bg);
}

/**
 * The block holding descriptor-table block `nr` of the backup table that
 * follows the superblock copy at `groupBlock` (e2fsprogs'
 * ext2fs_descriptor_block_loc2): the classic table sits right after it; with
 * meta_bg, the copy in the second group of each meta group is used.
 */
export function backupDescriptorBlock(sb: Superblock, nr: number, groupBlock: number): number {
  if (!sb.features.has("meta_bg") || nr < sb.firstMetaBg) return groupBlock + nr + 1;
  const bg = sb.descPerBlock * nr;
  let hasSuper = groupHasSuper(sb, bg) ? 1 : 0;
  let block = groupFirstBlock(sb, bg);
  if (groupBlock !== sb.firstDataBlock && block + hasSuper + sb.blocksPerGroup < sb.blocksCount) {
    block += sb.blocksPerGroup;
    hasSuper = groupHasSuper(sb, bg + 1) ? 1 : 0;
  }
  return block + hasSuper;
}

/**
 * Where descriptor `group` lives: its GDT block and offset — in the primary
 * table, or with `backupGroupBlock` in the backup table after the superblock
 * copy at that block.
 */
export function groupDescLocation(
  sb: Superblock,
  group: number,
  backupGroupBlock?: number,
): { block: number; offset: number } {
  const nr = Math.floor(group / sb.descPerBlock);
  return {
    block:
      backupGroupBlock === undefined
        ? descriptorBlock(sb, nr)
        : backupDescriptorBlock(sb, nr, backupGroupBlock),
    offset: (group % sb.descPerBlock) * sb.descSize,
  };
}

/**
 * GDT blocks a group holds (ext4_bg_num_gdb): outside meta_bg, the whole
 * table (or the first s_first_meta_bg blocks) in groups with a superblock;
 * inside meta_bg, one block in the first, second and last group of each
 * meta group.
 */
export function groupGdtBlocks(sb: Superblock, group: number): number {
  const metagroup = Math.floor(group / sb.descPerBlock);
  if (!sb.features.has("meta_bg") || metagroup < sb.firstMetaBg) {
    if (!groupHasSuper(sb, group)) return 0;
    return sb.features.has("meta_bg") ? sb.firstMetaBg : sb.gdtBlocks;
  }
  const first = metagroup * sb.descPerBlock;
  const last = first + sb.descPerBlock - 1;
  return group === first || group === first + 1 || group === last ? 1 : 0;
}

/**
 * The kernel's ext4_group_desc_csum: with metadata_csum the low 16 bits of
 * crc32c(seed, le32 group, descriptor with bg_checksum zeroed); with gdt_csum
 * crc16(~0, uuid, le32 group, descriptor minus bg_checksum); else 0.
 */
export function groupDescChecksum(sb: Superblock, group: number, desc: Uint8Array): number {
  const csumOff = BG_CHECKSUM;
  const size = Math.min(desc.length, sb.descSize);
  if (sb.features.metadataCsum) {
    // Around bg_checksum in place (counted as zeros): no copy, no buffers.
    let c = crc32cU32(sb.csumSeed, group);
    c = crc32cRange(c, desc, 0, Math.min(csumOff, desc.length));
    c = crc32cZeros(c, 2);
    if (csumOff + 2 < size) c = crc32cRange(c, desc, csumOff + 2, size);
    return c & 0xffff;
  }
  const le = new Uint8Array(4);
  new ByteView(le).setU32(0, group);
  if (sb.features.has("uninit_bg")) {
    let c = crc16(0xffff, sb.uuid);
    c = crc16(c, le);
    c = crc16(c, desc.subarray(0, csumOff));
    if (sb.features.has("64bit") && csumOff + 2 < size) {
      c = crc16(c, desc.subarray(csumOff + 2, size));
    }
    return c;
  }
  return 0;
}

/** Options for {@link parseGroupDesc}. */
export interface ParseGroupDescOptions {
  /** Throw BadChecksum on a checksum mismatch (default true); else record it in checksumValid. */
  verifyChecksum?: boolean;
  /** Where the bytes were read (default: the primary table's location). */
  location?: { block: number; offset: number };
}

/**
 * Decodes and validates descriptor `group` from its `descSize` bytes, as the
 * kernel's ext4_check_descriptors: bitmaps and inode table inside the
 * filesystem (inside the group without flex_bg), not on the superblock or
 * GDT. Throws Corrupt (GD_* codes) or BadChecksum (GD_BAD_CHECKSUM).
 */
export function parseGroupDesc(
  sb: Superblock,
  group: number,
  bytes: Uint8Array,
  options: ParseGroupDescOptions = {},
): GroupDesc {
  const location = options.location ?? groupDescLocation(sb, group);
  const ctx = { group, block: location.block, offset: location.offset };
  const v = new ByteView(bytes, ctx, 0, Math.min(bytes.length, sb.descSize));
  const raw = GROUP_DESC.decode(v);
  const is64 = sb.descSize >= 64;
  const lohi = (lo: GroupDescField, hi: GroupDescField): number =>
    is64 ? GROUP_DESC.getLoHi(v, lo, hi) : GROUP_DESC.get(v, lo);
  const lohi16 = (lo: GroupDescField, hi: GroupDescField): number =>
    GROUP_DESC.get(v, lo) + (is64 ? GROUP_DESC.get(v, hi) * 0x10000 : 0);

  const checksum = GROUP_DESC.get(v, "bg_checksum");
  let checksumValid = true;
  if (sb.features.groupDescCsum) {
    const want = groupDescChecksum(sb, group, v.slice());
    checksumValid = want === checksum;
    if (!checksumValid && options.verifyChecksum !== false) {
      throw badChecksum(
        "GD_BAD_CHECKSUM",
        `group descriptor checksum 0x${checksum.toString(16)} != computed 0x${want.toString(16)}`,
        ctx,
      );
    }
  }

  const gd: GroupDesc = {
    group,
    raw,
    blockBitmap: lohi("bg_block_bitmap_lo", "bg_block_bitmap_hi"),
    inodeBitmap: lohi("bg_inode_bitmap_lo", "bg_inode_bitmap_hi"),
    inodeTable: lohi("bg_inode_table_lo", "bg_inode_table_hi"),
    freeBlocksCount: lohi16("bg_free_blocks_count_lo", "bg_free_blocks_count_hi"),
    freeInodesCount: lohi16("bg_free_inodes_count_lo", "bg_free_inodes_count_hi"),
    usedDirsCount: lohi16("bg_used_dirs_count_lo", "bg_used_dirs_count_hi"),
    flags: GROUP_DESC.get(v, "bg_flags"),
    excludeBitmap: lohi("bg_exclude_bitmap_lo", "bg_exclude_bitmap_hi"),
    blockBitmapCsum:
      GROUP_DESC.get(v, "bg_block_bitmap_csum_lo") +
      (sb.descSize >= BG_BLOCK_BITMAP_CSUM_HI_END
        ? GROUP_DESC.get(v, "bg_block_bitmap_csum_hi") * 0x10000
        : 0),
    inodeBitmapCsum:
      GROUP_DESC.get(v, "bg_inode_bitmap_csum_lo") +
      (sb.descSize >= BG_INODE_BITMAP_CSUM_HI_END
        ? GROUP_DESC.get(v, "bg_inode_bitmap_csum_hi") * 0x10000
        : 0),
    itableUnused: lohi16("bg_itable_unused_lo", "bg_itable_unused_hi"),
    checksum,
    checksumValid,
    location,
  };
  checkGroupDescRanges(sb, gd);
  return gd;
}

function checkGroupDescRanges(sb: Superblock, gd: GroupDesc): void {
  const ctx = { group: gd.group };
  const flex = sb.features.has("flex_bg");
  const first = flex ? sb.firstDataBlock : groupFirstBlock(sb, gd.group);
  const last = flex
    ? sb.blocksCount - 1
    : Math.min(sb.blocksCount - 1, groupFirstBlock(sb, gd.group) + sb.blocksPerGroup - 1);
  const sbBlock = logicalSbBlock(sb);
  const lastGdtBlock = sbBlock + groupGdtBlocks(sb, 0);
  const check = (what: string, code: string, start: number, count: number): void => {
    if (start === sbBlock) {
      throw corrupt(code, `${what} ${start} overlaps the superblock`, { ...ctx, block: start });
    }
    if (start > sbBlock && start <= lastGdtBlock) {
      throw corrupt(code, `${what} ${start} overlaps the group descriptors`, {
        ...ctx,
        block: start,
      });
    }
    if (start < first || start + count - 1 > last) {
      throw corrupt(code, `${what} ${start}+${count} is outside [${first}, ${last}]`, {
        ...ctx,
        block: start,
      });
    }
  };
  check("block bitmap", "GD_BAD_BLOCK_BITMAP", gd.blockBitmap, 1);
  check("inode bitmap", "GD_BAD_INODE_BITMAP", gd.inodeBitmap, 1);
  check("inode table", "GD_BAD_INODE_TABLE", gd.inodeTable, sb.inodeTableBlocks);
  if (gd.itableUnused > sb.inodesPerGroup) {
    throw corrupt("GD_BAD_ITABLE_UNUSED", `${gd.itableUnused} unused inodes`, ctx);
  }
  if (gd.freeInodesCount > sb.inodesPerGroup) {
    throw corrupt("GD_BAD_FREE_INODES", `${gd.freeInodesCount} free inodes`, ctx);
  }
}

/**
 * Encodes the numeric fields of a descriptor into `bytes` (descSize long) and
 * recomputes bg_checksum. The inverse of {@link parseGroupDesc} for writers
 * and round-trip tests.
 */
export function encodeGroupDesc(
  sb: Superblock,
  gd: Omit<GroupDesc, "raw" | "checksum" | "checksumValid" | "location" | "group">,
  group: number,
  bytes: Uint8Array,
): void {
  const v = new ByteView(bytes, { group }, 0, sb.descSize);
  const is64 = sb.descSize >= 64;
  const put = (lo: GroupDescField, hi: GroupDescField, value: number, loBits: number): void => {
    const unit = 2 ** loBits;
    if (!is64 && value >= unit) throw new RangeError(`${lo}: ${value} needs ${hi}`);
    GROUP_DESC.set(v, lo, value % unit);
    if (is64) GROUP_DESC.set(v, hi, Math.floor(value / unit));
  };
  put("bg_block_bitmap_lo", "bg_block_bitmap_hi", gd.blockBitmap, 32);
  put("bg_inode_bitmap_lo", "bg_inode_bitmap_hi", gd.inodeBitmap, 32);
  put("bg_inode_table_lo", "bg_inode_table_hi", gd.inodeTable, 32);
  put("bg_free_blocks_count_lo", "bg_free_blocks_count_hi", gd.freeBlocksCount, 16);
  put("bg_free_inodes_count_lo", "bg_free_inodes_count_hi", gd.freeInodesCount, 16);
  put("bg_used_dirs_count_lo", "bg_used_dirs_count_hi", gd.usedDirsCount, 16);
  GROUP_DESC.set(v, "bg_flags", gd.flags);
  put("bg_exclude_bitmap_lo", "bg_exclude_bitmap_hi", gd.excludeBitmap, 32);
  GROUP_DESC.set(v, "bg_block_bitmap_csum_lo", gd.blockBitmapCsum & 0xffff);
  GROUP_DESC.set(v, "bg_inode_bitmap_csum_lo", gd.inodeBitmapCsum & 0xffff);
  if (sb.descSize >= BG_BLOCK_BITMAP_CSUM_HI_END) {
    GROUP_DESC.set(v, "bg_block_bitmap_csum_hi", gd.blockBitmapCsum >>> 16);
  }
  if (sb.descSize >= BG_INODE_BITMAP_CSUM_HI_END) {
    GROUP_DESC.set(v, "bg_inode_bitmap_csum_hi", gd.inodeBitmapCsum >>> 16);
  }
  put("bg_itable_unused_lo", "bg_itable_unused_hi", gd.itableUnused, 16);
  GROUP_DESC.set(v, "bg_checksum", groupDescChecksum(sb, group, v.slice()));
}
