/**
 * The on-disk inode (struct ext4_inode: 128 bytes, plus i_extra_isize bytes
 * of extra fields in larger inodes): the field table, the decoded
 * {@link InodeFields}, timestamps with nanoseconds and extra epoch bits, the
 * crc32c inode checksum, and mode/flag constants.
 */
import { crc32cRaw } from "../crc.js";
import { corrupt, type Ext4ErrorContext } from "../errors.js";
import { bytes, defineStruct, i32, type RawRecord, u16, u32 } from "../struct.js";
import { ByteView } from "../view.js";

/** struct ext4_inode with the Linux osd1/osd2 variants (fs/ext4/ext4.h). */
export const INODE = defineStruct("ext4_inode", [
  u16("i_mode", "file type and permissions"),
  u16("i_uid", "owner uid, low 16 bits"),
  u32("i_size_lo", "size in bytes, low 32 bits"),
  i32("i_atime", "access time (signed seconds)"),
  i32("i_ctime", "inode change time"),
  i32("i_mtime", "modification time"),
  u32("i_dtime", "deletion time; next orphan inode while on the orphan list"),
  u16("i_gid", "group id, low 16 bits"),
  u16("i_links_count", "hard link count"),
  u32("i_blocks_lo", "blocks (512-byte units, or fs blocks with HUGE_FILE_FL), low 32 bits"),
  u32("i_flags", "EXT4_*_FL inode flags"),
  u32("l_i_version", "inode version (osd1), low 32 bits"),
  bytes("i_block", 60, "block map, extent tree root, fast symlink or inline data"),
  u32("i_generation", "file version (NFS)"),
  u32("i_file_acl_lo", "extended attribute block, low 32 bits"),
  u32("i_size_high", "size in bytes, high 32 bits"),
  u32("i_obso_faddr", "obsolete fragment address"),
  u16("l_i_blocks_high", "i_blocks, high 16 bits (huge_file)"),
  u16("l_i_file_acl_high", "extended attribute block, high 16 bits"),
  u16("l_i_uid_high", "owner uid, high 16 bits"),
  u16("l_i_gid_high", "group id, high 16 bits"),
  u16("l_i_checksum_lo", "crc32c(uuid+inum+gen+inode), low 16 bits"),
  u16("l_i_reserved", "reserved"),
  u16("i_extra_isize", "bytes of extra fields past the first 128"),
  u16("i_checksum_hi", "inode checksum, high 16 bits"),
  u32("i_ctime_extra", "change time: nanoseconds << 2 | epoch bits"),
  u32("i_mtime_extra", "modification time: nanoseconds << 2 | epoch bits"),
  u32("i_atime_extra", "access time: nanoseconds << 2 | epoch bits"),
  i32("i_crtime", "creation time"),
  u32("i_crtime_extra", "creation time: nanoseconds << 2 | epoch bits"),
  u32("i_version_hi", "inode version, high 32 bits"),
  u32("i_projid", "project id"),
]);

/** Field names of {@link INODE}. */
export type InodeField = (typeof INODE.fields)[number]["name"];
/** The raw layer of an inode; extra fields past 128 + i_extra_isize are absent. */
export type RawInode = Partial<RawRecord<InodeField>>;

/** Size of the original (rev 0) inode. */
export const EXT4_GOOD_OLD_INODE_SIZE = 128;

/** i_mode file types. */
export const S_IFMT = 0o170000;
/** Socket. */
export const S_IFSOCK = 0o140000;
/** Symbolic link. */
export const S_IFLNK = 0o120000;
/** Regular file. */
export const S_IFREG = 0o100000;
/** Block device. */
export const S_IFBLK = 0o060000;
/** Directory. */
export const S_IFDIR = 0o040000;
/** Character device. */
export const S_IFCHR = 0o020000;
/** Fifo. */
export const S_IFIFO = 0o010000;

