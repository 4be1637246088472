/**
 * Changing an extent tree (fs/ext4/extents.c): inserting a mapping (merged
 * with its neighbours), removing a logical range (splitting the extents at
 * its ends, freeing the blocks under it), and converting a range between
 * written and unwritten (splitting, then merging with neighbours).
 *
 * Every change is made one leaf at a time as "this leaf's entries become
 * this list": a list that no longer fits is split into new blocks, which
 * adds index entries to the parent, up to the root, which grows the tree
 * by one level when it overflows (its entries move to a new block). A node
 * left empty is freed and its index entry removed. Index keys always equal
 * the first key of their child (e2fsck checks it), and when the root ends
 * up with a single child whose entries fit in the inode, that child is
 * pulled back up (ext4_ext_try_to_merge_up). The blocks a change may need
 * are allocated before anything is modified, so a NoSpace leaves the tree
 * as it was.
 */
import { corrupt, type Ext4ErrorContext, fsError } from "../errors.js";
import {
  decodeExtentNode,
  EXT_INIT_MAX_LEN,
  type Extent,
  type ExtentIndex,
  encodeExtentNode,
  extentCapacity,
  setExtentBlockChecksum,
} from "../format/extent.js";
import { loadExtentChild, mapExtents } from "./extent-tree.js";
import type { BlockRun } from "./types.js";
import type { MapWriteEnv } from "./write-env.js";

/** Entries of the root node in i_block. */
export const EXT4_ROOT_MAX = 4;
/** The last logical block an extent may cover, plus one. */
export const EXT4_LOGICAL_END = 2 ** 32;
/** Longest unwritten extent (EXT_UNWRITTEN_MAX_LEN). */
export const EXT_UNWRITTEN_MAX_LEN = EXT_INIT_MAX_LEN - 1;

/** Longest extent of a kind. */
export function maxExtentLen(unwritten: boolean): number {
  return unwritten ? EXT_UNWRITTEN_MAX_LEN : EXT_INIT_MAX_LEN;
}

interface Node {
  block: number | null;
  depth: number;
  max: number;
  ext: Extent[];
  idx: ExtentIndex[];
  /** Logical range the parent assigns: [start, end). */
  start: number;
  end: number;
}

interface Step {
  node: Node;
  /** For an index node: which child the path goes through. */
  at: number;
}

const count = (n: Node): number => (n.depth === 0 ? n.ext.length : n.idx.length);

type Entries = Extent[] | ExtentIndex[];

const firstKey = (depth: number, entries: Entries): number =>
  // OK to assert: called on non-empty lists only.
  depth === 0 ? (entries as Extent[])[0]!.logical : (entries as ExtentIndex[])[0]!.logical;

/** True when `b` continues `a` in every respect and the result is not too long. */
function canMerge(a: Extent, b: Extent): boolean {
  return (
    a.unwritten === b.unwritten &&
    a.logical + a.length === b.logical &&
    a.physical + a.length === b.physical &&
    a.length + b.length <= maxExtentLen(a.unwritten)
  );
}

/** Merges neighbours of a sorted, non-overlapping extent list. */
export function normalizeExtents(list: readonly Extent[]): Extent[] {
  const out: Extent[] = [];
  for (const x of list) {
    const prev = out[out.length - 1];
    if (prev !== undefined && canMerge(prev, x)) {
      out[out.length - 1] = { ...prev, length: prev.length + x.length };
    } else {
      out.push(x);
    }
  }
  return out;
}

/** Appends [logical, +length) → physical, cut into pieces no longer than the kind allows. */
function pushPieces(
  out: Extent[],
  logical: number,
  physical: number,
  length: number,
  unwritten: boolean,
): void {
  const max = maxExtentLen(unwritten);
  for (let done = 0; done < length; done += max) {
    out.push({
      logical: logical + done,
      physical: physical + done,
      length: Math.min(max, length - done),
      unwritten,
    });
  }
}

/** A writer for the extent tree rooted in an inode's i_block (`root`, changed in place). */
export class ExtentWriter {
  private readonly blockMax: number;

  /**
   * @param env block access, allocation and freeing
   * @param ino the inode (error context; the checksum seed is in env)
   * @param root the inode's 60-byte i_block, updated in place; the caller writes the inode
   */
  constructor(
    private readonly env: MapWriteEnv,
    private readonly ino: number,
    readonly root: Uint8Array,
  ) {
    this.blockMax = extentCapacity(env.blockSize);
  }

