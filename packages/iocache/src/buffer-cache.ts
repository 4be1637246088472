/**
 * A bounded, synchronous, write-back buffer cache of fixed-size blocks over a
 * {@link BlockDevice}: the libext2fs unix_io cache / the kernel buffer cache,
 * for one thread.
 *
 * Replacement is a segmented LRU (SLRU): a block enters a probation segment
 * and moves to a protected segment when it is referenced again while
 * resident; the protected segment is capped at 3/4 of the capacity, its least
 * recently used buffer demoted back to probation when it overflows, and
 * eviction takes the least recently used probation buffer first. A one-pass
 * scan (a directory walk, a checker pass over inode tables) therefore only
 * churns probation, while metadata touched twice (group descriptors, bitmaps,
 * the root directory, htree roots) stays in protected.
 */
import { type BlockDevice, IoError } from "./device.js";

/** Options for {@link BufferCache}. */
export interface BufferCacheOptions {
  /** Size of one cached block in bytes (the filesystem block size). */
  blockSize: number;
  /** Memory bound for resident buffers in bytes (default 64 MiB); rounded down to whole blocks. */
  capacityBytes?: number;
  /** Largest single coalesced device transfer issued by flush, eviction and prefetch (default 4 MiB). */
  maxIoBytes?: number;
}

/** Counters and gauges of a {@link BufferCache}; a snapshot, not live. */
export interface CacheStats {
  /** get()/zero()/pin() calls that found the block resident. */
  hits: number;
  /** get()/zero()/pin() calls that did not (zero() reads nothing on a miss). */
  misses: number;
  /** Buffers dropped to make room (not counting invalidate()). */
  evictions: number;
  /** Device read calls (each may cover many blocks). */
  deviceReads: number;
  /** Device write calls (each may cover many blocks). */
  deviceWrites: number;
  /** Bytes read from the device. */
  bytesRead: number;
  /** Bytes written to the device. */
  bytesWritten: number;
  /** Bytes held in resident buffers now. */
  residentBytes: number;
  /** Resident buffers that differ from the device. */
  dirtyBuffers: number;
  /** Resident buffers with a pin count above zero. */
  pinnedBuffers: number;
  /** The memory bound in bytes (whole blocks). */
  capacityBytes: number;
  /** Buffers allocated beyond capacity because every resident buffer was unevictable. */
  overCapacityAllocations: number;
  /** Largest residentBytes seen. */
  peakResidentBytes: number;
  /** Prefetch reads that failed and were skipped (prefetch is advisory). */
  prefetchErrors: number;
}

const NONE = 0;
const PROBATION = 1;
const PROTECTED = 2;
type Segment = typeof NONE | typeof PROBATION | typeof PROTECTED;

/** One resident block: its bytes plus intrusive list links (no per-access allocation). */
class Buf {
  prev: Buf | null = null;
  next: Buf | null = null;
  seg: Segment = NONE;
  dirty = false;
  pins = 0;
  /** Loaded by prefetch and not referenced yet: its first get() is its first use, not a re-use. */
  fresh = false;
  constructor(
    public block: number,
    public data: Uint8Array,
  ) {}
}

/** A doubly linked list of buffers, least recently used at `head`. */
class List {
  head: Buf | null = null;
  tail: Buf | null = null;
  count = 0;

  pushMru(b: Buf): void {
    b.prev = this.tail;
    b.next = null;
    if (this.tail === null) this.head = b;
    else this.tail.next = b;
    this.tail = b;
    this.count++;
  }

  remove(b: Buf): void {
    if (b.prev === null) this.head = b.next;
    else b.prev.next = b.next;
    if (b.next === null) this.tail = b.prev;
    else b.next.prev = b.prev;
    b.prev = null;
    b.next = null;
    this.count--;
  }

  moveToMru(b: Buf): void {
    if (this.tail === b) return;
    this.remove(b);
    this.pushMru(b);
  }
}

const DEFAULT_CAPACITY = 64 * 1024 * 1024;
const DEFAULT_MAX_IO = 4 * 1024 * 1024;

