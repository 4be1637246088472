/**
 * The ext4 superblock (struct ext4_super_block, 1024 bytes at byte 1024 of
 * the device): the field table, the raw layer, the validated
 * {@link Superblock}, its crc32c checksum, and where the backup copies live.
 */
import { crc32cRaw } from "../crc.js";
import { badChecksum, corrupt, Ext4Error } from "../errors.js";
import { checkFeatures, FeatureSet } from "../features.js";
import { bytes, defineStruct, type RawRecord, u8, u16, u32, u64 } from "../struct.js";
import { ByteView } from "../view.js";

/** Byte offset of the primary superblock on the device. */
export const SUPERBLOCK_OFFSET = 1024;
/** Size of struct ext4_super_block. */
export const SUPERBLOCK_SIZE = 1024;
/** s_magic. */
export const EXT4_SUPER_MAGIC = 0xef53;

/** struct ext4_super_block, field for field (fs/ext4/ext4.h). */
export const SUPERBLOCK = defineStruct("ext4_super_block", [
  u32("s_inodes_count", "inodes count"),
  u32("s_blocks_count_lo", "blocks count"),
  u32("s_r_blocks_count_lo", "reserved blocks count"),
  u32("s_free_blocks_count_lo", "free blocks count"),
  u32("s_free_inodes_count", "free inodes count"),
  u32("s_first_data_block", "first data block (1 for 1 KiB blocks, else 0)"),
  u32("s_log_block_size", "block size = 1024 << s_log_block_size"),
  u32("s_log_cluster_size", "cluster size = 1024 << s_log_cluster_size (bigalloc)"),
  u32("s_blocks_per_group", "blocks per group"),
  u32("s_clusters_per_group", "clusters per group"),
  u32("s_inodes_per_group", "inodes per group"),
  u32("s_mtime", "mount time"),
  u32("s_wtime", "write time"),
  u16("s_mnt_count", "mounts since the last fsck"),
  u16("s_max_mnt_count", "mounts allowed before an fsck"),
  u16("s_magic", "0xEF53"),
  u16("s_state", "EXT4_VALID_FS 1, EXT4_ERROR_FS 2, EXT4_ORPHAN_FS 4"),
  u16("s_errors", "behaviour on errors: 1 continue, 2 remount-ro, 3 panic"),
  u16("s_minor_rev_level", "minor revision level"),
  u32("s_lastcheck", "time of the last check"),
  u32("s_checkinterval", "maximum time between checks"),
  u32("s_creator_os", "0 Linux, 1 Hurd, 2 Masix, 3 FreeBSD, 4 Lites"),
  u32("s_rev_level", "0 good old, 1 dynamic"),
  u16("s_def_resuid", "default uid for reserved blocks"),
  u16("s_def_resgid", "default gid for reserved blocks"),
  u32("s_first_ino", "first non-reserved inode"),
  u16("s_inode_size", "size of an on-disk inode"),
  u16("s_block_group_nr", "block group holding this superblock copy"),
  u32("s_feature_compat", "compatible features"),
  u32("s_feature_incompat", "incompatible features"),
  u32("s_feature_ro_compat", "read-only-compatible features"),
  bytes("s_uuid", 16, "volume UUID"),
  bytes("s_volume_name", 16, "volume label"),
  bytes("s_last_mounted", 64, "directory where last mounted"),
  u32("s_algorithm_usage_bitmap", "compression algorithms (unused)"),
  u8("s_prealloc_blocks", "blocks to preallocate for files"),
  u8("s_prealloc_dir_blocks", "blocks to preallocate for directories"),
  u16("s_reserved_gdt_blocks", "GDT blocks reserved for online growth"),
  bytes("s_journal_uuid", 16, "UUID of the journal superblock"),
  u32("s_journal_inum", "journal inode"),
  u32("s_journal_dev", "external journal device number"),
  u32("s_last_orphan", "head of the orphan inode list"),
  bytes("s_hash_seed", 16, "htree hash seed (four __le32)"),
  u8("s_def_hash_version", "default htree hash version"),
  u8("s_jnl_backup_type", "EXT3_JNL_BACKUP_BLOCKS when s_jnl_blocks holds i_block"),
  u16("s_desc_size", "group descriptor size (64bit)"),
  u32("s_default_mount_opts", "default mount options (EXT4_DEFM_*)"),
  u32("s_first_meta_bg", "first meta block group"),
  u32("s_mkfs_time", "filesystem creation time"),
  bytes("s_jnl_blocks", 68, "backup of the journal inode's i_block and i_size"),
  u32("s_blocks_count_hi", "blocks count, high 32 bits"),
  u32("s_r_blocks_count_hi", "reserved blocks count, high 32 bits"),
  u32("s_free_blocks_count_hi", "free blocks count, high 32 bits"),
  u16("s_min_extra_isize", "all inodes have at least this many extra bytes"),
  u16("s_want_extra_isize", "new inodes should reserve this many extra bytes"),
  u32("s_flags", "EXT2_FLAGS_SIGNED_HASH 1, UNSIGNED_HASH 2, TEST_FILESYS 4"),
  u16("s_raid_stride", "RAID stride"),
  u16("s_mmp_update_interval", "seconds between MMP updates"),
  u64("s_mmp_block", "block holding the MMP structure"),
  u32("s_raid_stripe_width", "RAID stripe width"),
  u8("s_log_groups_per_flex", "flex_bg group count = 1 << this"),
  u8("s_checksum_type", "metadata checksum algorithm (1 = crc32c)"),
  u8("s_encryption_level", "encryption versioning level"),
  u8("s_reserved_pad", "padding"),
  u64("s_kbytes_written", "lifetime kilobytes written"),
  u32("s_snapshot_inum", "active snapshot inode"),
  u32("s_snapshot_id", "active snapshot id"),
  u64("s_snapshot_r_blocks_count", "blocks reserved for the active snapshot"),
  u32("s_snapshot_list", "head of the on-disk snapshot list"),
  u32("s_error_count", "number of errors seen"),
  u32("s_first_error_time", "time of the first error"),
  u32("s_first_error_ino", "inode of the first error"),
  u64("s_first_error_block", "block of the first error"),
  bytes("s_first_error_func", 32, "function of the first error"),
  u32("s_first_error_line", "source line of the first error"),
  u32("s_last_error_time", "time of the last error"),
  u32("s_last_error_ino", "inode of the last error"),
  u32("s_last_error_line", "source line of the last error"),
  u64("s_last_error_block", "block of the last error"),
  bytes("s_last_error_func", 32, "function of the last error"),
  bytes("s_mount_opts", 64, "default mount option string"),
  u32("s_usr_quota_inum", "user quota inode"),
  u32("s_grp_quota_inum", "group quota inode"),
  u32("s_overhead_clusters", "overhead clusters"),
  bytes("s_backup_bgs", 8, "the two groups with sparse_super2 backups (two __le32)"),
  bytes("s_encrypt_algos", 4, "encryption algorithms in use"),
  bytes("s_encrypt_pw_salt", 16, "salt for string2key"),
  u32("s_lpf_ino", "lost+found inode"),
  u32("s_prj_quota_inum", "project quota inode"),
  u32("s_checksum_seed", "crc32c(~0, uuid) when csum_seed is set"),
  u8("s_wtime_hi", "s_wtime bits 32-39"),
  u8("s_mtime_hi", "s_mtime bits 32-39"),
  u8("s_mkfs_time_hi", "s_mkfs_time bits 32-39"),
  u8("s_lastcheck_hi", "s_lastcheck bits 32-39"),
  u8("s_first_error_time_hi", "s_first_error_time bits 32-39"),
  u8("s_last_error_time_hi", "s_last_error_time bits 32-39"),
  u8("s_first_error_errcode", "errno of the first error"),
  u8("s_last_error_errcode", "errno of the last error"),
  u16("s_encoding", "filename charset encoding (casefold)"),
  u16("s_encoding_flags", "filename charset encoding flags"),
  u32("s_orphan_file_inum", "orphan file inode"),
  bytes("s_reserved", 376, "padding to the end of the block"),
  u32("s_checksum", "crc32c(~0, superblock up to s_checksum)"),
]);

