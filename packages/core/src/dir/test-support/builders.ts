/**
 * Test-only builders of directory blocks and an in-memory {@link DirHost},
 * so tests state what a block holds instead of typing bytes:
 * `dirBlock(1024).entry(12, "a", 1).tail(seed).build()`.
 */
import { DirFileType, DirInodeFlag, S_IFDIR, S_IFLNK, S_IFREG } from "../constants.js";
import { type DxEntry, dxNodeLimit, dxRootLimit, writeDxEntries, writeDxTail } from "../dx.js";
import { DIRENT_TAIL_SIZE, dirCsumSeed, dirRecLen, writeDirEntry, writeDirTail } from "../entry.js";
import { dxHash, effectiveHashVersion } from "../hash.js";
import type { DirHost, DirInode } from "../host.js";

const enc = new TextEncoder();
const bytesOf = (n: string | Uint8Array): Uint8Array => (typeof n === "string" ? enc.encode(n) : n);

/** One planned record. */
export interface PlannedEntry {
  readonly inode: number;
  readonly name: Uint8Array;
  readonly fileType: number;
  /** Fixed rec_len; otherwise the minimum (the last record stretches to the end). */
  readonly recLen?: number;
  readonly hash?: { hash: number; minorHash: number };
}

/** Builds one linear directory block. */
export class DirBlockBuilder {
  private readonly entries: PlannedEntry[] = [];
  private tailSeed: number | null = null;

  constructor(
    readonly blockSize: number,
    private readonly hashInDirent = false,
  ) {}

  /** Adds a live entry (or an unused one with inode 0). */
  entry(
    inode: number,
    name: string | Uint8Array,
    fileType: number = DirFileType.RegularFile,
    opts: { recLen?: number; hash?: { hash: number; minorHash: number } } = {},
  ): this {
    this.entries.push({ inode, name: bytesOf(name), fileType, ...opts });
    return this;
  }

  /** Adds an unused record of `recLen` bytes. */
  gap(recLen: number): this {
    this.entries.push({ inode: 0, name: new Uint8Array(0), fileType: 0, recLen });
    return this;
  }

  /** Reserves the checksum tail and fills it in with this inode seed. */
  tail(inodeSeed: number): this {
    this.tailSeed = inodeSeed;
    return this;
  }

  /** Bytes still free for entries of minimal size. */
  free(): number {
    const used = this.entries.reduce((s, e) => s + this.recLenOf(e), 0);
    return this.blockSize - (this.tailSeed === null ? 0 : DIRENT_TAIL_SIZE) - used;
  }

  private recLenOf(e: PlannedEntry): number {
    return e.recLen ?? dirRecLen(e.name.length, this.hashInDirent && e.hash !== undefined);
  }

  /** Lays the records out; the last one stretches to the tail or the block end. Throws RangeError if they do not fit. */
  build(): Uint8Array {
    const bs = this.blockSize;
    const b = new Uint8Array(bs);
    const end = bs - (this.tailSeed === null ? 0 : DIRENT_TAIL_SIZE);
    let off = 0;
    if (this.entries.length === 0) this.gap(end);
    this.entries.forEach((e, i) => {
      const last = i === this.entries.length - 1;
      const recLen = last ? end - off : this.recLenOf(e);
      const spec = e.hash === undefined ? { ...e, recLen } : { ...e, recLen, hash: e.hash };
      writeDirEntry(b, off, spec, bs);
      off += recLen;
    });
    if (off !== end) throw new RangeError(`entries take ${off} of ${end} bytes`);
    if (this.tailSeed !== null) writeDirTail(b, bs, this.tailSeed);
    return b;
  }
}

/** Starts a directory block builder. */
export function dirBlock(blockSize: number, hashInDirent = false): DirBlockBuilder {
  return new DirBlockBuilder(blockSize, hashInDirent);
}

/** Options of {@link dxRootBlock}. */
export interface DxRootSpec {
  readonly dot: number;
  readonly dotdot: number;
  readonly hashVersion: number;
  readonly indirectLevels: number;
  readonly entries: readonly DxEntry[];
  /** With metadata_csum: the inode seed for the dx_tail. */
  readonly csumSeed?: number;
  readonly limit?: number;
}

