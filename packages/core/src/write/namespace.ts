/**
 * The namespace operations of fs/ext4/namei.c on top of the directory
 * module's entry primitives: creating inodes of every type (with the
 * kernel's flag and group inheritance, default ACLs, inline directories),
 * link, unlink (orphaned while open), mkdir and rmdir with the link-count
 * rules (dir_nlink), symlinks (fast in i_block or in a block), device nodes,
 * and rename in all its forms.
 */

import { DirFileType } from "../dir/constants.js";
import type { DirWriteHost } from "../dir/host.js";
import { lookup, lookupEntry, nameBytes } from "../dir/read.js";
import {
  addEntry,
  initDirectory,
  isEmptyDirectory,
  removeEntry,
  replaceEntry,
  setDotDot,
} from "../dir/write.js";
import { fsError } from "../errors.js";
import { type AclEntry, decodeExt4Acl, encodeExt4Acl } from "../format/acl.js";
import {
  EXT4_ROOT_INO,
  InodeFlags,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
} from "../format/inode.js";
import type { Inode } from "../inode.js";
import { inheritAcl } from "./acl-inherit.js";
import { deleteInode } from "./delete.js";
import type { SpacePolicy, WorkInode, WriteEngine } from "./engine.js";
import { fillNewBlocks } from "./file.js";
import { makeInline } from "./inline.js";
import { orphanAdd, orphanRemove } from "./orphan.js";
import { ibodyFits, ibodyItems, writeIbody, writeXattrBlock, type XattrItem } from "./xattr.js";

/** EXT4_LINK_MAX: the most links an inode may have. */
export const EXT4_LINK_MAX = 65000;

/** Flags a new inode inherits from its directory (EXT4_FL_INHERITED). */
export const EXT4_FL_INHERITED =
  InodeFlags.SECRM |
  InodeFlags.UNRM |
  InodeFlags.COMPR |
  InodeFlags.SYNC |
  InodeFlags.NODUMP |
  InodeFlags.NOATIME |
  InodeFlags.NOCOMPR |
  InodeFlags.JOURNAL_DATA |
  InodeFlags.NOTAIL |
  InodeFlags.DIRSYNC |
  InodeFlags.PROJINHERIT |
  InodeFlags.CASEFOLD |
  InodeFlags.DAX;

/** rename(2) flags. */
export const RENAME = { NOREPLACE: 1, EXCHANGE: 2, WHITEOUT: 4 } as const;

/** Owner and mode of a new inode. */
export interface NodeOptions {
  /** Permission bits (07777); the file type comes from the operation. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Applied when the directory has no default ACL, as posix_acl_create does (default 0). */
  readonly umask?: number;
  /** The caller may use the root-reserved blocks (root, s_def_resuid/resgid). */
  readonly reserved?: boolean;
}

/** ext4_mask_flags: directory-only flags are dropped for files, all but NODUMP/NOATIME for others. */
function maskFlags(mode: number, flags: number): number {
  const t = mode & S_IFMT;
  if (t === S_IFDIR) return flags;
  if (t === S_IFREG) {
    return (
      (flags &
        ~(
          InodeFlags.DIRSYNC |
          InodeFlags.TOPDIR |
          InodeFlags.CASEFOLD |
          InodeFlags.PROJINHERIT
        )) >>>
      0
    );
  }
  return (flags & (InodeFlags.NODUMP | InodeFlags.NOATIME)) >>> 0;
}

/** EXT4_FT_* of a mode. */
export function fileTypeOfMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return DirFileType.RegularFile;
    case S_IFDIR:
      return DirFileType.Directory;
    case S_IFCHR:
      return DirFileType.CharDevice;
    case S_IFBLK:
      return DirFileType.BlockDevice;
    case S_IFIFO:
      return DirFileType.Fifo;
    case S_IFSOCK:
      return DirFileType.Socket;
    case S_IFLNK:
      return DirFileType.Symlink;
    default:
      return DirFileType.Unknown;
  }
}

/** The namespace context: the engine and the directory host (the Filesystem). */
export interface Ns {
  readonly e: WriteEngine;
  readonly host: DirWriteHost;
}

const isDots = (n: Uint8Array): boolean =>
  n.length > 0 && n.length <= 2 && n.every((c) => c === 0x2e);

