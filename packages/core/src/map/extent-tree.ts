/**
 * Walking an inode's extent tree: range lookups (the block map), the whole
 * tree with its node blocks (for `ex`/`extents` dumps), and the block list
 * in libext2fs iteration order. Every node is validated
 * ({@link decodeExtentNode}) against its parent's key range and expected
 * depth, tree blocks are checksummed, and a block met twice in one walk is
 * corruption: depth strictly decreases and no node is visited twice, so a
 * walk ends after at most one visit per block of the filesystem.
 */
import { corrupt, type Ext4ErrorContext } from "../errors.js";
import {
  decodeExtentNode,
  type Extent,
  type ExtentIndex,
  type ExtentNodeData,
  verifyExtentBlockChecksum,
} from "../format/extent.js";
import {
  type BlockListEntry,
  type BlockRun,
  type MapEnv,
  type MappedRun,
  pushRun,
  withHoles,
} from "./types.js";

/** A node of a dumped extent tree. */
export interface ExtentTreeNode {
  /** The tree block holding the node, or null for the root in i_block. */
  readonly block: number | null;
  readonly depth: number;
  readonly entries: number;
  readonly max: number;
  readonly generation: number;
  /** Logical range the parent assigns to this node: [start, end). */
  readonly start: number;
  readonly end: number;
  /** Leaf entries (depth 0). */
  readonly extents: readonly Extent[];
  /** Index entries with their children (depth > 0), in key order. */
  readonly children: readonly ExtentTreeIndex[];
}

/** An index entry of a dumped tree. */
export interface ExtentTreeIndex extends ExtentIndex {
  readonly node: ExtentTreeNode;
}

const LOGICAL_END = 2 ** 32;

/**
 * Reads and decodes the extent tree block `block`, a child expected at
 * `depth` covering logical blocks [start, end), and verifies its tail
 * checksum when the env asks for it: what both the reader and the writer
 * do before trusting a child. Returns the decoded node. Throws Corrupt,
 * BadChecksum, Io.
 */
export function loadExtentChild(
  env: MapEnv,
  block: number,
  depth: number,
  start: number,
  end: number,
  ctx: Ext4ErrorContext,
): ExtentNodeData {
  const bytes = env.readBlock(block, ctx);
  const node = decodeExtentNode(
    bytes,
    {
      expectedDepth: depth,
      start,
      end,
      firstDataBlock: env.firstDataBlock,
      blocksCount: env.blocksCount,
    },
    ctx,
  );
  if (env.inodeSeed !== null && env.verifyChecksums) {
    verifyExtentBlockChecksum(env.inodeSeed, bytes, node.max, ctx);
  }
  return node;
}

class Walker {
  private readonly seen = new Set<number>();

  constructor(
    private readonly env: MapEnv,
    private readonly ino: number,
  ) {}

  root(iBlock: Uint8Array): ExtentNodeData {
    return decodeExtentNode(
      iBlock,
      {
        firstDataBlock: this.env.firstDataBlock,
        blocksCount: this.env.blocksCount,
      },
      { inode: this.ino },
    );
  }

  child(idx: ExtentIndex, depth: number, start: number, end: number): ExtentNodeData {
    const ctx: Ext4ErrorContext = { inode: this.ino, block: idx.child };
    if (this.seen.has(idx.child)) {
      throw corrupt("EXTENT_LOOP", `extent tree block ${idx.child} is reached twice`, ctx);
    }
    this.seen.add(idx.child);
    const node = loadExtentChild(this.env, idx.child, depth, start, end, ctx);
    return node;
  }
}

/** The logical end of index entry `i`: the next key, or the parent's end. */
function indexEnd(indexes: readonly ExtentIndex[], i: number, parentEnd: number): number {
  return indexes[i + 1]?.logical ?? parentEnd;
}

/**
 * The block map of [from, to) as ext4_map_blocks would answer it block by
 * block: mapped runs (written or unwritten) and holes, in logical order,
 * covering the whole range. Only the subtrees overlapping the range are
 * read. `root` is i_block already decoded by {@link decodeExtentNode} with
 * the filesystem's bounds, when the caller keeps it. Throws Ext4Error
 * (Corrupt EXTENT_*, BadChecksum).
 */
