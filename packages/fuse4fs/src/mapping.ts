/**
 * Publishing file block maps to the native fast path (DESIGN decision 2):
 * a file's runs become byte ranges `file offset → device offset`, which
 * native threads then serve with pread/pwrite without a JS upcall.
 *
 * Two rules keep the native side and the core's buffer cache coherent:
 * - before a range is published, no block of it may stay in the buffer
 *   cache (the core's partial-block writes leave data blocks there): dirty
 *   ones are written through, clean ones dropped, pinned ones left out of
 *   the mapping, so native reads see the newest bytes and native writes are
 *   never overwritten by a later cache flush;
 * - a node's mapping is invalidated before anything changes its block map
 *   or its data through the core (the caller's duty; see the server).
 *
 * Writable ranges are also checked against the system zone (superblocks,
 * descriptors, bitmaps, inode tables, the journal), as the kernel's
 * ext4_inode_block_valid does, so a corrupt map can never make a native
 * write land on metadata.
 */
import {
  type BlockRun,
  baseMetaBlocks,
  type Filesystem,
  groupFirstBlock,
  type Inode,
} from "@ext4/core";
import type { BufferCache } from "@ext4/iocache";
import type { MappedRange } from "@ext4/native-fuse";

/** Sorted, merged block ranges [start, end) holding filesystem metadata. */
export class SystemZone {
  private constructor(private readonly ranges: ReadonlyArray<readonly [number, number]>) {}

  /**
   * The system zone of `fs`: blocks before s_first_data_block, each group's
   * superblock/GDT/reserved GDT copies, bitmaps and inode table, and the
   * internal journal's blocks. Throws Ext4Error reading the journal's map.
   */
  static of(fs: Filesystem): SystemZone {
    const sb = fs.superblock;
    const r: Array<[number, number]> = [];
    if (sb.firstDataBlock > 0) r.push([0, sb.firstDataBlock]);
    fs.groups.forEach((gd, g) => {
      const first = groupFirstBlock(sb, g);
      const base = baseMetaBlocks(sb, g);
      if (base > 0) r.push([first, first + base]);
      r.push([gd.blockBitmap, gd.blockBitmap + 1]);
      r.push([gd.inodeBitmap, gd.inodeBitmap + 1]);
      r.push([gd.inodeTable, gd.inodeTable + sb.inodeTableBlocks]);
    });
    if (sb.features.has("has_journal") && sb.journalInum !== 0) {
      for (const b of fs.blockList(fs.readInode(sb.journalInum))) {
        r.push(
          b.kind === "metadata"
            ? [b.physical, b.physical + 1]
            : [b.physical, b.physical + b.length],
        );
      }
    }
    return SystemZone.fromRanges(r);
  }

  /**
   * A zone of the half-open ranges `ranges` in any order, overlapping or
   * not: they are sorted and merged, which the binary search of
   * {@link overlapping} relies on.
   */
  static fromRanges(ranges: ReadonlyArray<readonly [number, number]>): SystemZone {
    const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const x of sorted) {
      const last = merged[merged.length - 1];
      if (last !== undefined && x[0] <= last[1]) last[1] = Math.max(last[1], x[1]);
      else merged.push([x[0], x[1]]);
    }
    return new SystemZone(merged);
  }

  /** The zone's ranges overlapping [start, start + count). */
  overlapping(start: number, count: number): Array<readonly [number, number]> {
    const end = start + count;
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // OK to assert: mid < ranges.length.
      if (this.ranges[mid]![1] <= start) lo = mid + 1;
      else hi = mid;
    }
    const out: Array<readonly [number, number]> = [];
    for (let i = lo; i < this.ranges.length; i++) {
      const z = this.ranges[i]!;
      if (z[0] >= end) break;
      out.push(z);
    }
    return out;
  }
}

/** What {@link toRanges} needs besides the runs. */
export interface RangeEnv {
  readonly blockSize: number;
  /** Byte offset of the filesystem on the device descriptor. */
  readonly deviceOffset: number;
  /** Blocks that must not be published as written (system zone, pinned buffers). */
  readonly exclude?: (start: number, count: number) => Array<readonly [number, number]>;
}

/**
 * Turns block runs into fast-path ranges: holes and unwritten runs as
 * such, mapped runs as written ranges with their device offset. Excluded
 * blocks are left out (the native side sends their I/O to JS).
 */
