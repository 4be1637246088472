/**
 * Directory-entry primitives for the namespace operations (mkdir, create,
 * link, unlink, rmdir, rename, symlink, mknod), done the way the kernel's
 * fs/ext4/namei.c and fs/ext4/inline.c do them, through a
 * {@link DirWriteHost}: `initDirectory`, `addEntry`, `removeEntry`,
 * `replaceEntry`, `setDotDot`, `isEmptyDirectory`. They change directory
 * entries and the directory inode (size, EXT4_INDEX_FL, mtime/ctime) only:
 * link counts and the target inodes are the caller's.
 *
 * Everything that is read is checked (entries, index, checksums) before the
 * first write, and new block images are computed before they are written,
 * so a corrupt directory or a full index never leaves a half-written
 * block. Allocation is the one failure that cannot be checked first; each
 * step that allocates leaves a valid directory if it fails (see dx-write.ts
 * and inline-write.ts).
 */
import { corrupt, fsError, isExt4Error } from "../errors.js";
import { ByteView, le32 } from "../view.js";
import { DirFileType, DirInodeFlag, EXT4_NAME_LEN, INLINE_IBLOCK_SIZE } from "./constants.js";
import { isDxInternal, readDirBlock, verifyBlock } from "./context.js";
import { dxCountOffset, isDxFallback, writeDxTail } from "./dx.js";
import { dxAddEntry, makeIndexedDir } from "./dx-write.js";
import {
  buildLeaf,
  deleteAt,
  findSlot,
  insertAt,
  leafEnd,
  type NewEntry,
  regionRecords,
  sealLeaf,
} from "./edit.js";
import {
  DIRENT_HEADER_SIZE,
  type DirParseOptions,
  dirEntry2Struct,
  dirRecLen,
  verifyDirBlockChecksum,
  writeDirEntry,
} from "./entry.js";
import type { DirHost, DirInode, DirWriteHost } from "./host.js";
import {
  INLINE_REC_LEN_BASE,
  inlineAdd,
  inlineCopy,
  inlineParts,
  inlineToBlock,
  partAt,
  storeInline,
} from "./inline-write.js";
import { iterateDirectory, type LookupResult, lookupEntry, nameBytes } from "./read.js";
import { DirWriter } from "./writer.js";

/** What an entry pointed at before it was removed or replaced. */
export interface OldEntry {
  /** The inode the entry named. */
  readonly ino: number;
  /** Its EXT4_FT_* (0 when unknown or without the filetype feature). */
  readonly fileType: number;
  /** The directory inode after the change (re-read from the host). */
  readonly dir: DirInode;
}

const MAX_INO = 0xffffffff;
const O_INODE = dirEntry2Struct.offsetOf("inode");
const O_NAME_LEN = dirEntry2Struct.offsetOf("name_len");

/** Refuses names no entry may have. Throws NameTooLong NAME_TOO_LONG, InvalidArgument DIR_NAME_*. */
function checkName(name: Uint8Array, ino: number): void {
  const ctx = { inode: ino };
  if (name.length > EXT4_NAME_LEN) {
    throw fsError("NameTooLong", "NAME_TOO_LONG", `name of ${name.length} bytes`, ctx);
  }
  if (name.length === 0) throw fsError("InvalidArgument", "DIR_NAME_EMPTY", "empty name", ctx);
  if (name.length <= 2 && name.every((c) => c === 0x2e)) {
    throw fsError("InvalidArgument", "DIR_NAME_DOT", '"." and ".." cannot be changed', ctx);
  }
  // The read side rejects such stored names as corrupt (DIRENT_BAD_NAME): never write one.
  if (name.includes(0x2f) || name.includes(0)) {
    throw fsError("InvalidArgument", "DIR_NAME_BAD", "name contains '/' or NUL", ctx);
  }
}

/** Throws InvalidArgument DIR_BAD_INODE for an inode number an entry cannot hold (0 marks unused records). */
function checkIno(ino: number, dir: number): void {
  if (!Number.isInteger(ino) || ino < 1 || ino > MAX_INO) {
    throw fsError("InvalidArgument", "DIR_BAD_INODE", `inode number ${ino}`, { inode: dir });
  }
}

