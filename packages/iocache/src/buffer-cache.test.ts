import { describe, expect, it } from "vitest";
import { BufferCache } from "./buffer-cache.js";
import { IoError } from "./device.js";
import { FaultDevice, overlaps } from "./fault-device.js";
import { MemoryDevice } from "./memory-device.js";

const BS = 512;

/** A device of `blocks` blocks where every byte of block b is (b + 1) & 0xff. */
function device(blocks: number, readOnly = false): { mem: MemoryDevice; dev: FaultDevice } {
  const bytes = new Uint8Array(blocks * BS);
  for (let b = 0; b < blocks; b++) bytes.fill((b + 1) & 0xff, b * BS, (b + 1) * BS);
  const mem = new MemoryDevice(bytes, { readOnly });
  return { mem, dev: new FaultDevice(mem) };
}

const blockOf = (mem: MemoryDevice, b: number) => mem.bytes.subarray(b * BS, (b + 1) * BS);
const filled = (v: number) => new Uint8Array(BS).fill(v);

function expectIoError(fn: () => unknown, errno: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IoError);
    expect((e as IoError).errno).toBe(errno);
    return;
  }
  throw new Error(`expected IoError ${errno}`);
}

describe("BufferCache basics", () => {
  it("validates its options", () => {
    const { dev } = device(4);
    expect(() => new BufferCache(dev, { blockSize: 0 })).toThrow(RangeError);
    expect(() => new BufferCache(dev, { blockSize: 512, capacityBytes: 511 })).toThrow(RangeError);
    expect(() => new BufferCache(dev, { blockSize: 512, maxIoBytes: 100 })).toThrow(RangeError);
    const c = new BufferCache(dev, { blockSize: 512 });
    expect(c.stats().capacityBytes).toBe(64 * 1024 * 1024);
    expect(c.blockCount).toBe(4);
    expect(c.blockSize).toBe(512);
    expect(c.device).toBe(dev);
  });

  it("reads on a miss, not on a hit, and counts both", () => {
    const { dev } = device(16);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 8 * BS });
    expect(c.get(3)).toEqual(filled(4));
    expect(c.get(3)).toEqual(filled(4));
    expect(dev.reads).toBe(1);
    const s = c.stats();
    expect([s.hits, s.misses, s.deviceReads, s.bytesRead, s.residentBytes]).toEqual([
      1,
      1,
      1,
      BS,
      BS,
    ]);
  });

  it("throws RangeError past the device end and for non-integers", () => {
    const { dev } = device(4);
    const c = new BufferCache(dev, { blockSize: BS });
    expect(() => c.get(4)).toThrow(RangeError);
    expect(() => c.get(-1)).toThrow(RangeError);
    expect(() => c.get(1.5)).toThrow(RangeError);
    expect(() => c.zero(4)).toThrow(RangeError);
    expect(() => c.pin(4)).toThrow(RangeError);
    expect(() => c.readRange(3, 2, new Uint8Array(2 * BS))).toThrow(RangeError);
    expect(() => c.writeRange(0, 2, new Uint8Array(BS))).toThrow(RangeError);
    expect(() => c.markDirty(0)).toThrow(Error);
    expect(() => c.unpin(0)).toThrow(Error);
  });

  it("a failed read leaves the block absent, so the next get retries", () => {
    const { dev } = device(8);
    dev.failRead = overlaps(2 * BS, 3 * BS);
    const c = new BufferCache(dev, { blockSize: BS });
    expectIoError(() => c.get(2), "EIO");
    expect(c.has(2)).toBe(false);
    expect(c.stats().residentBytes).toBe(0);
    dev.failRead = undefined;
    expect(c.get(2)).toEqual(filled(3));
  });

  it("zero() gives a zeroed dirty buffer without reading", () => {
    const { dev, mem } = device(8);
    const c = new BufferCache(dev, { blockSize: BS });
    expect(c.zero(5)).toEqual(filled(0));
    expect(dev.reads).toBe(0);
    expect(c.isDirty(5)).toBe(true);
    expect(blockOf(mem, 5)).toEqual(filled(6));
    c.flush();
    expect(blockOf(mem, 5)).toEqual(filled(0));
    expect(c.isDirty(5)).toBe(false);
  });

  it("discard() drops a dirty buffer unwritten, keeps a pinned one, and the next get rereads", () => {
    const { dev, mem } = device(8);
    const c = new BufferCache(dev, { blockSize: BS });
    c.get(2).fill(0xee);
    c.markDirty(2);
    c.discard(2);
    expect(c.has(2)).toBe(false);
    expect(c.stats().dirtyBuffers).toBe(0);
    c.flush();
    expect(blockOf(mem, 2)).toEqual(filled(3));
    expect(c.get(2)).toEqual(filled(3));
    c.pin(4);
    c.get(4).fill(1);
    c.markDirty(4);
    c.discard(4);
    expect(c.isDirty(4)).toBe(true);
    c.discard(7);
    expect(c.has(7)).toBe(false);
    expect(c.capacityBytes).toBe(c.stats().capacityBytes);
  });
});

