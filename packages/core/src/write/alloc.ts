/**
 * Block and inode allocation, the way the kernel's mballoc and ialloc
 * behave at the level that matters on disk: blocks near a goal (the file's
 * previous block, else its group), contiguous runs found in the bitmaps,
 * the reserved pools respected (s_r_blocks_count for non-root callers, the
 * kernel's s_resv_clusters for everything but unavoidable metadata);
 * inodes spread Orlov-style for top-level directories, near the parent
 * otherwise, per flex group when flex_bg is on. Uninitialised groups
 * (BLOCK_UNINIT / INODE_UNINIT) are initialised on first use and
 * bg_itable_unused is lowered as inodes beyond it are used.
 *
 * The bitmaps are the authority; every count (descriptor, superblock) is
 * kept in step, and a bitmap that disagrees with what is being done (a
 * block freed twice, a metadata block marked free) is corruption.
 */
import { corrupt, Ext4Error, type Ext4ErrorContext, fsError } from "../errors.js";
import {
  baseMetaBlocks,
  blockBitmapChecksumValid,
  countBits,
  fillBits,
  findClearBit,
  findSetBit,
  inodeBitmapChecksumValid,
  testBit,
  uninitBlockBitmap,
} from "../format/bitmap.js";
import {
  EXT4_BG_BLOCK_UNINIT,
  EXT4_BG_INODE_UNINIT,
  EXT4_BG_INODE_ZEROED,
} from "../format/group-desc.js";
import { EXT4_ROOT_INO, InodeFlags } from "../format/inode.js";
import { blocksInGroup, groupFirstBlock } from "../format/superblock.js";
import type { SpacePolicy, WriteEngine } from "./engine.js";

/** A run of consecutive blocks. */
export interface BlockRange {
  readonly start: number;
  readonly count: number;
}

/** The kernel's ext4_calculate_resv_clusters: 2% or 4096 clusters, whichever is smaller (0 without extents). */
export function resvClusters(blocksCount: number, clusterRatio: number, extents: boolean): number {
  if (!extents) return 0;
  return Math.min(Math.floor(Math.floor(blocksCount / clusterRatio) / 50), 4096);
}

interface GroupStats {
  freeInodes: number;
  freeBlocks: number;
  usedDirs: number;
}

/** Block and inode allocator of a {@link WriteEngine}. */
export class Allocator {
  private zone: Array<[number, number]> | null = null;
  private readonly verifiedBlock = new Set<number>();
  private readonly verifiedInode = new Set<number>();
  /** Clusters no non-root caller may take (s_r_blocks_count). */
  readonly rootReserve: number;
  /** Clusters kept for unavoidable metadata (s_resv_clusters). */
  readonly resv: number;

  constructor(private readonly e: WriteEngine) {
    const sb = e.geo;
    this.rootReserve = Math.ceil(sb.reservedBlocksCount / sb.clusterRatio);
    this.resv = resvClusters(sb.blocksCount, sb.clusterRatio, sb.features.has("extent"));
  }

  /** Free clusters a caller with `policy` may still take. */
  available(policy: SpacePolicy): number {
    const free = this.e.freeClusters;
    if (policy.nofail === true) return free;
    return Math.max(0, free - this.resv - (policy.reserved ? 0 : this.rootReserve));
  }

  // ---- the system zone ----