/**
 * The file_type byte to store: EXT4_FT_* with the filetype feature, 0
 * without (the byte is then the high half of the old 16-bit name_len).
 * Throws InvalidArgument DIR_BAD_FILE_TYPE outside 0..7.
 */
function storedType(w: DirWriter, fileType: number): number {
  if (!Number.isInteger(fileType) || fileType < 0 || fileType > DirFileType.Symlink) {
    throw fsError("InvalidArgument", "DIR_BAD_FILE_TYPE", `file type ${fileType}`, w.ctx());
  }
  return w.d.filetype ? fileType : DirFileType.Unknown;
}

/**
 * Writes "." and ".." into a new directory. With EXT4_INLINE_DATA_FL: the
 * parent number in the first 4 bytes of i_block and one unused record over
 * the rest, i_size 60 (`ext4_try_create_inline_dir`). Otherwise block 0 via
 * growDirectory: "." (12 bytes) and ".." covering the rest, the checksum
 * tail with metadata_csum (`ext4_init_new_dir`). Link counts are the
 * caller's. Returns the re-read directory inode. Throws ReadOnly,
 * NotADirectory, InvalidArgument (DIR_BAD_INODE; DIR_NOT_NEW when a block
 * directory already has blocks), NoSpace.
 */
export function initDirectory(host: DirWriteHost, dir: DirInode, parentIno: number): DirInode {
  const w = new DirWriter(host, dir);
  checkIno(parentIno, dir.ino);
  if (w.d.inline) {
    const data = new Uint8Array(INLINE_IBLOCK_SIZE);
    new ByteView(data).setU32(0, parentIno);
    writeDirEntry(
      data,
      4,
      { inode: 0, recLen: INLINE_IBLOCK_SIZE - 4, name: new Uint8Array(0), fileType: 0 },
      INLINE_REC_LEN_BASE,
    );
    const size = storeInline(w, data);
    return w.dir.size === size ? w.dir : host.updateInode(dir.ino, { size });
  }
  if (w.d.size !== 0) {
    throw fsError("InvalidArgument", "DIR_NOT_NEW", "directory already has blocks", w.ctx());
  }
  const bs = w.bs;
  const dirType = w.d.filetype ? DirFileType.Directory : DirFileType.Unknown;
  const block = new Uint8Array(bs);
  const dots = new Uint8Array([0x2e, 0x2e]);
  writeDirEntry(
    block,
    0,
    { inode: dir.ino, recLen: 12, name: dots.subarray(0, 1), fileType: dirType },
    bs,
  );
  writeDirEntry(
    block,
    12,
    { inode: parentIno, recLen: leafEnd(bs, w.seed !== null) - 12, name: dots, fileType: dirType },
    bs,
  );
  sealLeaf(block, bs, w.seed);
  w.grow(0);
  w.commit(0, block);
  return w.dir;
}

/**
 * The linear half of `ext4_add_entry`: the first block with room takes the
 * entry (a hole is filled with a new block); when the only block is full
 * and dir_index is on, the directory becomes an htree; otherwise a new
 * block is appended.
 */
function linearAdd(w: DirWriter, entry: NewEntry, dxFallback: boolean): void {
  const blocks = w.blockCount();
  if (blocks === 0) {
    throw corrupt("DIR_NO_BLOCKS", "directory has no blocks (never initialised)", w.ctx());
  }
  const need = dirRecLen(entry.name.length);
  const end = leafEnd(w.bs, w.seed !== null);
  for (let lblk = 0; lblk < blocks; lblk++) {
    const block = w.read(lblk);
    if (block === null) {
      w.grow(lblk);
      // OK to assert: one entry of at most 264 bytes always fits in a block.
      w.commit(lblk, buildLeaf([entry], w.bs, w.seed)!);
      return;
    }
    verifyBlock(w.d, lblk, block);
    const region = block.subarray(0, end);
    const slot = findSlot(region, w.parseOptions(lblk), entry.name, need);
    if (slot !== null) {
      insertAt(region, slot, entry, w.bs);
      sealLeaf(block, w.bs, w.seed);
      w.commit(lblk, block);
      return;
    }
    if (blocks === 1 && !dxFallback && w.host.hasFeature("dir_index")) {
      if (makeIndexedDir(w, block, entry)) return;
    }
  }
  w.grow(blocks);
  w.commit(blocks, buildLeaf([entry], w.bs, w.seed)!);
}