/** i_flags bits (EXT4_*_FL). */
export const InodeFlags = {
  SECRM: 0x1,
  UNRM: 0x2,
  COMPR: 0x4,
  SYNC: 0x8,
  IMMUTABLE: 0x10,
  APPEND: 0x20,
  NODUMP: 0x40,
  NOATIME: 0x80,
  DIRTY: 0x100,
  COMPRBLK: 0x200,
  NOCOMPR: 0x400,
  ENCRYPT: 0x800,
  INDEX: 0x1000,
  IMAGIC: 0x2000,
  JOURNAL_DATA: 0x4000,
  NOTAIL: 0x8000,
  DIRSYNC: 0x10000,
  TOPDIR: 0x20000,
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  VERITY: 0x100000,
  EA_INODE: 0x200000,
  DAX: 0x2000000,
  INLINE_DATA: 0x10000000,
  PROJINHERIT: 0x20000000,
  CASEFOLD: 0x40000000,
  RESERVED: 0x80000000,
} as const;

/** Reserved inode numbers. */
export const EXT4_BAD_INO = 1;
/** The root directory. */
export const EXT4_ROOT_INO = 2;
/** User quota (old style). */
export const EXT4_USR_QUOTA_INO = 3;
/** Group quota (old style). */
export const EXT4_GRP_QUOTA_INO = 4;
/** Boot loader. */
export const EXT4_BOOT_LOADER_INO = 5;
/** Undelete directory. */
export const EXT4_UNDEL_DIR_INO = 6;
/** Reserved GDT blocks (resize_inode). */
export const EXT4_RESIZE_INO = 7;
/** The journal. */
export const EXT4_JOURNAL_INO = 8;

/** A timestamp: signed seconds since the epoch (past 2038 via the epoch bits) and nanoseconds. */
export interface Timestamp {
  readonly sec: number;
  readonly nsec: number;
}

/**
 * ext4_decode_extra_time: the 32-bit seconds are signed; the two epoch bits
 * of `extra` add multiples of 2^32; the other 30 bits are nanoseconds.
 */
export function decodeTime(seconds: number, extra: number | undefined): Timestamp {
  if (extra === undefined) return { sec: seconds, nsec: 0 };
  return { sec: seconds + (extra & 3) * 2 ** 32, nsec: extra >>> 2 };
}

/** ext4_encode_extra_time: the inverse of {@link decodeTime}. */
export function encodeTime(t: Timestamp): { seconds: number; extra: number } {
  const low = t.sec - Math.floor(t.sec / 2 ** 32) * 2 ** 32;
  const seconds = low >= 2 ** 31 ? low - 2 ** 32 : low;
  const epoch = ((t.sec - seconds) / 2 ** 32) & 3;
  return { seconds, extra: ((t.nsec << 2) | epoch) >>> 0 };
}

/** Everything decoded from an on-disk inode, judged only for structure (not liveness). */
export interface InodeFields {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly atime: Timestamp;
  readonly ctime: Timestamp;
  readonly mtime: Timestamp;
  /** Creation time, or null when the inode has no room for it. */
  readonly crtime: Timestamp | null;
  readonly dtime: number;
  readonly linksCount: number;
  /** i_blocks as stored (units per {@link blocksUnitIsFsBlock}). */
  readonly blocksRaw: number;
  /** EXT4_HUGE_FILE_FL with huge_file: i_blocks counts fs blocks, not 512-byte sectors. */
  readonly blocksUnitIsFsBlock: boolean;
  readonly flags: number;
  readonly version: number;
  /** i_block: the 60 bytes (a copy). */
  readonly iBlock: Uint8Array;
  readonly generation: number;
  readonly fileAcl: number;
  readonly extraIsize: number;
  readonly checksum: number;
  readonly projid: number;
}

/** Decoding parameters from the superblock. */
export interface InodeDecodeParams {
  readonly inodeSize: number;
  readonly hugeFile: boolean;
  readonly is64bit: boolean;
}

function fits(extraIsize: number, name: InodeField): boolean {
  const f = INODE.field(name);
  return f.offset + f.width <= EXT4_GOOD_OLD_INODE_SIZE + extraIsize;
}

/**
 * Decodes an inode from its `inodeSize` bytes. Throws Corrupt
 * (INODE_BAD_EXTRA_ISIZE) when i_extra_isize runs past the inode or is not a
 * multiple of 4, as ext4_iget does.
 */