describe("BufferCache eviction", () => {
  it("writes back a dirty buffer when it is evicted", () => {
    const { dev, mem } = device(16);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 2 * BS });
    c.get(0)[0] = 0xee;
    c.markDirty(0);
    c.get(5);
    expect(blockOf(mem, 0)[0]).toBe(1);
    c.get(6);
    expect(c.has(0)).toBe(false);
    expect(blockOf(mem, 0)[0]).toBe(0xee);
    expect(c.stats().evictions).toBe(1);
    expect(c.get(0)[0]).toBe(0xee);
  });

  it("writes an evicted dirty buffer together with its dirty neighbours in one write", () => {
    const { dev, mem } = device(16);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 4 * BS });
    for (const b of [4, 5, 6]) {
      c.get(b).fill(0xa0 + b);
      c.markDirty(b);
    }
    c.get(10);
    dev.resetCounters();
    c.get(11);
    expect(dev.writeLog).toEqual([{ offset: 4 * BS, length: 3 * BS }]);
    expect(blockOf(mem, 6)).toEqual(filled(0xa6));
    expect(c.has(4)).toBe(false);
    expect(c.has(5) && !c.isDirty(5)).toBe(true);
  });

  it("keeps blocks referenced twice through a one-pass scan of many times the capacity", () => {
    const { dev } = device(2048);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 64 * BS });
    const hot = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    for (let round = 0; round < 2; round++) for (const b of hot) c.get(b);
    for (let b = 100; b < 2048; b++) c.get(b);
    dev.resetCounters();
    for (const b of hot) expect(c.get(b)).toEqual(filled(b + 1));
    expect(dev.reads).toBe(0);
    expect(c.stats().residentBytes).toBe(64 * BS);
  });

  it("still behaves as an LRU for blocks referenced once", () => {
    const { dev } = device(64);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 4 * BS });
    for (const b of [0, 1, 2, 3, 4]) c.get(b);
    expect([0, 1, 2, 3, 4].map((b) => c.has(b))).toEqual([false, true, true, true, true]);
  });

  it("never evicts or writes a pinned buffer; pins nest; over capacity only when all are pinned", () => {
    const { dev, mem } = device(16);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 2 * BS });
    c.pin(1);
    c.pin(1);
    c.get(1).fill(0x11);
    c.markDirty(1);
    c.pin(2);
    c.zero(2);
    for (let b = 3; b < 10; b++) c.get(b);
    let s = c.stats();
    expect(s.pinnedBuffers).toBe(2);
    // Each of blocks 3..9 needed a third buffer while blocks 1 and 2 were pinned
    // (each evicted its predecessor, then still found the cache full of pins).
    expect(s.overCapacityAllocations).toBe(7);
    expect(s.residentBytes).toBe(3 * BS);
    c.flush();
    expect(blockOf(mem, 1)).toEqual(filled(2));
    expect(blockOf(mem, 2)).toEqual(filled(3));
    c.unpin(1);
    c.unpin(2);
    // Block 2 became evictable, so the cache is trimmed back to capacity at once
    // (dropping the least recently used probation buffer, block 9).
    s = c.stats();
    expect(s.residentBytes).toBe(2 * BS);
    expect(c.has(9)).toBe(false);
    expect(c.isDirty(1) && c.isDirty(2)).toBe(true);
    c.flush();
    expect(blockOf(mem, 1)).toEqual(filled(2));
    expect(blockOf(mem, 2)).toEqual(filled(0));
    c.unpin(1);
    c.flush();
    expect(blockOf(mem, 1)).toEqual(filled(0x11));
    expect(() => c.unpin(1)).toThrow(Error);
  });

  it("keeps the bound when a trim's write-back fails: clean buffers go instead", () => {
    const { dev } = device(8);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: BS });
    c.pin(3);
    c.zero(0);
    expect(c.stats().residentBytes).toBe(2 * BS);
    dev.failWrite = () => true;
    expectIoError(() => c.unpin(3), "EIO");
    expect(c.stats().residentBytes).toBe(BS);
    expect(c.isDirty(0)).toBe(true);
    dev.failWrite = undefined;
    c.flush();
    expect(c.isDirty(0)).toBe(false);
  });

  it("keeps a dirty buffer whose write-back failed, and writes it later", () => {
    const { dev, mem } = device(16);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 2 * BS });
    c.get(0).fill(0x42);
    c.markDirty(0);
    c.get(1);
    dev.failWrite = () => true;
    expectIoError(() => c.get(2), "EIO");
    expect(c.isDirty(0)).toBe(true);
    expect(c.get(0)).toEqual(filled(0x42));
    dev.failWrite = undefined;
    c.flush();
    expect(blockOf(mem, 0)).toEqual(filled(0x42));
  });

  it("a torn write-back is rewritten whole by the next flush", () => {
    const { dev, mem } = device(16);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 2 * BS });
    c.get(0).fill(0x42);
    c.markDirty(0);
    c.get(1);
    dev.tearWrite = () => ({ prefixBytes: 100 });
    expectIoError(() => c.get(2), "EIO");
    expect(blockOf(mem, 0)[99]).toBe(0x42);
    expect(blockOf(mem, 0)[100]).toBe(1);
    dev.tearWrite = undefined;
    c.flush();
    expect(blockOf(mem, 0)).toEqual(filled(0x42));
  });
});

