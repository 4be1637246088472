import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "./errors.js";
import { be, bytes, defineStruct, u8, u16, u32, u64 } from "./struct.js";
import { ByteView } from "./view.js";

const demo = defineStruct("demo", [
  u32("d_lo", "low half"),
  u16("d_small", "a u16"),
  u8("d_byte", "a byte"),
  u8("d_pad", "padding"),
  bytes("d_uuid", 16, "an id"),
  u32("d_hi", "high half"),
]);

describe("Struct", () => {
  it("lays fields out contiguously in declaration order", () => {
    expect(demo.fields.map((f) => f.offset)).toEqual([0, 4, 6, 7, 8, 24]);
    expect(demo.size).toBe(28);
  });

  it("round-trips every numeric field and lo/hi pairs", () => {
    fc.assert(
      fc.property(
        fc.nat(0xffffffff),
        fc.nat(0xffff),
        fc.nat(0xff),
        fc.nat(Number.MAX_SAFE_INTEGER),
        (lo, small, byte, big) => {
          const v = new ByteView(new Uint8Array(demo.size));
          demo.set(v, "d_lo", lo);
          demo.set(v, "d_small", small);
          demo.set(v, "d_byte", byte);
          expect([demo.get(v, "d_lo"), demo.get(v, "d_small"), demo.get(v, "d_byte")]).toEqual([
            lo,
            small,
            byte,
          ]);
          demo.setLoHi(v, "d_lo", "d_hi", big);
          expect(demo.getLoHi(v, "d_lo", "d_hi")).toBe(big);
        },
      ),
    );
  });

  it("treats a missing hi half of a short struct as zero", () => {
    const v = new ByteView(new Uint8Array(24));
    demo.set(v, "d_lo", 7);
    expect(demo.getLoHi(v, "d_lo", "d_hi")).toBe(7);
    expect(Object.keys(demo.decode(v))).not.toContain("d_hi");
  });

  it("throws a Corrupt Ext4Error when a view is too short", () => {
    const v = new ByteView(new Uint8Array(5));
    try {
      demo.get(v, "d_small");
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
    }
  });

  it("computes checksum coverage around excluded fields", () => {
    expect(demo.coverage(28, ["d_uuid"])).toEqual([
      [0, 8],
      [24, 28],
    ]);
    expect(demo.coverage(10, ["d_hi"])).toEqual([[0, 10]]);
  });
});

describe("Struct.encode and 64-bit fields", () => {
  const wide = defineStruct("wide", [
    u64("w_le", "little-endian u64"),
    be("w_be", 8, "big-endian u64"),
    be("w_be16", 2, "big-endian u16"),
    bytes("w_pad", 6, "bytes"),
  ]);

  it("round-trips a whole record (decode ∘ encode = identity)", () => {
    fc.assert(
      fc.property(
        fc.nat(Number.MAX_SAFE_INTEGER),
        fc.nat(Number.MAX_SAFE_INTEGER),
        fc.nat(0xffff),
        fc.uint8Array({ minLength: 6, maxLength: 6 }),
        (le, bigEnd, b16, pad) => {
          const v = new ByteView(new Uint8Array(wide.size));
          const rec = { w_le: le, w_be: bigEnd, w_be16: b16, w_pad: pad };
          wide.encode(v, rec);
          expect(wide.decode(v)).toEqual(rec);
          expect(wide.get(v, "w_le")).toBe(le);
          expect(wide.get(v, "w_be")).toBe(bigEnd);
        },
      ),
    );
  });

  it("stores big-endian fields most significant byte first", () => {
    const v = new ByteView(new Uint8Array(wide.size));
    wide.set(v, "w_be", 0x0102030405);
    expect(Array.from(v.slice(8, 8))).toEqual([0, 0, 0, 1, 2, 3, 4, 5]);
  });

  it("refuses a u64 past 2^53 as corruption in get, approximates it in decode", () => {
    const v = new ByteView(new Uint8Array(wide.size).fill(0xff));
    try {
      wide.get(v, "w_le");
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
    }
    expect(wide.decode(v).w_le).toBe(2 ** 64 - 1);
  });
});

