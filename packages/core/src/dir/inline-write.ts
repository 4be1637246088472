/**
 * Changing inline directories (fs/ext4/inline.c): entries go into i_block
 * after the 4-byte parent number first, then into the system.data value
 * (grown to the largest size the inode body allows the first time it is
 * needed, as `ext4_update_inline_dir` does), and when neither has room the
 * directory moves out to a block (`ext4_convert_inline_data_nolock`:
 * "." and ".." written as real entries, the inline entries copied after
 * them, the last one stretched to the end of the block).
 */
import { corrupt, type Ext4Error, isExt4Error } from "../errors.js";
import { ByteView } from "../view.js";
import { DirFileType, INLINE_DOTDOT_SIZE, INLINE_IBLOCK_SIZE } from "./constants.js";
import { findSlot, insertAt, leafEnd, type NewEntry, regionRecords, sealLeaf } from "./edit.js";
import {
  type DirParseOptions,
  dirEntry2Struct,
  dirRecLen,
  recLenToDisk,
  writeDirEntry,
} from "./entry.js";
import type { DirInode, DirWriteHost } from "./host.js";
import { parseOptions } from "./htree.js";
import { inlineDirLayout } from "./inline.js";
import type { DirWriter } from "./writer.js";

/**
 * rec_len base for inline regions: they are far below 64 KiB, so their
 * rec_lens are stored as plain numbers, which any base below 65536 reads
 * and writes unchanged.
 */
export const INLINE_REC_LEN_BASE = 65535;

/** One linear part of the inline data, as a view into a private copy. */
export interface InlinePart {
  /** Offset of the part in the inline data. */
  readonly start: number;
  readonly bytes: Uint8Array;
  readonly opts: DirParseOptions;
}

/** A private copy of the directory's inline data. Throws Corrupt INLINE_DATA_MISSING, INLINE_DIR_TRUNCATED. */
export function inlineCopy(w: DirWriter): Uint8Array {
  const data = w.dir.inlineData();
  if (data === null) {
    throw corrupt("INLINE_DATA_MISSING", "inline directory without inline data", w.ctx());
  }
  if (data.length < INLINE_IBLOCK_SIZE) {
    throw corrupt(
      "INLINE_DIR_TRUNCATED",
      `inline directory data of ${data.length} bytes is shorter than i_block`,
      w.ctx(),
    );
  }
  return data.slice();
}

/**
 * The entry parts of inline data `data` (i_block after the parent number,
 * then system.data when present), every record checked (the kernel's
 * `ext4_check_all_de` before it touches an inline directory). Throws Corrupt.
 */
export function inlineParts(w: DirWriter, data: Uint8Array): InlinePart[] {
  const layout = inlineDirLayout(data, w.ctx());
  return layout.regions.map((r) => {
    const opts: DirParseOptions = {
      ...parseOptions(w.d, { ...w.ctx(), offset: r.start }),
      blockSize: INLINE_REC_LEN_BASE,
    };
    // OK to assert: regions are subarrays of `data`, so these are views of the copy.
    const bytes = data.subarray(r.start, r.start + r.bytes.length);
    regionRecords(bytes, opts);
    return { start: r.start, bytes, opts };
  });
}

/** The part holding inline data offset `offset`. Throws Corrupt DIR_ENTRY_OFFSET. */
export function partAt(w: DirWriter, parts: readonly InlinePart[], offset: number): InlinePart {
  const p = parts.find((q) => offset >= q.start && offset < q.start + q.bytes.length);
  if (p === undefined) {
    throw corrupt("DIR_ENTRY_OFFSET", `no inline directory part holds offset ${offset}`, {
      ...w.ctx(),
      offset,
    });
  }
  return p;
}

/** Stores new inline data and takes the re-read inode. Returns the new i_size the caller must store. */
export function storeInline(w: DirWriter, data: Uint8Array): number {
  w.refresh(w.host.writeInlineData(w.dir, data));
  return data.length;
}

const isInlineFull = (e: unknown): e is Ext4Error =>
  isExt4Error(e, "NoSpace") && e.code === "INLINE_FULL";

/**
 * `ext4_try_add_inline_entry`: adds `entry` to the inline directory if it
 * fits, in i_block first, then in system.data (growing an empty one to the
 * most the inode allows). Returns the new i_size when added, or null when
 * the directory must move to a block (nothing changed then). Throws Corrupt,
 * Exists (the name is met before a slot).
 */
