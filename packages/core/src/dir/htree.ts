/**
 * Walking an htree: the kernel's hash-guided lookup (`dx_probe`, the leaf
 * search and `ext4_htree_next_block` for hash collisions that spill into the
 * next leaf) and a full dump of the tree for debugfs `htree_dump` and the
 * checker. Every walk is bounded: depth by dx_root_info.indirect_levels
 * (itself capped), index nodes by a visited set, leaf visits by the
 * directory's block count.
 */
import { corrupt, type Ext4Error, type Ext4ErrorContext, fsError, isExt4Error } from "../errors.js";
import {
  type DirContext,
  isDxInternal,
  ProbeCopies,
  readDirBlock,
  verifyBlock,
} from "./context.js";
import {
  checkDxNode,
  checkDxRoot,
  type DxCheckOptions,
  type DxCsum,
  type DxEntry,
  DxEntryView,
  type DxRoot,
  decodeDxNode,
  decodeDxRoot,
  dxCountOffset,
  dxCsum,
  dxSearch,
  maxHtreeLevels,
} from "./dx.js";
import { type DirBlockCsum, type DirParseOptions, dirBlockCsum, findDirEntry } from "./entry.js";
import { dxHash, effectiveHashVersion, kernelDxHash } from "./hash.js";
import { type RawDirRecord, rawRecords } from "./raw.js";

/** The options {@link checkDxRoot} and {@link checkDxNode} need for this directory. */
export function checkOptions(d: DirContext): DxCheckOptions {
  return {
    blockSize: d.blockSize,
    metadataCsum: d.metadataCsum,
    largedir: d.largedir,
    hashInDirent: d.hashInDirent,
    context: d.errorContext,
  };
}

/**
 * Reads a block an index points at: holes are corruption inside an htree.
 * Throws Corrupt DX_BLOCK_PAST_EOF, DX_HOLE.
 */
export function readIndexed(d: DirContext, lblk: number, what: "index" | "leaf"): Uint8Array {
  // The error context is built only on failure: every probe reads two or three blocks.
  const ctx = (): Ext4ErrorContext => ({ ...d.errorContext, block: lblk });
  if (lblk >= d.blockCount) {
    throw corrupt(
      "DX_BLOCK_PAST_EOF",
      `htree ${what} block ${lblk} is past i_size ${d.size}`,
      ctx(),
    );
  }
  const b = readDirBlock(d, lblk);
  if (b === null) throw corrupt("DX_HOLE", `directory hole found for htree ${what} block`, ctx());
  return b;
}

/** An index level of a probe: its entries (read in place) and the chosen position. */
interface Frame {
  view: DxEntryView;
  at: number;
}

/** The copies the frames of {@link dxFind} read their entries from. */
const findCopies = new ProbeCopies();

/** Reads, checks and verifies an interior node at index `level`; a private copy backs its view. */
function readNode(d: DirContext, lblk: number, verify: boolean, level: number): DxEntryView {
  const block = readIndexed(d, lblk, "index");
  const node = decodeDxNode(block, { ...d.errorContext, block: lblk }, 0);
  // The block must look like an index block before its checksum is judged as one.
  checkDxNode(node, lblk, checkOptions(d));
  if (verify) verifyBlock(d, lblk, block);
  return new DxEntryView(findCopies.copy(level, block), node.countOffset, node.count);
}

/** Where a name was found by {@link dxFind}. */
export interface DxMatch {
  readonly lblk: number;
  readonly offset: number;
  readonly ino: number;
  readonly fileTypeRaw: number;
}

/**
 * Finds `name` through the index like `ext4_dx_find_entry`: probes down from
 * the root by hash, searches the leaf, and moves to the next leaf while its
 * index hash (without the collision bit) equals the name's hash. Returns
 * null when the name is absent. Throws Corrupt (index codes listed in
 * DX_FALLBACK_CODES mean the caller may scan linearly instead), BadChecksum,
 * NotSupported for hashes it cannot compute.
 */
