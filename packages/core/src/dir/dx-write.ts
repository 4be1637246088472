/**
 * Growing htree directories as fs/ext4/namei.c does: turning a full
 * one-block directory into an index (`make_indexed_dir`), inserting through
 * the index (`ext4_dx_add_entry`), splitting a full leaf by hash at the
 * median of its bytes (`do_split`, `dx_insert_block`, with the collision
 * bit when the split hash continues the previous one), splitting full index
 * nodes and adding an index level (2 levels, 3 with largedir; beyond that
 * the index is full and the answer is ENOSPC, the kernel's "Directory index
 * full").
 *
 * Each step reads and checks every block it touches, plans the new block
 * images in memory, allocates the one new block it needs, and only then
 * writes. A step leaves a complete, valid directory: when an allocation
 * fails, nothing of that step has been written (an index split that already
 * happened stays, as in the kernel).
 */
import { corrupt, fsError } from "../errors.js";
import { ByteView } from "../view.js";
import { DirInodeFlag } from "./constants.js";
import { isDxInternal, ProbeCopies, verifyBlock } from "./context.js";
import {
  checkDxNode,
  checkDxRoot,
  DX_ROOT_INFO_LENGTH,
  type DxEntry,
  DxEntryView,
  decodeDxNode,
  decodeDxRoot,
  dxNodeLimit,
  dxNodeStruct,
  dxRootLimit,
  dxRootStruct,
  dxSearch,
  maxHtreeLevels,
  writeDxEntries,
  writeDxTail,
} from "./dx.js";
import {
  buildLeaf,
  findSlot,
  insertAt,
  leafEnd,
  type NewEntry,
  regionRecords,
  sealLeaf,
} from "./edit.js";
import {
  dirEntry2Struct,
  dirRecLen,
  type RawDirEntry,
  recLenToDisk,
  verifyDirBlockChecksum,
} from "./entry.js";
import { DxHashVersion, effectiveHashVersion, kernelDxHash } from "./hash.js";
import { checkOptions, readIndexed } from "./htree.js";
import type { DirWriter } from "./writer.js";

const DX_ENTRY_SIZE = 8;
const ROOT_COUNT_OFFSET = dxRootStruct.offsetOf("reserved_zero") + DX_ROOT_INFO_LENGTH;
const NODE_COUNT_OFFSET = dxNodeStruct.size;

/** The copies the frames of {@link probe} hold (see ProbeCopies: probes never nest). */
const probeCopies = new ProbeCopies();
/** The copy of the leaf an insertion edits. */
const leafCopies = new ProbeCopies();

/** One index block on the path from the root to a leaf, held as a private copy. */
class Frame {
  private decoded: DxEntry[] | null;

  /**
   * @param block the private copy of the index block
   * @param count entries in use (dx_countlimit.count, checked against the limit)
   * @param at the entry the probe followed
   * @param entries the entries, when the caller has them already
   */
  constructor(
    readonly lblk: number,
    readonly block: Uint8Array,
    readonly countOffset: number,
    readonly limit: number,
    readonly count: number,
    readonly at: number,
    entries: DxEntry[] | null = null,
  ) {
    this.decoded = entries;
  }

  /**
   * The entries in use (entry 0's hash is meaningless: its slot holds
   * count/limit), decoded from the copy on first use: only splits need
   * them, a probe searches them in place.
   */
  get entries(): DxEntry[] {
    if (this.decoded === null) {
      const ctx = { block: this.lblk };
      const d = this.lblk === 0 ? decodeDxRoot(this.block, ctx) : decodeDxNode(this.block, ctx);
      this.decoded = [...d.entries];
    }
    return this.decoded;
  }
  set entries(entries: DxEntry[]) {
    this.decoded = entries;
  }
}

/** The result of probing the index for a name. */
interface Probe {
  /** Root first; frames.length = indirect_levels + 1. */
  readonly frames: Frame[];
  /** The hash version names are hashed with (dx_root_info's, +3 for unsigned hashes). */
  readonly version: number;
  /** The new name's hash. */
  readonly hash: number;
}