export function inlineAdd(w: DirWriter, entry: NewEntry): number | null {
  const data = inlineCopy(w);
  const parts = inlineParts(w, data);
  const need = dirRecLen(entry.name.length);
  // OK to assert: inlineDirLayout always returns the i_block part first.
  const ibody = parts[0]!;
  const slot = findSlot(ibody.bytes, ibody.opts, entry.name, need);
  if (slot !== null) {
    insertAt(ibody.bytes, slot, entry, INLINE_REC_LEN_BASE);
    return storeInline(w, data);
  }
  let grown = data;
  if (data.length === INLINE_IBLOCK_SIZE) {
    // ext4_update_inline_dir: system.data grows once, to all the room the inode body has.
    const room = (w.host.maxInlineSize(w.dir) - INLINE_IBLOCK_SIZE) & ~3;
    if (room <= dirRecLen(1)) return null;
    grown = new Uint8Array(INLINE_IBLOCK_SIZE + room);
    grown.set(data);
    writeDirEntry(
      grown,
      INLINE_IBLOCK_SIZE,
      { inode: 0, recLen: room, name: new Uint8Array(0), fileType: 0 },
      INLINE_REC_LEN_BASE,
    );
  }
  if (grown.length === INLINE_IBLOCK_SIZE) return null;
  const xattr = grown.subarray(INLINE_IBLOCK_SIZE);
  const opts = parts[1]?.opts ?? { ...ibody.opts, context: { ...w.ctx(), offset: 60 } };
  const at = findSlot(xattr, opts, entry.name, need);
  if (at === null) return null;
  insertAt(xattr, at, entry, INLINE_REC_LEN_BASE);
  try {
    return storeInline(w, grown);
  } catch (e) {
    // The inode body lost room since maxInlineSize was asked: move out instead.
    if (grown !== data && isInlineFull(e)) return null;
    throw e;
  }
}

/**
 * Moves an inline directory to its first block
 * (`ext4_convert_inline_data_nolock` + `ext4_finish_convert_inline_dir`):
 * "." and ".." as 12-byte entries, the inline entries after them, the last
 * stretched to the end, the checksum tail with metadata_csum. Inline data
 * is cleared first (the block map needs i_block); if the block cannot be
 * allocated, the inline data is put back, as the kernel's
 * `ext4_restore_inline_data` does, and the allocation error is thrown.
 * Throws Corrupt (before anything changes), NoSpace.
 */
export function inlineToBlock(w: DirWriter): void {
  const data = inlineCopy(w);
  inlineParts(w, data);
  const bs = w.bs;
  const end = leafEnd(bs, w.seed !== null);
  const payload = data.subarray(INLINE_DOTDOT_SIZE);
  const head = 2 * dirRecLen(2);
  if (head + payload.length > end) {
    throw corrupt(
      "INLINE_DIR_TOO_BIG",
      `inline directory of ${data.length} bytes does not fit in a block`,
      w.ctx(),
    );
  }
  const parent = new ByteView(data).u32(0);
  const dirType = w.d.filetype ? DirFileType.Directory : DirFileType.Unknown;
  const block = new Uint8Array(bs);
  const dots = new Uint8Array([0x2e, 0x2e]);
  writeDirEntry(
    block,
    0,
    { inode: w.dir.ino, recLen: 12, name: dots.subarray(0, 1), fileType: dirType },
    bs,
  );
  writeDirEntry(block, 12, { inode: parent, recLen: 12, name: dots, fileType: dirType }, bs);
  block.set(payload, head);
  // ext4_update_final_de: the last record now reaches the end of the entry space.
  const v = new ByteView(block);
  const O_REC_LEN = dirEntry2Struct.offsetOf("rec_len");
  let last = 12;
  // The parts were checked above: every rec_len is ≥ 12 and the chain ends at the payload's end.
  for (let off = head; off < head + payload.length; off += v.u16(off + O_REC_LEN)) last = off;
  v.setU16(last + O_REC_LEN, recLenToDisk(end - last, bs));
  sealLeaf(block, bs, w.seed);

  const saved = { data, flags: w.dir.flags, size: w.dir.size };
  const cleared = w.host.clearInlineData(w.dir);
  w.refresh(cleared);
  let grown: DirInode;
  try {
    grown = w.host.growDirectory(cleared, 0);
  } catch (e) {
    restoreInline(w.host, cleared.ino, saved);
    throw e;
  }
  w.refresh(grown);
  w.flags = grown.flags;
  w.commit(0, block);
}

/** Puts inline data back after a failed move to a block (best effort: the allocation error is what the caller sees). */
function restoreInline(
  host: DirWriteHost,
  ino: number,
  saved: { data: Uint8Array; flags: number; size: number },
): void {
  try {
    const inode = host.updateInode(ino, { flags: saved.flags, size: saved.size });
    host.writeInlineData(inode, saved.data);
  } catch {
    // Nothing better to do here: the caller reports the original failure.
  }
}