export function dxFind(d: DirContext, name: Uint8Array, verify: boolean): DxMatch | null {
  const opts = checkOptions(d);
  const rootBlock = readIndexed(d, 0, "index");
  if (verify) verifyBlock(d, 0, rootBlock);
  const root = decodeDxRoot(rootBlock, { ...d.errorContext, block: 0 }, 0);
  checkDxRoot(root, opts);
  const version = effectiveHashVersion(root.hashVersion, d.host.unsignedHash);
  const { hash } = kernelDxHash(version, name, d.host.hashSeed);

  const frames: Frame[] = [];
  const path: number[] = [0];
  let view = new DxEntryView(findCopies.copy(0, rootBlock), root.countOffset, root.count);
  for (let level = 0; ; level++) {
    const at = dxSearch(view, hash);
    frames.push({ view, at });
    const block = view.block(at);
    if (path.includes(block)) {
      throw corrupt("DX_TREE_CYCLE", `htree block ${block} points back into its own path`, {
        ...d.errorContext,
        block,
      });
    }
    if (level >= root.indirectLevels) break;
    path.push(block);
    view = readNode(d, block, verify, level + 1);
  }

  // Each step moves to a later index entry, so the walk ends; the block count caps it regardless.
  for (let visits = 0; visits <= d.blockCount; visits++) {
    // OK to assert: frames has indirect_levels + 1 ≥ 1 elements.
    const leaf = frames[frames.length - 1]!;
    const lblk = leaf.view.block(leaf.at);
    const block = readIndexed(d, lblk, "leaf");
    if (verify && !isDxInternal(d, lblk, block)) verifyBlock(d, lblk, block);
    const found = searchBlock(d, lblk, block, name);
    if (found !== null) return found;
    if (!nextLeaf(d, frames, hash, verify)) return null;
  }
  throw corrupt(
    "DX_TOO_MANY_LEAVES",
    "htree collision chain longer than the directory",
    d.errorContext,
  );
}

/** `ext4_htree_next_block`: advance to the next leaf if it continues `hash`. */
function nextLeaf(d: DirContext, frames: Frame[], hash: number, verify: boolean): boolean {
  let p = frames.length - 1;
  for (;;) {
    // OK to assert: 0 ≤ p < frames.length.
    const f = frames[p]!;
    f.at++;
    if (f.at < f.view.count) break;
    if (p === 0) return false;
    p--;
  }
  const top = frames[p]!;
  if ((top.view.hash(top.at) & ~1) >>> 0 !== hash) return false;
  for (let q = p + 1; q < frames.length; q++) {
    const parent = frames[q - 1]!;
    frames[q] = { view: readNode(d, parent.view.block(parent.at), verify, q), at: 0 };
  }
  return true;
}

/** Searches one leaf block for `name` with the kernel's entry checks. */
export function searchBlock(
  d: DirContext,
  lblk: number,
  block: Uint8Array,
  name: Uint8Array,
): DxMatch | null {
  const m = findDirEntry(block, parseOptions(d, { ...d.errorContext, block: lblk }), name);
  return m === null ? null : { lblk, offset: m.offset, ino: m.inode, fileTypeRaw: m.fileTypeRaw };
}

/** The parse options for this directory's linear regions. */
export function parseOptions(d: DirContext, context: Ext4ErrorContext): DirParseOptions {
  return {
    blockSize: d.blockSize,
    hashInDirent: d.hashInDirent,
    metadataCsum: d.metadataCsum,
    // Encrypted names are ciphertext: any byte may appear.
    checkNames: !d.encrypted,
    context,
  };
}

/** Byte equality of two names. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** An entry of a leaf in an htree dump, with its hash. */
export interface HtreeLeafEntry extends RawDirRecord {
  /** The name's major hash, or null when it cannot be computed (casefolded names). */
  readonly hash: number | null;
  readonly minorHash: number | null;
}