/**
 * Adds the entry `name` → `ino` (with `fileType`, EXT4_FT_*, stored only
 * with the filetype feature) to a directory, as `ext4_add_entry` does:
 * inline directories first (moving out to a block when full), then through
 * the htree if the directory has one (a structurally broken index is
 * dropped and the entry added linearly, as the kernel does, except with
 * metadata_csum where that is an error), else linearly, turning a full
 * one-block directory into an htree when dir_index is on. Updates the
 * directory's mtime/ctime. The caller has checked the name is absent (it is
 * refused with Exists only when the scan happens to meet it). Returns the
 * re-read directory inode. Throws ReadOnly, NotADirectory, NameTooLong,
 * InvalidArgument (DIR_NAME_*, DIR_BAD_INODE, DIR_BAD_FILE_TYPE),
 * NotSupported (DIR_WRITE_ENCRYPTED, DIR_WRITE_CASEFOLD: names there need
 * keys or Unicode folding), Exists, NoSpace (DX_INDEX_FULL, the allocator),
 * Corrupt, BadChecksum.
 */
export function addEntry(
  host: DirWriteHost,
  dir: DirInode,
  name: Uint8Array | string,
  ino: number,
  fileType: number,
): DirInode {
  const w = new DirWriter(host, dir);
  const n = nameBytes(name);
  checkName(n, dir.ino);
  checkIno(ino, dir.ino);
  if (w.d.encrypted) {
    throw fsError("NotSupported", "DIR_WRITE_ENCRYPTED", "encrypted directory", w.ctx());
  }
  if (w.d.casefolded) {
    throw fsError("NotSupported", "DIR_WRITE_CASEFOLD", "case-insensitive directory", w.ctx());
  }
  const entry: NewEntry = { inode: ino, name: n, fileType: storedType(w, fileType) };
  if (w.d.inline) {
    const size = inlineAdd(w, entry);
    if (size !== null) return w.touch(size);
    inlineToBlock(w);
  }
  let dxFallback = false;
  if (w.d.indexed) {
    try {
      dxAddEntry(w, entry);
      return w.touch();
    } catch (e) {
      if (!(isExt4Error(e) && isDxFallback(e)) || w.d.metadataCsum) throw e;
      // ext4_add_entry: an unusable index without checksums is dropped, and never rebuilt here.
      w.flags = (w.flags & ~DirInodeFlag.Index) >>> 0;
      dxFallback = true;
    }
  }
  linearAdd(w, entry, dxFallback);
  return w.touch();
}

/** Finds `name` for a change, refusing what cannot be changed. Throws NotFound DIR_ENTRY_NOT_FOUND. */
function findForChange(w: DirWriter, name: Uint8Array): LookupResult {
  checkName(name, w.dir.ino);
  const found = lookupEntry(w.host, w.dir, name);
  if (found === null) {
    throw fsError("NotFound", "DIR_ENTRY_NOT_FOUND", "no such directory entry", w.ctx());
  }
  return found;
}

/**
 * Applies `edit` to the region holding a found entry (a private copy,
 * checked and verified first) and writes it back with its checksum.
 * Returns the new i_size of an inline directory, else undefined.
 */