  /**
   * Ranges no file may own: blocks before s_first_data_block, each group's
   * superblock/GDT/reserved GDT copies, bitmaps and inode table, and the
   * journal's blocks (the kernel's system zone).
   */
  private systemZone(): Array<[number, number]> {
    if (this.zone !== null) return this.zone;
    const sb = this.e.geo;
    const ranges: Array<[number, number]> = [];
    if (sb.firstDataBlock > 0) ranges.push([0, sb.firstDataBlock]);
    this.e.meta.groups.forEach((gd, g) => {
      const base = baseMetaBlocks(sb, g);
      const first = groupFirstBlock(sb, g);
      if (base > 0) ranges.push([first, first + base]);
      ranges.push([gd.blockBitmap, gd.blockBitmap + 1]);
      ranges.push([gd.inodeBitmap, gd.inodeBitmap + 1]);
      ranges.push([gd.inodeTable, gd.inodeTable + sb.inodeTableBlocks]);
    });
    if (sb.features.has("has_journal") && sb.journalInum !== 0) {
      const j = this.e.host.readInode(sb.journalInum);
      for (const b of this.e.host.blockList(j)) {
        ranges.push(
          b.kind === "metadata"
            ? [b.physical, b.physical + 1]
            : [b.physical, b.physical + b.length],
        );
      }
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last !== undefined && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.zone = merged;
    return merged;
  }

  /** True when [start, start + count) overlaps filesystem metadata or the journal. */
  inSystemZone(start: number, count: number): boolean {
    const z = this.systemZone();
    let lo = 0;
    let hi = z.length - 1;
    const end = start + count;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      // OK to assert: lo ≤ mid ≤ hi < z.length.
      const [s, e] = z[mid]!;
      if (e <= start) lo = mid + 1;
      else if (s >= end) hi = mid - 1;
      else return true;
    }
    return false;
  }

  /**
   * Throws Corrupt (BLOCK_IN_SYSTEM_ZONE, BLOCK_OUT_OF_RANGE) unless
   * [start, start + count) may hold file data or a file's map: a corrupt map
   * must never make us write over metadata.
   */
  checkFileBlocks(start: number, count: number, ctx: Ext4ErrorContext): void {
    this.e.checkRange(start, count, ctx);
    if (this.inSystemZone(start, count)) {
      throw corrupt(
        "BLOCK_IN_SYSTEM_ZONE",
        `blocks ${start}+${count} overlap filesystem metadata`,
        { ...ctx, block: start },
      );
    }
  }

  // ---- block bitmaps ----

  private bits(g: number): number {
    return Math.ceil(blocksInGroup(this.e.geo, g) / this.e.geo.clusterRatio);
  }

  private isBlockUninit(g: number): boolean {
    // OK to assert: g < groupCount throughout.
    return (
      this.e.geo.features.groupDescCsum &&
      (this.e.meta.groups[g]!.flags & EXT4_BG_BLOCK_UNINIT) !== 0
    );
  }

  /** The block bitmap of `g` for reading (computed for BLOCK_UNINIT). Throws BadChecksum once per group. */
  private readBlockBits(g: number): Uint8Array {
    const sb = this.e.geo;
    // OK to assert: as above.
    const gd = this.e.meta.groups[g]!;
    if (this.isBlockUninit(g)) return uninitBlockBitmap(sb, gd, g).bytes;
    const buf = this.e.host.readBlock(gd.blockBitmap, { group: g });
    this.verifyBlockBits(g, buf);
    return buf;
  }

  private verifyBlockBits(g: number, buf: Uint8Array): void {
    if (this.verifiedBlock.has(g)) return;
    // OK to assert: as above.
    const gd = this.e.meta.groups[g]!;
    if (
      this.e.host.verifyChecksums &&
      !this.e.meta.blockBitmapsChanged.has(g) &&
      !blockBitmapChecksumValid(this.e.geo, gd, buf)
    ) {
      throw badBitmap(g, gd.blockBitmap);
    }
    this.verifiedBlock.add(g);
  }

