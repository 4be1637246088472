/**
 * The kernel FUSE ABI, protocol 7.45 (include/uapi/linux/fuse.h of Linux
 * 6.18): constants and every structure a filesystem server reads or writes,
 * declared once as tables (see struct.ts). Names are the kernel's.
 */
import { struct } from "./struct.js";

/** `FUSE_KERNEL_VERSION`. */
export const FUSE_KERNEL_VERSION = 7;
/** `FUSE_KERNEL_MINOR_VERSION` this package speaks. */
export const FUSE_KERNEL_MINOR_VERSION = 45;
/** `FUSE_ROOT_ID`: the node id of the mount's root. */
export const FUSE_ROOT_ID = 1;
/** `FUSE_MIN_READ_BUFFER`: the kernel refuses smaller read buffers. */
export const FUSE_MIN_READ_BUFFER = 8192;

/** `enum fuse_opcode`. */
export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
} as const;

/** An opcode name. */
export type OpName = keyof typeof Opcode;

/** `enum fuse_notify_code`. */
export const NotifyCode = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8,
  PRUNE: 9,
} as const;

/**
 * INIT flags as one 64-bit word (`flags | flags2 << 32`; bits 32..63 travel
 * in `flags2`, which the kernel reads only when FUSE_INIT_EXT is set).
 */
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n,
  PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n,
  HAS_RESEND: 1n << 39n,
  ALLOW_IDMAP: 1n << 40n,
  OVER_IO_URING: 1n << 41n,
  REQUEST_TIMEOUT: 1n << 42n,
} as const;

/** `fuse_setattr_in.valid` bits. */
export const FATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;

/** `fuse_open_out.open_flags` bits. */
export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

/** `fuse_release_in.release_flags`: flush before release. */
export const FUSE_RELEASE_FLUSH = 1 << 0;
/** `fuse_release_in.release_flags`: drop flock locks too. */
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
/** `fuse_getattr_in.getattr_flags`: `fh` is valid. */
export const FUSE_GETATTR_FH = 1 << 0;
/** `fuse_lk_in.lk_flags`: a flock(2) lock, not POSIX. */
export const FUSE_LK_FLOCK = 1 << 0;
/** `fuse_write_in.write_flags`: delayed write from the page cache. */
export const FUSE_WRITE_CACHE = 1 << 0;
/** `fuse_write_in.write_flags`: `lock_owner` is valid. */
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
/** `fuse_write_in.write_flags`: clear suid/sgid (HANDLE_KILLPRIV_V2). */
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
/** `fuse_read_in.read_flags`: `lock_owner` is valid. */
export const FUSE_READ_LOCKOWNER = 1 << 1;
/** `fuse_ioctl_in.flags`: 32-bit compat ioctl. */
export const FUSE_IOCTL_COMPAT = 1 << 0;
/** `fuse_ioctl_in.flags`: not restricted to well-formed ioctls. */
export const FUSE_IOCTL_UNRESTRICTED = 1 << 1;
/** `fuse_ioctl_out.flags`: retry with new iovecs. */
export const FUSE_IOCTL_RETRY = 1 << 2;
/** `fuse_ioctl_in.flags`: 32-bit ioctl. */
export const FUSE_IOCTL_32BIT = 1 << 3;
/** `fuse_ioctl_in.flags`: on a directory. */
export const FUSE_IOCTL_DIR = 1 << 4;
/** `fuse_ioctl_in.flags`: x32 compat ioctl. */
export const FUSE_IOCTL_COMPAT_X32 = 1 << 5;
/** Maximum in + out iovecs of an IOCTL retry. */
export const FUSE_IOCTL_MAX_IOV = 256;
/** `fuse_poll_in.flags`: the kernel wants a NOTIFY_POLL. */
export const FUSE_POLL_SCHEDULE_NOTIFY = 1 << 0;
/** `fuse_fsync_in.fsync_flags`: data only. */
export const FUSE_FSYNC_FDATASYNC = 1 << 0;
/** `fuse_attr.flags`: the node is a submount root. */
export const FUSE_ATTR_SUBMOUNT = 1 << 0;
/** `fuse_attr.flags`: DAX for this file. */
export const FUSE_ATTR_DAX = 1 << 1;
/** `fuse_open_in.open_flags`: clear suid/sgid on O_TRUNC. */
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;
/** `fuse_setxattr_in.setxattr_flags`: clear sgid when setting the access ACL. */
export const FUSE_SETXATTR_ACL_KILL_SGID = 1 << 0;
/** `fuse_notify_inval_entry_out.flags`: expire the dentry, do not drop it. */
export const FUSE_EXPIRE_ONLY = 1 << 0;
/** Extension types 0..31 are security contexts (the value is their count). */
export const FUSE_MAX_NR_SECCTX = 31;
/** Extension type of the supplementary groups (`struct fuse_supp_groups`). */
export const FUSE_EXT_GROUPS = 32;
/** `FUSE_COMPAT_SETXATTR_IN_SIZE`: setxattr_in without FUSE_SETXATTR_EXT. */
export const FUSE_COMPAT_SETXATTR_IN_SIZE = 8;

