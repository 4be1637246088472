/**
 * What the block-map writers (extent trees, indirect maps) need from the
 * filesystem besides reading: buffers to change, the dirty choke point,
 * metadata block allocation, and freeing.
 */
import type { Ext4ErrorContext } from "../errors.js";
import type { MapEnv } from "./types.js";

/** The environment of a map writer. Every block it hands out is already range-checked. */
export interface MapWriteEnv extends MapEnv {
  /** The cache buffer of an existing map block, to change and then pass to {@link dirty}. */
  blockForWrite(block: number, ctx: Ext4ErrorContext): Uint8Array;
  /** A zeroed, dirty cache buffer for a block just allocated. */
  zeroBlock(block: number): Uint8Array;
  /** Declares a changed map block (before any other call). */
  dirty(block: number): void;
  /**
   * Allocates `count` blocks for the map itself near `goal` (all of them or
   * none: throws NoSpace, leaving nothing allocated).
   */
  allocMeta(goal: number, count: number): number[];
  /** Frees a map block that is no longer used. */
  freeMeta(block: number): void;
  /** Frees data blocks unmapped by a removal. */
  freeData(physical: number, length: number): void;
}
