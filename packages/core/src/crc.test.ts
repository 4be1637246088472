import { crc32c as crc32cStandard } from "@node-rs/crc32";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc16, crc32cRaw, crc32cTable } from "./crc.js";

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

describe("crc16", () => {
  it("matches the CRC-16/ARC check value", () => {
    expect(crc16(0, ascii("123456789"))).toBe(0xbb3d);
  });
});