/** `struct fuse_in_header` (fuse.h): header of every request the kernel sends. */
export const fuse_in_header = struct("fuse_in_header", [
  ["len", "u32", "total request length, header included"],
  ["opcode", "u32", "enum fuse_opcode"],
  ["unique", "u64", "request id, echoed in the reply"],
  ["nodeid", "u64", "node the request is about"],
  ["uid", "u32", "caller's fsuid"],
  ["gid", "u32", "caller's fsgid"],
  ["pid", "u32", "caller's tgid"],
  ["total_extlen", "u16", "length of extensions in 8-byte units"],
  ["padding", "u16", ""],
] as const);

/** `struct fuse_out_header` (fuse.h): header of every reply and notification. */
export const fuse_out_header = struct("fuse_out_header", [
  ["len", "u32", "total reply length, header included"],
  ["error", "i32", "0 or a negative errno (a notify code for notifications)"],
  ["unique", "u64", "the request's id (0 for notifications)"],
] as const);

/** `struct fuse_attr` (fuse.h): file attributes inside entry/attr replies. */
export const fuse_attr = struct("fuse_attr", [
  ["ino", "u64", "inode number shown to stat(2)"],
  ["size", "u64", ""],
  ["blocks", "u64", "512-byte blocks"],
  ["atime", "i64", "seconds"],
  ["mtime", "i64", ""],
  ["ctime", "i64", ""],
  ["atimensec", "u32", ""],
  ["mtimensec", "u32", ""],
  ["ctimensec", "u32", ""],
  ["mode", "u32", "type and permission bits"],
  ["nlink", "u32", ""],
  ["uid", "u32", ""],
  ["gid", "u32", ""],
  ["rdev", "u32", ""],
  ["blksize", "u32", "preferred I/O size"],
  ["flags", "u32", "FUSE_ATTR_*"],
] as const);

/** `struct fuse_entry_out` (fuse.h): reply to LOOKUP and the create-like requests, without its trailing fuse_attr. */
export const fuse_entry_out_head = struct("fuse_entry_out", [
  ["nodeid", "u64", "node id; 0 = negative entry"],
  ["generation", "u64", "nodeid:generation is unique for the fs's lifetime"],
  ["entry_valid", "u64", "name cache timeout, seconds"],
  ["attr_valid", "u64", "attribute cache timeout, seconds"],
  ["entry_valid_nsec", "u32", ""],
  ["attr_valid_nsec", "u32", ""],
] as const);
/** `sizeof(struct fuse_entry_out)`: the head plus a fuse_attr. */
export const FUSE_ENTRY_OUT_SIZE = fuse_entry_out_head.size + fuse_attr.size;

/** `struct fuse_forget_in` (fuse.h): FORGET argument. */
export const fuse_forget_in = struct("fuse_forget_in", [
  ["nlookup", "u64", "lookups to drop"],
] as const);
/** `struct fuse_forget_one` (fuse.h): one entry of a BATCH_FORGET. */
export const fuse_forget_one = struct("fuse_forget_one", [
  ["nodeid", "u64", ""],
  ["nlookup", "u64", ""],
] as const);
/** `struct fuse_batch_forget_in` (fuse.h): BATCH_FORGET header. */
export const fuse_batch_forget_in = struct("fuse_batch_forget_in", [
  ["count", "u32", "fuse_forget_one entries that follow"],
  ["dummy", "u32", ""],
] as const);

/** `struct fuse_getattr_in` (fuse.h): GETATTR argument. */
export const fuse_getattr_in = struct("fuse_getattr_in", [
  ["getattr_flags", "u32", "FUSE_GETATTR_FH"],
  ["dummy", "u32", ""],
  ["fh", "u64", "valid with FUSE_GETATTR_FH"],
] as const);