  private ctx(block?: number): Ext4ErrorContext {
    return block === undefined ? { inode: this.ino } : { inode: this.ino, block };
  }

  /** The block map of [from, from + n) (see mapExtents). Throws Ext4Error. */
  map(from: number, n: number): BlockRun[] {
    return mapExtents(this.env, this.ino, this.root, from, from + n);
  }

  // ---- nodes ----

  private loadRoot(): Node {
    const d = decodeExtentNode(
      this.root,
      { firstDataBlock: this.env.firstDataBlock, blocksCount: this.env.blocksCount },
      this.ctx(),
    );
    return {
      block: null,
      depth: d.depth,
      max: d.max,
      ext: [...d.extents],
      idx: [...d.indexes],
      start: 0,
      end: EXT4_LOGICAL_END,
    };
  }

  private loadChild(idx: ExtentIndex, depth: number, start: number, end: number): Node {
    const ctx = this.ctx(idx.child);
    const d = loadExtentChild(this.env, idx.child, depth, start, end, ctx);
    // The kernel keeps index keys equal to the child's first key; a child
    // starting later would let a later insert land outside the index range.
    const first = d.depth === 0 ? d.extents[0]?.logical : d.indexes[0]?.logical;
    if (first !== undefined && first !== start) {
      throw corrupt(
        "EXTENT_INDEX_KEY",
        `index key ${start} differs from its child's first key ${first}`,
        ctx,
      );
    }
    if (d.entries === 0) {
      throw corrupt("EXTENT_EMPTY_NODE", "extent tree block with no entries", ctx);
    }
    return {
      block: idx.child,
      depth: d.depth,
      max: d.max,
      ext: [...d.extents],
      idx: [...d.indexes],
      start,
      end,
    };
  }

  /** The path from the root to the leaf whose range holds `lblk` (the first leaf when lblk precedes every key). */
  private findPath(lblk: number): Step[] {
    const path: Step[] = [];
    let node = this.loadRoot();
    for (;;) {
      const step: Step = { node, at: 0 };
      path.push(step);
      if (node.depth === 0) return path;
      let i = 0;
      while (i + 1 < node.idx.length && (node.idx[i + 1] as ExtentIndex).logical <= lblk) i++;
      step.at = i;
      // OK to assert: index nodes are never empty (decodeExtentNode refuses it).
      const idx = node.idx[i]!;
      const end = node.idx[i + 1]?.logical ?? node.end;
      node = this.loadChild(idx, node.depth - 1, idx.logical, end);
    }
  }

  private store(node: Node): void {
    const data = {
      max: node.max,
      depth: node.depth,
      generation: 0,
      extents: node.depth === 0 ? node.ext : [],
      indexes: node.depth === 0 ? [] : node.idx,
    };
    if (node.block === null) {
      this.root.fill(0);
      encodeExtentNode(this.root, data);
      return;
    }
    const buf = this.env.blockForWrite(node.block, this.ctx(node.block));
    buf.fill(0);
    encodeExtentNode(buf, data);
    if (this.env.inodeSeed !== null) setExtentBlockChecksum(this.env.inodeSeed, buf, node.max);
    this.env.dirty(node.block);
  }

  private storeNew(node: Node): void {
    // OK to assert: new nodes always get a block from the pool.
    this.env.zeroBlock(node.block!);
    this.store(node);
  }

  /** Blocks needed to make the leaf of `path` hold `n` entries (splits up the path, a root grow). */
  private blocksNeeded(path: readonly Step[], n: number): number {
    let need = 0;
    let len = n;
    for (let level = path.length - 1; level >= 0; level--) {
      // OK to assert: 0 ≤ level < path.length.
      const node = path[level]!.node;
      if (len <= node.max) return need;
      if (level === 0) return need + Math.ceil(len / this.blockMax);
      const chunks = Math.ceil(len / node.max);
      need += chunks - 1;
      // OK to assert: level ≥ 1.
      len = count(path[level - 1]!.node) + chunks - 1;
    }
    return need;
  }