export function toRanges(runs: readonly BlockRun[], env: RangeEnv): MappedRange[] {
  const bs = env.blockSize;
  const out: MappedRange[] = [];
  for (const run of runs) {
    if (run.kind === "hole" || run.unwritten) {
      out.push({
        offset: run.logical * bs,
        length: run.length * bs,
        kind: run.kind === "hole" ? "hole" : "unwritten",
      });
      continue;
    }
    let l = run.logical;
    let p = run.physical;
    const end = run.physical + run.length;
    for (const [zs, ze] of env.exclude?.(run.physical, run.length) ?? []) {
      // Exclusions may overlap, repeat or lie outside the run: clamp both
      // ends so the cursor only moves forward and never past the run.
      const cut = Math.min(end, Math.max(zs, p));
      if (cut > p) {
        out.push({
          offset: l * bs,
          length: (cut - p) * bs,
          kind: "written",
          deviceOffset: env.deviceOffset + p * bs,
        });
      }
      const resume = Math.max(p, Math.min(end, ze));
      l += resume - p;
      p = resume;
    }
    if (p < end) {
      out.push({
        offset: l * bs,
        length: (end - p) * bs,
        kind: "written",
        deviceOffset: env.deviceOffset + p * bs,
      });
    }
  }
  return out;
}

/**
 * Makes blocks [start, start + count) safe for native I/O: dirty cached
 * copies are written through, clean ones dropped. Returns the blocks that
 * stay resident (pinned) as ranges to exclude. Throws IoError.
 */
export function evictRange(
  cache: BufferCache,
  start: number,
  count: number,
): Array<readonly [number, number]> {
  const kept: Array<[number, number]> = [];
  for (let b = start; b < start + count; b++) {
    if (!cache.has(b)) continue;
    if (cache.isDirty(b)) cache.writeRange(b, 1, cache.get(b).slice());
    cache.invalidate(b);
    if (cache.has(b)) {
      const last = kept[kept.length - 1];
      if (last !== undefined && last[1] === b) last[1] = b + 1;
      else kept.push([b, b + 1]);
    }
  }
  return kept;
}

