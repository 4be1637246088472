/**
 * @ext4/core: the only package that knows the ext4 on-disk format.
 * See README.md in this package for the module map.
 */
export * from "./brands.js";
export { CRC32C_TABLES, crc16, crc32cRange, crc32cRaw } from "./crc.js";
export * from "./dir/index.js";
export * from "./errors.js";
export * from "./features.js";
export * from "./format/acl.js";
export * from "./format/bitmap.js";
export * from "./format/extent.js";
export * from "./format/group-desc.js";
export * from "./format/inode.js";
export * from "./format/jbd2.js";
export * from "./format/orphan.js";
export * from "./format/superblock.js";
export * from "./format/xattr.js";
export * from "./fs.js";
export * from "./inode.js";
export * from "./journal.js";
export * from "./map/extent-tree.js";
export * from "./map/indirect.js";
export * from "./map/types.js";
export { type RecoveryReport, ReplayDevice } from "./replay.js";
export * from "./struct.js";
export * from "./view.js";
export {
  EXT4_FL_USER_MODIFIABLE,
  type SetAttr,
  XATTR,
  XATTR_NAME_MAX,
  XATTR_SIZE_MAX,
} from "./write/attr.js";
export { EXT4_EXTRA_TIMESTAMP_MAX, type SpacePolicy } from "./write/engine.js";
export { type ErrorRecord, EXT4_ERR } from "./write/error-record.js";
export { FALLOC, maxFileBytes, type WriteResult } from "./write/file.js";
export type { JournalStats } from "./write/journal-writer.js";
export {
  EXT4_FL_INHERITED,
  EXT4_LINK_MAX,
  fileTypeOfMode,
  type NodeOptions,
  RENAME,
} from "./write/namespace.js";
export {
  type BitChange,
  type KillResult,
  type NumberRun,
  RawEditor,
  type RawFieldChange,
  type RawHost,
} from "./write/raw.js";
export type { StatFs } from "./write/statfs.js";
