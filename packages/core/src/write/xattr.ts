/**
 * Writing extended attributes (fs/ext4/xattr.c): entries in the inode body
 * after i_extra_isize and in one shared xattr block, laid out as the kernel
 * lays them out (entries growing from the start, values packed down from
 * the end, each padded to 4; entry hashes; in a block the entries sorted by
 * index, name length and name, the block hash, h_refcount and the
 * checksum). A value goes to the inode body first and to the block when
 * the body has no room (ext4_xattr_set_handle); a block shared with other
 * inodes is copied before it changes and freed when its last user goes.
 */
import { fsError } from "../errors.js";
import { EXT4_GOOD_OLD_INODE_SIZE } from "../format/inode.js";
import {
  EXT4_XATTR_INDEX_SYSTEM,
  EXT4_XATTR_MAGIC,
  parseXattrBlock,
  XATTR_ENTRY,
  XATTR_HEADER,
  type XattrBlock,
  xattrBlockChecksum,
  xattrBlockHash,
  xattrEntryHash,
} from "../format/xattr.js";
import type { Inode } from "../inode.js";
import { ByteView } from "../view.js";
import type { SpacePolicy, WorkInode, WriteEngine } from "./engine.js";

/** One attribute as stored: name index, name suffix bytes, inline value. */
export interface XattrItem {
  readonly index: number;
  readonly name: Uint8Array;
  readonly value: Uint8Array;
}

const pad4 = (n: number): number => (n + 3) & ~3;
const entrySize = (it: XattrItem): number => pad4(XATTR_ENTRY.size + it.name.length);
const valueSize = (it: XattrItem): number => pad4(it.value.length);

/** Bytes an item takes: its entry plus its padded value. */
export function itemSize(it: XattrItem): number {
  return entrySize(it) + valueSize(it);
}

/** True when two items have the same index and name. */
export function sameName(
  a: { index: number; name: Uint8Array },
  b: { index: number; name: Uint8Array },
): boolean {
  return (
    a.index === b.index &&
    a.name.length === b.name.length &&
    a.name.every((c, i) => c === b.name[i])
  );
}

