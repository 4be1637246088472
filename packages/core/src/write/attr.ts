/**
 * Inode attributes: setattr (mode, owner, size, times with UTIME_NOW /
 * UTIME_OMIT semantics), the inode flags of FS_IOC_SETFLAGS with the
 * kernel's immutable rules, and extended attributes by name — set (with
 * XATTR_CREATE / XATTR_REPLACE), remove, read and list — including POSIX
 * ACLs, which the VFS hands over in its xattr form and ext4 stores in its
 * own.
 */
import { Ext4Error, fsError } from "../errors.js";
import {
  decodeExt4Acl,
  decodePosixAclXattr,
  encodeExt4Acl,
  encodePosixAclXattr,
} from "../format/acl.js";
import { InodeFlags, type Timestamp } from "../format/inode.js";
import { splitXattrName } from "../format/xattr.js";
import type { Inode } from "../inode.js";
import { checkAcl } from "./acl-inherit.js";
import type { SpacePolicy, WorkInode, WriteEngine } from "./engine.js";
import { setSize } from "./file.js";
import {
  blockItems,
  ibodyItems,
  sameName,
  writeIbody,
  writeXattrBlock,
  type XattrItem,
} from "./xattr.js";

/** What setattr may change. An absent field is left alone (UTIME_OMIT for times). */
export interface SetAttr {
  /** Permission bits (07777); the file type never changes. */
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  /** New size (truncate): regular files only. */
  readonly size?: number;
  /** A time, or "now" (UTIME_NOW). */
  readonly atime?: Timestamp | "now";
  readonly mtime?: Timestamp | "now";
  /** An explicit ctime (FUSE's FATTR_CTIME); otherwise ctime becomes now when anything changes. */
  readonly ctime?: Timestamp;
  /** The caller may use root-reserved blocks (a truncate moving inline data out). */
  readonly reserved?: boolean;
}

const ctxOf = (w: WorkInode): { inode: number } => ({ inode: w.ino });

/**
 * Changes inode attributes as notify_change and ext4_setattr do: an
 * immutable inode refuses every change, an append-only one refuses mode,
 * owner, explicit times and size (setting both times to now is allowed);
 * a size change truncates (regular files only); ctime becomes now (or the
 * explicit ctime). Throws Permission (IMMUTABLE, APPEND_ONLY),
 * IsADirectory / InvalidArgument (size of a non-regular file), FileTooBig,
 * NoSpace, Corrupt.
 */
export function setattr(e: WriteEngine, ino: number, a: SetAttr): Inode {
  const w = e.load(ino);
  const ctx = ctxOf(w);
  const explicitTimes =
    (a.atime !== undefined && a.atime !== "now") || (a.mtime !== undefined && a.mtime !== "now");
  const anything =
    a.mode !== undefined ||
    a.uid !== undefined ||
    a.gid !== undefined ||
    a.size !== undefined ||
    a.atime !== undefined ||
    a.mtime !== undefined ||
    a.ctime !== undefined;
  if ((w.f.flags & InodeFlags.IMMUTABLE) !== 0 && anything) {
    throw fsError("Permission", "IMMUTABLE", "the inode is immutable", ctx);
  }
  if (
    (w.f.flags & InodeFlags.APPEND) !== 0 &&
    (a.mode !== undefined ||
      a.uid !== undefined ||
      a.gid !== undefined ||
      a.size !== undefined ||
      explicitTimes)
  ) {
    throw fsError("Permission", "APPEND_ONLY", "the inode is append-only", ctx);
  }
  const now = e.now();
  if (a.size !== undefined) {
    if (w.isDir()) throw fsError("IsADirectory", "IS_A_DIRECTORY", "is a directory", ctx);
    if (!w.isReg()) throw fsError("InvalidArgument", "NOT_REGULAR", "not a regular file", ctx);
    setSize(e, w, a.size, { reserved: a.reserved === true });
    // ext4_setattr / ext4_truncate: a size change (even to the same size) stamps mtime and ctime.
    w.f.mtime = now;
    w.f.ctime = now;
  }
  if (a.mode !== undefined) w.f.mode = (w.f.mode & 0o170000) | (a.mode & 0o7777);
  if (a.uid !== undefined) w.f.uid = a.uid >>> 0;
  if (a.gid !== undefined) w.f.gid = a.gid >>> 0;
  if (a.atime !== undefined) w.f.atime = a.atime === "now" ? now : a.atime;
  if (a.mtime !== undefined) w.f.mtime = a.mtime === "now" ? now : a.mtime;
  if (anything) w.f.ctime = a.ctime ?? now;
  return e.store(w);
}

/** EXT4_FL_USER_MODIFIABLE: the flags FS_IOC_SETFLAGS may change. */
export const EXT4_FL_USER_MODIFIABLE = 0x604bc0ff;

