/** The bit set against a Set model. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Bitmap, testDiskBit } from "./bitmap.js";

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