/** is_dx: the directory has an htree index the filesystem honours. */
function isDx(e: WriteEngine, flags: number): boolean {
  return e.geo.features.has("dir_index") && (flags & InodeFlags.INDEX) !== 0;
}

/** EXT4_DIR_LINK_MAX: the directory cannot take another subdirectory. */
function dirLinkMax(e: WriteEngine, dir: { linksCount: number; flags: number }): boolean {
  return (
    dir.linksCount >= EXT4_LINK_MAX && !(e.geo.features.has("dir_nlink") && isDx(e, dir.flags))
  );
}

/** ext4_inc_count: an indexed directory past the limit (or at 2 after overflowing) keeps 1. */
function incCount(e: WriteEngine, w: WorkInode): void {
  w.f.linksCount++;
  if (isDx(e, w.f.flags) && (w.f.linksCount > EXT4_LINK_MAX || w.f.linksCount === 2)) {
    w.f.linksCount = 1;
  }
}

/** ext4_dec_count: a directory never goes below 2 (and an overflowed one stays at 1). */
function decCount(w: WorkInode): void {
  if (!w.isDir() || w.f.linksCount > 2) w.f.linksCount--;
}

/** A directory to change: a live directory that is not immutable. */
function dirForChange(ns: Ns, ino: number, deleting: boolean): Inode {
  const d = ns.e.host.readInode(ino);
  const ctx = { inode: ino };
  if (!d.isDirectory()) throw fsError("NotADirectory", "NOT_A_DIRECTORY", "not a directory", ctx);
  if (d.linksCount === 0)
    throw fsError("NotFound", "DIR_DELETED", "the directory was removed", ctx);
  if ((d.flags & InodeFlags.IMMUTABLE) !== 0) {
    throw fsError("Permission", "IMMUTABLE", "the directory is immutable", ctx);
  }
  if (deleting && (d.flags & InodeFlags.APPEND) !== 0) {
    throw fsError("Permission", "APPEND_ONLY", "entries of an append-only directory stay", ctx);
  }
  return d;
}

/** Refuses changes to an immutable or append-only inode (may_delete, vfs_link). */
function checkMutable(inode: Inode): void {
  if ((inode.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) !== 0) {
    throw fsError("Permission", "IMMUTABLE", "the inode is immutable or append-only", {
      inode: inode.ino,
    });
  }
}

function checkNewName(n: Uint8Array, dir: Inode): void {
  if (n.length > 255) {
    throw fsError("NameTooLong", "NAME_TOO_LONG", `name of ${n.length} bytes`, { inode: dir.ino });
  }
  if (isDots(n)) throw fsError("Exists", "EXISTS", "name exists", { inode: dir.ino });
}

/** The default ACL of a directory, or null. */
function defaultAcl(ns: Ns, dir: Inode): AclEntry[] | null {
  const v = ns.e.host.readInode(dir.ino);
  const x = v.inodeXattrs().find((a) => a.nameIndex === 3 && a.nameBytes.length === 0);
  let value = x?.value ?? null;
  if (value === null && v.fileAcl !== 0) {
    const blk = ns.e.host.readXattrBlock(v);
    value = blk?.entries.find((a) => a.nameIndex === 3 && a.nameBytes.length === 0)?.value ?? null;
  }
  return value === null ? null : decodeExt4Acl(value, { inode: dir.ino });
}

/** How a new inode's type-specific parts are set up before it is first written. */
type Init = (w: WorkInode, policy: SpacePolicy) => void;

/**
 * Creates an inode of `mode` (type and permissions) named `name` in
 * `parentIno` (ext4_new_inode + ext4_add_nondir / ext4_mkdir): allocated
 * near the parent (Orlov for directories), owner and setgid-directory
 * group, timestamps now, i_generation random, i_extra_isize, inherited
 * flags and project id, default ACL inheritance, an empty extent tree for
 * files, directories and slow symlinks, inline directories with
 * inline_data. With `name` null (ext4_tmpfile, regular files only) the
 * inode gets no name and no link: it is held open (one acquire) and put on
 * the orphan list, and link() may give it a name once. On any failure
 * after allocation the inode is deleted again.
 */