/** `struct fuse_attr_out` (fuse.h): reply to GETATTR/SETATTR, without its trailing fuse_attr. */
export const fuse_attr_out_head = struct("fuse_attr_out", [
  ["attr_valid", "u64", "attribute cache timeout, seconds"],
  ["attr_valid_nsec", "u32", ""],
  ["dummy", "u32", ""],
] as const);
/** `sizeof(struct fuse_attr_out)`. */
export const FUSE_ATTR_OUT_SIZE = fuse_attr_out_head.size + fuse_attr.size;

/** `struct fuse_sx_time` (fuse.h): a statx timestamp. */
export const fuse_sx_time = struct("fuse_sx_time", [
  ["tv_sec", "i64", ""],
  ["tv_nsec", "u32", ""],
  ["__reserved", "i32", ""],
] as const);

/** `struct fuse_statx` without the four fuse_sx_time members and the tail. */
export const fuse_statx_head = struct("fuse_statx", [
  ["mask", "u32", "STATX_* fields filled"],
  ["blksize", "u32", ""],
  ["attributes", "x64", "STATX_ATTR_*"],
  ["nlink", "u32", ""],
  ["uid", "u32", ""],
  ["gid", "u32", ""],
  ["mode", "u16", ""],
  ["__spare0", "u16", ""],
  ["ino", "u64", ""],
  ["size", "u64", ""],
  ["blocks", "u64", ""],
  ["attributes_mask", "x64", ""],
] as const);
/** fuse_statx: head (64) + atime, btime, ctime, mtime (16 each) + devices (16) + __spare2[14]. */
export const FUSE_STATX_SIZE = fuse_statx_head.size + 4 * fuse_sx_time.size + 16 + 14 * 8;
/** `struct fuse_statx devices` (fuse.h): device numbers of struct fuse_statx (after the four timestamps). */
export const fuse_statx_devs = struct("fuse_statx devices", [
  ["rdev_major", "u32", ""],
  ["rdev_minor", "u32", ""],
  ["dev_major", "u32", ""],
  ["dev_minor", "u32", ""],
] as const);

/** `struct fuse_statx_in` (fuse.h): STATX argument. */
export const fuse_statx_in = struct("fuse_statx_in", [
  ["getattr_flags", "u32", "FUSE_GETATTR_FH"],
  ["reserved", "u32", ""],
  ["fh", "u64", ""],
  ["sx_flags", "u32", "AT_STATX_* sync flags"],
  ["sx_mask", "u32", "STATX_* wanted"],
] as const);

/** `struct fuse_statx_out` (fuse.h): reply to STATX, without its trailing fuse_statx. */
export const fuse_statx_out_head = struct("fuse_statx_out", [
  ["attr_valid", "u64", ""],
  ["attr_valid_nsec", "u32", ""],
  ["flags", "u32", ""],
  ["spare0", "u64", ""],
  ["spare1", "u64", ""],
] as const);
/** `sizeof(struct fuse_statx_out)`. */
export const FUSE_STATX_OUT_SIZE = fuse_statx_out_head.size + FUSE_STATX_SIZE;

