/**
 * statfs(2) figures as ext4_statfs computes them: f_blocks without the
 * filesystem's own overhead (ext4_calculate_overhead), f_bavail without the
 * root-reserved blocks and the kernel's reserved clusters, f_fsid folded
 * from the UUID.
 */

import { groupGdtBlocks } from "../format/group-desc.js";
import { groupHasSuper, type Superblock } from "../format/superblock.js";
import { resvClusters } from "./alloc.js";

/** What statfs(2) reports. */
export interface StatFs {
  /** EXT4_SUPER_MAGIC. */
  readonly type: number;
  readonly bsize: number;
  readonly frsize: number;
  readonly blocks: number;
  readonly bfree: number;
  readonly bavail: number;
  readonly files: number;
  readonly ffree: number;
  /** EXT4_NAME_LEN. */
  readonly namelen: number;
  /** uuid_to_fsid: the UUID's big-endian words 0^2 and 1^3. */
  readonly fsid: readonly [number, number];
}

/**
 * ext4_calculate_overhead without bigalloc: blocks before the first data
 * block, each group's superblock and GDT copies, reserved GDT blocks (in
 * groups with a superblock), inode table and the two bitmaps, and the
 * internal journal. With bigalloc the superblock's s_overhead_clusters is
 * used when set (the kernel counts bitmaps then; this is the same figure
 * mke2fs records).
 */
export function overheadBlocks(sb: Superblock, journalBlocks: number): number {
  if (
    sb.features.has("bigalloc") &&
    sb.overheadClusters > 0 &&
    sb.overheadClusters <= sb.blocksCount
  ) {
    return sb.overheadClusters * sb.clusterRatio;
  }
  let overhead = sb.firstDataBlock;
  for (let g = 0; g < sb.groupCount; g++) {
    const hasSuper = groupHasSuper(sb, g) ? 1 : 0;
    overhead +=
      hasSuper +
      groupGdtBlocks(sb, g) +
      (hasSuper ? sb.reservedGdtBlocks : 0) +
      sb.inodeTableBlocks +
      2;
  }
  return overhead + journalBlocks;
}

/** The statfs figures from free counts and the journal size. */
export function statfsOf(
  sb: Superblock,
  freeClusters: number,
  freeInodes: number,
  journalBlocks: number,
): StatFs {
  const bfree = Math.max(0, freeClusters) * sb.clusterRatio;
  const reserved =
    sb.reservedBlocksCount +
    resvClusters(sb.blocksCount, sb.clusterRatio, sb.features.has("extent")) * sb.clusterRatio;
  const dv = new DataView(sb.uuid.buffer, sb.uuid.byteOffset, 16);
  return {
    type: 0xef53,
    bsize: sb.blockSize,
    frsize: sb.blockSize,
    blocks: sb.blocksCount - overheadBlocks(sb, journalBlocks),
    bfree,
    bavail: bfree < reserved ? 0 : bfree - reserved,
    files: sb.inodesCount,
    ffree: Math.max(0, freeInodes),
    namelen: 255,
    fsid: [(dv.getUint32(0) ^ dv.getUint32(8)) >>> 0, (dv.getUint32(4) ^ dv.getUint32(12)) >>> 0],
  };
}
