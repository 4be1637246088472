/**
 * The filesystem-wide metadata that changes while a filesystem is open: the
 * superblock bytes and the group descriptors. Both are kept decoded in
 * memory (the allocator reads free counts on every call) and go back to
 * their cache blocks through the field tables: descriptors at the end of
 * every operation, the superblock at sync, as the kernel writes it lazily.
 */
import { type GroupDesc, parseGroupDesc } from "../format/group-desc.js";
import {
  encodeRawSuperblock,
  parseSuperblock,
  type RawSuperblock,
  SUPERBLOCK,
  type Superblock,
  type SuperblockField,
} from "../format/superblock.js";
import { ByteView } from "../view.js";

/** The numeric fields of a descriptor the writer changes. */
export type GroupDescChanges = Partial<
  Pick<
    GroupDesc,
    | "freeBlocksCount"
    | "freeInodesCount"
    | "usedDirsCount"
    | "flags"
    | "itableUnused"
    | "blockBitmapCsum"
    | "inodeBitmapCsum"
  >
>;

/** Superblock and descriptors as they are now (read side and write side share it). */
export class MetaState {
  /** The 1024 superblock bytes as they are now (changed in place, written at sync). */
  readonly sbBytes: Uint8Array;
  private readonly sbView: ByteView;
  private parsed: Superblock;
  private stale = false;
  /** Current descriptors, replaced (never mutated) on change. */
  readonly groups: GroupDesc[];
  /** Groups whose descriptor must be encoded back to the GDT at the end of the operation. */
  readonly dirtyGroups = new Set<number>();
  /** Groups whose block bitmap changed: its checksum must be recomputed. */
  readonly blockBitmapsChanged = new Set<number>();
  /** Groups whose inode bitmap changed. */
  readonly inodeBitmapsChanged = new Set<number>();
  /** The superblock bytes differ from what was last written to the cache. */
  sbChanged = false;

  /**
   * @param geo the superblock read at open: geometry never changes afterwards
   * @param groups the descriptors read at open
   */
  constructor(
    readonly geo: Superblock,
    groups: GroupDesc[],
  ) {
    this.sbBytes = geo.bytes.slice();
    this.sbView = new ByteView(this.sbBytes);
    this.parsed = geo;
    this.groups = groups;
  }

  /** The superblock as it is now (re-parsed after changes, without checksum verification). */
  get superblock(): Superblock {
    if (this.stale) {
      this.parsed = parseSuperblock(this.sbBytes, { verifyChecksum: false });
      this.stale = false;
    }
    return this.parsed;
  }

  /** Reads a numeric superblock field as it is now. */
  sbGet(field: SuperblockField): number {
    return SUPERBLOCK.get(this.sbView, field);
  }

  /** Sets a numeric superblock field. */
  sbSet(field: SuperblockField, value: number): void {
    SUPERBLOCK.set(this.sbView, field, value);
    this.stale = true;
    this.sbChanged = true;
  }

  /** Sets several superblock fields at once, byte arrays included (s_last_mounted, error function names). */
  sbSetRaw(raw: Partial<RawSuperblock>): void {
    encodeRawSuperblock(this.sbView, raw);
    this.stale = true;
    this.sbChanged = true;
  }

  /** Sets a `_lo`/`_hi` pair (the high word only when `withHigh`, as the kernel's 64bit setters do). */
  sbSetLoHi(lo: SuperblockField, hi: SuperblockField, value: number, withHigh: boolean): void {
    this.sbSet(lo, value % 2 ** 32);
    if (withHigh) this.sbSet(hi, Math.floor(value / 2 ** 32));
  }

  /** Sets a 40-bit timestamp (seconds, then bits 32-39 in the `_hi` byte). */
  sbSetTime(lo: SuperblockField, hi: SuperblockField, seconds: number): void {
    const s = Math.max(0, Math.floor(seconds));
    this.sbSet(lo, s % 2 ** 32);
    this.sbSet(hi, Math.floor(s / 2 ** 32) & 0xff);
  }

  /** Replaces descriptor `g` with `changes` applied and schedules it for encoding. */
  updateGroup(g: number, changes: GroupDescChanges): GroupDesc {
    // OK to assert: callers pass group numbers derived from validated geometry.
    const gd = { ...this.groups[g]!, ...changes };
    this.groups[g] = gd;
    this.dirtyGroups.add(g);
    return gd;
  }

  /**
   * Replaces descriptor `g` by the one parsed back from the bytes just
   * encoded (so `raw` and `checksum` are current). Throws Ext4Error if the
   * encoding does not validate (a bug).
   */
  reloadGroup(g: number, bytes: Uint8Array): void {
    // OK to assert: as in updateGroup.
    const old = this.groups[g]!;
    this.groups[g] = parseGroupDesc(this.geo, g, bytes, { location: old.location });
  }
}