/**
 * The buffer cache. Every method is synchronous and runs to completion; the
 * cache is not re-entrant and not shared between threads.
 *
 * Memory bound: resident buffers never exceed `capacityBytes`, except when
 * every resident buffer is unevictable (pinned, or dirty on a read-only
 * device); then one buffer at a time is allocated beyond the bound and counted
 * in {@link CacheStats.overCapacityAllocations}, and the excess is trimmed as
 * soon as buffers become evictable again.
 *
 * On a read-only device dirty buffers are kept resident for good (they cannot
 * be written): this is how an in-memory journal replay overlays the image
 * without writing it. flush() then throws EROFS.
 */
export class BufferCache {
  /** The device under the cache. */
  readonly device: BlockDevice;
  /** Bytes per block. */
  readonly blockSize: number;
  /** Whole blocks on the device (a trailing partial block is not addressable). */
  readonly blockCount: number;

  private readonly capacityBuffers: number;
  private readonly protectedMax: number;
  private readonly maxIoBlocks: number;
  private readonly map = new Map<number, Buf>();
  private readonly probation = new List();
  private readonly protectedList = new List();
  private readonly dirty = new Set<Buf>();
  private pinned = 0;
  private readScratch: Uint8Array | null = null;
  private writeScratch: Uint8Array | null = null;

  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private deviceReads = 0;
  private deviceWrites = 0;
  private bytesRead = 0;
  private bytesWritten = 0;
  private overCapacity = 0;
  private peakResident = 0;
  private prefetchErrors = 0;

  /**
   * Throws RangeError for a block size that is not a positive integer, a
   * capacity smaller than one block, or maxIoBytes smaller than one block.
   */
  constructor(device: BlockDevice, options: BufferCacheOptions) {
    const { blockSize } = options;
    if (!Number.isSafeInteger(blockSize) || blockSize <= 0) {
      throw new RangeError(`block size must be a positive integer, got ${blockSize}`);
    }
    const capacityBytes = options.capacityBytes ?? DEFAULT_CAPACITY;
    if (!(capacityBytes >= blockSize)) {
      throw new RangeError(`capacity ${capacityBytes} is smaller than one ${blockSize}-byte block`);
    }
    const maxIoBytes = options.maxIoBytes ?? DEFAULT_MAX_IO;
    if (!(maxIoBytes >= blockSize)) {
      throw new RangeError(`maxIoBytes ${maxIoBytes} is smaller than one ${blockSize}-byte block`);
    }
    this.device = device;
    this.blockSize = blockSize;
    this.blockCount = Math.floor(device.size / blockSize);
    this.capacityBuffers = Math.floor(capacityBytes / blockSize);
    this.protectedMax = Math.floor((this.capacityBuffers * 3) / 4);
    this.maxIoBlocks = Math.floor(maxIoBytes / blockSize);
  }

  /**
   * The cached buffer of `block` (blockSize bytes), read from the device on a
   * miss. It is the cache's own memory: read it now and do not keep it across
   * other cache calls; to change it, write into it and call markDirty(block)
   * before the next cache call. Throws IoError from the device read or from
   * writing back an evicted dirty buffer; RangeError past the device end.
   */
  get(block: number): Uint8Array {
    const b = this.map.get(block);
    if (b !== undefined) {
      this.hits++;
      this.touch(b);
      return b.data;
    }
    return this.load(block).data;
  }

  /**
   * A buffer for a block that will be fully overwritten: no device read, the
   * contents zeroed, marked dirty. Same lifetime rules as get(). Throws
   * IoError from writing back an evicted buffer; RangeError past the end.
   */
  zero(block: number): Uint8Array {
    let b = this.map.get(block);
    if (b !== undefined) {
      this.hits++;
      this.touch(b);
    } else {
      this.checkBlock(block);
      this.misses++;
      b = this.allocate(block);
      this.link(b, PROBATION);
    }
    b.data.fill(0);
    this.setDirty(b);
    return b.data;
  }

  /**
   * Records that the resident buffer of `block` was modified, so it is written
   * back before it is dropped. Throws Error if `block` is not resident (the
   * buffer from get() was kept across another cache call).
   */
  markDirty(block: number): void {
    const b = this.map.get(block);
    if (b === undefined) {
      throw new Error(`markDirty(${block}): block is not resident`);
    }
    this.setDirty(b);
  }

