import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { IoError } from "./device.js";
import { FaultDevice, nthCall, overlaps } from "./fault-device.js";
import { MemoryDevice } from "./memory-device.js";

function errnoOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(IoError);
    return (e as IoError).errno;
  }
  throw new Error("expected an IoError");
}

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe("FaultDevice", () => {
  it("passes reads and writes through and counts them", () => {
    const mem = new MemoryDevice(4096);
    const dev = new FaultDevice(mem);
    dev.write(100, fill(10, 1));
    const out = new Uint8Array(10);
    dev.read(100, out);
    expect(out).toEqual(fill(10, 1));
    expect(mem.bytes.subarray(100, 110)).toEqual(fill(10, 1));
    expect([dev.reads, dev.writes, dev.flushes]).toEqual([1, 1, 0]);
    expect(dev.writeLog).toEqual([{ offset: 100, length: 10 }]);
    dev.resetCounters();
    expect([dev.reads, dev.writes, dev.writeLog.length]).toEqual([0, 0, 0]);
    expect(dev.size).toBe(4096);
    expect(dev.name).toBe("fault:memory");
  });

  it("fails chosen reads and writes with EIO, transferring nothing", () => {
    const mem = new MemoryDevice(4096);
    const dev = new FaultDevice(mem, { failRead: overlaps(1000, 2000), failWrite: nthCall(1) });
    dev.read(0, new Uint8Array(1000));
    expect(errnoOf(() => dev.read(1999, new Uint8Array(1)))).toBe("EIO");
    dev.read(2000, new Uint8Array(10));
    dev.write(0, fill(4, 7));
    expect(errnoOf(() => dev.write(8, fill(4, 7)))).toBe("EIO");
    expect(mem.bytes.subarray(8, 12)).toEqual(fill(4, 0));
    dev.write(8, fill(4, 7));
    expect(mem.bytes.subarray(8, 12)).toEqual(fill(4, 7));
    dev.failRead = undefined;
    dev.read(1500, new Uint8Array(1));
  });

  it("keeps the inner device's bounds and read-only errnos", () => {
    const dev = new FaultDevice(new MemoryDevice(100));
    expect(errnoOf(() => dev.write(99, fill(2, 1)))).toBe("ENOSPC");
    expect(errnoOf(() => dev.read(99, new Uint8Array(2)))).toBe("EIO");
    const ro = new FaultDevice(new MemoryDevice(100, { readOnly: true }));
    expect(errnoOf(() => ro.write(0, fill(1, 1)))).toBe("EROFS");
  });

  it("tears writes: a prefix or a subset of sectors lands, then EIO", () => {
    const mem = new MemoryDevice(8192);
    const dev = new FaultDevice(mem, {
      tearWrite: (io) => (io.call === 0 ? { prefixBytes: 700 } : { sectors: [2, 0] }),
    });
    expect(errnoOf(() => dev.write(0, fill(2048, 1)))).toBe("EIO");
    expect(mem.bytes.subarray(0, 700)).toEqual(fill(700, 1));
    expect(mem.bytes.subarray(700, 2048)).toEqual(fill(1348, 0));
    expect(errnoOf(() => dev.write(4096, fill(1300, 2)))).toBe("EIO");
    expect(mem.bytes.subarray(4096, 4608)).toEqual(fill(512, 2));
    expect(mem.bytes.subarray(4608, 5120)).toEqual(fill(512, 0));
    // Sector 2 of a 1300-byte write is its partial last sector: bytes 1024..1300.
    expect(mem.bytes.subarray(5120, 5396)).toEqual(fill(276, 2));
    expect(mem.bytes[5396]).toBe(0);
    // What landed is unflushed, so a crash takes it back.
    expect(dev.unflushedWrites().map((w) => [w.offset, w.data.length])).toEqual([
      [0, 700],
      [4096, 512],
      [5120, 276],
    ]);
    dev.crash();
    expect(mem.bytes).toEqual(new Uint8Array(8192));
  });

  it("crash() drops every write after the last successful flush", () => {
    const mem = new MemoryDevice(1024);
    const dev = new FaultDevice(mem);
    dev.write(0, fill(100, 1));
    dev.flush();
    dev.write(50, fill(100, 2));
    dev.write(120, fill(10, 3));
    const durable = dev.durableImage();
    const expected = new Uint8Array(1024);
    expected.set(fill(100, 1));
    expect(durable).toEqual(expected);
    expect(mem.bytes.subarray(50, 60)).toEqual(fill(10, 2));
    dev.crash();
    expect(mem.bytes).toEqual(expected);
    expect(dev.unflushedWrites()).toEqual([]);
    dev.write(0, fill(1, 9));
    expect(mem.bytes[0]).toBe(9);
  });

  it("a failed flush makes nothing durable", () => {
    const mem = new MemoryDevice(64);
    const dev = new FaultDevice(mem, { failFlush: (call) => call === 0 });
    dev.write(0, fill(8, 5));
    expect(errnoOf(() => dev.flush())).toBe("EIO");
    expect(dev.unflushedWrites()).toHaveLength(1);
    dev.crash();
    expect(mem.bytes).toEqual(new Uint8Array(64));
    dev.write(0, fill(8, 5));
    dev.flush();
    dev.crash();
    expect(mem.bytes.subarray(0, 8)).toEqual(fill(8, 5));
  });

  it("crash(keep) lets chosen unflushed writes land whole or torn, in issue order", () => {
    const mem = new MemoryDevice(4096);
    const dev = new FaultDevice(mem);
    dev.write(0, fill(1024, 1));
    dev.write(512, fill(1024, 2));
    dev.write(2048, fill(1024, 3));
    dev.crash((_w, i) => (i === 0 ? "all" : i === 1 ? { sectors: [1] } : "none"));
    const expected = new Uint8Array(4096);
    expected.fill(1, 0, 1024);
    expected.fill(2, 1024, 1536);
    expect(mem.bytes).toEqual(expected);
  });

  it("durableImage() equals the image after crash() for random write/flush sequences", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("write" as const), off: fc.nat(250), len: fc.nat(40) }),
      fc.record({ kind: fc.constant("flush" as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const mem = new MemoryDevice(300);
        const dev = new FaultDevice(mem);
        let durable = mem.bytes.slice();
        ops.forEach((o, i) => {
          if (o.kind === "flush") {
            dev.flush();
            durable = mem.bytes.slice();
          } else {
            const len = Math.min(o.len, 300 - o.off);
            dev.write(o.off, fill(len, i + 1));
          }
        });
        expect(dev.durableImage()).toEqual(durable);
        dev.crash();
        expect(mem.bytes).toEqual(durable);
      }),
    );
  });
});
