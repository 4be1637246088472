/**
 * Hostile input: thousands of bit-flipped images (flips concentrated where
 * the metadata lives) must never crash or hang the checker. Every run must
 * return a result with a verdict within a time bound; an exception of any
 * kind fails the property.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryDevice } from "@ext4/iocache";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTree, makeBase, PROFILES } from "../corpus/images.ts";
import { check } from "./index.js";

let dir = "";
const images: Record<string, Uint8Array> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ext4-check-fuzz-"));
  buildTree(join(dir, "tree"));
  for (const name of ["ext4-1k", "ext2", "ext4-inline"] as const) {
    images[name] = new Uint8Array(readFileSync(makeBase(PROFILES[name], join(dir, "tree"), dir)));
  }
}, 120_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** The per-image time bound: far above a normal check (a few ms), far below a hang. */
const BOUND_MS = 3000;

function flipped(
  base: Uint8Array,
  flips: ReadonlyArray<[number, number]>,
  hot: number,
): Uint8Array {
  const img = base.slice();
  for (const [pos, bit] of flips) {
    // Three flips in four land in the first `hot` bytes, where the
    // superblock, descriptors, bitmaps, inode tables and directories are.
    const at = pos % 4 === 0 ? pos % img.length : pos % hot;
    img[at] = img[at]! ^ (1 << bit);
  }
  return img;
}

describe("bit-flipped images", () => {
  for (const [name, runs, hot] of [
    ["ext4-1k", 1200, 700 * 1024],
    ["ext2", 600, 400 * 1024],
    ["ext4-inline", 600, 1200 * 1024],
  ] as const) {
    it(`never crash or hang the checker (${name}, ${runs} images)`, () => {
      const base = images[name]!;
      let slowest = 0;
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), {
            minLength: 1,
            maxLength: 24,
          }),
          (flips) => {
            const dev = new MemoryDevice(flipped(base, flips, hot), { readOnly: true });
            const t0 = performance.now();
            const r = check(dev, { maxProblems: 2000 });
            const ms = performance.now() - t0;
            slowest = Math.max(slowest, ms);
            expect(["clean", "errors", "operational-error"]).toContain(r.verdict);
            expect(r.error?.code).not.toBe("EINTERNAL");
            expect(ms).toBeLessThan(BOUND_MS);
          },
        ),
        { numRuns: runs, seed: 0x5eed + runs },
      );
      console.log(`${name}: ${runs} flipped images, slowest check ${slowest.toFixed(0)} ms`);
    }, 300_000);
  }

  it("survives truncated and garbage images", () => {
    const base = images["ext4-1k"]!;
    for (const len of [0, 100, 1024, 2047, 2048, 4096, 65536, base.length - 1]) {
      const r = check(new MemoryDevice(base.slice(0, len), { readOnly: true }));
      expect(r.verdict).not.toBe("clean");
    }
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 70000 }), (bytes) => {
        const r = check(new MemoryDevice(bytes, { readOnly: true }));
        expect(r.verdict).not.toBe("clean");
        expect(r.error?.code).not.toBe("EINTERNAL");
      }),
      { numRuns: 200 },
    );
  });
});
