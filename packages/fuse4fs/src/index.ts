/**
 * @ext4/fuse4fs: mount an ext2/ext3/ext4 image or block device through
 * FUSE, with the core doing every metadata change and the native fast path
 * moving file data. The CLI (`fuse4fs IMAGE MOUNTPOINT [-o opts] [-f] [-d]`)
 * is a thin layer over these functions.
 */
export { aclChmod, aclEquivMode, aclUpdateMode } from "./acl.js";
export {
  decodeDev,
  dtOfFileType,
  dtOfMode,
  EXT4_ROOT,
  encodeDev,
  FS_IOC,
  FUSE_ROOT,
  fuseAttr,
  inoOf,
  nodeOf,
  STATX,
  statxOf,
  xflagsOf,
} from "./attr.js";
export { type CliIo, EXIT, main, runFuse4fs } from "./cli/main.js";
export {
  currentMounts,
  devString,
  findExistingMount,
  ImageError,
  loopDevicesBacking,
  type MountInfo,
  type OpenedImage,
  openImage,
  parseMountInfo,
} from "./image.js";
export {
  evictRange,
  MappingPublisher,
  type MappingSink,
  type RangeEnv,
  SystemZone,
  toRanges,
} from "./mapping.js";
export {
  type MountEnd,
  MountError,
  type MountHandle,
  type MountHooks,
  mountImage,
  resolveRunAs,
  setReadahead,
} from "./mount.js";
export {
  type AtimeMode,
  type CommandLine,
  DEFAULT_OPTIONS,
  type ErrorsBehavior,
  type Fuse4fsOptions,
  OPTIONS,
  OptionError,
  type OptionSpec,
  optionHelp,
  parseCommandLine,
  parseOptions,
  parseSize,
  splitOptions,
  usage,
} from "./options.js";
export { type DirKind, DirStream, dirKind, hashCookie, type ListedEntry } from "./readdir.js";
export { Fuse4fsServer, type ServerConfig, type SessionPort } from "./server.js";