/** A leaf block in an htree dump. */
export interface HtreeLeaf {
  readonly kind: "leaf";
  readonly lblk: number;
  /** Records up to the checksum tail (exclusive), read the lenient way debugfs does. */
  readonly entries: readonly HtreeLeafEntry[];
  /** The checksum tail, when metadata_csum is on and the block has one. */
  readonly tail: DirBlockCsum | null;
  /** The first malformed record, after which the rest of the block was not read. */
  readonly error: Ext4Error | null;
}

/** An index block (root or node) in an htree dump. */
export interface HtreeIndexNode {
  readonly kind: "index";
  readonly lblk: number;
  /** 0 for the root, growing downwards. */
  readonly depth: number;
  readonly countOffset: number;
  readonly count: number;
  readonly limit: number;
  readonly entries: readonly DxEntry[];
  /** dx_tail checksums when metadata_csum is on (null if no tail fits). */
  readonly checksum: DxCsum | null;
  /** What the kernel's checks say about this block (limit, count, fake entry). */
  readonly problems: readonly Ext4Error[];
  /** One child per entry, in entry order. */
  readonly children: readonly HtreeChild[];
}

/** A child that could not be read (hole, past EOF, cycle, too many blocks). */
export interface HtreeUnreadable {
  readonly kind: "unreadable";
  readonly lblk: number;
  readonly error: Ext4Error;
}

/** Anything an index entry can lead to in a dump. */
export type HtreeChild = HtreeIndexNode | HtreeLeaf | HtreeUnreadable;

/** The whole htree of a directory (what debugfs `htree_dump` prints). */
export interface HtreeInfo {
  /** Decoded block 0 (dx_root_info fields, the fake "." and ".."). */
  readonly rootInfo: DxRoot;
  /** The hash version leaf hashes were computed with (root's, +3 for unsigned-hash filesystems). */
  readonly hashVersion: number;
  /** Problems with dx_root_info itself (hash version, depth, reserved fields). */
  readonly problems: readonly Ext4Error[];
  /** The root as an index node (block 0). */
  readonly root: HtreeIndexNode;
}

/**
 * Dumps the htree of an indexed directory for inspection: every index node
 * with its entries and checksum, and every leaf with its records and their
 * hashes. Problems are recorded where they are met and the walk goes on, as
 * debugfs does; it is bounded by the directory's block count. Throws
 * NotADirectory, InvalidArgument DIR_NOT_INDEXED for a directory without an
 * index, and Corrupt when block 0 cannot be read as a dx_root.
 */
