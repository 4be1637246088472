/**
 * The write engine of a filesystem opened read-write: the one place where
 * metadata buffers are marked dirty ({@link WriteEngine.dirty}, where a
 * journal will join each buffer to the running transaction), operations
 * (`op`) that leave every checksum consistent when they end, the inode
 * writer, the clock, and the per-inode state the kernel keeps in memory
 * (open counts, inline-data eligibility, orphan slots).
 *
 * Synchronous and single-threaded: an operation runs to completion before
 * the next starts, so nothing here needs a lock.
 */
import type { BufferCache } from "@ext4/iocache";
import { corrupt, type Ext4ErrorContext, fsError, io } from "../errors.js";
import { blockBitmapChecksum, inodeBitmapChecksum } from "../format/bitmap.js";
import { encodeExtentNode } from "../format/extent.js";
import {
  BG_BLOCK_BITMAP_CSUM_HI_END,
  BG_INODE_BITMAP_CSUM_HI_END,
  encodeGroupDesc,
} from "../format/group-desc.js";
import {
  EXT4_GOOD_OLD_INODE_SIZE,
  encodeInode,
  INODE,
  type InodeDecodeParams,
  type InodeFields,
  InodeFlags,
  inodeCsumSeed,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  setInodeChecksum,
  type Timestamp,
} from "../format/inode.js";
import {
  SUPERBLOCK_OFFSET,
  SUPERBLOCK_SIZE,
  type Superblock,
  setSuperblockChecksum,
} from "../format/superblock.js";
import type { XattrBlock } from "../format/xattr.js";
import { Inode } from "../inode.js";
import type { BlockListEntry, BlockRun } from "../map/types.js";
import { Allocator } from "./alloc.js";
import type { JournalWriter } from "./journal-writer.js";
import type { MetaState } from "./meta.js";

/** EXT4_EXTRA_TIMESTAMP_MAX: the latest second an inode with extra time fields holds (year 2446). */
export const EXT4_EXTRA_TIMESTAMP_MAX = 2 ** 34 - 1 - 2 ** 31;

// Where each timestamp's extra word ends, from the inode table: store() clamps every time it writes.
const extraEnd = (field: "i_ctime_extra" | "i_mtime_extra" | "i_atime_extra" | "i_crtime_extra") =>
  INODE.offsetOf(field) + INODE.field(field).width;
const ATIME_EXTRA_END = extraEnd("i_atime_extra");
const MTIME_EXTRA_END = extraEnd("i_mtime_extra");
const CTIME_EXTRA_END = extraEnd("i_ctime_extra");
const CRTIME_EXTRA_END = extraEnd("i_crtime_extra");
const CRTIME_END = INODE.offsetOf("i_crtime") + INODE.field("i_crtime").width;

/** What the engine needs from the filesystem's read side. */
export interface EngineHost {
  readonly cache: BufferCache;
  readonly verifyChecksums: boolean;
  readBlock(block: number, ctx?: Ext4ErrorContext): Uint8Array;
  readInode(ino: number): Inode;
  inodeFromRaw(ino: number, raw: Uint8Array): Inode;
  /**
   * A private, changeable copy of an inode's bytes (the first inodeSize of
   * `raw`; zeros when null), carved from a shared slab rather than given an
   * ArrayBuffer of its own.
   */
  inodeBuffer(raw: Uint8Array | null): Uint8Array;
  inodeLocation(ino: number): { group: number; index: number; block: number; offset: number };
  mapBlocks(inode: Inode, lblk: number, count: number): BlockRun[];
  blockList(inode: Inode): BlockListEntry[];
  readXattrBlock(inode: Inode): XattrBlock | null;
}

/** Inode fields, writable. */
export type MutableInodeFields = { -readonly [K in keyof InodeFields]: InodeFields[K] };

/**
 * An inode being changed: a mutable copy of its fields and of its on-disk
 * bytes (the in-inode xattr area lives there), and i_blocks in 512-byte
 * units whatever the unit on disk. {@link WriteEngine.store} writes it back.
 */
export class WorkInode {
  constructor(
    readonly ino: number,
    readonly f: MutableInodeFields,
    readonly raw: Uint8Array,
    public blocks512: number,
  ) {}

