/** Directories: linear blocks, htree indexes, name hashes, inline directories, path lookup, entry writes. */
// Only names specific to directories are exported: generic ones (S_IFDIR, ROOT_INO, ...) belong
// to the inode module, and `export *` from the package index must not collide.
export { DirFileType, DirInodeFlag } from "./constants.js";
export { type DirContext, dirContext } from "./context.js";
export {
  checkDxNode,
  checkDxRoot,
  DX_FALLBACK_CODES,
  DX_ROOT_INFO_LENGTH,
  type DxCheckOptions,
  type DxCsum,
  type DxEntries,
  type DxEntry,
  DxEntryView,
  type DxNode,
  type DxRoot,
  decodeDxNode,
  decodeDxRoot,
  dxCountLimitStruct,
  dxCountOffset,
  dxCsum,
  dxEntryStruct,
  dxNodeLimit,
  dxNodeStruct,
  dxRootInfoStruct,
  dxRootLimit,
  dxRootStruct,
  dxSearch,
  dxTailStruct,
  fakeDirentStruct,
  isDxFallback,
  maxHtreeLevels,
  verifyDxChecksum,
  writeDxEntries,
  writeDxTail,
} from "./dx.js";
export {
  DIRENT_HEADER_SIZE,
  DIRENT_TAIL_SIZE,
  type DirBlockCsum,
  type DirEntryMatch,
  type DirEntrySpec,
  type DirParseOptions,
  dirBlockChecksum,
  dirBlockCsum,
  dirCsumSeed,
  dirEntry2Struct,
  dirEntryHashStruct,
  dirEntryStruct,
  dirEntryTailStruct,
  dirRecLen,
  findDirEntry,
  parseDirEntries,
  type RawDirEntry,
  readDirTail,
  recLenFromDisk,
  recLenToDisk,
  scanDirEntries,
  verifyDirBlockChecksum,
  writeDirEntry,
  writeDirTail,
} from "./entry.js";
export {
  type DxHash,
  DxHashVersion,
  dxHash,
  effectiveHashVersion,
  kernelDxHash,
} from "./hash.js";
export type { DirHost, DirInode, DirTime, DirWriteHost } from "./host.js";
export type {
  HtreeChild,
  HtreeIndexNode,
  HtreeInfo,
  HtreeLeaf,
  HtreeLeafEntry,
  HtreeUnreadable,
} from "./htree.js";
export {
  type InlineDirLayout,
  InlinePosition,
  type InlineRegion,
  inlineDirLayout,
} from "./inline.js";
export { type Resolved, type ResolveOptions, resolvePath } from "./path.js";
export {
  type DirBlockInfoOptions,
  type DirListing,
  type RawBlockCsum,
  type RawDirBlock,
  type RawDirRecord,
  type RawEntryKind,
  type RawListEntry,
  rawBlockCsum,
  rawRecords,
} from "./raw.js";
export {
  type DirEntry,
  dirBlockInfo,
  htreeInfo,
  iterateDirectory,
  type LookupOptions,
  type LookupResult,
  lookup,
  lookupEntry,
  nameBytes,
  type ReadDirOptions,
  readDirectory,
} from "./read.js";
export {
  addEntry,
  initDirectory,
  isEmptyDirectory,
  type OldEntry,
  removeEntry,
  replaceEntry,
  setDotDot,
} from "./write.js";