/** `struct fuse_mknod_in` (fuse.h): MKNOD argument (followed by the name). */
export const fuse_mknod_in = struct("fuse_mknod_in", [
  ["mode", "u32", ""],
  ["rdev", "u32", ""],
  ["umask", "u32", ""],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_mkdir_in` (fuse.h): MKDIR argument (followed by the name). */
export const fuse_mkdir_in = struct("fuse_mkdir_in", [
  ["mode", "u32", ""],
  ["umask", "u32", ""],
] as const);

/** `struct fuse_rename_in` (fuse.h): RENAME argument (followed by old and new name). */
export const fuse_rename_in = struct("fuse_rename_in", [
  ["newdir", "u64", "node id of the target directory"],
] as const);

/** `struct fuse_rename2_in` (fuse.h): RENAME2 argument (followed by old and new name). */
export const fuse_rename2_in = struct("fuse_rename2_in", [
  ["newdir", "u64", ""],
  ["flags", "u32", "RENAME_NOREPLACE / EXCHANGE / WHITEOUT"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_link_in` (fuse.h): LINK argument (followed by the new name). */
export const fuse_link_in = struct("fuse_link_in", [
  ["oldnodeid", "u64", "node being linked"],
] as const);

/** `struct fuse_setattr_in` (fuse.h): SETATTR argument. */
export const fuse_setattr_in = struct("fuse_setattr_in", [
  ["valid", "u32", "FATTR_* bits saying which fields are set"],
  ["padding", "u32", ""],
  ["fh", "u64", ""],
  ["size", "u64", ""],
  ["lock_owner", "x64", ""],
  ["atime", "i64", ""],
  ["mtime", "i64", ""],
  ["ctime", "i64", ""],
  ["atimensec", "u32", ""],
  ["mtimensec", "u32", ""],
  ["ctimensec", "u32", ""],
  ["mode", "u32", ""],
  ["unused4", "u32", ""],
  ["uid", "u32", ""],
  ["gid", "u32", ""],
  ["unused5", "u32", ""],
] as const);

/** `struct fuse_open_in` (fuse.h): OPEN/OPENDIR argument. */
export const fuse_open_in = struct("fuse_open_in", [
  ["flags", "u32", "open(2) flags"],
  ["open_flags", "u32", "FUSE_OPEN_*"],
] as const);

/** `struct fuse_create_in` (fuse.h): CREATE/TMPFILE argument (followed by the name). */
export const fuse_create_in = struct("fuse_create_in", [
  ["flags", "u32", "open(2) flags"],
  ["mode", "u32", ""],
  ["umask", "u32", ""],
  ["open_flags", "u32", "FUSE_OPEN_*"],
] as const);

/** `struct fuse_open_out` (fuse.h): reply to OPEN/OPENDIR (and second half of CREATE). */
export const fuse_open_out = struct("fuse_open_out", [
  ["fh", "u64", "file handle echoed in later requests"],
  ["open_flags", "u32", "FOPEN_*"],
  ["backing_id", "i32", "passthrough backing file id"],
] as const);

/** `struct fuse_release_in` (fuse.h): RELEASE/RELEASEDIR argument. */
export const fuse_release_in = struct("fuse_release_in", [
  ["fh", "u64", ""],
  ["flags", "u32", ""],
  ["release_flags", "u32", "FUSE_RELEASE_*"],
  ["lock_owner", "x64", ""],
] as const);

/** `struct fuse_flush_in` (fuse.h): FLUSH argument. */
export const fuse_flush_in = struct("fuse_flush_in", [
  ["fh", "u64", ""],
  ["unused", "u32", ""],
  ["padding", "u32", ""],
  ["lock_owner", "x64", ""],
] as const);

/** `struct fuse_read_in` (fuse.h): READ/READDIR/READDIRPLUS argument. */
export const fuse_read_in = struct("fuse_read_in", [
  ["fh", "u64", ""],
  ["offset", "u64", ""],
  ["size", "u32", "bytes wanted"],
  ["read_flags", "u32", "FUSE_READ_*"],
  ["lock_owner", "x64", ""],
  ["flags", "u32", "open(2) flags"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_write_in` (fuse.h): WRITE argument (followed by the data). */
export const fuse_write_in = struct("fuse_write_in", [
  ["fh", "u64", ""],
  ["offset", "u64", ""],
  ["size", "u32", "bytes of data following"],
  ["write_flags", "u32", "FUSE_WRITE_*"],
  ["lock_owner", "x64", ""],
  ["flags", "u32", "open(2) flags"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_write_out` (fuse.h): reply to WRITE and COPY_FILE_RANGE. */
export const fuse_write_out = struct("fuse_write_out", [
  ["size", "u32", "bytes written"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_kstatfs` (fuse.h): reply to STATFS (struct fuse_statfs_out). */
export const fuse_kstatfs = struct("fuse_kstatfs", [
  ["blocks", "u64", ""],
  ["bfree", "u64", ""],
  ["bavail", "u64", ""],
  ["files", "u64", ""],
  ["ffree", "u64", ""],
  ["bsize", "u32", ""],
  ["namelen", "u32", ""],
  ["frsize", "u32", ""],
  ["padding", "u32", ""],
  ["spare0", "u32", ""],
  ["spare1", "u32", ""],
  ["spare2", "u32", ""],
  ["spare3", "u32", ""],
  ["spare4", "u32", ""],
  ["spare5", "u32", ""],
] as const);

/** `struct fuse_fsync_in` (fuse.h): FSYNC/FSYNCDIR argument. */
export const fuse_fsync_in = struct("fuse_fsync_in", [
  ["fh", "u64", ""],
  ["fsync_flags", "u32", "FUSE_FSYNC_FDATASYNC"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_setxattr_in` (fuse.h): SETXATTR argument with FUSE_SETXATTR_EXT (followed by name and value). */
export const fuse_setxattr_in = struct("fuse_setxattr_in", [
  ["size", "u32", "value length"],
  ["flags", "u32", "XATTR_CREATE / XATTR_REPLACE"],
  ["setxattr_flags", "u32", "FUSE_SETXATTR_* (only with FUSE_SETXATTR_EXT)"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_getxattr_in` (fuse.h): GETXATTR/LISTXATTR argument. */
export const fuse_getxattr_in = struct("fuse_getxattr_in", [
  ["size", "u32", "buffer size; 0 asks for the size"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_getxattr_out` (fuse.h): size-only reply to GETXATTR/LISTXATTR. */
export const fuse_getxattr_out = struct("fuse_getxattr_out", [
  ["size", "u32", "value size"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_file_lock` (fuse.h): a POSIX lock range (GETLK/SETLK/SETLKW, and the GETLK reply). */
export const fuse_file_lock = struct("fuse_file_lock", [
  ["start", "x64", ""],
  ["end", "x64", "OFFSET_MAX for to-end-of-file"],
  ["type", "u32", "F_RDLCK / F_WRLCK / F_UNLCK"],
  ["pid", "u32", "tgid"],
] as const);

/** `struct fuse_lk_in` (fuse.h): leading fields of struct fuse_lk_in (before its fuse_file_lock). */
export const fuse_lk_in_head = struct("fuse_lk_in", [
  ["fh", "u64", ""],
  ["owner", "x64", ""],
] as const);
/** `struct fuse_lk_in tail` (fuse.h): trailing fields of struct fuse_lk_in (after its fuse_file_lock). */
export const fuse_lk_in_tail = struct("fuse_lk_in tail", [
  ["lk_flags", "u32", "FUSE_LK_FLOCK"],
  ["padding", "u32", ""],
] as const);
/** `sizeof(struct fuse_lk_in)`. */
export const FUSE_LK_IN_SIZE = fuse_lk_in_head.size + fuse_file_lock.size + fuse_lk_in_tail.size;

/** `struct fuse_access_in` (fuse.h): ACCESS argument. */
export const fuse_access_in = struct("fuse_access_in", [
  ["mask", "u32", "R_OK / W_OK / X_OK"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_init_in` (fuse.h): INIT argument (7.36+ layout; older kernels send the first 16 bytes). */
export const fuse_init_in = struct("fuse_init_in", [
  ["major", "u32", ""],
  ["minor", "u32", ""],
  ["max_readahead", "u32", ""],
  ["flags", "u32", "INIT flags, bits 0..31"],
  ["flags2", "u32", "INIT flags, bits 32..63 (with FUSE_INIT_EXT)"],
  ["unused0", "u32", ""],
  ["unused1", "u32", ""],
  ["unused2", "u32", ""],
  ["unused3", "u32", ""],
  ["unused4", "u32", ""],
  ["unused5", "u32", ""],
  ["unused6", "u32", ""],
  ["unused7", "u32", ""],
  ["unused8", "u32", ""],
  ["unused9", "u32", ""],
  ["unused10", "u32", ""],
] as const);
/** The pre-7.36 init_in: major, minor, max_readahead, flags. */
export const FUSE_COMPAT_INIT_IN_SIZE = 16;

/** `struct fuse_init_out` (fuse.h): reply to INIT. */
export const fuse_init_out = struct("fuse_init_out", [
  ["major", "u32", ""],
  ["minor", "u32", ""],
  ["max_readahead", "u32", ""],
  ["flags", "u32", ""],
  ["max_background", "u16", ""],
  ["congestion_threshold", "u16", ""],
  ["max_write", "u32", ""],
  ["time_gran", "u32", "timestamp granularity in ns"],
  ["max_pages", "u16", "with FUSE_MAX_PAGES"],
  ["map_alignment", "u16", ""],
  ["flags2", "u32", ""],
  ["max_stack_depth", "u32", ""],
  ["request_timeout", "u16", "seconds, with FUSE_REQUEST_TIMEOUT"],
  ["unused0", "u16", ""],
  ["unused1", "u16", ""],
  ["unused2", "u16", ""],
  ["unused3", "u16", ""],
  ["unused4", "u16", ""],
  ["unused5", "u16", ""],
  ["unused6", "u16", ""],
  ["unused7", "u16", ""],
  ["unused8", "u16", ""],
  ["unused9", "u16", ""],
  ["unused10", "u16", ""],
] as const);

/** `struct fuse_interrupt_in` (fuse.h): INTERRUPT argument. */
export const fuse_interrupt_in = struct("fuse_interrupt_in", [
  ["unique", "u64", "request to interrupt"],
] as const);

/** `struct fuse_bmap_in` (fuse.h): BMAP argument. */
export const fuse_bmap_in = struct("fuse_bmap_in", [
  ["block", "u64", ""],
  ["blocksize", "u32", ""],
  ["padding", "u32", ""],
] as const);
/** `struct fuse_bmap_out` (fuse.h): reply to BMAP. */
export const fuse_bmap_out = struct("fuse_bmap_out", [["block", "u64", ""]] as const);

/** `struct fuse_ioctl_in` (fuse.h): IOCTL argument (followed by in_size bytes of input). */
export const fuse_ioctl_in = struct("fuse_ioctl_in", [
  ["fh", "u64", ""],
  ["flags", "u32", "FUSE_IOCTL_*"],
  ["cmd", "u32", ""],
  ["arg", "x64", ""],
  ["in_size", "u32", ""],
  ["out_size", "u32", ""],
] as const);
/** `struct fuse_ioctl_out` (fuse.h): reply to IOCTL (followed by output data). */
export const fuse_ioctl_out = struct("fuse_ioctl_out", [
  ["result", "i32", ""],
  ["flags", "u32", ""],
  ["in_iovs", "u32", ""],
  ["out_iovs", "u32", ""],
] as const);

/** `struct fuse_poll_in` (fuse.h): POLL argument. */
export const fuse_poll_in = struct("fuse_poll_in", [
  ["fh", "u64", ""],
  ["kh", "x64", "kernel handle for NOTIFY_POLL"],
  ["flags", "u32", "FUSE_POLL_*"],
  ["events", "u32", ""],
] as const);
/** `struct fuse_poll_out` (fuse.h): reply to POLL. */
export const fuse_poll_out = struct("fuse_poll_out", [
  ["revents", "u32", ""],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_fallocate_in` (fuse.h): FALLOCATE argument. */
export const fuse_fallocate_in = struct("fuse_fallocate_in", [
  ["fh", "u64", ""],
  ["offset", "u64", ""],
  ["length", "u64", ""],
  ["mode", "u32", "FALLOC_FL_*"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_lseek_in` (fuse.h): LSEEK argument. */
export const fuse_lseek_in = struct("fuse_lseek_in", [
  ["fh", "u64", ""],
  ["offset", "u64", ""],
  ["whence", "u32", "SEEK_DATA / SEEK_HOLE"],
  ["padding", "u32", ""],
] as const);
/** `struct fuse_lseek_out` (fuse.h): reply to LSEEK. */
export const fuse_lseek_out = struct("fuse_lseek_out", [["offset", "u64", ""]] as const);

/** `struct fuse_copy_file_range_in` (fuse.h): COPY_FILE_RANGE/COPY_FILE_RANGE_64 argument. */
export const fuse_copy_file_range_in = struct("fuse_copy_file_range_in", [
  ["fh_in", "u64", ""],
  ["off_in", "u64", ""],
  ["nodeid_out", "u64", ""],
  ["fh_out", "u64", ""],
  ["off_out", "u64", ""],
  ["len", "u64c", ""],
  ["flags", "x64", ""],
] as const);
/** `struct fuse_copy_file_range_out` (fuse.h): reply to COPY_FILE_RANGE_64. */
export const fuse_copy_file_range_out = struct("fuse_copy_file_range_out", [
  ["bytes_copied", "u64", ""],
] as const);

/** `struct fuse_setupmapping_in` (fuse.h): SETUPMAPPING argument (DAX). */
export const fuse_setupmapping_in = struct("fuse_setupmapping_in", [
  ["fh", "u64", ""],
  ["foffset", "u64", ""],
  ["len", "u64", ""],
  ["flags", "x64", ""],
  ["moffset", "u64", ""],
] as const);
/** `struct fuse_removemapping_in` (fuse.h): REMOVEMAPPING header (DAX). */
export const fuse_removemapping_in = struct("fuse_removemapping_in", [
  ["count", "u32", "fuse_removemapping_one entries that follow"],
] as const);
/** `struct fuse_removemapping_one` (fuse.h): one entry of a REMOVEMAPPING. */
export const fuse_removemapping_one = struct("fuse_removemapping_one", [
  ["moffset", "u64", ""],
  ["len", "u64", ""],
] as const);

/** `struct fuse_syncfs_in` (fuse.h): SYNCFS argument. */
export const fuse_syncfs_in = struct("fuse_syncfs_in", [["padding", "u64", ""]] as const);

/** `struct fuse_notify_retrieve_in` (fuse.h): NOTIFY_REPLY argument (followed by the data). */
export const fuse_notify_retrieve_in = struct("fuse_notify_retrieve_in", [
  ["dummy1", "u64", ""],
  ["offset", "u64", ""],
  ["size", "u32", ""],
  ["dummy2", "u32", ""],
  ["dummy3", "u64", ""],
  ["dummy4", "u64", ""],
] as const);

/** `struct fuse_dirent` (fuse.h): one READDIR record (followed by the name, padded to 8 bytes). */
export const fuse_dirent = struct("fuse_dirent", [
  ["ino", "u64", ""],
  ["off", "u64", "cookie of the next entry"],
  ["namelen", "u32", ""],
  ["type", "u32", "DT_* (mode >> 12)"],
] as const);

/** `struct fuse_ext_header` (fuse.h): header of one request extension. */
export const fuse_ext_header = struct("fuse_ext_header", [
  ["size", "u32", "total size of this extension, header included"],
  ["type", "u32", "0..31 security contexts (nr_secctx), 32 FUSE_EXT_GROUPS"],
] as const);

/** `struct fuse_secctx` (fuse.h): one security context inside a security-context extension. */
export const fuse_secctx = struct("fuse_secctx", [
  ["size", "u32", "context length"],
  ["padding", "u32", ""],
] as const);

/** `struct fuse_notify_inval_inode_out` (fuse.h): NOTIFY_INVAL_INODE payload. */
export const fuse_notify_inval_inode_out = struct("fuse_notify_inval_inode_out", [
  ["ino", "u64", ""],
  ["off", "i64", ""],
  ["len", "i64", ""],
] as const);

/** `struct fuse_notify_inval_entry_out` (fuse.h): NOTIFY_INVAL_ENTRY payload (followed by the name and a NUL). */
export const fuse_notify_inval_entry_out = struct("fuse_notify_inval_entry_out", [
  ["parent", "u64", ""],
  ["namelen", "u32", ""],
  ["flags", "u32", "FUSE_EXPIRE_ONLY"],
] as const);

/** `struct fuse_notify_delete_out` (fuse.h): NOTIFY_DELETE payload (followed by the name and a NUL). */
export const fuse_notify_delete_out = struct("fuse_notify_delete_out", [
  ["parent", "u64", ""],
  ["child", "u64", ""],
  ["namelen", "u32", ""],
  ["padding", "u32", ""],
] as const);

/** Sizes of the kernel structures, for the size test (sizeof in fuse.h). */
export const KERNEL_SIZES: Readonly<Record<string, number>> = {
  fuse_in_header: 40,
  fuse_out_header: 16,
  fuse_attr: 88,
  fuse_entry_out: 128,
  fuse_attr_out: 104,
  fuse_statx: 256,
  fuse_statx_in: 24,
  fuse_statx_out: 288,
  fuse_forget_in: 8,
  fuse_forget_one: 16,
  fuse_batch_forget_in: 8,
  fuse_getattr_in: 16,
  fuse_mknod_in: 16,
  fuse_mkdir_in: 8,
  fuse_rename_in: 8,
  fuse_rename2_in: 16,
  fuse_link_in: 8,
  fuse_setattr_in: 88,
  fuse_open_in: 8,
  fuse_create_in: 16,
  fuse_open_out: 16,
  fuse_release_in: 24,
  fuse_flush_in: 24,
  fuse_read_in: 40,
  fuse_write_in: 40,
  fuse_write_out: 8,
  fuse_kstatfs: 80,
  fuse_fsync_in: 16,
  fuse_setxattr_in: 16,
  fuse_getxattr_in: 8,
  fuse_getxattr_out: 8,
  fuse_file_lock: 24,
  fuse_lk_in: 48,
  fuse_access_in: 8,
  fuse_init_in: 64,
  fuse_init_out: 64,
  fuse_interrupt_in: 8,
  fuse_bmap_in: 16,
  fuse_bmap_out: 8,
  fuse_ioctl_in: 32,
  fuse_ioctl_out: 16,
  fuse_poll_in: 24,
  fuse_poll_out: 8,
  fuse_fallocate_in: 32,
  fuse_lseek_in: 24,
  fuse_lseek_out: 8,
  fuse_copy_file_range_in: 56,
  fuse_copy_file_range_out: 8,
  fuse_setupmapping_in: 40,
  fuse_removemapping_in: 4,
  fuse_removemapping_one: 16,
  fuse_syncfs_in: 8,
  fuse_notify_retrieve_in: 40,
  fuse_dirent: 24,
  fuse_ext_header: 8,
  fuse_secctx: 8,
  fuse_sx_time: 16,
  fuse_notify_inval_inode_out: 24,
  fuse_notify_inval_entry_out: 16,
  fuse_notify_delete_out: 24,
};

/** The sizes this file computes, keyed like {@link KERNEL_SIZES}. */
export const COMPUTED_SIZES: Readonly<Record<string, number>> = {
  fuse_in_header: fuse_in_header.size,
  fuse_out_header: fuse_out_header.size,
  fuse_attr: fuse_attr.size,
  fuse_entry_out: FUSE_ENTRY_OUT_SIZE,
  fuse_attr_out: FUSE_ATTR_OUT_SIZE,
  fuse_statx: FUSE_STATX_SIZE,
  fuse_statx_in: fuse_statx_in.size,
  fuse_statx_out: FUSE_STATX_OUT_SIZE,
  fuse_forget_in: fuse_forget_in.size,
  fuse_forget_one: fuse_forget_one.size,
  fuse_batch_forget_in: fuse_batch_forget_in.size,
  fuse_getattr_in: fuse_getattr_in.size,
  fuse_mknod_in: fuse_mknod_in.size,
  fuse_mkdir_in: fuse_mkdir_in.size,
  fuse_rename_in: fuse_rename_in.size,
  fuse_rename2_in: fuse_rename2_in.size,
  fuse_link_in: fuse_link_in.size,
  fuse_setattr_in: fuse_setattr_in.size,
  fuse_open_in: fuse_open_in.size,
  fuse_create_in: fuse_create_in.size,
  fuse_open_out: fuse_open_out.size,
  fuse_release_in: fuse_release_in.size,
  fuse_flush_in: fuse_flush_in.size,
  fuse_read_in: fuse_read_in.size,
  fuse_write_in: fuse_write_in.size,
  fuse_write_out: fuse_write_out.size,
  fuse_kstatfs: fuse_kstatfs.size,
  fuse_fsync_in: fuse_fsync_in.size,
  fuse_setxattr_in: fuse_setxattr_in.size,
  fuse_getxattr_in: fuse_getxattr_in.size,
  fuse_getxattr_out: fuse_getxattr_out.size,
  fuse_file_lock: fuse_file_lock.size,
  fuse_lk_in: FUSE_LK_IN_SIZE,
  fuse_access_in: fuse_access_in.size,
  fuse_init_in: fuse_init_in.size,
  fuse_init_out: fuse_init_out.size,
  fuse_interrupt_in: fuse_interrupt_in.size,
  fuse_bmap_in: fuse_bmap_in.size,
  fuse_bmap_out: fuse_bmap_out.size,
  fuse_ioctl_in: fuse_ioctl_in.size,
  fuse_ioctl_out: fuse_ioctl_out.size,
  fuse_poll_in: fuse_poll_in.size,
  fuse_poll_out: fuse_poll_out.size,
  fuse_fallocate_in: fuse_fallocate_in.size,
  fuse_lseek_in: fuse_lseek_in.size,
  fuse_lseek_out: fuse_lseek_out.size,
  fuse_copy_file_range_in: fuse_copy_file_range_in.size,
  fuse_copy_file_range_out: fuse_copy_file_range_out.size,
  fuse_setupmapping_in: fuse_setupmapping_in.size,
  fuse_removemapping_in: fuse_removemapping_in.size,
  fuse_removemapping_one: fuse_removemapping_one.size,
  fuse_syncfs_in: fuse_syncfs_in.size,
  fuse_notify_retrieve_in: fuse_notify_retrieve_in.size,
  fuse_dirent: fuse_dirent.size,
  fuse_ext_header: fuse_ext_header.size,
  fuse_secctx: fuse_secctx.size,
  fuse_sx_time: fuse_sx_time.size,
  fuse_notify_inval_inode_out: fuse_notify_inval_inode_out.size,
  fuse_notify_inval_entry_out: fuse_notify_inval_entry_out.size,
  fuse_notify_delete_out: fuse_notify_delete_out.size,
};