describe("ByteView", () => {
  it("never lets a child see past its parent", () => {
    fc.assert(
      fc.property(fc.nat(64), fc.nat(64), fc.nat(64), (off, len, probe) => {
        const parent = new ByteView(new Uint8Array(64), {}, 0, 32);
        try {
          const child = parent.sub(off, len);
          expect(off + len).toBeLessThanOrEqual(32);
          try {
            child.u8(probe);
            expect(probe).toBeLessThan(len);
          } catch (e) {
            expect(isExt4Error(e, "Corrupt")).toBe(true);
          }
        } catch (e) {
          expect(isExt4Error(e, "Corrupt")).toBe(true);
          expect(off + len).toBeGreaterThan(32);
        }
      }),
    );
  });
});

describe("ByteView accessors", () => {
  // The view assembles values from bytes (no DataView per view); DataView is the reference.
  const readers = [
    ["u8", 1, (d: DataView, o: number) => d.getUint8(o)],
    ["u16", 2, (d: DataView, o: number) => d.getUint16(o, true)],
    ["u32", 4, (d: DataView, o: number) => d.getUint32(o, true)],
    ["i32", 4, (d: DataView, o: number) => d.getInt32(o, true)],
    ["u16be", 2, (d: DataView, o: number) => d.getUint16(o, false)],
    ["u32be", 4, (d: DataView, o: number) => d.getUint32(o, false)],
  ] as const;
  const writers = [
    ["setU8", 1, (d: DataView, o: number, v: number) => d.setUint8(o, v)],
    ["setU16", 2, (d: DataView, o: number, v: number) => d.setUint16(o, v, true)],
    ["setU32", 4, (d: DataView, o: number, v: number) => d.setUint32(o, v >>> 0, true)],
    ["setI32", 4, (d: DataView, o: number, v: number) => d.setInt32(o, v, true)],
    ["setU16be", 2, (d: DataView, o: number, v: number) => d.setUint16(o, v, false)],
    ["setU32be", 4, (d: DataView, o: number, v: number) => d.setUint32(o, v >>> 0, false)],
  ] as const;

  it("read what a DataView reads, inside a window of a larger array", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 48 }),
        fc.nat(16),
        fc.nat(52),
        (bytes, start, probe) => {
          fc.pre(start <= bytes.length);
          const v = new ByteView(bytes, { block: 3 }, start);
          const dv = new DataView(bytes.buffer, bytes.byteOffset + start, bytes.length - start);
          for (const [name, width, ref] of readers) {
            if (probe + width <= v.length) expect(v[name](probe)).toBe(ref(dv, probe));
            else expect(() => v[name](probe)).toThrowError(/past end/);
          }
        },
      ),
    );
  });

  it("write what a DataView writes, values wrapped the same way", () => {
    fc.assert(
      fc.property(
        fc.nat(12),
        fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.nat(0xffff)),
        (probe, value) => {
          for (const [name, width, ref] of writers) {
            const a = new Uint8Array(20);
            const b = new Uint8Array(20);
            const v = new ByteView(a, {}, 2, 14);
            if (probe + width > 14) {
              expect(() => v[name](probe, value)).toThrowError(/past end/);
              continue;
            }
            v[name](probe, value);
            ref(new DataView(b.buffer, 2, 14), probe, value);
            expect(a).toEqual(b);
          }
        },
      ),
    );
  });

  it("share the parent's context unless a child adds to it", () => {
    const parent = new ByteView(new Uint8Array(16), { inode: 7 });
    expect(parent.sub(4, 4).context).toBe(parent.context);
    expect(parent.sub(4, 4, { offset: 4 }).context).toEqual({ inode: 7, offset: 4 });
  });
});