  /** The S_IFMT bits of i_mode. */
  get type(): number {
    return this.f.mode & S_IFMT;
  }
  /** True for a directory. */
  isDir(): boolean {
    return this.type === S_IFDIR;
  }
  /** True for a regular file. */
  isReg(): boolean {
    return this.type === S_IFREG;
  }
  /** True for a symlink. */
  isLink(): boolean {
    return this.type === S_IFLNK;
  }
  /** EXT4_EXTENTS_FL. */
  usesExtents(): boolean {
    return (this.f.flags & InodeFlags.EXTENTS) !== 0;
  }
  /** EXT4_INLINE_DATA_FL. */
  hasInline(): boolean {
    return (this.f.flags & InodeFlags.INLINE_DATA) !== 0;
  }
}

/** Who is asking for space: only root (or s_resuid / s_resgid) may use the reserved blocks. */
export interface SpacePolicy {
  /** The caller may use the root-reserved blocks (s_r_blocks_count). */
  readonly reserved: boolean;
  /**
   * Metadata the operation cannot do without (extent splits on punch or
   * conversion): may also use the kernel's s_resv_clusters pool.
   */
  readonly nofail?: boolean;
}

/** Options of the engine. */
export interface EngineOptions {
  /** The clock for timestamps (default: wall time with sub-millisecond nanoseconds). */
  readonly clock?: () => Timestamp;
  /** Random u32 source for i_generation (default Math.random). */
  readonly random?: () => number;
}

function wallClock(): Timestamp {
  const ms = performance.timeOrigin + performance.now();
  const sec = Math.floor(ms / 1000);
  return { sec, nsec: Math.min(999_999_999, Math.floor((ms - sec * 1000) * 1e6)) };
}

/** The write side of an open filesystem. Built by Filesystem.open with `writable: true`. */
export class WriteEngine {
  /** Block and inode allocation. */
  readonly alloc: Allocator;
  /** Free clusters (the kernel's s_freeclusters_counter), from the descriptors at open. */
  freeClusters: number;
  /** Free inodes (s_freeinodes_counter). */
  freeInodes: number;
  /** FUSE-style open counts: an unlinked inode with openers stays on the orphan list. */
  readonly openCounts = new Map<number, number>();
  /** Inodes created this session that may still become inline (EXT4_STATE_MAY_INLINE_DATA). */
  readonly mayInline = new Set<number>();
  /** O_TMPFILE inodes not linked yet: link() may give them their first name (I_LINKABLE). */
  readonly linkable = new Set<number>();
  /** Orphan file slots in use: inode → the orphan block and slot holding it. */
  readonly orphanSlots = new Map<number, { physical: number; slot: number }>();
  /** Bytes written through the cache at open, for s_kbytes_written. */
  private readonly bytesAtOpen: number;
  private readonly kbytesAtOpen: number;
  private depth = 0;
  /** Inodes decoded or written during the running operation (dropped when it ends). */
  private readonly inodes = new Map<number, Inode>();
  private readonly clock: () => Timestamp;
  private readonly random: () => number;
  /** The space policy of the operation running now (directory growth uses it). */
  policy: SpacePolicy = { reserved: false };
  /** Inode decoding parameters. */
  readonly inodeParams: InodeDecodeParams;
  /** The journal's running transaction, or null (no journal, or detached at unmount). */
  journal: JournalWriter | null = null;

  constructor(
    readonly host: EngineHost,
    readonly meta: MetaState,
    options: EngineOptions = {},
  ) {
    const sb = meta.geo;
    let fb = 0;
    let fi = 0;
    for (const g of meta.groups) {
      fb += g.freeBlocksCount;
      fi += g.freeInodesCount;
    }
    this.freeClusters = fb;
    this.freeInodes = fi;
    this.clock = options.clock ?? wallClock;
    this.random = options.random ?? (() => Math.floor(Math.random() * 2 ** 32));
    this.inodeParams = {
      inodeSize: sb.inodeSize,
      hugeFile: sb.features.has("huge_file"),
      is64bit: sb.features.has("64bit"),
    };
    this.bytesAtOpen = host.cache.stats().bytesWritten;
    this.kbytesAtOpen = sb.kbytesWritten;
    this.alloc = new Allocator(this);
  }

  /** The geometry and features read at open. */
  get geo(): Superblock {
    return this.meta.geo;
  }
  /** The cache. */
  get cache(): BufferCache {
    return this.host.cache;
  }
  /** Bytes per block. */
  get blockSize(): number {
    return this.meta.geo.blockSize;
  }

