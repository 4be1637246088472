/**
 * Raw directory listings the way e2fsprogs walks directories
 * (`ext2fs_process_dir_block`, lib/ext2fs/dir_iterate.c): lenient record
 * checks (rec_len ≥ 8, a multiple of 4, inside the block, name_len + 8 ≤
 * rec_len), unused records included, optional recovery of deleted records
 * from slack space, the checksum tail reported as such, and inline
 * directories as e2fsprogs presents them ("." and ".." as 12-byte fake
 * records, then the i_block and system.data parts). This is what debugfs
 * `ls` (with -l, -d, -c, -p) prints from; the checker reads it too.
 */
import {
  badChecksum,
  corrupt,
  type Ext4Error,
  type Ext4ErrorContext,
  isExt4Error,
} from "../errors.js";
import { ByteView } from "../view.js";
import { DirFileType } from "./constants.js";
import { type DirContext, readDirBlock } from "./context.js";
import { dxCountOffset, dxCsum } from "./dx.js";
import {
  DIRENT_HEADER_SIZE,
  DIRENT_TAIL_SIZE,
  dirBlockChecksum,
  dirEntryHashStruct,
  dirEntryStruct,
  recLenFromDisk,
} from "./entry.js";
import { inlineDirLayout } from "./inline.js";

/** One record as stored, copied out of its block. */
export interface RawDirRecord {
  /** Byte offset in its block or region. */
  readonly offset: number;
  readonly inode: number;
  /** Decoded record length. */
  readonly recLen: number;
  /** rec_len as stored (debugfs `ls` prints this). */
  readonly recLenRaw: number;
  /** name_len & 0xff. */
  readonly nameLen: number;
  /** The byte after name_len (file_type with the filetype feature; debugfs `ls -l` prints it in parentheses). */
  readonly fileTypeRaw: number;
  /** A copy of the name bytes. */
  readonly name: Uint8Array;
  /** ext4_dir_entry_hash after the name, for directories that store it, when it fits in the record. */
  readonly storedHash?: { readonly hash: number; readonly minorHash: number };
}

const O_REC_LEN = dirEntryStruct.offsetOf("rec_len");
const O_NAME_LEN = dirEntryStruct.offsetOf("name_len");

function readRecord(
  v: ByteView,
  off: number,
  blockSize: number,
  hashInDirent: boolean,
): RawDirRecord {
  const recLenRaw = v.u16(off + O_REC_LEN);
  const nameLen16 = v.u16(off + O_NAME_LEN);
  const nameLen = nameLen16 & 0xff;
  const recLen = recLenFromDisk(recLenRaw, blockSize);
  const r: RawDirRecord = {
    offset: off,
    inode: v.u32(off),
    recLen,
    recLenRaw,
    nameLen,
    fileTypeRaw: nameLen16 >> 8,
    name: v
      .slice(off + DIRENT_HEADER_SIZE, Math.min(nameLen, v.length - off - DIRENT_HEADER_SIZE))
      .slice(),
  };
  const h = (DIRENT_HEADER_SIZE + nameLen + 3) & ~3;
  if (hashInDirent && h + dirEntryHashStruct.size <= recLen && off + h + 8 <= v.length) {
    return {
      ...r,
      storedHash: { hash: v.u32(off + h), minorHash: v.u32(off + h + 4) },
    };
  }
  return r;
}

/** The e2fsprogs record check; a failure is EXT2_ET_DIR_CORRUPTED. */
function lenientOk(r: RawDirRecord, off: number, buflen: number): boolean {
  return !(
    off + r.recLen > buflen ||
    r.recLen < 8 ||
    r.recLen % 4 !== 0 ||
    r.nameLen + 8 > r.recLen
  );
}

function dirCorrupted(ctx: Ext4ErrorContext, off: number): Ext4Error {
  return corrupt("DIR_CORRUPTED", "directory entry fails rec_len/name_len checks", {
    ...ctx,
    offset: off,
  });
}

/**
 * Reads every record of a block leniently (debugfs `htree_dump`'s leaf
 * loop): stops at the first record failing the e2fsprogs checks and returns
 * it as `error` with the records before it.
 */
export function rawRecords(
  bytes: Uint8Array,
  blockSize: number,
  ctx: Ext4ErrorContext = {},
  hashInDirent = false,
): { records: RawDirRecord[]; error: Ext4Error | null } {
  const v = new ByteView(bytes, ctx);
  const records: RawDirRecord[] = [];
  let off = 0;
  // rec_len ≥ 8 is checked before advancing, so this ends within length/8 steps.
  while (off < v.length) {
    if (off + DIRENT_HEADER_SIZE > v.length) return { records, error: dirCorrupted(ctx, off) };
    const r = readRecord(v, off, blockSize, hashInDirent);
    if (!lenientOk(r, off, v.length)) return { records, error: dirCorrupted(ctx, off) };
    records.push(r);
    off += r.recLen;
  }
  return { records, error: null };
}

/** How `ext2fs_dir_iterate2` classifies a record (DIRENT_DOT_FILE ... DIRENT_CHECKSUM). */
export type RawEntryKind = "dot" | "dotdot" | "other" | "deleted" | "checksum";