/**
 * FS_IOC_SETFLAGS (ext4_ioctl_setflags): only user-modifiable bits change.
 * An inode that is immutable and stays so refuses any other change
 * (ext4_ioctl_check_immutable). EXT4_EXTENTS_FL is kept as it is (the
 * kernel would migrate the block map; that is not supported), and
 * casefolding cannot be switched. The capability checks (setting
 * IMMUTABLE or APPEND needs CAP_LINUX_IMMUTABLE) are the caller's. Throws
 * Permission, NotSupported.
 */
export function setFlags(e: WriteEngine, ino: number, flags: number): Inode {
  const w = e.load(ino);
  const ctx = ctxOf(w);
  const old = w.f.flags;
  // EXT4_EXTENTS_FL is user-modifiable in the kernel only to ask for a
  // migration, which is not supported: the block map format is kept.
  const mask = (EXT4_FL_USER_MODIFIABLE & ~InodeFlags.EXTENTS) >>> 0;
  const next = ((flags & mask) | (old & ~mask)) >>> 0;
  if ((old & InodeFlags.IMMUTABLE) !== 0 && (next & InodeFlags.IMMUTABLE) !== 0) {
    if ((old & ~InodeFlags.IMMUTABLE) !== (next & ~InodeFlags.IMMUTABLE)) {
      throw fsError("Permission", "IMMUTABLE", "an immutable inode's flags cannot change", ctx);
    }
  }
  if (((old ^ next) & InodeFlags.CASEFOLD) !== 0) {
    throw fsError("NotSupported", "FLAGS_CASEFOLD", "casefolding is not supported", ctx);
  }
  if (
    ((old ^ next) & (InodeFlags.PROJINHERIT | InodeFlags.DIRSYNC | InodeFlags.TOPDIR)) !== 0 &&
    !w.isDir()
  ) {
    // ext4_mask_flags: directory-only flags do not stick to other inodes.
    const mask = InodeFlags.PROJINHERIT | InodeFlags.DIRSYNC | InodeFlags.TOPDIR;
    w.f.flags = ((next & ~mask) | (old & mask)) >>> 0;
  } else {
    w.f.flags = next;
  }
  w.f.ctime = e.now();
  return e.store(w);
}

/** setxattr(2) flags. */
export const XATTR = { CREATE: 1, REPLACE: 2 } as const;
/** XATTR_SIZE_MAX: the VFS refuses larger values with E2BIG. */
export const XATTR_SIZE_MAX = 65536;
/** XATTR_NAME_MAX: the longest name suffix (ERANGE beyond, as ext4_xattr_set_handle). */
export const XATTR_NAME_MAX = 255;

const ACL_ACCESS = "system.posix_acl_access";
const ACL_DEFAULT = "system.posix_acl_default";

/** A name resolved to its stored form. */
interface Resolved {
  readonly index: number;
  readonly name: Uint8Array;
  readonly acl: boolean;
}

/**
 * Resolves a full name to index and suffix the way the kernel's handlers
 * accept them: user., trusted., security., and the two POSIX ACL names.
 * Throws NotSupported (other system.* names, unknown prefixes),
 * InvalidArgument (empty suffix), Range (a suffix over 255 bytes).
 */
function resolve(name: string, ino: number): Resolved {
  const ctx = { inode: ino };
  if (name === ACL_ACCESS) return { index: 2, name: new Uint8Array(0), acl: true };
  if (name === ACL_DEFAULT) return { index: 3, name: new Uint8Array(0), acl: true };
  const { index, suffix } = splitXattrName(name);
  if (index !== 1 && index !== 4 && index !== 6) {
    throw fsError("NotSupported", "XATTR_NAMESPACE", `unsupported attribute ${name}`, ctx);
  }
  const bytes = new TextEncoder().encode(suffix);
  if (bytes.length === 0)
    throw fsError("InvalidArgument", "XATTR_EMPTY_NAME", `empty name ${name}`, ctx);
  if (bytes.length > XATTR_NAME_MAX)
    throw fsError("Range", "XATTR_NAME_TOO_LONG", `name of ${bytes.length} bytes`, ctx);
  return { index, name: bytes, acl: false };
}

/** Converts a VFS-form ACL to ext4's form, validating it. Throws InvalidArgument. */
function aclToDisk(value: Uint8Array, ino: number): Uint8Array {
  let entries: ReturnType<typeof decodePosixAclXattr>;
  try {
    entries = decodePosixAclXattr(value, { inode: ino });
  } catch (e) {
    if (e instanceof Ext4Error)
      throw fsError("InvalidArgument", "ACL_INVALID", e.message, { inode: ino });
    throw e;
  }
  checkAcl(entries);
  return encodeExt4Acl(entries);
}

/**
 * setxattr(2) / removexattr(2) (`value` null) on inode `ino`, as
 * ext4_xattr_set_handle: the inode body is tried first, the shared block
 * when the body has no room (the entry then leaves the body, and vice
 * versa); a shared block is copied first. ACL names take the VFS form and
 * are stored in ext4's form. Throws Exists (XATTR_CREATE), NoData
 * (XATTR_REPLACE or removing a missing name), NoSpace (fits nowhere),
 * TooBig (over 64 KiB), Range (name too long), NotSupported (namespace),
 * InvalidArgument (bad ACL; a default ACL on a non-directory), Permission
 * (immutable or append-only inode; user.* on a symlink or device), Corrupt.
 */
