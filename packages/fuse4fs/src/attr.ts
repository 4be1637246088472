/**
 * ext4 inodes as FUSE sees them: node ids (FUSE's root 1 is ext4's root 2),
 * `struct fuse_attr`, statx with birth time and inode attributes, directory
 * entry types, device numbers in the kernel's new_encode_dev form, and the
 * inode-flag words of FS_IOC_GETFLAGS / FS_IOC_FSGETXATTR.
 */
import { type Inode, InodeFlags, type Timestamp } from "@ext4/core";
import type { FuseAttr, StatxReply } from "@ext4/native-fuse";

/** FUSE_ROOT_ID. */
export const FUSE_ROOT = 1;
/** EXT4_ROOT_INO. */
export const EXT4_ROOT = 2;

/** The ext4 inode of a FUSE node id. */
export function inoOf(nodeid: number): number {
  return nodeid === FUSE_ROOT ? EXT4_ROOT : nodeid;
}

/** The FUSE node id of an ext4 inode. */
export function nodeOf(ino: number): number {
  return ino === EXT4_ROOT ? FUSE_ROOT : ino;
}

/**
 * Seconds as the FUSE attribute carries them. fuse_attr's times are u64 on
 * the wire (the kernel reads them as signed); times before 1970 cannot be
 * encoded here and show as the epoch.
 */
function sec(t: Timestamp): number {
  return Math.max(t.sec, 0);
}

/** The kernel's new_encode_dev: the 32-bit device number in fuse_attr.rdev. */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}

/** The kernel's new_decode_dev. */
export function decodeDev(dev: number): { major: number; minor: number } {
  return { major: (dev & 0xfff00) >>> 8, minor: ((dev & 0xff) | ((dev >>> 12) & 0xfff00)) >>> 0 };
}

/** `struct fuse_attr` of an inode. */
export function fuseAttr(inode: Inode, blockSize: number): FuseAttr {
  const f = inode.fields;
  const dev = inode.deviceNumber();
  return {
    ino: inode.ino,
    size: inode.size,
    blocks: inode.blocks512,
    atime: sec(f.atime),
    atimensec: f.atime.sec < 0 ? 0 : f.atime.nsec,
    mtime: sec(f.mtime),
    mtimensec: f.mtime.sec < 0 ? 0 : f.mtime.nsec,
    ctime: sec(f.ctime),
    ctimensec: f.ctime.sec < 0 ? 0 : f.ctime.nsec,
    mode: f.mode,
    nlink: f.linksCount,
    uid: f.uid,
    gid: f.gid,
    rdev: dev === null ? 0 : encodeDev(dev.major, dev.minor),
    blksize: blockSize,
  };
}

/** A negative or empty attribute (the entry of a name that does not exist). */
export const EMPTY_ATTR: FuseAttr = {
  ino: 0,
  size: 0,
  blocks: 0,
  atime: 0,
  mtime: 0,
  ctime: 0,
  mode: 0,
  nlink: 0,
  uid: 0,
  gid: 0,
};

/** statx(2) mask bits (include/uapi/linux/stat.h). */
export const STATX = {
  TYPE: 0x1,
  MODE: 0x2,
  NLINK: 0x4,
  UID: 0x8,
  GID: 0x10,
  ATIME: 0x20,
  MTIME: 0x40,
  CTIME: 0x80,
  INO: 0x100,
  SIZE: 0x200,
  BLOCKS: 0x400,
  BASIC_STATS: 0x7ff,
  BTIME: 0x800,
} as const;

/** statx attributes ext4 reports (ext4_getattr) and the inode flags behind them. */
const STATX_ATTRS: ReadonlyArray<[bigint, number]> = [
  [0x4n, InodeFlags.COMPR], // STATX_ATTR_COMPRESSED
  [0x10n, InodeFlags.IMMUTABLE], // STATX_ATTR_IMMUTABLE
  [0x20n, InodeFlags.APPEND], // STATX_ATTR_APPEND
  [0x40n, InodeFlags.NODUMP], // STATX_ATTR_NODUMP
  [0x800n, InodeFlags.ENCRYPT], // STATX_ATTR_ENCRYPTED
  [0x100000n, InodeFlags.VERITY], // STATX_ATTR_VERITY
  [0x200000n, InodeFlags.DAX], // STATX_ATTR_DAX
];

/** `struct fuse_statx_out` of an inode: the basic stats and, when the inode has room for it, the birth time. */
export function statxOf(inode: Inode, blockSize: number, attrValid: number): StatxReply {
  const a = fuseAttr(inode, blockSize);
  const dev = inode.deviceNumber();
  let attributes = 0n;
  let attributesMask = 0n;
  for (const [bit, fl] of STATX_ATTRS) {
    attributesMask |= bit;
    if ((inode.flags & fl) !== 0) attributes |= bit;
  }
  const crtime = inode.crtime;
  const stat: StatxReply["stat"] = {
    mask: STATX.BASIC_STATS | (crtime === null ? 0 : STATX.BTIME),
    blksize: blockSize,
    attributes,
    attributesMask,
    nlink: a.nlink,
    uid: a.uid,
    gid: a.gid,
    mode: a.mode,
    ino: a.ino,
    size: a.size,
    blocks: a.blocks,
    atime: { sec: a.atime, nsec: a.atimensec ?? 0 },
    mtime: { sec: a.mtime, nsec: a.mtimensec ?? 0 },
    ctime: { sec: a.ctime, nsec: a.ctimensec ?? 0 },
    rdevMajor: dev?.major ?? 0,
    rdevMinor: dev?.minor ?? 0,
  };
  if (crtime !== null) stat.btime = { sec: sec(crtime), nsec: crtime.sec < 0 ? 0 : crtime.nsec };
  return { attrValid, stat };
}

/** DT_* of a mode (the S_IFMT bits shifted down, as the kernel's S_DT). */
export function dtOfMode(mode: number): number {
  return (mode >>> 12) & 0xf;
}

/** DT_* of an EXT4_FT_* directory entry type (0 when unknown). */
export function dtOfFileType(ft: number): number {
  // EXT4_FT_REG_FILE..EXT4_FT_SYMLINK → DT_REG, DT_DIR, DT_CHR, DT_BLK, DT_FIFO, DT_SOCK, DT_LNK.
  return [0, 8, 4, 2, 6, 1, 12, 10][ft] ?? 0;
}

/** FS_IOC_GETFLAGS / SETFLAGS as the kernel encodes them (x86_64: a long argument, an int exchanged). */
export const FS_IOC = {
  GETFLAGS: 0x80086601,
  SETFLAGS: 0x40086602,
  FSGETXATTR: 0x801c581f,
  FIEMAP: 0xc020660b,
} as const;

/** EXT4_FL_USER_VISIBLE: the flags FS_IOC_GETFLAGS shows. */
export const EXT4_FL_USER_VISIBLE = 0x705bdfff;

/** struct fsxattr xflags of ext4 flags (ext4_iflags_to_xflags). */
export function xflagsOf(flags: number): number {
  let x = 0;
  if ((flags & InodeFlags.SYNC) !== 0) x |= 0x20;
  if ((flags & InodeFlags.IMMUTABLE) !== 0) x |= 0x8;
  if ((flags & InodeFlags.APPEND) !== 0) x |= 0x10;
  if ((flags & InodeFlags.NODUMP) !== 0) x |= 0x80;
  if ((flags & InodeFlags.NOATIME) !== 0) x |= 0x40;
  if ((flags & InodeFlags.PROJINHERIT) !== 0) x |= 0x200;
  if ((flags & InodeFlags.DAX) !== 0) x |= 0x8000;
  return x;
}
