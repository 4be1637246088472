/**
 * Model-based tests: random operation sequences through a BufferCache over a
 * MemoryDevice must behave exactly like the same operations on a plain
 * Uint8Array (the model), keep the memory bound at every step, coalesce
 * flushes, and leave exactly the last flushed state durable after a crash.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BufferCache } from "./buffer-cache.js";
import { IoError } from "./device.js";
import { FaultDevice, type Landing } from "./fault-device.js";
import { MemoryDevice } from "./memory-device.js";

/** Small blocks and a small device keep thousands of sequences fast. */
const BS = 16;
const N = 16;

type Op =
  | { k: "get"; b: number }
  | { k: "modify"; b: number; off: number; v: number }
  | { k: "zero"; b: number }
  | { k: "readRange"; b: number; n: number }
  | { k: "writeRange"; b: number; n: number; v: number }
  | { k: "flush" }
  | { k: "invalidate"; b: number | undefined }
  | { k: "pin"; b: number }
  | { k: "unpin"; b: number }
  | { k: "prefetch"; b: number; n: number }
  | { k: "crash" }
  | { k: "faults"; on: boolean; seed: number };

/** Half the picks land on a few blocks, so pins, neighbours and re-references collide often. */
const blk = fc.oneof(fc.nat(3), fc.nat(N - 1));
const opArb = (withCrash: boolean, withFaults: boolean): fc.Arbitrary<Op> => {
  const ops: fc.Arbitrary<Op>[] = [
    fc.record({ k: fc.constant("get" as const), b: blk }),
    fc.record({
      k: fc.constant("modify" as const),
      b: blk,
      off: fc.nat(BS - 1),
      v: fc.nat(255),
    }),
    fc.record({ k: fc.constant("zero" as const), b: blk }),
    fc.record({ k: fc.constant("readRange" as const), b: blk, n: fc.nat(8) }),
    fc.record({ k: fc.constant("flush" as const) }),
    fc.record({ k: fc.constant("invalidate" as const), b: fc.option(blk, { nil: undefined }) }),
    fc.record({ k: fc.constant("pin" as const), b: blk }),
    fc.record({ k: fc.constant("pin" as const), b: blk }),
    fc.record({ k: fc.constant("unpin" as const), b: blk }),
    fc.record({ k: fc.constant("unpin" as const), b: blk }),
    fc.record({ k: fc.constant("prefetch" as const), b: blk, n: fc.nat(10) }),
  ];
  // A failed writeRange leaves some uncached blocks written and others not,
  // which a byte model cannot predict; it is covered without faults.
  if (!withFaults) {
    ops.push(
      fc.record({ k: fc.constant("writeRange" as const), b: blk, n: fc.nat(8), v: fc.nat(255) }),
    );
  }
  if (withCrash) ops.push(fc.record({ k: fc.constant("crash" as const) }));
  if (withFaults) {
    ops.push(fc.record({ k: fc.constant("faults" as const), on: fc.boolean(), seed: fc.nat() }));
  }
  return fc.oneof(...ops);
};

const configArb = fc.record({
  capacityBlocks: fc.integer({ min: 1, max: 8 }),
  maxIoBlocks: fc.integer({ min: 1, max: 6 }),
});

/** Deterministic pseudo-random bits for fault predicates (xorshift32). */
function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

class Harness {
  readonly mem: MemoryDevice;
  readonly dev: FaultDevice;
  cache: BufferCache;
  model: Uint8Array;
  pins = new Map<number, number>();
  /** Device bytes right after the last successful flush (what a crash must leave). */
  durable: Uint8Array;
  /** The model at the last successful flush, and the blocks excluded from it (dirty and pinned then). */
  modelAtFlush: Uint8Array;
  pinnedDirtyAtFlush = new Set<number>();
  /** Device bytes of each pinned block when its first pin was taken: a pin forbids writing it. */
  pinnedDeviceBytes = new Map<number, Uint8Array>();

  constructor(private readonly config: { capacityBlocks: number; maxIoBlocks: number }) {
    const bytes = new Uint8Array(N * BS);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
    this.mem = new MemoryDevice(bytes);
    this.dev = new FaultDevice(this.mem);
    this.cache = this.newCache();
    this.model = bytes.slice();
    this.durable = bytes.slice();
    this.modelAtFlush = bytes.slice();
  }

  newCache(): BufferCache {
    return new BufferCache(this.dev, {
      blockSize: BS,
      capacityBytes: this.config.capacityBlocks * BS,
      maxIoBytes: this.config.maxIoBlocks * BS,
    });
  }