  /**
   * The cache buffer of `g`'s block bitmap for change: a BLOCK_UNINIT group
   * is initialised first (ext4_init_block_bitmap: the group's own
   * superblock/GDT copies, bitmaps and inode table marked, the padding past
   * the last cluster set) and the flag cleared. The caller changes the
   * buffer and calls dirty() before any other cache call. Throws
   * BadChecksum (BITMAP_BAD_CHECKSUM) for a bitmap whose checksum fails.
   */
  blockBitsForWrite(g: number): Uint8Array {
    const sb = this.e.geo;
    // OK to assert: as above.
    const gd = this.e.meta.groups[g]!;
    if (this.isBlockUninit(g)) {
      const bm = uninitBlockBitmap(sb, gd, g);
      this.e.meta.updateGroup(g, { flags: gd.flags & ~EXT4_BG_BLOCK_UNINIT });
      this.e.meta.blockBitmapsChanged.add(g);
      this.verifiedBlock.add(g);
      const buf = this.e.zeroBlock(gd.blockBitmap);
      buf.set(bm.bytes);
      this.e.dirty(gd.blockBitmap);
      return this.e.host.readBlock(gd.blockBitmap, { group: g });
    }
    const buf = this.e.host.readBlock(gd.blockBitmap, { group: g });
    this.verifyBlockBits(g, buf);
    return buf;
  }

  // ---- blocks ----

  /**
   * Allocates up to `count` contiguous blocks (at least 1) as close to
   * `goal` as the bitmaps allow: the run starting at the goal when it is
   * free, else the first run of `count` free blocks in the goal's group or
   * the groups after it, else the longest run of the first group with any
   * free block. Throws NoSpace when the policy's pool is exhausted,
   * Corrupt when a bitmap disagrees with its counts or would hand out
   * metadata.
   */
  allocBlocks(goal: number, count: number, policy: SpacePolicy): BlockRange {
    const sb = this.e.geo;
    const avail = this.available(policy);
    if (avail < 1) {
      throw fsError("NoSpace", "NO_FREE_BLOCKS", "no free blocks left");
    }
    const want = Math.max(1, Math.min(count, avail));
    const n = sb.groupCount;
    const g0 = this.groupOf(Math.min(Math.max(goal, sb.firstDataBlock), sb.blocksCount - 1));
    const bit0 = Math.min(
      Math.max(goal, sb.firstDataBlock) - groupFirstBlock(sb, g0),
      this.bits(g0) - 1,
    );
    // The goal itself.
    {
      const bytes = this.readBlockBits(g0);
      if (!testBit(bytes, bit0)) {
        const end = findSetBit(bytes, bit0, Math.min(this.bits(g0), bit0 + want));
        return this.take(g0, bit0, end - bit0);
      }
    }
    let fallback: { g: number; bit: number; len: number } | null = null;
    for (let i = 0; i <= n; i++) {
      const g = (g0 + i) % n;
      // OK to assert: g < n.
      const free = this.e.meta.groups[g]!.freeBlocksCount;
      if (free === 0) continue;
      const from = i === 0 ? bit0 : 0;
      const to = i === n ? bit0 : this.bits(g);
      if (free < want && fallback !== null) continue;
      const run = findRun(this.readBlockBits(g), from, to, want);
      if (run.found) return this.take(g, run.start, run.len);
      if (run.len > 0 && (fallback === null || run.len > fallback.len)) {
        fallback = { g, bit: run.start, len: run.len };
      }
    }
    if (fallback === null) {
      // The counts promised space the bitmaps do not have.
      throw corrupt("FREE_COUNT_MISMATCH", "free block counts exceed the free bits in the bitmaps");
    }
    return this.take(fallback.g, fallback.bit, fallback.len);
  }

  private groupOf(block: number): number {
    const sb = this.e.geo;
    return Math.floor((block - sb.firstDataBlock) / sb.blocksPerGroup);
  }

