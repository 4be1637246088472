/**
 * The state of one check: the device, the geometry read from the
 * superblock, the group descriptor table as typed arrays, the in-memory
 * maps the passes build (one bit or one small integer per block or inode,
 * never an object per item), and the problem sink.
 */
import { EXT4_BG_BLOCK_UNINIT, EXT4_BG_INODE_UNINIT, joinLoHi, viewOf } from "@ext4/core";
import { type BlockDevice, type BufferCache, IoError } from "@ext4/iocache";
import { Bitmap } from "./bitmap.js";
import { inodeSeed } from "./csum.js";
import { DirBlockList } from "./dirblocks.js";
import { GROUP_DESC, SUPERBLOCK } from "./layout.js";
import type { Prefetcher } from "./prefetch.js";
import {
  makeProblem,
  type Pass,
  PROBLEMS,
  type Problem,
  type ProblemCode,
  type ProblemContext,
} from "./problems.js";

/** Feature bits the checker looks at (fs/ext4/ext4.h EXT4_FEATURE_*). */
export const F = {
  COMPAT_HAS_JOURNAL: 0x4,
  COMPAT_EXT_ATTR: 0x8,
  COMPAT_RESIZE_INODE: 0x10,
  COMPAT_DIR_INDEX: 0x20,
  COMPAT_SPARSE_SUPER2: 0x200,
  COMPAT_ORPHAN_FILE: 0x1000,
  INCOMPAT_FILETYPE: 0x2,
  INCOMPAT_RECOVER: 0x4,
  INCOMPAT_JOURNAL_DEV: 0x8,
  INCOMPAT_META_BG: 0x10,
  INCOMPAT_EXTENTS: 0x40,
  INCOMPAT_64BIT: 0x80,
  INCOMPAT_MMP: 0x100,
  INCOMPAT_FLEX_BG: 0x200,
  INCOMPAT_EA_INODE: 0x400,
  INCOMPAT_DIRDATA: 0x1000,
  INCOMPAT_CSUM_SEED: 0x2000,
  INCOMPAT_LARGEDIR: 0x4000,
  INCOMPAT_INLINE_DATA: 0x8000,
  INCOMPAT_ENCRYPT: 0x10000,
  INCOMPAT_CASEFOLD: 0x20000,
  RO_SPARSE_SUPER: 0x1,
  RO_LARGE_FILE: 0x2,
  RO_HUGE_FILE: 0x8,
  RO_GDT_CSUM: 0x10,
  RO_DIR_NLINK: 0x20,
  RO_EXTRA_ISIZE: 0x40,
  RO_QUOTA: 0x100,
  RO_BIGALLOC: 0x200,
  RO_METADATA_CSUM: 0x400,
  RO_PROJECT: 0x2000,
  RO_VERITY: 0x8000,
  RO_ORPHAN_PRESENT: 0x10000,
} as const;

/** Incompat bits e2fsprogs 1.47 understands (EXT2_LIB_FEATURE_INCOMPAT_SUPP, less compression). */
export const SUPPORTED_INCOMPAT =
  0x2 |
  0x4 |
  0x8 |
  0x10 |
  0x40 |
  0x80 |
  0x100 |
  0x200 |
  0x400 |
  0x2000 |
  0x4000 |
  0x8000 |
  0x10000 |
  0x20000;
/** ro_compat bits e2fsprogs 1.47 understands (EXT2_LIB_FEATURE_RO_COMPAT_SUPP). */
export const SUPPORTED_RO_COMPAT =
  0x1 | 0x2 | 0x8 | 0x10 | 0x20 | 0x40 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x2000 | 0x8000 | 0x10000;

/** bg_flags: the group's inode table and bitmap were never initialised. */
export const BG_INODE_UNINIT = EXT4_BG_INODE_UNINIT;
/** bg_flags: the group's block bitmap was never initialised (computed from the layout). */
export const BG_BLOCK_UNINIT = EXT4_BG_BLOCK_UNINIT;

