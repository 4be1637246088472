import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { DirInodeFlag } from "./constants.js";
import { dxHash } from "./hash.js";
import { resolvePath } from "./path.js";
import {
  dirBlockInfo,
  htreeInfo,
  iterateDirectory,
  lookup,
  lookupEntry,
  readDirectory,
} from "./read.js";
import { codeOf, parsesOrExt4Error } from "./test-support/assert.js";
import { dirBlock, dxRootBlock, MemHost, packHtree, packLinear } from "./test-support/builders.js";

const enc = new TextEncoder();
const dec = new TextDecoder();

function names(n: number, prefix = "file_"): Array<{ ino: number; name: string }> {
  return Array.from({ length: n }, (_, i) => ({ ino: 100 + i, name: `${prefix}${i}` }));
}

function linearDir(host: MemHost, ino: number, entries: Array<{ ino: number; name: string }>) {
  for (const e of entries) if (!host.inodes.has(e.ino)) host.addFile(e.ino);
  return host.addDir(ino, packLinear(host, ino, 2, entries));
}

function htreeDir(
  host: MemHost,
  ino: number,
  entries: Array<{ ino: number; name: string }>,
  o: { hashVersion: number; perLeaf: number; perNode?: number; levels?: 0 | 1 | 2 },
) {
  for (const e of entries) if (!host.inodes.has(e.ino)) host.addFile(e.ino);
  host.addDir(ino, []);
  const dir = host.addDir(ino, packHtree(host, ino, 2, entries, o), { flags: DirInodeFlag.Index });
  return dir;
}

/** Two different names with the same major hash (brute force; the legacy hash is weak). */
function collidingNames(version: number, seed: readonly number[]): [string, string] {
  const seen = new Map<number, string>();
  for (let i = 0; ; i++) {
    const name = `c${i.toString(36)}`;
    const h = dxHash(version, enc.encode(name), seed).hash;
    const other = seen.get(h);
    if (other !== undefined) return [other, name];
    seen.set(h, name);
  }
}

describe("linear directories", () => {
  it("list every live entry once, in order, with increasing positions, and resume from any position", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.boolean(), fc.nat(), (n, csum, cut) => {
        const host = new MemHost({ features: csum ? ["filetype", "metadata_csum"] : ["filetype"] });
        host.addDir(2, []);
        const model = names(n);
        const dir = linearDir(host, 20, model);
        const all = readDirectory(host, dir);
        expect(all.map((e) => e.nameText)).toEqual([".", "..", ...model.map((m) => m.name)]);
        expect(all.map((e) => e.ino)).toEqual([20, 2, ...model.map((m) => m.ino)]);
        for (let i = 1; i < all.length; i++)
          expect(all[i]!.position).toBeGreaterThan(all[i - 1]!.position);
        const from = all[cut % all.length]!;
        expect(readDirectory(host, dir, { start: from.position })).toEqual(
          all.slice(cut % all.length),
        );
        expect(readDirectory(host, dir, { includeDots: false }).length).toBe(n);
      }),
      { numRuns: 30 },
    );
  });

  it("look up every name, and nothing else", () => {
    const host = new MemHost();
    host.addDir(2, []);
    const model = names(300);
    const dir = linearDir(host, 20, model);
    for (const m of model) expect(lookup(host, dir, m.name)).toBe(m.ino);
    expect(lookup(host, dir, "file_300")).toBeNull();
    expect(lookup(host, dir, "")).toBeNull();
    expect(lookup(host, dir, "a/b")).toBeNull();
    expect(lookup(host, dir, ".")).toBe(20);
    expect(lookup(host, dir, "..")).toBe(2);
    expect(lookupEntry(host, dir, "file_7")).toMatchObject({ via: "linear", fileType: 1 });
    expect(codeOf(() => lookup(host, dir, "x".repeat(256)))).toBe("NAME_TOO_LONG");
  });

  it("skip holes, and stop at i_size", () => {
    const host = new MemHost();
    const b0 = dirBlock(1024).entry(20, ".", 2).entry(2, "..", 2).build();
    const b2 = dirBlock(1024).entry(30, "after-hole", 1).build();
    const b3 = dirBlock(1024).entry(31, "past-size", 1).build();
    const dir = host.addDir(20, [b0, null, b2, b3], { size: 3 * 1024 });
    expect(readDirectory(host, dir).map((e) => e.nameText)).toEqual([".", "..", "after-hole"]);
    expect(lookup(host, dir, "past-size")).toBeNull();
    expect(Math.max(...host.reads)).toBeLessThan(3);
  });

  it("verify checksums unless told not to", () => {
    const host = new MemHost({ features: ["filetype", "metadata_csum"] });
    const dir = linearDir(host, 20, names(5));
    dir.blocks[0]![32]! ^= 0x01;
    expect(codeOf(() => readDirectory(host, dir))).toBe("DIRBLOCK_BAD_CHECKSUM");
    expect(readDirectory(host, dir, { verifyChecksums: false }).length).toBe(7);
  });

  it("refuse non-directories", () => {
    const host = new MemHost();
    const f = host.addFile(5);
    expect(codeOf(() => readDirectory(host, f))).toBe("DIR_NOT_A_DIRECTORY");
    expect(codeOf(() => lookup(host, f, "x"))).toBe("DIR_NOT_A_DIRECTORY");
  });
});

