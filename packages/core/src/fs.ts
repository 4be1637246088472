/**
 * The filesystem: opening an image (superblock, feature gate, group
 * descriptors), reading inodes, block maps, file data, symlinks, xattrs,
 * bitmaps, orphans and the journal; and, opened writable, changing it as
 * the kernel driver does (the write path lives in `write/` and is reached
 * through the methods of {@link Filesystem}).
 *
 * All metadata goes through one BufferCache sized in filesystem blocks.
 * Every block number taken from disk is checked against the filesystem
 * before it reaches the cache, and device failures surface as Ext4Error kind
 * `Io`, so callers only ever see Ext4Error from a corrupt image.
 */
import { type BlockDevice, BufferCache, IoError } from "@ext4/iocache";
import type { DirInode } from "./dir/host.js";
import { corrupt, Ext4Error, type Ext4ErrorContext, fsError } from "./errors.js";
import type { FeatureSet } from "./features.js";
import { type AclEntry, decodeExt4Acl, encodePosixAclXattr } from "./format/acl.js";
import {
  type Bitmap,
  Bitmap as BitmapClass,
  blockBitmapChecksumValid,
  inodeBitmapChecksumValid,
  uninitBlockBitmap,
} from "./format/bitmap.js";
import { decodeExtentNode, type ExtentNodeData } from "./format/extent.js";
import {
  EXT4_BG_BLOCK_UNINIT,
  EXT4_BG_INODE_UNINIT,
  type GroupDesc,
  groupDescLocation,
  parseGroupDesc,
} from "./format/group-desc.js";
import {
  checkInode,
  decodeOwnedInode,
  EXT4_ROOT_INO,
  InodeBytes,
  type InodeDecodeParams,
  InodeFlags,
  inodeCsumSeed,
  ownedInodeChecksumValid,
  type Timestamp,
} from "./format/inode.js";
import { parseJournalSuperblock } from "./format/jbd2.js";
import { parseOrphanBlock } from "./format/orphan.js";
import {
  blocksInGroup,
  EXT2_FLAGS_UNSIGNED_HASH,
  EXT4_ERROR_FS,
  EXT4_VALID_FS,
  parseSuperblock,
  SUPERBLOCK_OFFSET,
  SUPERBLOCK_SIZE,
  type Superblock,
} from "./format/superblock.js";
import {
  parseXattrBlock,
  type XattrBlock,
  type XattrEntry,
  type XattrParseLimits,
  xattrEaInodeValueHash,
  xattrEntryHash,
} from "./format/xattr.js";
import { Inode, type InodeEnv } from "./inode.js";
import { Journal } from "./journal.js";
import {
  type ExtentTreeNode,
  extentBlockList,
  mapExtents,
  readExtentTree,
} from "./map/extent-tree.js";
import { indirectBlockList, mapIndirect } from "./map/indirect.js";
import type { BlockListEntry, BlockRun, MapEnv } from "./map/types.js";
import { type RecoveryReport, ReplayDevice, replayOnDevice } from "./replay.js";
import {
  listXattrNames,
  readXattr,
  type SetAttr,
  setattr,
  setFlags,
  setXattr,
} from "./write/attr.js";
import { cleanupOrphans, releaseAll } from "./write/cleanup.js";
import { deleteInode } from "./write/delete.js";
import { growDir } from "./write/directory.js";
import { type SpacePolicy, WriteEngine } from "./write/engine.js";
import { cStringField, type ErrorRecord, saveErrorInfo } from "./write/error-record.js";
import { copyRange, fallocate, seekDataHole, type WriteResult, writeFile } from "./write/file.js";
import { setFeature, writeBlockers } from "./write/gate.js";
import { clearInline, inlineCapacity, setInlineContent } from "./write/inline.js";
import { type JournalStats, JournalWriter, journalWriteBlocker } from "./write/journal-writer.js";
import { MetaState } from "./write/meta.js";
import {
  createFile,
  createTmpfile,
  link,
  mkdir,
  mknod,
  type NodeOptions,
  type Ns,
  rename,
  rmdir,
  symlink,
  unlink,
} from "./write/namespace.js";
import { RawEditor } from "./write/raw.js";
import { type StatFs, statfsOf } from "./write/statfs.js";

/** Options for {@link Filesystem.open}. */
export interface OpenOptions {
  /** Buffer cache capacity in bytes (default: the cache's default, 64 MiB). */
  cacheBytes?: number;
  /**
   * Verify metadata checksums and throw BadChecksum on a mismatch (default
   * true). With false, mismatches are recorded (checksumValid fields) but
   * reading goes on, as debugfs -n and e2fsck do.
   */
  verifyChecksums?: boolean;
  /**
   * Open from a backup superblock (debugfs -s/-b): the filesystem block
   * holding the copy and the block size to find it with. The group
   * descriptors are then read from the backup table that follows it.
   */
  backup?: { block: number; blockSize: number };
  /**
   * Open read-write (default false). The device must be writable. See
   * {@link Filesystem.open} for what mounting changes and when the image
   * stays read-only anyway.
   */
  writable?: boolean;
  /** The clock for timestamps (tests pin it); default wall time with nanoseconds. */
  clock?: () => Timestamp;
  /** The source of random u32s for i_generation and Orlov spreading (default Math.random). */
  random?: () => number;
  /**
   * What to do with a journal that needs recovery (default "replay"):
   * replay it — on the device when writable, as the kernel and e2fsck do;
   * in memory when read-only, so the image is never written — or "ignore"
   * it and see the image as it is on disk (debugfs, e2fsck -n). A
   * writable open of an image that needs recovery is refused with "ignore".
   */
  journal?: "replay" | "ignore";
}

/** One extended attribute of an inode. */
export interface Xattr {
  /** Full name, e.g. "user.comment", "system.posix_acl_access". */
  readonly name: string;
  /** The value as stored (ACLs in ext4's on-disk form; see {@link Filesystem.getPosixAcl}). */
  readonly value: Uint8Array;
  readonly nameIndex: number;
  /** Where the entry lives. */
  readonly source: "inode" | "block";
  /** The EA inode holding the value, or 0. */
  readonly valueInum: number;
  /** e_hash as stored. */
  readonly hash: number;
}

/** A bitmap as read, with how it was obtained. */
export interface BitmapRead {
  readonly bitmap: Bitmap;
  /** True when the group is uninitialised and the bitmap was computed, not read. */
  readonly uninit: boolean;
  /** True when the stored checksum matched (or there is none). */
  readonly checksumValid: boolean;
}

/** The orphan inodes waiting for cleanup. */
export interface Orphans {
  /** The s_last_orphan chain (linked through i_dtime), in list order. */
  readonly list: readonly number[];
  /** The orphan file, or null without the orphan_file feature. */
  readonly file: {
    readonly ino: number;
    readonly blocks: ReadonlyArray<{
      readonly logical: number;
      readonly physical: number;
      readonly inodes: readonly number[];
      readonly checksumValid: boolean;
    }>;
  } | null;
}

/** Free-space and usage figures (superblock counters and descriptor sums). */
export interface FsStats {
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly reservedBlocksCount: number;
  readonly inodesCount: number;
  /** s_free_blocks_count (may lag: the kernel updates it lazily). */
  readonly freeBlocks: number;
  /** s_free_inodes_count. */
  readonly freeInodes: number;
  /** Sum of bg_free_blocks_count × cluster ratio. */
  readonly groupFreeBlocks: number;
  /** Sum of bg_free_inodes_count. */
  readonly groupFreeInodes: number;
  /** Sum of bg_used_dirs_count. */
  readonly directories: number;
  readonly groupCount: number;
}