/** Per-inode state bits kept in {@link CheckContext.istate}. */
export const IS = {
  USED: 1,
  DIR: 2,
  REG: 4,
  /** Pass 1 found something e2fsck reports when a directory entry reaches it (process_bad_inode). */
  BAD: 8,
  LNK: 16,
  /** Reached by a directory entry (pass 2). */
  REACHED: 32,
  /** Not a regular inode for reference counting (reserved, journal, ...). */
  SPECIAL: 64,
  /** Has INDEX_FL that pass 1 accepted (an htree to check in pass 2). */
  HTREE: 128,
} as const;

/** The geometry and fields of the superblock that every pass uses. */
export interface Geometry {
  blockSize: number;
  blocksCount: number;
  inodesCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  groupCount: number;
  inodeSize: number;
  descSize: number;
  firstIno: number;
  itableBlocks: number;
  gdtBlocks: number;
  reservedGdtBlocks: number;
  compat: number;
  incompat: number;
  roCompat: number;
  csumSeed: number;
  hashSeed: number[];
  defHashVersion: number;
  unsignedHash: boolean;
  uuid: Uint8Array;
  revLevel: number;
  logGroupsPerFlex: number;
  firstMetaBg: number;
  backupBgs: [number, number];
  minExtraIsize: number;
  journalInum: number;
  preallocDirBlocks: number;
  freeBlocks: number;
  freeInodes: number;
  creatorOs: number;
}

/** Options of one check (see {@link check} in check.ts). */
export interface ContextOptions {
  /** Stop recording after this many problems (default 10 000). */
  maxProblems: number;
  /** Buffer cache bound in bytes. */
  cacheBytes: number;
  /** The clock (unix seconds) for "in the future" checks. */
  now: number;
}

/** Mutable state shared by the passes of one check. */
export class CheckContext {
  readonly problems: Problem[] = [];
  /** Problems beyond the cap, counted but not stored. */
  dropped = 0;
  /** Set when a problem that stops e2fsck -n was reported (see ProblemDef.stops). */
  stopped = false;
  /** The pass running now. */
  pass: Pass = 0;
  g!: Geometry;
  cache!: BufferCache;
  /** The raw superblock bytes (1024). */
  sbBytes!: Uint8Array;

  // Group descriptor table, one entry per group.
  gdBlockBitmap!: Float64Array;
  gdInodeBitmap!: Float64Array;
  gdInodeTable!: Float64Array;
  gdFreeBlocks!: Uint32Array;
  gdFreeInodes!: Uint32Array;
  gdUsedDirs!: Uint32Array;
  gdFlags!: Uint16Array;
  gdItableUnused!: Uint32Array;
  gdBlockBitmapCsum!: Uint32Array;
  gdInodeBitmapCsum!: Uint32Array;
  /** 1 when the group's inode table location is usable. */
  gdItableOk!: Uint8Array;
  /** 1 when the group's bitmap locations are usable. */
  gdBlockBitmapOk!: Uint8Array;
  gdInodeBitmapOk!: Uint8Array;
  /** 1 when the descriptor's checksum verified (uninit flags are trusted only then). */
  gdCsumOk!: Uint8Array;