  /** True when `block` has a resident buffer. Changes nothing (no LRU move, no stats). */
  has(block: number): boolean {
    return this.map.has(block);
  }

  /** True when `block` is resident and dirty. Changes nothing. */
  isDirty(block: number): boolean {
    return this.map.get(block)?.dirty ?? false;
  }

  /**
   * Bulk read of `count` blocks from `firstBlock` into the first
   * count × blockSize bytes of `dest` (file data): resident blocks, clean or
   * dirty, are copied from the cache; the rest come straight from the device
   * in one read per contiguous non-resident run, without entering the cache
   * and without moving anything in the LRU. Throws IoError; RangeError for a
   * range past the device end or a `dest` too small.
   */
  readRange(firstBlock: number, count: number, dest: Uint8Array): void {
    this.checkRange(firstBlock, count);
    const bs = this.blockSize;
    if (dest.length < count * bs) {
      throw new RangeError(`readRange: ${count} blocks do not fit a ${dest.length}-byte buffer`);
    }
    let runStart = -1;
    for (let i = 0; i <= count; i++) {
      const b = i < count ? this.map.get(firstBlock + i) : undefined;
      if (i < count && b === undefined) {
        if (runStart < 0) runStart = i;
        continue;
      }
      if (runStart >= 0) {
        this.deviceRead(firstBlock + runStart, dest.subarray(runStart * bs, i * bs));
        runStart = -1;
      }
      if (b !== undefined) dest.set(b.data, i * bs);
    }
  }

  /**
   * Bulk write of `count` data blocks from `src`: resident copies are updated,
   * and the device is written through in one write per contiguous run,
   * without filling the cache. A pinned resident block is updated and left
   * dirty instead of written (a pin forbids writing). Throws IoError (EROFS on
   * a read-only device, before anything changes; on a failed device write the
   * updated resident copies stay dirty); RangeError for a bad range or a
   * `src` too small.
   */
  writeRange(firstBlock: number, count: number, src: Uint8Array): void {
    this.checkRange(firstBlock, count);
    const bs = this.blockSize;
    if (src.length < count * bs) {
      throw new RangeError(
        `writeRange: ${count} blocks need more than a ${src.length}-byte buffer`,
      );
    }
    if (this.device.readOnly) {
      throw new IoError(
        `${this.device.name}: write on a read-only device`,
        "EROFS",
        "write",
        firstBlock * bs,
      );
    }
    if (this.map.size > 0) {
      for (let i = 0; i < count; i++) {
        const b = this.map.get(firstBlock + i);
        if (b === undefined) continue;
        b.data.set(src.subarray(i * bs, (i + 1) * bs));
        this.setDirty(b);
      }
    }
    let runStart = -1;
    for (let i = 0; i <= count; i++) {
      const pinned = i < count && (this.map.get(firstBlock + i)?.pins ?? 0) > 0;
      if (i < count && !pinned) {
        if (runStart < 0) runStart = i;
        continue;
      }
      if (runStart >= 0) {
        this.deviceWrite(firstBlock + runStart, src.subarray(runStart * bs, i * bs));
        for (let j = runStart; j < i; j++) {
          const b = this.map.get(firstBlock + j);
          if (b !== undefined) this.setClean(b);
        }
        runStart = -1;
      }
    }
  }