function wallNow(): Timestamp {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

/** Inode table blocks read ahead on a miss: the kernel's default inode_readahead_blks. */
const INODE_READAHEAD_BLOCKS = 32;

/**
 * Size of the slabs inode copies are carved from (see Filesystem.inodeCopy):
 * 64 inodes of 256 bytes. An allocation costs about the same up to 16 KiB,
 * so a smaller slab costs more per inode; a larger one keeps more memory
 * alive for an inode that is kept.
 */
const INODE_SLAB_BYTES = 16384;

/** Largest read {@link Filesystem.readFile} serves in one call. */
export const MAX_READ_BYTES = 1 << 30;

function ioError(e: unknown, ctx: Ext4ErrorContext): never {
  if (e instanceof Ext4Error) throw e;
  if (e instanceof IoError || e instanceof RangeError) {
    throw new Ext4Error("Io", `IO_${e instanceof IoError ? e.errno : "RANGE"}`, e.message, ctx, {
      cause: e,
    });
  }
  throw e;
}

/** An open ext4 filesystem. Satisfies the directory module's DirHost, and DirWriteHost when writable. */
export class Filesystem {
  /** The buffer cache over the device, in filesystem blocks. */
  readonly cache: BufferCache;
  /** Whether checksum mismatches throw (see {@link OpenOptions.verifyChecksums}). */
  readonly verifyChecksums: boolean;
  /** The superblock and descriptors as they are now. */
  private readonly meta: MetaState;
  /** The superblock read at open: geometry and features (never change while open). */
  private readonly geo: Superblock;
  private readonly inodeParams: InodeDecodeParams;
  /** What every Inode of this filesystem needs to interpret itself (one shared object). */
  private readonly inodeEnv: InodeEnv;
  private readonly xattrLimits: XattrParseLimits;
  /** The write side, or null when read-only. */
  private engine: WriteEngine | null = null;
  private roReason: string | null;
  /** s_state at open, restored by a clean close (the kernel's s_mount_state). */
  private stateAtOpen = 0;
  private closed = false;
  private recoveryReport: RecoveryReport | null = null;
  /** Extent roots decoded per Inode snapshot (see extentRoot). */
  private readonly extentRoots = new WeakMap<Inode, ExtentNodeData>();
  /** The slab inode copies are carved from, and how much of it is taken (see inodeCopy). */
  private slab = new Uint8Array(0);
  private slabUsed = 0;
  /** The block of the last fileBlockForWrite, so dirtyFileBlock needs no second map walk. */
  private lastDirBlock: { ino: number; lblk: number; physical: number } | null = null;

  private constructor(
    readonly device: BlockDevice,
    superblock: Superblock,
    options: OpenOptions,
    private readonly backupGroupBlock: number | undefined,
  ) {
    this.geo = superblock;
    this.verifyChecksums = options.verifyChecksums !== false;
    this.cache = new BufferCache(device, {
      blockSize: superblock.blockSize,
      ...(options.cacheBytes === undefined ? {} : { capacityBytes: options.cacheBytes }),
    });
    this.inodeParams = {
      inodeSize: superblock.inodeSize,
      hugeFile: superblock.features.has("huge_file"),
      is64bit: superblock.features.has("64bit"),
    };
    this.xattrLimits = {
      eaInode: superblock.features.has("ea_inode"),
      inodesCount: superblock.inodesCount,
    };
    this.inodeEnv = {
      inodeSize: superblock.inodeSize,
      blockSize: superblock.blockSize,
      xattrLimits: this.xattrLimits,
      decode: this.inodeParams,
    };
    this.meta = new MetaState(superblock, this.loadGroups());
    this.roReason = superblock.readOnlyReason ?? writeBlockers(superblock);
  }

  /**
   * Opens the filesystem on `device`: reads the superblock at byte 1024,
   * validates it (geometry, features, checksum) and every group descriptor,
   * and checks the filesystem fits the device.
   *
   * With `writable: true` the filesystem is mounted read-write as the
   * kernel does it: s_state loses EXT4_VALID_FS until a clean {@link close},
   * s_mnt_count and s_mtime are updated and written at once, and orphans
   * left by an earlier session are cleaned up. When the image uses a
   * feature that can be read but not written safely, it opens read-only
   * instead: {@link writable} is false and {@link readOnlyReason} names the
   * feature. Throws Ext4Error: Corrupt, BadChecksum, Incompatible
   * (unsupported incompat features), Io; ReadOnly when writing was asked
   * for a read-only device (DEVICE_READ_ONLY), from a backup superblock
   * (BACKUP_READ_ONLY), or while the journal needs recovery
   * (JOURNAL_NEEDS_RECOVERY).
   */
  static open(device: BlockDevice, options: OpenOptions = {}): Filesystem {
    const offset =
      options.backup === undefined
        ? SUPERBLOCK_OFFSET
        : options.backup.block * options.backup.blockSize;
    if (options.writable === true) {
      if (device.readOnly) {
        throw fsError("ReadOnly", "DEVICE_READ_ONLY", `${device.name} was opened read-only`);
      }
      if (options.backup !== undefined) {
        throw fsError("ReadOnly", "BACKUP_READ_ONLY", "a backup superblock is opened read-only");
      }
    }
    const sb = Filesystem.readSuperblock(device, offset, options.verifyChecksums !== false);
    if (options.backup !== undefined && sb.blockSize !== options.backup.blockSize) {
      throw corrupt(
        "SB_BACKUP_BLOCK_SIZE",
        `backup superblock says ${sb.blockSize}-byte blocks, not ${options.backup.blockSize}`,
        { offset },
      );
    }
    const deviceBlocks = Math.floor(device.size / sb.blockSize);
    if (sb.blocksCount > deviceBlocks) {
      throw corrupt(
        "SB_BLOCKS_PAST_DEVICE",
        `${sb.blocksCount} blocks exceed the ${deviceBlocks}-block device`,
      );
    }
    if (sb.features.has("needs_recovery")) {
      if (
        (options.journal ?? "replay") === "replay" &&
        options.backup === undefined &&
        sb.features.has("has_journal")
      ) {
        return Filesystem.recover(device, sb, options);
      }
      if (options.writable === true) {
        throw fsError(
          "ReadOnly",
          "JOURNAL_NEEDS_RECOVERY",
          "the journal needs recovery: open read-write with journal replay, or read-only",
        );
      }
    }
    const fs = new Filesystem(device, sb, options, options.backup?.block);
    if (options.writable === true) fs.mount(options);
    return fs;
  }

  /**
   * Opens an image whose journal needs recovery: the log is read through a
   * read-only open of the image as it is, then replayed on the device
   * (writable) or over it in memory (read-only), and the recovered
   * filesystem is opened; {@link recovery} says what was replayed.
   */
  private static recover(device: BlockDevice, sb: Superblock, options: OpenOptions): Filesystem {
    const raw = new Filesystem(device, sb, { ...options, writable: false }, undefined);
    const journal = raw.journal();
    // OK to assert: has_journal was checked by the caller.
    const plan = journal!.planReplay(sb.blocksCount);
    const report: RecoveryReport = {
      inMemory: options.writable !== true,
      transactions: plan.transactions,
      blocks: plan.blocks.size,
      revoked: plan.revoked,
      skipped: plan.bad.length,
      journalErrno: journal!.superblock.errno,
    };
    let target: BlockDevice = device;
    try {
      if (options.writable === true) replayOnDevice(device, journal!, plan, sb.blockSize);
      else target = ReplayDevice.over(device, journal!, plan, sb.blockSize);
    } catch (e) {
      ioError(e, { inode: journal!.inode });
    }
    const fs = Filesystem.open(target, { ...options, journal: "ignore" });
    fs.recoveryReport = report;
    return fs;
  }

  /**
   * The image on `device` as journal recovery would leave it, in memory: a
   * read-only device to check or inspect (`ext4-check --replay`), and what
   * the replay did; null when the superblock does not ask for recovery.
   * Nothing is written. Throws Ext4Error (an unreadable superblock or
   * journal: NotSupported JOURNAL_EXTERNAL, Corrupt, BadChecksum, Io).
   */
  static recoveredView(
    device: BlockDevice,
    options: Pick<OpenOptions, "verifyChecksums"> = {},
  ): { device: BlockDevice; report: RecoveryReport } | null {
    const sb = Filesystem.readSuperblock(
      device,
      SUPERBLOCK_OFFSET,
      options.verifyChecksums !== false,
    );
    if (!sb.features.has("needs_recovery") || !sb.features.has("has_journal")) return null;
    const fs = Filesystem.recover(device, sb, { ...options, writable: false });
    // OK to assert: recover always sets the report.
    return { device: fs.device, report: fs.recoveryReport! };
  }

  /**
   * Reads and validates the superblock copy at byte `offset` of `device`
   * (1024 for the primary; see superblockLocations for the backups). Throws
   * Ext4Error (Corrupt, BadChecksum, Incompatible, Io).
   */
  static readSuperblock(
    device: BlockDevice,
    offset = SUPERBLOCK_OFFSET,
    verifyChecksum = true,
  ): Superblock {
    const bytes = new Uint8Array(SUPERBLOCK_SIZE);
    try {
      device.read(offset, bytes);
    } catch (e) {
      ioError(e, { offset });
    }
    return parseSuperblock(bytes, { verifyChecksum });
  }

  // ---- DirHost ----

  /** Bytes per block. */
  get blockSize(): number {
    return this.geo.blockSize;
  }
  /** The feature words with name lookup. */
  get features(): FeatureSet {
    return this.geo.features;
  }
  /** Feature by kernel or e2fsprogs name ("metadata_csum", "largedir", "inline_data", ...). */
  hasFeature(name: string): boolean {
    return this.geo.features.has(name);
  }
  /** crc32c seed of metadata checksums. */
  get csumSeed(): number {
    return this.geo.csumSeed;
  }
  /** s_hash_seed as four u32. */
  get hashSeed(): readonly number[] {
    return this.geo.hashSeed;
  }
  /** s_def_hash_version. */
  get defHashVersion(): number {
    return this.geo.defHashVersion;
  }
  /** s_flags has EXT2_FLAGS_UNSIGNED_HASH. */
  get unsignedHash(): boolean {
    return (this.geo.flags & EXT2_FLAGS_UNSIGNED_HASH) !== 0;
  }
  /** True unless the filesystem was opened writable and may be changed. */
  get readOnly(): boolean {
    return this.engine === null;
  }
  /** True when the filesystem was opened read-write and may be changed (DirWriteHost). */
  get writable(): boolean {
    return this.engine !== null;
  }
  /**
   * Why this image may not be written: unknown ro_compat features, the
   * read-only feature, or a feature this toolkit reads but does not write
   * (bigalloc, ea_inode, quota, verity, mmp, shared_blocks, an unreadable
   * orphan file); null otherwise.
   */
  get readOnlyReason(): string | null {
    return this.roReason;
  }
  /** The superblock as it is now (counters change while writing; geometry never does). */
  get superblock(): Superblock {
    return this.meta.superblock;
  }
  /** Group descriptors as they are now (validated at open, re-validated after each change). */
  get groups(): readonly GroupDesc[] {
    return this.meta.groups;
  }
  /** The needs_recovery flag: the journal holds transactions not yet written home. */
  get needsRecovery(): boolean {
    return this.geo.features.has("needs_recovery");
  }
  /** What the journal recovery at open did, or null when none was needed (or it was ignored). */
  get recovery(): RecoveryReport | null {
    return this.recoveryReport;
  }
  /** Counters of the journal while mounted read-write with one, else null. */
  journalStats(): JournalStats | null {
    return this.engine?.journal?.stats() ?? null;
  }

  // ---- blocks ----

  /**
   * The cached buffer of filesystem block `block` (transient: use it before
   * the next call). Throws Corrupt (BLOCK_OUT_OF_RANGE) for a block outside
   * the filesystem, Io on a device error.
   */
  readBlock(block: number, ctx: Ext4ErrorContext = {}): Uint8Array {
    if (!(Number.isSafeInteger(block) && block >= 0 && block < this.geo.blocksCount)) {
      throw corrupt("BLOCK_OUT_OF_RANGE", `block ${block} outside the filesystem`, {
        ...ctx,
        block,
      });
    }
    try {
      return this.cache.get(block);
    } catch (e) {
      return ioError(e, { ...ctx, block });
    }
  }

  private loadGroups(): GroupDesc[] {
    const sb = this.geo;
    const out: GroupDesc[] = [];
    for (let g = 0; g < sb.groupCount; g++) {
      const loc = groupDescLocation(sb, g, this.backupGroupBlock);
      const buf = this.readBlock(loc.block, { group: g });
      out.push(
        parseGroupDesc(sb, g, buf.slice(loc.offset, loc.offset + sb.descSize), {
          verifyChecksum: this.verifyChecksums,
          location: loc,
        }),
      );
    }
    return out;
  }

  /** The descriptor of `group`. Throws Ext4Error InvalidArgument for a bad group number. */
  group(group: number): GroupDesc {
    const gd = this.meta.groups[group];
    if (gd === undefined) {
      throw fsError("InvalidArgument", "BAD_GROUP", `no group ${group}`, { group });
    }
    return gd;
  }

  // ---- inodes ----

  /** Where inode `ino` lives: group, index in the group, inode table block and byte offset. */
  inodeLocation(ino: number): { group: number; index: number; block: number; offset: number } {
    const sb = this.geo;
    if (!(Number.isSafeInteger(ino) && ino >= 1 && ino <= sb.inodesCount)) {
      throw corrupt("INODE_BAD_NUMBER", `inode number ${ino} outside [1, ${sb.inodesCount}]`, {
        inode: ino,
      });
    }
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const index = (ino - 1) % sb.inodesPerGroup;
    const byte = index * sb.inodeSize;
    const gd = this.group(group);
    return {
      group,
      index,
      block: gd.inodeTable + Math.floor(byte / sb.blockSize),
      offset: byte % sb.blockSize,
    };
  }

  /**
   * Reads and validates inode `ino` (structure and checksum; a deleted or
   * unused inode is returned as it is — see Inode.isInUse). Inodes of an
   * INODE_UNINIT group, or past bg_itable_unused, read as zeros, as
   * e2fsprogs reads them. Throws Corrupt (INODE_* codes), BadChecksum
   * (INODE_BAD_CHECKSUM), Io.
   */
  readInode(ino: number): Inode {
    // Within one write operation an inode is read many times: the engine
    // keeps the ones it decoded or wrote until the operation ends.
    const cached = this.engine?.cachedInode(ino);
    if (cached !== undefined) return cached;
    const inode = this.decodeInodeAt(ino);
    this.engine?.rememberInode(inode);
    return inode;
  }

  /**
   * The Inode for bytes the inode writer just produced (checksum computed
   * by it, so not verified again): the first inodeSize bytes of `raw` are
   * copied, so the writer may go on changing its buffer. For the write engine.
   */
  inodeFromRaw(ino: number, raw: Uint8Array): Inode {
    const copy = this.inodeCopy(raw, 0);
    const fields = decodeOwnedInode(copy, this.inodeParams, { inode: ino });
    return new Inode(ino, fields, copy, this.inodeEnv, true);
  }

  /**
   * The kernel's inode table readahead (ext4_get_inode_loc with
   * inode_readahead_blks): on a miss, the aligned window of
   * INODE_READAHEAD_BLOCKS around `block` is read in one device read, kept
   * inside the used part of the group's table. Inodes are mostly read in
   * runs (a listing, a walk): one read instead of one per block. Throws Io
   * only when making room writes back a buffer and that fails.
   */
  private inodeReadahead(block: number, gd: GroupDesc, ctx: Ext4ErrorContext): void {
    const sb = this.geo;
    const used = sb.features.groupDescCsum
      ? sb.inodesPerGroup - gd.itableUnused
      : sb.inodesPerGroup;
    const tableEnd = gd.inodeTable + Math.ceil(used / sb.inodesPerBlock);
    const start = Math.max(gd.inodeTable, block - (block % INODE_READAHEAD_BLOCKS));
    const end = Math.min(tableEnd, start + INODE_READAHEAD_BLOCKS, sb.blocksCount);
    if (end - start <= 1) return;
    try {
      this.cache.prefetch(start, end - start);
    } catch (e) {
      ioError(e, { ...ctx, block });
    }
  }

  /**
   * A private, changeable copy of the first inodeSize bytes of `raw`, or
   * zeros for null: the buffers of the write engine's work inodes (see
   * inodeCopy). For the write engine.
   */
  inodeBuffer(raw: Uint8Array | null): Uint8Array {
    return raw === null ? this.inodeSlab() : this.inodeCopy(raw, 0);
  }

  /** inodeSize zero bytes carved from the slab (see inodeCopy). */
  private inodeSlab(): Uint8Array {
    const size = this.geo.inodeSize;
    if (this.slabUsed + size > this.slab.length) {
      this.slab = new Uint8Array(Math.max(INODE_SLAB_BYTES, size));
      this.slabUsed = 0;
    }
    const raw = this.slab.subarray(this.slabUsed, this.slabUsed + size);
    this.slabUsed += size;
    return raw;
  }

  /**
   * A private copy of the inode at `offset` of `src`, carved from a shared
   * slab: an ArrayBuffer of its own per inode (a typed array this size lives
   * outside the JS heap) cost a third of readInode. A slab stays alive while
   * any inode copied into it does; INODE_SLAB_BYTES weighs that against the
   * cost of allocating.
   */
  private inodeCopy(src: Uint8Array, offset: number): Uint8Array {
    const size = this.geo.inodeSize;
    const raw = this.inodeSlab();
    raw.set(src.subarray(offset, offset + size));
    return raw;
  }

  private decodeInodeAt(ino: number): Inode {
    const sb = this.geo;
    const loc = this.inodeLocation(ino);
    const gd = this.group(loc.group);
    const ctx = { inode: ino, group: loc.group };
    const size = sb.inodeSize;
    let raw: Uint8Array;
    let checksumValid = true;
    const neverUsed =
      sb.features.groupDescCsum &&
      ((gd.flags & EXT4_BG_INODE_UNINIT) !== 0 || loc.index >= sb.inodesPerGroup - gd.itableUnused);
    if (neverUsed) {
      raw = new Uint8Array(size);
    } else {
      if (!this.cache.has(loc.block)) this.inodeReadahead(loc.block, gd, ctx);
      // The Inode owns a copy: cache buffers are transient.
      raw = this.inodeCopy(this.readBlock(loc.block, ctx), loc.offset);
      if (sb.features.metadataCsum) {
        // raw is this call's own copy: checked in place (see ownedInodeChecksumValid).
        checksumValid = ownedInodeChecksumValid(sb.csumSeed, ino, raw, size);
        if (!checksumValid && this.verifyChecksums) {
          throw new Ext4Error("BadChecksum", "INODE_BAD_CHECKSUM", "inode checksum mismatch", {
            ...ctx,
            block: loc.block,
            offset: loc.offset,
          });
        }
      }
    }
    // Every check decoding makes, now; the fields themselves are decoded when
    // first asked for (a listing reads a few fields of each of many inodes).
    checkInode(raw, this.inodeParams, ctx);
    const flags = InodeBytes.flags(raw);
    if ((flags & InodeFlags.INLINE_DATA) !== 0) {
      if (!sb.features.has("inline_data")) {
        throw corrupt("INODE_INLINE_NO_FEATURE", "inline data flag without inline_data", ctx);
      }
      if ((flags & InodeFlags.EXTENTS) !== 0) {
        throw corrupt("INODE_INLINE_AND_EXTENTS", "both inline data and extents flags", ctx);
      }
    }
    const fileAcl = InodeBytes.fileAcl(raw, this.inodeParams);
    if (fileAcl !== 0 && (fileAcl < sb.firstDataBlock || fileAcl >= sb.blocksCount)) {
      throw corrupt("INODE_BAD_FILE_ACL", `xattr block ${fileAcl} outside the filesystem`, ctx);
    }
    return new Inode(ino, null, raw, this.inodeEnv, checksumValid);
  }

  /** The root directory inode (2). Throws Ext4Error. */
  root(): Inode {
    return this.readInode(EXT4_ROOT_INO);
  }

  // ---- block maps ----

  private mapEnv(inode: Inode): MapEnv {
    const sb = this.geo;
    return {
      blockSize: sb.blockSize,
      blocksCount: sb.blocksCount,
      firstDataBlock: sb.firstDataBlock,
      readBlock: (b, ctx) => this.readBlock(b, ctx),
      inodeSeed: sb.features.metadataCsum
        ? inodeCsumSeed(sb.csumSeed, inode.ino, inode.generation)
        : null,
      verifyChecksums: this.verifyChecksums,
    };
  }

  private assertMapped(inode: Inode): void {
    if (inode.hasInlineData()) {
      throw fsError("InvalidArgument", "INLINE_NO_BLOCKS", "inode keeps its data inline", {
        inode: inode.ino,
      });
    }
    if (!this.hasBlockMap(inode)) {
      throw fsError("InvalidArgument", "NO_BLOCK_MAP", `a ${inode.fileType} has no block map`, {
        inode: inode.ino,
      });
    }
  }

  /**
   * The block map of logical blocks [lblk, lblk + count), as the kernel's
   * ext4_map_blocks answers it: mapped runs (with their unwritten state) and
   * holes, in order, covering the range exactly. Throws Ext4Error (Corrupt
   * EXTENT_* / INDIRECT_*, BadChecksum; InvalidArgument INLINE_NO_BLOCKS for
   * inline data, NO_BLOCK_MAP for fast symlinks and device/fifo/socket
   * inodes, whose i_block holds no map).
   */
  mapBlocks(inode: Inode, lblk: number, count: number): BlockRun[] {
    this.assertMapped(inode);
    if (!(Number.isSafeInteger(lblk) && Number.isSafeInteger(count) && lblk >= 0 && count >= 0)) {
      throw fsError("InvalidArgument", "BAD_RANGE", `bad block range ${lblk}+${count}`);
    }
    if (count === 0) return [];
    const env = this.mapEnv(inode);
    const iBlock = inode.fields.iBlock;
    return inode.usesExtents()
      ? mapExtents(env, inode.ino, iBlock, lblk, lblk + count, this.extentRoot(inode))
      : mapIndirect(env, inode.ino, iBlock, lblk, lblk + count);
  }

  /**
   * The decoded and validated extent tree root in i_block of `inode`. An
   * Inode never changes, so neither does its root: it is decoded once per
   * Inode (directory walks map a block of the same inode again and again).
   * Throws Corrupt (EXTENT_*).
   */
  private extentRoot(inode: Inode): ExtentNodeData {
    let root = this.extentRoots.get(inode);
    if (root === undefined) {
      const sb = this.geo;
      root = decodeExtentNode(
        inode.fields.iBlock,
        { firstDataBlock: sb.firstDataBlock, blocksCount: sb.blocksCount },
        { inode: inode.ino },
      );
      this.extentRoots.set(inode, root);
    }
    return root;
  }

  /**
   * The physical block of logical block `lblk`, or null for a hole or an
   * unwritten extent: mapBlocks(inode, lblk, 1) without building runs, and
   * straight from the root when it is a leaf (small files and directories).
   * Throws as {@link mapBlocks}.
   */
  private mapOne(inode: Inode, lblk: number): number | null {
    this.assertMapped(inode);
    if (!(Number.isSafeInteger(lblk) && lblk >= 0)) {
      throw fsError("InvalidArgument", "BAD_RANGE", `bad block range ${lblk}+1`);
    }
    if (inode.usesExtents()) {
      const root = this.extentRoot(inode);
      if (root.depth === 0) {
        // Validated: keys ascending, extents disjoint.
        for (const x of root.extents) {
          if (lblk < x.logical) break;
          if (lblk < x.logical + x.length) {
            return x.unwritten ? null : x.physical + (lblk - x.logical);
          }
        }
        return null;
      }
    }
    const [run] = this.mapBlocks(inode, lblk, 1);
    return run === undefined || run.kind === "hole" || run.unwritten ? null : run.physical;
  }

  /**
   * One logical block of a file or directory (DirHost): the cache buffer of
   * its physical block (transient), or null for a hole or an unwritten
   * extent. Throws Ext4Error.
   */
  readFileBlock(inode: Inode, lblk: number): Uint8Array | null {
    const physical = this.mapOne(inode, lblk);
    return physical === null ? null : this.readBlock(physical, { inode: inode.ino });
  }

  /**
   * The whole extent tree with each node's block (debugfs `ex`), or null
   * for an inode without EXT4_EXTENTS_FL. Throws Ext4Error.
   */
  extentTree(inode: Inode): ExtentTreeNode | null {
    if (!inode.usesExtents() || inode.hasInlineData()) return null;
    return readExtentTree(this.mapEnv(inode), inode.ino, inode.fields.iBlock);
  }

  /**
   * Every block the file's map uses, in libext2fs iteration order (debugfs
   * `blocks`, `icheck`): tree/indirect blocks (kind "metadata", before the
   * blocks under them) and data runs. Empty for inline data, fast symlinks
   * and devices. The xattr block (fileAcl) is not included. Throws Ext4Error.
   */
  blockList(inode: Inode): BlockListEntry[] {
    if (inode.hasInlineData() || !this.hasBlockMap(inode)) return [];
    const env = this.mapEnv(inode);
    return inode.usesExtents()
      ? extentBlockList(env, inode.ino, inode.fields.iBlock)
      : indirectBlockList(env, inode.ino, inode.fields.iBlock);
  }

  /**
   * Whether i_block holds a block map: not for fast symlinks (the target),
   * devices (the device number), fifos and sockets. An inode without a
   * type (deleted, or never used) is walked as e2fsprogs would.
   */
  private hasBlockMap(inode: Inode): boolean {
    const t = inode.fileType;
    if (t === "symlink") return !this.isFastSymlink(inode);
    return t === "regular" || t === "directory" || t === "unknown";
  }

  /**
   * Reads `length` bytes at `offset`, clipped to i_size: holes and
   * unwritten extents read as zeros; data comes through cache.readRange in
   * one read per physically contiguous run; inline data and fast symlink
   * targets come from the inode. Throws Ext4Error (InvalidArgument
   * READ_TOO_LARGE past {@link MAX_READ_BYTES}, NO_BLOCK_MAP for a device,
   * fifo or socket with a size; Corrupt, Io).
   */
  readFile(inode: Inode, offset: number, length: number): Uint8Array {
    if (
      !(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0)
    ) {
      throw fsError("InvalidArgument", "BAD_RANGE", `bad byte range ${offset}+${length}`);
    }
    const end = Math.min(inode.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    if (end - offset > MAX_READ_BYTES) {
      throw fsError("InvalidArgument", "READ_TOO_LARGE", `read of ${end - offset} bytes`, {
        inode: inode.ino,
      });
    }
    const inline = inode.inlineData() ?? (this.isFastSymlink(inode) ? inode.fields.iBlock : null);
    if (inline !== null) {
      const out = new Uint8Array(end - offset);
      out.set(inline.subarray(Math.min(offset, inline.length), Math.min(end, inline.length)));
      return out;
    }
    const bs = this.blockSize;
    const first = Math.floor(offset / bs);
    const last = Math.ceil(end / bs);
    const buf = new Uint8Array((last - first) * bs);
    for (const run of this.mapBlocks(inode, first, last - first)) {
      if (run.kind === "hole" || run.unwritten) continue;
      const at = (run.logical - first) * bs;
      try {
        this.cache.readRange(run.physical, run.length, buf.subarray(at, at + run.length * bs));
      } catch (e) {
        ioError(e, { inode: inode.ino, block: run.physical });
      }
    }
    return buf.subarray(offset - first * bs, end - first * bs);
  }

  // ---- symlinks ----

  /**
   * True for a symlink whose target lives in i_block (the kernel's
   * ext4_inode_is_fast_symlink: no blocks besides an xattr block, no inline
   * data; for an EA inode, a size under 60).
   */
  isFastSymlink(inode: Inode): boolean {
    if (!inode.isSymlink()) return false;
    if ((inode.flags & InodeFlags.EA_INODE) !== 0) return inode.size > 0 && inode.size < 60;
    if (inode.hasInlineData()) return false;
    const eaBlocks = inode.fileAcl !== 0 ? this.geo.clusterSize / 512 : 0;
    return inode.blocks512 - eaBlocks === 0;
  }

  /**
   * The target bytes of a symlink: fast (in i_block), inline, or in block 0.
   * Throws Ext4Error: InvalidArgument (NOT_A_SYMLINK), NotSupported
   * (encrypted), Corrupt (SYMLINK_* codes).
   */
  readLinkBytes(inode: Inode): Uint8Array {
    const ctx = { inode: inode.ino };
    if (!inode.isSymlink()) throw fsError("InvalidArgument", "NOT_A_SYMLINK", "not a symlink", ctx);
    if ((inode.flags & InodeFlags.ENCRYPT) !== 0) {
      throw fsError("NotSupported", "SYMLINK_ENCRYPTED", "encrypted symlink", ctx);
    }
    const size = inode.size;
    if (this.isFastSymlink(inode)) {
      // ext4_iget: a fast symlink is 1..59 bytes with no NUL inside.
      const t = inode.fields.iBlock.subarray(0, Math.min(size, 60));
      if (size === 0 || size >= 60 || t.includes(0)) {
        throw corrupt("SYMLINK_BAD_FAST", `invalid fast symlink of ${size} bytes`, ctx);
      }
      return t.slice();
    }
    if (size === 0 || size >= this.blockSize) {
      throw corrupt("SYMLINK_BAD_SIZE", `symlink size ${size}`, ctx);
    }
    const inline = inode.inlineData();
    if (inline !== null) {
      if (size > inline.length) throw corrupt("SYMLINK_BAD_SIZE", `symlink size ${size}`, ctx);
      return inline.slice(0, size);
    }
    const block = this.readFileBlock(inode, 0);
    if (block === null) throw corrupt("SYMLINK_NO_BLOCK", "symlink block 0 is a hole", ctx);
    return block.slice(0, size);
  }

  /** The target of a symlink as text (UTF-8, invalid bytes replaced). Throws as {@link readLinkBytes}. */
  readLink(inode: Inode): string {
    return new TextDecoder().decode(this.readLinkBytes(inode));
  }

  // ---- xattrs ----

  /**
   * Every extended attribute: in-inode entries first, then the xattr
   * block's; values kept in EA inodes are read (the EA inode must carry
   * EXT4_EA_INODE_FL and the value's size, and — when verifying checksums —
   * pass the kernel's hash validation). Throws Ext4Error (Corrupt XATTR_*,
   * BadChecksum XATTR_BAD_CHECKSUM).
   */
  listXattrs(inode: Inode): Xattr[] {
    const out: Xattr[] = [];
    const add = (e: XattrEntry, source: "inode" | "block"): void => {
      out.push({
        name: e.name,
        value: e.value ?? this.readEaInodeValue(inode, e),
        nameIndex: e.nameIndex,
        source,
        valueInum: e.valueInum,
        hash: e.hash,
      });
    };
    for (const e of inode.inodeXattrs()) add(e, "inode");
    for (const e of this.readXattrBlock(inode)?.entries ?? []) add(e, "block");
    return out;
  }

  /**
   * The parsed xattr block of `inode` (header, entries, checksum state,
   * recomputed block hash), or null when i_file_acl is 0. Throws Ext4Error.
   */
  readXattrBlock(inode: Inode): XattrBlock | null {
    if (inode.fileAcl === 0) return null;
    const sb = this.geo;
    const block = this.readBlock(inode.fileAcl, { inode: inode.ino });
    return parseXattrBlock(block, inode.fileAcl, {
      ...this.xattrLimits,
      csumSeed: sb.features.metadataCsum ? sb.csumSeed : null,
      verifyChecksum: this.verifyChecksums,
    });
  }

  private readEaInodeValue(owner: Inode, e: XattrEntry): Uint8Array {
    const ctx = { inode: owner.ino };
    const ea = this.readInode(e.valueInum);
    if ((ea.flags & InodeFlags.EA_INODE) === 0) {
      throw corrupt(
        "XATTR_EA_INODE_FLAG",
        `value inode ${e.valueInum} lacks EXT4_EA_INODE_FL`,
        ctx,
      );
    }
    if (ea.size !== e.valueSize) {
      throw corrupt("XATTR_EA_INODE_SIZE", `value inode size ${ea.size} != ${e.valueSize}`, ctx);
    }
    const value = this.readFile(ea, 0, e.valueSize);
    // ext4_xattr_inode_verify_hashes: the value's crc32c is kept in the EA
    // inode's i_atime and mixed into the entry hash (plain or signed-char
    // name hash). Old Lustre EA inodes point back at their parent through
    // i_mtime and the generation instead, and carry no hash.
    const lustre = ea.mtime.sec === owner.ino && ea.generation === owner.generation;
    if (this.verifyChecksums && !lustre) {
      const hash = xattrEaInodeValueHash(this.csumSeed, value);
      const word = new Uint8Array(4);
      new DataView(word.buffer).setUint32(0, hash, true);
      const entryOk =
        xattrEntryHash(e.nameBytes, word) === e.hash ||
        xattrEntryHash(e.nameBytes, word, true) === e.hash;
      if (ea.atime.sec >>> 0 !== hash || !entryOk) {
        throw corrupt(
          "XATTR_EA_INODE_HASH",
          `value inode ${e.valueInum} fails hash validation`,
          ctx,
        );
      }
    }
    return value;
  }

  /** The value of attribute `name`, or null when absent. Throws as {@link listXattrs}. */
  getXattr(inode: Inode, name: string): Uint8Array | null {
    return this.listXattrs(inode).find((x) => x.name === name)?.value ?? null;
  }

  /**
   * The POSIX ACL of `inode` ("access" or "default"), decoded from ext4's
   * on-disk form, or null when there is none. Throws Ext4Error (ACL_* codes).
   */
  getPosixAcl(inode: Inode, which: "access" | "default"): AclEntry[] | null {
    const value = this.getXattr(inode, `system.posix_acl_${which}`);
    return value === null ? null : decodeExt4Acl(value, { inode: inode.ino });
  }

  // ---- bitmaps ----

  /**
   * The block (cluster) bitmap of `group`: computed for a BLOCK_UNINIT group
   * (ext4_init_block_bitmap), else read and checksummed. Throws Ext4Error
   * (BadChecksum BITMAP_BAD_CHECKSUM).
   */
  readBlockBitmap(group: number): BitmapRead {
    const sb = this.geo;
    const gd = this.group(group);
    if (sb.features.groupDescCsum && (gd.flags & EXT4_BG_BLOCK_UNINIT) !== 0) {
      return { bitmap: uninitBlockBitmap(sb, gd, group), uninit: true, checksumValid: true };
    }
    const bytes = this.readBlock(gd.blockBitmap, { group }).slice();
    const checksumValid = blockBitmapChecksumValid(sb, gd, bytes);
    if (!checksumValid && this.verifyChecksums) {
      throw new Ext4Error("BadChecksum", "BITMAP_BAD_CHECKSUM", "block bitmap checksum mismatch", {
        group,
        block: gd.blockBitmap,
      });
    }
    return { bitmap: new BitmapClass(bytes, sb.clustersPerGroup), uninit: false, checksumValid };
  }

  /**
   * The inode bitmap of `group`: all clear for an INODE_UNINIT group, else
   * read and checksummed. Throws Ext4Error (BadChecksum BITMAP_BAD_CHECKSUM).
   */
  readInodeBitmap(group: number): BitmapRead {
    const sb = this.geo;
    const gd = this.group(group);
    if (sb.features.groupDescCsum && (gd.flags & EXT4_BG_INODE_UNINIT) !== 0) {
      return {
        bitmap: new BitmapClass(new Uint8Array(sb.blockSize), sb.inodesPerGroup),
        uninit: true,
        checksumValid: true,
      };
    }
    const bytes = this.readBlock(gd.inodeBitmap, { group }).slice();
    const checksumValid = inodeBitmapChecksumValid(sb, gd, bytes);
    if (!checksumValid && this.verifyChecksums) {
      throw new Ext4Error("BadChecksum", "BITMAP_BAD_CHECKSUM", "inode bitmap checksum mismatch", {
        group,
        block: gd.inodeBitmap,
      });
    }
    return { bitmap: new BitmapClass(bytes, sb.inodesPerGroup), uninit: false, checksumValid };
  }

  /**
   * Whether the block bitmap marks `block` in use (blocks before
   * s_first_data_block always are). Throws Ext4Error (InvalidArgument
   * BAD_BLOCK outside the filesystem).
   */
  isBlockInUse(block: number): boolean {
    const sb = this.geo;
    if (!(Number.isSafeInteger(block) && block >= 0 && block < sb.blocksCount)) {
      throw fsError("InvalidArgument", "BAD_BLOCK", `block ${block} outside the filesystem`);
    }
    if (block < sb.firstDataBlock) return true;
    const rel = block - sb.firstDataBlock;
    const group = Math.floor(rel / sb.blocksPerGroup);
    const bit = Math.floor((rel % sb.blocksPerGroup) / sb.clusterRatio);
    if (bit >= Math.ceil(blocksInGroup(sb, group) / sb.clusterRatio)) return true;
    return this.readBlockBitmap(group).bitmap.get(bit);
  }

  /** Whether the inode bitmap marks `ino` in use. Throws Ext4Error (Corrupt INODE_BAD_NUMBER). */
  isInodeInUse(ino: number): boolean {
    const loc = this.inodeLocation(ino);
    return this.readInodeBitmap(loc.group).bitmap.get(loc.index);
  }

  // ---- orphans ----

  /**
   * The orphan inodes: the s_last_orphan chain (bounded by the inode count,
   * a repeated inode is corruption) and the orphan file's entries (size ≤ 8
   * MiB as the kernel requires, every block mapped, magic and checksum).
   * Throws Ext4Error (Corrupt ORPHAN_* codes, BadChecksum).
   */
  orphans(): Orphans {
    const sb = this.geo;
    const list: number[] = [];
    const seen = new Set<number>();
    for (let ino = this.superblock.lastOrphan; ino !== 0; ) {
      if (seen.has(ino)) {
        throw corrupt("ORPHAN_LOOP", `orphan list returns to inode ${ino}`, { inode: ino });
      }
      if (ino < 1 || ino > sb.inodesCount) {
        throw corrupt("ORPHAN_BAD_INO", `orphan list points at inode ${ino}`, { inode: ino });
      }
      seen.add(ino);
      list.push(ino);
      ino = this.readInode(ino).dtime;
    }
    let file: Orphans["file"] = null;
    if (sb.features.has("orphan_file")) {
      const ino = sb.orphanFileInum;
      const inode = this.readInode(ino);
      const ctx = { inode: ino };
      if (inode.size > 8 << 20 || inode.size % sb.blockSize !== 0) {
        throw corrupt("ORPHAN_FILE_SIZE", `orphan file size ${inode.size}`, ctx);
      }
      const seed = sb.features.metadataCsum
        ? inodeCsumSeed(sb.csumSeed, ino, inode.generation)
        : null;
      const blocks: Array<NonNullable<Orphans["file"]>["blocks"][number]> = [];
      const count = inode.size / sb.blockSize;
      for (const run of count === 0 ? [] : this.mapBlocks(inode, 0, count)) {
        if (run.kind === "hole" || run.unwritten) {
          throw corrupt("ORPHAN_FILE_HOLE", `orphan file block ${run.logical} is not written`, ctx);
        }
        for (let i = 0; i < run.length; i++) {
          const physical = run.physical + i;
          const parsed = parseOrphanBlock(
            this.readBlock(physical, ctx),
            physical,
            seed,
            this.verifyChecksums,
            { ...ctx, block: physical },
          );
          blocks.push({ logical: run.logical + i, physical, ...parsed });
        }
      }
      file = { ino, blocks };
    }
    return { list, file };
  }

  // ---- journal ----

  /**
   * The journal (superblock and log walker), or null without has_journal.
   * Throws Ext4Error: NotSupported (JOURNAL_EXTERNAL) for an external
   * journal device, Corrupt (JOURNAL_* codes) for a malformed or unmapped
   * journal, BadChecksum.
   */
  journal(): Journal | null {
    const sb = this.geo;
    if (!sb.features.has("has_journal")) return null;
    if (sb.journalInum === 0) {
      throw fsError("NotSupported", "JOURNAL_EXTERNAL", "the journal is on an external device");
    }
    const inode = this.readInode(sb.journalInum);
    const ctx = { inode: inode.ino };
    const total = Math.floor(inode.size / sb.blockSize);
    if (total < 2) throw corrupt("JOURNAL_TOO_SMALL", `journal of ${total} blocks`, ctx);
    // Map the whole journal once: recovery reads every log block through it.
    const runs = this.mapBlocks(inode, 0, total);
    const phys = (n: number): number => {
      let lo = 0;
      let hi = runs.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >>> 1;
        // OK to assert: lo ≤ mid ≤ hi < runs.length.
        const r = runs[mid]!;
        if (n < r.logical) hi = mid - 1;
        else if (n >= r.logical + r.length) lo = mid + 1;
        else if (r.kind === "mapped" && !r.unwritten) return r.physical + (n - r.logical);
        else break;
      }
      throw corrupt("JOURNAL_HOLE", `journal block ${n} is not mapped`, ctx);
    };
    const storage = {
      totalBlocks: total,
      readBlock: (n: number, c: Ext4ErrorContext): Uint8Array =>
        this.readBlock(phys(n), { ...ctx, ...c }),
      physical: phys,
    };
    const jsb = parseJournalSuperblock(
      storage.readBlock(0, {}),
      { totalBlocks: total, fsBlockSize: sb.blockSize, verifyChecksum: this.verifyChecksums },
      ctx,
    );
    return new Journal(jsb, inode.ino, this.needsRecovery, storage);
  }

  // ---- statistics ----

  /** Free-space and usage figures (superblock counters and descriptor sums). */
  stats(): FsStats {
    const sb = this.superblock;
    let groupFreeBlocks = 0;
    let groupFreeInodes = 0;
    let directories = 0;
    for (const g of this.groups) {
      groupFreeBlocks += g.freeBlocksCount * sb.clusterRatio;
      groupFreeInodes += g.freeInodesCount;
      directories += g.usedDirsCount;
    }
    return {
      blockSize: sb.blockSize,
      blocksCount: sb.blocksCount,
      reservedBlocksCount: sb.reservedBlocksCount,
      inodesCount: sb.inodesCount,
      freeBlocks: sb.freeBlocksCount,
      freeInodes: sb.freeInodesCount,
      groupFreeBlocks,
      groupFreeInodes,
      directories,
      groupCount: sb.groupCount,
    };
  }

  // ---- writing: DirWriteHost ----

  /** The current time (DirWriteHost): the open's clock. */
  now(): Timestamp {
    return this.engine?.now() ?? wallNow();
  }

  /**
   * The cache buffer of mapped, written logical block `lblk` of directory
   * `dir`, to change in place and then declare with {@link dirtyFileBlock}
   * before any other call (DirWriteHost). Throws ReadOnly, Corrupt
   * (DIR_HOLE for a hole or unwritten block, BLOCK_IN_SYSTEM_ZONE).
   */
  fileBlockForWrite(dir: DirInode, lblk: number): Uint8Array {
    const e = this.w();
    const inode = this.readInode(dir.ino);
    const physical = this.mapOne(inode, lblk);
    if (physical === null) {
      throw corrupt("DIR_HOLE", `directory block ${lblk} is not mapped`, { inode: dir.ino });
    }
    e.alloc.checkFileBlocks(physical, 1, { inode: dir.ino });
    this.lastDirBlock = { ino: dir.ino, lblk, physical };
    return this.readBlock(physical, { inode: dir.ino });
  }

  /** Marks the block of the last {@link fileBlockForWrite} dirty (DirWriteHost). Throws ReadOnly, Corrupt. */
  dirtyFileBlock(dir: DirInode, lblk: number): void {
    const e = this.w();
    const last = this.lastDirBlock;
    let physical: number;
    if (last !== null && last.ino === dir.ino && last.lblk === lblk) physical = last.physical;
    else {
      const [run] = this.mapBlocks(this.readInode(dir.ino), lblk, 1);
      if (run === undefined || run.kind === "hole") {
        throw corrupt("DIR_HOLE", `directory block ${lblk} is not mapped`, { inode: dir.ino });
      }
      physical = run.physical;
    }
    e.dirty(physical);
  }

  /**
   * Maps a new zeroed block at `lblk` of directory `dir` (near its last
   * block, else its group) and grows i_size to cover it (DirWriteHost).
   * Without large_dir a directory stops at 2 GiB, as e2fsck requires.
   * Throws ReadOnly, NoSpace, FileTooBig, Corrupt.
   */
  growDirectory(dir: DirInode, lblk: number): Inode {
    const e = this.w();
    return e.op(() => growDir(e, dir.ino, lblk));
  }

  /** Changes the given fields of inode `ino` and returns the re-read inode (DirWriteHost). Throws ReadOnly, Corrupt. */
  updateInode(
    ino: number,
    changes: {
      size?: number;
      flags?: number;
      linksCount?: number;
      mtime?: Timestamp;
      ctime?: Timestamp;
    },
  ): Inode {
    const e = this.w();
    return e.op(() => {
      const w = e.load(ino);
      if (changes.size !== undefined) w.f.size = changes.size;
      if (changes.flags !== undefined) w.f.flags = changes.flags >>> 0;
      if (changes.linksCount !== undefined) w.f.linksCount = changes.linksCount;
      if (changes.mtime !== undefined) w.f.mtime = changes.mtime;
      if (changes.ctime !== undefined) w.f.ctime = changes.ctime;
      return e.store(w);
    });
  }

  /**
   * Replaces the inline content of an inline-data inode (i_block then the
   * system.data value, created if absent) with `data`; i_size is the
   * caller's (DirWriteHost). Throws ReadOnly, InvalidArgument (not inline),
   * NoSpace INLINE_FULL (does not fit; nothing changed).
   */
  writeInlineData(inode: DirInode, data: Uint8Array): Inode {
    const e = this.w();
    return e.op(() => {
      const w = e.load(inode.ino);
      if (!w.hasInline()) {
        throw fsError("InvalidArgument", "NOT_INLINE", "inode has no inline data", {
          inode: inode.ino,
        });
      }
      setInlineContent(e, w, data);
      return e.store(w);
    });
  }

  /** Largest inline content (60 + system.data) inode `inode` can hold, 0 when none (DirWriteHost). Throws ReadOnly, Corrupt. */
  maxInlineSize(inode: DirInode): number {
    const e = this.w();
    return inlineCapacity(e, e.load(inode.ino));
  }

  /**
   * Turns an inline-data inode into an empty block-mapped one: flag and
   * system.data dropped, an empty extent root (or indirect map), i_size 0
   * (DirWriteHost). Throws ReadOnly, Corrupt.
   */
  clearInlineData(inode: DirInode): Inode {
    const e = this.w();
    return e.op(() => {
      const w = e.load(inode.ino);
      clearInline(e, w);
      return e.store(w);
    });
  }

  // ---- writing: the API ----

  private ns(): Ns {
    return { e: this.w(), host: this };
  }

  private policy(o?: { reserved?: boolean }): SpacePolicy {
    return { reserved: o?.reserved === true };
  }

  /** Runs a mutation as one operation, flushing afterwards for SYNC/DIRSYNC inodes. */
  private mutate<T>(
    fn: (e: WriteEngine) => T,
    syncInodes: readonly number[] = [],
    policy: SpacePolicy = { reserved: false },
  ): T {
    const e = this.w();
    const saved = e.policy;
    e.policy = policy;
    let r: T;
    try {
      r = e.op(() => {
        // A stale inode number (deleted since, and not held open) must not be
        // given blocks or entries: nothing would ever free them. Checked inside
        // the operation, so the inode decoded here serves the rest of it.
        for (const ino of syncInodes) {
          if (this.readInode(ino).linksCount === 0 && e.openCount(ino) === 0) {
            throw fsError("NotFound", "INODE_NOT_IN_USE", `inode ${ino} is not in use`, {
              inode: ino,
            });
          }
        }
        return fn(e);
      });
    } finally {
      e.policy = saved;
    }
    for (const ino of syncInodes) {
      const f = this.readInode(ino).flags;
      if ((f & (InodeFlags.SYNC | InodeFlags.DIRSYNC)) !== 0) {
        this.sync();
        break;
      }
    }
    return r;
  }

  /**
   * True when a caller with `uid` and groups `gids` may use the
   * root-reserved blocks: root, s_def_resuid, or a member of s_def_resgid
   * (the kernel also admits CAP_SYS_RESOURCE: the caller decides that).
   * Pass the answer as `reserved` to allocating calls.
   */
  mayUseReserved(uid: number, gids: readonly number[]): boolean {
    const sb = this.geo;
    return uid === 0 || uid === sb.defResuid || (sb.defResgid !== 0 && gids.includes(sb.defResgid));
  }

  /**
   * Creates a regular file `name` in directory `parent` (see NodeOptions).
   * Returns its inode. Throws ReadOnly, NotADirectory, NotFound (parent
   * removed; empty name), Exists, NameTooLong, TooManyLinks, Permission
   * (immutable directory), NotSupported (encrypted or casefolded
   * directory), NoSpace (inodes or blocks), Corrupt, Io.
   */
  create(parent: number, name: Uint8Array | string, opts: NodeOptions): Inode {
    return this.mutate(
      () => createFile(this.ns(), parent, name, opts),
      [parent],
      this.policy(opts),
    );
  }

  /**
   * open(O_TMPFILE) in directory `parent` (ext4_tmpfile): a regular file
   * with no name and no links, already held open (one {@link acquire}) and
   * on the orphan list. {@link link} may give it a name once (linkat of the
   * descriptor); the last {@link release} deletes it if it has none. The
   * parent does not change. Throws as {@link create}.
   */
  createTmpfile(parent: number, opts: NodeOptions): Inode {
    return this.mutate(() => createTmpfile(this.ns(), parent, opts), [parent], this.policy(opts));
  }

  /**
   * Creates directory `name` in `parent` with "." and ".." (inline with
   * inline_data); the parent gains a link (dir_nlink rules). Throws as
   * {@link create}, and TooManyLinks when the parent has 65000 links
   * without dir_nlink and an index.
   */
  mkdir(parent: number, name: Uint8Array | string, opts: NodeOptions): Inode {
    return this.mutate(() => mkdir(this.ns(), parent, name, opts), [parent], this.policy(opts));
  }

  /**
   * Creates symlink `name` in `parent` pointing at `target` (fast below 60
   * bytes, else in a block). Throws as {@link create}, NotFound (empty
   * target), NameTooLong (target of a block or more), InvalidArgument.
   */
  symlink(
    parent: number,
    name: Uint8Array | string,
    target: Uint8Array | string,
    opts: Omit<NodeOptions, "mode">,
  ): Inode {
    return this.mutate(
      () => symlink(this.ns(), parent, name, target, opts),
      [parent],
      this.policy(opts),
    );
  }

  /**
   * mknod(2): `mode` carries the type (S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK,
   * S_IFREG or none for a regular file) and permissions; devices take
   * `rdev`. Throws as {@link create}, InvalidArgument (other types, bad
   * device numbers).
   */
  mknod(
    parent: number,
    name: Uint8Array | string,
    mode: number,
    rdev: { major: number; minor: number } | null,
    opts: Omit<NodeOptions, "mode">,
  ): Inode {
    return this.mutate(
      () => mknod(this.ns(), parent, name, mode, rdev, { ...opts, mode: mode & 0o7777 }),
      [parent],
      this.policy(opts),
    );
  }

  /**
   * link(2): a new name for inode `ino` in `newParent`. Returns the inode.
   * Throws ReadOnly, Permission (directories; immutable/append-only),
   * TooManyLinks, NotFound, Exists, NameTooLong, NoSpace, Corrupt.
   */
  link(
    ino: number,
    newParent: number,
    newName: Uint8Array | string,
    opts?: { reserved?: boolean },
  ): Inode {
    return this.mutate(
      () => link(this.ns(), ino, newParent, newName),
      [newParent],
      this.policy(opts),
    );
  }

  /**
   * unlink(2) of a non-directory. The inode is deleted with its last link
   * unless it is held open ({@link acquire}), in which case it waits on the
   * orphan list for its last {@link release}. Throws ReadOnly, NotFound,
   * IsADirectory, Permission, Corrupt.
   */
  unlink(parent: number, name: Uint8Array | string): void {
    this.mutate(() => unlink(this.ns(), parent, name), [parent]);
  }

  /** rmdir(2) of an empty directory. Throws ReadOnly, NotFound, NotADirectory, NotEmpty, InvalidArgument, Permission, Corrupt. */
  rmdir(parent: number, name: Uint8Array | string): void {
    this.mutate(() => rmdir(this.ns(), parent, name), [parent]);
  }

  /**
   * renameat2(2) with `flags` RENAME.NOREPLACE or RENAME.EXCHANGE (0 for
   * rename(2)). Throws ReadOnly, NotFound, Exists, NotADirectory,
   * IsADirectory, NotEmpty, InvalidArgument (into its own subtree; . or ..;
   * bad flags), NotSupported (WHITEOUT), TooManyLinks, Permission,
   * NameTooLong, NoSpace, Corrupt.
   */
  rename(
    oldParent: number,
    oldName: Uint8Array | string,
    newParent: number,
    newName: Uint8Array | string,
    flags = 0,
    opts?: { reserved?: boolean },
  ): void {
    this.mutate(
      () => rename(this.ns(), oldParent, oldName, newParent, newName, flags),
      [oldParent, newParent],
      this.policy(opts),
    );
  }

  /**
   * Records one more opener of `ino` (FUSE open/create): while an inode is
   * held, losing its last link only orphans it. Throws ReadOnly, NotFound
   * (INODE_NOT_IN_USE: a free or deleted inode), Corrupt.
   */
  acquire(ino: number): void {
    const e = this.w();
    if (e.openCount(ino) === 0 && !this.readInode(ino).isInUse()) {
      throw fsError("NotFound", "INODE_NOT_IN_USE", "the inode is not in use", { inode: ino });
    }
    e.openCounts.set(ino, e.openCount(ino) + 1);
  }

  /**
   * Drops one opener of `ino` (FUSE release); the last release of an inode
   * with no links left deletes it. Throws ReadOnly, InvalidArgument
   * (NOT_OPEN when it was not acquired), Corrupt.
   */
  release(ino: number): void {
    const e = this.w();
    const n = e.openCount(ino);
    if (n <= 0)
      throw fsError("InvalidArgument", "NOT_OPEN", "release without acquire", { inode: ino });
    if (n > 1) {
      e.openCounts.set(ino, n - 1);
      return;
    }
    e.openCounts.delete(ino);
    e.linkable.delete(ino);
    e.op(() => {
      const w = e.load(ino);
      if (w.f.linksCount === 0) deleteInode(e, w);
    });
  }

  /**
   * pwrite(2) to regular file `ino` (see writeFile in write/file.ts):
   * returns the bytes written (short only when space runs out midway) and
   * the inode. Throws ReadOnly, IsADirectory, InvalidArgument, Permission,
   * FileTooBig, NoSpace, Corrupt, Io.
   */
  writeFile(
    ino: number,
    offset: number,
    data: Uint8Array,
    opts?: { reserved?: boolean },
  ): WriteResult {
    return this.mutate(
      (e) => writeFile(e, ino, offset, data, this.policy(opts)),
      [ino],
      this.policy(opts),
    );
  }

  /**
   * truncate(2): sets the size of regular file `ino`, freeing blocks past
   * the new EOF (zeroing the partial last block) or growing sparsely;
   * mtime and ctime change. Throws ReadOnly, IsADirectory, InvalidArgument,
   * Permission (immutable, append-only), FileTooBig, NoSpace, Corrupt.
   */
  truncate(ino: number, size: number, opts?: { reserved?: boolean }): Inode {
    return this.setattr(ino, { size, ...(opts?.reserved === true ? { reserved: true } : {}) });
  }

  /**
   * fallocate(2) with FALLOC modes (0, KEEP_SIZE, PUNCH_HOLE|KEEP_SIZE,
   * ZERO_RANGE[|KEEP_SIZE]); see fallocate in write/file.ts. Throws
   * ReadOnly, InvalidArgument, NotSupported (EOPNOTSUPP), IsADirectory,
   * Permission, FileTooBig, NoSpace, Corrupt.
   */
  fallocate(
    ino: number,
    mode: number,
    offset: number,
    length: number,
    opts?: { reserved?: boolean },
  ): Inode {
    return this.mutate(
      (e) => fallocate(e, ino, mode, offset, length, this.policy(opts)),
      [ino],
      this.policy(opts),
    );
  }

  /** lseek(SEEK_DATA): the first data offset at or after `offset`. Throws NoSuchAddress (ENXIO), Corrupt. */
  seekData(ino: number, offset: number): number {
    const inode = this.readInode(ino);
    return seekDataHole(
      (l, n) => this.mapBlocks(inode, l, n),
      inode,
      offset,
      "data",
      this.blockSize,
    );
  }

  /** lseek(SEEK_HOLE): the first hole at or after `offset` (EOF counts). Throws NoSuchAddress (ENXIO), Corrupt. */
  seekHole(ino: number, offset: number): number {
    const inode = this.readInode(ino);
    return seekDataHole(
      (l, n) => this.mapBlocks(inode, l, n),
      inode,
      offset,
      "hole",
      this.blockSize,
    );
  }

  /**
   * copy_file_range(2) between regular files of this filesystem; holes of
   * the source stay holes where the destination has none. Returns the
   * bytes copied. Throws ReadOnly, InvalidArgument, IsADirectory,
   * Permission, FileTooBig, NoSpace, Corrupt, Io.
   */
  copyRange(
    src: number,
    srcOff: number,
    dst: number,
    dstOff: number,
    len: number,
    opts?: { reserved?: boolean },
  ): number {
    return this.mutate(
      (e) =>
        copyRange(
          e,
          (i, o, n) => this.readFile(i, o, n),
          src,
          srcOff,
          dst,
          dstOff,
          len,
          this.policy(opts),
        ),
      [dst],
    );
  }

  /**
   * setattr: mode bits, owner, size, atime/mtime (a time, "now", or absent
   * for UTIME_OMIT), explicit ctime. Throws ReadOnly, Permission
   * (immutable; append-only), IsADirectory / InvalidArgument (size of a
   * non-regular file), FileTooBig, NoSpace, Corrupt.
   */
  setattr(ino: number, changes: SetAttr): Inode {
    return this.mutate((e) => setattr(e, ino, changes), [ino], this.policy(changes));
  }

  /**
   * FS_IOC_SETFLAGS: the user-modifiable EXT4_*_FL bits (immutable,
   * append-only, noatime, sync, nodump, ...). Throws ReadOnly, Permission
   * (an immutable inode's other flags), NotSupported (extent migration,
   * casefold), Corrupt.
   */
  setFlags(ino: number, flags: number): Inode {
    return this.mutate((e) => setFlags(e, ino, flags), [ino]);
  }

  /**
   * setxattr(2): `flags` XATTR.CREATE / XATTR.REPLACE; ACL names take the
   * VFS form. Throws ReadOnly, Exists, NoData, NoSpace, TooBig, Range,
   * NotSupported, InvalidArgument, Permission, Corrupt.
   */
  setXattr(
    ino: number,
    name: string,
    value: Uint8Array,
    flags = 0,
    opts?: { reserved?: boolean },
  ): Inode {
    return this.mutate((e) => setXattr(e, ino, name, value, flags, this.policy(opts)), [ino]);
  }

  /** removexattr(2). Throws ReadOnly, NoData, NotSupported, Permission, Corrupt. */
  removeXattr(ino: number, name: string): Inode {
    return this.mutate((e) => setXattr(e, ino, name, null, 0, this.policy()), [ino]);
  }

  /**
   * getxattr(2): the value of `name` (ACLs in the VFS form); with
   * `maxSize`, Range (ERANGE) when it is longer. Works read-only too.
   * Throws NoData, NotSupported, Range, Corrupt.
   */
  readXattr(ino: number, name: string, maxSize?: number): Uint8Array {
    const inode = this.readInode(ino);
    return readXattr(inode, name, this.listXattrs(inode), maxSize);
  }

  /** listxattr(2): the visible names (user., trusted., security., POSIX ACLs). Throws Corrupt. */
  listXattrNames(ino: number): string[] {
    return listXattrNames(this.listXattrs(this.readInode(ino)));
  }

  /**
   * Sets (or with null removes) the POSIX ACL of `ino` from decoded
   * entries: stored in ext4's form as system.posix_acl_access/default.
   * The mode is the caller's. Throws as {@link setXattr}.
   */
  setPosixAcl(
    ino: number,
    which: "access" | "default",
    entries: readonly AclEntry[] | null,
  ): Inode {
    const name = `system.posix_acl_${which}`;
    if (entries === null) {
      return this.mutate((e) => {
        const cur = this.readInode(ino);
        if (this.getXattr(cur, name) === null) return cur;
        return setXattr(e, ino, name, null, 0, this.policy());
      });
    }
    return this.setXattr(ino, name, encodePosixAclXattr(entries));
  }

  /**
   * statfs(2) as ext4_statfs computes it (f_blocks without the overhead,
   * f_bavail without reserved blocks and clusters). Works read-only too.
   * Throws Corrupt (journal inode).
   */
  statfs(): StatFs {
    const sb = this.geo;
    let fb = 0;
    let fi = 0;
    if (this.engine !== null) {
      fb = this.engine.freeClusters;
      fi = this.engine.freeInodes;
    } else {
      for (const g of this.meta.groups) {
        fb += g.freeBlocksCount;
        fi += g.freeInodesCount;
      }
    }
    let journal = 0;
    if (sb.features.has("has_journal") && sb.journalInum !== 0) {
      journal = Math.floor(this.readInode(sb.journalInum).size / sb.blockSize);
    }
    return statfsOf(sb, fb, fi, journal);
  }

  // ---- mounting, sync, close ----

  /** The write engine; throws ReadOnly when the filesystem was not opened writable (or cannot be written). */
  private w(): WriteEngine {
    if (this.engine === null) {
      throw fsError(
        "ReadOnly",
        "READ_ONLY",
        this.roReason === null
          ? "the filesystem is open read-only"
          : `the filesystem is read-only: ${this.roReason}`,
      );
    }
    return this.engine;
  }

  /**
   * Mounts read-write (ext4_setup_super): unless a feature forbids writing,
   * builds the write engine, clears EXT4_VALID_FS, counts the mount, stamps
   * s_mtime, writes the superblock at once, then cleans up orphans left by
   * an earlier session (ext4_orphan_cleanup) unless the filesystem has
   * errors.
   */
  private mount(options: OpenOptions): void {
    if (this.roReason === null && this.geo.features.has("orphan_file")) {
      try {
        this.orphans();
      } catch (e) {
        if (!(e instanceof Ext4Error)) throw e;
        this.roReason = `the orphan file cannot be read (${e.code})`;
      }
    }
    let journal: Journal | null = null;
    if (this.roReason === null && this.geo.features.has("has_journal")) {
      let blocker: string | null;
      try {
        journal = this.journal();
        // OK to assert: has_journal gives a journal or throws.
        blocker = journalWriteBlocker(journal!.superblock);
      } catch (e) {
        if (!(e instanceof Ext4Error)) throw e;
        blocker = `the journal cannot be used (${e.code}: ${e.message})`;
      }
      if (blocker !== null) this.roReason = `unsupported for writing: ${blocker}`;
    }
    if (this.roReason !== null) return;
    const engine = new WriteEngine(this, this.meta, {
      ...(options.clock === undefined ? {} : { clock: options.clock }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    this.engine = engine;
    const m = this.meta;
    this.stateAtOpen = m.sbGet("s_state");
    engine.op(() => {
      // ext4_setup_super: only a filesystem without a journal loses
      // EXT4_VALID_FS while mounted; with one, needs_recovery says it.
      if (journal === null) m.sbSet("s_state", this.stateAtOpen & ~EXT4_VALID_FS);
      m.sbSet("s_mnt_count", (m.sbGet("s_mnt_count") + 1) & 0xffff);
      m.sbSetTime("s_mtime", "s_mtime_hi", engine.now().sec);
      if (this.geo.features.has("orphan_file") && this.geo.features.has("has_journal")) {
        setFeature(m, "orphan_present", true);
      }
      // While mounted the journal may hold transactions not yet home (ext4_fill_super).
      if (journal !== null) setFeature(m, "needs_recovery", true);
    });
    this.flushAll();
    if (journal !== null) {
      try {
        engine.journal = new JournalWriter(journal, this.device, this.cache, () => engine.now());
      } catch (e) {
        ioError(e, { inode: journal.inode });
      }
    }
    if ((this.stateAtOpen & EXT4_ERROR_FS) === 0) {
      engine.op(() => cleanupOrphans(engine));
    }
  }

  /** Superblock into the cache, then everything home: through the journal (commit, checkpoint) when there is one. */
  private flushAll(): void {
    const e = this.w();
    e.op(() => e.writeSuperblock());
    try {
      if (e.journal !== null) {
        e.journal.commit();
        e.journal.checkpoint();
      } else {
        this.cache.flush();
      }
    } catch (err) {
      ioError(err, {});
    }
  }

  /**
   * Writes every dirty buffer and the superblock (counters, s_wtime,
   * s_kbytes_written) to their home locations and flushes the device (with
   * a journal: commit, then checkpoint). A no-op when read-only. Throws
   * Ext4Error (Io).
   */
  sync(): void {
    if (this.engine === null || this.closed) return;
    this.flushAll();
  }

  /**
   * Sets s_last_mounted (the directory the filesystem is mounted on, at
   * most 64 bytes kept; the kernel's ext4_sample_last_mounted) and writes
   * the superblock home at once. A no-op when read-only. Throws Ext4Error (Io).
   */
  setLastMounted(path: string): void {
    const e = this.engine;
    if (e === null || this.closed) return;
    e.op(() => this.meta.sbSetRaw({ s_last_mounted: cStringField(path, 64) }));
    this.flushAll();
  }

  /**
   * Records an error met while serving, as ext4_handle_error does
   * (write/error-record.ts): EXT4_ERROR_FS, s_error_count, the first and
   * last error fields, kept in the state a clean unmount restores; then
   * writes everything home at once (ext4_commit_super does not wait for
   * the journal). A no-op when read-only. Throws Ext4Error (Io).
   */
  recordError(record: ErrorRecord): void {
    const e = this.engine;
    if (e === null || this.closed) return;
    e.op(() => saveErrorInfo(this.meta, record));
    // sbi->s_mount_state |= EXT4_ERROR_FS: the unmount keeps the error.
    this.stateAtOpen |= EXT4_ERROR_FS;
    this.flushAll();
  }

  /**
   * Makes every change so far durable at the least cost (fsync, syncfs,
   * the periodic commit): with a journal, one commit of the running
   * transaction (superblock counters included), which a crash replays;
   * without one, the same as {@link sync}. A no-op when read-only or when
   * nothing changed. Throws Ext4Error (Io).
   */
  commit(): void {
    const e = this.engine;
    if (e === null || this.closed) return;
    const j = e.journal;
    if (j === null) {
      this.flushAll();
      return;
    }
    if (!j.pending && !this.meta.sbChanged) return;
    e.op(() => e.writeSuperblock());
    try {
      j.commit();
    } catch (err) {
      ioError(err, {});
    }
  }

  /**
   * Unmounts and releases the device. When writable: inodes still held
   * open after their last link went are deleted (as the kernel's final
   * iput would), the mount-time state is restored (EXT4_VALID_FS again for
   * a filesystem that was clean), orphan_present is cleared when the
   * orphan file is empty, and everything is written and flushed.
   * Idempotent. Throws Ext4Error (Io).
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const engine = this.engine;
    try {
      if (engine !== null) {
        engine.op(() => {
          releaseAll(engine);
          this.meta.sbSet("s_state", this.stateAtOpen);
          // orphan_present says the orphan file has entries: only an empty one clears it.
          if (this.geo.features.has("orphan_file") && engine.orphanSlots.size === 0) {
            setFeature(this.meta, "orphan_present", false);
          }
        });
        const j = engine.journal;
        if (j !== null) {
          // jbd2_journal_destroy: everything committed and home, the log empty;
          // only then may the superblock say no recovery is needed.
          engine.op(() => engine.writeSuperblock());
          try {
            j.shutdown();
          } catch (err) {
            ioError(err, {});
          }
          engine.journal = null;
          engine.op(() => setFeature(this.meta, "needs_recovery", false));
        }
        this.flushAll();
      }
    } finally {
      this.engine = null;
      try {
        this.device.close();
      } catch (e) {
        ioError(e, {});
      }
    }
  }

  // ---- raw editing (debugfs -w) ----

  /**
   * The raw editor of this filesystem (write/raw.ts): debugfs's changes
   * below the POSIX level — directory entries without link counts, raw
   * inode bytes, bitmap bits, superblock and descriptor fields by name —
   * through the same write engine as every other change. Throws ReadOnly
   * when the filesystem was not opened writable (or cannot be written).
   */
  raw(): RawEditor {
    const engine = this.w();
    return new RawEditor({
      engine,
      dir: this,
      setMountState: (state) => {
        this.stateAtOpen = state;
      },
    });
  }
}
