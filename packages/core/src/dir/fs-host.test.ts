/**
 * The core's Filesystem as the DirHost: the contract holds at compile time
 * (the assignment below), and on a real image it gives the directory module
 * the same answers as the test-only raw image host.
 */
import { FileDevice } from "@ext4/iocache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Filesystem } from "../fs.js";
import type { DirHost } from "./host.js";
import { resolvePath } from "./path.js";
import { dirBlockInfo, htreeInfo, lookupEntry, readDirectory } from "./read.js";
import { ImageHost } from "./test-support/image.js";
import { buildImage, kernelInlineImage, removeFixtures, TREE } from "./test-support/images.js";

describe("Filesystem as DirHost", () => {
  let fs: Filesystem;
  let raw: ImageHost;
  let inlineFs: Filesystem;
  let inlineRaw: ImageHost;

  beforeAll(() => {
    const image = buildImage({ args: ["-b", "1024"], huge: 3000, index: true });
    fs = Filesystem.open(FileDevice.open(image, { readOnly: true }));
    raw = new ImageHost(image);
    const inline = kernelInlineImage();
    inlineFs = Filesystem.open(FileDevice.open(inline, { readOnly: true }));
    inlineRaw = new ImageHost(inline);
  }, 120_000);

  afterAll(() => {
    fs?.close();
    raw?.close();
    inlineFs?.close();
    inlineRaw?.close();
    removeFixtures();
  });

  it("satisfies the contract and reads every directory the same way", () => {
    const host: DirHost = fs;
    for (const [a, b] of [
      [host, raw],
      [inlineFs as DirHost, inlineRaw],
    ] as const) {
      expect([a.blockSize, a.csumSeed, a.hashSeed, a.defHashVersion, a.unsignedHash]).toEqual([
        b.blockSize,
        b.csumSeed,
        b.hashSeed,
        b.defHashVersion,
        b.unsignedHash,
      ]);
      const seen = new Set<number>();
      const walk = (ino: number): void => {
        if (seen.has(ino)) return;
        seen.add(ino);
        const da = a.readInode(ino);
        const db = b.readInode(ino);
        const strip = (es: ReturnType<typeof readDirectory>) =>
          es.map((e) => [e.ino, e.nameText, e.position]);
        const list = readDirectory(a, da);
        expect(strip(list)).toEqual(strip(readDirectory(b, db)));
        expect(dirBlockInfo(a, da, { includeDeleted: true })).toEqual(
          dirBlockInfo(b, db, { includeDeleted: true }),
        );
        for (const e of list) {
          expect(lookupEntry(a, da, e.name)).toEqual(lookupEntry(b, db, e.name));
          if ((a.readInode(e.ino).mode & 0o170000) === 0o040000 && e.nameText !== "..") walk(e.ino);
        }
      };
      walk(2);
    }
    const huge = resolvePath(fs, "/huge");
    expect(htreeInfo(fs, huge.inode)).toEqual(htreeInfo(raw, raw.readInode(huge.ino)));
    expect(resolvePath(fs, "/links/chain1/e/leaf.txt").ino).toBe(
      resolvePath(raw, "/deep/a/b/c/d/e/leaf.txt").ino,
    );
    expect(resolvePath(fs, `/huge/${TREE.hugePrefix}002999`).ino).toBe(
      resolvePath(raw, `/huge/${TREE.hugePrefix}002999`).ino,
    );
  });
});