/** A record of a raw listing. */
export interface RawListEntry extends RawDirRecord {
  readonly kind: RawEntryKind;
  /** det_checksum, for the "checksum" kind. */
  readonly checksum?: number;
}

/** The checksum state of a block in a raw listing. */
export interface RawBlockCsum {
  /** "leaf": dirent tail; "dx": dx_tail; "missing": metadata_csum but neither found. */
  readonly kind: "leaf" | "dx" | "missing";
  readonly stored: number | null;
  readonly computed: number | null;
  readonly ok: boolean;
}

/** One block (or inline part) of a raw listing. */
export interface RawDirBlock {
  /** Logical block, or null for the parts of an inline directory. */
  readonly lblk: number | null;
  /** For inline directories: which part this is. */
  readonly part?: "dot" | "dotdot" | "ibody" | "xattr";
  /** Bytes walked (block size, or the part's size). */
  readonly size: number;
  readonly entries: readonly RawListEntry[];
  /** Checksum state with metadata_csum (never for inline parts), else null. */
  readonly csum: RawBlockCsum | null;
}

/** A whole raw listing; `error` is the failure that ended it early (entries before it are kept). */
export interface DirListing {
  readonly blocks: readonly RawDirBlock[];
  readonly error: Ext4Error | null;
}

/** Options of {@link dirBlockInfo}, named after `ls` flags and dir_iterate flags. */
export interface DirBlockInfoOptions {
  /** `ls -d` (DIRENT_FLAG_INCLUDE_REMOVED): recover deleted records from slack space. */
  readonly includeDeleted?: boolean;
  /** `ls -c` (DIRENT_FLAG_INCLUDE_CSUM): report the checksum tail as a record. */
  readonly includeChecksum?: boolean;
  /** Stop at a block whose checksum fails, as libext2fs does unless checksums are ignored (default true). */
  readonly stopOnBadChecksum?: boolean;
}

// DIRENT_DOT_FILE (1), DIRENT_DOT_DOT_FILE (2) follow from incrementing; these two start the count.
const KIND_DOT = 1;
const KIND_OTHER = 3;
const KIND_DELETED = 4;
const KIND_CHECKSUM = 5;
const KINDS: Record<number, RawEntryKind> = {
  1: "dot",
  2: "dotdot",
  3: "other",
  4: "deleted",
  5: "checksum",
};

/** e2fsprogs `ext2fs_validate_entry`: does a chain of sane records run from `offset` exactly to `final`? */
function validateChain(v: ByteView, offset: number, final: number, blockSize: number): boolean {
  // Each step adds rec_len ≥ 8 or returns, so this ends.
  while (offset < final && offset <= blockSize - 12) {
    if (offset + DIRENT_HEADER_SIZE > v.length) return false;
    const recLen = recLenFromDisk(v.u16(offset + O_REC_LEN), blockSize);
    const nameLen = v.u8(offset + O_NAME_LEN);
    offset += recLen;
    if (recLen < 8 || recLen % 4 !== 0 || nameLen + 8 > recLen) return false;
  }
  return offset === final;
}

/**
 * `ext2fs_process_dir_block` over one buffer: returns the reported records
 * and the error that aborted the walk, if any.
 */
function processBlock(
  bytes: Uint8Array,
  blockcnt: number,
  inline: boolean,
  d: DirContext,
  o: DirBlockInfoOptions,
  ctx: Ext4ErrorContext,
): { entries: RawListEntry[]; error: Ext4Error | null } {
  const v = new ByteView(bytes, ctx);
  const buflen = v.length;
  const bs = d.blockSize;
  const csumSize = d.metadataCsum ? DIRENT_TAIL_SIZE : 0;
  const entries: RawListEntry[] = [];
  let entry = blockcnt !== 0 ? KIND_OTHER : KIND_DOT;
  let offset = 0;
  let nextReal = 0;
  // Progress: every path adds rec_len ≥ 8, or size ≥ 12, or 4 bytes to offset.
  while (offset < buflen - 8) {
    const r = readRecord(v, offset, bs, d.hashInDirent);
    if (!lenientOk(r, offset, buflen)) return { entries, error: dirCorrupted(ctx, offset) };
    let skip = false;
    if (r.inode === 0) {
      const isTail =
        !inline &&
        offset === buflen - csumSize &&
        r.recLenRaw === csumSize &&
        r.nameLen === 0 &&
        r.fileTypeRaw === DirFileType.DirChecksum;
      if (isTail) {
        if (o.includeChecksum ?? false) entry = KIND_CHECKSUM;
        else skip = true;
      }
    }
    if (!skip) {
      const kind = KINDS[nextReal > offset ? KIND_DELETED : entry] ?? "other";
      entries.push(
        kind === "checksum" ? { ...r, kind, checksum: v.u32(offset + 8) } : { ...r, kind },
      );
      if (entry < KIND_OTHER) entry++;
    }
    if (nextReal === offset) nextReal += r.recLen;
    if (o.includeDeleted ?? false) {
      const size = (r.nameLen + 11) & ~3;
      if (r.recLen !== size) {
        const final = offset + r.recLen;
        offset += size;
        while (offset < final && !validateChain(v, offset, final, bs)) offset += 4;
        continue;
      }
    }
    offset += r.recLen;
  }
  return { entries, error: null };
}