function createInode(
  ns: Ns,
  parentIno: number,
  name: Uint8Array | string | null,
  mode: number,
  opts: NodeOptions,
  init: Init,
): Inode {
  const { e, host } = ns;
  const policy: SpacePolicy = { reserved: opts.reserved === true };
  const parent = dirForChange(ns, parentIno, false);
  const n = name === null ? null : nameBytes(name);
  if (n !== null) {
    checkNewName(n, parent);
    if (n.length === 0) throw fsError("NotFound", "EMPTY_NAME", "empty name", { inode: parentIno });
    if (lookup(host, parent, n) !== null)
      throw fsError("Exists", "EXISTS", "name exists", { inode: parentIno });
  }
  const type = mode & S_IFMT;
  const isDir = type === S_IFDIR;
  if (isDir && dirLinkMax(e, parent)) {
    throw fsError("TooManyLinks", "TOO_MANY_LINKS", "the directory has too many subdirectories", {
      inode: parentIno,
    });
  }
  let perm = mode & 0o7777;
  let gid = opts.gid;
  if ((parent.mode & 0o2000) !== 0) {
    gid = parent.gid;
    if (isDir) perm |= 0o2000;
  }
  const inherited = inheritAcl(defaultAcl(ns, parent), perm, isDir, opts.umask ?? 0);
  perm = inherited.mode & 0o7777;
  const ino = e.alloc.allocInode(parentIno, isDir, parent.flags);
  const w = e.freshInode(ino, type | perm);
  let created = false;
  try {
    const now = e.now();
    w.f.uid = opts.uid >>> 0;
    w.f.gid = gid >>> 0;
    w.f.atime = now;
    w.f.mtime = now;
    w.f.ctime = now;
    if (w.f.crtime !== null) w.f.crtime = now;
    w.f.linksCount = isDir ? 2 : n === null ? 0 : 1;
    w.f.flags = maskFlags(type, parent.flags & EXT4_FL_INHERITED);
    if ((parent.flags & InodeFlags.PROJINHERIT) !== 0) w.f.projid = parent.fields.projid;
    if ((isDir || type === S_IFREG || type === S_IFLNK) && e.geo.features.has("extent")) {
      w.f.flags = (w.f.flags | InodeFlags.EXTENTS) >>> 0;
      e.initExtentRoot(w);
    }
    const acls: XattrItem[] = [];
    if (inherited.access !== null)
      acls.push({ index: 2, name: new Uint8Array(0), value: encodeExt4Acl(inherited.access) });
    if (inherited.default !== null)
      acls.push({ index: 3, name: new Uint8Array(0), value: encodeExt4Acl(inherited.default) });
    if (acls.length > 0 && !writeIbody(e, w, acls)) writeXattrBlock(e, w, acls, policy);
    if (
      isDir &&
      e.geo.features.has("inline_data") &&
      ibodyFits(e, w, [
        ...ibodyItems(e.inodeOf(w)),
        { index: 7, name: new Uint8Array(4), value: new Uint8Array(0) },
      ])
    ) {
      makeInline(e, w);
    }
    e.store(w);
    created = true;
    init(w, policy);
    let inode = e.store(w);
    if (n === null) {
      // O_TMPFILE: open, nameless, on the orphan list until linked or closed.
      e.openCounts.set(ino, e.openCount(ino) + 1);
      orphanAdd(e, w);
      e.store(w);
      e.linkable.add(ino);
      return e.host.readInode(ino);
    }
    if (isDir) inode = initDirectory(host, inode, parentIno) as Inode;
    addEntry(host, parent, n, ino, fileTypeOfMode(type));
    if (isDir) {
      const p = e.load(parentIno);
      incCount(e, p);
      e.store(p);
    }
    if (type === S_IFREG && e.geo.features.has("inline_data") && !w.hasInline())
      e.mayInline.add(ino);
    return e.host.readInode(ino);
  } catch (err) {
    if (created) deleteInode(e, e.load(ino));
    else {
      // Nothing was written but the bitmaps: release what the setup took.
      if (w.f.fileAcl !== 0) e.alloc.freeBlocks(w.f.fileAcl, 1, { inode: ino });
      e.alloc.freeInode(ino, isDir);
    }
    throw err;
  }
}