export function mapExtents(
  env: MapEnv,
  ino: number,
  iBlock: Uint8Array,
  from: number,
  to: number,
  root?: ExtentNodeData,
): BlockRun[] {
  const w = new Walker(env, ino);
  const runs: BlockRun[] = [];
  const visit = (node: ExtentNodeData, end: number): void => {
    if (node.depth === 0) {
      for (const x of node.extents) {
        const a = Math.max(from, x.logical);
        const b = Math.min(to, x.logical + x.length);
        if (a >= b) continue;
        pushRun(runs, {
          kind: "mapped",
          logical: a,
          physical: x.physical + (a - x.logical),
          length: b - a,
          unwritten: x.unwritten,
        });
      }
      return;
    }
    node.indexes.forEach((idx, i) => {
      const cend = indexEnd(node.indexes, i, end);
      if (cend <= from || idx.logical >= to) return;
      visit(w.child(idx, node.depth - 1, idx.logical, cend), cend);
    });
  };
  visit(root ?? w.root(iBlock), LOGICAL_END);
  return withHoles(runs, from, to);
}

/**
 * The whole tree with every node's block, header and entries (debugfs `ex`).
 * Throws Ext4Error (Corrupt EXTENT_*, BadChecksum).
 */
export function readExtentTree(env: MapEnv, ino: number, iBlock: Uint8Array): ExtentTreeNode {
  const w = new Walker(env, ino);
  const build = (
    node: ExtentNodeData,
    block: number | null,
    start: number,
    end: number,
  ): ExtentTreeNode => ({
    block,
    depth: node.depth,
    entries: node.entries,
    max: node.max,
    generation: node.generation,
    start,
    end,
    extents: node.extents,
    children: node.indexes.map((idx, i) => {
      const cend = indexEnd(node.indexes, i, end);
      return {
        ...idx,
        node: build(w.child(idx, node.depth - 1, idx.logical, cend), idx.child, idx.logical, cend),
      };
    }),
  });
  return build(w.root(iBlock), null, 0, LOGICAL_END);
}

/**
 * Every block of the tree in libext2fs iteration order: an index entry's
 * child block before the blocks under it, leaf extents as runs. Throws
 * Ext4Error.
 */
export function extentBlockList(env: MapEnv, ino: number, iBlock: Uint8Array): BlockListEntry[] {
  const out: BlockListEntry[] = [];
  const visit = (n: ExtentTreeNode): void => {
    if (n.depth === 0) {
      for (const x of n.extents) {
        const run: MappedRun = { kind: "mapped", ...x };
        out.push(run);
      }
      return;
    }
    for (const c of n.children) {
      out.push({ kind: "metadata", physical: c.child, level: c.node.depth });
      visit(c.node);
    }
  };
  visit(readExtentTree(env, ino, iBlock));
  return out;
}

/** One row of an extent tree listing, as libext2fs's extent iterator reports it (debugfs `ex`). */
export interface ExtentRow {
  /** 0 for the root's entries, growing towards the leaves. */
  readonly level: number;
  /** The tree depth (the root's eh_depth). */
  readonly maxDepth: number;
  /** 1-based position of the entry in its node. */
  readonly entry: number;
  /** Entries in the node. */
  readonly entries: number;
  readonly logical: number;
  /**
   * Blocks covered. For an index entry, up to the next key or, for the last
   * entry, the parent's end — the root's end being the file size in blocks —
   * as a 32-bit difference (libext2fs's e_len).
   */
  readonly length: number;
  /** The extent's first block, or the index entry's child node block. */
  readonly physical: number;
  readonly leaf: boolean;
  readonly unwritten: boolean;
}

/**
 * Flattens a dumped tree into rows in libext2fs order (an index entry, then
 * the rows under it), with index lengths computed as ext2fs_extent_get does
 * from the file size. For `ex`-style listings.
 */
export function extentRows(tree: ExtentTreeNode, fileSize: number, blockSize: number): ExtentRow[] {
  const rows: ExtentRow[] = [];
  const maxDepth = tree.depth;
  const visit = (n: ExtentTreeNode, endBlk: number): void => {
    const level = maxDepth - n.depth;
    if (n.depth === 0) {
      n.extents.forEach((x, i) => {
        rows.push({
          level,
          maxDepth,
          entry: i + 1,
          entries: n.entries,
          logical: x.logical,
          length: x.length,
          physical: x.physical,
          leaf: true,
          unwritten: x.unwritten,
        });
      });
      return;
    }
    n.children.forEach((c, i) => {
      const end = n.children[i + 1]?.logical ?? endBlk;
      rows.push({
        level,
        maxDepth,
        entry: i + 1,
        entries: n.entries,
        logical: c.logical,
        length: (end - c.logical) >>> 0,
        physical: c.child,
        leaf: false,
        unwritten: false,
      });
      visit(c.node, end);
    });
  };
  visit(tree, Math.ceil(fileSize / blockSize));
  return rows;
}
