/**
 * The on-disk inode (struct ext4_inode: 128 bytes, plus i_extra_isize bytes
 * of extra fields in larger inodes): the field table, the decoded
 * {@link InodeFields}, timestamps with nanoseconds and extra epoch bits, the
 * crc32c inode checksum, and mode/flag constants.
 */
import { joinLoHi, splitLoHi } from "../brands.js";
import { crc32cRange, crc32cRaw, crc32cU32, crc32cZeros, SMALL_CRC } from "../crc.js";
import { corrupt, type Ext4ErrorContext } from "../errors.js";
import { bytes, defineStruct, i32, type RawRecord, u16, u32 } from "../struct.js";
import { le16, le32, setLe32 } from "../view.js";

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
  /** i_block: the 60 bytes (a copy, or a view of an Inode's own never-changed bytes). */
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

// Offsets and ends of the fields the codec touches, computed from the INODE
// table once at module load: decoding an inode is the hottest path of every
// tool (ls -l, stat, lookup), and a name lookup per field per inode showed
// in profiles. The table stays the only declaration of the layout.
const at = (name: InodeField): number => INODE.offsetOf(name);
const end = (name: InodeField): number => INODE.offsetOf(name) + INODE.field(name).width;
const I_MODE = at("i_mode");
const I_UID = at("i_uid");
const I_SIZE_LO = at("i_size_lo");
const I_ATIME = at("i_atime");
const I_CTIME = at("i_ctime");
const I_MTIME = at("i_mtime");
const I_DTIME = at("i_dtime");
const I_GID = at("i_gid");
const I_LINKS_COUNT = at("i_links_count");
const I_BLOCKS_LO = at("i_blocks_lo");
const I_FLAGS = at("i_flags");
const L_I_VERSION = at("l_i_version");
const I_BLOCK = at("i_block");
const I_BLOCK_END = end("i_block");
const I_GENERATION = at("i_generation");
const I_FILE_ACL_LO = at("i_file_acl_lo");
const I_SIZE_HIGH = at("i_size_high");
const L_I_BLOCKS_HIGH = at("l_i_blocks_high");
const L_I_FILE_ACL_HIGH = at("l_i_file_acl_high");
const L_I_UID_HIGH = at("l_i_uid_high");
const L_I_GID_HIGH = at("l_i_gid_high");
const L_I_CHECKSUM_LO = at("l_i_checksum_lo");
const L_I_CHECKSUM_LO_END = end("l_i_checksum_lo");
const I_EXTRA_ISIZE = at("i_extra_isize");
const I_EXTRA_ISIZE_END = end("i_extra_isize");
const I_CHECKSUM_HI = at("i_checksum_hi");
const I_CHECKSUM_HI_END = end("i_checksum_hi");
const I_CTIME_EXTRA = at("i_ctime_extra");
const I_CTIME_EXTRA_END = end("i_ctime_extra");
const I_MTIME_EXTRA = at("i_mtime_extra");
const I_MTIME_EXTRA_END = end("i_mtime_extra");
const I_ATIME_EXTRA = at("i_atime_extra");
const I_ATIME_EXTRA_END = end("i_atime_extra");
const I_CRTIME = at("i_crtime");
const I_CRTIME_END = end("i_crtime");
const I_CRTIME_EXTRA = at("i_crtime_extra");
const I_CRTIME_EXTRA_END = end("i_crtime_extra");
const I_VERSION_HI = at("i_version_hi");
const I_VERSION_HI_END = end("i_version_hi");
const I_PROJID = at("i_projid");
const I_PROJID_END = end("i_projid");

/** True when a field ending at byte `fieldEnd` lies inside 128 + i_extra_isize (EXT4_FITS_IN_INODE). */
function fitsEnd(extraIsize: number, fieldEnd: number): boolean {
  return fieldEnd <= EXT4_GOOD_OLD_INODE_SIZE + extraIsize;
}

/** The signed 32-bit field at `offset` (inode timestamps). */
function ls32(raw: Uint8Array, offset: number): number {
  return le32(raw, offset) | 0;
}

/**
 * Checks the array holds `inodeSize` bytes and that size is one an inode
 * can have, once for the whole inode: every field read after it lies below
 * 128 + i_extra_isize ≤ inodeSize. Throws RangeError for a short array (a
 * caller bug), Corrupt SHORT_STRUCTURE for a size below the fields read.
 */
