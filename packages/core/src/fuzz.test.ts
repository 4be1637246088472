/**
 * Bit-flipped metadata: fixture images with bits flipped in one metadata
 * block (superblock, group descriptors, inode table, extent tree, indirect,
 * xattr, bitmap, journal superblock) either read fine or fail with an
 * Ext4Error — never another exception, never a hang — with checksums
 * verified and with them ignored (so the structural checks are reached).
 */
import { readFileSync } from "node:fs";
import { MemoryDevice } from "@ext4/iocache";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "./errors.js";
import { Filesystem } from "./fs.js";
import { FIXTURE_FILES, type FixtureKind, fixture } from "./test-support/fixtures.js";
import { inodeOf } from "./test-support/mkfs.js";

/** Runs `f`, swallowing Ext4Error only. */
function tolerate(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!isExt4Error(e)) throw e;
  }
}

/** Reads everything the reader can reach from the inodes `inos`. */
function exercise(bytes: Uint8Array, inos: readonly number[], verifyChecksums: boolean): void {
  let fs: Filesystem;
  try {
    fs = Filesystem.open(new MemoryDevice(bytes, { readOnly: true }), {
      verifyChecksums,
      cacheBytes: 1 << 20,
    });
  } catch (e) {
    if (isExt4Error(e)) return;
    throw e;
  }
  const bs = fs.blockSize;
  for (const ino of inos) {
    tolerate(() => {
      const i = fs.readInode(ino);
      tolerate(() => fs.listXattrs(i));
      tolerate(() => fs.getPosixAcl(i, "access"));
      tolerate(() => i.inlineData());
      if (i.isSymlink()) tolerate(() => fs.readLink(i));
      if (i.isRegular() || i.isDirectory() || i.isSymlink()) {
        tolerate(() => fs.mapBlocks(i, 0, Math.ceil(i.size / bs)));
        tolerate(() => fs.blockList(i));
        tolerate(() => fs.extentTree(i));
        tolerate(() => fs.readFile(i, 0, 256 << 10));
        tolerate(() => fs.readFileBlock(i, 0));
      }
    });
  }
  for (let g = 0; g < fs.superblock.groupCount; g++) {
    tolerate(() => fs.readBlockBitmap(g));
    tolerate(() => fs.readInodeBitmap(g));
  }
  tolerate(() => fs.isBlockInUse(fs.superblock.blocksCount - 1));
  tolerate(() => fs.orphans());
  tolerate(() => fs.journal()?.walk({ checkData: true }));
  tolerate(() => fs.stats());
}

interface Target {
  readonly name: string;
  /** Byte offset and length of the block to damage. */
  readonly offset: number;
  readonly length: number;
}

/** The metadata blocks of a fixture worth damaging, found through a clean read. */
function targets(image: string, bytes: Uint8Array): { targets: Target[]; inos: number[] } {
  const fs = Filesystem.open(new MemoryDevice(bytes, { readOnly: true }));
  const bs = fs.blockSize;
  const at = (name: string, block: number): Target => ({ name, offset: block * bs, length: bs });
  const out: Target[] = [{ name: "superblock", offset: 1024, length: 1024 }];
  out.push(at("gdt", fs.groups[0]?.location.block ?? 0));
  out.push(at("block bitmap", fs.group(0).blockBitmap));
  out.push(at("inode bitmap", fs.group(0).inodeBitmap));
  const inos = [2, 7, 8, 11, ...Object.values(FIXTURE_FILES).map((p) => inodeOf(image, p))];
  out.push(at("inode table (root)", fs.inodeLocation(2).block));
  out.push(at("inode table (files)", fs.inodeLocation(inodeOf(image, FIXTURE_FILES.frag)).block));
  for (const p of [FIXTURE_FILES.frag, FIXTURE_FILES.far, FIXTURE_FILES.sparse]) {
    const meta = fs.blockList(fs.readInode(inodeOf(image, p))).filter((e) => e.kind === "metadata");
    for (const m of meta.slice(0, 2)) out.push(at(`map of ${p}`, m.physical));
  }
  const small = fs.readInode(inodeOf(image, FIXTURE_FILES.small));
  if (small.fileAcl !== 0) out.push(at("xattr block", small.fileAcl));
  const journal = fs.journal();
  if (journal !== null) {
    const [run] = fs.mapBlocks(fs.readInode(8), 0, 1);
    if (run?.kind === "mapped") out.push(at("journal superblock", run.physical));
  }
  return { targets: out, inos };
}

describe.each(["ext4-1k", "ext3", "ext4-inline"] as FixtureKind[])(
  "bit flips in %s metadata",
  (kind) => {
    const image = fixture(kind);
    const bytes = new Uint8Array(readFileSync(image));
    const { targets: list, inos } = targets(image, bytes);

    it.each(list.map((t) => [t.name, t] as const))(
      "%s: reads or throws Ext4Error",
      (_name, target) => {
        fc.assert(
          fc.property(
            fc.array(fc.nat(target.length * 8 - 1), { minLength: 1, maxLength: 12 }),
            fc.boolean(),
            (bits, verify) => {
              const saved = bytes.slice(target.offset, target.offset + target.length);
              for (const bit of bits) {
                const i = target.offset + (bit >> 3);
                bytes[i] = (bytes[i] ?? 0) ^ (1 << (bit & 7));
              }
              try {
                exercise(bytes, inos, verify);
              } finally {
                bytes.set(saved, target.offset);
              }
            },
          ),
          { numRuns: 60 },
        );
      },
      60_000,
    );

    it("reads the undamaged image without any error", () => {
      const fs = Filesystem.open(new MemoryDevice(bytes, { readOnly: true }));
      for (const ino of inos) {
        const i = fs.readInode(ino);
        fs.listXattrs(i);
        if (i.isRegular()) expect(fs.readFile(i, 0, 4096).length).toBe(Math.min(4096, i.size));
      }
    });
  },
);