export function decodeInode(
  raw: Uint8Array,
  params: InodeDecodeParams,
  ctx: Ext4ErrorContext = {},
): InodeFields {
  const v = new ByteView(raw, ctx, 0, params.inodeSize);
  let extraIsize = 0;
  if (params.inodeSize > EXT4_GOOD_OLD_INODE_SIZE) {
    extraIsize = INODE.get(v, "i_extra_isize");
    if (EXT4_GOOD_OLD_INODE_SIZE + extraIsize > params.inodeSize || (extraIsize & 3) !== 0) {
      throw corrupt("INODE_BAD_EXTRA_ISIZE", `i_extra_isize ${extraIsize} is invalid`, ctx);
    }
  }
  const g = (name: InodeField): number => INODE.get(v, name);
  const opt = (name: InodeField): number | undefined =>
    fits(extraIsize, name) ? g(name) : undefined;
  const blocksRaw = g("i_blocks_lo") + (params.hugeFile ? g("l_i_blocks_high") * 2 ** 32 : 0);
  const flags = g("i_flags");
  const checksumHi = opt("i_checksum_hi");
  return {
    mode: g("i_mode"),
    uid: g("i_uid") + g("l_i_uid_high") * 0x10000,
    gid: g("i_gid") + g("l_i_gid_high") * 0x10000,
    size: INODE.getLoHi(v, "i_size_lo", "i_size_high"),
    atime: decodeTime(g("i_atime"), opt("i_atime_extra")),
    ctime: decodeTime(g("i_ctime"), opt("i_ctime_extra")),
    mtime: decodeTime(g("i_mtime"), opt("i_mtime_extra")),
    crtime: fits(extraIsize, "i_crtime") ? decodeTime(g("i_crtime"), opt("i_crtime_extra")) : null,
    dtime: g("i_dtime"),
    linksCount: g("i_links_count"),
    blocksRaw,
    blocksUnitIsFsBlock: params.hugeFile && (flags & InodeFlags.HUGE_FILE) !== 0,
    flags,
    version: g("l_i_version") + (opt("i_version_hi") ?? 0) * 2 ** 32,
    iBlock: INODE.bytesOf(v, "i_block").slice(),
    generation: g("i_generation"),
    fileAcl: g("i_file_acl_lo") + (params.is64bit ? g("l_i_file_acl_high") * 2 ** 32 : 0),
    extraIsize,
    checksum: g("l_i_checksum_lo") + (checksumHi ?? 0) * 0x10000,
    projid: opt("i_projid") ?? 0,
  };
}

/**
 * Encodes `fields` into an inode buffer of `params.inodeSize` bytes (the
 * inverse of {@link decodeInode}); extra fields are written only where
 * `fields.extraIsize` leaves room. Does not compute the checksum (see
 * {@link setInodeChecksum}). Throws RangeError for values that do not fit.
 */
export function encodeInode(raw: Uint8Array, fields: InodeFields, params: InodeDecodeParams): void {
  const v = new ByteView(raw, {}, 0, params.inodeSize);
  const extra = params.inodeSize > EXT4_GOOD_OLD_INODE_SIZE ? fields.extraIsize : 0;
  const s = (name: InodeField, value: number): void => {
    if (fits(extra, name)) INODE.set(v, name, value);
  };
  s("i_mode", fields.mode);
  s("i_uid", fields.uid & 0xffff);
  s("l_i_uid_high", fields.uid >>> 16);
  s("i_gid", fields.gid & 0xffff);
  s("l_i_gid_high", fields.gid >>> 16);
  INODE.setLoHi(v, "i_size_lo", "i_size_high", fields.size);
  const time = (t: Timestamp | null, base: InodeField, extraField: InodeField): void => {
    if (t === null) return;
    const e = encodeTime(t);
    s(base, e.seconds);
    s(extraField, e.extra);
  };
  time(fields.atime, "i_atime", "i_atime_extra");
  time(fields.ctime, "i_ctime", "i_ctime_extra");
  time(fields.mtime, "i_mtime", "i_mtime_extra");
  time(fields.crtime, "i_crtime", "i_crtime_extra");
  s("i_dtime", fields.dtime);
  s("i_links_count", fields.linksCount);
  s("i_blocks_lo", fields.blocksRaw % 2 ** 32);
  s("l_i_blocks_high", Math.floor(fields.blocksRaw / 2 ** 32));
  s("i_flags", fields.flags);
  s("l_i_version", fields.version % 2 ** 32);
  s("i_version_hi", Math.floor(fields.version / 2 ** 32));
  INODE.setBytes(v, "i_block", fields.iBlock);
  s("i_generation", fields.generation);
  s("i_file_acl_lo", fields.fileAcl % 2 ** 32);
  s("l_i_file_acl_high", Math.floor(fields.fileAcl / 2 ** 32));
  if (params.inodeSize > EXT4_GOOD_OLD_INODE_SIZE) INODE.set(v, "i_extra_isize", extra);
  s("i_projid", fields.projid);
  s("l_i_checksum_lo", fields.checksum & 0xffff);
  s("i_checksum_hi", fields.checksum >>> 16);
}