function checkInodeBytes(raw: Uint8Array, inodeSize: number, ctx: Ext4ErrorContext): void {
  if (!(Number.isInteger(inodeSize) && inodeSize >= 0 && inodeSize <= raw.length)) {
    throw new RangeError(`inode of ${inodeSize} bytes outside array of ${raw.length}`);
  }
  const need = inodeSize > EXT4_GOOD_OLD_INODE_SIZE ? I_EXTRA_ISIZE_END : EXT4_GOOD_OLD_INODE_SIZE;
  if (inodeSize < need) {
    throw corrupt("SHORT_STRUCTURE", `inode of ${inodeSize} bytes is shorter than ${need}`, ctx);
  }
}

/**
 * i_extra_isize of an inode already checked by {@link checkInodeBytes}.
 * Throws Corrupt (INODE_BAD_EXTRA_ISIZE) when it runs past the inode or is
 * not a multiple of 4, as ext4_iget does.
 */
function extraIsizeOf(raw: Uint8Array, inodeSize: number, ctx: Ext4ErrorContext): number {
  if (inodeSize <= EXT4_GOOD_OLD_INODE_SIZE) return 0;
  const extraIsize = le16(raw, I_EXTRA_ISIZE);
  if (EXT4_GOOD_OLD_INODE_SIZE + extraIsize > inodeSize || (extraIsize & 3) !== 0) {
    throw corrupt("INODE_BAD_EXTRA_ISIZE", `i_extra_isize ${extraIsize} is invalid`, ctx);
  }
  return extraIsize;
}

/**
 * Applies every check {@link decodeInode} makes (the array holds the inode,
 * i_extra_isize is valid, the size fits 2^53) without decoding: after it,
 * decoding the same bytes cannot fail, and {@link InodeBytes} reads fields
 * straight from them. Throws as decodeInode.
 */
export function checkInode(
  raw: Uint8Array,
  params: InodeDecodeParams,
  ctx: Ext4ErrorContext = {},
): void {
  checkInodeBytes(raw, params.inodeSize, ctx);
  extraIsizeOf(raw, params.inodeSize, ctx);
  joinLoHi(le32(raw, I_SIZE_LO), le32(raw, I_SIZE_HIGH));
}

/**
 * Single fields read straight from inode bytes that passed {@link
 * checkInode}, each exactly as {@link decodeInode} computes it: for
 * answering a few fields of many inodes (a long listing, a directory walk)
 * without decoding every field of each.
 */
export const InodeBytes = {
  /** i_mode. */
  mode: (raw: Uint8Array): number => le16(raw, I_MODE),
  /** i_uid with l_i_uid_high. */
  uid: (raw: Uint8Array): number => le16(raw, I_UID) + le16(raw, L_I_UID_HIGH) * 0x10000,
  /** i_gid with l_i_gid_high. */
  gid: (raw: Uint8Array): number => le16(raw, I_GID) + le16(raw, L_I_GID_HIGH) * 0x10000,
  /** i_size_lo with i_size_high (checkInode proved it below 2^53). */
  size: (raw: Uint8Array): number => le32(raw, I_SIZE_LO) + le32(raw, I_SIZE_HIGH) * 2 ** 32,
  /** i_flags. */
  flags: (raw: Uint8Array): number => le32(raw, I_FLAGS),
  /** i_generation. */
  generation: (raw: Uint8Array): number => le32(raw, I_GENERATION),
  /** i_links_count. */
  linksCount: (raw: Uint8Array): number => le16(raw, I_LINKS_COUNT),
  /** i_dtime. */
  dtime: (raw: Uint8Array): number => le32(raw, I_DTIME),
  /** i_file_acl_lo with l_i_file_acl_high when the filesystem is 64bit. */
  fileAcl: (raw: Uint8Array, params: InodeDecodeParams): number =>
    le32(raw, I_FILE_ACL_LO) + (params.is64bit ? le16(raw, L_I_FILE_ACL_HIGH) * 2 ** 32 : 0),
  /** i_mtime with i_mtime_extra when i_extra_isize covers it. */
  mtime: (raw: Uint8Array, params: InodeDecodeParams): Timestamp => {
    const extra = params.inodeSize > EXT4_GOOD_OLD_INODE_SIZE ? le16(raw, I_EXTRA_ISIZE) : 0;
    return decodeTime(
      ls32(raw, I_MTIME),
      fitsEnd(extra, I_MTIME_EXTRA_END) ? le32(raw, I_MTIME_EXTRA) : undefined,
    );
  },
} as const;

/**
 * Decodes an inode from its `inodeSize` bytes. Throws Corrupt
 * (INODE_BAD_EXTRA_ISIZE) when i_extra_isize runs past the inode or is not a
 * multiple of 4, as ext4_iget does; Corrupt VALUE_TOO_LARGE for a size past
 * 2^53; RangeError when `raw` is shorter than `inodeSize`.
 */