  /** The current time. */
  now(): Timestamp {
    return this.clock();
  }
  /** A random u32 (i_generation). */
  randomU32(): number {
    return this.random() >>> 0;
  }

  // ---- operations ----

  /**
   * Runs `fn` as one operation: when the outermost operation ends (normally
   * or by an exception), changed bitmaps get their checksums, changed
   * descriptors are encoded back into their GDT blocks and the superblock
   * counters are updated, so the cache always holds a consistent image
   * between operations. Re-entrant.
   */
  op<T>(fn: () => T): T {
    this.depth++;
    let ok = false;
    try {
      const r = fn();
      ok = true;
      return r;
    } finally {
      this.depth--;
      if (this.depth === 0) {
        if (ok) this.finishOp();
        else {
          try {
            this.finishOp();
          } catch {
            // The operation's own error is the one to report.
          }
        }
        // Between operations the cache is consistent: a transaction that
        // grew large commits here rather than waiting for the timer.
        const j = this.journal;
        if (ok && j?.full === true) io(() => j.commit());
      }
    }
  }

  /**
   * The choke point for metadata: every metadata block changed in the cache
   * is declared here right after the change (and before any other cache
   * call). It marks the buffer dirty and, with a journal, adds the block to
   * the running transaction, pinned until the commit.
   */
  dirty(block: number): void {
    this.host.cache.markDirty(block);
    this.journal?.join(block);
  }

  /** Blocks [start, start + count) were just freed (the journal revokes or forgets them). */
  blocksFreed(start: number, count: number): void {
    this.journal?.forget(start, count);
  }

  /** Marks a data block dirty (data is not journaled in ordered mode, so it bypasses {@link dirty}). */
  dirtyData(block: number): void {
    this.host.cache.markDirty(block);
  }

  /** The cache buffer of metadata block `block`, to change and then declare with {@link dirty}. Throws Ext4Error. */
  blockForWrite(block: number, ctx: Ext4ErrorContext = {}): Uint8Array {
    return this.host.readBlock(block, ctx);
  }

  /** A zeroed cache buffer for a newly allocated block (already dirty). Throws Ext4Error (Io). */
  zeroBlock(block: number): Uint8Array {
    const buf = this.host.cache.zero(block);
    this.dirty(block);
    return buf;
  }

  /** An inode read or written during the running operation, if any. */
  cachedInode(ino: number): Inode | undefined {
    return this.depth > 0 ? this.inodes.get(ino) : undefined;
  }

  /** Keeps an inode just decoded for the rest of the running operation. */
  rememberInode(inode: Inode): void {
    if (this.depth > 0) this.inodes.set(inode.ino, inode);
  }

  /** Forgets inode `ino` (its table slot changed behind the inode writer). */
  forgetInode(ino: number): void {
    this.inodes.delete(ino);
  }

  private finishOp(): void {
    this.inodes.clear();
    const sb = this.geo;
    const m = this.meta;
    if (sb.features.metadataCsum) {
      for (const g of m.blockBitmapsChanged) {
        // OK to assert: changed groups come from validated group numbers.
        const gd = m.groups[g]!;
        const c = blockBitmapChecksum(sb, this.host.readBlock(gd.blockBitmap, { group: g }));
        m.updateGroup(g, {
          blockBitmapCsum: sb.descSize >= BG_BLOCK_BITMAP_CSUM_HI_END ? c : c & 0xffff,
        });
      }
      for (const g of m.inodeBitmapsChanged) {
        // OK to assert: as above.
        const gd = m.groups[g]!;
        const c = inodeBitmapChecksum(sb, this.host.readBlock(gd.inodeBitmap, { group: g }));
        m.updateGroup(g, {
          inodeBitmapCsum: sb.descSize >= BG_INODE_BITMAP_CSUM_HI_END ? c : c & 0xffff,
        });
      }
    }
    m.blockBitmapsChanged.clear();
    m.inodeBitmapsChanged.clear();
    for (const g of m.dirtyGroups) {
      // OK to assert: as above.
      const gd = m.groups[g]!;
      const buf = this.host.readBlock(gd.location.block, { group: g });
      const bytes = buf.subarray(gd.location.offset, gd.location.offset + sb.descSize);
      encodeGroupDesc(sb, gd, g, bytes);
      const copy = bytes.slice();
      this.dirty(gd.location.block);
      m.reloadGroup(g, copy);
    }
    m.dirtyGroups.clear();
    const is64 = sb.features.has("64bit");
    if (m.sbGet("s_free_inodes_count") !== this.freeInodes) {
      m.sbSet("s_free_inodes_count", this.freeInodes);
    }
    const fb = this.freeClusters * sb.clusterRatio;
    const stored =
      m.sbGet("s_free_blocks_count_lo") + (is64 ? m.sbGet("s_free_blocks_count_hi") * 2 ** 32 : 0);
    if (stored !== fb) m.sbSetLoHi("s_free_blocks_count_lo", "s_free_blocks_count_hi", fb, is64);
  }

