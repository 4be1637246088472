/**
 * Pass 5: the on-disk block and inode bitmaps against what passes 1-4
 * found, the free counts per group and in the superblock, directory counts,
 * bitmap padding and bitmap checksums. The on-disk view follows
 * ext2fs_read_bitmaps: a BLOCK_UNINIT / INODE_UNINIT group whose descriptor
 * checksum verifies reads as empty, and the metadata of BLOCK_UNINIT groups
 * is then marked in use.
 */
import { crc32cRaw } from "@ext4/core";
import { Bitmap, diskBits32, popcount32, testDiskBit } from "./bitmap.js";
import { BG_BLOCK_UNINIT, BG_INODE_UNINIT, type CheckContext, IS } from "./context.js";

/** Formats runs of block or inode numbers the way e2fsck prints bitmap differences. */
function formatRuns(runs: Array<[string, number, number]>, limit = 50): string {
  const parts = runs
    .slice(0, limit)
    .map(([sign, a, b]) => (a === b ? `${sign}${a}` : `${sign}(${a}--${b})`));
  if (runs.length > limit) parts.push(`... (${runs.length - limit} more)`);
  return parts.join(" ");
}

/** Collects differences into runs of consecutive numbers with the same sign. */
class Runs {
  readonly runs: Array<[string, number, number]> = [];
  add(sign: string, n: number): void {
    const last = this.runs[this.runs.length - 1];
    if (last !== undefined && last[0] === sign && last[2] === n - 1) last[2] = n;
    else this.runs.push([sign, n, n]);
  }
}

/** Runs pass 5. */
export function pass5(ctx: CheckContext): void {
  // e2fsck's order: block bitmap differences and counts, inode bitmap
  // differences and counts, padding, then bitmap checksums.
  const late: Array<() => void> = [];
  checkBlockBitmaps(ctx, late);
  checkInodeBitmaps(ctx, late);
  for (const f of late) f();
}

function bitmapTrusted(ctx: CheckContext, grp: number, flag: number): boolean {
  // libext2fs trusts an uninit flag only when the descriptor checksum verifies.
  return !(ctx.gdtCsum && (ctx.gdFlags[grp]! & flag) !== 0 && ctx.gdCsumOk[grp] === 1);
}

function checkBlockBitmaps(ctx: CheckContext, late: Array<() => void>): void {
  const { groupCount, blocksPerGroup: bpg, blocksCount, blockSize } = ctx.g;
  // The on-disk view of block usage, one group at a time, plus the metadata of BLOCK_UNINIT groups.
  const uninitMeta = new Bitmap(blocksCount);
  for (let grp = 0; grp < groupCount; grp++) {
    if ((ctx.gdFlags[grp]! & BG_BLOCK_UNINIT) === 0 || !ctx.gdtCsum) continue;
    ctx.superAndDescBlocks(grp, (s, n) => uninitMeta.setRange(s, n));
    if (ctx.gdItableOk[grp] === 1) uninitMeta.setRange(ctx.gdInodeTable[grp]!, ctx.g.itableBlocks);
    if (ctx.gdBlockBitmapOk[grp] === 1) uninitMeta.set(ctx.gdBlockBitmap[grp]!);
    if (ctx.gdInodeBitmapOk[grp] === 1) uninitMeta.set(ctx.gdInodeBitmap[grp]!);
  }
  const runs = new Runs();
  const counts: Array<{ group: number; num: number; num2: number }> = [];
  let freeTotal = 0;
  let padding = false;
  const counted = { used: 0 };
  for (let grp = 0; grp < groupCount; grp++) {
    const first = ctx.groupFirstBlock(grp);
    const last = ctx.groupLastBlock(grp);
    let disk: Uint8Array | null = null;
    if (bitmapTrusted(ctx, grp, BG_BLOCK_UNINIT) && ctx.gdBlockBitmapOk[grp] === 1) {
      const b = ctx.readBlock(ctx.gdBlockBitmap[grp]!);
      disk = b === null ? null : b.slice();
    }
    const groupFree = compareBlockGroup(ctx, disk, uninitMeta, first, last, runs, counted);
    freeTotal += groupFree;
    if (groupFree !== ctx.gdFreeBlocks[grp])
      counts.push({ group: grp, num: ctx.gdFreeBlocks[grp]!, num2: groupFree });
    // Bits past the group's last block up to the end of the bitmap block must be set.
    if (disk !== null && !padding) padding = !paddingSet(disk, last - first + 1, blockSize * 8);
    if (ctx.csum && disk !== null && (ctx.gdFlags[grp]! & BG_BLOCK_UNINIT) === 0) {
      const calc = crc32cRaw(ctx.g.csumSeed, disk.subarray(0, bpg / 8));
      const stored = ctx.gdBlockBitmapCsum[grp]!;
      const ok = ctx.g.descSize >= 64 ? calc === stored : (calc & 0xffff) === (stored & 0xffff);
      if (!ok) late.push(() => ctx.report("BLOCK_BITMAP_CSUM", { group: grp }));
    }
  }
  ctx.usedBlocks = counted.used;
  if (runs.runs.length > 0) ctx.report("BLOCK_BITMAP_DIFF", { str: formatRuns(runs.runs) });
  for (const c of counts) ctx.report("FREE_BLOCKS_GROUP", c);
  if (padding) late.push(() => ctx.report("BLOCK_BITMAP_PADDING"));
  if (freeTotal !== ctx.g.freeBlocks)
    ctx.report("FREE_BLOCKS_TOTAL", { num: ctx.g.freeBlocks, num2: freeTotal });
}