  /** Splits a list into chunks of at most `max`: full chunks when appending, else halves. */
  private chunks<T>(list: readonly T[], max: number, append: boolean): T[][] {
    const out: T[][] = [];
    if (append) {
      for (let i = 0; i < list.length; i += max) out.push(list.slice(i, i + max));
      return out;
    }
    const n = Math.ceil(list.length / max);
    const size = Math.ceil(list.length / n);
    for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
    return out;
  }

  /**
   * Makes node `path[level]` hold `entries` (sorted; for a leaf,
   * non-overlapping): stored as is when they fit; split into new blocks
   * taken from `pool` otherwise (new index entries go to the parent); the
   * root grows a level when it overflows; an emptied node is freed and its
   * index entry removed. Parent keys follow a changed first key.
   */
  private setEntries(
    path: Step[],
    level: number,
    entries: Entries,
    pool: number[],
    append: boolean,
  ): void {
    // OK to assert: callers pass 0 ≤ level < path.length.
    const step = path[level]!;
    const node = step.node;
    const set = (n: Node, list: Entries): void => {
      if (n.depth === 0) n.ext = list as Extent[];
      else n.idx = list as ExtentIndex[];
    };
    if (entries.length === 0) {
      if (level === 0) {
        node.depth = 0;
        node.max = EXT4_ROOT_MAX;
        node.ext = [];
        node.idx = [];
        this.store(node);
        return;
      }
      // OK to assert: non-root nodes have a block.
      this.env.freeMeta(node.block!);
      // OK to assert: level ≥ 1.
      const parent = path[level - 1]!;
      const rest = parent.node.idx.filter((_, i) => i !== parent.at);
      this.setEntries(path, level - 1, rest, pool, false);
      return;
    }
    if (entries.length <= node.max) {
      set(node, entries);
      this.store(node);
      if (level > 0) {
        // OK to assert: level ≥ 1.
        const parent = path[level - 1]!;
        const key = firstKey(node.depth, entries);
        // OK to assert: parent.at indexes an entry of the parent.
        if (parent.node.idx[parent.at]!.logical !== key) {
          const idx = parent.node.idx.slice();
          idx[parent.at] = { logical: key, child: node.block! };
          this.setEntries(path, level - 1, idx, pool, false);
        }
      }
      return;
    }
    const take = (): number => {
      const b = pool.pop();
      if (b === undefined) {
        // blocksNeeded promised enough: running out is a bug, not the image's fault.
        throw fsError(
          "NoSpace",
          "EXTENT_POOL_EMPTY",
          "extent tree split ran out of blocks",
          this.ctx(),
        );
      }
      return b;
    };
    if (level === 0) {
      // ext4_ext_grow_indepth: the root's entries move down into new blocks.
      const parts = this.chunks(entries as unknown[], this.blockMax, append) as Entries[];
      if (parts.length > EXT4_ROOT_MAX) {
        throw corrupt("EXTENT_ROOT_OVERFLOW", `${entries.length} entries in the root`, this.ctx());
      }
      const idx: ExtentIndex[] = [];
      for (const part of parts) {
        const child: Node = {
          block: take(),
          depth: node.depth,
          max: this.blockMax,
          ext: [],
          idx: [],
          start: 0,
          end: 0,
        };
        set(child, part);
        this.storeNew(child);
        idx.push({ logical: firstKey(child.depth, part), child: child.block! });
      }
      node.depth += 1;
      node.max = EXT4_ROOT_MAX;
      node.ext = [];
      node.idx = idx;
      this.store(node);
      return;
    }
    const parts = this.chunks(entries as unknown[], node.max, append) as Entries[];
    // OK to assert: entries.length > node.max ≥ 1, so there are ≥ 2 parts.
    set(node, parts[0]!);
    this.store(node);
    const added: ExtentIndex[] = [];
    for (const part of parts.slice(1)) {
      const sibling: Node = {
        block: take(),
        depth: node.depth,
        max: node.max,
        ext: [],
        idx: [],
        start: 0,
        end: 0,
      };
      set(sibling, part);
      this.storeNew(sibling);
      added.push({ logical: firstKey(sibling.depth, part), child: sibling.block! });
    }
    // OK to assert: level ≥ 1.
    const parent = path[level - 1]!;
    const idx = parent.node.idx.slice();
    idx[parent.at] = { logical: firstKey(node.depth, parts[0]!), child: node.block! };
    idx.splice(parent.at + 1, 0, ...added);
    this.setEntries(path, level - 1, idx, pool, append && parent.at === parent.node.idx.length - 1);
  }