/**
 * `dx_probe` for an insertion: reads, checks and verifies the root and
 * every index node down to the leaf `name` belongs in. Throws Corrupt (the
 * codes in DX_FALLBACK_CODES mean the index is unusable and the caller may
 * fall back to a linear insert), BadChecksum.
 */
function probe(w: DirWriter, name: Uint8Array): Probe {
  const d = w.d;
  const opts = checkOptions(d);
  const rootBlock = probeCopies.copy(0, readIndexed(d, 0, "index"));
  verifyBlock(d, 0, rootBlock);
  const root = decodeDxRoot(rootBlock, w.ctx(0), 0);
  checkDxRoot(root, opts);
  const version = effectiveHashVersion(root.hashVersion, d.host.unsignedHash);
  const { hash } = kernelDxHash(version, name, d.host.hashSeed);
  const frames: Frame[] = [];
  const path = new Set<number>([0]);
  let cur: { lblk: number; block: Uint8Array; countOffset: number; limit: number; count: number } =
    {
      lblk: 0,
      block: rootBlock,
      countOffset: root.countOffset,
      limit: root.limit,
      count: root.count,
    };
  for (let level = 0; ; level++) {
    // checkDx* proved 1 ≤ count ≤ limit, and limit entries fit in the block.
    const view = new DxEntryView(cur.block, cur.countOffset, cur.count);
    const at = dxSearch(view, hash);
    frames.push(new Frame(cur.lblk, cur.block, cur.countOffset, cur.limit, cur.count, at));
    const child = view.block(at);
    if (path.has(child)) {
      throw corrupt(
        "DX_TREE_CYCLE",
        `htree block ${child} points back into its own path`,
        w.ctx(child),
      );
    }
    path.add(child);
    if (level >= root.indirectLevels) break;
    const block = probeCopies.copy(level + 1, readIndexed(d, child, "index"));
    const node = decodeDxNode(block, w.ctx(child), 0);
    checkDxNode(node, child, opts);
    verifyBlock(d, child, block);
    cur = {
      lblk: child,
      block,
      countOffset: node.countOffset,
      limit: node.limit,
      count: node.count,
    };
  }
  return { frames, version, hash };
}

/** The new image of an index block with the frame's entries (and a fresh dx_tail with metadata_csum). */
function encodeIndex(w: DirWriter, f: Frame, indirectLevels?: number): Uint8Array {
  const b = f.block.slice();
  // Entries past the new count are cleared so no stale child pointer lingers.
  b.fill(0, f.countOffset, f.countOffset + f.limit * DX_ENTRY_SIZE);
  writeDxEntries(b, f.countOffset, f.limit, f.entries);
  if (indirectLevels !== undefined) {
    dxRootStruct.set(new ByteView(b), "indirect_levels", indirectLevels);
  }
  if (w.seed !== null) writeDxTail(b, w.bs, f.countOffset, w.seed);
  return b;
}

/** A new interior index block (`struct dx_node`: a fake entry covering the block, then the entries). */
function newIndexNode(w: DirWriter, entries: readonly DxEntry[]): Uint8Array {
  const b = new Uint8Array(w.bs);
  const v = new ByteView(b);
  dxNodeStruct.set(v, "fake_rec_len", recLenToDisk(w.bs, w.bs));
  writeDxEntries(b, NODE_COUNT_OFFSET, dxNodeLimit(w.bs, w.seed !== null), entries);
  if (w.seed !== null) writeDxTail(b, w.bs, NODE_COUNT_OFFSET, w.seed);
  return b;
}

/** How a full leaf is divided (`do_split`). */
type SplitPlan =
  | { readonly kind: "split"; keep: NewEntry[]; moved: NewEntry[]; readonly indexHash: number }
  /** Fewer than two live entries: there is nothing to split, but packing the leaf frees its unused records. */
  | { readonly kind: "pack"; readonly entries: NewEntry[] };

const asEntry = (r: RawDirEntry): NewEntry => ({
  inode: r.inode,
  name: r.name,
  fileType: r.fileTypeRaw,
});