  modelBlock(b: number, n = 1): Uint8Array {
    return this.model.subarray(b * BS, (b + n) * BS);
  }

  /** (c): the memory bound, allowing one unpinned buffer beyond it when the rest are pinned. */
  checkBound(): void {
    const s = this.cache.stats();
    expect(s.capacityBytes).toBe(this.config.capacityBlocks * BS);
    const ok = s.residentBytes <= s.capacityBytes || s.residentBytes <= (s.pinnedBuffers + 1) * BS;
    expect(ok, `resident ${s.residentBytes} > capacity ${s.capacityBytes}`).toBe(true);
    let pinned = 0;
    for (const c of this.pins.values()) if (c > 0) pinned++;
    expect(s.pinnedBuffers).toBe(pinned);
    for (const [b, bytes] of this.pinnedDeviceBytes) {
      expect(this.mem.bytes.subarray(b * BS, (b + 1) * BS), `pinned block ${b} written`).toEqual(
        bytes,
      );
    }
  }

  apply(op: Op): void {
    const c = this.cache;
    switch (op.k) {
      case "get":
        expect(c.get(op.b)).toEqual(this.modelBlock(op.b));
        break;
      case "modify": {
        const buf = c.get(op.b);
        expect(buf).toEqual(this.modelBlock(op.b));
        buf[op.off] = op.v;
        c.markDirty(op.b);
        this.model[op.b * BS + op.off] = op.v;
        break;
      }
      case "zero":
        expect(c.zero(op.b)).toEqual(new Uint8Array(BS));
        this.modelBlock(op.b).fill(0);
        break;
      case "readRange": {
        const n = Math.min(op.n, N - op.b);
        const before = c.stats().residentBytes;
        const out = new Uint8Array(n * BS);
        c.readRange(op.b, n, out);
        expect(out).toEqual(this.modelBlock(op.b, n));
        expect(c.stats().residentBytes).toBe(before);
        break;
      }
      case "writeRange": {
        const n = Math.min(op.n, N - op.b);
        const src = new Uint8Array(n * BS);
        for (let i = 0; i < src.length; i++) src[i] = (op.v + i) & 0xff;
        const before = c.stats().residentBytes;
        c.writeRange(op.b, n, src);
        this.model.set(src, op.b * BS);
        expect(c.stats().residentBytes).toBe(before);
        break;
      }
      case "flush":
        this.flush();
        break;
      case "invalidate":
        c.invalidate(op.b);
        break;
      case "pin": {
        // The pin may write back other buffers it evicts, never this block afterwards.
        c.pin(op.b);
        const count = this.pins.get(op.b) ?? 0;
        this.pins.set(op.b, count + 1);
        if (count === 0) {
          this.pinnedDeviceBytes.set(op.b, this.mem.bytes.slice(op.b * BS, (op.b + 1) * BS));
        }
        break;
      }
      case "unpin": {
        const count = this.pins.get(op.b) ?? 0;
        if (count === 0) {
          expect(() => c.unpin(op.b)).toThrow(/not pinned/);
          break;
        }
        // The pin is released even if the trim that follows fails to write back.
        this.pins.set(op.b, count - 1);
        if (count === 1) this.pinnedDeviceBytes.delete(op.b);
        c.unpin(op.b);
        break;
      }
      case "prefetch":
        c.prefetch(op.b, op.n);
        break;
      case "crash":
        this.crash();
        break;
      case "faults": {
        if (!op.on) {
          this.dev.failWrite = undefined;
          this.dev.tearWrite = undefined;
          this.dev.failFlush = undefined;
          break;
        }
        const r = rng(op.seed);
        this.dev.failWrite = () => r() % 4 === 0;
        this.dev.tearWrite = (io): Landing | undefined => {
          const x = r() % 4;
          if (x === 0) return { prefixBytes: r() % io.length };
          if (x === 1) return { sectors: [r() % 2] };
          return undefined;
        };
        // FaultDevice sectors are 512 bytes; these writes are shorter, so a
        // sector landing is all-or-nothing here, exercising both outcomes.
        this.dev.failFlush = () => r() % 3 === 0;
        break;
      }
    }
  }

  flush(): void {
    const c = this.cache;
    c.flush();
    this.pinnedDirtyAtFlush.clear();
    for (let b = 0; b < N; b++) {
      if (c.isDirty(b)) {
        // Only a pin may keep a buffer from being written by flush.
        expect(this.pins.get(b) ?? 0).toBeGreaterThan(0);
        this.pinnedDirtyAtFlush.add(b);
      } else {
        expect(this.mem.bytes.subarray(b * BS, (b + 1) * BS)).toEqual(this.modelBlock(b));
      }
    }
    this.durable = this.mem.bytes.slice();
    this.modelAtFlush = this.model.slice();
  }