  // Pass results.
  /** Blocks pass 1 found in use (metadata and files). */
  blockFound!: Bitmap;
  /** Filesystem metadata blocks (superblocks, descriptors, bitmaps, inode tables). */
  blockMeta!: Bitmap;
  /** Blocks claimed more than once (allocated when first needed). */
  blockDup: Bitmap | null = null;
  /** IS.* bits per inode (index = inode number). */
  istate!: Uint8Array;
  /** i_links_count of in-use inodes. */
  linkCount!: Uint16Array;
  /**
   * References found by pass 2, 16 bits per inode (e2fsck's icount): a
   * count that reaches 0xffff goes on in {@link refOverflow}. Read through
   * {@link refs}.
   */
  refCount!: Uint16Array;
  /** References of the inodes named 0xffff times or more (saturating at 0xffffffff). */
  readonly refOverflow = new Map<number, number>();
  /**
   * Inodes whose blocks pass 2 reads as directory blocks (every inode with
   * a directory mode, reserved ones too) that pass 1 did not list in
   * {@link dirBlocks}: pass 2 reads them again and lists their blocks itself.
   */
  dblist: number[] = [];
  /** The directory blocks pass 1 listed while walking the directories' maps. */
  dirBlocks = new DirBlockList();
  /** Inodes with INDEX_FL that pass 2 treats as htrees, with their block count (last block + 1). */
  htreeDirs = new Map<number, number>();
  /** Directories in which pass 2 found duplicate names (e2fsck's pass 3A reports them). */
  dupNameDirs = new Set<number>();
  /** The descriptors (and maybe the superblock) come from a backup copy. */
  usingBackup = false;
  /** Htree roots deeper than the filesystem allows without large_dir (pass 1). */
  largeDirs = 0;
  /** The first inode whose checksum failed in pass 1, or 0 (pass 1B stops on it). */
  firstBadCsumIno = 0;
  /** Inodes whose checksum failed in pass 1 (e2fsck stops when pass 4 must re-read one). */
  badCsum: Bitmap | null = null;
  /** The inode the root's "lost+found" entry names (pass 2), or 0. */
  lostFound = 0;
  /** Directories found in pass 1 (inode numbers, growing). */
  dirs: number[] = [];
  /** Sum of directories per group found in pass 1. */
  dirsPerGroup!: Uint32Array;
  /** Files whose blocks are not contiguous (for the summary). */
  fragmented = 0;
  /** Inodes in use (for the summary). */
  usedInodes = 0;
  /** Blocks in use (for the summary), set by pass 5. */
  usedBlocks = 0;
  /** The reader thread reading ahead for passes 1 and 2, when there is one. */
  reader: Prefetcher | null = null;

  constructor(
    readonly dev: BlockDevice,
    readonly options: ContextOptions,
  ) {}

  /** Records a problem (at most options.maxProblems are kept). Never throws. */
  report(code: ProblemCode, context: ProblemContext = {}): void {
    if (PROBLEMS[code].stops === true) this.stopped = true;
    if (this.problems.length >= this.options.maxProblems) {
      this.dropped++;
      return;
    }
    this.problems.push(makeProblem(code, context));
  }

  /** True when the feature bit is set in the given word. */
  compat(bit: number): boolean {
    return (this.g.compat & bit) !== 0;
  }
  incompat(bit: number): boolean {
    return (this.g.incompat & bit) !== 0;
  }
  roCompat(bit: number): boolean {
    return (this.g.roCompat & bit) !== 0;
  }
  /** metadata_csum is on. */
  get csum(): boolean {
    return this.roCompat(F.RO_METADATA_CSUM);
  }
  /** Group descriptors carry checksums (metadata_csum or gdt_csum): uninit flags are meaningful. */
  get gdtCsum(): boolean {
    return this.roCompat(F.RO_METADATA_CSUM) || this.roCompat(F.RO_GDT_CSUM);
  }

  /**
   * A block through the cache, or null when it is outside the device or the
   * read fails (reported once as IO_ERROR). The buffer is the cache's: use it
   * before the next read.
   */
  readBlock(blk: number): Uint8Array | null {
    if (!Number.isSafeInteger(blk) || blk < 0 || blk >= this.cache.blockCount) return null;
    try {
      return this.cache.get(blk);
    } catch (e) {
      if (e instanceof IoError) {
        this.report("IO_ERROR", { blk, str: e.message });
        return null;
      }
      throw e;
    }
  }

  /** First block of group `g`. */
  groupFirstBlock(g: number): number {
    return this.g.firstDataBlock + g * this.g.blocksPerGroup;
  }
  /** Last block of group `g` (inclusive). */
  groupLastBlock(g: number): number {
    return g === this.g.groupCount - 1
      ? this.g.blocksCount - 1
      : this.groupFirstBlock(g) + this.g.blocksPerGroup - 1;
  }