/**
 * `do_split`'s choice: the live entries sorted by hash, the upper ones
 * moved out until moving the next would put more than half the block's
 * bytes (rec_len, slack included) in the new block — or half the entries by
 * count when even the first would — and the new entry added to the half
 * its hash belongs to. The new block's index hash is the first moved hash,
 * with bit 0 set when the entry before it has the same hash (a collision
 * run continues across the two leaves).
 */
function planSplit(
  records: readonly RawDirEntry[],
  version: number,
  hashSeed: readonly number[],
  blockSize: number,
  entry: NewEntry,
  entryHash: number,
): SplitPlan {
  const live = records.filter((r) => r.inode !== 0 && r.nameLen !== 0);
  if (live.length < 2) return { kind: "pack", entries: [...live.map(asEntry), entry] };
  const map = live
    .map((r) => ({ r, hash: kernelDxHash(version, r.name, hashSeed).hash, size: r.recLen }))
    .sort((a, b) => a.hash - b.hash || a.r.offset - b.r.offset);
  const count = map.length;
  let size = 0;
  let move = 0;
  let i = count - 1;
  for (; i >= 0; i--) {
    // OK to assert: 0 ≤ i < count.
    const s = map[i]!.size;
    if (size + Math.floor(s / 2) > Math.floor(blockSize / 2)) break;
    size += s;
    move++;
  }
  // A record is never longer than the block, so at least one moves; both halves stay non-empty.
  const split = Math.min(count - 1, Math.max(1, i > 0 ? count - move : Math.floor(count / 2)));
  const hash2 = map[split]!.hash;
  const continued = map[split - 1]!.hash === hash2;
  const moved = map.slice(split).map((m) => asEntry(m.r));
  const keep = map
    .slice(0, split)
    .sort((a, b) => a.r.offset - b.r.offset)
    .map((m) => asEntry(m.r));
  (entryHash >= hash2 ? moved : keep).push(entry);
  return { kind: "split", keep, moved, indexHash: continued ? (hash2 | 1) >>> 0 : hash2 };
}

/** Lays out a planned leaf. Throws Corrupt DX_SPLIT_NO_ROOM if it cannot hold its entries. */
function leafImage(w: DirWriter, entries: readonly NewEntry[], lblk: number): Uint8Array {
  const b = buildLeaf(entries, w.bs, w.seed);
  if (b === null) {
    throw corrupt("DX_SPLIT_NO_ROOM", "split directory leaf cannot hold its entries", w.ctx(lblk));
  }
  return b;
}

/**
 * Splits the full leaf `leafLblk` under the deepest frame (which has room
 * for one more index entry) into itself and a new block at the end of the
 * directory, adds `entry` to the half it belongs in, and inserts the new
 * block into the index. Throws NoSpace from the allocator (nothing written
 * then), Corrupt.
 */
function splitLeaf(
  w: DirWriter,
  p: Probe,
  leafLblk: number,
  leaf: Uint8Array,
  entry: NewEntry,
): void {
  const records = regionRecords(
    leaf.subarray(0, leafEnd(w.bs, w.seed !== null)),
    w.parseOptions(leafLblk),
  );
  const plan = planSplit(records, p.version, w.d.host.hashSeed, w.bs, entry, p.hash);
  if (plan.kind === "pack") {
    w.commit(leafLblk, leafImage(w, plan.entries, leafLblk));
    return;
  }
  // OK to assert: a probe has at least the root frame.
  const parent = p.frames[p.frames.length - 1]!;
  const newLblk = w.blockCount();
  parent.entries.splice(parent.at + 1, 0, { hash: plan.indexHash, block: newLblk });
  const keep = leafImage(w, plan.keep, leafLblk);
  const moved = leafImage(w, plan.moved, newLblk);
  const index = encodeIndex(w, parent);
  w.grow(newLblk);
  w.commit(leafLblk, keep);
  w.commit(newLblk, moved);
  w.commit(parent.lblk, index);
}

/**
 * Makes room in the index above a full leaf whose parent is full: splits
 * the highest full node below a node with room in half (the upper half to a
 * new node, whose first hash goes into the parent), or, when every level up
 * to the root is full, moves the root's entries into a new node and adds a
 * level. Throws NoSpace DX_INDEX_FULL when the index already has the most
 * levels allowed (2, or 3 with largedir), NoSpace from the allocator.
 */