/** Builds block 0 of an indexed directory. */
export function dxRootBlock(bs: number, s: DxRootSpec): Uint8Array {
  const b = new Uint8Array(bs);
  writeDirEntry(b, 0, { inode: s.dot, recLen: 12, name: enc.encode("."), fileType: 2 }, bs);
  writeDirEntry(
    b,
    12,
    { inode: s.dotdot, recLen: bs - 12, name: enc.encode(".."), fileType: 2 },
    bs,
  );
  const v = new DataView(b.buffer);
  v.setUint32(24, 0, true);
  v.setUint8(28, s.hashVersion);
  v.setUint8(29, 8);
  v.setUint8(30, s.indirectLevels);
  v.setUint8(31, 0);
  writeDxEntries(b, 32, s.limit ?? dxRootLimit(bs, 8, s.csumSeed !== undefined), s.entries);
  if (s.csumSeed !== undefined) writeDxTail(b, bs, 32, s.csumSeed);
  return b;
}

/** Builds an interior index block. */
export function dxNodeBlock(
  bs: number,
  entries: readonly DxEntry[],
  csumSeed?: number,
  limit?: number,
): Uint8Array {
  const b = new Uint8Array(bs);
  writeDirEntry(b, 0, { inode: 0, recLen: bs, name: new Uint8Array(0), fileType: 0 }, bs);
  writeDxEntries(b, 8, limit ?? dxNodeLimit(bs, csumSeed !== undefined), entries);
  if (csumSeed !== undefined) writeDxTail(b, bs, 8, csumSeed);
  return b;
}

/** A mutable in-memory inode. */
export interface MemInode extends DirInode {
  blocks: Array<Uint8Array | null>;
  inline: Uint8Array | null;
  link: string | null;
}

/** Options of {@link MemHost}. */
export interface MemHostOptions {
  readonly blockSize?: number;
  readonly features?: readonly string[];
  readonly csumSeed?: number;
  readonly hashSeed?: readonly number[];
  readonly unsignedHash?: boolean;
}

/** An in-memory filesystem of directories, files and symlinks implementing DirHost. */
export class MemHost implements DirHost {
  readonly blockSize: number;
  readonly csumSeed: number;
  readonly hashSeed: readonly number[];
  readonly defHashVersion = 1;
  readonly unsignedHash: boolean;
  readonly inodes = new Map<number, MemInode>();
  private readonly features: Set<string>;
  /** Logical blocks read, in order (tests check index-guided lookups read few blocks). */
  readonly reads: number[] = [];

  constructor(o: MemHostOptions = {}) {
    this.blockSize = o.blockSize ?? 1024;
    this.features = new Set(o.features ?? ["filetype", "dir_index"]);
    this.csumSeed = o.csumSeed ?? 0x12345678;
    this.hashSeed = o.hashSeed ?? [0x11111111, 0x22222222, 0x33333333, 0x44444444];
    this.unsignedHash = o.unsignedHash ?? false;
  }

  hasFeature(name: string): boolean {
    return this.features.has(name);
  }

  /** The checksum seed of inode `ino` (generation 0). */
  seedOf(ino: number): number {
    return dirCsumSeed(this.csumSeed, ino, this.inodes.get(ino)?.generation ?? 0);
  }

  private put(
    ino: number,
    mode: number,
    flags: number,
    size: number,
    extra: Partial<MemInode>,
  ): MemInode {
    const inode: MemInode = {
      ino,
      mode,
      size,
      flags,
      generation: 0,
      linksCount: 1,
      blocks: [],
      inline: null,
      link: null,
      inlineData() {
        return this.inline;
      },
      ...extra,
    };
    this.inodes.set(ino, inode);
    return inode;
  }

  /** Adds a block directory; `size` defaults to the number of blocks × block size. */
  addDir(
    ino: number,
    blocks: Array<Uint8Array | null>,
    opts: { flags?: number; size?: number } = {},
  ): MemInode {
    return this.put(
      ino,
      S_IFDIR | 0o755,
      opts.flags ?? 0,
      opts.size ?? blocks.length * this.blockSize,
      {
        blocks,
      },
    );
  }

  /** Adds an inline directory from its inline data (i_block ‖ system.data). */
  addInlineDir(ino: number, data: Uint8Array): MemInode {
    return this.put(ino, S_IFDIR | 0o755, DirInodeFlag.InlineData, data.length, { inline: data });
  }

  /** Adds a regular file. */
  addFile(ino: number): MemInode {
    return this.put(ino, S_IFREG | 0o644, 0, 0, {});
  }

