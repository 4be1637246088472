/**
 * Numbers the directory code shares: file types stored in directory entries,
 * the inode flags that change how a directory is read, mode bits and limits.
 * Values are the kernel's (fs/ext4/ext4.h, include/uapi/linux/stat.h).
 */

/** `file_type` values of ext4_dir_entry_2 (EXT4_FT_*). */
export const DirFileType = {
  Unknown: 0,
  RegularFile: 1,
  Directory: 2,
  CharDevice: 3,
  BlockDevice: 4,
  Fifo: 5,
  Socket: 6,
  Symlink: 7,
  /** EXT4_FT_DIR_CSUM: the file_type byte of the checksum tail entry. */
  DirChecksum: 0xde,
} as const;

/** i_flags bits that matter to directories. */
export const DirInodeFlag = {
  /** EXT4_INDEX_FL: the directory has an htree index (honoured only with dir_index). */
  Index: 0x1000,
  /** EXT4_ENCRYPT_FL: names are fscrypt ciphertext. */
  Encrypt: 0x800,
  /** EXT4_INLINE_DATA_FL: entries live in i_block and the system.data xattr. */
  InlineData: 0x10000000,
  /** EXT4_CASEFOLD_FL: names compare case-insensitively. */
  Casefold: 0x40000000,
} as const;

/** S_IFMT: the file type bits of i_mode. */
export const S_IFMT = 0o170000;
/** S_IFDIR. */
export const S_IFDIR = 0o040000;
/** S_IFLNK. */
export const S_IFLNK = 0o120000;
/** S_IFREG. */
export const S_IFREG = 0o100000;

/** EXT4_NAME_LEN: the longest name a directory entry can hold. */
export const EXT4_NAME_LEN = 255;
/** PATH_MAX: the longest path {@link resolvePath} accepts, in bytes. */
export const PATH_MAX = 4096;
/** The root directory's inode number (EXT4_ROOT_INO). */
export const ROOT_INO = 2;
/** EXT4_MIN_INLINE_DATA_SIZE: bytes of i_block used by inline data. */
export const INLINE_IBLOCK_SIZE = 60;
/** EXT4_INLINE_DOTDOT_SIZE: the parent inode number at the start of an inline directory. */
export const INLINE_DOTDOT_SIZE = 4;

/** True when `mode` is a directory. */
export function isDirMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFDIR;
}

/** True when `mode` is a symbolic link. */
export function isSymlinkMode(mode: number): boolean {
  return (mode & S_IFMT) === S_IFLNK;
}