  /** Whether group `g` holds a superblock backup (sparse_super / sparse_super2 rules). */
  groupHasSuper(g: number): boolean {
    if (g === 0) return true;
    if (this.compat(F.COMPAT_SPARSE_SUPER2))
      return g === this.g.backupBgs[0] || g === this.g.backupBgs[1];
    if (g <= 1 || !this.roCompat(F.RO_SPARSE_SUPER)) return true;
    if ((g & 1) === 0) return false;
    const isPow = (n: number, b: number) => {
      while (n % b === 0 && n > 1) n /= b;
      return n === 1;
    };
    return isPow(g, 3) || isPow(g, 5) || isPow(g, 7);
  }

  /**
   * Calls `mark(first, count)` for the superblock, descriptor and reserved
   * GDT blocks of group `g` (libext2fs ext2fs_super_and_bgd_loc2 with the
   * meta_bg layout).
   */
  superAndDescBlocks(g: number, mark: (first: number, count: number) => void): void {
    let start = this.groupFirstBlock(g);
    if (start === 0 && this.g.blockSize === 1024) start = 1;
    const hasSuper = this.groupHasSuper(g);
    const metaBg = this.incompat(F.INCOMPAT_META_BG);
    const oldDescBlocks = metaBg ? this.g.firstMetaBg : this.g.gdtBlocks + this.g.reservedGdtBlocks;
    if (hasSuper) mark(start, 1);
    const perBlock = Math.floor(this.g.blockSize / this.g.descSize);
    const mbg = Math.floor(g / perBlock);
    if (!metaBg || mbg < this.g.firstMetaBg) {
      if (hasSuper && oldDescBlocks > 0) mark(start + 1, oldDescBlocks);
    } else {
      const r = g % perBlock;
      if (r === 0 || r === 1 || r === perBlock - 1) mark(start + (hasSuper ? 1 : 0), 1);
    }
  }

  /** Group of inode `ino`. */
  inodeGroup(ino: number): number {
    return Math.floor((ino - 1) / this.g.inodesPerGroup);
  }

  /**
   * The raw record of inode `ino` (inodeSize bytes, a copy), or null when its
   * group's inode table is unusable or unreadable.
   */
  readInode(ino: number): Uint8Array | null {
    if (ino < 1 || ino > this.g.inodesCount) return null;
    const grp = this.inodeGroup(ino);
    if (this.gdItableOk[grp] !== 1) return null;
    const index = (ino - 1) % this.g.inodesPerGroup;
    const byteOff = index * this.g.inodeSize;
    const blk = this.gdInodeTable[grp]! + Math.floor(byteOff / this.g.blockSize);
    const buf = this.readBlock(blk);
    if (buf === null) return null;
    const off = byteOff % this.g.blockSize;
    return buf.slice(off, off + this.g.inodeSize);
  }

  /** The crc32c seed of per-inode metadata checksums (csum_seed, inode number, generation). */
  inodeCsumSeed(ino: number, generation: number): number {
    return inodeSeed(this.g.csumSeed, ino, generation);
  }

  /** Counts one more reference to `ino` (pass 2). */
  addRef(ino: number): void {
    const c = this.refCount[ino];
    if (c === undefined) return;
    if (c < 0xffff) this.refCount[ino] = c + 1;
    else {
      const o = this.refOverflow.get(ino) ?? 0xffff;
      if (o < 0xffffffff) this.refOverflow.set(ino, o + 1);
    }
  }

  /** The references pass 2 found to `ino`. */
  refs(ino: number): number {
    const c = this.refCount[ino] ?? 0;
    return c < 0xffff ? c : (this.refOverflow.get(ino) ?? 0xffff);
  }