/** Field names of {@link SUPERBLOCK}. */
export type SuperblockField = (typeof SUPERBLOCK.fields)[number]["name"];
/** Every superblock field by kernel name, unjudged (the raw layer). */
export type RawSuperblock = RawRecord<SuperblockField>;

/** Decodes all 1024 bytes into the raw layer. Throws Corrupt if the view is short. */
export function decodeRawSuperblock(v: ByteView): RawSuperblock {
  if (v.length < SUPERBLOCK_SIZE) {
    throw corrupt("SB_SHORT", `superblock needs ${SUPERBLOCK_SIZE} bytes, got ${v.length}`);
  }
  return SUPERBLOCK.decode(v) as RawSuperblock;
}

/** Writes the raw layer back (every field). */
export function encodeRawSuperblock(v: ByteView, raw: Partial<RawSuperblock>): void {
  SUPERBLOCK.encode(v, raw);
}

/** The kernel's ext4_superblock_csum: crc32c(~0) over the bytes before s_checksum. */
export function superblockChecksum(sb: Uint8Array): number {
  return crc32cRaw(0xffffffff, sb.subarray(0, SUPERBLOCK.offsetOf("s_checksum")));
}

/** Recomputes and stores s_checksum (for writers and tests). */
export function setSuperblockChecksum(sb: Uint8Array): void {
  new ByteView(sb).setU32(SUPERBLOCK.offsetOf("s_checksum"), superblockChecksum(sb));
}

