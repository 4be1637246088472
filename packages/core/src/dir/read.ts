/**
 * Reading directories through a {@link DirHost}: listing (eager or
 * streaming, resumable by position), name lookup (through the htree when the
 * directory has one, linearly otherwise or when the index is unusable, as
 * the kernel does), and the entry points for htree dumps and raw listings.
 */
import { corrupt, fsError, isExt4Error } from "../errors.js";
import { DirFileType, EXT4_NAME_LEN } from "./constants.js";
import { type DirContext, dirContext, isDxInternal, readDirBlock, verifyBlock } from "./context.js";
import { isDxFallback } from "./dx.js";
import { type DirRecordCursor, scanDirEntries, walkDirRecords } from "./entry.js";
import type { DirHost, DirInode } from "./host.js";
import {
  bytesEqual,
  type DxMatch,
  dxFind,
  type HtreeInfo,
  htreeDump,
  parseOptions,
  searchBlock,
} from "./htree.js";
import { InlinePosition, inlineDirLayout } from "./inline.js";
import { type DirBlockInfoOptions, type DirListing, rawListing } from "./raw.js";

/** A live directory entry. */
export interface DirEntry {
  /** The name as stored (a copy; names are bytes, not necessarily UTF-8). */
  readonly name: Uint8Array;
  /** The name decoded as UTF-8, invalid sequences replaced by U+FFFD (for display only). */
  readonly nameText: string;
  readonly ino: number;
  /** EXT4_FT_* from the entry (1..7), or 0 when unknown: no filetype feature, or an invalid value. */
  readonly fileType: number;
  /** file_type as stored (or 0 for synthesized inline "." and ".."). */
  readonly fileTypeRaw: number;
  /**
   * readdir position: lblk × blockSize + offset for block directories; for
   * inline ones 0 for ".", 12 for "..", inline offset + 20 otherwise (the
   * kernel's scheme). Strictly increasing along a listing; pass it back as
   * `start` to resume.
   */
  readonly position: number;
  /** Logical block holding the entry, or null in an inline directory. */
  readonly lblk: number | null;
  /** Byte offset of the record in its block, or in the inline data (i_block ‖ system.data). */
  readonly offset: number;
  /** Decoded rec_len (12 for synthesized inline "." and ".."). */
  readonly recLen: number;
}

/** Options of {@link iterateDirectory} and {@link readDirectory}. */
export interface ReadDirOptions {
  /** Resume at this position (see {@link DirEntry.position}); entries before it are skipped. */
  readonly start?: number;
  /** Include "." and ".." (default true). */
  readonly includeDots?: boolean;
  /** Verify block checksums with metadata_csum (default true); debugging tools may turn it off. */
  readonly verifyChecksums?: boolean;
}

const utf8 = new TextDecoder("utf-8", { fatal: false });
const utf8enc = new TextEncoder();

function isDotName(name: Uint8Array): boolean {
  return (name.length === 1 || name.length === 2) && name.every((c) => c === 0x2e);
}

const DOT = new Uint8Array([0x2e]);
const DOTDOT = new Uint8Array([0x2e, 0x2e]);

/** {@link isDotName} of a record, without a view of its name. */
function isDotRecord(r: DirRecordCursor): boolean {
  return r.nameIs(DOT) || r.nameIs(DOTDOT);
}

function fileTypeOf(d: DirContext, raw: number): number {
  return d.filetype && raw >= DirFileType.RegularFile && raw <= DirFileType.Symlink
    ? raw
    : DirFileType.Unknown;
}

function makeEntry(
  d: DirContext,
  name: Uint8Array,
  ino: number,
  fileTypeRaw: number,
  position: number,
  lblk: number | null,
  offset: number,
  recLen: number,
  fileType = fileTypeOf(d, fileTypeRaw),
): DirEntry {
  const copy = name.slice();
  return {
    name: copy,
    nameText: utf8.decode(copy),
    ino,
    fileType,
    fileTypeRaw,
    position,
    lblk,
    offset,
    recLen,
  };
}

/** Rec_len decoding block size for inline regions, which are always below 64 KiB and stored raw. */
const INLINE_REC_LEN_BLOCK = 4096;