  /**
   * Reads the non-resident blocks of `[firstBlock, firstBlock+count)` into the
   * cache with one device read per contiguous run, so the get() calls that
   * follow hit. Advisory: the range is clamped to the device end and to the
   * capacity, and a failed read is skipped and counted in
   * {@link CacheStats.prefetchErrors} (the get() of that block reports it).
   * Prefetched blocks enter probation, unreferenced: only a second reference
   * after the first get() protects them. Throws IoError only from writing
   * back an evicted buffer; RangeError for a negative or non-integer argument.
   */
  prefetch(firstBlock: number, count: number): void {
    if (!Number.isSafeInteger(firstBlock) || firstBlock < 0) {
      throw new RangeError(`prefetch: bad first block ${firstBlock}`);
    }
    if (!Number.isSafeInteger(count) || count < 0) {
      throw new RangeError(`prefetch: bad count ${count}`);
    }
    const n = Math.min(count, this.blockCount - firstBlock, this.capacityBuffers);
    const bs = this.blockSize;
    let runStart = -1;
    for (let i = 0; i <= n; i++) {
      const missing = i < n && !this.map.has(firstBlock + i);
      if (missing && (runStart < 0 || i - runStart < this.maxIoBlocks)) {
        if (runStart < 0) runStart = i;
        continue;
      }
      if (runStart >= 0) {
        const len = i - runStart;
        const scratch = this.scratchFor("read", len * bs);
        let ok = true;
        try {
          this.deviceRead(firstBlock + runStart, scratch);
        } catch (e) {
          if (!(e instanceof IoError)) throw e;
          this.prefetchErrors++;
          ok = false;
        }
        if (ok) {
          for (let j = 0; j < len; j++) {
            const b = this.allocate(firstBlock + runStart + j);
            b.data.set(scratch.subarray(j * bs, (j + 1) * bs));
            b.fresh = true;
            this.link(b, PROBATION);
          }
        }
        runStart = -1;
      }
      if (missing) runStart = i;
    }
  }

  /**
   * Pins `block` (reading it if it is not resident): a pinned buffer is never
   * written to the device nor evicted until every pin is released; pins nest.
   * This is what keeps a journaled metadata buffer off the disk until its
   * transaction commits. Throws IoError, RangeError as get() does.
   */
  pin(block: number): void {
    let b = this.map.get(block);
    if (b !== undefined) {
      this.hits++;
      this.touch(b);
    } else {
      b = this.load(block);
    }
    if (b.pins === 0) {
      this.unlink(b);
      this.pinned++;
    }
    b.pins++;
  }

  /**
   * Releases one pin of `block`. When the last pin goes, the buffer becomes
   * evictable again (in the protected segment: it was just in use), and if
   * the cache is over capacity it is trimmed back. Throws Error if `block` is
   * not pinned; IoError from writing back buffers evicted by the trim.
   */
  unpin(block: number): void {
    const b = this.map.get(block);
    if (b === undefined || b.pins === 0) {
      throw new Error(`unpin(${block}): block is not pinned`);
    }
    b.pins--;
    if (b.pins > 0) return;
    this.pinned--;
    if (this.evictable(b)) {
      this.link(b, PROTECTED);
      this.balance();
    }
    this.trim();
  }

  /**
   * Writes every dirty unpinned buffer in block order, one device write per
   * contiguous run (capped at maxIoBytes), then flushes the device. Pinned
   * buffers stay dirty and unwritten. On a write error the buffers written so
   * far are clean, the rest stay dirty, and the IoError propagates. Throws
   * IoError (EROFS if there are dirty buffers on a read-only device).
   */
  flush(): void {
    if (this.dirty.size > 0) {
      if (this.device.readOnly) {
        throw new IoError(
          `${this.device.name}: ${this.dirty.size} dirty buffers cannot be written to a read-only device`,
          "EROFS",
          "write",
        );
      }
      const bufs: Buf[] = [];
      for (const b of this.dirty) if (b.pins === 0) bufs.push(b);
      bufs.sort((a, b) => a.block - b.block);
      let start = 0;
      for (let i = 1; i <= bufs.length; i++) {
        const prev = bufs[i - 1]!;
        const cur = bufs[i];
        if (cur !== undefined && cur.block === prev.block + 1 && i - start < this.maxIoBlocks) {
          continue;
        }
        this.writeRun(bufs, start, i);
        start = i;
      }
    }
    this.device.flush();
  }

  /**
   * Drops clean, unpinned resident copies: of every block, or only `block`.
   * Dirty and pinned buffers are kept (dropping them would lose data or a
   * pin). Use after something else wrote the device behind the cache.
   */
  invalidate(block?: number): void {
    if (block !== undefined) {
      const b = this.map.get(block);
      if (b !== undefined && !b.dirty && b.pins === 0) this.drop(b);
      return;
    }
    for (const b of this.map.values()) {
      if (!b.dirty && b.pins === 0) this.drop(b);
    }
  }