  /** Replaces the entries of the leaf at the end of `path`, allocating what the change needs first. */
  private applyLeaf(path: Step[], list: Extent[], goal: number, append: boolean): void {
    const need = this.blocksNeeded(path, list.length);
    const pool = need > 0 ? this.env.allocMeta(goal, need) : [];
    this.setEntries(path, path.length - 1, list, pool, append);
    for (const b of pool) this.env.freeMeta(b);
  }

  /**
   * Pulls the only child of the root back into i_block while its entries
   * fit (ext4_ext_try_to_merge_up), so the tree never stays deeper than it
   * needs to.
   */
  private mergeUp(): void {
    for (;;) {
      const root = this.loadRoot();
      if (root.depth === 0 || root.idx.length !== 1) return;
      // OK to assert: length checked above.
      const only = root.idx[0]!;
      const child = this.loadChild(only, root.depth - 1, only.logical, EXT4_LOGICAL_END);
      if (count(child) > EXT4_ROOT_MAX) return;
      root.depth = child.depth;
      root.ext = child.ext;
      root.idx = child.idx;
      this.store(root);
      // OK to assert: a loaded child has a block.
      this.env.freeMeta(child.block!);
    }
  }

  private leafGoal(leaf: Node, fallback: number): number {
    const last = leaf.ext[leaf.ext.length - 1];
    return last === undefined ? fallback : last.physical + last.length;
  }

  // ---- operations ----

  /**
   * Maps [x.logical, +x.length) → x.physical (written or unwritten),
   * merging with the neighbouring extents of the leaf when they continue
   * it. The range must be unmapped. Throws InvalidArgument
   * (EXTENT_BAD_INSERT) for a bad extent or one overlapping a mapping,
   * NoSpace when a split cannot get a block, Corrupt, BadChecksum.
   */
  insert(x: Extent): void {
    if (
      !(
        Number.isSafeInteger(x.logical) &&
        x.logical >= 0 &&
        x.length >= 1 &&
        x.length <= maxExtentLen(x.unwritten) &&
        x.logical + x.length <= EXT4_LOGICAL_END
      )
    ) {
      throw fsError(
        "InvalidArgument",
        "EXTENT_BAD_INSERT",
        `bad extent ${x.logical}+${x.length}`,
        this.ctx(),
      );
    }
    const path = this.findPath(x.logical);
    // OK to assert: a path always ends in a leaf.
    const leaf = path[path.length - 1]!.node;
    const end = x.logical + x.length;
    if (end > leaf.end) {
      throw fsError(
        "InvalidArgument",
        "EXTENT_BAD_INSERT",
        `extent ${x.logical}+${x.length} overlaps a mapping`,
        this.ctx(),
      );
    }
    let pos = 0;
    while (pos < leaf.ext.length && (leaf.ext[pos] as Extent).logical < x.logical) pos++;
    const prev = leaf.ext[pos - 1];
    const next = leaf.ext[pos];
    if (
      (prev !== undefined && prev.logical + prev.length > x.logical) ||
      (next !== undefined && next.logical < end)
    ) {
      throw fsError(
        "InvalidArgument",
        "EXTENT_BAD_INSERT",
        `extent ${x.logical}+${x.length} overlaps a mapping`,
        this.ctx(),
      );
    }
    const list = normalizeExtents([...leaf.ext.slice(0, pos), x, ...leaf.ext.slice(pos)]);
    this.applyLeaf(path, list, x.physical, pos === leaf.ext.length);
    this.mergeUp();
  }