function* iterateInline(
  d: DirContext,
  start: number,
  includeDots: boolean,
): Generator<DirEntry, void, undefined> {
  const data = d.inode.inlineData();
  if (data === null) {
    throw corrupt("INLINE_DATA_MISSING", "inline directory without inline data", d.errorContext);
  }
  const layout = inlineDirLayout(data, d.errorContext);
  // "." and ".." are not stored: no raw file type, but they are directories.
  const dirType = d.filetype ? DirFileType.Directory : 0;
  if (includeDots && start <= InlinePosition.dot) {
    const dot = new Uint8Array([0x2e]);
    yield makeEntry(d, dot, d.inode.ino, 0, InlinePosition.dot, null, 0, 12, dirType);
  }
  if (includeDots && start <= InlinePosition.dotdot) {
    const dd = new Uint8Array([0x2e, 0x2e]);
    yield makeEntry(d, dd, layout.parent, 0, InlinePosition.dotdot, null, 0, 12, dirType);
  }
  for (const region of layout.regions) {
    const out: DirEntry[] = [];
    const opts = {
      ...parseOptions(d, { ...d.errorContext, offset: region.start }),
      blockSize: INLINE_REC_LEN_BLOCK,
    };
    scanDirEntries(region.bytes, opts, (e) => {
      const offset = region.start + e.offset;
      const pos = InlinePosition.of(offset);
      if (e.inode !== 0 && pos >= start && (includeDots || !isDotName(e.name))) {
        out.push(makeEntry(d, e.name, e.inode, e.fileTypeRaw, pos, null, offset, e.recLen));
      }
      return false;
    });
    yield* out;
  }
}

function* iterateBlocks(
  d: DirContext,
  start: number,
  includeDots: boolean,
  verify: boolean,
): Generator<DirEntry, void, undefined> {
  const bs = d.blockSize;
  // One pass over the blocks below i_size: the walk cannot loop.
  for (let lblk = Math.max(0, Math.floor(start / bs)); lblk < d.blockCount; lblk++) {
    const block = readDirBlock(d, lblk);
    // Holes are skipped, as ext4_readdir does.
    if (block === null) continue;
    if (verify) verifyBlock(d, lblk, block);
    const out: DirEntry[] = [];
    const base = lblk * bs;
    walkDirRecords(block, parseOptions(d, { ...d.errorContext, block: lblk }), (r) => {
      const pos = base + r.offset;
      if (r.inode !== 0 && pos >= start && (includeDots || !isDotRecord(r))) {
        out.push(makeEntry(d, r.name(), r.inode, r.fileTypeRaw, pos, lblk, r.offset, r.recLen));
      }
      return false;
    });
    // Entries are copied before yielding: the block buffer may be a cache buffer.
    yield* out;
  }
}

/**
 * Streams the live entries of a directory in on-disk order, one block at a
 * time (for huge directories). Index blocks of an htree are recognised and
 * contribute nothing but "." and ".."; unused records and the checksum tail
 * are skipped. Bounded by the directory's size. Throws NotADirectory at the
 * call; Corrupt (DIRENT_* and DIR_* codes) and BadChecksum (when verifying)
 * surface while iterating, after the entries before the problem.
 */
export function iterateDirectory(
  host: DirHost,
  dir: DirInode,
  options: ReadDirOptions = {},
): Generator<DirEntry, void, undefined> {
  const d = dirContext(host, dir);
  const start = options.start ?? 0;
  const includeDots = options.includeDots ?? true;
  return d.inline
    ? iterateInline(d, start, includeDots)
    : iterateBlocks(d, start, includeDots, options.verifyChecksums ?? true);
}

/**
 * All live entries of a directory (see {@link iterateDirectory}). Throws
 * NotADirectory, Corrupt, BadChecksum.
 */
export function readDirectory(
  host: DirHost,
  dir: DirInode,
  options: ReadDirOptions = {},
): DirEntry[] {
  return Array.from(iterateDirectory(host, dir, options));
}

/** Where and how a name was found. */
export interface LookupResult {
  readonly ino: number;
  /** EXT4_FT_* (0 when unknown). */
  readonly fileType: number;
  /** Logical block of the entry, or null for inline directories. */
  readonly lblk: number | null;
  /** Offset of the record in its block or in the inline data. */
  readonly offset: number;
  /** "htree": found through the index; "linear": by scanning blocks; "inline": in inline data. */
  readonly via: "htree" | "linear" | "inline";
}

/** Options of {@link lookupEntry}. */
export interface LookupOptions {
  /** "auto" (default): use the index when there is one; "linear": scan every block (debugfs `dirsearch`). */
  readonly method?: "auto" | "linear";
  /** Verify block checksums with metadata_csum (default true). */
  readonly verifyChecksums?: boolean;
}

/** Encodes a name given as a string as UTF-8; bytes pass through. */
export function nameBytes(name: Uint8Array | string): Uint8Array {
  return typeof name === "string" ? utf8enc.encode(name) : name;
}

function linearFind(
  d: DirContext,
  name: Uint8Array,
  verify: boolean,
  blocks: number,
): DxMatch | null {
  for (let lblk = 0; lblk < blocks; lblk++) {
    const block = readDirBlock(d, lblk);
    if (block === null) continue;
    // Index blocks are not verified on a linear search (the kernel's is_dx_internal_node).
    if (verify && !isDxInternal(d, lblk, block)) verifyBlock(d, lblk, block);
    const found = searchBlock(d, lblk, block, name);
    if (found !== null) return found;
  }
  return null;
}

