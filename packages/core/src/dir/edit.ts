/**
 * Changing linear directory regions in memory (a copy of a leaf block, or
 * one part of an inline directory), the way fs/ext4/namei.c does it:
 * finding room for a new entry (`ext4_find_dest_de`), inserting it by
 * splitting a live entry's slack or reusing an unused record
 * (`ext4_insert_dentry`), deleting one by merging it into the previous record
 * (`ext4_generic_delete_entry`), and laying out whole leaves (empty blocks,
 * the packed halves of a split). Every walk applies the kernel's entry
 * checks first, so a corrupt region raises Corrupt before anything changes.
 */
import { corrupt, fsError } from "../errors.js";
import { ByteView } from "../view.js";
import { DirFileType } from "./constants.js";
import {
  DIRENT_HEADER_SIZE,
  DIRENT_TAIL_SIZE,
  type DirParseOptions,
  dirEntry2Struct,
  dirRecLen,
  type RawDirEntry,
  recLenFromDisk,
  recLenToDisk,
  scanDirEntries,
  walkDirRecords,
  writeDirEntry,
  writeDirTail,
} from "./entry.js";

/** A live entry to be written: inode, name and the file_type byte as stored. */
export interface NewEntry {
  readonly inode: number;
  readonly name: Uint8Array;
  /** The file_type byte (0 without the filetype feature). */
  readonly fileType: number;
}

const O_INODE = dirEntry2Struct.offsetOf("inode");
const O_REC_LEN = dirEntry2Struct.offsetOf("rec_len");
const O_NAME_LEN = dirEntry2Struct.offsetOf("name_len");

/**
 * `ext4_find_dest_de`: the offset of the first record of `region` that can
 * take a record of `need` bytes (an unused record at least that long, or a
 * live one whose slack after its own minimal length is), or null when the
 * region is full. Throws Exists (DIR_ENTRY_EXISTS) when a record before the
 * slot already holds `name`, and Corrupt (DIRENT_*) at a malformed record.
 */
export function findSlot(
  region: Uint8Array,
  opts: DirParseOptions,
  name: Uint8Array,
  need: number,
): number | null {
  let slot: number | null = null;
  // The kernel stops at `top`: a record starting later cannot hold `need` bytes.
  const top = region.length - need;
  walkDirRecords(region, opts, (r) => {
    if (r.offset > top) return true;
    if (r.inode !== 0 && r.nameIs(name)) {
      throw fsError("Exists", "DIR_ENTRY_EXISTS", "directory entry already exists", {
        ...opts.context,
        offset: r.offset,
      });
    }
    const free = r.inode !== 0 ? r.recLen - dirRecLen(r.nameLen) : r.recLen;
    if (free >= need) {
      slot = r.offset;
      return true;
    }
    return false;
  });
  return slot;
}

/**
 * `ext4_insert_dentry`: writes `entry` into the record at `offset` (found by
 * {@link findSlot}). A live record is cut to its minimal length and the new
 * entry takes the rest; an unused record is taken whole. The new record is
 * zeroed first so no bytes of an older name survive in it. `blockSize`
 * encodes rec_len. Returns the new record's offset.
 */
export function insertAt(
  region: Uint8Array,
  offset: number,
  entry: NewEntry,
  blockSize: number,
): number {
  const v = new ByteView(region);
  const recLen = recLenFromDisk(v.u16(offset + O_REC_LEN), blockSize);
  let at = offset;
  let len = recLen;
  if (v.sub(offset, DIRENT_HEADER_SIZE).u32(O_INODE) !== 0) {
    const nlen = dirRecLen(v.u8(offset + O_NAME_LEN));
    v.setU16(offset + O_REC_LEN, recLenToDisk(nlen, blockSize));
    at = offset + nlen;
    len = recLen - nlen;
  }
  region.fill(0, at, at + len);
  writeDirEntry(region, at, { ...entry, recLen: len }, blockSize);
  return at;
}

/**
 * `ext4_generic_delete_entry`: removes the record at `offset` of `region`.
 * Its length goes to the previous record, or, for the first record, it
 * stays as an unused record (inode 0). The removed bytes are zeroed (the
 * kernel wipes them too). Throws Corrupt (DIRENT_*) at a malformed record
 * and DIR_ENTRY_OFFSET when no record starts at `offset`.
 */
export function deleteAt(
  region: Uint8Array,
  offset: number,
  opts: DirParseOptions,
  blockSize: number,
): void {
  // Offsets and lengths only: the cursor is reused from record to record.
  let prevOffset = -1;
  let prevRecLen = 0;
  let curRecLen = -1;
  walkDirRecords(region, opts, (r) => {
    if (r.offset === offset) {
      curRecLen = r.recLen;
      return true;
    }
    prevOffset = r.offset;
    prevRecLen = r.recLen;
    return false;
  });
  if (curRecLen < 0) {
    throw corrupt("DIR_ENTRY_OFFSET", `no directory entry starts at ${offset}`, {
      ...opts.context,
      offset,
    });
  }
  const v = new ByteView(region);
  if (prevOffset >= 0) {
    v.setU16(prevOffset + O_REC_LEN, recLenToDisk(prevRecLen + curRecLen, blockSize));
    region.fill(0, offset, offset + curRecLen);
  } else {
    v.setU32(offset, 0);
    region.fill(0, offset + O_NAME_LEN, offset + curRecLen);
  }
}

/**
 * Walks a region and returns its records (copies of the names), with the
 * kernel's checks. Throws Corrupt (DIRENT_*).
 */
export function regionRecords(region: Uint8Array, opts: DirParseOptions): RawDirEntry[] {
  const out: RawDirEntry[] = [];
  scanDirEntries(region, opts, (e) => {
    out.push({ ...e, name: e.name.slice() });
    return false;
  });
  return out;
}

/** Bytes of a leaf block available to entries: all of it, less the checksum tail with metadata_csum. */
export function leafEnd(blockSize: number, metadataCsum: boolean): number {
  return blockSize - (metadataCsum ? DIRENT_TAIL_SIZE : 0);
}

/**
 * Lays out a leaf block: `entries` packed at their minimal lengths in the
 * given order, the last stretched to the end (or one unused record covering
 * the block when there are none), and the checksum tail when `inodeSeed` is
 * given (metadata_csum). Returns null when the entries do not fit.
 */
export function buildLeaf(
  entries: readonly NewEntry[],
  blockSize: number,
  inodeSeed: number | null,
): Uint8Array | null {
  const end = leafEnd(blockSize, inodeSeed !== null);
  let used = 0;
  for (const e of entries) used += dirRecLen(e.name.length);
  if (used > end) return null;
  const b = new Uint8Array(blockSize);
  if (entries.length === 0) {
    writeDirEntry(
      b,
      0,
      { inode: 0, recLen: end, name: new Uint8Array(0), fileType: DirFileType.Unknown },
      blockSize,
    );
  }
  let off = 0;
  entries.forEach((e, i) => {
    const recLen = i === entries.length - 1 ? end - off : dirRecLen(e.name.length);
    writeDirEntry(b, off, { ...e, recLen }, blockSize);
    off += recLen;
  });
  if (inodeSeed !== null) writeDirTail(b, blockSize, inodeSeed);
  return b;
}

/** Recomputes a leaf block's checksum tail when `inodeSeed` is given (metadata_csum). */
export function sealLeaf(block: Uint8Array, blockSize: number, inodeSeed: number | null): void {
  if (inodeSeed !== null) writeDirTail(block, blockSize, inodeSeed);
}