/** The inode's checksum seed: crc32c(crc32c(fs seed, le32 ino), le32 generation). */
export function inodeCsumSeed(fsSeed: number, ino: number, generation: number): number {
  const le = new Uint8Array(8);
  const v = new ByteView(le);
  v.setU32(0, ino);
  v.setU32(4, generation);
  return crc32cRaw(crc32cRaw(fsSeed, le.subarray(0, 4)), le.subarray(4, 8));
}

/**
 * The kernel's ext4_inode_csum over the whole `inodeSize` bytes with both
 * checksum halves treated as zero. Returns 32 bits; when the inode has no
 * room for i_checksum_hi only the low 16 are stored.
 */
export function inodeChecksum(
  fsSeed: number,
  ino: number,
  raw: Uint8Array,
  inodeSize: number,
): number {
  const v = new ByteView(raw, { inode: ino }, 0, inodeSize);
  const seed = inodeCsumSeed(fsSeed, ino, INODE.get(v, "i_generation"));
  const lo = INODE.offsetOf("l_i_checksum_lo");
  const zero = new Uint8Array(2);
  let c = crc32cRaw(seed, raw.subarray(0, lo));
  c = crc32cRaw(c, zero);
  c = crc32cRaw(c, raw.subarray(lo + 2, EXT4_GOOD_OLD_INODE_SIZE));
  if (inodeSize > EXT4_GOOD_OLD_INODE_SIZE) {
    const hi = INODE.offsetOf("i_checksum_hi");
    c = crc32cRaw(c, raw.subarray(EXT4_GOOD_OLD_INODE_SIZE, hi));
    if (hasChecksumHi(raw, inodeSize)) {
      c = crc32cRaw(c, zero);
      c = crc32cRaw(c, raw.subarray(hi + 2, inodeSize));
    } else {
      c = crc32cRaw(c, raw.subarray(hi, inodeSize));
    }
  }
  return c >>> 0;
}

function hasChecksumHi(raw: Uint8Array, inodeSize: number): boolean {
  if (inodeSize <= EXT4_GOOD_OLD_INODE_SIZE) return false;
  const extra = new ByteView(raw, {}, 0, inodeSize).u16(INODE.offsetOf("i_extra_isize"));
  return extra >= 4;
}

/**
 * True when the stored checksum matches (32 bits with i_checksum_hi, else
 * the low 16), as ext4_inode_csum_verify. An all-zero inode (never used,
 * table zeroed) is accepted, as e2fsprogs does.
 */
export function inodeChecksumValid(
  fsSeed: number,
  ino: number,
  raw: Uint8Array,
  inodeSize: number,
): boolean {
  const v = new ByteView(raw, { inode: ino }, 0, inodeSize);
  const computed = inodeChecksum(fsSeed, ino, raw, inodeSize);
  const lo = INODE.get(v, "l_i_checksum_lo");
  const ok = hasChecksumHi(raw, inodeSize)
    ? (lo | (INODE.get(v, "i_checksum_hi") << 16)) >>> 0 === computed
    : lo === (computed & 0xffff);
  if (ok) return true;
  return raw.subarray(0, inodeSize).every((x) => x === 0);
}

/** Computes and stores the inode checksum (writers and tests). */
export function setInodeChecksum(
  fsSeed: number,
  ino: number,
  raw: Uint8Array,
  inodeSize: number,
): void {
  const v = new ByteView(raw, { inode: ino }, 0, inodeSize);
  const c = inodeChecksum(fsSeed, ino, raw, inodeSize);
  INODE.set(v, "l_i_checksum_lo", c & 0xffff);
  if (hasChecksumHi(raw, inodeSize)) INODE.set(v, "i_checksum_hi", c >>> 16);
}