function inlineFind(d: DirContext, name: Uint8Array): LookupResult | null {
  const data = d.inode.inlineData();
  if (data === null) {
    throw corrupt("INLINE_DATA_MISSING", "inline directory without inline data", d.errorContext);
  }
  const layout = inlineDirLayout(data, d.errorContext);
  const dirType = d.filetype ? DirFileType.Directory : 0;
  if (isDotName(name)) {
    const ino = name.length === 1 ? d.inode.ino : layout.parent;
    return { ino, fileType: dirType, lblk: null, offset: 0, via: "inline" };
  }
  for (const region of layout.regions) {
    let found: LookupResult | null = null;
    const opts = {
      ...parseOptions(d, { ...d.errorContext, offset: region.start }),
      blockSize: INLINE_REC_LEN_BLOCK,
    };
    scanDirEntries(region.bytes, opts, (e) => {
      if (e.inode !== 0 && bytesEqual(e.name, name)) {
        found = {
          ino: e.inode,
          fileType: fileTypeOf(d, e.fileTypeRaw),
          lblk: null,
          offset: region.start + e.offset,
          via: "inline",
        };
        return true;
      }
      return false;
    });
    if (found !== null) return found;
  }
  return null;
}

/**
 * Finds `name` in a directory: through the htree when the directory is
 * indexed (falling back to a linear scan when the index is structurally
 * unusable, like the kernel's ERR_BAD_DX_DIR path), linearly otherwise; "."
 * and ".." are looked for in block 0 only (or synthesized for inline
 * directories). Names are bytes; a string is encoded as UTF-8. Returns null
 * when absent. In a casefolded (not encrypted) directory only the exact
 * spelling can be found: when it is absent this throws NotSupported
 * CASEFOLD_LOOKUP rather than claim the name does not exist. Throws
 * NotADirectory, NameTooLong (over 255 bytes), Corrupt, BadChecksum.
 */
export function lookupEntry(
  host: DirHost,
  dir: DirInode,
  name: Uint8Array | string,
  options: LookupOptions = {},
): LookupResult | null {
  const d = dirContext(host, dir);
  const n = nameBytes(name);
  if (n.length > EXT4_NAME_LEN) {
    throw fsError("NameTooLong", "NAME_TOO_LONG", `name of ${n.length} bytes`, d.errorContext);
  }
  // No stored name is empty or (outside encrypted directories, whose names are
  // binary ciphertext) contains '/' or NUL, so such a name cannot match.
  if (n.length === 0) return null;
  if (!d.encrypted && (n.includes(0x2f) || n.includes(0))) return null;
  if (d.inline) return inlineFind(d, n);
  const verify = options.verifyChecksums ?? true;
  const result = (m: DxMatch | null, via: "htree" | "linear"): LookupResult | null =>
    m === null
      ? null
      : { ino: m.ino, fileType: fileTypeOf(d, m.fileTypeRaw), lblk: m.lblk, offset: m.offset, via };
  if (isDotName(n)) return result(linearFind(d, n, verify, Math.min(1, d.blockCount)), "linear");
  // Hashes of casefolded names need Unicode folding; siphash needs the key: neither is available.
  const canHash = !d.casefolded;
  if (d.indexed && canHash && (options.method ?? "auto") === "auto") {
    try {
      return result(dxFind(d, n, verify), "htree");
    } catch (e) {
      if (!(isExt4Error(e) && isDxFallback(e))) throw e;
    }
  }
  const found = result(linearFind(d, n, verify, d.blockCount), "linear");
  if (found === null && d.casefolded && !d.encrypted) {
    throw fsError(
      "NotSupported",
      "CASEFOLD_LOOKUP",
      "case-insensitive lookup is not supported; only exact names can be found",
      d.errorContext,
    );
  }
  return found;
}

/**
 * The inode number `name` refers to in a directory, or null (see
 * {@link lookupEntry} for what it throws).
 */
export function lookup(host: DirHost, dir: DirInode, name: Uint8Array | string): number | null {
  return lookupEntry(host, dir, name)?.ino ?? null;
}

/**
 * The htree of an indexed directory, every node and leaf, for `htree_dump`
 * and checkers (see {@link htreeDump}). Throws NotADirectory, InvalidArgument
 * DIR_NOT_INDEXED, Corrupt when block 0 is unreadable.
 */
export function htreeInfo(host: DirHost, dir: DirInode): HtreeInfo {
  return htreeDump(dirContext(host, dir));
}

/**
 * The raw, e2fsprogs-style listing of a directory's blocks for debugfs `ls`
 * and its flags (see {@link rawListing}). Throws NotADirectory and Corrupt
 * INLINE_DATA_MISSING; record and checksum problems end the listing with
 * its `error` set instead.
 */
export function dirBlockInfo(
  host: DirHost,
  dir: DirInode,
  options: DirBlockInfoOptions = {},
): DirListing {
  return rawListing(dirContext(host, dir), options);
}