  // '..' and first parent, for directories only (e2fsck's dir_info): one
  // slot per directory pass 1 found, looked up by binary search; the few
  // other inodes pass 2 reads as directories (a reserved inode with a
  // directory mode...) go in maps.
  private dirKeys = new Uint32Array(0);
  private dirDotdot = new Uint32Array(0);
  private dirParent = new Uint32Array(0);
  private readonly otherDotdot = new Map<number, number>();
  private readonly otherParent = new Map<number, number>();

  /** The slot of directory `ino` in the '..'/parent arrays, or -1. Indexes {@link dirs} on first use after it grew. */
  private dirSlot(ino: number): number {
    if (this.dirKeys.length !== this.dirs.length) {
      const keys = Uint32Array.from(this.dirs).sort();
      const dotdot = new Uint32Array(keys.length);
      const parent = new Uint32Array(keys.length);
      // Values set before the index grew (not in practice: pass 1 ends first) move along.
      for (let k = 0; k < keys.length; k++) {
        const at = bsearch(this.dirKeys, keys[k]!);
        if (at >= 0) {
          dotdot[k] = this.dirDotdot[at]!;
          parent[k] = this.dirParent[at]!;
        }
      }
      this.dirKeys = keys;
      this.dirDotdot = dotdot;
      this.dirParent = parent;
    }
    return bsearch(this.dirKeys, ino);
  }

  /** The inode named by directory `ino`'s '..' (pass 2), or 0. */
  dotdot(ino: number): number {
    const k = this.dirSlot(ino);
    return k >= 0 ? this.dirDotdot[k]! : (this.otherDotdot.get(ino) ?? 0);
  }

  /** Records directory `ino`'s '..'. */
  setDotdot(ino: number, value: number): void {
    const k = this.dirSlot(ino);
    if (k >= 0) this.dirDotdot[k] = value;
    else this.otherDotdot.set(ino, value);
  }

  /** The directory holding the first entry that names directory `ino` (pass 2), or 0. */
  parent(ino: number): number {
    const k = this.dirSlot(ino);
    return k >= 0 ? this.dirParent[k]! : (this.otherParent.get(ino) ?? 0);
  }

  /** Records directory `ino`'s parent. */
  setParent(ino: number, value: number): void {
    const k = this.dirSlot(ino);
    if (k >= 0) this.dirParent[k] = value;
    else this.otherParent.set(ino, value);
  }

  /** Allocates the per-inode and per-block maps once the geometry is known. */
  allocateMaps(): void {
    const n = this.g.inodesCount + 1;
    this.istate = new Uint8Array(n);
    this.linkCount = new Uint16Array(n);
    this.refCount = new Uint16Array(n);
    this.blockFound = new Bitmap(this.g.blocksCount);
    this.blockMeta = new Bitmap(this.g.blocksCount);
    this.dirsPerGroup = new Uint32Array(this.g.groupCount);
  }

