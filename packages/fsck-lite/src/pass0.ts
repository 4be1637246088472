/**
 * Before pass 1 (e2fsck's ext2fs_open, check_super_block, ext2fs_check_desc,
 * check_resize_inode and the journal checks): superblock sanity, group
 * descriptors, the resize inode and the journal. Returns false when the
 * filesystem cannot be walked at all.
 */
import {
  crc16,
  crc32cRaw,
  joinLoHi,
  journalSuperblockChecksum,
  superblockChecksum,
  viewOf,
} from "@ext4/core";
import { BufferCache } from "@ext4/iocache";
import { Bitmap } from "./bitmap.js";
import {
  BG_BLOCK_UNINIT,
  BG_INODE_UNINIT,
  type CheckContext,
  F,
  SUPPORTED_INCOMPAT,
  SUPPORTED_RO_COMPAT,
} from "./context.js";
import { GROUP_DESC, I_BLOCK, INODE, JOURNAL_SB, SUPERBLOCK } from "./layout.js";

const SB_OFFSET = 1024;
const SB_SIZE = 1024;
const EXT2_MAGIC = 0xef53;
const JBD2_MAGIC = 0xc03b3998;

function featureList(bits: number): string {
  const out: string[] = [];
  for (let b = 1; b !== 0 && b <= 0x80000000; b = (b << 1) >>> 0)
    if (bits & b) out.push(`0x${b.toString(16)}`);
  return out.join(", ");
}

/**
 * Reads and judges the superblock, sets up the cache, loads the group
 * descriptors. Returns false when nothing more can be checked. When the
 * primary superblock describes an impossible geometry, the check goes on
 * with the first backup superblock, as e2fsck does ("superblock invalid,
 * trying backup blocks").
 */
export function checkSuperblock(ctx: CheckContext): boolean {
  const dev = ctx.dev;
  if (dev.size < SB_OFFSET + SB_SIZE) {
    ctx.report("SB_SHORT_DEVICE", { num: dev.size });
    return false;
  }
  const primary = new Uint8Array(SB_SIZE);
  try {
    dev.read(SB_OFFSET, primary);
  } catch (e) {
    ctx.report("IO_ERROR", { blk: 1, str: (e as Error).message });
    return false;
  }
  const first = openSuperblock(ctx, primary, true);
  if (first !== "backup") return first;
  // e2fsck finds the first backup from the primary's own geometry
  // (get_backup_sb: s_first_data_block + s_blocks_per_group).
  const pv = viewOf(primary);
  const logBs = SUPERBLOCK.get(pv, "s_log_block_size");
  const bpg = SUPERBLOCK.get(pv, "s_blocks_per_group");
  const fdb = SUPERBLOCK.get(pv, "s_first_data_block");
  if (logBs > 6 || bpg === 0 || bpg > (1024 << logBs) * 8) return false;
  const backupBlock = fdb + bpg;
  const offset = backupBlock * (1024 << logBs);
  if (offset + SB_SIZE > dev.size) return false;
  const backup = new Uint8Array(SB_SIZE);
  try {
    dev.read(offset, backup);
  } catch {
    return false;
  }
  const held = ctx.problems.length;
  const second = openSuperblock(ctx, backup, false, backupBlock);
  if (second !== true) {
    // The backup is no better: keep only the primary's findings.
    ctx.problems.length = held;
    return false;
  }
  // The primary's problem stopped nothing: the check goes on with the backup.
  ctx.stopped = false;
  return true;
}

type Outcome = boolean | "backup";

/**
 * Judges one superblock copy and, when it is usable, sets up the geometry,
 * the cache and the group descriptors. "backup" asks the caller to retry
 * with the backup superblock (geometry problems e2fsck recovers from that way).
 */