  /** (b): a power cut leaves the last flushed model (minus buffers pinned then); a new cache reads it. */
  crash(): void {
    expect(this.dev.durableImage()).toEqual(this.durable);
    this.dev.crash();
    expect(this.mem.bytes).toEqual(this.durable);
    for (let b = 0; b < N; b++) {
      if (this.pinnedDirtyAtFlush.has(b)) continue;
      const at = b * BS;
      expect(this.mem.bytes.subarray(at, at + BS)).toEqual(this.modelAtFlush.subarray(at, at + BS));
    }
    this.cache = this.newCache();
    this.model = this.durable.slice();
    this.modelAtFlush = this.durable.slice();
    this.pinnedDirtyAtFlush.clear();
    this.pins.clear();
    this.pinnedDeviceBytes.clear();
  }

  /** Releases every pin, flushes without faults, and checks the device equals the model. */
  finish(): void {
    this.dev.failWrite = undefined;
    this.dev.tearWrite = undefined;
    this.dev.failFlush = undefined;
    for (const [b, count] of this.pins) for (let i = 0; i < count; i++) this.cache.unpin(b);
    this.pins.clear();
    this.pinnedDeviceBytes.clear();
    this.cache.flush();
    expect(this.cache.stats().dirtyBuffers).toBe(0);
    expect(this.mem.bytes).toEqual(this.model);
  }
}

describe("BufferCache against a byte-array model", () => {
  it("(a)+(c) behaves like the model and keeps the memory bound at every step", () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb(false, false), { maxLength: 80 }), (config, ops) => {
        const h = new Harness(config);
        for (const op of ops) {
          h.apply(op);
          h.checkBound();
        }
        h.finish();
      }),
      { numRuns: 500 },
    );
  });

  it("(b) after a crash the device holds exactly what the last flush made durable", () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb(true, false), { maxLength: 80 }), (config, ops) => {
        const h = new Harness(config);
        for (const op of ops) {
          h.apply(op);
          h.checkBound();
        }
        h.crash();
        h.finish();
      }),
      { numRuns: 500 },
    );
  });

  it("stays coherent through failed and torn writes and failed flushes", () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb(true, true), { maxLength: 80 }), (config, ops) => {
        const h = new Harness(config);
        for (const op of ops) {
          try {
            h.apply(op);
          } catch (e) {
            // Only injected device errors may escape; the cache must still
            // hold every byte of the model (checked by the ops that follow
            // and by finish()).
            if (!(e instanceof IoError)) throw e;
            expect(e.errno).toBe("EIO");
          }
          h.checkBound();
        }
        expect(h.dev.durableImage()).toEqual(h.durable);
        h.finish();
      }),
      { numRuns: 500 },
    );
  });
});

describe("BufferCache flush coalescing", () => {
  it("(d) issues one write per contiguous run of dirty unpinned blocks, in order, capped at maxIoBytes", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(blk, { maxLength: N }),
        fc.uniqueArray(blk, { maxLength: 6 }),
        fc.integer({ min: 1, max: N }),
        (dirty, pinned, maxIoBlocks) => {
          const mem = new MemoryDevice(N * BS);
          const dev = new FaultDevice(mem);
          const c = new BufferCache(dev, {
            blockSize: BS,
            capacityBytes: 2 * N * BS,
            maxIoBytes: maxIoBlocks * BS,
          });
          for (const b of dirty) c.zero(b).fill(b + 1);
          for (const b of pinned) c.pin(b);
          dev.resetCounters();
          c.flush();

          const pinSet = new Set(pinned);
          const expected: { offset: number; length: number }[] = [];
          let run: number[] = [];
          const close = () => {
            if (run.length > 0) {
              expected.push({ offset: run[0]! * BS, length: run.length * BS });
            }
            run = [];
          };
          for (const b of dirty.filter((d) => !pinSet.has(d)).sort((x, y) => x - y)) {
            const last = run[run.length - 1];
            if (last === undefined || (b === last + 1 && run.length < maxIoBlocks)) run.push(b);
            else {
              close();
              run.push(b);
            }
          }
          close();
          expect(dev.writeLog).toEqual(expected);
          expect(c.stats().deviceWrites).toBe(expected.length);
          expect(dev.flushes).toBe(1);
          for (const b of dirty) {
            const written = !pinSet.has(b);
            expect(mem.bytes[b * BS]).toBe(written ? b + 1 : 0);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