export function htreeDump(d: DirContext): HtreeInfo {
  if (!d.indexed || d.inline) {
    throw fsError(
      "InvalidArgument",
      "DIR_NOT_INDEXED",
      "not a hash-indexed directory",
      d.errorContext,
    );
  }
  const block0 = readIndexed(d, 0, "index");
  const rootInfo = decodeDxRoot(block0, { ...d.errorContext, block: 0 });
  const problems: Ext4Error[] = [];
  const opts = checkOptions(d);
  try {
    checkDxRoot(rootInfo, opts);
  } catch (e) {
    if (!isExt4Error(e)) throw e;
    problems.push(e);
  }
  const hashVersion = effectiveHashVersion(rootInfo.hashVersion, d.host.unsignedHash);
  const budget = { blocks: Math.max(d.blockCount, 1) };
  const visitedIndex = new Set<number>([0]);
  // The root decides how deep the walk goes; never deeper than any kernel allows.
  const levels = Math.min(rootInfo.indirectLevels, maxHtreeLevels(true) - 1);

  const leaf = (lblk: number): HtreeChild => {
    if (visitedIndex.has(lblk)) {
      const error = corrupt("DX_TREE_CYCLE", `leaf pointer to index block ${lblk}`, {
        ...d.errorContext,
        block: lblk,
      });
      return { kind: "unreadable", lblk, error };
    }
    let block: Uint8Array;
    try {
      block = readIndexed(d, lblk, "leaf");
    } catch (e) {
      if (!isExt4Error(e)) throw e;
      return { kind: "unreadable", lblk, error: e };
    }
    const tail = d.metadataCsum ? dirBlockCsum(d.inodeSeed(), block, d.blockSize) : null;
    const ctx = { ...d.errorContext, block: lblk };
    const { records, error } = rawRecords(block, d.blockSize, ctx, d.hashInDirent);
    const entries: HtreeLeafEntry[] = [];
    for (const r of records) {
      if (tail !== null && tail.stored !== null && r.offset === d.blockSize - 12 && r.inode === 0)
        break;
      entries.push({ ...r, ...leafHash(d, hashVersion, r) });
    }
    return { kind: "leaf", lblk, entries, tail: tail?.stored === null ? null : tail, error };
  };

  const index = (
    lblk: number,
    block: Uint8Array,
    depth: number,
    isRoot: boolean,
  ): HtreeIndexNode => {
    const ctx = { ...d.errorContext, block: lblk };
    const nodeProblems: Ext4Error[] = [];
    let counted: { countOffset: number; count: number; limit: number; entries: readonly DxEntry[] };
    if (isRoot) {
      counted = rootInfo;
    } else {
      const node = decodeDxNode(block, ctx);
      try {
        checkDxNode(node, lblk, opts);
      } catch (e) {
        if (!isExt4Error(e)) throw e;
        nodeProblems.push(e);
      }
      counted = node;
    }
    let checksum: DxCsum | null = null;
    if (d.metadataCsum) {
      const off = dxCountOffset(block, d.blockSize) ?? counted.countOffset;
      checksum = dxCsum(d.inodeSeed(), block, d.blockSize, off);
    }
    const children: HtreeChild[] = [];
    for (const e of counted.entries) {
      if (--budget.blocks < 0) {
        children.push({
          kind: "unreadable",
          lblk: e.block,
          error: corrupt(
            "DX_TOO_MANY_BLOCKS",
            "htree references more blocks than the directory has",
            ctx,
          ),
        });
        break;
      }
      if (depth < levels) {
        if (visitedIndex.has(e.block)) {
          children.push({
            kind: "unreadable",
            lblk: e.block,
            error: corrupt("DX_TREE_CYCLE", `index block ${e.block} visited twice`, {
              ...d.errorContext,
              block: e.block,
            }),
          });
          continue;
        }
        visitedIndex.add(e.block);
        let child: Uint8Array;
        try {
          child = readIndexed(d, e.block, "index");
        } catch (err) {
          if (!isExt4Error(err)) throw err;
          children.push({ kind: "unreadable", lblk: e.block, error: err });
          continue;
        }
        children.push(index(e.block, child, depth + 1, false));
      } else {
        children.push(leaf(e.block));
      }
    }
    return {
      kind: "index",
      lblk,
      depth,
      countOffset: counted.countOffset,
      count: counted.count,
      limit: counted.limit,
      entries: counted.entries,
      checksum,
      problems: nodeProblems,
      children,
    };
  };

  return { rootInfo, hashVersion, problems, root: index(0, block0, 0, true) };
}

function leafHash(
  d: DirContext,
  version: number,
  r: RawDirRecord,
): { hash: number | null; minorHash: number | null } {
  if (d.hashInDirent) {
    return r.storedHash === undefined
      ? { hash: null, minorHash: null }
      : { hash: r.storedHash.hash, minorHash: r.storedHash.minorHash };
  }
  // Casefolded names hash after Unicode case folding, which this toolkit does not implement.
  if (d.casefolded) return { hash: null, minorHash: null };
  try {
    return dxHash(version, r.name, d.host.hashSeed);
  } catch (e) {
    if (!isExt4Error(e)) throw e;
    return { hash: null, minorHash: null };
  }
}