export function decodeInode(
  raw: Uint8Array,
  params: InodeDecodeParams,
  ctx: Ext4ErrorContext = {},
): InodeFields {
  return decodeInodeFields(raw, params, ctx, false);
}

/**
 * {@link decodeInode} for a caller that owns `raw` and never changes it (the
 * Filesystem's private copy in an {@link Inode}): i_block is then a view
 * into `raw`, not a second copy.
 */
export function decodeOwnedInode(
  raw: Uint8Array,
  params: InodeDecodeParams,
  ctx: Ext4ErrorContext = {},
): InodeFields {
  return decodeInodeFields(raw, params, ctx, true);
}

function decodeInodeFields(
  raw: Uint8Array,
  params: InodeDecodeParams,
  ctx: Ext4ErrorContext,
  owned: boolean,
): InodeFields {
  checkInodeBytes(raw, params.inodeSize, ctx);
  const extra = extraIsizeOf(raw, params.inodeSize, ctx);
  const flags = le32(raw, I_FLAGS);
  const hasCsumHi = fitsEnd(extra, I_CHECKSUM_HI_END);
  return {
    mode: le16(raw, I_MODE),
    uid: le16(raw, I_UID) + le16(raw, L_I_UID_HIGH) * 0x10000,
    gid: le16(raw, I_GID) + le16(raw, L_I_GID_HIGH) * 0x10000,
    size: joinLoHi(le32(raw, I_SIZE_LO), le32(raw, I_SIZE_HIGH)),
    atime: decodeTime(
      ls32(raw, I_ATIME),
      fitsEnd(extra, I_ATIME_EXTRA_END) ? le32(raw, I_ATIME_EXTRA) : undefined,
    ),
    ctime: decodeTime(
      ls32(raw, I_CTIME),
      fitsEnd(extra, I_CTIME_EXTRA_END) ? le32(raw, I_CTIME_EXTRA) : undefined,
    ),
    mtime: decodeTime(
      ls32(raw, I_MTIME),
      fitsEnd(extra, I_MTIME_EXTRA_END) ? le32(raw, I_MTIME_EXTRA) : undefined,
    ),
    crtime: fitsEnd(extra, I_CRTIME_END)
      ? decodeTime(
          ls32(raw, I_CRTIME),
          fitsEnd(extra, I_CRTIME_EXTRA_END) ? le32(raw, I_CRTIME_EXTRA) : undefined,
        )
      : null,
    dtime: le32(raw, I_DTIME),
    linksCount: le16(raw, I_LINKS_COUNT),
    blocksRaw:
      le32(raw, I_BLOCKS_LO) + (params.hugeFile ? le16(raw, L_I_BLOCKS_HIGH) * 2 ** 32 : 0),
    blocksUnitIsFsBlock: params.hugeFile && (flags & InodeFlags.HUGE_FILE) !== 0,
    flags,
    version:
      le32(raw, L_I_VERSION) +
      (fitsEnd(extra, I_VERSION_HI_END) ? le32(raw, I_VERSION_HI) : 0) * 2 ** 32,
    iBlock: owned ? raw.subarray(I_BLOCK, I_BLOCK_END) : raw.slice(I_BLOCK, I_BLOCK_END),
    generation: le32(raw, I_GENERATION),
    fileAcl:
      le32(raw, I_FILE_ACL_LO) + (params.is64bit ? le16(raw, L_I_FILE_ACL_HIGH) * 2 ** 32 : 0),
    extraIsize: extra,
    checksum: le16(raw, L_I_CHECKSUM_LO) + (hasCsumHi ? le16(raw, I_CHECKSUM_HI) : 0) * 0x10000,
    projid: fitsEnd(extra, I_PROJID_END) ? le32(raw, I_PROJID) : 0,
  };
}

/**
 * Encodes `fields` into an inode buffer of `params.inodeSize` bytes (the
 * inverse of {@link decodeInode}); extra fields are written only where
 * `fields.extraIsize` leaves room. Does not compute the checksum (see
 * {@link setInodeChecksum}). Throws RangeError for values that do not fit
 * (an i_block wider than 60 bytes, a size past 2^64) or a short array.
 */