function openSuperblock(
  ctx: CheckContext,
  sbBytes: Uint8Array,
  isPrimary: boolean,
  backupBlock = 0,
): Outcome {
  const dev = ctx.dev;
  ctx.sbBytes = sbBytes;
  const v = viewOf(sbBytes);
  const get = (name: Parameters<typeof SUPERBLOCK.get>[1]) => SUPERBLOCK.get(v, name);

  const magic = get("s_magic");
  if (magic !== EXT2_MAGIC) {
    ctx.report("SB_BAD_MAGIC", { num: magic });
    return false;
  }
  const rev = get("s_rev_level");
  if (rev > 1) {
    ctx.report("SB_REV_TOO_HIGH", { num: rev });
    return false;
  }
  const ro = get("s_feature_ro_compat");
  // ext2fs_open verifies the superblock checksum before anything else
  // when metadata_csum is on (ext2fs_superblock_csum_verify).
  if ((ro & F.RO_METADATA_CSUM) !== 0) {
    const stored = get("s_checksum");
    const calc = superblockChecksum(sbBytes);
    if (stored !== calc) {
      ctx.report("SB_CHECKSUM", { num: stored, num2: calc });
      return false;
    }
  }
  const logBs = get("s_log_block_size");
  if (logBs > 6) {
    ctx.report("SB_BAD_BLOCK_SIZE", { num: logBs });
    return false;
  }
  const incompat = get("s_feature_incompat");
  const badIncompat = (incompat & ~SUPPORTED_INCOMPAT) >>> 0;
  if (badIncompat !== 0) {
    ctx.report("SB_UNSUPPORTED_INCOMPAT", { str: featureList(badIncompat) });
    return false;
  }
  const badRo = (ro & ~SUPPORTED_RO_COMPAT) >>> 0;
  if (badRo !== 0) {
    ctx.report("SB_UNSUPPORTED_RO_COMPAT", { str: featureList(badRo) });
    return false;
  }
  if ((incompat & F.INCOMPAT_JOURNAL_DEV) !== 0) {
    ctx.report("SB_UNSUPPORTED_INCOMPAT", {
      str: "journal_dev (an external journal device, not a filesystem)",
    });
    return false;
  }

  const blockSize = 1024 << logBs;
  const is64 = (incompat & F.INCOMPAT_64BIT) !== 0;
  let blocksCount: number;
  try {
    blocksCount = joinLoHi(get("s_blocks_count_lo"), is64 ? get("s_blocks_count_hi") : 0);
  } catch {
    ctx.report("SB_CORRUPT_FIELD", { str: "blocks_count", num: get("s_blocks_count_hi") });
    return false;
  }
  const inodesCount = get("s_inodes_count");
  const bpg = get("s_blocks_per_group");
  const ipg = get("s_inodes_per_group");
  const firstDataBlock = get("s_first_data_block");
  const inodeSize = rev === 0 ? 128 : get("s_inode_size");
  const descSize = is64 ? get("s_desc_size") : 32;
  const firstIno = rev === 0 ? 11 : get("s_first_ino");

  // The field checks of ext2fs_open2 and check_super_block (check_super_value):
  // any of these makes the geometry unusable, so the check stops.
  // Which failures e2fsck recovers from: it opens the primary despite
  // errors, and only when the group descriptors then fail
  // ext2fs_check_desc (a group count or inode table layout that cannot be
  // right) does it move to the backup superblock and descriptors. The
  // other field checks (check_super_block) stop it.
  const retry: Outcome = isPrimary ? "backup" : false;
  const corrupt = (field: string, value: number, recover = false): Outcome => {
    ctx.report("SB_CORRUPT_FIELD", { str: field, num: value });
    return recover ? retry : false;
  };
  if (blocksCount < 1) return corrupt("blocks_count", blocksCount);
  if (inodesCount < 1) return corrupt("inodes_count", inodesCount);
  if (bpg < 8 || bpg > blockSize * 8 || bpg % 8 !== 0) return corrupt("blocks_per_group", bpg);
  if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) {
    return corrupt("inode_size", inodeSize);
  }
  const inodesPerBlock = blockSize / inodeSize;
  if (ipg < inodesPerBlock || ipg > blockSize * 8 || ipg % inodesPerBlock !== 0) {
    return corrupt("inodes_per_group", ipg, true);
  }
  if (is64 && (descSize < 32 || descSize > 1024 || (descSize & (descSize - 1)) !== 0)) {
    ctx.report("SB_DESC_SIZE", { num: descSize });
    return retry;
  }
  if (firstDataBlock >= blocksCount) return corrupt("first_data_block", firstDataBlock);
  const expectedFirst = blockSize === 1024 ? 1 : 0;
  if (firstDataBlock !== expectedFirst && (ro & F.RO_BIGALLOC) === 0) {
    ctx.report("SB_FIRST_DATA_BLOCK", { num: firstDataBlock, num2: expectedFirst });
    return false;
  }
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / bpg);
  if (blocksCount * blockSize > dev.size) {
    ctx.report("SB_TOO_BIG", { num: blocksCount, num2: Math.floor(dev.size / blockSize) });
    return retry;
  }
  if (groupCount * ipg !== inodesCount) {
    // e2fsck loads the primary despite this and then stops on it.
    ctx.report("SB_BAD_INODE_COUNT", { num: inodesCount, num2: groupCount * ipg });
    return false;
  }
  if (firstIno < 11 || firstIno > inodesCount) return corrupt("first_ino", firstIno);
  const rBlocks = joinLoHi(get("s_r_blocks_count_lo"), is64 ? get("s_r_blocks_count_hi") : 0);
  if (rBlocks > blocksCount / 2) return corrupt("r_blocks_count", rBlocks);
  const reservedGdt = get("s_reserved_gdt_blocks");
  if (reservedGdt > blockSize / 4) return corrupt("reserved_gdt_blocks", reservedGdt);
  if ((ro & F.RO_BIGALLOC) !== 0 && get("s_log_cluster_size") !== logBs) {
    ctx.report("SB_UNSUPPORTED_RO_COMPAT", { str: "bigalloc (clusters larger than blocks)" });
    return false;
  }

  const uuid = SUPERBLOCK.bytesOf(v, "s_uuid").slice();
  const csumSeed =
    (incompat & F.INCOMPAT_CSUM_SEED) !== 0 ? get("s_checksum_seed") : crc32cRaw(0xffffffff, uuid);
  const seedBytes = viewOf(SUPERBLOCK.bytesOf(v, "s_hash_seed"));
  const backup = viewOf(SUPERBLOCK.bytesOf(v, "s_backup_bgs"));
  ctx.g = {
    blockSize,
    blocksCount,
    inodesCount,
    firstDataBlock,
    blocksPerGroup: bpg,
    inodesPerGroup: ipg,
    groupCount,
    inodeSize,
    descSize,
    firstIno,
    itableBlocks: Math.ceil((ipg * inodeSize) / blockSize),
    gdtBlocks: Math.ceil((groupCount * descSize) / blockSize),
    reservedGdtBlocks: reservedGdt,
    compat: get("s_feature_compat"),
    incompat,
    roCompat: ro,
    csumSeed,
    hashSeed: [seedBytes.u32(0), seedBytes.u32(4), seedBytes.u32(8), seedBytes.u32(12)],
    defHashVersion: get("s_def_hash_version"),
    unsignedHash: (get("s_flags") & 0x2) !== 0,
    uuid,
    revLevel: rev,
    logGroupsPerFlex: get("s_log_groups_per_flex"),
    firstMetaBg: get("s_first_meta_bg"),
    backupBgs: [backup.u32(0), backup.u32(4)],
    minExtraIsize: get("s_min_extra_isize"),
    journalInum: get("s_journal_inum"),
    preallocDirBlocks: get("s_prealloc_dir_blocks"),
    freeBlocks: joinLoHi(get("s_free_blocks_count_lo"), is64 ? get("s_free_blocks_count_hi") : 0),
    freeInodes: get("s_free_inodes_count"),
    creatorOs: get("s_creator_os"),
  };
  ctx.cache = new BufferCache(dev, { blockSize, capacityBytes: ctx.options.cacheBytes });

  // Informational superblock checks (check_super_block): printed by e2fsck
  // but not counted against the filesystem.
  if (inodeSize > 128) {
    const maxExtra = inodeSize - 128;
    for (const [field, name] of [
      ["required", "s_min_extra_isize"],
      ["desired", "s_want_extra_isize"],
    ] as const) {
      const val = get(name);
      if (val > maxExtra || (val & 3) !== 0 || (val !== 0 && val < 4)) {
        ctx.report("SB_EXTRA_ISIZE", { str: field, num: val });
      }
    }
  }
  const fudge = 86400;
  if (get("s_mtime") > ctx.options.now + fudge)
    ctx.report("SB_FUTURE_MTIME", { num: get("s_mtime") });
  if (get("s_wtime") > ctx.options.now + fudge)
    ctx.report("SB_FUTURE_WTIME", { num: get("s_wtime") });
  if ((get("s_state") & 2) !== 0) ctx.report("SB_ERROR_STATE", { num: get("s_state") });
  if (get("s_last_orphan") !== 0) ctx.report("SB_ORPHAN_LIST", { num: get("s_last_orphan") });
  if (ctx.g.defHashVersion > 6) ctx.report("SB_HASH_VERSION", { num: ctx.g.defHashVersion });
  checkBackupSuperblock(ctx);
  ctx.allocateMaps();
  return loadDescriptors(ctx, isPrimary ? 0 : backupBlock);
}

