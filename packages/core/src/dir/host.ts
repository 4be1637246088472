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