export function encodeInode(raw: Uint8Array, fields: InodeFields, params: InodeDecodeParams): void {
  checkInodeBytes(raw, params.inodeSize, {});
  if (fields.iBlock.length > I_BLOCK_END - I_BLOCK) {
    throw new RangeError(`ext4_inode.i_block: ${fields.iBlock.length} bytes`);
  }
  const extra = params.inodeSize > EXT4_GOOD_OLD_INODE_SIZE ? fields.extraIsize : 0;
  // An extra field is written only when i_extra_isize covers it (and the inode holds it).
  const room = Math.min(EXT4_GOOD_OLD_INODE_SIZE + extra, params.inodeSize);
  const s16 = (offset: number, value: number): void => {
    if (offset + 2 <= room) {
      raw[offset] = value;
      raw[offset + 1] = value >>> 8;
    }
  };
  const s32 = (offset: number, value: number): void => {
    if (offset + 4 <= room) setLe32(raw, offset, value);
  };
  s16(I_MODE, fields.mode);
  s16(I_UID, fields.uid & 0xffff);
  s16(L_I_UID_HIGH, fields.uid >>> 16);
  s16(I_GID, fields.gid & 0xffff);
  s16(L_I_GID_HIGH, fields.gid >>> 16);
  const size = splitLoHi(fields.size);
  s32(I_SIZE_LO, size.lo);
  s32(I_SIZE_HIGH, size.hi);
  const time = (t: Timestamp | null, base: number, extraField: number): void => {
    if (t === null) return;
    const e = encodeTime(t);
    s32(base, e.seconds);
    s32(extraField, e.extra);
  };
  time(fields.atime, I_ATIME, I_ATIME_EXTRA);
  time(fields.ctime, I_CTIME, I_CTIME_EXTRA);
  time(fields.mtime, I_MTIME, I_MTIME_EXTRA);
  time(fields.crtime, I_CRTIME, I_CRTIME_EXTRA);
  s32(I_DTIME, fields.dtime);
  s16(I_LINKS_COUNT, fields.linksCount);
  s32(I_BLOCKS_LO, fields.blocksRaw % 2 ** 32);
  s16(L_I_BLOCKS_HIGH, Math.floor(fields.blocksRaw / 2 ** 32));
  s32(I_FLAGS, fields.flags);
  s32(L_I_VERSION, fields.version % 2 ** 32);
  s32(I_VERSION_HI, Math.floor(fields.version / 2 ** 32));
  raw.fill(0, I_BLOCK, I_BLOCK_END);
  raw.set(fields.iBlock, I_BLOCK);
  s32(I_GENERATION, fields.generation);
  s32(I_FILE_ACL_LO, fields.fileAcl % 2 ** 32);
  s16(L_I_FILE_ACL_HIGH, Math.floor(fields.fileAcl / 2 ** 32));
  if (params.inodeSize > EXT4_GOOD_OLD_INODE_SIZE) {
    raw[I_EXTRA_ISIZE] = extra;
    raw[I_EXTRA_ISIZE + 1] = extra >>> 8;
  }
  s32(I_PROJID, fields.projid);
  s16(L_I_CHECKSUM_LO, fields.checksum & 0xffff);
  s16(I_CHECKSUM_HI, fields.checksum >>> 16);
}

/** The inode's checksum seed: crc32c(crc32c(fs seed, le32 ino), le32 generation). */
export function inodeCsumSeed(fsSeed: number, ino: number, generation: number): number {
  return crc32cU32(crc32cU32(fsSeed, ino), generation);
}

/** The raw crc32c of `raw[start, end)`: in JS for short spans, natively for long ones. */
function crcSpan(seed: number, raw: Uint8Array, start: number, stop: number): number {
  return stop - start <= SMALL_CRC
    ? crc32cRange(seed, raw, start, stop)
    : crc32cRaw(seed, raw.subarray(start, stop));
}

/**
 * The kernel's ext4_inode_csum over the whole `inodeSize` bytes with both
 * checksum halves treated as zero. Returns 32 bits; when the inode has no
 * room for i_checksum_hi only the low 16 are stored. Throws RangeError
 * when `raw` is shorter than `inodeSize`, Corrupt SHORT_STRUCTURE for an
 * inode size too small to hold i_extra_isize.
 */