  /**
   * Writes the superblock (counters, s_wtime, s_kbytes_written, checksum)
   * into its cache block: the primary copy only, as the kernel does.
   */
  writeSuperblock(): void {
    const m = this.meta;
    m.sbSetTime("s_wtime", "s_wtime_hi", this.now().sec);
    const written = this.host.cache.stats().bytesWritten - this.bytesAtOpen;
    m.sbSet("s_kbytes_written", this.kbytesAtOpen + Math.floor(written / 1024));
    if (this.geo.features.metadataCsum) setSuperblockChecksum(m.sbBytes);
    const bs = this.blockSize;
    const block = Math.floor(SUPERBLOCK_OFFSET / bs);
    const off = SUPERBLOCK_OFFSET % bs;
    const buf = this.host.readBlock(block);
    buf.set(m.sbBytes.subarray(0, SUPERBLOCK_SIZE), off);
    this.dirty(block);
    m.sbChanged = false;
  }

  // ---- inodes ----

  /** Loads inode `ino` for change. Throws Ext4Error (Corrupt, BadChecksum). */
  load(ino: number): WorkInode {
    return this.workOf(this.host.readInode(ino));
  }

  /** An Inode view of a work inode as it is now (for its xattr and inline-data readers). */
  inodeOf(w: WorkInode): Inode {
    const sb = this.geo;
    return new Inode(
      w.ino,
      { ...w.f, iBlock: w.f.iBlock.slice() },
      this.host.inodeBuffer(w.raw),
      {
        inodeSize: sb.inodeSize,
        blockSize: sb.blockSize,
        xattrLimits: { eaInode: sb.features.has("ea_inode"), inodesCount: sb.inodesCount },
      },
      true,
    );
  }

  /** A work copy of an already-read inode. */
  workOf(inode: Inode): WorkInode {
    // i_block is changed in place by the map writers: never share it with the (cached, immutable) Inode.
    return new WorkInode(
      inode.ino,
      { ...inode.fields, iBlock: inode.fields.iBlock.slice() },
      this.host.inodeBuffer(inode.raw),
      inode.blocks512,
    );
  }

  /**
   * Writes a work inode back: i_blocks in the unit the kernel's
   * ext4_inode_blocks_set chooses (512-byte sectors up to 2^48, fs blocks
   * with EXT4_HUGE_FILE_FL beyond), every field through the inode table,
   * the checksum, then the inode table block through {@link dirty}. Returns
   * the re-read inode. Throws FileTooBig when i_blocks cannot be stored.
   */
  store(w: WorkInode): Inode {
    const sb = this.geo;
    const f = w.f;
    const b = w.blocks512;
    if (b <= 0xffffffff) {
      f.blocksRaw = b;
      f.flags &= ~InodeFlags.HUGE_FILE;
    } else if (!sb.features.has("huge_file")) {
      throw fsError("FileTooBig", "IBLOCKS_OVERFLOW", `${b} sectors need huge_file`, {
        inode: w.ino,
      });
    } else if (b <= 0xffffffffffff) {
      f.blocksRaw = b;
      f.flags &= ~InodeFlags.HUGE_FILE;
    } else {
      f.blocksRaw = Math.floor(b / (sb.blockSize / 512));
      f.flags |= InodeFlags.HUGE_FILE;
    }
    f.flags >>>= 0;
    f.blocksUnitIsFsBlock = (f.flags & InodeFlags.HUGE_FILE) !== 0;
    // The kernel clamps timestamps to what the inode can hold (s_time_min /
    // s_time_max): 32-bit seconds without the extra fields, 34 bits with them.
    const extra = sb.inodeSize > EXT4_GOOD_OLD_INODE_SIZE ? f.extraIsize : 0;
    const clamp = (t: Timestamp, extraEnd: number): Timestamp => {
      const wide = extraEnd <= EXT4_GOOD_OLD_INODE_SIZE + extra;
      const max = wide ? EXT4_EXTRA_TIMESTAMP_MAX : 2 ** 31 - 1;
      const sec = Math.min(max, Math.max(-(2 ** 31), Math.floor(t.sec)));
      const nsec = wide ? Math.min(999_999_999, Math.max(0, Math.floor(t.nsec))) : 0;
      return sec === t.sec && nsec === t.nsec ? t : { sec, nsec };
    };
    f.atime = clamp(f.atime, ATIME_EXTRA_END);
    f.mtime = clamp(f.mtime, MTIME_EXTRA_END);
    f.ctime = clamp(f.ctime, CTIME_EXTRA_END);
    if (f.crtime !== null) f.crtime = clamp(f.crtime, CRTIME_EXTRA_END);
    encodeInode(w.raw, f, this.inodeParams);
    if (sb.features.metadataCsum) setInodeChecksum(sb.csumSeed, w.ino, w.raw, sb.inodeSize);
    const loc = this.host.inodeLocation(w.ino);
    const buf = this.host.readBlock(loc.block, { inode: w.ino });
    buf.set(w.raw.subarray(0, sb.inodeSize), loc.offset);
    this.dirty(loc.block);
    const inode = this.host.inodeFromRaw(w.ino, w.raw);
    if (this.depth > 0) this.inodes.set(w.ino, inode);
    return inode;
  }