export function setXattr(
  e: WriteEngine,
  ino: number,
  name: string,
  value: Uint8Array | null,
  flags: number,
  policy: SpacePolicy,
): Inode {
  const w = e.load(ino);
  const ctx = ctxOf(w);
  const r = resolve(name, ino);
  if ((w.f.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) !== 0) {
    throw fsError("Permission", "IMMUTABLE", "the inode is immutable or append-only", ctx);
  }
  if (r.index === 1 && !w.isReg() && !w.isDir()) {
    throw fsError(
      "Permission",
      "XATTR_USER_TYPE",
      "user attributes only on files and directories",
      ctx,
    );
  }
  if (r.acl && w.isLink())
    throw fsError("NotSupported", "ACL_SYMLINK", "symlinks have no ACLs", ctx);
  if (r.index === 3 && !w.isDir() && value !== null) {
    throw fsError(
      "InvalidArgument",
      "ACL_DEFAULT_NOT_DIR",
      "default ACLs are for directories",
      ctx,
    );
  }
  if (value !== null && value.length > XATTR_SIZE_MAX) {
    throw fsError("TooBig", "XATTR_TOO_BIG", `value of ${value.length} bytes`, ctx);
  }
  const stored = value === null ? null : r.acl ? aclToDisk(value, ino) : value;
  const inode = e.inodeOf(w);
  const body = ibodyItems(inode);
  const { items: block } = blockItems(e, inode);
  const inBody = body.some((it) => sameName(it, r));
  const inBlock = block.some((it) => sameName(it, r));
  if ((flags & XATTR.CREATE) !== 0 && (inBody || inBlock)) {
    throw fsError("Exists", "XATTR_EXISTS", `${name} exists`, ctx);
  }
  if ((flags & XATTR.REPLACE) !== 0 && !inBody && !inBlock) {
    throw fsError("NoData", "XATTR_NOT_FOUND", `no attribute ${name}`, ctx);
  }
  const without = (list: readonly XattrItem[]): XattrItem[] =>
    list.filter((it) => !sameName(it, r));
  if (stored === null) {
    if (!inBody && !inBlock)
      throw fsError("NoData", "XATTR_NOT_FOUND", `no attribute ${name}`, ctx);
    if (inBody) writeIbody(e, w, without(body));
    if (inBlock) writeXattrBlock(e, w, without(block), policy);
  } else {
    const item: XattrItem = { index: r.index, name: r.name, value: stored };
    const bodyNext = inBody ? body.map((it) => (sameName(it, r) ? item : it)) : [...body, item];
    if (writeIbody(e, w, bodyNext)) {
      if (inBlock) writeXattrBlock(e, w, without(block), policy);
    } else {
      const blockNext = inBlock
        ? block.map((it) => (sameName(it, r) ? item : it))
        : [...block, item];
      writeXattrBlock(e, w, blockNext, policy);
      if (inBody) writeIbody(e, w, without(body));
    }
  }
  w.f.ctime = e.now();
  return e.store(w);
}

/**
 * The value of attribute `name` as getxattr(2) returns it (ACLs in the VFS
 * form). With `maxSize`, a longer value throws Range (ERANGE), as a
 * too-small buffer does. Throws NoData (absent; user.* on a symlink or
 * device), NotSupported (namespace), Corrupt.
 */
export function readXattr(
  inode: Inode,
  name: string,
  entries: ReadonlyArray<{ nameIndex: number; name: string; value: Uint8Array }>,
  maxSize?: number,
): Uint8Array {
  const r = resolve(name, inode.ino);
  const ctx = { inode: inode.ino };
  if (r.index === 1 && !inode.isRegular() && !inode.isDirectory()) {
    throw fsError("NoData", "XATTR_NOT_FOUND", `no attribute ${name}`, ctx);
  }
  const found = entries.find((x) => x.name === name && x.nameIndex === r.index);
  if (found === undefined) throw fsError("NoData", "XATTR_NOT_FOUND", `no attribute ${name}`, ctx);
  const value = r.acl ? encodePosixAclXattr(decodeExt4Acl(found.value, ctx)) : found.value;
  if (maxSize !== undefined && value.length > maxSize) {
    throw fsError("Range", "XATTR_BUFFER_TOO_SMALL", `value of ${value.length} bytes`, ctx);
  }
  return value;
}

/**
 * The names listxattr(2) shows: user., trusted., security. and the ACL
 * names (system.data and other internal attributes are hidden, as ext4's
 * handler table hides them).
 */
export function listXattrNames(
  entries: ReadonlyArray<{ nameIndex: number; name: string }>,
): string[] {
  return entries
    .filter((x) => x.nameIndex >= 1 && x.nameIndex <= 6 && x.nameIndex !== 5)
    .map((x) => x.name);
}
