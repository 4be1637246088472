/**
 * The write path on corrupted images: metadata bytes flipped at random
 * (inode tables, bitmaps, descriptors, extent and directory blocks, xattr
 * blocks), then a mix of operations. Every failure must be an Ext4Error —
 * never another exception, never a hang.
 */
import { readFileSync } from "node:fs";
import { MemoryDevice } from "@ext4/iocache";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readDirectory } from "../dir/read.js";
import { Ext4Error } from "../errors.js";
import { Filesystem } from "../fs.js";
import { pseudoRandom } from "../test-support/fixtures.js";
import { freshImage, openWritable } from "../test-support/rw.js";
import { FALLOC } from "./file.js";

/** A small image populated through the core, and the blocks worth corrupting. */
function base(kind: "ext4-1k" | "ext2"): { bytes: Uint8Array; targets: number[]; bs: number } {
  const image = freshImage(kind, 4 << 20);
  const fs = openWritable(image);
  const file = { mode: 0o644, uid: 0, gid: 0 };
  const d = fs.mkdir(2, "dir", { mode: 0o755, uid: 0, gid: 0 });
  for (let i = 0; i < 40; i++) fs.create(d.ino, `name-${i}`, file);
  const f = fs.create(2, "frag", file);
  for (let i = 0; i < 60; i++) fs.writeFile(f.ino, i * 2048, pseudoRandom(1024, i));
  fs.setXattr(f.ino, "user.big", pseudoRandom(300, 1));
  fs.symlink(2, "long", "x".repeat(100), { uid: 0, gid: 0 });
  const targets = new Set<number>();
  for (const g of fs.groups) {
    targets.add(g.blockBitmap);
    targets.add(g.inodeBitmap);
    for (let b = 0; b < 4; b++) targets.add(g.inodeTable + b);
    targets.add(g.location.block);
  }
  for (const ino of [2, d.ino, f.ino]) {
    for (const x of fs.blockList(fs.readInode(ino))) {
      if (x.kind === "metadata") targets.add(x.physical);
      else for (let i = 0; i < Math.min(x.length, 3); i++) targets.add(x.physical + i);
    }
  }
  targets.add(fs.readInode(f.ino).fileAcl);
  const bs = fs.blockSize;
  fs.close();
  return { bytes: new Uint8Array(readFileSync(image)), targets: [...targets], bs };
}

function must(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof Ext4Error)) throw e;
  }
}

describe("the write path on corrupted images", () => {
  it.each(["ext4-1k", "ext2"] as const)(
    "fails only with Ext4Error (%s)",
    (kind) => {
      const { bytes, targets, bs } = base(kind);
      let opened = 0;
      fc.assert(
        fc.property(
          fc.array(fc.record({ block: fc.nat(), at: fc.nat(), value: fc.nat(255) }), {
            minLength: 1,
            maxLength: 12,
          }),
          fc.nat(),
          fc.boolean(),
          (flips, seed, verify) => {
            const img = bytes.slice();
            for (const f of flips) {
              // OK to assert: the index is taken modulo the list length.
              const block = targets[f.block % targets.length]!;
              img[block * bs + (f.at % bs)] = f.value;
            }
            let fs: Filesystem;
            try {
              // Without checksum verification the corrupt structures themselves are met.
              fs = Filesystem.open(new MemoryDevice(img), {
                writable: true,
                verifyChecksums: verify,
              });
            } catch (e) {
              expect(e).toBeInstanceOf(Ext4Error);
              return;
            }
            const file = { mode: 0o644, uid: 0, gid: 0 };
            let n = seed;
            const next = (): number => {
              n = (n * 1103515245 + 12345) >>> 0;
              return n;
            };
            for (let i = 0; i < 30; i++) {
              const ino = 2 + (next() % 20);
              switch (next() % 10) {
                case 0:
                  must(() => fs.create(2 + (next() % 14), `n${i}`, file));
                  break;
                case 1:
                  must(() => fs.writeFile(ino, next() % 100_000, pseudoRandom(next() % 5000, i)));
                  break;
                case 2:
                  must(() => fs.truncate(ino, next() % 50_000));
                  break;
                case 3:
                  must(() => fs.unlink(2 + (next() % 14), `name-${next() % 40}`));
                  break;
                case 4:
                  must(() => fs.rename(2 + (next() % 14), `name-${next() % 40}`, 2, `r${i}`));
                  break;
                case 5:
                  must(() => fs.mkdir(2 + (next() % 14), `d${i}`, file));
                  break;
                case 6:
                  must(() =>
                    fs.setXattr(ino, `user.x${next() % 3}`, pseudoRandom(next() % 400, i)),
                  );
                  break;
                case 7:
                  must(() => readDirectory(fs, fs.readInode(ino)));
                  break;
                case 8:
                  must(() =>
                    fs.fallocate(
                      ino,
                      FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE,
                      next() % 60_000,
                      1 + (next() % 20_000),
                    ),
                  );
                  break;
                default:
                  must(() => fs.rmdir(2, "dir"));
              }
            }
            opened++;
            must(() => fs.close());
          },
        ),
        { numRuns: Number(process.env.EXT4_FUZZ_RUNS ?? 300) },
      );
      // Most corruptions must get past open, or the operations would test nothing.
      expect(opened).toBeGreaterThan(150);
    },
    300_000,
  );
});