  private take(g: number, bit: number, len: number): BlockRange {
    const sb = this.e.geo;
    const start = groupFirstBlock(sb, g) + bit;
    if (this.inSystemZone(start, len)) {
      throw corrupt(
        "BITMAP_METADATA_FREE",
        `the bitmap marks metadata blocks ${start}+${len} free`,
        {
          group: g,
          block: start,
        },
      );
    }
    // OK to assert: g < groupCount.
    const gd = this.e.meta.groups[g]!;
    if (gd.freeBlocksCount < len) {
      throw corrupt("GD_FREE_COUNT", `group ${g} counts ${gd.freeBlocksCount} free blocks`, {
        group: g,
      });
    }
    const buf = this.blockBitsForWrite(g);
    if (countBits(buf, bit, len) !== 0) {
      throw corrupt("BITMAP_INCONSISTENT", `blocks ${start}+${len} are already in use`, {
        group: g,
      });
    }
    fillBits(buf, bit, len, true);
    this.e.dirty(this.e.meta.groups[g]!.blockBitmap);
    this.e.meta.updateGroup(g, { freeBlocksCount: this.e.meta.groups[g]!.freeBlocksCount - len });
    this.e.meta.blockBitmapsChanged.add(g);
    this.e.freeClusters -= len;
    return { start, count: len };
  }

  /**
   * Marks [start, start + count) free. Throws Corrupt when the range is
   * outside the filesystem or touches metadata (BLOCK_IN_SYSTEM_ZONE), or a
   * block is already free (BLOCK_DOUBLE_FREE); nothing changes then.
   */
  freeBlocks(start: number, count: number, ctx: Ext4ErrorContext = {}): void {
    if (count === 0) return;
    this.checkFileBlocks(start, count, ctx);
    const sb = this.e.geo;
    // Check every group's bits before changing any.
    const parts: Array<{ g: number; bit: number; n: number }> = [];
    let s = start;
    let left = count;
    while (left > 0) {
      const g = this.groupOf(s);
      const bit = s - groupFirstBlock(sb, g);
      const n = Math.min(left, this.bits(g) - bit);
      if (this.isBlockUninit(g) || countBits(this.readBlockBits(g), bit, n) !== n) {
        throw corrupt("BLOCK_DOUBLE_FREE", `blocks ${s}+${n} are already free`, {
          ...ctx,
          block: s,
          group: g,
        });
      }
      parts.push({ g, bit, n });
      s += n;
      left -= n;
    }
    for (const { g, bit, n } of parts) {
      const buf = this.blockBitsForWrite(g);
      fillBits(buf, bit, n, false);
      // OK to assert: g < groupCount.
      this.e.dirty(this.e.meta.groups[g]!.blockBitmap);
      this.e.meta.updateGroup(g, { freeBlocksCount: this.e.meta.groups[g]!.freeBlocksCount + n });
      this.e.meta.blockBitmapsChanged.add(g);
      this.e.freeClusters += n;
    }
    this.e.blocksFreed(start, count);
  }

  /**
   * The kernel's ext4_inode_to_goal_block: the first block of the inode's
   * group, or with flex groups of at least 4 groups the flex group's first
   * group (directories, special files) or its second (regular files).
   */
  inodeGoal(ino: number, regular: boolean): number {
    const sb = this.e.geo;
    let g = Math.floor((ino - 1) / sb.inodesPerGroup);
    const flex = sb.features.has("flex_bg") ? 2 ** sb.logGroupsPerFlex : 1;
    if (flex >= 4) {
      g = g - (g % flex);
      if (regular) g++;
    }
    if (g >= sb.groupCount) g = sb.groupCount - 1;
    return groupFirstBlock(sb, g);
  }

  // ---- inodes ----