/**
 * open(O_TMPFILE): a nameless regular file held open (release it when
 * done; the last release deletes it unless link() named it meanwhile).
 * Throws as {@link createInode} describes.
 */
export function createTmpfile(ns: Ns, parent: number, opts: NodeOptions): Inode {
  return createInode(ns, parent, null, S_IFREG | (opts.mode & 0o7777), opts, () => {});
}

/** Creates a regular file (open O_CREAT / mknod S_IFREG). Throws as {@link createInode} describes. */
export function createFile(
  ns: Ns,
  parent: number,
  name: Uint8Array | string,
  opts: NodeOptions,
): Inode {
  return createInode(ns, parent, name, S_IFREG | (opts.mode & 0o7777), opts, () => {});
}

/** Creates a directory with "." and "..", the parent gaining a link (ext4_mkdir). */
export function mkdir(ns: Ns, parent: number, name: Uint8Array | string, opts: NodeOptions): Inode {
  return createInode(ns, parent, name, S_IFDIR | (opts.mode & 0o7777), opts, () => {});
}

/**
 * Creates a device node, fifo or socket (ext4_mknod); S_IFREG (or no type)
 * makes a regular file. Character and block devices store their number in
 * i_block the way ext4 does: the old 16-bit encoding in i_block[0] when
 * major and minor are below 256, else the new one in i_block[1]. Throws
 * InvalidArgument for directories, symlinks or bad device numbers.
 */