function splitIndex(w: DirWriter, p: Probe): void {
  const frames = p.frames;
  let k = frames.length - 1;
  // OK to assert: 0 < k < frames.length inside the loop.
  while (k > 0 && frames[k - 1]!.entries.length >= frames[k - 1]!.limit) k--;
  const newLblk = w.blockCount();
  if (k === 0) {
    const max = maxHtreeLevels(w.d.largedir);
    if (frames.length >= max) {
      throw fsError(
        "NoSpace",
        "DX_INDEX_FULL",
        `directory index full: ${frames.length} levels${w.d.largedir ? "" : " (largedir is off)"}`,
        w.ctx(),
      );
    }
    const root = frames[0]!;
    const node = newIndexNode(w, root.entries);
    root.entries = [{ hash: 0, block: newLblk }];
    const rootImage = encodeIndex(w, root, frames.length);
    w.grow(newLblk);
    w.commit(newLblk, node);
    w.commit(0, rootImage);
    return;
  }
  const f = frames[k]!;
  const parent = frames[k - 1]!;
  const half = Math.floor(f.entries.length / 2);
  const hash2 = f.entries[half]!.hash;
  const node = newIndexNode(w, f.entries.slice(half));
  f.entries = f.entries.slice(0, half);
  parent.entries.splice(parent.at + 1, 0, { hash: hash2, block: newLblk });
  const fImage = encodeIndex(w, f);
  const parentImage = encodeIndex(w, parent);
  w.grow(newLblk);
  w.commit(newLblk, node);
  w.commit(f.lblk, fImage);
  w.commit(parent.lblk, parentImage);
}

/**
 * Each restart follows one index change; a tree of at most 3 levels needs
 * at most 3 before the leaf has a parent with room.
 */
const MAX_RESTARTS = 8;

/**
 * `ext4_dx_add_entry`: adds `entry` to an indexed directory. Throws Corrupt
 * (DX_FALLBACK_CODES: the index is unusable; the caller decides whether to
 * fall back), BadChecksum, Exists (the name is in the target leaf), NoSpace
 * (DX_INDEX_FULL, or from the allocator).
 */
export function dxAddEntry(w: DirWriter, entry: NewEntry): void {
  const need = dirRecLen(entry.name.length);
  for (let round = 0; round < MAX_RESTARTS; round++) {
    const p = probe(w, entry.name);
    const last = p.frames[p.frames.length - 1]!;
    const leafLblk = new DxEntryView(last.block, last.countOffset, last.count).block(last.at);
    // Edited in a reused buffer and committed before anything else is read (see ProbeCopies).
    const leaf = leafCopies.copy(0, readIndexed(w.d, leafLblk, "leaf"));
    if (isDxInternal(w.d, leafLblk, leaf)) {
      // An emptied leaf without checksums looks like an index node too, but
      // has no count/limit; a real index node here must not be written into
      // as if it were a leaf (the kernel would).
      const node = decodeDxNode(leaf, w.ctx(leafLblk), 0);
      if (node.limit === dxNodeLimit(w.bs, w.seed !== null) && node.count > 0) {
        throw corrupt(
          "DX_LEAF_IS_INDEX",
          "htree leaf pointer leads to an index block",
          w.ctx(leafLblk),
        );
      }
    }
    // A leaf is checked as a leaf, whatever its first record looks like.
    if (w.seed !== null) verifyDirBlockChecksum(w.seed, leaf, w.bs, w.ctx(leafLblk));
    const region = leaf.subarray(0, leafEnd(w.bs, w.seed !== null));
    const slot = findSlot(region, w.parseOptions(leafLblk), entry.name, need);
    if (slot !== null) {
      insertAt(region, slot, entry, w.bs);
      sealLeaf(leaf, w.bs, w.seed);
      w.commit(leafLblk, leaf);
      return;
    }
    if (last.count < last.limit) {
      splitLeaf(w, p, leafLblk, leaf, entry);
      return;
    }
    splitIndex(w, p);
  }
  throw corrupt("DX_INSERT_RESTARTS", "htree insertion did not settle", w.ctx());
}