describe("BufferCache flush", () => {
  it("writes dirty buffers in block order, one write per contiguous run, then flushes", () => {
    const { dev, mem } = device(32);
    const c = new BufferCache(dev, { blockSize: BS });
    for (const b of [8, 1, 2, 3, 5, 7, 20]) {
      c.get(b).fill(0x80 + b);
      c.markDirty(b);
    }
    dev.resetCounters();
    c.flush();
    expect(dev.writeLog).toEqual([
      { offset: 1 * BS, length: 3 * BS },
      { offset: 5 * BS, length: BS },
      { offset: 7 * BS, length: 2 * BS },
      { offset: 20 * BS, length: BS },
    ]);
    expect(dev.flushes).toBe(1);
    expect(blockOf(mem, 8)).toEqual(filled(0x88));
    expect(c.stats().dirtyBuffers).toBe(0);
    dev.resetCounters();
    c.flush();
    expect(dev.writes).toBe(0);
  });

  it("splits runs at pinned buffers and at maxIoBytes", () => {
    const { dev } = device(32);
    const c = new BufferCache(dev, { blockSize: BS, maxIoBytes: 3 * BS });
    for (let b = 0; b < 10; b++) c.zero(b);
    c.pin(4);
    dev.resetCounters();
    c.flush();
    expect(dev.writeLog.map((w) => [w.offset / BS, w.length / BS])).toEqual([
      [0, 3],
      [3, 1],
      [5, 3],
      [8, 2],
    ]);
    expect(c.stats().dirtyBuffers).toBe(1);
  });

  it("on a write error keeps the unwritten buffers dirty and does not flush the device", () => {
    const { dev, mem } = device(32);
    const c = new BufferCache(dev, { blockSize: BS });
    for (const b of [1, 5, 9]) c.zero(b);
    dev.failWrite = overlaps(5 * BS, 6 * BS);
    expectIoError(() => c.flush(), "EIO");
    expect(dev.flushes).toBe(0);
    expect([1, 5, 9].map((b) => c.isDirty(b))).toEqual([false, true, true]);
    expect(blockOf(mem, 1)).toEqual(filled(0));
    dev.failWrite = undefined;
    c.flush();
    expect(blockOf(mem, 9)).toEqual(filled(0));
  });
});