function editFound(
  w: DirWriter,
  found: LookupResult,
  edit: (region: Uint8Array, offset: number, opts: DirParseOptions, base: number) => void,
): number | undefined {
  if (found.lblk === null) {
    const data = inlineCopy(w);
    const part = partAt(w, inlineParts(w, data), found.offset);
    edit(part.bytes, found.offset - part.start, part.opts, INLINE_REC_LEN_BASE);
    return storeInline(w, data);
  }
  const lblk = found.lblk;
  const block = w.read(lblk);
  if (block === null) {
    throw corrupt("DIR_HOLE", "directory hole where an entry was found", w.ctx(lblk));
  }
  // Names live in leaves only: the block is checked as a leaf.
  if (w.seed !== null) verifyDirBlockChecksum(w.seed, block, w.bs, w.ctx(lblk));
  edit(block.subarray(0, leafEnd(w.bs, w.seed !== null)), found.offset, w.parseOptions(lblk), w.bs);
  sealLeaf(block, w.bs, w.seed);
  w.commit(lblk, block);
  return undefined;
}

/**
 * Removes the entry `name` (`ext4_delete_entry`): its record joins the
 * previous one in its block or inline part, or becomes unused when it is
 * the first; htree leaves are not merged (the kernel never shrinks a
 * directory). Updates mtime/ctime. Returns what the entry pointed at and
 * the re-read directory. Throws ReadOnly, NotADirectory, NameTooLong,
 * InvalidArgument (DIR_NAME_*), NotFound DIR_ENTRY_NOT_FOUND, Corrupt,
 * BadChecksum.
 */
export function removeEntry(
  host: DirWriteHost,
  dir: DirInode,
  name: Uint8Array | string,
  hint?: LookupResult | null,
): OldEntry {
  const w = new DirWriter(host, dir);
  const n = nameBytes(name);
  // The caller's own lookup of the name, when the entry is still where it
  // was found (the kernel's ext4_rename_delete: an insertion since may
  // have split its leaf), saves a second lookup; the block is read,
  // verified and walked again by editFound either way.
  const found = hint != null && stillNames(w, hint, n) ? hint : findForChange(w, n);
  const size = editFound(w, found, (region, offset, opts, base) =>
    deleteAt(region, offset, opts, base),
  );
  return { ino: found.ino, fileType: found.fileType, dir: w.touch(size) };
}

/**
 * True when the record `hint` points at (a block directory's) still holds
 * `name` for the same inode. Applies findForChange's name checks first.
 * Throws what reading the block throws.
 */
function stillNames(w: DirWriter, hint: LookupResult, name: Uint8Array): boolean {
  checkName(name, w.dir.ino);
  const lblk = hint.lblk;
  if (lblk === null || w.d.inline || !(lblk >= 0 && lblk < w.d.blockCount)) return false;
  const block = readDirBlock(w.d, lblk);
  if (block === null) return false;
  const at = hint.offset;
  const start = at + DIRENT_HEADER_SIZE;
  if (!(at >= 0 && start + name.length <= block.length)) return false;
  if (le32(block, at + O_INODE) !== hint.ino || block[at + O_NAME_LEN] !== name.length) {
    return false;
  }
  for (let i = 0; i < name.length; i++) if (block[start + i] !== name[i]) return false;
  return true;
}

/**
 * Points the existing entry `name` at `newIno` with `newFileType` (rename
 * over an existing name, the kernel's `ext4_setent`); the file type is
 * stored only with the filetype feature. Updates mtime/ctime. Returns what
 * the entry pointed at before and the re-read directory. Throws ReadOnly,
 * NotADirectory, NameTooLong, InvalidArgument, NotFound, Corrupt,
 * BadChecksum.
 */
export function replaceEntry(
  host: DirWriteHost,
  dir: DirInode,
  name: Uint8Array | string,
  newIno: number,
  newFileType: number,
): OldEntry {
  const w = new DirWriter(host, dir);
  checkIno(newIno, dir.ino);
  const type = storedType(w, newFileType);
  const found = findForChange(w, nameBytes(name));
  const size = editFound(w, found, (region, offset, opts) => {
    // The walk re-checks the region and proves a record starts at `offset`.
    if (!regionRecords(region, opts).some((r) => r.offset === offset && r.inode !== 0)) {
      throw corrupt("DIR_ENTRY_OFFSET", `no directory entry starts at ${offset}`, {
        ...opts.context,
        offset,
      });
    }
    const v = new ByteView(region).sub(offset, dirEntry2Struct.size);
    dirEntry2Struct.set(v, "inode", newIno);
    if (w.d.filetype) dirEntry2Struct.set(v, "file_type", type);
  });
  return { ino: found.ino, fileType: found.fileType, dir: w.touch(size) };
}

