import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "./errors.js";
import { bytes, defineStruct, u8, u16, u32 } from "./struct.js";
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