describe("htree directories", () => {
  for (const csum of [false, true]) {
    for (const levels of [0, 1] as const) {
      it(`find every name through the index (${levels + 1} level(s), csum ${csum})`, () => {
        const host = new MemHost({
          features: csum ? ["filetype", "dir_index", "metadata_csum"] : ["filetype", "dir_index"],
        });
        const model = names(2000, "entry_with_a_longer_name_");
        const perLeaf = levels === 0 ? 20 : 8;
        const dir = htreeDir(host, 20, model, { hashVersion: 1, perLeaf, perNode: 20, levels });
        for (const m of model) {
          host.reads.length = 0;
          const r = lookupEntry(host, dir, m.name);
          expect(r).toMatchObject({ ino: m.ino, via: "htree" });
          expect(host.reads.length).toBeLessThanOrEqual(levels + 2);
        }
        expect(lookup(host, dir, "no-such-name")).toBeNull();
        const listed = readDirectory(host, dir, { includeDots: false });
        expect(listed.map((e) => e.nameText).sort()).toEqual(model.map((m) => m.name).sort());
        const info = htreeInfo(host, dir);
        expect(info.rootInfo.indirectLevels).toBe(levels);
        const leafNames: string[] = [];
        const walk = (n: (typeof info)["root"]) => {
          for (const c of n.children) {
            if (c.kind === "index") walk(c);
            else if (c.kind === "leaf") {
              expect(c.error).toBeNull();
              for (const e of c.entries) {
                if (e.inode !== 0) leafNames.push(dec.decode(e.name));
                expect(e.hash).toBe(dxHash(1, e.name, host.hashSeed).hash);
              }
              if (csum) expect(c.tail?.stored).toBe(c.tail?.computed);
            } else throw c.error;
          }
          if (csum) expect(n.checksum?.stored).toBe(n.checksum?.computed);
        };
        walk(info.root);
        expect(leafNames.sort()).toEqual(model.map((m) => m.name).sort());
      });
    }
  }

  it("walks three index levels only with largedir, and falls back to a scan without it", () => {
    const model = names(1500);
    for (const largedir of [true, false]) {
      const host = new MemHost({
        features: ["filetype", "dir_index", "metadata_csum", ...(largedir ? ["largedir"] : [])],
      });
      const dir = htreeDir(host, 20, model, { hashVersion: 1, perLeaf: 4, perNode: 8, levels: 2 });
      const info = htreeInfo(host, dir);
      expect(info.rootInfo.indirectLevels).toBe(2);
      expect(info.problems.map((p) => p.code)).toEqual(largedir ? [] : ["DX_ROOT_TOO_DEEP"]);
      for (const m of model.filter((_, i) => i % 7 === 0)) {
        host.reads.length = 0;
        const r = lookupEntry(host, dir, m.name);
        expect(r).toMatchObject({ ino: m.ino, via: largedir ? "htree" : "linear" });
        if (largedir) expect(host.reads.length).toBeLessThanOrEqual(5);
      }
      expect(readDirectory(host, dir, { includeDots: false }).length).toBe(model.length);
    }
  });

  it("follows a hash collision into the next leaf through the continuation bit", () => {
    const host = new MemHost();
    const [a, b] = collidingNames(0, host.hashSeed);
    const model = [...names(40), { ino: 900, name: a }, { ino: 901, name: b }];
    const dir = htreeDir(host, 20, model, { hashVersion: 0, perLeaf: 1 });
    const info = htreeInfo(host, dir);
    expect(info.root.entries.some((e) => e.hash & 1)).toBe(true);
    expect(lookupEntry(host, dir, a)).toMatchObject({ ino: 900, via: "htree" });
    expect(lookupEntry(host, dir, b)).toMatchObject({ ino: 901, via: "htree" });
  });

  it("falls back to a linear scan when the index is unusable, but not on a bad checksum", () => {
    const host = new MemHost();
    const model = names(100);
    const dir = htreeDir(host, 20, model, { hashVersion: 1, perLeaf: 10 });
    dir.blocks[0]![28] = 9; // hash_version 9
    expect(lookupEntry(host, dir, "file_42")).toMatchObject({ ino: 142, via: "linear" });
    const c = new MemHost({ features: ["filetype", "dir_index", "metadata_csum"] });
    const cdir = htreeDir(c, 20, model, { hashVersion: 1, perLeaf: 10 });
    cdir.blocks[0]![40]! ^= 1;
    expect(codeOf(() => lookup(c, cdir, "file_42"))).toBe("DX_BAD_CHECKSUM");
    expect(lookupEntry(c, cdir, "file_42", { verifyChecksums: false })).toMatchObject({ ino: 142 });
  });

  it("detects an index cycle and falls back", () => {
    const host = new MemHost();
    const dir = htreeDir(host, 20, names(400), {
      hashVersion: 1,
      perLeaf: 8,
      perNode: 10,
      levels: 1,
    });
    // Point the first entry of the first interior node back at that node.
    const nodeNo = htreeInfo(host, dir).root.entries[0]!.block;
    new DataView(dir.blocks[nodeNo]!.buffer).setUint32(12, nodeNo, true);
    for (const m of names(400)) expect(lookup(host, dir, m.name)).toBe(m.ino);
    const info = htreeInfo(host, dir);
    const first = info.root.children[0];
    expect(first?.kind).toBe("index");
    if (first?.kind === "index") expect(first.children[0]?.kind).toBe("unreadable");
  });

  it("never throws anything but Ext4Error and never hangs on corrupted trees", () => {
    const base = new MemHost({ features: ["filetype", "dir_index", "metadata_csum"] });
    const model = names(300);
    const pristine = htreeDir(base, 20, model, {
      hashVersion: 2,
      perLeaf: 6,
      perNode: 8,
      levels: 1,
    });
    const blocks = pristine.blocks.map((b) => b!.slice());
    fc.assert(
      fc.property(
        fc.array(fc.record({ blk: fc.nat(blocks.length - 1), bit: fc.nat(1024 * 8 - 1) }), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.boolean(),
        (flips, verify) => {
          const host = new MemHost({ features: ["filetype", "dir_index", "metadata_csum"] });
          const copy = blocks.map((b) => b.slice());
          for (const f of flips) copy[f.blk]![f.bit >> 3]! ^= 1 << (f.bit & 7);
          for (const m of model) host.addFile(m.ino);
          const dir = host.addDir(20, copy, { flags: DirInodeFlag.Index });
          parsesOrExt4Error(() => readDirectory(host, dir, { verifyChecksums: verify }));
          parsesOrExt4Error(() => htreeInfo(host, dir));
          parsesOrExt4Error(() => dirBlockInfo(host, dir, { includeDeleted: true }));
          for (const m of model.slice(0, 20)) {
            parsesOrExt4Error(() => lookupEntry(host, dir, m.name, { verifyChecksums: verify }));
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("encrypted and casefolded directories", () => {
  it("read hashes stored in entries, allow binary names, and find exact names linearly", () => {
    const host = new MemHost();
    const flags = DirInodeFlag.Index | DirInodeFlag.Encrypt | DirInodeFlag.Casefold;
    const cipher = Uint8Array.of(0x2f, 0x00, 0x41, 0xfe); // ciphertext may hold '/' and NUL
    const root = dxRootBlockFor(host, 6);
    const leaf = dirBlock(1024, true)
      .entry(40, "plain", 1, { hash: { hash: 0x10000000, minorHash: 7 } })
      .entry(41, cipher, 1, { hash: { hash: 0x20000000, minorHash: 9 } })
      .build();
    const dir = host.addDir(30, [root, leaf], { flags });
    expect(readDirectory(host, dir, { includeDots: false }).map((e) => e.ino)).toEqual([40, 41]);
    expect(lookupEntry(host, dir, cipher)).toMatchObject({ ino: 41, via: "linear" });
    expect(lookup(host, dir, "absent")).toBeNull();
    const info = htreeInfo(host, dir);
    expect(info.problems).toEqual([]);
    const l = info.root.children[0];
    expect(l?.kind === "leaf" ? l.entries.map((e) => [e.hash, e.minorHash]) : null).toEqual([
      [0x10000000, 7],
      [0x20000000, 9],
    ]);
  });

  it("refuse to claim a name is absent from a casefolded directory", () => {
    const host = new MemHost();
    const dir = host.addDir(30, packLinear(host, 30, 2, [{ ino: 40, name: "Readme" }]), {
      flags: DirInodeFlag.Casefold,
    });
    expect(lookup(host, dir, "Readme")).toBe(40);
    expect(codeOf(() => lookup(host, dir, "README"))).toBe("CASEFOLD_LOOKUP");
  });
});

function dxRootBlockFor(host: MemHost, hashVersion: number): Uint8Array {
  return dxRootBlock(host.blockSize, {
    dot: 30,
    dotdot: 2,
    hashVersion,
    indirectLevels: 0,
    entries: [{ hash: 0, block: 1 }],
  });
}

/** Inline data: 60 bytes of i_block (parent + a 56-byte region) then an optional system.data region. */
function inlineData(
  parent: number,
  ibody: Array<[number, string]>,
  xattr: Array<[number, string]> | null,
  xattrSize = 64,
): Uint8Array {
  const region = (size: number, es: Array<[number, string]>) => {
    const b = dirBlock(size);
    for (const [ino, name] of es) b.entry(ino, name, 1);
    return b.build();
  };
  const ib = region(56, ibody);
  const xa = xattr === null ? new Uint8Array(0) : region(xattrSize, xattr);
  const out = new Uint8Array(60 + xa.length);
  new DataView(out.buffer).setUint32(0, parent, true);
  out.set(ib, 4);
  out.set(xa, 60);
  return out;
}

describe("inline directories", () => {
  it("list the synthesized dots, i_block entries and system.data entries with kernel positions", () => {
    const host = new MemHost({ features: ["filetype", "inline_data"] });
    host.addDir(2, []);
    const dir = host.addInlineDir(
      30,
      inlineData(
        2,
        [
          [31, "a"],
          [32, "bb"],
        ],
        [
          [33, "in-xattr"],
          [0, "gone"],
          [34, "x2"],
        ],
      ),
    );
    const all = readDirectory(host, dir);
    expect(all.map((e) => [e.nameText, e.ino, e.position])).toEqual([
      [".", 30, 0],
      ["..", 2, 12],
      ["a", 31, 24],
      ["bb", 32, 36],
      ["in-xattr", 33, 80],
      ["x2", 34, 80 + 16 + 12],
    ]);
    expect(readDirectory(host, dir, { start: 36 }).map((e) => e.nameText)).toEqual([
      "bb",
      "in-xattr",
      "x2",
    ]);
    expect(lookup(host, dir, "x2")).toBe(34);
    expect(lookup(host, dir, "..")).toBe(2);
    expect(lookup(host, dir, ".")).toBe(30);
    expect(lookup(host, dir, "gone")).toBeNull();
    expect(lookupEntry(host, dir, "in-xattr")).toMatchObject({ via: "inline", offset: 60 });
  });

  it("parse or throw Ext4Error for arbitrary inline data", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (data) => {
        const host = new MemHost({ features: ["filetype", "inline_data"] });
        const dir = host.addInlineDir(30, data);
        parsesOrExt4Error(() => readDirectory(host, dir));
        parsesOrExt4Error(() => lookup(host, dir, "a"));
        parsesOrExt4Error(() => dirBlockInfo(host, dir, { includeDeleted: true }));
      }),
    );
  });
});

describe("resolvePath", () => {
  /** /a/b/file, /a/rel -> b/file, /a/abs -> /a/b, /loop1 <-> /loop2, /a/up -> .., /self -> self-loop */
  function tree() {
    const host = new MemHost();
    host.addFile(50);
    host.addSymlink(60, "b/file");
    host.addSymlink(61, "/a/b");
    host.addSymlink(62, "loop2");
    host.addSymlink(63, "loop1");
    host.addSymlink(64, "..");
    host.addSymlink(65, "");
    host.addDir(
      2,
      packLinear(host, 2, 2, [
        { ino: 10, name: "a", type: 2 },
        { ino: 62, name: "loop1", type: 7 },
        { ino: 63, name: "loop2", type: 7 },
        { ino: 65, name: "empty", type: 7 },
      ]),
    );
    host.addDir(
      10,
      packLinear(host, 10, 2, [
        { ino: 11, name: "b", type: 2 },
        { ino: 60, name: "rel", type: 7 },
        { ino: 61, name: "abs", type: 7 },
        { ino: 64, name: "up", type: 7 },
      ]),
    );
    host.addDir(11, packLinear(host, 11, 10, [{ ino: 50, name: "file" }]));
    return host;
  }

  it("walks components, dots, and '..' at the root", () => {
    const h = tree();
    expect(resolvePath(h, "/").ino).toBe(2);
    expect(resolvePath(h, "/a/b/file").ino).toBe(50);
    expect(resolvePath(h, "//a///b/./file").ino).toBe(50);
    expect(resolvePath(h, "/../../a/../a/b/..").ino).toBe(10);
    expect(resolvePath(h, "b/file", { cwd: 10 }).ino).toBe(50);
    expect(resolvePath(h, "../..", { cwd: 11 }).ino).toBe(2);
    const r = resolvePath(h, "/a/b/file");
    expect([r.parent, dec.decode(r.name)]).toEqual([11, "file"]);
  });

  it("follows relative and absolute symlinks, the last one only when asked", () => {
    const h = tree();
    expect(resolvePath(h, "/a/rel").ino).toBe(50);
    expect(resolvePath(h, "/a/rel", { followFinal: false }).ino).toBe(60);
    expect(resolvePath(h, "/a/abs/file").ino).toBe(50);
    expect(resolvePath(h, "/a/up/a/b").ino).toBe(11);
    expect(resolvePath(h, "/a/abs/", { followFinal: false }).ino).toBe(11);
  });

  it("reports ENOENT, ENOTDIR, ENAMETOOLONG and ELOOP with codes", () => {
    const h = tree();
    expect(codeOf(() => resolvePath(h, "/a/nope"))).toBe("PATH_NOT_FOUND");
    expect(codeOf(() => resolvePath(h, "/a/b/file/x"))).toBe("PATH_NOT_A_DIRECTORY");
    expect(codeOf(() => resolvePath(h, "/a/b/file/"))).toBe("PATH_NOT_A_DIRECTORY");
    expect(codeOf(() => resolvePath(h, `/a/${"n".repeat(256)}`))).toBe("NAME_TOO_LONG");
    expect(codeOf(() => resolvePath(h, `/${"a/".repeat(2100)}`))).toBe("PATH_TOO_LONG");
    expect(codeOf(() => resolvePath(h, "/loop1"))).toBe("SYMLINK_LOOP");
    expect(resolvePath(h, "/loop1", { followFinal: false }).ino).toBe(62);
    expect(codeOf(() => resolvePath(h, "/empty"))).toBe("PATH_NOT_FOUND");
    try {
      resolvePath(h, "/loop1/x");
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Loop")).toBe(true);
    }
  });

  it("counts hops across the whole walk (a chain longer than the limit fails)", () => {
    const host = new MemHost();
    const entries: Array<{ ino: number; name: string; type: number }> = [];
    for (let i = 0; i < 45; i++) {
      host.addSymlink(100 + i, i === 44 ? "target" : `l${i + 1}`);
      entries.push({ ino: 100 + i, name: `l${i}`, type: 7 });
    }
    host.addFile(99);
    entries.push({ ino: 99, name: "target", type: 1 });
    host.addDir(2, packLinear(host, 2, 2, entries));
    expect(resolvePath(host, "/l10").ino).toBe(99);
    expect(codeOf(() => resolvePath(host, "/l0"))).toBe("SYMLINK_LOOP");
    expect(resolvePath(host, "/l0", { maxSymlinks: 45 }).ino).toBe(99);
    expect(codeOf(() => resolvePath(host, "/l30", { maxSymlinks: 8 }))).toBe("SYMLINK_LOOP");
  });
});

describe("iterateDirectory", () => {
  it("streams lazily: taking the first entries reads only the first block", () => {
    const host = new MemHost();
    const dir = linearDir(host, 20, names(2000));
    host.reads.length = 0;
    const it = iterateDirectory(host, dir);
    const first = [it.next(), it.next(), it.next()];
    expect(first.map((r) => (r.done ? null : r.value.nameText))).toEqual([".", "..", "file_0"]);
    expect(host.reads).toEqual([0]);
  });
});