/** The checksum state of a directory block as e2fsprogs judges it (`ext2fs_dir_block_csum_verify`). */
export function rawBlockCsum(d: DirContext, block: Uint8Array): RawBlockCsum {
  const bs = d.blockSize;
  const v = new ByteView(block);
  // e2fsprogs walks the chain of rec_lens to see whether it ends exactly at a tail.
  let off = 0;
  let chainOk = true;
  while (off < bs - DIRENT_TAIL_SIZE) {
    const recLen = v.u16(off + O_REC_LEN);
    if (recLen < 8 || recLen % 4 !== 0) {
      chainOk = false;
      break;
    }
    off += recLen;
  }
  if (chainOk && off === bs - DIRENT_TAIL_SIZE) {
    const t = v.sub(off, DIRENT_TAIL_SIZE);
    if (
      t.u32(0) === 0 &&
      t.u16(4) === DIRENT_TAIL_SIZE &&
      t.u16(6) === DirFileType.DirChecksum << 8
    ) {
      const stored = t.u32(8);
      const computed = dirBlockChecksum(d.inodeSeed(), block, bs);
      return { kind: "leaf", stored, computed, ok: stored === computed };
    }
  }
  const countOffset = dxCountOffset(block, bs);
  if (countOffset !== null) {
    const c = dxCsum(d.inodeSeed(), block, bs, countOffset);
    if (c === null) return { kind: "dx", stored: null, computed: null, ok: false };
    return { kind: "dx", stored: c.stored, computed: c.computed, ok: c.stored === c.computed };
  }
  return { kind: "missing", stored: null, computed: null, ok: false };
}

function fakeDot(ino: number, nameLen: number): Uint8Array {
  // ext2fs_inline_data_dir_iterate hands "." and ".." to the walker as 12-byte records.
  const b = new Uint8Array(12);
  const v = new ByteView(b);
  v.setU32(0, ino);
  v.setU16(O_REC_LEN, 12);
  v.setU16(O_NAME_LEN, nameLen);
  b.fill(0x2e, DIRENT_HEADER_SIZE, DIRENT_HEADER_SIZE + nameLen);
  return b;
}

/**
 * Lists a directory the way `ext2fs_dir_iterate2` with
 * DIRENT_FLAG_INCLUDE_EMPTY walks it (debugfs `ls`): every record of every
 * mapped block below i_size in order, unused ones included, deleted ones
 * recovered with `includeDeleted`, the tail with `includeChecksum`. A
 * malformed record or (with `stopOnBadChecksum`) a bad checksum ends the
 * listing with `error` set, keeping what came before, as e2fsprogs does.
 * Throws only for what prevents starting (not a directory, missing inline
 * data).
 */
export function rawListing(d: DirContext, o: DirBlockInfoOptions = {}): DirListing {
  const blocks: RawDirBlock[] = [];
  const stopOnBad = o.stopOnBadChecksum ?? true;
  if (d.inline) {
    const data = d.inode.inlineData();
    if (data === null) {
      throw corrupt("INLINE_DATA_MISSING", "inline directory without inline data", d.errorContext);
    }
    const layout = inlineDirLayout(data, d.errorContext);
    const parts: Array<{ part: RawDirBlock["part"] & string; bytes: Uint8Array; start: number }> = [
      { part: "dot", bytes: fakeDot(d.inode.ino, 1), start: 0 },
      { part: "dotdot", bytes: fakeDot(layout.parent, 2), start: 0 },
      ...layout.regions.map((r) => ({ part: r.part, bytes: r.bytes, start: r.start })),
    ];
    let blockcnt = 0;
    for (const p of parts) {
      const ctx = { ...d.errorContext, offset: p.start };
      const { entries, error } = processBlock(p.bytes, blockcnt++, true, d, o, ctx);
      blocks.push({ lblk: null, part: p.part, size: p.bytes.length, entries, csum: null });
      if (error !== null) return { blocks, error };
    }
    return { blocks, error: null };
  }
  for (let lblk = 0; lblk < d.blockCount; lblk++) {
    let block: Uint8Array | null;
    try {
      block = readDirBlock(d, lblk);
    } catch (e) {
      if (!isExt4Error(e)) throw e;
      return { blocks, error: e };
    }
    if (block === null) continue;
    const ctx = { ...d.errorContext, block: lblk };
    const csum = d.metadataCsum ? rawBlockCsum(d, block) : null;
    if (csum !== null && !csum.ok && stopOnBad) {
      return {
        blocks,
        error: badChecksum(
          "DIR_CSUM_INVALID",
          "directory block checksum does not match directory block",
          ctx,
        ),
      };
    }
    const { entries, error } = processBlock(block, lblk, false, d, o, ctx);
    blocks.push({ lblk, size: block.length, entries, csum });
    if (error !== null) return { blocks, error };
  }
  return { blocks, error: null };
}