  /** Adds a symlink. */
  addSymlink(ino: number, target: string): MemInode {
    return this.put(ino, S_IFLNK | 0o777, 0, enc.encode(target).length, { link: target });
  }

  readInode(ino: number): DirInode {
    const i = this.inodes.get(ino);
    if (i === undefined) throw new Error(`test host: no inode ${ino}`);
    return i;
  }

  readFileBlock(inode: DirInode, lblk: number): Uint8Array | null {
    this.reads.push(lblk);
    return (inode as MemInode).blocks[lblk] ?? null;
  }

  readLink(inode: DirInode): string {
    return (inode as MemInode).link ?? "";
  }
}

/** A linear directory's worth of entries, packed into as many blocks as needed. */
export function packLinear(
  host: MemHost,
  ino: number,
  parent: number,
  entries: ReadonlyArray<{ ino: number; name: string | Uint8Array; type?: number }>,
): Array<Uint8Array> {
  const bs = host.blockSize;
  const csum = host.hasFeature("metadata_csum");
  const seed = host.seedOf(ino);
  const blocks: Uint8Array[] = [];
  let cur = dirBlock(bs).entry(ino, ".", 2).entry(parent, "..", 2);
  const flush = () => {
    if (csum) cur.tail(seed);
    blocks.push(cur.build());
  };
  const reserve = csum ? DIRENT_TAIL_SIZE : 0;
  for (const e of entries) {
    const name = bytesOf(e.name);
    if (cur.free() - reserve < dirRecLen(name.length)) {
      flush();
      cur = dirBlock(bs);
    }
    cur.entry(e.ino, name, e.type ?? 1);
  }
  flush();
  return blocks;
}

/**
 * Builds an indexed directory the way e2fsck -D lays one out: names sorted
 * by hash, `perLeaf` per leaf, index entries with the collision bit set
 * where a hash value continues from the previous leaf, `levels` interior
 * levels below the root (0-2) with at most `perNode` entries each. Returns
 * the blocks (0 = root).
 */
export function packHtree(
  host: MemHost,
  ino: number,
  parent: number,
  names: ReadonlyArray<{ ino: number; name: string | Uint8Array }>,
  o: { hashVersion: number; perLeaf: number; perNode?: number; levels?: 0 | 1 | 2 },
): Array<Uint8Array> {
  const bs = host.blockSize;
  const csum = host.hasFeature("metadata_csum");
  const seed = host.seedOf(ino);
  const version = effectiveHashVersion(o.hashVersion, host.unsignedHash);
  const sorted = names
    .map((n) => ({
      ...n,
      name: bytesOf(n.name),
      h: dxHash(version, bytesOf(n.name), host.hashSeed),
    }))
    .sort((a, b) => a.h.hash - b.h.hash || a.h.minorHash - b.h.minorHash);
  const blocks: Array<Uint8Array> = [new Uint8Array(bs)];
  // Each level is a list of (lowest hash, block number) children.
  let level: DxEntry[] = [];
  for (let i = 0; i < sorted.length; i += o.perLeaf) {
    const chunk = sorted.slice(i, i + o.perLeaf);
    const b = dirBlock(bs);
    for (const e of chunk) b.entry(e.ino, e.name, 1);
    if (csum) b.tail(seed);
    // OK to assert: chunks are never empty.
    const first = chunk[0]!.h.hash;
    const prevLast = i > 0 ? sorted[i - 1]!.h.hash : -1;
    level.push({ hash: (first === prevLast ? first | 1 : first) >>> 0, block: blocks.length });
    blocks.push(b.build());
  }
  const perNode = o.perNode ?? dxNodeLimit(bs, csum);
  for (let l = 0; l < (o.levels ?? 0); l++) {
    const up: DxEntry[] = [];
    for (let i = 0; i < level.length; i += perNode) {
      const group = level
        .slice(i, i + perNode)
        .map((e, j) => ({ hash: j === 0 ? 0 : e.hash, block: e.block }));
      up.push({ hash: level[i]!.hash, block: blocks.length });
      blocks.push(dxNodeBlock(bs, group, csum ? seed : undefined));
    }
    level = up;
  }
  blocks[0] = dxRootBlock(bs, {
    dot: ino,
    dotdot: parent,
    hashVersion: o.hashVersion,
    indirectLevels: o.levels ?? 0,
    entries: level.map((e, i) => ({ hash: i === 0 ? 0 : e.hash, block: e.block })),
    ...(csum ? { csumSeed: seed } : {}),
  });
  return blocks;
}
