/**
 * The contract between the directory module and whatever owns the image
 * (the core's `Filesystem` and its `Inode` satisfy it structurally). The
 * directory code never touches a device or the inode table itself: it asks
 * the host for inodes and logical blocks, and everything it reads from them
 * is treated as untrusted.
 */

/** The inode fields a directory walk needs. */
export interface DirInode {
  /** Inode number. */
  readonly ino: number;
  /** i_mode (type bits + permissions). */
  readonly mode: number;
  /** i_size_lo | i_size_high << 32. */
  readonly size: number;
  /** i_flags (EXT4_INDEX_FL 0x1000, EXT4_INLINE_DATA_FL 0x10000000, EXT4_CASEFOLD_FL, ...). */
  readonly flags: number;
  /** i_generation (directory block checksums use it). */
  readonly generation: number;
  /** i_links_count. */
  readonly linksCount: number;
  /**
   * For an inode with EXT4_INLINE_DATA_FL: the 60 bytes of i_block followed
   * by the value of the system.data xattr; else null. Throws Ext4Error.
   */
  inlineData(): Uint8Array | null;
}

/** What the directory module needs from the filesystem. */
export interface DirHost {
  /** Filesystem block size in bytes. */
  readonly blockSize: number;
  /**
   * Feature by kernel name, e.g. "filetype", "dir_index", "metadata_csum",
   * "largedir", "inline_data", "casefold", "encrypt", "dir_nlink".
   */
  hasFeature(name: string): boolean;
  /** crc32c seed of metadata checksums: s_checksum_seed if the csum_seed feature is set, else crc32cRaw(0xffffffff, s_uuid). */
  readonly csumSeed: number;
  /** s_hash_seed as four u32 (little-endian words as stored). */
  readonly hashSeed: readonly number[];
  /** s_def_hash_version. */
  readonly defHashVersion: number;
  /** s_flags has EXT2_FLAGS_UNSIGNED_HASH (0x0002). */
  readonly unsignedHash: boolean;
  /** Reads and validates an inode. Throws Ext4Error. */
  readInode(ino: number): DirInode;
  /**
   * One logical block of a file or directory, or null for a hole (and an
   * unwritten extent reads as null too for directories). The buffer may be a
   * cache buffer: use it now, don't keep it. Throws Ext4Error.
   */
  readFileBlock(inode: DirInode, lblk: number): Uint8Array | null;
  /** The target of a symlink inode (fast, block or inline). Throws Ext4Error. */
  readLink(inode: DirInode): string;
}

/** Seconds + nanoseconds (the core's Timestamp from format/inode.ts has this shape). */
export interface DirTime {
  readonly sec: number;
  readonly nsec: number;
}

/**
 * What the directory module needs to change directories: the read side plus
 * block and inode updates. The core's `Filesystem`, opened read-write,
 * satisfies it structurally. The directory module writes entry and index
 * blocks itself (checksums included); the host only maps, allocates,
 * caches and writes back.
 */
export interface DirWriteHost extends DirHost {
  /** True when the filesystem was opened read-write and may be changed. */
  readonly writable: boolean;
  /**
   * The cache buffer of mapped, written logical block `lblk` of `dir`, to be
   * changed in place. After changing it, call dirtyFileBlock(dir, lblk)
   * before any other call on the host. Throws Ext4Error (a hole is Corrupt
   * DIR_HOLE).
   */
  fileBlockForWrite(dir: DirInode, lblk: number): Uint8Array;
  /**
   * Marks that block dirty (the host recomputes nothing: the directory
   * module writes the dirent tail / dx tail checksums itself before calling
   * this).
   */
  dirtyFileBlock(dir: DirInode, lblk: number): void;
  /**
   * Allocates a block (near the directory's last block, else its group),
   * maps it at logical `lblk` of `dir`, zeroes it, sets i_size to at least
   * (lblk+1)*blockSize, writes the inode, and returns the re-read inode.
   * Throws NoSpace (ENOSPC), FileTooBig.
   */
  growDirectory(dir: DirInode, lblk: number): DirInode;
  /** Changes the given fields of inode `ino`, recomputes its checksum, writes it, and returns the re-read inode. */
  updateInode(
    ino: number,
    changes: {
      size?: number;
      flags?: number;
      linksCount?: number;
      mtime?: DirTime;
      ctime?: DirTime;
    },
  ): DirInode;
  /**
   * For an inline-data inode: replaces its inline content (the 60 bytes of
   * i_block followed by the system.data xattr value) with `data` (length ≥
   * 60); the system.data value is resized, in the inode body only. Throws
   * NoSpace (code INLINE_FULL) when it cannot fit in the inode — the caller
   * then moves the directory out to a block.
   */
  writeInlineData(inode: DirInode, data: Uint8Array): DirInode;
  /**
   * Largest inline content (i_block 60 + the largest system.data value that
   * fits in this inode's body) this inode can hold.
   */
  maxInlineSize(inode: DirInode): number;
  /**
   * Turns an inline-data inode into a block-mapped one: clears
   * EXT4_INLINE_DATA_FL, removes the system.data xattr, sets up an empty
   * block map (extents header if the extent feature is on), i_size 0;
   * returns the re-read inode. The caller then uses growDirectory.
   */
  clearInlineData(inode: DirInode): DirInode;
  /** The current time (for mtime/ctime). */
  now(): DirTime;
}