/** The fields e2fsck's check_backup_super_block compares; a mismatch is only noted. */
function checkBackupSuperblock(ctx: CheckContext): void {
  if (ctx.g.groupCount < 2) return;
  let grp = 1;
  while (grp < ctx.g.groupCount && !ctx.groupHasSuper(grp)) grp++;
  if (grp >= ctx.g.groupCount) return;
  const blk = ctx.groupFirstBlock(grp);
  const buf = ctx.readBlock(blk);
  if (buf === null) return;
  const b = viewOf(buf);
  const p = viewOf(ctx.sbBytes);
  const names = [
    "s_magic",
    "s_rev_level",
    "s_log_block_size",
    "s_inodes_count",
    "s_blocks_count_lo",
    "s_blocks_per_group",
    "s_inodes_per_group",
    "s_first_data_block",
    "s_feature_compat",
    "s_feature_incompat",
    "s_feature_ro_compat",
    "s_r_blocks_count_lo",
  ] as const;
  const differ = names.filter((n) => SUPERBLOCK.get(b, n) !== SUPERBLOCK.get(p, n));
  if (differ.length > 0) ctx.report("SB_BACKUP_DIFFERS", { group: grp, str: differ.join(", ") });
}

/** The checksum a group descriptor should carry (ext4_group_desc_csum). */
export function groupDescCsum(ctx: CheckContext, grp: number, desc: Uint8Array): number {
  const le = new Uint8Array(4);
  viewOf(le).setU32(0, grp);
  const csumOff = GROUP_DESC.offsetOf("bg_checksum");
  if (ctx.csum) {
    let c = crc32cRaw(ctx.g.csumSeed, le);
    c = crc32cRaw(c, desc.subarray(0, csumOff));
    c = crc32cRaw(c, new Uint8Array(2));
    if (desc.length > csumOff + 2) c = crc32cRaw(c, desc.subarray(csumOff + 2));
    return c & 0xffff;
  }
  let c = crc16(0xffff, ctx.g.uuid);
  c = crc16(c, le);
  c = crc16(c, desc.subarray(0, csumOff));
  if (ctx.incompat(F.INCOMPAT_64BIT) && desc.length > csumOff + 2)
    c = crc16(c, desc.subarray(csumOff + 2));
  return c;
}

