/** The bit set against a Set model. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Bitmap, diskBits32, popcount32, testDiskBit } from "./bitmap.js";

describe("Bitmap", () => {
  it("behaves like a set of integers in [0, size)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 300 }),
        fc.array(
          fc.tuple(
            fc.constantFrom("set", "clear", "range"),
            fc.integer({ min: -5, max: 310 }),
            fc.integer({ min: 0, max: 40 }),
          ),
        ),
        (size, ops) => {
          const b = new Bitmap(size);
          const model = new Set<number>();
          for (const [op, i, n] of ops) {
            if (op === "set") {
              const was = b.set(i);
              expect(was).toBe(model.has(i));
              if (i >= 0 && i < size) model.add(i);
            } else if (op === "clear") {
              b.clear(i);
              model.delete(i);
            } else {
              let already = 0;
              for (let k = Math.max(0, i); k < Math.min(size, i + n); k++) {
                if (model.has(k)) already++;
                model.add(k);
              }
              expect(b.setRange(i, n)).toBe(already);
            }
          }
          for (let k = -2; k < size + 2; k++) expect(b.test(k)).toBe(model.has(k));
        },
      ),
    );
  });

  it("reads 32 bits from any position as the single-bit reads do", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 200 }),
        fc.array(fc.integer({ min: 0, max: 199 })),
        fc.integer({ min: -3, max: 205 }),
        (size, bits, from) => {
          const b = new Bitmap(size);
          for (const i of bits) b.set(i);
          const word = b.bits32(from);
          for (let k = 0; k < 32; k++) {
            const want = from >= 0 && b.test(from + k);
            expect(((word >>> k) & 1) === 1).toBe(want);
          }
        },
      ),
    );
  });

  it("reads on-disk bitmap words and counts bits", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 12 }),
        fc.integer({ min: 0, max: 12 }),
        (bytes, byte) => {
          const word = diskBits32(bytes, byte * 8);
          let ones = 0;
          for (let k = 0; k < 32; k++) {
            const bit = ((word >>> k) & 1) === 1;
            expect(bit).toBe(testDiskBit(bytes, byte * 8 + k));
            if (bit) ones++;
          }
          expect(popcount32(word)).toBe(ones);
        },
      ),
    );
  });

  it("reads on-disk bitmaps little-endian bit first", () => {
    const bytes = Uint8Array.of(0b00000101, 0x80);
    expect([0, 1, 2, 15, 16].map((i) => testDiskBit(bytes, i))).toEqual([
      true,
      false,
      true,
      true,
      false,
    ]);
  });
});
