/**
 * Inline data (fs/ext4/inline.c): a small file's bytes in i_block (60
 * bytes) and then in the value of the in-inode xattr "system.data". New
 * files start inline when the feature is on and their first write fits
 * (EXT4_STATE_MAY_INLINE_DATA), and move out to a block the way
 * ext4_convert_inline_data_to_extent does when they outgrow the inode.
 */
import { fsError } from "../errors.js";
import { InodeFlags } from "../format/inode.js";
import { EXT4_XATTR_INDEX_SYSTEM } from "../format/xattr.js";
import { EXT4_MIN_INLINE_DATA_SIZE } from "../inode.js";
import type { WorkInode, WriteEngine } from "./engine.js";
import {
  ibodyItems,
  ibodyRoom,
  isSystemData,
  itemSize,
  SYSTEM_DATA_NAME,
  writeIbody,
  type XattrItem,
} from "./xattr.js";

/** The in-inode items of a work inode (parsed from its raw bytes). */
export function workIbodyItems(e: WriteEngine, w: WorkInode): XattrItem[] {
  return ibodyItems(e.inodeOf(w));
}

/**
 * The largest inline content `w` can hold: 60 bytes of i_block plus the
 * largest system.data value that fits beside its other in-inode
 * attributes (get_max_inline_xattr_value_size); 0 when the inode body has
 * no room for the system.data entry at all.
 */
export function inlineCapacity(e: WriteEngine, w: WorkInode): number {
  const room = ibodyRoom(e, w);
  if (room === 0) return 0;
  let used = 4;
  for (const it of workIbodyItems(e, w)) if (!isSystemData(it)) used += itemSize(it);
  const entry = itemSize({
    index: EXT4_XATTR_INDEX_SYSTEM,
    name: SYSTEM_DATA_NAME,
    value: new Uint8Array(0),
  });
  const free = room - used - entry;
  if (free < 0) return 0;
  return EXT4_MIN_INLINE_DATA_SIZE + (free & ~3);
}

/** The inline content of `w` (i_block then the system.data value), or null without EXT4_INLINE_DATA_FL. */
export function inlineContent(e: WriteEngine, w: WorkInode): Uint8Array | null {
  return e.inodeOf(w).inlineData();
}

/**
 * Stores `data` as the inline content of `w`: the first 60 bytes in i_block
 * (zero-padded), the rest as the system.data value (created when absent,
 * empty when the content fits i_block). Does not change i_size. Throws
 * NoSpace INLINE_FULL (changing nothing) when it does not fit.
 */
export function setInlineContent(e: WriteEngine, w: WorkInode, data: Uint8Array): void {
  const items = workIbodyItems(e, w).filter((it) => !isSystemData(it));
  const rest =
    data.length > EXT4_MIN_INLINE_DATA_SIZE
      ? data.slice(EXT4_MIN_INLINE_DATA_SIZE)
      : new Uint8Array(0);
  items.push({ index: EXT4_XATTR_INDEX_SYSTEM, name: SYSTEM_DATA_NAME, value: rest });
  if (!writeIbody(e, w, items)) {
    throw fsError("NoSpace", "INLINE_FULL", `${data.length} bytes do not fit in the inode`, {
      inode: w.ino,
    });
  }
  const iBlock = new Uint8Array(EXT4_MIN_INLINE_DATA_SIZE);
  iBlock.set(data.subarray(0, EXT4_MIN_INLINE_DATA_SIZE));
  w.f.iBlock = iBlock;
}

/** Makes an empty block-mapped `w` inline (ext4_create_inline_data): flag set, extents flag cleared, system.data "". */
export function makeInline(e: WriteEngine, w: WorkInode): void {
  setInlineContent(e, w, new Uint8Array(0));
  w.f.flags = ((w.f.flags | InodeFlags.INLINE_DATA) & ~InodeFlags.EXTENTS) >>> 0;
}

/**
 * Drops the inline content of `w` (EXT4_INLINE_DATA_FL and system.data
 * removed) and gives it an empty block map: an extent root with the extent
 * feature, an empty indirect map otherwise. i_size becomes 0. Returns the
 * content it had.
 */
export function clearInline(e: WriteEngine, w: WorkInode): Uint8Array {
  const content = inlineContent(e, w) ?? new Uint8Array(0);
  const items = workIbodyItems(e, w).filter((it) => !isSystemData(it));
  writeIbody(e, w, items);
  w.f.flags = (w.f.flags & ~InodeFlags.INLINE_DATA) >>> 0;
  if (e.geo.features.has("extent")) {
    w.f.flags = (w.f.flags | InodeFlags.EXTENTS) >>> 0;
    e.initExtentRoot(w);
  } else {
    w.f.iBlock = new Uint8Array(60);
  }
  w.f.size = 0;
  return content;
}
