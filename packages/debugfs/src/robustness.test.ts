/**
 * Untrusted images: with random bytes of the metadata overwritten, every
 * command either answers or fails with a typed, one-line error. Never an
 * exception that is not an Ext4Error/CommandError (code INTERNAL, or a
 * JavaScript error class), never a hang.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { Session } from "./session.js";
import { buildTree, mkfs, scratchDir } from "./test-support/images.js";

let pristine: Buffer;
const COMMANDS = [
  "stats",
  "ls -l /",
  "ls -d -c -l /big",
  "stat /small.txt",
  "stat /large.bin",
  "ex /fragmented.bin",
  "blocks /sparse.bin",
  "cat /medium.bin",
  "ea_list /small.txt",
  "ea_get /large.bin system.posix_acl_access",
  "htree /big",
  "dirsearch /big entry-with-a-longish-name-3",
  "icheck 1000 2000 3000",
  "ncheck 12 13 14 15",
  "testb 1 50",
  "ffb 5",
  "ffi",
  "freefrag",
  "filefrag -r /",
  "logdump -a",
  "pwd",
  "cd /dir/nested",
  "bd 1",
];

beforeAll(() => {
  const tree = buildTree({ bigDirEntries: 200, devices: false });
  // Checksums off: flipped bytes then reach the parsers instead of stopping at a checksum.
  pristine = readFileSync(mkfs({ from: tree.root, args: ["-O", "^metadata_csum"] }));
});

describe("corrupted images", () => {
  // Where the metadata of a small image lives: superblock, descriptors, bitmaps, inode tables, first directories.
  it.each([
    { what: "scattered bytes", start: 1024, end: 3 << 20, max: 200, runs: 40 },
    // Past the superblock and descriptors: inode tables and directory blocks, so open succeeds.
    {
      what: "dense damage to inode tables and directories",
      start: 140_000,
      end: 1_400_000,
      max: 3000,
      runs: 20,
    },
  ])("$what: every command answers or fails with a typed error", ({ start, end, max, runs }) => {
    const path = join(scratchDir(), "fuzz.img");
    // The damage must actually reach the parsers: some commands have to fail over all runs.
    let failures = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.integer({ min: start, max: end - 1 }), fc.integer({ min: 0, max: 255 })),
          {
            minLength: 1,
            maxLength: max,
          },
        ),
        (flips) => {
          const img = Buffer.from(pristine);
          for (const [at, v] of flips) img[at] = v;
          writeFileSync(path, img);
          const s = new Session({ hostCwd: scratchDir() });
          try {
            try {
              s.openImage(path);
            } catch (e) {
              expect((e as Error).name).toBe("CommandError");
              return;
            }
            for (const c of COMMANDS) {
              const r = s.run(c);
              if (!r.ok) {
                failures++;
                expect(r.error?.code, `${c}: ${r.stderr}`).not.toBe("INTERNAL");
                expect(r.error?.message ?? "", c).not.toMatch(/\n/);
              }
            }
          } finally {
            s.dispose();
          }
        },
      ),
      { numRuns: runs, seed: 4242 },
    );
    expect(failures).toBeGreaterThan(0);
  });
});