  /**
   * The cache buffer of `g`'s inode bitmap for change: an INODE_UNINIT
   * group is initialised first (ext4_init_inode_bitmap: all clear, the
   * padding past s_inodes_per_group set) and the flag cleared. The caller
   * changes the buffer and calls dirty() before any other cache call.
   * Throws BadChecksum (BITMAP_BAD_CHECKSUM) for a bitmap whose checksum fails.
   */
  inodeBitsForWrite(g: number): Uint8Array {
    const sb = this.e.geo;
    // OK to assert: g < groupCount.
    const gd = this.e.meta.groups[g]!;
    if (sb.features.groupDescCsum && (gd.flags & EXT4_BG_INODE_UNINIT) !== 0) {
      // ext4_init_inode_bitmap: all clear, the padding past inodes-per-group set.
      this.e.meta.updateGroup(g, { flags: gd.flags & ~EXT4_BG_INODE_UNINIT });
      this.e.meta.inodeBitmapsChanged.add(g);
      this.verifiedInode.add(g);
      const buf = this.e.zeroBlock(gd.inodeBitmap);
      fillBits(buf, sb.inodesPerGroup, sb.blockSize * 8 - sb.inodesPerGroup, true);
      this.e.dirty(gd.inodeBitmap);
      return buf;
    }
    const buf = this.e.host.readBlock(gd.inodeBitmap, { group: g });
    if (!this.verifiedInode.has(g)) {
      if (
        this.e.host.verifyChecksums &&
        !this.e.meta.inodeBitmapsChanged.has(g) &&
        !inodeBitmapChecksumValid(sb, gd, buf)
      ) {
        throw badBitmap(g, gd.inodeBitmap);
      }
      this.verifiedInode.add(g);
    }
    return buf;
  }

  private stats(first: number, count: number): GroupStats {
    const groups = this.e.meta.groups;
    const out: GroupStats = { freeInodes: 0, freeBlocks: 0, usedDirs: 0 };
    for (let g = first; g < Math.min(groups.length, first + count); g++) {
      // OK to assert: g < groups.length.
      const gd = groups[g]!;
      out.freeInodes += gd.freeInodesCount;
      out.freeBlocks += gd.freeBlocksCount;
      out.usedDirs += gd.usedDirsCount;
    }
    return out;
  }

  /** The first group of flex group `fg` with a free inode, or -1. */
  private groupInFlex(fg: number, flex: number): number {
    const groups = this.e.meta.groups;
    for (let g = fg * flex; g < Math.min(groups.length, (fg + 1) * flex); g++) {
      // OK to assert: g < groups.length.
      if (groups[g]!.freeInodesCount > 0) return g;
    }
    return -1;
  }

  /**
   * The group for a new inode (fs/ext4/ialloc.c): find_group_orlov for
   * directories — under the root (or a TOPDIR directory) the flex group
   * with at least average free inodes and blocks and the fewest
   * directories, elsewhere the first from the parent's with room and not
   * too many directories — and find_group_other for the rest: the parent's
   * (flex) group when it has free inodes, else the next one that does.
   */
  private chooseGroup(parentIno: number, isDir: boolean, parentFlags: number): number {
    const sb = this.e.geo;
    const groups = this.e.meta.groups;
    const ngroups = groups.length;
    const flex =
      sb.features.has("flex_bg") && sb.logGroupsPerFlex > 0 ? 2 ** sb.logGroupsPerFlex : 1;
    const nflex = Math.ceil(ngroups / flex);
    const parentGroup = Math.min(ngroups - 1, Math.floor((parentIno - 1) / sb.inodesPerGroup));
    const pflex = Math.floor(parentGroup / flex);
    const avgFreeInodes = Math.floor(this.e.freeInodes / nflex);
    const avgFreeBlocks = Math.floor(this.e.freeClusters / nflex);
    if (isDir) {
      if (parentIno === EXT4_ROOT_INO || (parentFlags & InodeFlags.TOPDIR) !== 0) {
        const start = this.e.randomU32() % nflex;
        let best = -1;
        let bestDirs = Number.POSITIVE_INFINITY;
        for (let i = 0; i < nflex; i++) {
          const fg = (start + i) % nflex;
          const st = this.stats(fg * flex, flex);
          if (st.usedDirs >= bestDirs) continue;
          if (st.freeInodes < avgFreeInodes || st.freeInodes === 0) continue;
          if (st.freeBlocks < avgFreeBlocks) continue;
          best = fg;
          bestDirs = st.usedDirs;
        }
        if (best >= 0) {
          const g = this.groupInFlex(best, flex);
          if (g >= 0) return g;
        }
      } else {
        let ndirs = 0;
        for (const gd of groups) ndirs += gd.usedDirsCount;
        const maxDirs = Math.floor(ndirs / nflex) + Math.floor((sb.inodesPerGroup * flex) / 16);
        const minInodes = Math.floor((sb.inodesPerGroup * flex) / 4);
        const minBlocks = Math.floor((sb.clustersPerGroup * flex) / 4);
        for (let i = 0; i < nflex; i++) {
          const fg = (pflex + i) % nflex;
          const st = this.stats(fg * flex, flex);
          if (st.usedDirs >= maxDirs || st.freeInodes < minInodes || st.freeBlocks < minBlocks) {
            continue;
          }
          const g = this.groupInFlex(fg, flex);
          if (g >= 0) return g;
        }
        for (let i = 0; i < nflex; i++) {
          const fg = (pflex + i) % nflex;
          if (this.stats(fg * flex, flex).freeInodes >= Math.max(1, avgFreeInodes)) {
            const g = this.groupInFlex(fg, flex);
            if (g >= 0) return g;
          }
        }
      }
    } else if (flex > 1) {
      const g = this.groupInFlex(pflex, flex);
      if (g >= 0) return g;
    } else {
      // OK to assert: parentGroup < ngroups.
      const pg = groups[parentGroup]!;
      if (pg.freeInodesCount > 0 && pg.freeBlocksCount > 0) return parentGroup;
      let g = (parentGroup + parentIno) % ngroups;
      for (let i = 1; i < ngroups; i <<= 1) {
        g = (g + i) % ngroups;
        // OK to assert: g < ngroups.
        const gd = groups[g]!;
        if (gd.freeInodesCount > 0 && gd.freeBlocksCount > 0) return g;
      }
    }
    for (let i = 0; i < ngroups; i++) {
      const g = (parentGroup + i) % ngroups;
      // OK to assert: g < ngroups.
      if (groups[g]!.freeInodesCount > 0) return g;
    }
    throw fsError("NoSpace", "NO_FREE_INODES", "no free inodes left");
  }

