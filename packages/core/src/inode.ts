/**
 * The validated in-memory inode: what {@link Filesystem.readInode} returns.
 * It owns a copy of the on-disk bytes (cache buffers are transient), exposes
 * the decoded fields, type helpers, in-inode xattrs and inline data, and
 * satisfies the directory module's DirInode contract.
 */
import { corrupt } from "./errors.js";
import {
  decodeOwnedInode,
  InodeBytes,
  type InodeDecodeParams,
  type InodeFields,
  InodeFlags,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  type Timestamp,
} from "./format/inode.js";
import {
  EXT4_XATTR_INDEX_SYSTEM,
  parseInodeXattrs,
  type XattrEntry,
  type XattrParseLimits,
} from "./format/xattr.js";

/** The file type of an inode, from the S_IFMT bits of i_mode. */
export type FileType =
  | "regular"
  | "directory"
  | "symlink"
  | "chardev"
  | "blockdev"
  | "fifo"
  | "socket"
  | "unknown";

/** File type from i_mode. */
export function fileTypeOf(mode: number): FileType {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return "regular";
    case S_IFDIR:
      return "directory";
    case S_IFLNK:
      return "symlink";
    case S_IFCHR:
      return "chardev";
    case S_IFBLK:
      return "blockdev";
    case S_IFIFO:
      return "fifo";
    case S_IFSOCK:
      return "socket";
    default:
      return "unknown";
  }
}

/** Bytes of i_block used for inline data before the system.data value (EXT4_MIN_INLINE_DATA_SIZE). */
export const EXT4_MIN_INLINE_DATA_SIZE = 60;

/** Context an inode needs from its filesystem to interpret itself. */
export interface InodeEnv {
  readonly inodeSize: number;
  readonly blockSize: number;
  readonly xattrLimits: XattrParseLimits;
  /** How to decode the bytes: required to build an Inode whose fields are decoded on demand. */
  readonly decode?: InodeDecodeParams;
}

/** A validated inode. Immutable; re-read it after the filesystem changes. */
export class Inode {
  private xattrCache: readonly XattrEntry[] | undefined;
  /** The decoded fields, once decoded (given by the builder, or decoded on first use). */
  private decoded: InodeFields | null;

  /**
   * Built by the Filesystem after decoding and validating `raw`.
   * @param ino the inode number
   * @param fields the decoded fields; null to decode them from `raw` when first
   *   asked for, which needs `env.decode` and bytes that passed checkInode (a
   *   listing reads a few fields of many inodes: those come straight from the bytes)
   * @param raw the inode's on-disk bytes (inodeSize, a private copy)
   * @param env sizes and limits from the superblock
   * @param checksumValid whether the stored checksum matched (always true without metadata_csum)
   */
  constructor(
    readonly ino: number,
    fields: InodeFields | null,
    readonly raw: Uint8Array,
    private readonly env: InodeEnv,
    readonly checksumValid: boolean,
  ) {
    if (fields === null && env.decode === undefined) {
      throw new TypeError("an Inode without fields needs env.decode");
    }
    this.decoded = fields;
  }

  /** Every decoded field (decoded on first use when the Inode was built without them). */
  get fields(): InodeFields {
    if (this.decoded === null) {
      // OK to assert: the constructor refuses null fields without env.decode, and the
      // builder checked the bytes (checkInode), so decoding them cannot fail.
      this.decoded = decodeOwnedInode(this.raw, this.env.decode!, { inode: this.ino });
    }
    return this.decoded;
  }