  /**
   * A fresh work inode for a newly allocated `ino`: every field zero but the
   * mode, i_extra_isize (s_want_extra_isize as the kernel computes it) and a
   * random generation; i_block is left empty.
   */
  freshInode(ino: number, mode: number): WorkInode {
    const sb = this.geo;
    const raw = this.host.inodeBuffer(null);
    let extra = 0;
    if (sb.inodeSize > EXT4_GOOD_OLD_INODE_SIZE) {
      // ext4_fill_super: sizeof(struct ext4_inode) - 128, raised to
      // s_want_extra_isize / s_min_extra_isize with extra_isize.
      extra = 32;
      if (sb.features.has("extra_isize")) {
        extra = Math.max(extra, sb.wantExtraIsize, sb.minExtraIsize);
      }
      extra = Math.min(extra, sb.inodeSize - EXT4_GOOD_OLD_INODE_SIZE) & ~3;
    }
    const zero = { sec: 0, nsec: 0 };
    const f: MutableInodeFields = {
      mode,
      uid: 0,
      gid: 0,
      size: 0,
      atime: zero,
      ctime: zero,
      mtime: zero,
      crtime: CRTIME_END <= EXT4_GOOD_OLD_INODE_SIZE + extra ? zero : null,
      dtime: 0,
      linksCount: 0,
      blocksRaw: 0,
      blocksUnitIsFsBlock: false,
      flags: 0,
      version: 0,
      iBlock: new Uint8Array(60),
      generation: this.randomU32(),
      fileAcl: 0,
      extraIsize: extra,
      checksum: 0,
      projid: 0,
    };
    return new WorkInode(ino, f, raw, 0);
  }

  /** Writes an empty extent tree root (depth 0, 4 entries) into i_block. */
  initExtentRoot(w: WorkInode): void {
    const root = new Uint8Array(60);
    encodeExtentNode(root, { max: 4, depth: 0, generation: 0, extents: [], indexes: [] });
    w.f.iBlock = root;
  }

  /** The checksum seed of an inode's tree blocks, or null without metadata_csum. */
  inodeSeed(w: { ino: number; f: { generation: number } }): number | null {
    return this.geo.features.metadataCsum
      ? inodeCsumSeed(this.geo.csumSeed, w.ino, w.f.generation)
      : null;
  }

  /** Throws Corrupt when a block run lies outside the filesystem. */
  checkRange(physical: number, length: number, ctx: Ext4ErrorContext): void {
    const sb = this.geo;
    if (
      !(
        Number.isSafeInteger(physical) &&
        physical >= sb.firstDataBlock &&
        physical + length <= sb.blocksCount
      )
    ) {
      throw corrupt("BLOCK_OUT_OF_RANGE", `blocks ${physical}+${length} outside the filesystem`, {
        ...ctx,
        block: physical,
      });
    }
  }

  // ---- open counts ----

  /** Open count of `ino`. */
  openCount(ino: number): number {
    return this.openCounts.get(ino) ?? 0;
  }
}