export function inodeChecksum(
  fsSeed: number,
  ino: number,
  raw: Uint8Array,
  inodeSize: number,
): number {
  checkInodeBytes(raw, inodeSize, { inode: ino });
  const seed = inodeCsumSeed(fsSeed, ino, le32(raw, I_GENERATION));
  // The checksum fields are skipped over as zeros: no copy of the inode is made.
  let c = crcSpan(seed, raw, 0, L_I_CHECKSUM_LO);
  c = crc32cZeros(c, L_I_CHECKSUM_LO_END - L_I_CHECKSUM_LO);
  c = crcSpan(c, raw, L_I_CHECKSUM_LO_END, EXT4_GOOD_OLD_INODE_SIZE);
  if (inodeSize > EXT4_GOOD_OLD_INODE_SIZE) {
    c = crcSpan(c, raw, EXT4_GOOD_OLD_INODE_SIZE, I_CHECKSUM_HI);
    if (hasChecksumHi(raw, inodeSize)) {
      c = crc32cZeros(c, I_CHECKSUM_HI_END - I_CHECKSUM_HI);
      c = crcSpan(c, raw, I_CHECKSUM_HI_END, inodeSize);
    } else {
      c = crcSpan(c, raw, I_CHECKSUM_HI, inodeSize);
    }
  }
  return c >>> 0;
}

/** Whether i_checksum_hi is inside i_extra_isize (`raw` checked by {@link checkInodeBytes}). */
function hasChecksumHi(raw: Uint8Array, inodeSize: number): boolean {
  if (inodeSize <= EXT4_GOOD_OLD_INODE_SIZE) return false;
  return fitsEnd(le16(raw, I_EXTRA_ISIZE), I_CHECKSUM_HI_END);
}

/**
 * True when the stored checksum matches (32 bits with i_checksum_hi, else
 * the low 16), as ext4_inode_csum_verify. An all-zero inode (never used,
 * table zeroed) is accepted, as e2fsprogs does. Throws as {@link inodeChecksum}.
 */
export function inodeChecksumValid(
  fsSeed: number,
  ino: number,
  raw: Uint8Array,
  inodeSize: number,
): boolean {
  const computed = inodeChecksum(fsSeed, ino, raw, inodeSize);
  const lo = le16(raw, L_I_CHECKSUM_LO);
  const ok = hasChecksumHi(raw, inodeSize)
    ? (lo | (le16(raw, I_CHECKSUM_HI) << 16)) >>> 0 === computed
    : lo === (computed & 0xffff);
  return ok || isZeroInode(raw, inodeSize);
}

/** An all-zero inode (never used, table zeroed): e2fsprogs accepts it whatever its checksum. */
function isZeroInode(raw: Uint8Array, inodeSize: number): boolean {
  for (let i = 0; i < inodeSize; i++) if (raw[i] !== 0) return false;
  return true;
}

/**
 * {@link inodeChecksumValid} for an inode copy the caller owns and nobody
 * else can see meanwhile (the Filesystem's private copies): the checksum
 * fields are zeroed in place for one crc over the whole inode, then put
 * back, instead of a crc in pieces around them. Throws as {@link inodeChecksum}.
 */
export function ownedInodeChecksumValid(
  fsSeed: number,
  ino: number,
  raw: Uint8Array,
  inodeSize: number,
): boolean {
  checkInodeBytes(raw, inodeSize, { inode: ino });
  const hi = hasChecksumHi(raw, inodeSize);
  const stored = le16(raw, L_I_CHECKSUM_LO) | (hi ? le16(raw, I_CHECKSUM_HI) << 16 : 0);
  raw.fill(0, L_I_CHECKSUM_LO, L_I_CHECKSUM_LO_END);
  if (hi) raw.fill(0, I_CHECKSUM_HI, I_CHECKSUM_HI_END);
  const seed = inodeCsumSeed(fsSeed, ino, le32(raw, I_GENERATION));
  const computed = crc32cRaw(seed, raw.length === inodeSize ? raw : raw.subarray(0, inodeSize));
  raw[L_I_CHECKSUM_LO] = stored;
  raw[L_I_CHECKSUM_LO + 1] = stored >>> 8;
  if (hi) {
    raw[I_CHECKSUM_HI] = stored >>> 16;
    raw[I_CHECKSUM_HI + 1] = stored >>> 24;
  }
  return (hi ? computed : computed & 0xffff) === stored >>> 0 || isZeroInode(raw, inodeSize);
}

/** Computes and stores the inode checksum (writers and tests). Throws as {@link inodeChecksum}. */
export function setInodeChecksum(
  fsSeed: number,
  ino: number,
  raw: Uint8Array,
  inodeSize: number,
): void {
  const c = inodeChecksum(fsSeed, ino, raw, inodeSize);
  raw[L_I_CHECKSUM_LO] = c;
  raw[L_I_CHECKSUM_LO + 1] = c >>> 8;
  if (hasChecksumHi(raw, inodeSize)) {
    raw[I_CHECKSUM_HI] = c >>> 16;
    raw[I_CHECKSUM_HI + 1] = c >>> 24;
  }
}
