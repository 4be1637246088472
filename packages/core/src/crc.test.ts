import { crc32c as crc32cStandard } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  crc16,
  crc32cRange,
  crc32cRaw,
  crc32cTable,
  crc32cU32,
  crc32cZeros,
  SMALL_CRC,
} from "./crc.js";

const ascii = (s: string) => new TextEncoder().encode(s);

describe("crc32cRaw", () => {
  it("matches the standard check value when wrapped in inversions", () => {
    // CRC-32C("123456789") = 0xE3069283 (standard, i.e. ~raw(~0, data)).
    expect(~crc32cRaw(0xffffffff, ascii("123456789")) >>> 0).toBe(0xe3069283);
  });

  it("chains: raw(raw(s, a), b) = raw(s, a‖b)", () => {
    fc.assert(
      fc.property(fc.uint8Array(), fc.uint8Array(), fc.nat(0xffffffff), (a, b, seed) => {
        const ab = new Uint8Array(a.length + b.length);
        ab.set(a);
        ab.set(b, a.length);
        expect(crc32cRaw(crc32cRaw(seed, a), b)).toBe(crc32cRaw(seed, ab));
      }),
    );
  });
});

describe("crc32cTable", () => {
  it("agrees with the native path on every input", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(0xffffffff), (data, seed) => {
        const buf = Buffer.from(data);
        const native = ~crc32cStandard(buf, ~seed >>> 0) >>> 0;
        expect(crc32cTable(seed, data)).toBe(native);
        expect(crc32cRaw(seed, data)).toBe(native);
      }),
    );
  });
});

describe("crc32c helpers", () => {
  // The byte-at-a-time reference: the definition, with nothing sliced.
  const reference = (seed: number, data: Uint8Array): number => {
    let crc = seed >>> 0;
    for (const byte of data) {
      crc ^= byte;
      for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
    }
    return crc >>> 0;
  };

  it("crc32cRange is the crc of the subarray, and refuses a range outside the data", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(300),
        fc.nat(300),
        fc.nat(0xffffffff),
        (data, a, b, seed) => {
          const [start, end] = a <= b ? [a, b] : [b, a];
          if (end > data.length) {
            expect(() => crc32cRange(seed, data, start, end)).toThrow(RangeError);
            return;
          }
          expect(crc32cRange(seed, data, start, end)).toBe(
            reference(seed, data.subarray(start, end)),
          );
        },
      ),
    );
  });

  it("crc32cZeros and crc32cU32 are the crc of zeros and of a little-endian u32", () => {
    fc.assert(
      fc.property(fc.nat(40), fc.nat(0xffffffff), fc.nat(0xffffffff), (n, value, seed) => {
        expect(crc32cZeros(seed, n)).toBe(reference(seed, new Uint8Array(n)));
        const le = new Uint8Array([value, value >>> 8, value >>> 16, value >>> 24]);
        expect(crc32cU32(seed, value)).toBe(reference(seed, le));
      }),
    );
  });

  it("the native path reads an offset view of a larger buffer correctly", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 400, maxLength: 900 }),
        fc.nat(200),
        fc.nat(0xffffffff),
        (data, start, seed) => {
          const view = data.subarray(start, start + SMALL_CRC + 1 + (start % 97));
          expect(view.length).toBeGreaterThan(SMALL_CRC);
          expect(crc32cRaw(seed, view)).toBe(reference(seed, view));
        },
      ),
    );
  });
});

describe("crc16", () => {
  it("matches the CRC-16/ARC check value", () => {
    expect(crc16(0, ascii("123456789"))).toBe(0xbb3d);
  });
});