  /** Reads the group descriptor table at `firstBlock` into the typed arrays. Returns false if unreadable. */
  loadGroupDescriptors(firstBlock: number): boolean {
    const { groupCount, descSize, blockSize } = this.g;
    const n = groupCount;
    this.gdBlockBitmap = new Float64Array(n);
    this.gdInodeBitmap = new Float64Array(n);
    this.gdInodeTable = new Float64Array(n);
    this.gdFreeBlocks = new Uint32Array(n);
    this.gdFreeInodes = new Uint32Array(n);
    this.gdUsedDirs = new Uint32Array(n);
    this.gdFlags = new Uint16Array(n);
    this.gdItableUnused = new Uint32Array(n);
    this.gdBlockBitmapCsum = new Uint32Array(n);
    this.gdInodeBitmapCsum = new Uint32Array(n);
    this.gdItableOk = new Uint8Array(n);
    this.gdBlockBitmapOk = new Uint8Array(n);
    this.gdInodeBitmapOk = new Uint8Array(n);
    this.gdCsumOk = new Uint8Array(n).fill(1);
    const perBlock = Math.floor(blockSize / descSize);
    const is64 = this.incompat(F.INCOMPAT_64BIT) && descSize >= 64;
    for (let grp = 0; grp < n; grp++) {
      const blk = this.descBlockOf(grp, firstBlock, perBlock);
      const buf = this.readBlock(blk);
      if (buf === null) return false;
      const v = viewOf(buf, { block: blk, group: grp }).sub((grp % perBlock) * descSize, descSize);
      const hi = (name: Parameters<typeof GROUP_DESC.get>[1]) =>
        is64 ? GROUP_DESC.get(v, name) : 0;
      this.gdBlockBitmap[grp] = joinLoHi(
        GROUP_DESC.get(v, "bg_block_bitmap_lo"),
        hi("bg_block_bitmap_hi"),
      );
      this.gdInodeBitmap[grp] = joinLoHi(
        GROUP_DESC.get(v, "bg_inode_bitmap_lo"),
        hi("bg_inode_bitmap_hi"),
      );
      this.gdInodeTable[grp] = joinLoHi(
        GROUP_DESC.get(v, "bg_inode_table_lo"),
        hi("bg_inode_table_hi"),
      );
      this.gdFreeBlocks[grp] =
        GROUP_DESC.get(v, "bg_free_blocks_count_lo") + hi("bg_free_blocks_count_hi") * 65536;
      this.gdFreeInodes[grp] =
        GROUP_DESC.get(v, "bg_free_inodes_count_lo") + hi("bg_free_inodes_count_hi") * 65536;
      this.gdUsedDirs[grp] =
        GROUP_DESC.get(v, "bg_used_dirs_count_lo") + hi("bg_used_dirs_count_hi") * 65536;
      this.gdFlags[grp] = GROUP_DESC.get(v, "bg_flags");
      this.gdItableUnused[grp] =
        GROUP_DESC.get(v, "bg_itable_unused_lo") + hi("bg_itable_unused_hi") * 65536;
      this.gdBlockBitmapCsum[grp] =
        (GROUP_DESC.get(v, "bg_block_bitmap_csum_lo") + hi("bg_block_bitmap_csum_hi") * 65536) >>>
        0;
      this.gdInodeBitmapCsum[grp] =
        (GROUP_DESC.get(v, "bg_inode_bitmap_csum_lo") + hi("bg_inode_bitmap_csum_hi") * 65536) >>>
        0;
    }
    return true;
  }

  /**
   * What ext2fs_open2 does when it opens from a backup: clear every
   * BLOCK_UNINIT / INODE_UNINIT flag and bg_itable_unused, and treat the
   * descriptor checksums as fixed (the backups were written long ago).
   */
  clearUninit(): void {
    this.usingBackup = true;
    if (!this.gdtCsum) return;
    this.gdFlags = this.gdFlags.map((f) => f & ~(BG_INODE_UNINIT | BG_BLOCK_UNINIT));
    this.gdItableUnused.fill(0);
  }

  /** Block holding descriptor `grp` (meta_bg puts them in each meta group's first block). */
  descBlockOf(grp: number, firstBlock: number, perBlock: number): number {
    const mbg = Math.floor(grp / perBlock);
    if (!this.incompat(F.INCOMPAT_META_BG) || mbg < this.g.firstMetaBg) return firstBlock + mbg;
    const g0 = mbg * perBlock;
    let blk = this.groupFirstBlock(g0);
    if (this.groupHasSuper(g0)) blk++;
    return blk;
  }

  /** The superblock field `name`. */
  sb(name: Parameters<typeof SUPERBLOCK.get>[1]): number {
    return SUPERBLOCK.get(viewOf(this.sbBytes), name);
  }
}

/** The index of `key` in the ascending `keys`, or -1. */
function bsearch(keys: Uint32Array, key: number): number {
  let lo = 0;
  let hi = keys.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    // OK to assert: lo <= mid <= hi < keys.length.
    const v = keys[mid]!;
    if (v === key) return mid;
    if (v < key) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