/**
 * ext2fs_check_desc: every bitmap and inode table inside its group (or,
 * with flex_bg, inside the filesystem) and not on other metadata. Returns
 * the first failure, or null.
 */
function checkDesc(
  ctx: CheckContext,
): { what: "block" | "inode" | "table"; group: number; blk: number } | null {
  const { groupCount, blocksCount, firstDataBlock, itableBlocks } = ctx.g;
  const used = new Bitmap(blocksCount);
  for (let grp = 0; grp < groupCount; grp++)
    ctx.superAndDescBlocks(grp, (s, n) => used.setRange(s, n));
  const flex = ctx.incompat(F.INCOMPAT_FLEX_BG);
  for (let grp = 0; grp < groupCount; grp++) {
    const first = flex ? firstDataBlock : ctx.groupFirstBlock(grp);
    const last = flex ? blocksCount - 1 : ctx.groupLastBlock(grp);
    const bb = ctx.gdBlockBitmap[grp]!;
    if (bb < first || bb > last || used.test(bb)) return { what: "block", group: grp, blk: bb };
    used.set(bb);
    const ib = ctx.gdInodeBitmap[grp]!;
    if (ib < first || ib > last || used.test(ib)) return { what: "inode", group: grp, blk: ib };
    used.set(ib);
    const it = ctx.gdInodeTable[grp]!;
    if (it < first || it + itableBlocks - 1 > last || used.anyInRange(it, itableBlocks)) {
      return { what: "table", group: grp, blk: it };
    }
    used.setRange(it, itableBlocks);
  }
  return null;
}

