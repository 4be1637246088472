/**
 * The filesystem: opening an image (superblock, feature gate, group
 * descriptors), reading inodes, block maps, file data, symlinks, xattrs,
 * bitmaps, orphans and the journal. Read-only for now; every structure is
 * read through its field table so writes can go back the same way.
 *
 * All metadata goes through one BufferCache sized in filesystem blocks.
 * Every block number taken from disk is checked against the filesystem
 * before it reaches the cache, and device failures surface as Ext4Error kind
 * `Io`, so callers only ever see Ext4Error from a corrupt image.
 */
import { type BlockDevice, BufferCache, IoError } from "@ext4/iocache";
import { corrupt, Ext4Error, type Ext4ErrorContext, fsError } from "./errors.js";
import type { FeatureSet } from "./features.js";
import { type AclEntry, decodeExt4Acl } from "./format/acl.js";
import {
  type Bitmap,
  Bitmap as BitmapClass,
  blockBitmapChecksumValid,
  inodeBitmapChecksumValid,
  uninitBlockBitmap,
} from "./format/bitmap.js";
import {
  EXT4_BG_BLOCK_UNINIT,
  EXT4_BG_INODE_UNINIT,
  type GroupDesc,
  groupDescLocation,
  parseGroupDesc,
} from "./format/group-desc.js";
import {
  decodeInode,
  EXT4_ROOT_INO,
  type InodeDecodeParams,
  InodeFlags,
  inodeChecksumValid,
  inodeCsumSeed,
} from "./format/inode.js";
import { parseJournalSuperblock } from "./format/jbd2.js";
import { parseOrphanBlock } from "./format/orphan.js";
import {
  blocksInGroup,
  EXT2_FLAGS_UNSIGNED_HASH,
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
import { Inode } from "./inode.js";
import { Journal } from "./journal.js";
import {
  type ExtentTreeNode,
  extentBlockList,
  mapExtents,
  readExtentTree,
} from "./map/extent-tree.js";
import { indirectBlockList, mapIndirect } from "./map/indirect.js";
import type { BlockListEntry, BlockRun, MapEnv } from "./map/types.js";

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

/** An open ext4 filesystem (read-only). Satisfies the directory module's DirHost. */
export class Filesystem {
  /** The buffer cache over the device, in filesystem blocks. */
  readonly cache: BufferCache;
  /** Group descriptors, validated at open. */
  readonly groups: readonly GroupDesc[];
  /** Whether checksum mismatches throw (see {@link OpenOptions.verifyChecksums}). */
  readonly verifyChecksums: boolean;
  private readonly inodeParams: InodeDecodeParams;
  private readonly xattrLimits: XattrParseLimits;

  private constructor(
    readonly device: BlockDevice,
    readonly superblock: Superblock,
    options: OpenOptions,
    private readonly backupGroupBlock: number | undefined,
  ) {
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
    this.groups = this.loadGroups();
  }

  /**
   * Opens the filesystem on `device`: reads the superblock at byte 1024,
   * validates it (geometry, features, checksum) and every group descriptor,
   * and checks the filesystem fits the device. Throws Ext4Error: Corrupt,
   * BadChecksum, Incompatible (unsupported incompat features), Io.
   */
  static open(device: BlockDevice, options: OpenOptions = {}): Filesystem {
    const offset =
      options.backup === undefined
        ? SUPERBLOCK_OFFSET
        : options.backup.block * options.backup.blockSize;
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
    return new Filesystem(device, sb, options, options.backup?.block);
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
    return this.superblock.blockSize;
  }
  /** The feature words with name lookup. */
  get features(): FeatureSet {
    return this.superblock.features;
  }
  /** Feature by kernel or e2fsprogs name ("metadata_csum", "largedir", "inline_data", ...). */
  hasFeature(name: string): boolean {
    return this.superblock.features.has(name);
  }
  /** crc32c seed of metadata checksums. */
  get csumSeed(): number {
    return this.superblock.csumSeed;
  }
  /** s_hash_seed as four u32. */
  get hashSeed(): readonly number[] {
    return this.superblock.hashSeed;
  }
  /** s_def_hash_version. */
  get defHashVersion(): number {
    return this.superblock.defHashVersion;
  }
  /** s_flags has EXT2_FLAGS_UNSIGNED_HASH. */
  get unsignedHash(): boolean {
    return (this.superblock.flags & EXT2_FLAGS_UNSIGNED_HASH) !== 0;
  }
  /** Always true for now (writes come later). */
  get readOnly(): boolean {
    return true;
  }
  /**
   * Why this image may never be written even when writing is supported:
   * unknown ro_compat features or the read-only feature; null otherwise.
   */
  get readOnlyReason(): string | null {
    return this.superblock.readOnlyReason;
  }
  /** The needs_recovery flag: the journal holds transactions not yet written home. */
  get needsRecovery(): boolean {
    return this.superblock.features.has("needs_recovery");
  }

  // ---- blocks ----

  /**
   * The cached buffer of filesystem block `block` (transient: use it before
   * the next call). Throws Corrupt (BLOCK_OUT_OF_RANGE) for a block outside
   * the filesystem, Io on a device error.
   */
  readBlock(block: number, ctx: Ext4ErrorContext = {}): Uint8Array {
    if (!(Number.isSafeInteger(block) && block >= 0 && block < this.superblock.blocksCount)) {
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
    const sb = this.superblock;
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
    const gd = this.groups[group];
    if (gd === undefined) {
      throw fsError("InvalidArgument", "BAD_GROUP", `no group ${group}`, { group });
    }
    return gd;
  }

  // ---- inodes ----

  /** Where inode `ino` lives: group, index in the group, inode table block and byte offset. */
  inodeLocation(ino: number): { group: number; index: number; block: number; offset: number } {
    const sb = this.superblock;
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
    const sb = this.superblock;
    const loc = this.inodeLocation(ino);
    const gd = this.group(loc.group);
    const ctx = { inode: ino, group: loc.group };
    const raw = new Uint8Array(sb.inodeSize);
    let checksumValid = true;
    const neverUsed =
      sb.features.groupDescCsum &&
      ((gd.flags & EXT4_BG_INODE_UNINIT) !== 0 || loc.index >= sb.inodesPerGroup - gd.itableUnused);
    if (!neverUsed) {
      const buf = this.readBlock(loc.block, ctx);
      raw.set(buf.subarray(loc.offset, loc.offset + sb.inodeSize));
      if (sb.features.metadataCsum) {
        checksumValid = inodeChecksumValid(sb.csumSeed, ino, raw, sb.inodeSize);
        if (!checksumValid && this.verifyChecksums) {
          throw new Ext4Error("BadChecksum", "INODE_BAD_CHECKSUM", "inode checksum mismatch", {
            ...ctx,
            block: loc.block,
            offset: loc.offset,
          });
        }
      }
    }
    const fields = decodeInode(raw, this.inodeParams, ctx);
    if ((fields.flags & InodeFlags.INLINE_DATA) !== 0) {
      if (!sb.features.has("inline_data")) {
        throw corrupt("INODE_INLINE_NO_FEATURE", "inline data flag without inline_data", ctx);
      }
      if ((fields.flags & InodeFlags.EXTENTS) !== 0) {
        throw corrupt("INODE_INLINE_AND_EXTENTS", "both inline data and extents flags", ctx);
      }
    }
    if (
      fields.fileAcl !== 0 &&
      (fields.fileAcl < sb.firstDataBlock || fields.fileAcl >= sb.blocksCount)
    ) {
      throw corrupt(
        "INODE_BAD_FILE_ACL",
        `xattr block ${fields.fileAcl} outside the filesystem`,
        ctx,
      );
    }
    return new Inode(
      ino,
      fields,
      raw,
      { inodeSize: sb.inodeSize, blockSize: sb.blockSize, xattrLimits: this.xattrLimits },
      checksumValid,
    );
  }

  /** The root directory inode (2). Throws Ext4Error. */
  root(): Inode {
    return this.readInode(EXT4_ROOT_INO);
  }

  // ---- block maps ----

  private mapEnv(inode: Inode): MapEnv {
    const sb = this.superblock;
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
      ? mapExtents(env, inode.ino, iBlock, lblk, lblk + count)
      : mapIndirect(env, inode.ino, iBlock, lblk, lblk + count);
  }

  /**
   * One logical block of a file or directory (DirHost): the cache buffer of
   * its physical block (transient), or null for a hole or an unwritten
   * extent. Throws Ext4Error.
   */
  readFileBlock(inode: Inode, lblk: number): Uint8Array | null {
    const [run] = this.mapBlocks(inode, lblk, 1);
    if (run === undefined || run.kind === "hole" || run.unwritten) return null;
    return this.readBlock(run.physical, { inode: inode.ino });
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
    const eaBlocks = inode.fileAcl !== 0 ? this.superblock.clusterSize / 512 : 0;
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
    const sb = this.superblock;
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
    const sb = this.superblock;
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
    const sb = this.superblock;
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
    const sb = this.superblock;
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
    const sb = this.superblock;
    const list: number[] = [];
    const seen = new Set<number>();
    for (let ino = sb.lastOrphan; ino !== 0; ) {
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
    const sb = this.superblock;
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

  /** Releases the device. Idempotent. */
  close(): void {
    try {
      this.device.close();
    } catch (e) {
      ioError(e, {});
    }
  }
}