/**
 * Rewrites ".." of a directory to `parentIno` (a directory moved to another
 * parent, the kernel's `ext4_rename_dir_finish`): the parent number of an
 * inline directory, else the second record of block 0, with the dx_root's
 * or the leaf's checksum recomputed. Times are left alone, as the kernel
 * does. Returns the previous parent. Throws ReadOnly, NotADirectory,
 * InvalidArgument DIR_BAD_INODE, Corrupt (DIR_MISSING_DOTDOT, DIR_HOLE,
 * DIRENT_*), BadChecksum.
 */
export function setDotDot(host: DirWriteHost, dir: DirInode, parentIno: number): number {
  const w = new DirWriter(host, dir);
  checkIno(parentIno, dir.ino);
  if (w.d.inline) {
    const data = inlineCopy(w);
    inlineParts(w, data);
    const v = new ByteView(data);
    const old = v.u32(0);
    v.setU32(0, parentIno);
    storeInline(w, data);
    return old;
  }
  if (w.d.blockCount === 0) {
    throw corrupt("DIR_MISSING_DOTDOT", "directory has no blocks", w.ctx());
  }
  const block = w.read(0);
  if (block === null) throw corrupt("DIR_HOLE", "directory block 0 is a hole", w.ctx(0));
  verifyBlock(w.d, 0, block);
  // Only the first two records matter; the dx_root's ".." covers the rest of block 0.
  const [dot, dotdot] = regionRecords(block, w.parseOptions(0));
  const isDots = (r: { name: Uint8Array; inode: number }, n: number) =>
    r.inode !== 0 && r.name.length === n && r.name.every((c) => c === 0x2e);
  if (dot === undefined || dotdot === undefined || !isDots(dot, 1) || !isDots(dotdot, 2)) {
    throw corrupt("DIR_MISSING_DOTDOT", "block 0 does not start with '.' and '..'", w.ctx(0));
  }
  const v = new ByteView(block).sub(dotdot.offset, dirEntry2Struct.size);
  const old = dirEntry2Struct.get(v, "inode");
  dirEntry2Struct.set(v, "inode", parentIno);
  if (w.seed !== null) {
    const countOffset = isDxInternal(w.d, 0, block) ? dxCountOffset(block, w.bs) : null;
    if (countOffset !== null) writeDxTail(block, w.bs, countOffset, w.seed);
    else sealLeaf(block, w.bs, w.seed);
  }
  w.commit(0, block);
  return old;
}

/**
 * True when a directory holds nothing but "." and ".." (`ext4_empty_dir`),
 * every block below i_size walked (an emptied htree keeps its blocks).
 * Throws NotADirectory, Corrupt (DIR_MISSING_DOT, DIR_MISSING_DOTDOT when
 * they are not the first two entries, DIRENT_*), BadChecksum.
 */
export function isEmptyDirectory(host: DirHost, dir: DirInode): boolean {
  let i = 0;
  for (const e of iterateDirectory(host, dir)) {
    const dots = e.name.length <= 2 && e.name.every((c) => c === 0x2e);
    if (i === 0 && !(dots && e.name.length === 1 && e.position === 0)) {
      throw corrupt("DIR_MISSING_DOT", "directory does not start with '.'", { inode: dir.ino });
    }
    if (i === 1 && !(dots && e.name.length === 2 && (e.lblk ?? 0) === 0)) {
      throw corrupt("DIR_MISSING_DOTDOT", "directory has no '..' after '.'", { inode: dir.ino });
    }
    if (i >= 2) return false;
    i++;
  }
  if (i < 2) {
    throw corrupt("DIR_MISSING_DOTDOT", "directory lacks '.' or '..'", { inode: dir.ino });
  }
  return true;
}