function reportDescFailure(
  ctx: CheckContext,
  bad: { what: "block" | "inode" | "table"; group: number; blk: number },
): void {
  const code =
    bad.what === "block"
      ? "GD_BLOCK_BITMAP_RANGE"
      : bad.what === "inode"
        ? "GD_INODE_BITMAP_RANGE"
        : "GD_INODE_TABLE_RANGE";
  const stopped = ctx.stopped;
  ctx.report(code, { group: bad.group, blk: bad.blk });
  // e2fsck goes on with the backup descriptors, so this does not stop the check.
  ctx.stopped = stopped;
}

/**
 * Loads the descriptor table, falling back to the first backup when the
 * primary fails ext2fs_check_desc (as e2fsck does: "group descriptors look
 * bad... trying backup blocks"), then runs the per-group checks.
 */
function loadDescriptors(ctx: CheckContext, backupSuper: number): boolean {
  const primary = backupSuper === 0 ? ctx.g.firstDataBlock + 1 : backupSuper + 1;
  if (!ctx.loadGroupDescriptors(primary)) return false;
  let bad = checkDesc(ctx);
  let table = primary;
  if (backupSuper !== 0) ctx.clearUninit();
  if (bad !== null) {
    reportDescFailure(ctx, bad);
    let grp = 1;
    while (grp < ctx.g.groupCount && !ctx.groupHasSuper(grp)) grp++;
    if (grp < ctx.g.groupCount && !ctx.incompat(F.INCOMPAT_META_BG)) {
      const backup = ctx.groupFirstBlock(grp) + 1;
      if (ctx.loadGroupDescriptors(backup) && checkDesc(ctx) === null) {
        table = backup;
        bad = null;
        ctx.clearUninit();
      } else {
        ctx.loadGroupDescriptors(primary);
      }
    }
  }
  const { groupCount, blocksCount, itableBlocks, inodesPerGroup, descSize, blockSize } = ctx.g;
  const perBlock = Math.floor(blockSize / descSize);
  const flex = ctx.incompat(F.INCOMPAT_FLEX_BG);
  let badCsum = 0;
  for (let grp = 0; grp < groupCount; grp++) {
    const first = flex ? ctx.g.firstDataBlock : ctx.groupFirstBlock(grp);
    const last = flex ? blocksCount - 1 : ctx.groupLastBlock(grp);
    const bb = ctx.gdBlockBitmap[grp]!;
    const ib = ctx.gdInodeBitmap[grp]!;
    const it = ctx.gdInodeTable[grp]!;
    ctx.gdBlockBitmapOk[grp] = bb >= first && bb <= last ? 1 : 0;
    ctx.gdInodeBitmapOk[grp] = ib >= first && ib <= last ? 1 : 0;
    ctx.gdItableOk[grp] = it >= first && it + itableBlocks - 1 <= last ? 1 : 0;
    if (ctx.gdtCsum && !ctx.usingBackup) {
      const blk = ctx.descBlockOf(grp, table, perBlock);
      const buf = ctx.readBlock(blk);
      if (buf !== null) {
        const desc = buf.slice((grp % perBlock) * descSize, (grp % perBlock) * descSize + descSize);
        const stored = viewOf(desc).u16(GROUP_DESC.offsetOf("bg_checksum"));
        const calc = groupDescCsum(ctx, grp, desc);
        if (stored !== calc) {
          ctx.gdCsumOk[grp] = 0;
          if (badCsum++ < 1000) ctx.report("GD_CHECKSUM", { group: grp, num: stored, num2: calc });
        }
      }
    } else if (
      (ctx.gdFlags[grp]! & (BG_BLOCK_UNINIT | BG_INODE_UNINIT)) !== 0 ||
      ctx.gdItableUnused[grp] !== 0
    ) {
      ctx.report("GD_UNINIT_NO_CSUM", { group: grp });
    }
    if (
      ctx.gdtCsum &&
      (ctx.gdItableUnused[grp]! > ctx.gdFreeInodes[grp]! ||
        ctx.gdItableUnused[grp]! > inodesPerGroup)
    ) {
      ctx.report("GD_ITABLE_UNUSED", { group: grp, num: ctx.gdItableUnused[grp]! });
    }
    if (grp === groupCount - 1 && ctx.gdtCsum && (ctx.gdFlags[grp]! & BG_BLOCK_UNINIT) !== 0) {
      ctx.report("GD_LAST_BLOCK_UNINIT", { group: grp });
    }
  }
  return true;
}

