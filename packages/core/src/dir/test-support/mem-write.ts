/**
 * Test-only: an in-memory {@link DirWriteHost}, a small filesystem of
 * inodes with block maps and inline data, strict about the host contract so
 * tests catch misuse the real filesystem would punish:
 * - a block taken with fileBlockForWrite must be marked dirty before any
 *   other host call;
 * - an inode object is valid only until the host changes that inode (every
 *   changing call returns the re-read inode; using an older one throws, as
 *   an outdated block map would misdirect the real filesystem);
 * - readFileBlock hands out copies, so a change that bypasses
 *   fileBlockForWrite is lost and shows up in the checks;
 * - growDirectory refuses to map over a mapped block and fails with
 *   NoSpace once `freeBlocks` is used up.
 */
import { corrupt, fsError } from "../../errors.js";
import { DirInodeFlag, S_IFDIR, S_IFREG } from "../constants.js";
import { dirCsumSeed } from "../entry.js";
import type { DirInode, DirTime, DirWriteHost } from "../host.js";

/** EXT4_EXTENTS_FL: what clearInlineData sets with the extent feature. */
const EXTENTS_FL = 0x80000;

interface Rec {
  ino: number;
  mode: number;
  size: number;
  flags: number;
  generation: number;
  linksCount: number;
  mtime: DirTime;
  ctime: DirTime;
  blocks: Map<number, Uint8Array>;
  inline: Uint8Array | null;
  maxInline: number;
  rev: number;
}

/** Options of {@link MemWriteHost}. */
export interface MemWriteOptions {
  readonly blockSize?: number;
  readonly features?: readonly string[];
  readonly csumSeed?: number;
  readonly hashSeed?: readonly number[];
  readonly defHashVersion?: number;
  readonly unsignedHash?: boolean;
  readonly writable?: boolean;
  /** Blocks the allocator hands out before it answers NoSpace (default: unlimited). */
  readonly freeBlocks?: number;
  /** maxInlineSize of new inline directories (default 128: a 256-byte inode's body). */
  readonly maxInline?: number;
}

/** A fake read-write filesystem for the directory write tests. */
export class MemWriteHost implements DirWriteHost {
  readonly blockSize: number;
  readonly csumSeed: number;
  readonly hashSeed: readonly number[];
  readonly defHashVersion: number;
  readonly unsignedHash: boolean;
  writable: boolean;
  /** Blocks left for growDirectory. */
  freeBlocks: number;
  /** Every block marked dirty, in order, as [ino, lblk]. */
  readonly dirtied: Array<[number, number]> = [];
  /** Calls that changed something (dirty blocks, allocations, inode updates): unchanged means nothing was written. */
  changes = 0;
  private readonly features: Set<string>;
  private readonly recs = new Map<number, Rec>();
  private readonly revs = new WeakMap<object, number>();
  private pending: { ino: number; lblk: number } | null = null;
  private clock = 1_700_000_000;
  private readonly defaultMaxInline: number;

  constructor(o: MemWriteOptions = {}) {
    this.blockSize = o.blockSize ?? 1024;
    this.features = new Set(o.features ?? ["filetype", "dir_index"]);
    this.csumSeed = o.csumSeed ?? 0x12345678;
    this.hashSeed = o.hashSeed ?? [0x11111111, 0x22222222, 0x33333333, 0x44444444];
    this.defHashVersion = o.defHashVersion ?? 1;
    this.unsignedHash = o.unsignedHash ?? false;
    this.writable = o.writable ?? true;
    this.freeBlocks = o.freeBlocks ?? Number.POSITIVE_INFINITY;
    this.defaultMaxInline = o.maxInline ?? 128;
  }

  hasFeature(name: string): boolean {
    return this.features.has(name);
  }

  /** Turns a feature on or off (tune2fs -O for tests). */
  setFeature(name: string, on: boolean): void {
    if (on) this.features.add(name);
    else this.features.delete(name);
  }

  /** The checksum seed of inode `ino`. */
  seedOf(ino: number): number {
    return dirCsumSeed(this.csumSeed, ino, this.recs.get(ino)?.generation ?? 0);
  }

  /** Creates an empty directory inode (size 0; inline with EXT4_INLINE_DATA_FL and an empty system.data). */
  mkdirInode(ino: number, o: { inline?: boolean; maxInline?: number; generation?: number } = {}) {
    const inline = o.inline ?? false;
    this.recs.set(ino, {
      ino,
      mode: S_IFDIR | 0o755,
      size: 0,
      flags: inline ? DirInodeFlag.InlineData : 0,
      generation: o.generation ?? ino * 7,
      linksCount: 2,
      mtime: { sec: 0, nsec: 0 },
      ctime: { sec: 0, nsec: 0 },
      blocks: new Map(),
      inline: inline ? new Uint8Array(60) : null,
      maxInline: o.maxInline ?? this.defaultMaxInline,
      rev: 0,
    });
    return this.readInode(ino);
  }

  /** Creates a regular file inode (an entry target). */
  fileInode(ino: number): DirInode {
    this.recs.set(ino, {
      ino,
      mode: S_IFREG | 0o644,
      size: 0,
      flags: 0,
      generation: 0,
      linksCount: 1,
      mtime: { sec: 0, nsec: 0 },
      ctime: { sec: 0, nsec: 0 },
      blocks: new Map(),
      inline: null,
      maxInline: 0,
      rev: 0,
    });
    return this.readInode(ino);
  }

  /** The raw blocks of an inode (test inspection; live buffers). */
  blocksOf(ino: number): Map<number, Uint8Array> {
    return this.rec(ino).blocks;
  }