  /**
   * Allocates an inode for a child of `parentIno` (a directory when
   * `isDir`): marks it in the bitmap (initialising an INODE_UNINIT group,
   * and its block bitmap when BLOCK_UNINIT, as ext4_new_inode does), keeps
   * bg_free_inodes_count, bg_used_dirs_count and bg_itable_unused right, and
   * zeroes inode table slots that come into use in a table never zeroed.
   * Returns the inode number. Throws NoSpace (NO_FREE_INODES), Corrupt.
   */
  allocInode(parentIno: number, isDir: boolean, parentFlags = 0): number {
    const sb = this.e.geo;
    if (this.e.freeInodes === 0) {
      throw fsError("NoSpace", "NO_FREE_INODES", "no free inodes left");
    }
    const groups = this.e.meta.groups;
    const first = this.chooseGroup(parentIno, isDir, parentFlags);
    for (let i = 0; i < groups.length; i++) {
      const g = (first + i) % groups.length;
      // OK to assert: g < groups.length.
      if (groups[g]!.freeInodesCount === 0) continue;
      const from = g === 0 ? sb.firstIno - 1 : 0;
      const buf = this.inodeBitsForWrite(g);
      const idx = findClearBit(buf, from, sb.inodesPerGroup);
      if (idx >= sb.inodesPerGroup) continue;
      fillBits(buf, idx, 1, true);
      // OK to assert: g < groups.length.
      this.e.dirty(groups[g]!.inodeBitmap);
      this.e.meta.inodeBitmapsChanged.add(g);
      if (sb.features.groupDescCsum && (groups[g]!.flags & EXT4_BG_BLOCK_UNINIT) !== 0) {
        this.blockBitsForWrite(g);
      }
      // OK to assert: as above.
      const gd = groups[g]!;
      let itableUnused = gd.itableUnused;
      if (sb.features.groupDescCsum) {
        const usedEnd = sb.inodesPerGroup - gd.itableUnused;
        if (idx >= usedEnd) {
          if ((gd.flags & EXT4_BG_INODE_ZEROED) === 0) this.zeroInodeSlots(g, usedEnd, idx + 1);
          itableUnused = sb.inodesPerGroup - idx - 1;
        }
      }
      this.e.meta.updateGroup(g, {
        freeInodesCount: gd.freeInodesCount - 1,
        usedDirsCount: gd.usedDirsCount + (isDir ? 1 : 0),
        itableUnused,
      });
      this.e.freeInodes--;
      const ino = g * sb.inodesPerGroup + idx + 1;
      // Its slot may have read as "never used" (zeros) before the descriptor changed.
      this.e.forgetInode(ino);
      return ino;
    }
    throw corrupt("FREE_COUNT_MISMATCH", "free inode counts exceed the free bits in the bitmaps");
  }