/** A block-mapped or extent-mapped journal inode's first physical block, or null. */
function journalFirstBlock(ctx: CheckContext, iblock: Uint8Array, extents: boolean): number | null {
  const v = viewOf(iblock);
  if (extents) {
    if (v.u16(0) !== 0xf30a) return null;
    let depth = v.u16(6);
    let node = v;
    for (let hops = 0; hops < 6; hops++) {
      if (node.u16(0) !== 0xf30a || node.u16(2) === 0) return null;
      if (depth === 0) return joinLoHi(node.u32(12 + 8), node.u16(12 + 6));
      const child = joinLoHi(node.u32(12 + 4), node.u16(12 + 8));
      const buf = ctx.readBlock(child);
      if (buf === null) return null;
      node = viewOf(buf.slice());
      depth--;
    }
    return null;
  }
  const b0 = v.u32(0);
  return b0 === 0 ? null : b0;
}

/**
 * The journal (e2fsck_check_ext3_journal): a journal inode that can be
 * read, a journal superblock that makes sense, and whether recovery is
 * pending. Returns false when e2fsck would stop here.
 */
export function checkJournal(ctx: CheckContext): boolean {
  const hasJournal = ctx.compat(F.COMPAT_HAS_JOURNAL);
  const recover = ctx.incompat(F.INCOMPAT_RECOVER);
  const inum = ctx.g.journalInum;
  if (!hasJournal) {
    if (recover) {
      ctx.report("JOURNAL_RECOVERY_NO_JOURNAL");
      return false;
    }
    if (inum !== 0) {
      ctx.report("JOURNAL_INVALID", {
        ino: inum,
        str: "a journal inode without the has_journal feature",
      });
      return false;
    }
    return true;
  }
  if (inum === 0 || inum > ctx.g.inodesCount) {
    ctx.report("JOURNAL_INVALID", { ino: inum, str: "no journal inode" });
    return false;
  }
  const raw = ctx.readInode(inum);
  if (raw === null) {
    ctx.report("JOURNAL_INVALID", { ino: inum, str: "the journal inode cannot be read" });
    return false;
  }
  const iv = viewOf(raw);
  const mode = INODE.get(iv, "i_mode");
  const flags = INODE.get(iv, "i_flags");
  let iblock = raw.subarray(I_BLOCK, I_BLOCK + 60);
  let extents = (flags & 0x80000) !== 0;
  let first =
    (mode & 0xf000) === 0x8000 && INODE.get(iv, "i_links_count") > 0
      ? journalFirstBlock(ctx, iblock, extents)
      : null;
  if (first === null) {
    // e2fsck falls back to the copy of i_block in s_jnl_blocks; it rebuilds
    // the inode without EXTENTS_FL, so only a block-mapped copy helps.
    const sv = viewOf(ctx.sbBytes);
    if (SUPERBLOCK.get(sv, "s_jnl_backup_type") === 1) {
      iblock = SUPERBLOCK.bytesOf(sv, "s_jnl_blocks").subarray(0, 60);
      extents = false;
      first = viewOf(iblock).u16(0) === 0xf30a ? null : journalFirstBlock(ctx, iblock, false);
    }
    if (first === null) {
      ctx.report("JOURNAL_INVALID", { ino: inum, str: "the journal inode has no usable blocks" });
      return false;
    }
  }
  if (first >= ctx.g.blocksCount) {
    ctx.report("JOURNAL_INVALID", {
      ino: inum,
      str: `journal block ${first} is outside the filesystem`,
    });
    return false;
  }
  const buf = ctx.readBlock(first);
  if (buf === null) {
    ctx.report("JOURNAL_INVALID", { ino: inum, str: "the journal superblock cannot be read" });
    return false;
  }
  const j = viewOf(buf.slice(0, Math.min(buf.length, JOURNAL_SB.size)));
  const jmagic = JOURNAL_SB.get(j, "h_magic");
  const jtype = JOURNAL_SB.get(j, "h_blocktype");
  if (jmagic !== JBD2_MAGIC || (jtype !== 3 && jtype !== 4)) {
    ctx.report("JOURNAL_SB_CORRUPT", { str: "bad magic or block type" });
    return false;
  }
  const jbs = JOURNAL_SB.get(j, "s_blocksize");
  if (jbs !== ctx.g.blockSize) {
    ctx.report("JOURNAL_SB_CORRUPT", {
      str: `journal block size ${jbs} differs from the filesystem's`,
    });
    return false;
  }
  const size = joinLoHi(INODE.get(iv, "i_size_lo"), INODE.get(iv, "i_size_high"));
  const maxlen = JOURNAL_SB.get(j, "s_maxlen");
  if (size > 0 && maxlen > Math.floor(size / ctx.g.blockSize)) {
    ctx.report("JOURNAL_SB_CORRUPT", { str: `journal too short (s_maxlen ${maxlen})` });
    return false;
  }
  const jfirst = JOURNAL_SB.get(j, "s_first");
  if (jfirst === 0 || jfirst >= maxlen) {
    ctx.report("JOURNAL_SB_CORRUPT", { str: `s_first ${jfirst} outside the journal` });
    return false;
  }
  if (jtype === 4 && (JOURNAL_SB.get(j, "s_feature_incompat") & (0x8 | 0x10)) !== 0) {
    if (journalSuperblockChecksum(buf) !== JOURNAL_SB.get(j, "s_checksum")) {
      ctx.report("JOURNAL_SB_CORRUPT", { str: "journal superblock checksum" });
      return false;
    }
  }
  const start = JOURNAL_SB.get(j, "s_start");
  if (recover || start !== 0) {
    if (!recover) ctx.report("JOURNAL_RECOVERY_FLAG_CLEAR");
    else ctx.report("JOURNAL_NEEDS_RECOVERY", { num: start });
  }
  return true;
}