describe("BufferCache bulk data paths", () => {
  it("readRange serves resident blocks from the cache and the rest in coalesced reads without caching them", () => {
    const { dev } = device(32);
    const c = new BufferCache(dev, { blockSize: BS });
    c.get(4).fill(0x44);
    c.markDirty(4);
    c.get(7);
    dev.resetCounters();
    const out = new Uint8Array(10 * BS);
    c.readRange(2, 10, out);
    for (let i = 0; i < 10; i++) {
      const b = 2 + i;
      expect(out.subarray(i * BS, (i + 1) * BS)).toEqual(filled(b === 4 ? 0x44 : b + 1));
    }
    expect(dev.reads).toBe(3);
    expect(c.stats().residentBytes).toBe(2 * BS);
    c.readRange(0, 0, new Uint8Array(0));
  });

  it("writeRange writes through, updates resident copies, and leaves pinned blocks dirty", () => {
    const { dev, mem } = device(32);
    const c = new BufferCache(dev, { blockSize: BS });
    c.get(3);
    c.zero(4);
    c.pin(6);
    dev.resetCounters();
    const src = new Uint8Array(6 * BS).fill(0x99);
    c.writeRange(2, 6, src);
    expect(dev.writeLog.map((w) => [w.offset / BS, w.length / BS])).toEqual([
      [2, 4],
      [7, 1],
    ]);
    expect(c.get(3)).toEqual(filled(0x99));
    expect(c.isDirty(4)).toBe(false);
    expect(c.get(6)).toEqual(filled(0x99));
    expect(c.isDirty(6)).toBe(true);
    expect(blockOf(mem, 6)).toEqual(filled(7));
    expect(c.stats().residentBytes).toBe(3 * BS);
    c.unpin(6);
    c.flush();
    expect(blockOf(mem, 6)).toEqual(filled(0x99));
  });

  it("prefetch reads a missing run in one device read and the following gets hit", () => {
    const { dev } = device(64);
    const c = new BufferCache(dev, { blockSize: BS });
    c.get(12).fill(0x12);
    c.markDirty(12);
    dev.resetCounters();
    c.prefetch(8, 10);
    expect(dev.reads).toBe(2);
    for (let b = 8; b < 18; b++) expect(c.get(b)).toEqual(filled(b === 12 ? 0x12 : b + 1));
    expect(dev.reads).toBe(2);
    c.prefetch(60, 100);
    expect(c.has(63)).toBe(true);
  });

  it("prefetch skips failed reads and counts them", () => {
    const { dev } = device(64);
    dev.failRead = overlaps(0, BS);
    const c = new BufferCache(dev, { blockSize: BS });
    c.prefetch(0, 4);
    expect(c.stats().prefetchErrors).toBe(1);
    expect(c.has(1)).toBe(false);
    expectIoError(() => c.get(0), "EIO");
  });

  it("prefetched blocks referenced once do not displace the protected segment", () => {
    const { dev } = device(4096);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 32 * BS });
    for (let r = 0; r < 2; r++) for (let b = 0; b < 8; b++) c.get(b);
    for (let b = 100; b < 4000; b += 16) {
      c.prefetch(b, 16);
      for (let i = 0; i < 16; i++) c.get(b + i);
    }
    dev.resetCounters();
    for (let b = 0; b < 8; b++) c.get(b);
    expect(dev.reads).toBe(0);
  });
});

describe("BufferCache invalidate and read-only devices", () => {
  it("invalidate drops clean copies only", () => {
    const { dev, mem } = device(16);
    const c = new BufferCache(dev, { blockSize: BS });
    c.get(1);
    c.get(2);
    c.zero(3);
    c.pin(4);
    mem.bytes.fill(0x77, 1 * BS, 5 * BS);
    c.invalidate(1);
    expect(c.get(1)).toEqual(filled(0x77));
    expect(c.get(2)).toEqual(filled(3));
    c.invalidate();
    expect(c.get(2)).toEqual(filled(0x77));
    expect(c.get(3)).toEqual(filled(0));
    expect(c.get(4)).toEqual(filled(5));
    c.invalidate(9);
  });

  it("keeps dirty buffers of a read-only device in memory for good and refuses to write them", () => {
    const { dev, mem } = device(64, true);
    const c = new BufferCache(dev, { blockSize: BS, capacityBytes: 4 * BS });
    for (let b = 0; b < 6; b++) {
      c.get(b).fill(0xd0 + b);
      c.markDirty(b);
    }
    for (let b = 10; b < 30; b++) c.get(b);
    for (let b = 0; b < 6; b++) expect(c.get(b)).toEqual(filled(0xd0 + b));
    const s = c.stats();
    expect(s.dirtyBuffers).toBe(6);
    expect(s.residentBytes).toBeLessThanOrEqual(7 * BS);
    expectIoError(() => c.flush(), "EROFS");
    expectIoError(() => c.writeRange(0, 1, new Uint8Array(BS)), "EROFS");
    expect(dev.writes).toBe(0);
    expect(blockOf(mem, 0)).toEqual(filled(1));
  });
});
