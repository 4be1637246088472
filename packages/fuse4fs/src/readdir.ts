/**
 * Directory listing with offsets (FUSE readdir cookies) that stay valid
 * while the directory changes underneath a reader: no entry that exists
 * throughout is skipped or repeated.
 *
 * - Linear and inline directories: the entry's byte position (+1 is the
 *   cookie of the next entry). ext4 never moves a live entry inside a
 *   linear directory: deletion merges its record into the one before,
 *   insertion splits free space.
 * - htree directories: the kernel's way (ext4_dx_readdir): entries in
 *   hash order, the cookie built from (major, minor) hash, so entries
 *   added or removed elsewhere in the tree do not move the others. The
 *   listing is a per-handle snapshot sorted by cookie, rebuilt (and
 *   resumed at the same cookie) whenever the directory changed.
 * - A directory that changes kind under an open handle (a linear one that
 *   grows an index, an inline one moved to a block) restarts in the new
 *   order, skipping the names the handle already returned.
 */
import {
  type DirEntry,
  decodeDxRoot,
  effectiveHashVersion,
  type Filesystem,
  type Inode,
  InodeFlags,
  isExt4Error,
  iterateDirectory,
  kernelDxHash,
} from "@ext4/core";

/** One entry to send: `off` is the cookie that resumes after it. */
export interface ListedEntry {
  readonly name: Uint8Array;
  readonly ino: number;
  /** EXT4_FT_* (0 unknown). */
  readonly fileType: number;
  readonly off: number;
}

/** How a directory is listed. */
export type DirKind = "linear" | "inline" | "htree";

/** Hash cookies start above the dots' positions: "." is 0, ".." is 1. */
const HASH_BASE = 3;
/** Most names a linear handle remembers to survive a change of kind. */
const MAX_TRACKED = 65536;

/**
 * The cookie of an htree entry: 31 bits of major hash (bit 0 is always
 * clear, ext4fs_dirhash) then the top 21 bits of the minor hash, so it
 * stays below 2^53 while ordering exactly as (major, minor) does at that
 * precision.
 */
export function hashCookie(major: number, minor: number): number {
  return HASH_BASE + (major >>> 1) * 2 ** 21 + (minor >>> 11);
}