  /**
   * Drops the resident copy of `block` even when it is dirty: its contents
   * no longer matter (a freed metadata block, the kernel's bforget), and
   * writing them later could overwrite whatever the block holds next. A
   * pinned buffer is kept. Changes nothing when `block` is not resident.
   */
  discard(block: number): void {
    const b = this.map.get(block);
    if (b === undefined || b.pins > 0) return;
    if (b.dirty) this.setClean(b);
    this.drop(b);
  }

  /** The memory bound in bytes (whole blocks). */
  get capacityBytes(): number {
    return this.capacityBuffers * this.blockSize;
  }

  /** A snapshot of the counters. */
  stats(): CacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      evictions: this.evictions,
      deviceReads: this.deviceReads,
      deviceWrites: this.deviceWrites,
      bytesRead: this.bytesRead,
      bytesWritten: this.bytesWritten,
      residentBytes: this.map.size * this.blockSize,
      dirtyBuffers: this.dirty.size,
      pinnedBuffers: this.pinned,
      capacityBytes: this.capacityBuffers * this.blockSize,
      overCapacityAllocations: this.overCapacity,
      peakResidentBytes: this.peakResident * this.blockSize,
      prefetchErrors: this.prefetchErrors,
    };
  }

  // ---- internals ----

  private checkBlock(block: number): void {
    if (!Number.isSafeInteger(block) || block < 0 || block >= this.blockCount) {
      throw new RangeError(
        `block ${block} is outside ${this.device.name} (${this.blockCount} blocks of ${this.blockSize})`,
      );
    }
  }

  private checkRange(firstBlock: number, count: number): void {
    if (
      !Number.isSafeInteger(firstBlock) ||
      !Number.isSafeInteger(count) ||
      firstBlock < 0 ||
      count < 0 ||
      firstBlock + count > this.blockCount
    ) {
      throw new RangeError(
        `blocks [${firstBlock}, +${count}) are outside ${this.device.name} (${this.blockCount} blocks)`,
      );
    }
  }

  /** A miss: allocate and read `block`, linked into probation. */
  private load(block: number): Buf {
    this.checkBlock(block);
    this.misses++;
    const b = this.allocate(block);
    try {
      this.deviceRead(block, b.data);
    } catch (e) {
      this.map.delete(block);
      throw e;
    }
    this.link(b, PROBATION);
    return b;
  }

  /**
   * A resident, unlinked, clean buffer for `block` with undefined contents,
   * registered in the map. Evicts to stay within capacity, reusing the
   * victim's buffer so a warm cache allocates nothing.
   */
  private allocate(block: number): Buf {
    let recycled: Buf | null = null;
    while (this.map.size >= this.capacityBuffers) {
      const victim = this.probation.head ?? this.protectedList.head;
      if (victim === null) {
        this.overCapacity++;
        break;
      }
      this.evict(victim);
      recycled = victim;
    }
    let b: Buf;
    if (recycled !== null) {
      b = recycled;
      b.block = block;
      b.fresh = false;
    } else {
      b = new Buf(block, new Uint8Array(this.blockSize));
    }
    this.map.set(block, b);
    if (this.map.size > this.peakResident) this.peakResident = this.map.size;
    return b;
  }

  /** Writes back (if dirty) and drops an evictable buffer. */
  private evict(victim: Buf): void {
    if (victim.dirty) this.writeBackAround(victim);
    this.drop(victim);
    this.evictions++;
  }

  private drop(b: Buf): void {
    this.unlink(b);
    this.map.delete(b.block);
  }

  /**
   * Writes a dirty victim together with its contiguous dirty, unpinned
   * neighbours in one device write (they stay resident, now clean): the
   * buffers of one allocation burst are usually dirtied together, and one
   * larger write is far cheaper than many single-block ones later.
   */
  private writeBackAround(victim: Buf): void {
    const run: Buf[] = [victim];
    for (let blk = victim.block - 1; run.length < this.maxIoBlocks; blk--) {
      const b = this.map.get(blk);
      if (b === undefined || !b.dirty || b.pins > 0) break;
      run.push(b);
    }
    run.reverse();
    for (let blk = victim.block + 1; run.length < this.maxIoBlocks; blk++) {
      const b = this.map.get(blk);
      if (b === undefined || !b.dirty || b.pins > 0) break;
      run.push(b);
    }
    this.writeRun(run, 0, run.length);
  }

  /** One device write of the consecutive buffers bufs[start..end), which then become clean. */
  private writeRun(bufs: readonly Buf[], start: number, end: number): void {
    const first = bufs[start]!;
    const n = end - start;
    if (n === 1) {
      this.deviceWrite(first.block, first.data);
    } else {
      const bs = this.blockSize;
      const scratch = this.scratchFor("write", n * bs);
      for (let i = 0; i < n; i++) scratch.set(bufs[start + i]!.data, i * bs);
      this.deviceWrite(first.block, scratch);
    }
    for (let i = start; i < end; i++) this.setClean(bufs[i]!);
  }

  /** A reusable transfer buffer of exactly `bytes` (a view of a grown-on-demand array). */
  private scratchFor(kind: "read" | "write", bytes: number): Uint8Array {
    let s = kind === "read" ? this.readScratch : this.writeScratch;
    if (s === null || s.length < bytes) {
      s = new Uint8Array(bytes);
      if (kind === "read") this.readScratch = s;
      else this.writeScratch = s;
    }
    return s.subarray(0, bytes);
  }

  private deviceRead(block: number, dest: Uint8Array): void {
    this.device.read(block * this.blockSize, dest);
    this.deviceReads++;
    this.bytesRead += dest.length;
  }

  private deviceWrite(block: number, src: Uint8Array): void {
    this.device.write(block * this.blockSize, src);
    this.deviceWrites++;
    this.bytesWritten += src.length;
  }

  /** Pinned buffers, and dirty ones on a read-only device, may never be dropped. */
  private evictable(b: Buf): boolean {
    return b.pins === 0 && !(b.dirty && this.device.readOnly);
  }

  private setDirty(b: Buf): void {
    if (b.dirty) return;
    b.dirty = true;
    this.dirty.add(b);
    if (this.device.readOnly) this.unlink(b);
  }

  private setClean(b: Buf): void {
    if (!b.dirty) return;
    b.dirty = false;
    this.dirty.delete(b);
  }

  private link(b: Buf, seg: typeof PROBATION | typeof PROTECTED): void {
    if (!this.evictable(b)) return;
    b.seg = seg;
    (seg === PROBATION ? this.probation : this.protectedList).pushMru(b);
  }

  private unlink(b: Buf): void {
    if (b.seg === PROBATION) this.probation.remove(b);
    else if (b.seg === PROTECTED) this.protectedList.remove(b);
    b.seg = NONE;
  }

  /** The SLRU reference step: a re-referenced probation buffer is promoted. */
  private touch(b: Buf): void {
    if (b.seg === PROTECTED) {
      this.protectedList.moveToMru(b);
    } else if (b.seg === PROBATION) {
      if (b.fresh) {
        b.fresh = false;
        this.probation.moveToMru(b);
      } else {
        this.probation.remove(b);
        b.seg = PROTECTED;
        this.protectedList.pushMru(b);
        this.balance();
      }
    } else {
      b.fresh = false;
    }
  }

  /** Keeps protected within its cap by demoting its LRU buffers to probation's MRU end. */
  private balance(): void {
    while (this.protectedList.count > this.protectedMax) {
      const d = this.protectedList.head!;
      this.protectedList.remove(d);
      d.seg = PROBATION;
      this.probation.pushMru(d);
    }
  }

  /** Evicts down to capacity after buffers became evictable again. */
  private trim(): void {
    while (this.map.size > this.capacityBuffers) {
      const victim = this.probation.head ?? this.protectedList.head;
      if (victim === null) return;
      try {
        this.evict(victim);
      } catch (e) {
        // The write-back failed and the dirty victim stays; the bound still
        // holds if clean evictable buffers can go instead.
        this.dropCleanOverCapacity();
        throw e;
      }
    }
  }

  /** Drops clean evictable buffers, least recently used first, until within capacity. */
  private dropCleanOverCapacity(): void {
    for (const list of [this.probation, this.protectedList]) {
      let b = list.head;
      while (b !== null && this.map.size > this.capacityBuffers) {
        const next = b.next;
        if (!b.dirty) {
          this.drop(b);
          this.evictions++;
        }
        b = next;
      }
    }
  }
}