/** The kernel's block order: by name index, then name length, then the name bytes. */
export function compareItems(a: XattrItem, b: XattrItem): number {
  if (a.index !== b.index) return a.index - b.index;
  if (a.name.length !== b.name.length) return a.name.length - b.name.length;
  for (let i = 0; i < a.name.length; i++) {
    // OK to assert: i < both lengths (equal).
    const d = a.name[i]! - b.name[i]!;
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * Lays out `items` in `region`: entries from `entriesStart`, a zero word
 * after the last, values packed down from the end with offsets relative to
 * `valueBase`. Returns the entry hashes, or null when they do not fit.
 */
function encodeItems(
  region: ByteView,
  entriesStart: number,
  valueBase: number,
  items: readonly XattrItem[],
): number[] | null {
  let need = entriesStart + 4;
  for (const it of items) need += itemSize(it);
  if (need > region.length) return null;
  region.slice(entriesStart).fill(0);
  let off = entriesStart;
  let valueEnd = region.length;
  const hashes: number[] = [];
  for (const it of items) {
    const e = region.sub(off, XATTR_ENTRY.size);
    let valueOffs = 0;
    if (it.value.length > 0) {
      valueEnd -= valueSize(it);
      region.slice(valueEnd, it.value.length).set(it.value);
      valueOffs = valueEnd - valueBase;
    }
    const hash = xattrEntryHash(it.name, it.value);
    hashes.push(hash);
    XATTR_ENTRY.set(e, "e_name_len", it.name.length);
    XATTR_ENTRY.set(e, "e_name_index", it.index);
    XATTR_ENTRY.set(e, "e_value_offs", valueOffs);
    XATTR_ENTRY.set(e, "e_value_inum", 0);
    XATTR_ENTRY.set(e, "e_value_size", it.value.length);
    XATTR_ENTRY.set(e, "e_hash", hash);
    region.slice(off + XATTR_ENTRY.size, it.name.length).set(it.name);
    off += entrySize(it);
  }
  return hashes;
}

// ---- inode body ----

/** Where the in-inode area starts (the magic word): 128 + i_extra_isize. */
function ibodyStart(w: WorkInode): number {
  return EXT4_GOOD_OLD_INODE_SIZE + w.f.extraIsize;
}

/** Bytes for entries, values and the end marker in the inode body (0 when there is no room at all). */
export function ibodyRoom(e: WriteEngine, w: WorkInode): number {
  return Math.max(0, e.geo.inodeSize - ibodyStart(w) - 4);
}

/** The items in the inode body of `inode` (values kept in EA inodes are not supported for writing). */
export function ibodyItems(inode: Inode): XattrItem[] {
  return inode.inodeXattrs().map((x) => {
    if (x.value === null) {
      throw fsError(
        "NotSupported",
        "XATTR_EA_INODE_WRITE",
        "xattr values in EA inodes are not written",
        {
          inode: inode.ino,
        },
      );
    }
    return { index: x.nameIndex, name: x.nameBytes, value: x.value };
  });
}

/** True when `items` fit in the inode body of `w`. */
export function ibodyFits(e: WriteEngine, w: WorkInode, items: readonly XattrItem[]): boolean {
  if (items.length === 0) return true;
  let need = 4;
  for (const it of items) need += itemSize(it);
  return ibodyRoom(e, w) > 0 && need <= ibodyRoom(e, w);
}

/**
 * Writes `items` into the inode body of `w` (the magic, entries, values);
 * no items clears the area, magic included, as ext4_xattr_ibody_set does.
 * Returns false (changing nothing) when they do not fit.
 */
export function writeIbody(e: WriteEngine, w: WorkInode, items: readonly XattrItem[]): boolean {
  if (!ibodyFits(e, w, items)) return false;
  const start = ibodyStart(w);
  const size = e.geo.inodeSize;
  if (start + 4 > size) return items.length === 0;
  const body = new ByteView(w.raw, { inode: w.ino }, start, size - start);
  if (items.length === 0) {
    body.slice().fill(0);
    return true;
  }
  body.setU32(0, EXT4_XATTR_MAGIC);
  const region = new ByteView(w.raw, { inode: w.ino }, start + 4, size - start - 4);
  return encodeItems(region, 0, 0, items) !== null;
}

// ---- the xattr block ----

/** The items of `inode`'s xattr block and its refcount (none when i_file_acl is 0). Throws Ext4Error. */
export function blockItems(e: WriteEngine, inode: Inode): { items: XattrItem[]; refcount: number } {
  if (inode.fileAcl === 0) return { items: [], refcount: 0 };
  const blk = parseBlockAt(e, inode.fileAcl, inode.ino);
  const items = blk.entries.map((x) => {
    if (x.value === null) {
      throw fsError(
        "NotSupported",
        "XATTR_EA_INODE_WRITE",
        "xattr values in EA inodes are not written",
        {
          inode: inode.ino,
        },
      );
    }
    return { index: x.nameIndex, name: x.nameBytes, value: x.value };
  });
  return { items, refcount: blk.refcount };
}

/** True when sorted `items` fit in one xattr block. */
export function blockFits(e: WriteEngine, items: readonly XattrItem[]): boolean {
  let need = XATTR_HEADER.size + 4;
  for (const it of items) need += itemSize(it);
  return need <= e.blockSize;
}

/** Encodes a whole xattr block image for `items` (sorted here) with `refcount`. */
function blockImage(
  e: WriteEngine,
  items: readonly XattrItem[],
  refcount: number,
  blockNr: number,
): Uint8Array {
  const buf = new Uint8Array(e.blockSize);
  const v = new ByteView(buf);
  const sorted = [...items].sort(compareItems);
  const hashes = encodeItems(v, XATTR_HEADER.size, 0, sorted);
  // OK to throw: callers check blockFits first.
  if (hashes === null)
    throw fsError("NoSpace", "XATTR_BLOCK_FULL", "attributes do not fit a block");
  XATTR_HEADER.set(v, "h_magic", EXT4_XATTR_MAGIC);
  XATTR_HEADER.set(v, "h_refcount", refcount);
  XATTR_HEADER.set(v, "h_blocks", 1);
  XATTR_HEADER.set(v, "h_hash", xattrBlockHash(hashes));
  if (e.geo.features.metadataCsum) {
    XATTR_HEADER.set(v, "h_checksum", xattrBlockChecksum(e.geo.csumSeed, blockNr, buf));
  }
  return buf;
}

/** Parses the xattr block at `block` (checksum verified as the filesystem verifies). Throws Ext4Error. */
export function parseBlockAt(e: WriteEngine, block: number, ino: number): XattrBlock {
  const sb = e.geo;
  e.alloc.checkFileBlocks(block, 1, { inode: ino });
  return parseXattrBlock(e.host.readBlock(block, { inode: ino }), block, {
    eaInode: sb.features.has("ea_inode"),
    inodesCount: sb.inodesCount,
    csumSeed: sb.features.metadataCsum ? sb.csumSeed : null,
    verifyChecksum: e.host.verifyChecksums,
  });
}

/** Changes h_refcount of an existing block (and its checksum). */
function setRefcount(e: WriteEngine, block: number, refcount: number, ino: number): void {
  const buf = e.blockForWrite(block, { inode: ino });
  const v = new ByteView(buf, { inode: ino, block });
  XATTR_HEADER.set(v, "h_refcount", refcount);
  if (e.geo.features.metadataCsum) {
    XATTR_HEADER.set(v, "h_checksum", xattrBlockChecksum(e.geo.csumSeed, block, buf));
  }
  e.dirty(block);
}

/**
 * Drops `w`'s reference to its xattr block: h_refcount lowered, or the
 * block freed when `w` was its last user; i_file_acl and i_blocks follow.
 * Throws Ext4Error.
 */
export function releaseXattrBlock(e: WriteEngine, w: WorkInode): void {
  const block = w.f.fileAcl;
  if (block === 0) return;
  const refcount = parseBlockAt(e, block, w.ino).refcount;
  if (refcount > 1) setRefcount(e, block, refcount - 1, w.ino);
  else e.alloc.freeBlocks(block, 1, { inode: w.ino });
  w.f.fileAcl = 0;
  w.blocks512 = Math.max(0, w.blocks512 - e.blockSize / 512);
}

/**
 * Makes `w`'s xattr block hold `items`: none releases the block; a block
 * only `w` uses is rewritten in place; a shared block (or none) means a new
 * block near the inode's group, the shared one keeping its other users.
 * Throws NoSpace (the items do not fit a block: XATTR_NO_SPACE; or no free
 * block), Ext4Error.
 */
export function writeXattrBlock(
  e: WriteEngine,
  w: WorkInode,
  items: readonly XattrItem[],
  policy: SpacePolicy,
): void {
  if (items.length === 0) {
    releaseXattrBlock(e, w);
    return;
  }
  if (!blockFits(e, items)) {
    throw fsError("NoSpace", "XATTR_NO_SPACE", "the attributes do not fit in an xattr block", {
      inode: w.ino,
    });
  }
  const old = w.f.fileAcl;
  let refcount = 0;
  if (old !== 0) refcount = parseBlockAt(e, old, w.ino).refcount;
  if (old !== 0 && refcount <= 1) {
    e.alloc.checkFileBlocks(old, 1, { inode: w.ino });
    const img = blockImage(e, items, 1, old);
    const buf = e.blockForWrite(old, { inode: w.ino });
    buf.set(img);
    e.dirty(old);
    return;
  }
  const goal = e.alloc.inodeGoal(w.ino, false);
  const { start } = e.alloc.allocBlocks(goal, 1, policy);
  const img = blockImage(e, items, 1, start);
  const buf = e.zeroBlock(start);
  buf.set(img);
  e.dirty(start);
  if (old !== 0) setRefcount(e, old, refcount - 1, w.ino);
  else w.blocks512 += e.blockSize / 512;
  w.f.fileAcl = start;
}

/** True when `items` include the inline-data attribute system.data. */
export function isSystemData(it: { index: number; name: Uint8Array }): boolean {
  return (
    it.index === EXT4_XATTR_INDEX_SYSTEM &&
    it.name.length === 4 &&
    it.name[0] === 0x64 &&
    it.name[1] === 0x61 &&
    it.name[2] === 0x74 &&
    it.name[3] === 0x61
  );
}

/** The name "data" of system.data. */
export const SYSTEM_DATA_NAME = new Uint8Array([0x64, 0x61, 0x74, 0x61]);
