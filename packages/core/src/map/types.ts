/**
 * Shared types of the block-map walkers: the result of mapping a logical
 * range (as the kernel's ext4_map_blocks answers it) and what a walker needs
 * from the filesystem.
 */
import type { Ext4ErrorContext } from "../errors.js";

/** A run of logical blocks mapped to consecutive physical blocks. */
export interface MappedRun {
  readonly kind: "mapped";
  readonly logical: number;
  readonly physical: number;
  readonly length: number;
  /** An unwritten (preallocated) extent: allocated, reads as zeros. */
  readonly unwritten: boolean;
}

/** A run of logical blocks with nothing allocated: reads as zeros. */
export interface HoleRun {
  readonly kind: "hole";
  readonly logical: number;
  readonly length: number;
}

/** One piece of a block map. */
export type BlockRun = MappedRun | HoleRun;

/** What a block-map walker needs from the filesystem. */
export interface MapEnv {
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly firstDataBlock: number;
  /**
   * The bytes of physical block `block` (a transient cache buffer; decode it
   * before the next call). The walkers check the range first. Throws Ext4Error.
   */
  readBlock(block: number, ctx: Ext4ErrorContext): Uint8Array;
  /** The inode's checksum seed for extent block tails, or null without metadata_csum. */
  readonly inodeSeed: number | null;
  /** Throw BadChecksum on a bad extent tail (else ignore it). */
  readonly verifyChecksums: boolean;
}

/** A metadata block of a file's map: an extent tree node or an indirect block. */
export interface MapMetadataBlock {
  readonly kind: "metadata";
  readonly physical: number;
  /** Extent tree: the node's depth; indirect: 1 single, 2 double, 3 triple. */
  readonly level: number;
}

/** An entry of a file's block list in the order libext2fs's block iterator reports them. */
export type BlockListEntry = MapMetadataBlock | MappedRun;

/**
 * Appends a run, merging with the previous one when contiguous (same kind,
 * same unwritten state, physically adjacent for mapped runs).
 */
export function pushRun(out: BlockRun[], run: BlockRun): void {
  if (run.length === 0) return;
  const prev = out[out.length - 1];
  if (prev !== undefined && prev.logical + prev.length === run.logical) {
    if (prev.kind === "hole" && run.kind === "hole") {
      out[out.length - 1] = { ...prev, length: prev.length + run.length };
      return;
    }
    if (
      prev.kind === "mapped" &&
      run.kind === "mapped" &&
      prev.unwritten === run.unwritten &&
      prev.physical + prev.length === run.physical
    ) {
      out[out.length - 1] = { ...prev, length: prev.length + run.length };
      return;
    }
  }
  out.push(run);
}

/** Fills the gaps of `runs` (sorted, non-overlapping) within [from, to) with holes. */
export function withHoles(runs: readonly BlockRun[], from: number, to: number): BlockRun[] {
  const out: BlockRun[] = [];
  let pos = from;
  for (const r of runs) {
    if (r.logical > pos) pushRun(out, { kind: "hole", logical: pos, length: r.logical - pos });
    pushRun(out, r);
    pos = r.logical + r.length;
  }
  if (pos < to) pushRun(out, { kind: "hole", logical: pos, length: to - pos });
  return out;
}