/** A timestamp as seconds since the epoch (signed 64-bit range, here a safe integer). */
export type UnixSeconds = number;

/** s_state bits. */
export const EXT4_VALID_FS = 0x1;
/** s_state: errors were detected. */
export const EXT4_ERROR_FS = 0x2;
/** s_state: orphans are being recovered. */
export const EXT4_ORPHAN_FS = 0x4;
/** s_flags: the directory hash is signed. */
export const EXT2_FLAGS_SIGNED_HASH = 0x1;
/** s_flags: the directory hash is unsigned. */
export const EXT2_FLAGS_UNSIGNED_HASH = 0x2;
/** s_flags: a test filesystem. */
export const EXT2_FLAGS_TEST_FILESYS = 0x4;

/** Names of s_creator_os values, as dumpe2fs prints them. */
export const CREATOR_OS: readonly string[] = ["Linux", "Hurd", "Masix", "FreeBSD", "Lites"];

/** A decoded NUL-padded string field (label, last mounted, mount options, error function). */
export function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder("utf-8", { fatal: false }).decode(end < 0 ? b : b.subarray(0, end));
}

/** Formats 16 bytes as a canonical lowercase UUID string. */
export function uuidString(b: Uint8Array): string {
  const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Options for {@link parseSuperblock}. */
export interface ParseSuperblockOptions {
  /** Verify s_checksum when metadata_csum is set (default true). */
  verifyChecksum?: boolean;
}

/**
 * The validated superblock: camelCase, derived geometry, every field a tool
 * prints. Built only by {@link parseSuperblock}, which has checked the
 * geometry, so every number here can be used for arithmetic without
 * re-checking.
 */
export interface Superblock {
  /** The raw layer this was built from (kernel names). */
  readonly raw: RawSuperblock;
  /** The 1024 bytes it was decoded from (a copy). */
  readonly bytes: Uint8Array;
  readonly features: FeatureSet;
  /** Why the image can only be read (unknown ro_compat bits, read-only feature), or null. */
  readonly readOnlyReason: string | null;

  readonly magic: number;
  readonly revLevel: number;
  readonly minorRevLevel: number;
  readonly blockSize: number;
  readonly logBlockSize: number;
  /** Bytes per allocation cluster (= blockSize unless bigalloc). */
  readonly clusterSize: number;
  readonly logClusterSize: number;
  /** Blocks per cluster (1 unless bigalloc). */
  readonly clusterRatio: number;
  readonly blocksCount: number;
  readonly reservedBlocksCount: number;
  readonly freeBlocksCount: number;
  readonly inodesCount: number;
  readonly freeInodesCount: number;
  readonly firstDataBlock: number;
  readonly blocksPerGroup: number;
  readonly clustersPerGroup: number;
  readonly inodesPerGroup: number;
  readonly groupCount: number;
  readonly inodeSize: number;
  readonly inodesPerBlock: number;
  /** Inode table blocks per group. */
  readonly inodeTableBlocks: number;
  readonly firstIno: number;
  /** Group descriptor size: 32, or s_desc_size with 64bit. */
  readonly descSize: number;
  readonly descPerBlock: number;
  /** Blocks holding the group descriptor table (s_gdb_count). */
  readonly gdtBlocks: number;
  readonly reservedGdtBlocks: number;
  readonly firstMetaBg: number;
  readonly logGroupsPerFlex: number;
  readonly blockGroupNr: number;

  readonly uuid: Uint8Array;
  readonly uuidString: string;
  readonly volumeName: string;
  readonly lastMounted: string;
  readonly mountOpts: string;
  readonly defaultMountOpts: number;

  readonly mountTime: UnixSeconds;
  readonly writeTime: UnixSeconds;
  readonly mkfsTime: UnixSeconds;
  readonly lastCheck: UnixSeconds;
  readonly checkInterval: number;
  readonly mountCount: number;
  readonly maxMountCount: number;
  readonly state: number;
  readonly errors: number;
  readonly creatorOs: number;
  readonly defResuid: number;
  readonly defResgid: number;

  /** s_hash_seed as four u32 (little-endian words as stored). */
  readonly hashSeed: readonly number[];
  readonly defHashVersion: number;
  readonly flags: number;
  readonly minExtraIsize: number;
  readonly wantExtraIsize: number;

  readonly journalUuid: Uint8Array;
  readonly journalInum: number;
  readonly journalDev: number;
  readonly jnlBackupType: number;
  /** s_jnl_blocks: the journal inode's i_block[15] then i_size_high, i_size. */
  readonly jnlBlocks: readonly number[];
  readonly lastOrphan: number;
  readonly orphanFileInum: number;

  readonly checksumType: number;
  readonly checksum: number;
  readonly checksumSeed: number;
  /** crc32c seed of metadata checksums (see {@link csumSeedOf}). */
  readonly csumSeed: number;

  readonly mmpBlock: number;
  readonly mmpUpdateInterval: number;
  readonly raidStride: number;
  readonly raidStripeWidth: number;
  readonly kbytesWritten: number;
  readonly backupBgs: readonly [number, number];
  readonly lpfIno: number;
  readonly usrQuotaInum: number;
  readonly grpQuotaInum: number;
  readonly prjQuotaInum: number;
  readonly overheadClusters: number;
  readonly encoding: number;
  readonly encodingFlags: number;

  readonly errorCount: number;
  readonly firstError: ErrorRecord | null;
  readonly lastError: ErrorRecord | null;
}

/** One of the two error records (s_first_error_* / s_last_error_*). */
export interface ErrorRecord {
  readonly time: UnixSeconds;
  readonly ino: number;
  readonly block: number;
  readonly func: string;
  readonly line: number;
  readonly errcode: number;
}

/** crc32c seed of metadata checksums: s_checksum_seed with csum_seed, else crc32c(~0, s_uuid). */
export function csumSeedOf(features: FeatureSet, uuid: Uint8Array, checksumSeed: number): number {
  return features.has("metadata_csum_seed") ? checksumSeed >>> 0 : crc32cRaw(0xffffffff, uuid);
}

/**
 * Validates a superblock the way the kernel's ext4_fill_super and
 * e2fsprogs' ext2fs_open do, and derives the geometry. Throws Ext4Error:
 * Corrupt with a named code (SB_BAD_MAGIC, SB_BAD_BLOCK_SIZE, ...),
 * BadChecksum (SB_BAD_CHECKSUM), Incompatible (unsupported incompat
 * features, revision too high).
 */
export function parseSuperblock(
  bytes: Uint8Array,
  options: ParseSuperblockOptions = {},
): Superblock {
  const copy = bytes.slice(0, SUPERBLOCK_SIZE);
  const v = new ByteView(copy, { offset: SUPERBLOCK_OFFSET });
  const raw = decodeRawSuperblock(v);
  const n = (name: SuperblockField): number => raw[name] as number;
  const b = (name: SuperblockField): Uint8Array => raw[name] as Uint8Array;

  const magic = n("s_magic");
  if (magic !== EXT4_SUPER_MAGIC) {
    throw corrupt("SB_BAD_MAGIC", `superblock magic 0x${magic.toString(16)} is not 0xef53`);
  }
  const revLevel = n("s_rev_level");
  if (revLevel > 1) {
    throw new Ext4Error(
      "Incompatible",
      "SB_REV_TOO_HIGH",
      `revision level ${revLevel} is newer than 1`,
    );
  }
  const features =
    revLevel === 0
      ? new FeatureSet(0, 0, 0)
      : new FeatureSet(n("s_feature_compat"), n("s_feature_incompat"), n("s_feature_ro_compat"));
  const readOnlyReason = checkFeatures(features);

  if (features.metadataCsum && options.verifyChecksum !== false) {
    if (n("s_checksum_type") !== 1) {
      throw corrupt("SB_BAD_CSUM_TYPE", `unknown metadata checksum type ${n("s_checksum_type")}`);
    }
    const want = superblockChecksum(copy);
    if (want !== n("s_checksum")) {
      throw badChecksum(
        "SB_BAD_CHECKSUM",
        `superblock checksum 0x${n("s_checksum").toString(16)} != computed 0x${want.toString(16)}`,
        { offset: SUPERBLOCK_OFFSET },
      );
    }
  }

  // Block size: the kernel accepts 1 KiB .. 64 KiB (EXT4_MAX_BLOCK_LOG_SIZE 16).
  const logBlockSize = n("s_log_block_size");
  if (logBlockSize > 6) {
    throw corrupt("SB_BAD_BLOCK_SIZE", `s_log_block_size ${logBlockSize} is past 64 KiB`);
  }
  const blockSize = 1024 << logBlockSize;
  const bigalloc = features.has("bigalloc");
  const logClusterSize = n("s_log_cluster_size");
  if (bigalloc) {
    if (logClusterSize < logBlockSize || logClusterSize > 29) {
      throw corrupt("SB_BAD_CLUSTER_SIZE", `cluster size log ${logClusterSize} is invalid`);
    }
  } else if (logClusterSize !== logBlockSize) {
    throw corrupt(
      "SB_BAD_CLUSTER_SIZE",
      `cluster size log ${logClusterSize} != block size log ${logBlockSize} without bigalloc`,
    );
  }
  const clusterSize = 1024 * 2 ** logClusterSize;
  const clusterRatio = clusterSize / blockSize;

  const is64 = features.has("64bit");
  const blocksCount = is64
    ? SUPERBLOCK.getLoHi(v, "s_blocks_count_lo", "s_blocks_count_hi")
    : n("s_blocks_count_lo");
  const reservedBlocksCount = is64
    ? SUPERBLOCK.getLoHi(v, "s_r_blocks_count_lo", "s_r_blocks_count_hi")
    : n("s_r_blocks_count_lo");
  const freeBlocksCount = is64
    ? SUPERBLOCK.getLoHi(v, "s_free_blocks_count_lo", "s_free_blocks_count_hi")
    : n("s_free_blocks_count_lo");
  if (blocksCount === 0) throw corrupt("SB_BAD_BLOCKS_COUNT", "blocks count is 0");

  const firstDataBlock = n("s_first_data_block");
  // The superblock sits at byte 1024: in block 1 for 1 KiB blocks (without
  // bigalloc), else in block 0; groups start right after it.
  const wantFirst = blockSize === 1024 && clusterRatio === 1 ? 1 : 0;
  if (firstDataBlock !== wantFirst || firstDataBlock >= blocksCount) {
    throw corrupt(
      "SB_BAD_FIRST_DATA_BLOCK",
      `s_first_data_block ${firstDataBlock} is invalid for ${blockSize}-byte blocks`,
    );
  }

  const blocksPerGroup = n("s_blocks_per_group");
  const clustersPerGroup = bigalloc ? n("s_clusters_per_group") : blocksPerGroup;
  // A group's bitmap is one block: at most blockSize × 8 clusters per group.
  if (clustersPerGroup === 0 || clustersPerGroup > blockSize * 8) {
    throw corrupt("SB_BAD_CLUSTERS_PER_GROUP", `${clustersPerGroup} clusters per group`);
  }
  if (blocksPerGroup !== clustersPerGroup * clusterRatio) {
    throw corrupt(
      "SB_BAD_BLOCKS_PER_GROUP",
      `${blocksPerGroup} blocks per group != ${clustersPerGroup} clusters × ${clusterRatio}`,
    );
  }

  let inodeSize = 128;
  let firstIno = 11;
  if (revLevel >= 1) {
    inodeSize = n("s_inode_size");
    firstIno = n("s_first_ino");
    if (inodeSize < 128 || inodeSize > blockSize || (inodeSize & (inodeSize - 1)) !== 0) {
      throw corrupt("SB_BAD_INODE_SIZE", `inode size ${inodeSize} is invalid`);
    }
  }
  const inodesPerBlock = blockSize / inodeSize;
  const inodesPerGroup = n("s_inodes_per_group");
  if (inodesPerGroup < inodesPerBlock || inodesPerGroup > blockSize * 8) {
    throw corrupt("SB_BAD_INODES_PER_GROUP", `${inodesPerGroup} inodes per group`);
  }
  if (inodesPerGroup % inodesPerBlock !== 0) {
    throw corrupt(
      "SB_BAD_INODES_PER_GROUP",
      `${inodesPerGroup} inodes per group is not a multiple of ${inodesPerBlock} per block`,
    );
  }
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  const inodesCount = n("s_inodes_count");
  if (groupCount * inodesPerGroup !== inodesCount) {
    throw corrupt(
      "SB_BAD_INODES_COUNT",
      `inodes count ${inodesCount} != ${groupCount} groups × ${inodesPerGroup}`,
    );
  }
  if (firstIno < 11 || firstIno > inodesCount) {
    throw corrupt("SB_BAD_FIRST_INO", `first inode ${firstIno} is invalid`);
  }

  let descSize = 32;
  if (is64) {
    descSize = n("s_desc_size");
    if (descSize < 64 || descSize > 1024 || (descSize & (descSize - 1)) !== 0) {
      throw corrupt("SB_BAD_DESC_SIZE", `group descriptor size ${descSize} is invalid`);
    }
  }
  const descPerBlock = blockSize / descSize;
  const gdtBlocks = Math.ceil(groupCount / descPerBlock);
  const firstMetaBg = n("s_first_meta_bg");
  if (features.has("meta_bg") && firstMetaBg > gdtBlocks) {
    throw corrupt("SB_BAD_FIRST_META_BG", `first meta_bg ${firstMetaBg} > ${gdtBlocks} GDT blocks`);
  }
  const reservedGdtBlocks = n("s_reserved_gdt_blocks");
  if (reservedGdtBlocks > blockSize / 4) {
    throw corrupt("SB_BAD_RESERVED_GDT", `${reservedGdtBlocks} reserved GDT blocks`);
  }
  const logGroupsPerFlex = n("s_log_groups_per_flex");
  if (features.has("flex_bg") && logGroupsPerFlex >= 32) {
    throw corrupt("SB_BAD_FLEX_SIZE", `s_log_groups_per_flex ${logGroupsPerFlex}`);
  }

  const uuid = b("s_uuid");
  const hashSeedView = new ByteView(b("s_hash_seed"));
  const hashSeed = [0, 4, 8, 12].map((o) => hashSeedView.u32(o));
  const jnlView = new ByteView(b("s_jnl_blocks"));
  const jnlBlocks = Array.from({ length: 17 }, (_, i) => jnlView.u32(i * 4));
  const bgs = new ByteView(b("s_backup_bgs"));
  const time = (lo: SuperblockField, hi: SuperblockField): number => n(lo) + n(hi) * 2 ** 32;
  const errorRecord = (which: "first" | "last"): ErrorRecord | null => {
    const rec: ErrorRecord = {
      time: time(`s_${which}_error_time`, `s_${which}_error_time_hi`),
      ino: n(`s_${which}_error_ino`),
      block: raw[`s_${which}_error_block`] as number,
      func: cString(b(`s_${which}_error_func`)),
      line: n(`s_${which}_error_line`),
      errcode: n(`s_${which}_error_errcode`),
    };
    return rec.time === 0 ? null : rec;
  };

  return {
    raw,
    bytes: copy,
    features,
    readOnlyReason,
    magic,
    revLevel,
    minorRevLevel: n("s_minor_rev_level"),
    blockSize,
    logBlockSize,
    clusterSize,
    logClusterSize,
    clusterRatio,
    blocksCount,
    reservedBlocksCount,
    freeBlocksCount,
    inodesCount,
    freeInodesCount: n("s_free_inodes_count"),
    firstDataBlock,
    blocksPerGroup,
    clustersPerGroup,
    inodesPerGroup,
    groupCount,
    inodeSize,
    inodesPerBlock,
    inodeTableBlocks: inodesPerGroup / inodesPerBlock,
    firstIno,
    descSize,
    descPerBlock,
    gdtBlocks,
    reservedGdtBlocks,
    firstMetaBg,
    logGroupsPerFlex,
    blockGroupNr: n("s_block_group_nr"),
    uuid,
    uuidString: uuidString(uuid),
    volumeName: cString(b("s_volume_name")),
    lastMounted: cString(b("s_last_mounted")),
    mountOpts: cString(b("s_mount_opts")),
    defaultMountOpts: n("s_default_mount_opts"),
    mountTime: time("s_mtime", "s_mtime_hi"),
    writeTime: time("s_wtime", "s_wtime_hi"),
    mkfsTime: time("s_mkfs_time", "s_mkfs_time_hi"),
    lastCheck: time("s_lastcheck", "s_lastcheck_hi"),
    checkInterval: n("s_checkinterval"),
    mountCount: n("s_mnt_count"),
    maxMountCount: n("s_max_mnt_count"),
    state: n("s_state"),
    errors: n("s_errors"),
    creatorOs: n("s_creator_os"),
    defResuid: n("s_def_resuid"),
    defResgid: n("s_def_resgid"),
    hashSeed,
    defHashVersion: n("s_def_hash_version"),
    flags: n("s_flags"),
    minExtraIsize: n("s_min_extra_isize"),
    wantExtraIsize: n("s_want_extra_isize"),
    journalUuid: b("s_journal_uuid"),
    journalInum: n("s_journal_inum"),
    journalDev: n("s_journal_dev"),
    jnlBackupType: n("s_jnl_backup_type"),
    jnlBlocks,
    lastOrphan: n("s_last_orphan"),
    orphanFileInum: n("s_orphan_file_inum"),
    checksumType: n("s_checksum_type"),
    checksum: n("s_checksum"),
    checksumSeed: n("s_checksum_seed"),
    csumSeed: csumSeedOf(features, uuid, n("s_checksum_seed")),
    mmpBlock: raw.s_mmp_block as number,
    mmpUpdateInterval: n("s_mmp_update_interval"),
    raidStride: n("s_raid_stride"),
    raidStripeWidth: n("s_raid_stripe_width"),
    kbytesWritten: raw.s_kbytes_written as number,
    backupBgs: [bgs.u32(0), bgs.u32(4)],
    lpfIno: n("s_lpf_ino"),
    usrQuotaInum: n("s_usr_quota_inum"),
    grpQuotaInum: n("s_grp_quota_inum"),
    prjQuotaInum: n("s_prj_quota_inum"),
    overheadClusters: n("s_overhead_clusters"),
    encoding: n("s_encoding"),
    encodingFlags: n("s_encoding_flags"),
    errorCount: n("s_error_count"),
    firstError: errorRecord("first"),
    lastError: errorRecord("last"),
  };
}

function isPowerOf(n: number, base: number): boolean {
  let x = base;
  while (x < n) x *= base;
  return x === n;
}

/**
 * ext4_bg_has_super: does group `group` hold a superblock copy (and, outside
 * meta_bg, a GDT copy)? Group 0 always; with sparse_super2 only the two
 * s_backup_bgs; with sparse_super groups 0, 1 and powers of 3, 5 and 7;
 * otherwise every group.
 */
export function groupHasSuper(sb: Superblock, group: number): boolean {
  if (group === 0) return true;
  if (sb.features.has("sparse_super2")) {
    return group === sb.backupBgs[0] || group === sb.backupBgs[1];
  }
  if (group <= 1 || !sb.features.has("sparse_super")) return true;
  if ((group & 1) === 0) return false;
  return isPowerOf(group, 3) || isPowerOf(group, 5) || isPowerOf(group, 7);
}

/** First block of a group: ext4_group_first_block_no. */
export function groupFirstBlock(sb: Superblock, group: number): number {
  return group * sb.blocksPerGroup + sb.firstDataBlock;
}

/** Blocks in `group` (the last group may be short). */
export function blocksInGroup(sb: Superblock, group: number): number {
  if (group < sb.groupCount - 1) return sb.blocksPerGroup;
  return sb.blocksCount - sb.firstDataBlock - (sb.groupCount - 1) * sb.blocksPerGroup;
}

/** Where a superblock copy lives. */
export interface SuperblockLocation {
  readonly group: number;
  /** The filesystem block that holds it (for group 0 with 4 KiB blocks: block 0, at byte 1024). */
  readonly block: number;
  /** Byte offset of the copy on the device. */
  readonly byteOffset: number;
}

/**
 * Groups holding a superblock copy, ascending. Candidates are generated (0,
 * 1, powers of 3, 5, 7, or the two s_backup_bgs) rather than every group
 * tested, so a huge group count costs nothing with sparse_super.
 */
export function superblockGroups(sb: Superblock): number[] {
  let groups: number[];
  if (sb.features.has("sparse_super2")) {
    groups = [0, ...sb.backupBgs.filter((g) => g !== 0)];
  } else if (sb.features.has("sparse_super")) {
    const set = new Set<number>([0, 1]);
    for (const base of [3, 5, 7]) {
      for (let p = base; p < sb.groupCount; p *= base) set.add(p);
    }
    groups = [...set];
  } else {
    groups = Array.from({ length: sb.groupCount }, (_, g) => g);
  }
  return [...new Set(groups)].filter((g) => g < sb.groupCount).sort((a, b) => a - b);
}

/** Every superblock location: the primary (group 0) then each backup, in group order. */
export function superblockLocations(sb: Superblock): SuperblockLocation[] {
  return superblockGroups(sb).map((g) => {
    const block = groupFirstBlock(sb, g);
    return { group: g, block, byteOffset: g === 0 ? SUPERBLOCK_OFFSET : block * sb.blockSize };
  });
}