  private zeroInodeSlots(g: number, from: number, to: number): void {
    const sb = this.e.geo;
    // OK to assert: g < groupCount.
    const table = this.e.meta.groups[g]!.inodeTable;
    for (let s = from; s < to; ) {
      const block = table + Math.floor((s * sb.inodeSize) / sb.blockSize);
      const off = (s * sb.inodeSize) % sb.blockSize;
      const n = Math.min(to - s, (sb.blockSize - off) / sb.inodeSize);
      const buf = this.e.host.readBlock(block, { group: g });
      buf.fill(0, off, off + n * sb.inodeSize);
      this.e.dirty(block);
      for (let i = 0; i < n; i++) this.e.forgetInode(g * sb.inodesPerGroup + s + i + 1);
      s += n;
    }
  }

  /**
   * Frees inode `ino` in its bitmap and counts (bg_used_dirs_count too for
   * a directory). Throws Corrupt (INODE_DOUBLE_FREE) when it is not in use.
   */
  freeInode(ino: number, isDir: boolean): void {
    const sb = this.e.geo;
    const g = Math.floor((ino - 1) / sb.inodesPerGroup);
    const idx = (ino - 1) % sb.inodesPerGroup;
    // OK to assert: ino was validated by readInode before.
    const gd = this.e.meta.groups[g]!;
    if (sb.features.groupDescCsum && (gd.flags & EXT4_BG_INODE_UNINIT) !== 0) {
      throw corrupt("INODE_DOUBLE_FREE", `inode ${ino} is in an unused group`, { inode: ino });
    }
    const buf = this.inodeBitsForWrite(g);
    if (!testBit(buf, idx)) {
      throw corrupt("INODE_DOUBLE_FREE", `inode ${ino} is already free`, { inode: ino });
    }
    fillBits(buf, idx, 1, false);
    this.e.dirty(gd.inodeBitmap);
    this.e.meta.inodeBitmapsChanged.add(g);
    this.e.meta.updateGroup(g, {
      freeInodesCount: gd.freeInodesCount + 1,
      usedDirsCount: Math.max(0, gd.usedDirsCount - (isDir ? 1 : 0)),
    });
    this.e.freeInodes++;
  }
}

function badBitmap(group: number, block: number): Ext4Error {
  return new Ext4Error("BadChecksum", "BITMAP_BAD_CHECKSUM", "bitmap checksum mismatch", {
    group,
    block,
  });
}

/**
 * The first run of `want` clear bits in [from, to), or the longest shorter
 * run seen (found false; len 0 when there is none).
 */
export function findRun(
  bytes: Uint8Array,
  from: number,
  to: number,
  want: number,
): { found: boolean; start: number; len: number } {
  let best = { start: 0, len: 0 };
  let pos = from;
  while (pos < to) {
    const s = findClearBit(bytes, pos, to);
    if (s >= to) break;
    const e = findSetBit(bytes, s, Math.min(to, s + want));
    if (e - s >= want) return { found: true, start: s, len: e - s };
    if (e - s > best.len) best = { start: s, len: e - s };
    pos = e + 1;
  }
  return { found: false, ...best };
}
