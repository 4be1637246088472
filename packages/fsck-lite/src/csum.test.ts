/**
 * The checker's own crc32c paths against the core's (the reference): the
 * in-place slice-by-8 crc, the per-inode seed, and the one-pass check of a
 * run of inode checksums, which must say "all valid" exactly when every
 * record verifies on its own.
 */
import { crc32cRaw, INODE, inodeChecksumValid, inodeCsumSeed, setInodeChecksum } from "@ext4/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32cSpan, InodeCsum, inodeSeed } from "./csum.js";

const tables = new InodeCsum(
  256,
  INODE.offsetOf("l_i_checksum_lo"),
  INODE.offsetOf("i_checksum_hi"),
  INODE.offsetOf("i_generation"),
  INODE.offsetOf("i_extra_isize"),
);

/** `count` random 256-byte inode records with i_extra_isize 32, signed for inodes first, first + 1, ... */
function signedRun(seed: number, first: number, bytes: Uint8Array): Uint8Array {
  const count = Math.floor(bytes.length / 256);
  for (let k = 0; k < count; k++) {
    const rec = bytes.subarray(k * 256, (k + 1) * 256);
    rec[128] = 32;
    rec[129] = 0;
    rec[0] = rec[0]! | 1;
    setInodeChecksum(seed, first + k, rec, 256);
  }
  return bytes;
}

describe("crc32cSpan", () => {
  it("equals the core's crc32c_le on any range of any array", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.nat(),
        fc.nat(),
        fc.nat(),
        (bytes, seed, a, b) => {
          const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
          const end = start + (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
          expect(crc32cSpan(seed >>> 0, bytes, start, end)).toBe(
            crc32cRaw(seed >>> 0, bytes.subarray(start, end)),
          );
        },
      ),
    );
  });

  it("computes the core's per-inode seed", () => {
    fc.assert(
      fc.property(fc.nat(), fc.nat(), fc.nat(), (fs, ino, gen) => {
        expect(inodeSeed(fs >>> 0, ino >>> 0, gen >>> 0)).toBe(
          inodeCsumSeed(fs >>> 0, ino >>> 0, gen >>> 0),
        );
      }),
    );
  });
});

describe("InodeCsum", () => {
  it("computes the checksum the core verifies, in place", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        fc.integer({ min: 1, max: 1 << 24 }),
        fc.integer({ min: 0, max: 40 }),
        fc.nat(),
        (raw, ino, extra, fsSeed) => {
          raw[128] = extra;
          raw[129] = 0;
          const padded = new Uint8Array(300);
          padded.set(raw, 17);
          const withHi = extra >= 4;
          const calc = tables.compute(fsSeed >>> 0, ino, view32(raw, 100), padded, 17, withHi);
          const stored =
            raw[124]! | (raw[125]! << 8) | (withHi ? (raw[130]! | (raw[131]! << 8)) << 16 : 0);
          const ours = (withHi ? calc : calc & 0xffff) === stored >>> 0;
          const allZero = raw.subarray(0, 128).every((b) => b === 0);
          expect(ours || allZero).toBe(inodeChecksumValid(fsSeed >>> 0, ino, raw, 256));
        },
      ),
    );
  });

  it("verifies a run at once only when every record verifies, and always when none is damaged", () => {
    const run = fc
      .integer({ min: 1, max: 24 })
      .chain((count) =>
        fc.tuple(
          fc.constant(count),
          fc.uint8Array({ minLength: count * 256, maxLength: count * 256 }),
        ),
      );
    fc.assert(
      fc.property(
        run,
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.nat(),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 }))),
        ([count, random], first, fsSeed, flip) => {
          const seed = fsSeed >>> 0;
          const bytes = signedRun(seed, first, random);
          if (flip !== null) {
            const at = flip[0] % bytes.length;
            bytes[at] = bytes[at]! ^ (1 << flip[1]);
          }
          let every = true;
          for (let k = 0; k < count; k++) {
            if (!inodeChecksumValid(seed, first + k, bytes.subarray(k * 256, (k + 1) * 256), 256))
              every = false;
          }
          const once = tables.verifyRun(seed, first, bytes, 0, count, crc32cRaw);
          // One damaged record always shows (the crc's shift is invertible).
          if (once) expect(every).toBe(true);
          if (flip === null) expect(once).toBe(true);
        },
      ),
    );
  });

  it("counts never-written records as valid and answers 'not sure' for 16-bit checksums", () => {
    const seed = 0x1234;
    const bytes = signedRun(seed, 11, new Uint8Array(4 * 256).fill(7));
    expect(tables.verifyRun(seed, 11, bytes, 0, 4, crc32cRaw)).toBe(true);
    const small = bytes.slice();
    small[256 + 128] = 2;
    expect(tables.verifyRun(seed, 11, small, 0, 4, crc32cRaw)).toBe(false);
    // All zero: valid in libext2fs, and in the run.
    const zeroed = bytes.slice();
    zeroed.fill(0, 512, 768);
    expect(tables.verifyRun(seed, 11, zeroed, 0, 4, crc32cRaw)).toBe(true);
    // A zero base with something after it is not "never written".
    zeroed[512 + 200] = 1;
    expect(tables.verifyRun(seed, 11, zeroed, 0, 4, crc32cRaw)).toBe(false);
  });
});

function view32(raw: Uint8Array, at: number): number {
  return (raw[at]! | (raw[at + 1]! << 8) | (raw[at + 2]! << 16) | (raw[at + 3]! << 24)) >>> 0;
}