/** check_resize_inode: inode 7 holds only the DIND block, pointing at the reserved GDT blocks. */
export function checkResizeInode(ctx: CheckContext): void {
  const raw = ctx.readInode(7);
  if (raw === null) return;
  const v = viewOf(raw);
  const blocks: number[] = [];
  for (let k = 0; k < 15; k++) blocks.push(v.u32(I_BLOCK + 4 * k));
  const invalid = (why: string) => ctx.report("RESIZE_INODE_INVALID", { str: why });
  if (!ctx.compat(F.COMPAT_RESIZE_INODE)) {
    if (blocks.some((b) => b !== 0))
      invalid("resize_inode is not enabled, but the resize inode is non-zero");
    return;
  }
  const dind = blocks[13]!;
  if (
    blocks.some((b, k) => k !== 13 && b !== 0) ||
    dind === 0 ||
    INODE.get(v, "i_links_count") === 0 ||
    (INODE.get(v, "i_mode") & 0x8000) === 0 ||
    dind < ctx.g.firstDataBlock ||
    dind >= ctx.g.blocksCount
  ) {
    invalid("the inode does not hold exactly one valid double-indirect block");
    return;
  }
  const dbuf = ctx.readBlock(dind);
  if (dbuf === null) return;
  const dv = viewOf(dbuf.slice());
  const per = ctx.g.blockSize / 4;
  let gdtOff = ctx.g.gdtBlocks;
  let pblk = ctx.g.firstDataBlock + 1 + ctx.g.gdtBlocks;
  for (let k = 0; k < ctx.g.reservedGdtBlocks; k++, gdtOff++, pblk++) {
    gdtOff %= per;
    if (dv.u32(gdtOff * 4) !== pblk) {
      invalid(`double-indirect entry ${gdtOff} is not reserved GDT block ${pblk}`);
      return;
    }
    const ibuf = ctx.readBlock(pblk);
    if (ibuf === null) return;
    const iv = viewOf(ibuf);
    let indOff = 0;
    for (let grp = 1; grp < ctx.g.groupCount && indOff < per; grp++) {
      if (!ctx.groupHasSuper(grp)) continue;
      const expect = pblk + grp * ctx.g.blocksPerGroup;
      if (iv.u32(indOff * 4) !== expect) {
        invalid(`reserved GDT block ${pblk} does not list its backup ${expect}`);
        return;
      }
      indOff++;
    }
  }
}
