/**
 * Inline directories (inline_data): the first 4 bytes of i_block hold the
 * parent's inode number ("." and ".." are not stored), entries fill the
 * other 56 bytes of i_block, and continue in the value of the system.data
 * xattr. Each of the two parts is a linear region of its own: an entry
 * never straddles them (fs/ext4/inline.c adds entries to one or the other).
 */
import { corrupt, type Ext4ErrorContext } from "../errors.js";
import { ByteView } from "../view.js";
import { INLINE_DOTDOT_SIZE, INLINE_IBLOCK_SIZE } from "./constants.js";

/** One linear part of an inline directory. */
export interface InlineRegion {
  /** Offset of the part in the inline data (i_block ‖ system.data). */
  readonly start: number;
  readonly bytes: Uint8Array;
  /** "ibody" for i_block after the parent number, "xattr" for system.data. */
  readonly part: "ibody" | "xattr";
}

/** The layout of an inline directory. */
export interface InlineDirLayout {
  /** The parent directory's inode number (i_block[0]). */
  readonly parent: number;
  /** The i_block part, then the system.data part when it is non-empty. */
  readonly regions: readonly InlineRegion[];
}

/**
 * Splits inline data (60 bytes of i_block followed by system.data) into the
 * parent number and the entry regions. Throws Corrupt INLINE_DIR_TRUNCATED
 * when i_block is incomplete.
 */
export function inlineDirLayout(data: Uint8Array, context: Ext4ErrorContext = {}): InlineDirLayout {
  if (data.length < INLINE_IBLOCK_SIZE) {
    throw corrupt(
      "INLINE_DIR_TRUNCATED",
      `inline directory data of ${data.length} bytes is shorter than i_block`,
      context,
    );
  }
  const parent = new ByteView(data, context).u32(0);
  const regions: InlineRegion[] = [
    {
      start: INLINE_DOTDOT_SIZE,
      bytes: data.subarray(INLINE_DOTDOT_SIZE, INLINE_IBLOCK_SIZE),
      part: "ibody",
    },
  ];
  if (data.length > INLINE_IBLOCK_SIZE) {
    regions.push({
      start: INLINE_IBLOCK_SIZE,
      bytes: data.subarray(INLINE_IBLOCK_SIZE),
      part: "xattr",
    });
  }
  return { parent, regions };
}

/**
 * readdir positions of inline entries, as `ext4_read_inline_dir` hands them
 * out: "." at 0, ".." at 12, and a stored entry at its offset in the inline
 * data plus 20 (as if "." and ".." took their block-sized 24 bytes instead
 * of the 4-byte parent number).
 */
export const InlinePosition = {
  dot: 0,
  dotdot: 12,
  /** Position of the entry at `offset` in the inline data. */
  of: (offset: number): number => offset + 20,
  /** Inline data offset of an entry position (inverse of `of`). */
  offsetOf: (position: number): number => position - 20,
} as const;
