import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as abi from "./abi.js";
import { COMPUTED_SIZES, KERNEL_SIZES } from "./abi.js";
import { FuseProtocolError } from "./errors.js";
import { type Field, FuseStruct, readI64, readU64, struct, writeI64, writeU64 } from "./struct.js";

/** Every structure table exported by abi.ts. */
const TABLES: FuseStruct<readonly never[]>[] = Object.values(abi).filter(
  (v): v is FuseStruct<readonly never[]> => v instanceof FuseStruct,
);

function arbitraryFor(f: Field): fc.Arbitrary<number | bigint> {
  switch (f.type) {
    case "u16":
      return fc.nat(0xffff);
    case "u32":
      return fc.nat(0xffffffff);
    case "i32":
      return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
    case "u64":
    case "u64c":
      return fc.nat(Number.MAX_SAFE_INTEGER);
    case "i64":
      return fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
    case "x64":
      return fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  }
}

describe("FUSE structure tables", () => {
  it("have the kernel's sizes (include/uapi/linux/fuse.h, 7.45)", () => {
    expect(Object.keys(COMPUTED_SIZES).sort()).toEqual(Object.keys(KERNEL_SIZES).sort());
    for (const [name, size] of Object.entries(KERNEL_SIZES)) {
      expect(`${name}: ${COMPUTED_SIZES[name]}`).toBe(`${name}: ${size}`);
    }
  });

  it("are contiguous and keep 64-bit fields 8-byte aligned", () => {
    expect(TABLES.length).toBeGreaterThan(50);
    for (const t of TABLES) {
      let off = 0;
      for (const f of t.fields) {
        expect(f.offset).toBe(off);
        if (f.width === 8)
          expect(`${t.name}.${f.name} at ${f.offset % 8}`).toBe(`${t.name}.${f.name} at 0`);
        off += f.width;
      }
      expect(off).toBe(t.size);
    }
  });

  it("decode(encode(v)) = v for every table", () => {
    for (const t of TABLES) {
      const visible = t.fields.filter((f) => !f.hidden);
      const rec = fc.record(Object.fromEntries(visible.map((f) => [f.key, arbitraryFor(f)])));
      fc.assert(
        fc.property(rec, (v) => {
          const bytes = t.toBytes(v as never);
          expect(bytes.length).toBe(t.size);
          expect(t.decode(new DataView(bytes.buffer), 0)).toEqual(v);
        }),
        { numRuns: 30 },
      );
    }
  });

  it("writes padding as zeros", () => {
    const bytes = abi.fuse_write_out.toBytes({ size: 0xffffffff });
    expect([...bytes]).toEqual([255, 255, 255, 255, 0, 0, 0, 0]);
  });

  it("refuses 64-bit values past 2^53 unless clamped, and short views", () => {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setBigUint64(0, 2n ** 60n, true);
    expect(() => readU64(dv, 0, "x")).toThrow(FuseProtocolError);
    expect(readU64(dv, 0, "x", true)).toBe(Number.MAX_SAFE_INTEGER);
    dv.setBigInt64(0, -(2n ** 60n), true);
    expect(() => readI64(dv, 0, "x")).toThrow(/exceeds 2\^53/);
    writeI64(dv, 0, -5);
    expect(readI64(dv, 0, "x")).toBe(-5);
    writeU64(dv, 0, 2 ** 40 + 3);
    expect(readU64(dv, 0, "x")).toBe(2 ** 40 + 3);
    expect(() => writeU64(dv, 0, -1)).toThrow(RangeError);
    const s = struct("t", [["a", "u64", ""]] as const);
    expect(() => s.decode(new DataView(new ArrayBuffer(4)), 0)).toThrow(/needs 8 bytes/);
    expect(() => abi.fuse_write_out.toBytes({ size: 2 ** 32 })).toThrow(RangeError);
  });
});