  /**
   * Unmaps [from, to): extents inside are removed, extents crossing an end
   * are cut (one spanning the whole range is split in two), emptied tree
   * blocks are freed, and the unmapped blocks are handed to env.freeData
   * (after the tree is updated) unless `free` is false. Returns the runs
   * removed, in order. Throws NoSpace (a split needing a block), Corrupt,
   * BadChecksum.
   */
  remove(from: number, to: number, free = true): Extent[] {
    const removed: Extent[] = [];
    let pos = from;
    let leaves = 0;
    while (pos < Math.min(to, EXT4_LOGICAL_END)) {
      const path = this.findPath(pos);
      // OK to assert: a path always ends in a leaf.
      const leaf = path[path.length - 1]!.node;
      const list: Extent[] = [];
      const cut: Extent[] = [];
      for (const e of leaf.ext) {
        const eEnd = e.logical + e.length;
        if (eEnd <= pos || e.logical >= to) {
          list.push(e);
          continue;
        }
        if (e.logical < pos) list.push({ ...e, length: pos - e.logical });
        const a = Math.max(e.logical, pos);
        const b = Math.min(eEnd, to);
        cut.push({
          logical: a,
          physical: e.physical + (a - e.logical),
          length: b - a,
          unwritten: e.unwritten,
        });
        if (eEnd > to) {
          list.push({
            logical: to,
            physical: e.physical + (to - e.logical),
            length: eEnd - to,
            unwritten: e.unwritten,
          });
        }
      }
      if (cut.length > 0) {
        this.applyLeaf(path, list, this.leafGoal(leaf, cut[0]?.physical ?? 0), false);
        removed.push(...cut);
        if (free) for (const c of cut) this.env.freeData(c.physical, c.length);
      }
      // Each pass moves to the next leaf: the loop ends after at most one pass per leaf.
      if (leaf.end <= pos || ++leaves > this.env.blocksCount) {
        throw corrupt("EXTENT_LOOP", "extent tree walk does not advance", this.ctx());
      }
      pos = leaf.end;
    }
    this.mergeUp();
    return removed;
  }

  /**
   * Sets the written/unwritten state of every mapped block in [from, to):
   * extents crossing an end are split, then neighbours that now continue
   * each other are merged (ext4_ext_convert_to_initialized, and the reverse
   * for ZERO_RANGE). Holes are left alone. Throws NoSpace, Corrupt,
   * BadChecksum.
   */
  convert(from: number, to: number, unwritten: boolean): void {
    let pos = from;
    let leaves = 0;
    while (pos < Math.min(to, EXT4_LOGICAL_END)) {
      const path = this.findPath(pos);
      // OK to assert: a path always ends in a leaf.
      const leaf = path[path.length - 1]!.node;
      const list: Extent[] = [];
      let changed = false;
      for (const e of leaf.ext) {
        const eEnd = e.logical + e.length;
        if (eEnd <= pos || e.logical >= to || e.unwritten === unwritten) {
          list.push(e);
          continue;
        }
        changed = true;
        const a = Math.max(e.logical, pos);
        const b = Math.min(eEnd, to);
        if (a > e.logical) list.push({ ...e, length: a - e.logical });
        pushPieces(list, a, e.physical + (a - e.logical), b - a, unwritten);
        if (eEnd > b) {
          list.push({
            logical: b,
            physical: e.physical + (b - e.logical),
            length: eEnd - b,
            unwritten: e.unwritten,
          });
        }
      }
      if (changed) {
        this.applyLeaf(path, normalizeExtents(list), this.leafGoal(leaf, 0), false);
      }
      if (leaf.end <= pos || ++leaves > this.env.blocksCount) {
        throw corrupt("EXTENT_LOOP", "extent tree walk does not advance", this.ctx());
      }
      pos = leaf.end;
    }
    this.mergeUp();
  }

  /**
   * Where the block before `lblk` lives, extended to `lblk` (ext4_ext_find_goal):
   * the physical block `lblk` would have if it continued the nearest
   * extent at or before it, or null when nothing precedes it in its leaf.
   */
  goalFor(lblk: number): number | null {
    const path = this.findPath(lblk);
    // OK to assert: a path always ends in a leaf.
    const leaf = path[path.length - 1]!.node;
    let best: Extent | undefined;
    for (const e of leaf.ext) if (e.logical <= lblk) best = e;
    if (best === undefined) return null;
    return best.physical + (lblk - best.logical);
  }

  /** Every tree block (index and leaf nodes below the root), for deletion. Throws Ext4Error. */
  treeBlocks(): number[] {
    const out: number[] = [];
    const walk = (node: Node): void => {
      if (node.depth === 0) return;
      node.idx.forEach((idx, i) => {
        const end = node.idx[i + 1]?.logical ?? node.end;
        const child = this.loadChild(idx, node.depth - 1, idx.logical, end);
        out.push(idx.child);
        if (out.length > this.env.blocksCount) {
          throw corrupt(
            "EXTENT_LOOP",
            "extent tree has more blocks than the filesystem",
            this.ctx(),
          );
        }
        walk(child);
      });
    };
    walk(this.loadRoot());
    return out;
  }
}
