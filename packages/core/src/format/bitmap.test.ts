import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { findClearBit, findSetBit, testBit } from "./bitmap.js";

/** Bitmaps with long runs of 0xff and 0x00 bytes, as allocators meet them. */
const bitmap = fc
  .array(
    fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 4 }),
      fc.nat(40).map((n) => new Uint8Array(n).fill(0xff)),
      fc.nat(40).map((n) => new Uint8Array(n)),
    ),
    { maxLength: 8 },
  )
  .map((parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  });

describe("bit searches", () => {
  it("find the first clear and set bit as a bit-by-bit scan does, past the array too", () => {
    fc.assert(
      fc.property(bitmap, fc.nat(1200), fc.nat(1200), (bytes, a, b) => {
        const [from, end] = a <= b ? [a, b] : [b, a];
        let clear = end;
        let set = end;
        for (let i = from; i < end; i++) {
          if (clear === end && !testBit(bytes, i)) clear = i;
          if (set === end && testBit(bytes, i)) set = i;
        }
        expect(findClearBit(bytes, from, end)).toBe(clear);
        expect(findSetBit(bytes, from, end)).toBe(set);
      }),
      { numRuns: 1000 },
    );
  });
});