  /** i_mode: type bits and permissions. */
  get mode(): number {
    return this.decoded === null ? InodeBytes.mode(this.raw) : this.decoded.mode;
  }
  /** i_size_lo | i_size_high << 32. */
  get size(): number {
    return this.decoded === null ? InodeBytes.size(this.raw) : this.decoded.size;
  }
  /** i_flags (EXT4_*_FL; see InodeFlags). */
  get flags(): number {
    return this.decoded === null ? InodeBytes.flags(this.raw) : this.decoded.flags;
  }
  /** i_generation. */
  get generation(): number {
    return this.decoded === null ? InodeBytes.generation(this.raw) : this.decoded.generation;
  }
  /** i_links_count. */
  get linksCount(): number {
    return this.decoded === null ? InodeBytes.linksCount(this.raw) : this.decoded.linksCount;
  }
  /** Owner uid (32 bits). */
  get uid(): number {
    return this.decoded === null ? InodeBytes.uid(this.raw) : this.decoded.uid;
  }
  /** Group id (32 bits). */
  get gid(): number {
    return this.decoded === null ? InodeBytes.gid(this.raw) : this.decoded.gid;
  }
  /** Access time. */
  get atime(): Timestamp {
    return this.fields.atime;
  }
  /** Inode change time. */
  get ctime(): Timestamp {
    return this.fields.ctime;
  }
  /** Modification time. */
  get mtime(): Timestamp {
    // OK to assert: decoded is null only when env.decode is set (constructor).
    return this.decoded === null
      ? InodeBytes.mtime(this.raw, this.env.decode!)
      : this.decoded.mtime;
  }
  /** Creation time, when the inode has room for it. */
  get crtime(): Timestamp | null {
    return this.fields.crtime;
  }
  /** i_dtime: deletion time, or the next inode on the orphan list. */
  get dtime(): number {
    return this.decoded === null ? InodeBytes.dtime(this.raw) : this.decoded.dtime;
  }
  /** The extended attribute block (i_file_acl), or 0. */
  get fileAcl(): number {
    // OK to assert: as in mtime.
    return this.decoded === null
      ? InodeBytes.fileAcl(this.raw, this.env.decode!)
      : this.decoded.fileAcl;
  }
  /** i_blocks in 512-byte units, whatever the unit on disk (HUGE_FILE_FL). */
  get blocks512(): number {
    return this.fields.blocksUnitIsFsBlock
      ? this.fields.blocksRaw * (this.env.blockSize / 512)
      : this.fields.blocksRaw;
  }
  /** The file type from the mode. */
  get fileType(): FileType {
    return fileTypeOf(this.mode);
  }
  /** True for a directory. */
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  /** True for a regular file. */
  isRegular(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  /** True for a symbolic link. */
  isSymlink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
  }
  /** True when EXT4_EXTENTS_FL is set: i_block holds an extent tree root. */
  usesExtents(): boolean {
    return (this.flags & InodeFlags.EXTENTS) !== 0;
  }
  /** True when EXT4_INLINE_DATA_FL is set. */
  hasInlineData(): boolean {
    return (this.flags & InodeFlags.INLINE_DATA) !== 0;
  }
  /**
   * True when this inode is in use as the kernel sees it: a non-zero link
   * count, or a mode with no deletion time (an open-unlinked orphan).
   */
  isInUse(): boolean {
    return this.linksCount > 0 || (this.mode !== 0 && this.dtime === 0);
  }

  /**
   * The device number of a character or block device: the old 16-bit
   * encoding in i_block[0], else the new one in i_block[1]; null for other
   * types.
   */
  deviceNumber(): { major: number; minor: number } | null {
    const t = this.mode & S_IFMT;
    if (t !== S_IFCHR && t !== S_IFBLK) return null;
    const dv = new DataView(this.fields.iBlock.buffer, this.fields.iBlock.byteOffset, 60);
    const old = dv.getUint32(0, true);
    if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
    const dev = dv.getUint32(4, true);
    return { major: (dev & 0xfff00) >>> 8, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
  }

  /**
   * The extended attributes stored in the inode body (after i_extra_isize).
   * Values of entries kept in an EA inode are null here. Throws Corrupt
   * (XATTR_* codes).
   */
  inodeXattrs(): readonly XattrEntry[] {
    if (this.xattrCache === undefined) {
      this.xattrCache = parseInodeXattrs(
        this.raw,
        this.env.inodeSize,
        this.fields.extraIsize,
        this.env.xattrLimits,
        { inode: this.ino },
      );
    }
    return this.xattrCache;
  }

  /**
   * For an inode with EXT4_INLINE_DATA_FL: the 60 bytes of i_block followed
   * by the value of the system.data xattr (absent → nothing more); else
   * null. Throws Corrupt when the xattr is malformed or kept in an EA inode.
   */
  inlineData(): Uint8Array | null {
    if (!this.hasInlineData()) return null;
    const entry = this.inodeXattrs().find(
      (e) =>
        e.nameIndex === EXT4_XATTR_INDEX_SYSTEM &&
        e.nameBytes.length === 4 &&
        new TextDecoder().decode(e.nameBytes) === "data",
    );
    const extra = entry?.value;
    if (entry !== undefined && extra === null) {
      throw corrupt("INLINE_DATA_IN_EA_INODE", "system.data kept in an EA inode", {
        inode: this.ino,
      });
    }
    const out = new Uint8Array(EXT4_MIN_INLINE_DATA_SIZE + (extra?.length ?? 0));
    out.set(this.fields.iBlock);
    if (extra) out.set(extra, EXT4_MIN_INLINE_DATA_SIZE);
    return out;
  }
}