/** Whether bits `from..to-1` of an on-disk bitmap are all set (the padding past the group's end). */
function paddingSet(disk: Uint8Array, from: number, to: number): boolean {
  for (let bit = from; bit < to; bit++) if (!testDiskBit(disk, bit)) return false;
  return true;
}

/**
 * Compares one group's blocks `first..last` as found with the on-disk
 * bitmap (`disk`, null when unusable, plus the metadata of BLOCK_UNINIT
 * groups); adds differences to `runs` and the found ones to `counted.used`.
 * Returns the blocks free on disk. (A function of its own so the engine
 * optimises the loop once, not once per group.)
 */
function compareBlockGroup(
  ctx: CheckContext,
  disk: Uint8Array | null,
  uninitMeta: Bitmap,
  first: number,
  last: number,
  runs: Runs,
  counted: { used: number },
): number {
  let groupFree = 0;
  let used = 0;
  // A word of 32 blocks at a time where found and on-disk agree (nearly
  // everywhere); a word with a difference, and the tail, bit by bit.
  for (let blk = first; blk <= last; ) {
    if (blk + 32 <= last + 1) {
      const actual = ctx.blockFound.bits32(blk);
      const onDisk = (disk === null ? 0 : diskBits32(disk, blk - first)) | uninitMeta.bits32(blk);
      if (actual === onDisk) {
        groupFree += 32 - popcount32(onDisk);
        used += popcount32(actual);
        blk += 32;
        continue;
      }
    }
    const end = Math.min(blk + 32, last + 1);
    for (; blk < end; blk++) {
      const actual = ctx.blockFound.test(blk);
      const onDisk = (disk !== null && testDiskBit(disk, blk - first)) || uninitMeta.test(blk);
      if (actual !== onDisk) runs.add(actual ? "+" : "-", blk);
      if (!onDisk) groupFree++;
      if (actual) used++;
    }
  }
  counted.used += used;
  return groupFree;
}

/**
 * Compares one group's inodes with the on-disk inode bitmap; adds
 * differences to `runs`. Returns [free on disk, directories in use on disk].
 */
function compareInodeGroup(
  ctx: CheckContext,
  disk: Uint8Array | null,
  grp: number,
  runs: Runs,
): [number, number] {
  const ipg = ctx.g.inodesPerGroup;
  const istate = ctx.istate;
  const base = grp * ipg + 1;
  // An unusable bitmap reads as all clear; one array either way keeps the
  // loop's element access the same kind every call (the engine would
  // otherwise recompile it per group).
  // OK to assert below: ipg <= blockSize * 8 (pass 0), the bitmap's length.
  const bits = disk ?? new Uint8Array(Math.ceil(ipg / 8));
  let groupFree = 0;
  let dirs = 0;
  for (let k = 0; k < ipg; k++) {
    // OK to assert: base + k <= inodesCount < istate.length.
    const s = istate[base + k]!;
    const actual = (s & IS.USED) !== 0;
    const onDisk = ((bits[k >>> 3]! >>> (k & 7)) & 1) === 1;
    if (actual !== onDisk) runs.add(actual ? "+" : "-", base + k);
    if (onDisk) {
      if ((s & IS.DIR) !== 0) dirs++;
    } else groupFree++;
  }
  return [groupFree, dirs];
}

function checkInodeBitmaps(ctx: CheckContext, late: Array<() => void>): void {
  const { groupCount, inodesPerGroup: ipg, blockSize } = ctx.g;
  const runs = new Runs();
  const counts: Array<() => void> = [];
  let freeTotal = 0;
  let padding = false;
  for (let grp = 0; grp < groupCount; grp++) {
    let disk: Uint8Array | null = null;
    if (bitmapTrusted(ctx, grp, BG_INODE_UNINIT) && ctx.gdInodeBitmapOk[grp] === 1) {
      const b = ctx.readBlock(ctx.gdInodeBitmap[grp]!);
      disk = b === null ? null : b.slice();
    }
    const [groupFree, dirs] = compareInodeGroup(ctx, disk, grp, runs);
    freeTotal += groupFree;
    const free = ctx.gdFreeInodes[grp]!;
    const usedDirs = ctx.gdUsedDirs[grp]!;
    if (groupFree !== free)
      counts.push(() =>
        ctx.report("FREE_INODES_GROUP", { group: grp, num: free, num2: groupFree }),
      );
    if (dirs !== usedDirs)
      counts.push(() => ctx.report("DIRS_COUNT_GROUP", { group: grp, num: usedDirs, num2: dirs }));
    if (disk !== null && !padding) padding = !paddingSet(disk, ipg, blockSize * 8);
    if (ctx.csum && disk !== null && (ctx.gdFlags[grp]! & BG_INODE_UNINIT) === 0) {
      const calc = crc32cRaw(ctx.g.csumSeed, disk.subarray(0, ipg / 8));
      const stored = ctx.gdInodeBitmapCsum[grp]!;
      const ok = ctx.g.descSize >= 64 ? calc === stored : (calc & 0xffff) === (stored & 0xffff);
      if (!ok) late.unshift(() => ctx.report("INODE_BITMAP_CSUM", { group: grp }));
    }
  }
  if (runs.runs.length > 0) ctx.report("INODE_BITMAP_DIFF", { str: formatRuns(runs.runs) });
  for (const f of counts) f();
  if (padding) late.unshift(() => ctx.report("INODE_BITMAP_PADDING"));
  if (freeTotal !== ctx.g.freeInodes)
    ctx.report("FREE_INODES_TOTAL", { num: ctx.g.freeInodes, num2: freeTotal });
}