function isDot(name: Uint8Array): boolean {
  return (name.length === 1 || name.length === 2) && name.every((c) => c === 0x2e);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    // OK to assert: i < both lengths.
    const d = a[i]! - b[i]!;
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

function key(name: Uint8Array): string {
  return Buffer.from(name.buffer, name.byteOffset, name.length).toString("latin1");
}

/**
 * The listing order of `dir` now, and for an htree the hash version to
 * compute cookies with. An index the kernel would not use (no dir_index,
 * casefolded or encrypted names whose hash needs keys, an unreadable
 * dx_root) lists linearly, as ext4_readdir falls back.
 */
export function dirKind(fs: Filesystem, dir: Inode): { kind: DirKind; hashVersion: number } {
  if (dir.hasInlineData()) return { kind: "inline", hashVersion: 0 };
  const indexed =
    fs.hasFeature("dir_index") &&
    (dir.flags & InodeFlags.INDEX) !== 0 &&
    (dir.flags & (InodeFlags.CASEFOLD | InodeFlags.ENCRYPT)) === 0;
  if (!indexed) return { kind: "linear", hashVersion: 0 };
  try {
    const block = fs.readFileBlock(dir, 0);
    if (block === null) return { kind: "linear", hashVersion: 0 };
    const root = decodeDxRoot(block, { inode: dir.ino });
    return { kind: "htree", hashVersion: effectiveHashVersion(root.hashVersion, fs.unsignedHash) };
  } catch (e) {
    if (isExt4Error(e)) return { kind: "linear", hashVersion: 0 };
    throw e;
  }
}

interface Snap {
  readonly version: number;
  /** Entries sorted by cookie, then name. */
  readonly entries: ReadonlyArray<{ cookie: number; e: DirEntry }>;
}

/**
 * The listing state of one open directory handle. {@link read} is called
 * for each READDIR with the kernel's offset; `take` receives entries in
 * order and returns false when the reply is full (that entry is not sent).
 */
export class DirStream {
  private kind: DirKind | null = null;
  private snap: Snap | null = null;
  /** Names already returned while linear or inline (to survive a change of kind). */
  private seen: Set<string> | null = null;
  /** After a change of kind: names to skip in the new order. */
  private skip: Set<string> | null = null;
  /** The cookie whose collision group was cut short by a full reply, and what of it was sent. */
  private partial: { cookie: number; sent: Set<string> } | null = null;

  constructor(
    private readonly fs: Filesystem,
    private readonly ino: number,
  ) {}

  /**
   * Streams entries from `offset` into `take`. `version` is the directory's
   * change counter (any change made through the server bumps it). Throws
   * Ext4Error (Corrupt, BadChecksum, NotADirectory) from reading the directory.
   */
  read(offset: number, version: number, take: (e: ListedEntry) => boolean): void {
    const dir = this.fs.readInode(this.ino);
    const { kind, hashVersion } = dirKind(this.fs, dir);
    if (offset === 0) {
      this.kind = kind;
      this.snap = null;
      this.skip = null;
      this.partial = null;
      this.seen = kind === "htree" ? null : new Set();
    } else if (this.kind !== null && this.kind !== kind) {
      // The directory changed its layout under this handle: start over in the new
      // order, skipping what was already returned.
      this.skip = this.seen ?? new Set();
      this.seen = kind === "htree" ? null : this.skip;
      this.kind = kind;
      this.snap = null;
      this.partial = null;
      offset = 0;
    }
    this.kind ??= kind;
    if (kind === "htree") this.readHtree(dir, hashVersion, offset, version, take);
    else this.readLinear(dir, offset, take);
  }

  private skipped(name: Uint8Array): boolean {
    return this.skip?.has(key(name)) === true;
  }

  private remember(name: Uint8Array): void {
    if (this.seen !== null && this.seen.size < MAX_TRACKED) this.seen.add(key(name));
  }

  private readLinear(dir: Inode, offset: number, take: (e: ListedEntry) => boolean): void {
    for (const e of iterateDirectory(this.fs, dir, { start: offset })) {
      if (this.skipped(e.name)) continue;
      if (!take({ name: e.name, ino: e.ino, fileType: e.fileType, off: e.position + 1 })) return;
      this.remember(e.name);
    }
  }

  private snapshot(dir: Inode, hashVersion: number, version: number): Snap {
    if (this.snap !== null && this.snap.version === version) return this.snap;
    const seed = this.fs.hashSeed;
    const entries: Array<{ cookie: number; e: DirEntry }> = [];
    for (const e of iterateDirectory(this.fs, dir, { includeDots: false })) {
      const h = kernelDxHash(hashVersion, e.name, seed);
      entries.push({ cookie: hashCookie(h.hash, h.minorHash), e });
    }
    entries.sort((a, b) => a.cookie - b.cookie || compareBytes(a.e.name, b.e.name));
    this.snap = { version, entries };
    return this.snap;
  }

  private readHtree(
    dir: Inode,
    hashVersion: number,
    offset: number,
    version: number,
    take: (e: ListedEntry) => boolean,
  ): void {
    // "." and ".." come first, from block 0 (as ext4_dx_readdir returns them).
    if (offset < 2) {
      const dots = iterateDirectory(this.fs, dir, { includeDots: true });
      for (const e of dots) {
        if (!isDot(e.name)) break;
        const pos = e.name.length === 1 ? 0 : 1;
        if (pos < offset || this.skipped(e.name)) continue;
        if (!take({ name: e.name, ino: e.ino, fileType: e.fileType, off: pos + 1 })) return;
      }
      offset = 2;
    }
    const { entries } = this.snapshot(dir, hashVersion, version);
    // Binary search for the first entry at or after the offset's cookie.
    let lo = 0;
    let hi = entries.length;
    const from = offset;
    const partial =
      this.partial !== null && this.partial.cookie + 1 === offset ? this.partial : null;
    const start = partial !== null ? partial.cookie : from;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // OK to assert: lo ≤ mid < hi ≤ entries.length.
      if (entries[mid]!.cookie < start) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < entries.length; i++) {
      // OK to assert: i < entries.length.
      const { cookie, e } = entries[i]!;
      const name = key(e.name);
      const resumed = partial !== null && cookie === partial.cookie;
      if ((resumed && partial.sent.has(name)) || this.skipped(e.name)) continue;
      if (!take({ name: e.name, ino: e.ino, fileType: e.fileType, off: cookie + 1 })) {
        // Entries sharing this cookie (a hash collision) may already be in the
        // reply: remember them, so the next call resuming at cookie + 1 sends
        // the rest of the group rather than skipping it.
        const sent = resumed ? partial.sent : new Set<string>();
        for (let j = i - 1; j >= 0 && entries[j]!.cookie === cookie; j--)
          sent.add(key(entries[j]!.e.name));
        this.partial = sent.size > 0 ? { cookie, sent } : null;
        return;
      }
    }
    this.partial = null;
  }
}