  /** Deep copy of an inode's state, to prove a failed call changed nothing. */
  snapshot(ino: number): unknown {
    const r = this.rec(ino);
    return {
      size: r.size,
      flags: r.flags,
      mtime: r.mtime,
      inline: r.inline === null ? null : Array.from(r.inline),
      blocks: [...r.blocks.entries()].map(([k, v]) => [k, Buffer.from(v).toString("hex")]),
    };
  }

  /** The mtime/ctime stored for an inode. */
  times(ino: number): { mtime: DirTime; ctime: DirTime } {
    const r = this.rec(ino);
    return { mtime: r.mtime, ctime: r.ctime };
  }

  private rec(ino: number): Rec {
    const r = this.recs.get(ino);
    if (r === undefined) throw new Error(`mem host: no inode ${ino}`);
    return r;
  }

  private guard(what: string): void {
    if (this.pending !== null) {
      throw new Error(
        `mem host: ${what} while block ${this.pending.lblk} of inode ${this.pending.ino} is taken for write`,
      );
    }
  }

  /** The record behind `inode`, refusing an inode object older than the inode's last change. */
  private current(inode: DirInode, what: string): Rec {
    this.guard(what);
    const r = this.rec(inode.ino);
    const rev = this.revs.get(inode);
    if (rev !== r.rev) throw new Error(`mem host: ${what} with a stale inode ${inode.ino}`);
    return r;
  }

  private view(r: Rec): DirInode {
    const inline = r.inline?.slice() ?? null;
    const inode: DirInode = {
      ino: r.ino,
      mode: r.mode,
      size: r.size,
      flags: r.flags,
      generation: r.generation,
      linksCount: r.linksCount,
      inlineData: () => inline?.slice() ?? null,
    };
    this.revs.set(inode, r.rev);
    return inode;
  }

  private changed(r: Rec): DirInode {
    r.rev++;
    this.changes++;
    return this.view(r);
  }

  readInode(ino: number): DirInode {
    this.guard("readInode");
    return this.view(this.rec(ino));
  }

  readFileBlock(inode: DirInode, lblk: number): Uint8Array | null {
    const r = this.current(inode, "readFileBlock");
    return r.blocks.get(lblk)?.slice() ?? null;
  }

  readLink(_inode: DirInode): string {
    return "";
  }

  fileBlockForWrite(dir: DirInode, lblk: number): Uint8Array {
    const r = this.current(dir, "fileBlockForWrite");
    if (!this.writable) throw new Error("mem host: write on a read-only host");
    const b = r.blocks.get(lblk);
    if (b === undefined)
      throw corrupt("DIR_HOLE", "directory hole", { inode: dir.ino, block: lblk });
    this.pending = { ino: dir.ino, lblk };
    return b;
  }

  dirtyFileBlock(dir: DirInode, lblk: number): void {
    if (this.pending?.ino !== dir.ino || this.pending.lblk !== lblk) {
      throw new Error(`mem host: dirtyFileBlock(${dir.ino}, ${lblk}) without fileBlockForWrite`);
    }
    this.pending = null;
    this.dirtied.push([dir.ino, lblk]);
    this.changes++;
  }

  growDirectory(dir: DirInode, lblk: number): DirInode {
    const r = this.current(dir, "growDirectory");
    if ((r.flags & DirInodeFlag.InlineData) !== 0)
      throw new Error("mem host: grow of an inline inode");
    if (r.blocks.has(lblk)) throw new Error(`mem host: block ${lblk} is already mapped`);
    if (this.freeBlocks <= 0) throw fsError("NoSpace", "NO_FREE_BLOCKS", "no free blocks");
    this.freeBlocks--;
    r.blocks.set(lblk, new Uint8Array(this.blockSize));
    r.size = Math.max(r.size, (lblk + 1) * this.blockSize);
    return this.changed(r);
  }

  updateInode(
    ino: number,
    c: { size?: number; flags?: number; linksCount?: number; mtime?: DirTime; ctime?: DirTime },
  ): DirInode {
    this.guard("updateInode");
    const r = this.rec(ino);
    if (c.size !== undefined) r.size = c.size;
    if (c.flags !== undefined) r.flags = c.flags;
    if (c.linksCount !== undefined) r.linksCount = c.linksCount;
    if (c.mtime !== undefined) r.mtime = c.mtime;
    if (c.ctime !== undefined) r.ctime = c.ctime;
    if ((r.flags & DirInodeFlag.InlineData) !== 0 && r.inline === null)
      r.inline = new Uint8Array(60);
    return this.changed(r);
  }

  writeInlineData(inode: DirInode, data: Uint8Array): DirInode {
    const r = this.current(inode, "writeInlineData");
    if ((r.flags & DirInodeFlag.InlineData) === 0) throw new Error("mem host: inode is not inline");
    if (data.length < 60) throw new Error(`mem host: inline data of ${data.length} bytes`);
    if (data.length > r.maxInline) {
      throw fsError("NoSpace", "INLINE_FULL", "inline data does not fit in the inode");
    }
    r.inline = data.slice();
    return this.changed(r);
  }

  maxInlineSize(inode: DirInode): number {
    return this.current(inode, "maxInlineSize").maxInline;
  }

  clearInlineData(inode: DirInode): DirInode {
    const r = this.current(inode, "clearInlineData");
    r.flags = (r.flags & ~DirInodeFlag.InlineData) >>> 0;
    if (this.hasFeature("extent")) r.flags = (r.flags | EXTENTS_FL) >>> 0;
    r.inline = null;
    r.size = 0;
    r.blocks.clear();
    return this.changed(r);
  }

  now(): DirTime {
    this.guard("now");
    return { sec: ++this.clock, nsec: 0 };
  }
}
