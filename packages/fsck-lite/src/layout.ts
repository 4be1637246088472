/**
 * The raw on-disk structures the checker reads: the core's field tables
 * (declared once in @ext4/core, kernel names and kernel order), under the
 * names the passes use. The checker reads every field raw through these
 * tables and judges values itself, because it must report a bad value
 * where the core's validated layer would refuse it.
 */
import { INODE } from "@ext4/core";

export {
  DIRENT_HEADER_SIZE,
  dirEntry2Struct as DIRENT,
  dxCountLimitStruct as DX_COUNTLIMIT,
  dxRootInfoStruct as DX_ROOT_INFO,
  EXTENT,
  EXTENT_HEADER,
  EXTENT_IDX as EXTENT_INDEX,
  GROUP_DESC,
  INODE,
  JOURNAL_SUPERBLOCK as JOURNAL_SB,
  SUPERBLOCK,
  XATTR_ENTRY,
  XATTR_HEADER,
} from "@ext4/core";

/** Byte offset of i_block in the inode. */
export const I_BLOCK = INODE.offsetOf("i_block");