/** "." or ".." (only dots are asked for). */
const isName = (r: RawDirEntry, dots: "." | ".."): boolean =>
  r.inode !== 0 && r.nameLen === dots.length && r.name.every((c) => c === 0x2e);

/**
 * `make_indexed_dir`: turns the full block 0 of a one-block directory into
 * a dx_root (keeping "." and "..", ".." now covering the block) and its
 * entries into two leaves split by hash, then adds `entry`. Returns false,
 * changing nothing, when block 0 cannot carry a dx_root ("." not a 12-byte
 * first record followed by "..") or s_def_hash_version is not one the index
 * can use; the caller then grows the directory linearly. Both new blocks are
 * allocated before block 0 changes: if the second allocation fails, the
 * directory stays linear with an empty second block. Sets EXT4_INDEX_FL in
 * `w.flags`. Throws NoSpace, Corrupt.
 */
export function makeIndexedDir(w: DirWriter, block0: Uint8Array, entry: NewEntry): boolean {
  const bs = w.bs;
  const end = leafEnd(bs, w.seed !== null);
  const records = regionRecords(block0.subarray(0, end), w.parseOptions(0));
  const dot = records[0];
  const dotdot = records[1];
  if (dot === undefined || dotdot === undefined) return false;
  if (!isName(dot, ".") || dot.recLen !== 12 || !isName(dotdot, "..") || dotdot.offset !== 12) {
    return false;
  }
  const hv = w.d.host.defHashVersion;
  if (hv !== DxHashVersion.Legacy && hv !== DxHashVersion.HalfMd4 && hv !== DxHashVersion.Tea) {
    return false;
  }
  const version = effectiveHashVersion(hv, w.d.host.unsignedHash);
  const { hash } = kernelDxHash(version, entry.name, w.d.host.hashSeed);

  // Block 1 as the kernel first lays it out: the records after "..", moved
  // to the front, the last one stretched to the end; do_split then divides it.
  const from = 12 + dotdot.recLen;
  const block1 = new Uint8Array(bs);
  block1.set(block0.subarray(from, end));
  const after = records.filter((r) => r.offset >= from);
  const lastRec = after[after.length - 1];
  const v1 = new ByteView(block1);
  if (lastRec === undefined) {
    dirEntry2Struct.set(v1, "rec_len", recLenToDisk(end, bs));
  } else {
    const at = lastRec.offset - from;
    dirEntry2Struct.set(v1.sub(at, 8), "rec_len", recLenToDisk(end - at, bs));
  }
  const moved = regionRecords(block1.subarray(0, end), w.parseOptions(1));
  const plan = planSplit(moved, version, w.d.host.hashSeed, bs, entry, hash);
  if (plan.kind === "pack") return false;

  const root = new Uint8Array(bs);
  root.set(block0.subarray(0, 24));
  const rv = new ByteView(root);
  dxRootStruct.set(rv, "dotdot_rec_len", recLenToDisk(bs - 12, bs));
  dxRootStruct.set(rv, "reserved_zero", 0);
  dxRootStruct.set(rv, "hash_version", hv);
  dxRootStruct.set(rv, "info_length", DX_ROOT_INFO_LENGTH);
  dxRootStruct.set(rv, "indirect_levels", 0);
  dxRootStruct.set(rv, "unused_flags", 0);
  const frame = new Frame(
    0,
    root,
    ROOT_COUNT_OFFSET,
    dxRootLimit(bs, DX_ROOT_INFO_LENGTH, w.seed !== null),
    2,
    0,
    [
      { hash: 0, block: 1 },
      { hash: plan.indexHash, block: 2 },
    ],
  );
  const rootImage = encodeIndex(w, frame);
  const keepImage = leafImage(w, plan.keep, 1);
  const movedImage = leafImage(w, plan.moved, 2);
  const empty = leafImage(w, [], 1);

  w.grow(1);
  w.commit(1, empty);
  w.grow(2);
  w.commit(0, rootImage);
  w.commit(1, keepImage);
  w.commit(2, movedImage);
  w.flags = (w.flags | DirInodeFlag.Index) >>> 0;
  return true;
}