/** Merges two sorted lists of [start, end) ranges. */
function union(
  a: ReadonlyArray<readonly [number, number]>,
  b: ReadonlyArray<readonly [number, number]>,
): Array<readonly [number, number]> {
  const all = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of all) {
    const last = out[out.length - 1];
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

/** The native session calls the publisher needs (FuseSession satisfies it). */
export interface MappingSink {
  upsertMapping(
    nodeid: number,
    size: number,
    ranges: readonly MappedRange[],
    options: { fastWrite?: boolean; recordWrites?: boolean },
  ): void;
  invalidateMapping(nodeid: number, range?: { offset: number; length: number }): void;
}

/**
 * Tracks which nodes have a published mapping and publishes or withdraws
 * them. Publishing a file maps its whole size (one walk of its map).
 */
export class MappingPublisher {
  /** What each published node was given: its size, ranges (by offset) and whether overwrites are allowed. */
  private readonly published = new Map<
    number,
    { size: number; fastWrite: boolean; ranges: MappedRange[] }
  >();
  /** Byte ranges each node's data changed through the core since its last publish. */
  private readonly touched = new Map<number, Array<[number, number]> | "all">();
  private zone: SystemZone | null = null;

  /**
   * @param rawWrite writes bytes at a device offset of the descriptor the
   *   ranges refer to (what the native side pwrites), for {@link overwrite}
   * @param recordWrites the native side records when it overwrote a node
   *   (the filesystem then owns mtime: no kernel writeback cache)
   */
  constructor(
    private readonly fs: Filesystem,
    private readonly sink: MappingSink,
    private readonly deviceOffset: number,
    private readonly rawWrite: ((deviceOffset: number, data: Uint8Array) => void) | null = null,
    private readonly recordWrites = false,
  ) {}

  /** Whether `nodeid` has a mapping now. */
  has(nodeid: number): boolean {
    return this.published.has(nodeid);
  }

  /** Number of nodes with a published mapping. */
  get count(): number {
    return this.published.size;
  }

  /**
   * Serves a WRITE that reached JS the way the native side would: when
   * `[offset, offset + data.length)` lies below the published size, inside
   * written ranges of a node published with overwrites allowed, the bytes
   * go straight to the device and true is returned; nothing in the block
   * map changes, so the mapping stays. Otherwise false (the caller goes
   * through the core). Throws what `rawWrite` throws.
   */
  overwrite(nodeid: number, offset: number, data: Uint8Array): boolean {
    const m = this.published.get(nodeid);
    const write = this.rawWrite;
    if (m === undefined || write === null || !m.fastWrite || data.length === 0) return false;
    const end = offset + data.length;
    if (end > m.size) return false;
    // Ranges are sorted by offset: find the first that ends after `offset`.
    let lo = 0;
    let hi = m.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // OK to assert: mid < ranges.length.
      const r = m.ranges[mid]!;
      if (r.offset + r.length <= offset) lo = mid + 1;
      else hi = mid;
    }
    const pieces: Array<{ dev: number; from: number; to: number }> = [];
    let at = offset;
    for (let i = lo; i < m.ranges.length && at < end; i++) {
      const r = m.ranges[i]!;
      if (r.kind !== "written" || r.offset > at) return false;
      const to = Math.min(end, r.offset + r.length);
      pieces.push({ dev: r.deviceOffset + (at - r.offset), from: at - offset, to: to - offset });
      at = to;
    }
    if (at < end) return false;
    for (const p of pieces) write(p.dev, data.subarray(p.from, p.to));
    return true;
  }

  /**
   * Records that the core is about to change bytes `[offset, offset +
   * length)` of node `nodeid` (or, with "all", anything): only blocks under
   * recorded ranges can have been brought into the buffer cache by the core
   * (partial-block writes, zeroing, blocks allocated from freed metadata),
   * so publishing evicts just those instead of every block of the file.
   */
  touch(nodeid: number, range: { offset: number; length: number } | "all"): void {
    const cur = this.touched.get(nodeid);
    if (cur === "all") return;
    if (range === "all") {
      this.touched.set(nodeid, "all");
      return;
    }
    const list = cur ?? [];
    list.push([range.offset, range.offset + range.length]);
    // Bounded bookkeeping: past a few dozen ranges, evict the whole file once.
    this.touched.set(nodeid, list.length > 64 ? "all" : list);
  }

  /**
   * Publishes the whole map of regular file `inode` as node `nodeid`, with
   * native overwrites when `fastWrite`. Inline files and anything without a
   * block map are left to JS. Blocks the core may hold in its cache (see
   * {@link touch}) are written through and dropped first. Throws Ext4Error
   * from walking the map (nothing is published then), IoError from writing
   * cached blocks through.
   */
  publish(nodeid: number, inode: Inode, fastWrite: boolean): void {
    if (!inode.isRegular() || inode.hasInlineData()) return;
    const bs = this.fs.blockSize;
    const blocks = Math.ceil(inode.size / bs);
    const runs = blocks === 0 ? [] : this.fs.mapBlocks(inode, 0, blocks);
    this.zone ??= SystemZone.of(this.fs);
    const zone = this.zone;
    const cache = this.fs.cache;
    const touched = this.touched.get(nodeid) ?? [];
    const kept: Array<readonly [number, number]> = [];
    for (const run of runs) {
      if (run.kind !== "mapped" || run.unwritten) continue;
      if (touched === "all") {
        kept.push(...evictRange(cache, run.physical, run.length));
        continue;
      }
      for (const [from, to] of touched) {
        const a = Math.max(run.logical, Math.floor(from / bs));
        const b = Math.min(run.logical + run.length, Math.ceil(to / bs));
        if (a < b) kept.push(...evictRange(cache, run.physical + (a - run.logical), b - a));
      }
    }
    this.touched.delete(nodeid);
    const pinned = union(kept, []);
    const ranges = toRanges(runs, {
      blockSize: bs,
      deviceOffset: this.deviceOffset,
      exclude: (start, count) => {
        const z = fastWrite ? zone.overlapping(start, count) : [];
        const p = pinned.filter(([s0, e0]) => s0 < start + count && e0 > start);
        return p.length === 0 ? z : union(z, p);
      },
    });
    this.sink.upsertMapping(nodeid, inode.size, ranges, {
      fastWrite,
      recordWrites: fastWrite && this.recordWrites,
    });
    this.published.set(nodeid, { size: inode.size, fastWrite, ranges });
  }

  /** Withdraws `nodeid`'s mapping (waiting for native I/O on it). A no-op when none is published. */
  invalidate(nodeid: number): void {
    if (!this.published.delete(nodeid)) return;
    this.sink.invalidateMapping(nodeid);
  }
}