export function mknod(
  ns: Ns,
  parent: number,
  name: Uint8Array | string,
  mode: number,
  rdev: { major: number; minor: number } | null,
  opts: NodeOptions,
): Inode {
  const type = (mode & S_IFMT) === 0 ? S_IFREG : mode & S_IFMT;
  if (type === S_IFREG) return createFile(ns, parent, name, { ...opts, mode });
  if (type !== S_IFCHR && type !== S_IFBLK && type !== S_IFIFO && type !== S_IFSOCK) {
    throw fsError("InvalidArgument", "MKNOD_TYPE", `mknod of type 0${type.toString(8)}`, {
      inode: parent,
    });
  }
  return createInode(ns, parent, name, type | (mode & 0o7777), opts, (w) => {
    if (type !== S_IFCHR && type !== S_IFBLK) return;
    const major = rdev?.major ?? 0;
    const minor = rdev?.minor ?? 0;
    if (
      !(
        Number.isInteger(major) &&
        Number.isInteger(minor) &&
        major >= 0 &&
        minor >= 0 &&
        major < 4096 &&
        minor < 2 ** 20
      )
    ) {
      throw fsError("InvalidArgument", "BAD_RDEV", `device ${major}:${minor}`, { inode: parent });
    }
    const b = new Uint8Array(60);
    const v = new DataView(b.buffer);
    if (major < 256 && minor < 256) v.setUint32(0, (major << 8) | minor, true);
    else v.setUint32(4, ((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0, true);
    w.f.iBlock = b;
  });
}

/**
 * Creates a symlink to `target` (ext4_symlink): a fast symlink in i_block
 * when shorter than 60 bytes (no extents flag), else a block holding the
 * target and a NUL. Throws NotFound (empty target), NameTooLong (a target
 * of a block or more), InvalidArgument (NUL inside), NoSpace.
 */
export function symlink(
  ns: Ns,
  parent: number,
  name: Uint8Array | string,
  target: Uint8Array | string,
  opts: Omit<NodeOptions, "mode">,
): Inode {
  const t = nameBytes(target);
  const ctx = { inode: parent };
  if (t.length === 0) throw fsError("NotFound", "EMPTY_SYMLINK", "empty symlink target", ctx);
  if (t.length + 1 > ns.e.blockSize)
    throw fsError("NameTooLong", "SYMLINK_TOO_LONG", `target of ${t.length} bytes`, ctx);
  if (t.includes(0))
    throw fsError("InvalidArgument", "SYMLINK_NUL", "NUL in a symlink target", ctx);
  return createInode(ns, parent, name, S_IFLNK | 0o777, { ...opts, mode: 0o777 }, (w, policy) => {
    if (t.length < 60) {
      w.f.flags = (w.f.flags & ~InodeFlags.EXTENTS) >>> 0;
      const b = new Uint8Array(60);
      b.set(t);
      w.f.iBlock = b;
    } else {
      const data = new Uint8Array(t.length + 1);
      data.set(t);
      fillNewBlocks(ns.e, w, 0, data, policy);
    }
    w.f.size = t.length;
  });
}

/**
 * Adds the name `newName` in `newParent` for inode `ino` (ext4_link).
 * Throws Permission (a directory; immutable or append-only), TooManyLinks
 * (65000), NotFound (an inode whose last link is gone), Exists,
 * NameTooLong, NotADirectory, NoSpace.
 */
export function link(ns: Ns, ino: number, newParent: number, newName: Uint8Array | string): Inode {
  const { e, host } = ns;
  const inode = e.host.readInode(ino);
  const ctx = { inode: ino };
  if (inode.isDirectory())
    throw fsError("Permission", "LINK_DIR", "hard links to directories are not allowed", ctx);
  checkMutable(inode);
  // ext4_link: an inode without links can be linked only if it came from O_TMPFILE (I_LINKABLE).
  if (inode.linksCount === 0 && !e.linkable.has(ino))
    throw fsError("NotFound", "LINK_DELETED", "the inode has no links left", ctx);
  if (inode.linksCount >= EXT4_LINK_MAX)
    throw fsError("TooManyLinks", "TOO_MANY_LINKS", "too many links", ctx);
  const parent = dirForChange(ns, newParent, false);
  const n = nameBytes(newName);
  checkNewName(n, parent);
  if (n.length === 0) throw fsError("NotFound", "EMPTY_NAME", "empty name", { inode: newParent });
  if (lookup(host, parent, n) !== null)
    throw fsError("Exists", "EXISTS", "name exists", { inode: newParent });
  addEntry(host, parent, n, ino, fileTypeOfMode(inode.mode));
  const w = e.load(ino);
  if (w.f.linksCount === 0) {
    orphanRemove(e, w);
    e.linkable.delete(ino);
  }
  w.f.linksCount++;
  w.f.ctime = e.now();
  return e.store(w);
}

/** Drops one link of a non-directory, deleting it (or orphaning it while open) at zero. */
function dropLink(e: WriteEngine, ino: number): void {
  const w = e.load(ino);
  if (w.isDir()) w.f.linksCount = 0;
  else w.f.linksCount = Math.max(0, w.f.linksCount - 1);
  w.f.ctime = e.now();
  finishDrop(e, w);
}

function finishDrop(e: WriteEngine, w: WorkInode): void {
  if (w.f.linksCount > 0) {
    e.store(w);
    return;
  }
  if (e.openCount(w.ino) > 0) {
    orphanAdd(e, w);
    e.store(w);
  } else {
    deleteInode(e, w);
  }
}

/**
 * Removes the name `name` of a non-directory (ext4_unlink); the inode is
 * deleted when that was its last link and nobody holds it open, else it
 * goes on the orphan list until its last release. Throws NotFound,
 * IsADirectory, Permission (immutable / append-only directory or inode),
 * NotADirectory, Corrupt.
 */
export function unlink(ns: Ns, parent: number, name: Uint8Array | string): void {
  const { e, host } = ns;
  const n = nameBytes(name);
  if (isDots(n))
    throw fsError("IsADirectory", "IS_A_DIRECTORY", "cannot unlink . or ..", { inode: parent });
  const dir = dirForChange(ns, parent, true);
  const found = lookupEntry(host, dir, n);
  if (found === null) throw fsError("NotFound", "NOT_FOUND", "no such entry", { inode: parent });
  const ino = found.ino;
  const target = e.host.readInode(ino);
  if (target.isDirectory())
    throw fsError("IsADirectory", "IS_A_DIRECTORY", "is a directory", { inode: ino });
  checkMutable(target);
  removeEntry(host, dir, n, found);
  dropLink(e, ino);
}

/**
 * Removes an empty directory (ext4_rmdir): its entry goes, it loses every
 * link and its size, the parent loses the link of its "..". Throws
 * InvalidArgument ("."), NotEmpty (".." or entries left), NotADirectory,
 * NotFound, Permission, Corrupt.
 */
export function rmdir(ns: Ns, parent: number, name: Uint8Array | string): void {
  const { e, host } = ns;
  const n = nameBytes(name);
  if (n.length === 1 && n[0] === 0x2e)
    throw fsError("InvalidArgument", "RMDIR_DOT", "cannot remove .", { inode: parent });
  if (isDots(n)) throw fsError("NotEmpty", "RMDIR_DOTDOT", "cannot remove ..", { inode: parent });
  const dir = dirForChange(ns, parent, true);
  const found = lookupEntry(host, dir, n);
  if (found === null) throw fsError("NotFound", "NOT_FOUND", "no such entry", { inode: parent });
  const ino = found.ino;
  const target = e.host.readInode(ino);
  if (!target.isDirectory())
    throw fsError("NotADirectory", "NOT_A_DIRECTORY", "not a directory", { inode: ino });
  checkMutable(target);
  if (!isEmptyDirectory(host, target))
    throw fsError("NotEmpty", "NOT_EMPTY", "directory not empty", { inode: ino });
  removeEntry(host, dir, n, found);
  const p = e.load(parent);
  decCount(p);
  e.store(p);
  const w = e.load(ino);
  w.f.linksCount = 0;
  w.f.size = 0;
  w.f.ctime = e.now();
  finishDrop(e, w);
}

/** True when directory `ancestor` is `dir` or lies on its ".." chain up to the root (bounded). */
function isAncestor(ns: Ns, ancestor: number, dir: number): boolean {
  let cur = dir;
  for (let n = 0; n <= ns.e.geo.inodesCount; n++) {
    if (cur === ancestor) return true;
    if (cur === EXT4_ROOT_INO) return false;
    const parent = lookup(ns.host, ns.e.host.readInode(cur), "..");
    if (parent === null || parent === cur) return false;
    cur = parent;
  }
  return false;
}

/**
 * rename(2) / renameat2(2): moves `oldName` of `oldParent` to `newName` of
 * `newParent`, replacing a file or an empty directory there, or with
 * RENAME_NOREPLACE refusing to, or with RENAME_EXCHANGE swapping the two.
 * A directory moved to another parent gets its ".." rewritten and the link
 * counts of both parents follow; a replaced inode loses its link (deleted,
 * or orphaned while open). Renaming a name onto another name of the same
 * inode does nothing. Throws NotFound, Exists (NOREPLACE), NotADirectory /
 * IsADirectory (type mismatch), NotEmpty, InvalidArgument (a directory
 * into its own subtree, "." or "..", bad flags), NotSupported (WHITEOUT),
 * TooManyLinks, Permission, NameTooLong, NoSpace, Corrupt.
 */
export function rename(
  ns: Ns,
  oldParent: number,
  oldName: Uint8Array | string,
  newParent: number,
  newName: Uint8Array | string,
  flags = 0,
): void {
  const { e, host } = ns;
  if ((flags & RENAME.WHITEOUT) !== 0)
    throw fsError("NotSupported", "RENAME_WHITEOUT", "RENAME_WHITEOUT");
  if (
    (flags & ~(RENAME.NOREPLACE | RENAME.EXCHANGE)) !== 0 ||
    flags === (RENAME.NOREPLACE | RENAME.EXCHANGE)
  ) {
    throw fsError("InvalidArgument", "RENAME_FLAGS", `rename flags 0x${flags.toString(16)}`);
  }
  const exchange = (flags & RENAME.EXCHANGE) !== 0;
  const on = nameBytes(oldName);
  const nn = nameBytes(newName);
  if (isDots(on) || isDots(nn))
    throw fsError("InvalidArgument", "RENAME_DOTS", "cannot rename . or ..");
  if (nn.length > 255) throw fsError("NameTooLong", "NAME_TOO_LONG", `name of ${nn.length} bytes`);
  const op = dirForChange(ns, oldParent, true);
  const np = dirForChange(ns, newParent, false);
  const srcFound = lookupEntry(host, op, on);
  if (srcFound === null)
    throw fsError("NotFound", "NOT_FOUND", "no such entry", { inode: oldParent });
  const src = srcFound.ino;
  if (nn.length === 0) throw fsError("NotFound", "EMPTY_NAME", "empty name", { inode: newParent });
  const dst = lookup(host, np, nn);
  if (dst !== null && (flags & RENAME.NOREPLACE) !== 0)
    throw fsError("Exists", "EXISTS", "target exists", { inode: newParent });
  if (exchange && dst === null)
    throw fsError("NotFound", "NOT_FOUND", "no entry to exchange with", { inode: newParent });
  const s = e.host.readInode(src);
  const d = dst === null ? null : e.host.readInode(dst);
  const sDir = s.isDirectory();
  const dDir = d?.isDirectory() ?? false;
  const moving = oldParent !== newParent;
  // do_renameat2's trap checks come before vfs_rename's same-inode shortcut.
  if (sDir && isAncestor(ns, src, newParent)) {
    throw fsError("InvalidArgument", "RENAME_INTO_SELF", "a directory cannot move into itself", {
      inode: src,
    });
  }
  if (dDir && dst !== null && dst !== src && isAncestor(ns, dst, oldParent)) {
    if (exchange) {
      throw fsError("InvalidArgument", "RENAME_INTO_SELF", "a directory cannot move into itself", {
        inode: dst,
      });
    }
    throw fsError("NotEmpty", "NOT_EMPTY", "the target is an ancestor of the source", {
      inode: dst,
    });
  }
  if (src === dst) return;
  checkMutable(s);
  if (d !== null) {
    checkMutable(d);
    if ((np.flags & InodeFlags.APPEND) !== 0)
      throw fsError("Permission", "APPEND_ONLY", "append-only directory", { inode: newParent });
  }
  if (!exchange && d !== null) {
    if (sDir && !dDir)
      throw fsError("NotADirectory", "NOT_A_DIRECTORY", "target is not a directory", {
        inode: dst ?? 0,
      });
    if (!sDir && dDir)
      throw fsError("IsADirectory", "IS_A_DIRECTORY", "target is a directory", { inode: dst ?? 0 });
  }
  if (!exchange && dDir && d !== null && !isEmptyDirectory(host, d)) {
    throw fsError("NotEmpty", "NOT_EMPTY", "target directory not empty", { inode: d.ino });
  }
  const now = e.now();
  if (exchange && d !== null) {
    if (moving && sDir && !dDir && dirLinkMax(e, np))
      throw fsError("TooManyLinks", "TOO_MANY_LINKS", "too many subdirectories", {
        inode: newParent,
      });
    if (moving && dDir && !sDir && dirLinkMax(e, op))
      throw fsError("TooManyLinks", "TOO_MANY_LINKS", "too many subdirectories", {
        inode: oldParent,
      });
    replaceEntry(host, op, on, d.ino, fileTypeOfMode(d.mode));
    replaceEntry(host, e.host.readInode(newParent), nn, s.ino, fileTypeOfMode(s.mode));
    if (moving) {
      if (sDir) setDotDot(host, e.host.readInode(s.ino), newParent);
      if (dDir) setDotDot(host, e.host.readInode(d.ino), oldParent);
      if (sDir !== dDir) {
        const gain = e.load(sDir ? newParent : oldParent);
        incCount(e, gain);
        e.store(gain);
        const lose = e.load(sDir ? oldParent : newParent);
        decCount(lose);
        e.store(lose);
      }
    }
    for (const ino of [s.ino, d.ino]) {
      const w = e.load(ino);
      w.f.ctime = now;
      e.store(w);
    }
    return;
  }
  if (sDir && moving && d === null && dirLinkMax(e, np)) {
    throw fsError("TooManyLinks", "TOO_MANY_LINKS", "too many subdirectories", {
      inode: newParent,
    });
  }
  if (d === null) addEntry(host, np, nn, s.ino, fileTypeOfMode(s.mode));
  else replaceEntry(host, np, nn, s.ino, fileTypeOfMode(s.mode));
  removeEntry(host, e.host.readInode(oldParent), on, srcFound);
  const sw = e.load(s.ino);
  sw.f.ctime = now;
  e.store(sw);
  if (sDir) {
    if (moving) setDotDot(host, e.host.readInode(s.ino), newParent);
    const opw = e.load(oldParent);
    decCount(opw);
    e.store(opw);
    if (d === null) {
      const npw = e.load(newParent);
      incCount(e, npw);
      e.store(npw);
    }
  }
  if (d !== null) dropLink(e, d.ino);
}
