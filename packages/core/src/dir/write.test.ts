/**
 * Unit tests of the directory write primitives on the in-memory host: what
 * each primitive writes, what it refuses, and a directory grown through
 * every stage the kernel takes one through.
 */
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { ByteView } from "../view.js";
import { DirInodeFlag } from "./constants.js";
import { dxRootStruct } from "./dx.js";
import type { DirInode } from "./host.js";
import { dirBlockInfo, htreeInfo, lookupEntry, readDirectory } from "./read.js";
import { codeOf } from "./test-support/assert.js";
import { MemWriteHost, type MemWriteOptions } from "./test-support/mem-write.js";
import { key, verifyDirectory } from "./test-support/verify-dir.js";
import {
  addEntry,
  initDirectory,
  isEmptyDirectory,
  removeEntry,
  replaceEntry,
  setDotDot,
} from "./write.js";

const DIR = 12;
const PARENT = 2;

interface Cfg {
  readonly bs: number;
  readonly csum: boolean;
  readonly filetype: boolean;
  readonly dirIndex: boolean;
  readonly inline: boolean;
  readonly largedir: boolean;
  readonly hashVersion: number;
  readonly unsignedHash: boolean;
  readonly maxInline: number;
}

const base: Cfg = {
  bs: 1024,
  csum: true,
  filetype: true,
  dirIndex: true,
  inline: false,
  largedir: false,
  hashVersion: 1,
  unsignedHash: false,
  maxInline: 128,
};

function host(cfg: Partial<Cfg> = {}, extra: MemWriteOptions = {}): MemWriteHost {
  const c = { ...base, ...cfg };
  const features = ["extent"];
  if (c.csum) features.push("metadata_csum");
  if (c.filetype) features.push("filetype");
  if (c.dirIndex) features.push("dir_index");
  if (c.inline) features.push("inline_data");
  if (c.largedir) features.push("largedir");
  return new MemWriteHost({
    blockSize: c.bs,
    features,
    defHashVersion: c.hashVersion,
    unsignedHash: c.unsignedHash,
    maxInline: c.maxInline,
    ...extra,
  });
}

/** A new initialised directory DIR under PARENT. */
function newDir(h: MemWriteHost, inline = false): DirInode {
  h.mkdirInode(PARENT);
  return initDirectory(h, h.mkdirInode(DIR, { inline }), PARENT);
}

const cur = (h: MemWriteHost): DirInode => h.readInode(DIR);
const add = (h: MemWriteHost, name: string | Uint8Array, ino: number, ft = 1) =>
  addEntry(h, cur(h), name, ino, ft);

/** A name of exactly `len` bytes, unique per `i`. */
function longName(i: number, len = 255): string {
  const s = `${i.toString(36)}-`;
  return s + "x".repeat(len - s.length);
}

/** The stage of a directory: inline, linear (blocks), or htree with its index levels. */
function stage(h: MemWriteHost): string {
  const d = cur(h);
  if (d.flags & DirInodeFlag.InlineData) return "inline";
  if (!(d.flags & DirInodeFlag.Index)) return `linear${d.size / h.blockSize}`;
  const b0 = h.blocksOf(DIR).get(0)!;
  return `htree${dxRootStruct.get(new ByteView(b0), "indirect_levels") + 1}`;
}

type Model = Map<string, { ino: number; ft: number }>;

/** Checks the directory against the model: structure, listing, lookups both ways, emptiness. */
function check(h: MemWriteHost, model: Model, opts: { sample?: number } = {}): void {
  const v = verifyDirectory(h, DIR);
  const filetype = h.hasFeature("filetype");
  expect(new Map([...v.entries].map(([k, e]) => [k, e]))).toEqual(
    new Map([...model].map(([k, m]) => [k, { ino: m.ino, fileTypeRaw: filetype ? m.ft : 0 }])),
  );
  const dir = cur(h);
  const listed = readDirectory(h, dir, { includeDots: false });
  expect(listed.length).toBe(model.size);
  for (const e of listed) expect(model.get(key(e.name))?.ino).toBe(e.ino);
  const all = [...model.keys()];
  const sample = opts.sample === undefined ? all : all.filter((_, i) => i % opts.sample! === 0);
  for (const k of sample) {
    const n = Buffer.from(k, "latin1");
    const viaIndex = lookupEntry(h, dir, n);
    expect(viaIndex?.ino).toBe(model.get(k)?.ino);
    if (v.kind === "htree") expect(viaIndex?.via).toBe("htree");
    expect(lookupEntry(h, dir, n, { method: "linear" })?.ino).toBe(model.get(k)?.ino);
  }
  expect(lookupEntry(h, dir, "no such name")).toBeNull();
  expect(isEmptyDirectory(h, dir)).toBe(model.size === 0);
}

describe("initDirectory", () => {
  for (const csum of [false, true]) {
    it(`writes . and .. into block 0 (metadata_csum ${csum})`, () => {
      const h = host({ csum });
      const d = newDir(h);
      expect(d.size).toBe(1024);
      const all = readDirectory(h, d);
      expect(all.map((e) => [e.nameText, e.ino, e.fileType, e.recLen])).toEqual([
        [".", DIR, 2, 12],
        ["..", PARENT, 2, csum ? 1000 : 1012],
      ]);
      expect(verifyDirectory(h, DIR)).toMatchObject({ kind: "linear", parent: PARENT, blocks: 1 });
      expect(isEmptyDirectory(h, d)).toBe(true);
      expect(codeOf(() => initDirectory(h, cur(h), PARENT))).toBe("DIR_NOT_NEW");
    });
  }

  it("writes the parent into i_block of an inline directory", () => {
    const h = host({ inline: true });
    const d = newDir(h, true);
    expect(d.size).toBe(60);
    expect(Array.from(d.inlineData()!.subarray(0, 10))).toEqual([2, 0, 0, 0, 0, 0, 0, 0, 56, 0]);
    expect(readDirectory(h, d).map((e) => [e.nameText, e.ino])).toEqual([
      [".", DIR],
      ["..", PARENT],
    ]);
    expect(isEmptyDirectory(h, d)).toBe(true);
  });

  it("leaves the file type byte 0 without the filetype feature", () => {
    const h = host({ filetype: false });
    const d = newDir(h);
    expect(readDirectory(h, d).map((e) => e.fileTypeRaw)).toEqual([0, 0]);
    add(h, "f", 30, 1);
    expect(lookupEntry(h, cur(h), "f")).toMatchObject({ ino: 30, fileType: 0 });
    expect(verifyDirectory(h, DIR).entries.get("f")).toEqual({ ino: 30, fileTypeRaw: 0 });
  });
});

describe("addEntry", () => {
  it("refuses what it must, before changing anything", () => {
    const h = host();
    newDir(h);
    add(h, "taken", 30);
    const before = h.snapshot(DIR);
    expect(codeOf(() => add(h, "x".repeat(256), 31))).toBe("NAME_TOO_LONG");
    expect(codeOf(() => add(h, "", 31))).toBe("DIR_NAME_EMPTY");
    expect(codeOf(() => add(h, ".", 31))).toBe("DIR_NAME_DOT");
    expect(codeOf(() => add(h, "..", 31))).toBe("DIR_NAME_DOT");
    expect(codeOf(() => add(h, "a/b", 31))).toBe("DIR_NAME_BAD");
    expect(codeOf(() => add(h, Uint8Array.of(0x61, 0), 31))).toBe("DIR_NAME_BAD");
    expect(codeOf(() => add(h, "ok", 0))).toBe("DIR_BAD_INODE");
    expect(codeOf(() => add(h, "ok", 2 ** 32))).toBe("DIR_BAD_INODE");
    expect(codeOf(() => add(h, "ok", 31, 8))).toBe("DIR_BAD_FILE_TYPE");
    expect(codeOf(() => add(h, "taken", 31))).toBe("DIR_ENTRY_EXISTS");
    expect(codeOf(() => addEntry(h, h.fileInode(40), "x", 31, 1))).toBe("DIR_NOT_A_DIRECTORY");
    h.writable = false;
    expect(codeOf(() => add(h, "ok", 31))).toBe("FS_READ_ONLY");
    expect(h.snapshot(DIR)).toEqual(before);
  });

  it("refuses encrypted and casefolded directories", () => {
    for (const [flag, code] of [
      [DirInodeFlag.Encrypt, "DIR_WRITE_ENCRYPTED"],
      [DirInodeFlag.Casefold, "DIR_WRITE_CASEFOLD"],
    ] as const) {
      const h = host();
      newDir(h);
      h.updateInode(DIR, { flags: flag });
      expect(codeOf(() => add(h, "x", 30))).toBe(code);
    }
  });

  it("splits the slack of a live entry and reuses deleted records first-fit", () => {
    const h = host();
    newDir(h);
    add(h, "a", 30);
    // ".." gave up its slack: the new entry sits right after it.
    expect(lookupEntry(h, cur(h), "a")?.offset).toBe(24);
    add(h, "bbbb", 31);
    add(h, "c", 32);
    expect(lookupEntry(h, cur(h), "bbbb")?.offset).toBe(36);
    removeEntry(h, cur(h), "bbbb");
    add(h, "dddd", 33);
    expect(lookupEntry(h, cur(h), "dddd")?.offset).toBe(36);
    // The first record of block 1 becomes unused when removed, and is reused.
    const h2 = host({ dirIndex: false });
    newDir(h2);
    let i = 0;
    while (cur(h2).size === 1024) add(h2, longName(i++, 100), 100 + i);
    const first = readDirectory(h2, cur(h2)).find((e) => e.lblk === 1)!;
    expect(first.offset).toBe(0);
    removeEntry(h2, cur(h2), first.name);
    // The first record of a block stays, unused, with its length.
    const raw = dirBlockInfo(h2, cur(h2)).blocks[1]!.entries[0]!;
    expect([raw.offset, raw.inode, raw.recLen]).toEqual([0, 0, first.recLen]);
    add(h2, longName(9999, 40), 500);
    expect(lookupEntry(h2, cur(h2), longName(9999, 40))).toMatchObject({ lblk: 1, offset: 0 });
    verifyDirectory(h2, DIR);
  });

  it("updates mtime and ctime of the directory", () => {
    const h = host();
    newDir(h);
    const t0 = h.times(DIR);
    add(h, "a", 30);
    const t1 = h.times(DIR);
    expect(t1.mtime.sec).toBeGreaterThan(t0.mtime.sec);
    expect(t1.ctime).toEqual(t1.mtime);
    removeEntry(h, cur(h), "a");
    expect(h.times(DIR).mtime.sec).toBeGreaterThan(t1.mtime.sec);
  });

  it("grows a directory without dir_index linearly, block after block", () => {
    const h = host({ dirIndex: false });
    newDir(h);
    const model: Model = new Map();
    for (let i = 0; i < 120; i++) {
      const n = longName(i, 60);
      add(h, n, 100 + i, 1 + (i % 7));
      model.set(n, { ino: 100 + i, ft: 1 + (i % 7) });
    }
    expect(cur(h).flags & DirInodeFlag.Index).toBe(0);
    expect(verifyDirectory(h, DIR).blocks).toBeGreaterThan(8);
    check(h, model);
  });

  it("fills holes of a linear directory before appending", () => {
    const h = host({ dirIndex: false });
    newDir(h);
    let i = 0;
    while (cur(h).size < 3 * 1024) add(h, longName(i++, 200), 100 + i);
    // Punch block 1 out (a hole, as a sparse directory would have).
    h.blocksOf(DIR).delete(1);
    const n = longName(5000, 200);
    add(h, n, 900);
    expect(lookupEntry(h, cur(h), n)).toMatchObject({ lblk: 1, offset: 0 });
    expect(cur(h).size).toBe(3 * 1024);
  });

  it("turns a full one-block directory into an htree (dx_root, two leaves split by hash)", () => {
    for (const hashVersion of [0, 1, 2]) {
      for (const unsignedHash of [false, true]) {
        const h = host({ hashVersion, unsignedHash });
        newDir(h);
        const model: Model = new Map();
        let i = 0;
        while (stage(h) === "linear1") {
          const n = longName(i, 40);
          add(h, n, 100 + i);
          model.set(n, { ino: 100 + i++, ft: 1 });
        }
        expect(stage(h)).toBe("htree1");
        const v = verifyDirectory(h, DIR);
        expect(v.blocks).toBe(3);
        const info = htreeInfo(h, cur(h));
        expect(info.rootInfo).toMatchObject({ hashVersion, indirectLevels: 0, count: 2 });
        expect(info.rootInfo.dotdotRecLen).toBe(1024 - 12);
        check(h, model);
        // Both leaves hold entries: the split divides the block, not the last name.
        const leaves = info.root.children.map((c) => (c.kind === "leaf" ? c.entries.length : -1));
        expect(Math.min(...leaves)).toBeGreaterThan(2);
      }
    }
  });

  it("stays linear when s_def_hash_version is not an index hash, or dir_index is off", () => {
    for (const cfg of [{ hashVersion: 5 }, { dirIndex: false }]) {
      const h = host(cfg);
      newDir(h);
      for (let i = 0; i < 40; i++) add(h, longName(i, 60), 100 + i);
      expect(stage(h)).toMatch(/^linear[2-9]/);
      verifyDirectory(h, DIR);
    }
  });
});

describe("corrupt and unusual directories", () => {
  it("are refused with named codes before anything is written", () => {
    const h = host({ dirIndex: false, csum: false });
    newDir(h);
    add(h, "a", 30);
    // i_size not a whole number of blocks.
    h.updateInode(DIR, { size: 1500 });
    let before = h.changes;
    expect(codeOf(() => add(h, "b", 31))).toBe("DIR_SIZE_UNALIGNED");
    expect(h.changes).toBe(before);
    h.updateInode(DIR, { size: 1024 });
    // A block directory that was never initialised.
    h.mkdirInode(13);
    expect(codeOf(() => addEntry(h, h.readInode(13), "x", 30, 1))).toBe("DIR_NO_BLOCKS");
    // A block mapped past i_size where the next block would go.
    let i = 0;
    while (stage(h) === "linear1" && i < 100) {
      h.blocksOf(DIR).set(1, new Uint8Array(1024));
      before = h.changes;
      try {
        add(h, longName(i++, 200), 100 + i);
      } catch (e) {
        expect(isExt4Error(e) && e.code).toBe("DIR_BLOCK_ALREADY_MAPPED");
        expect(h.changes).toBe(before);
        break;
      }
    }
    expect(i).toBeLessThan(100);
    h.blocksOf(DIR).delete(1);
    // "." renamed away: neither emptiness nor ".." can be judged.
    const b0 = h.blocksOf(DIR).get(0)!;
    b0[8] = 0x78;
    expect(codeOf(() => isEmptyDirectory(h, cur(h)))).toBe("DIR_MISSING_DOT");
    before = h.changes;
    expect(codeOf(() => setDotDot(h, cur(h), 5))).toBe("DIR_MISSING_DOTDOT");
    expect(h.changes).toBe(before);
    b0[8] = 0x2e;
    expect(codeOf(() => setDotDot(h, cur(h), 0))).toBe("DIR_BAD_INODE");
    expect(codeOf(() => replaceEntry(h, cur(h), "a", 31, 9))).toBe("DIR_BAD_FILE_TYPE");
    expect(codeOf(() => replaceEntry(h, cur(h), "nope", 31, 1))).toBe("DIR_ENTRY_NOT_FOUND");
    h.writable = false;
    for (const f of [
      () => removeEntry(h, cur(h), "a"),
      () => replaceEntry(h, cur(h), "a", 31, 1),
      () => setDotDot(h, cur(h), 5),
      () => initDirectory(h, h.mkdirInode(14), 2),
    ]) {
      expect(codeOf(f)).toBe("FS_READ_ONLY");
    }
    // Reading needs no write access.
    expect(isEmptyDirectory(h, cur(h))).toBe(false);
  });
});

describe("growth through every stage", () => {
  it("inline → one block → htree of 1, 2 levels → index full → 3 levels with largedir", () => {
    const h = host({ inline: true, csum: true, largedir: false, maxInline: 128 });
    newDir(h, true);
    const model: Model = new Map();
    const seen: string[] = [];
    const note = () => {
      const s = stage(h);
      if (seen[seen.length - 1] !== s) seen.push(s);
    };
    note();
    let i = 0;
    const put = (n: string) => {
      add(h, n, 100 + (i % 50_000), 1);
      model.set(n, { ino: 100 + (i % 50_000), ft: 1 });
      i++;
      note();
    };
    // Short names while inline, so i_block and then system.data fill up.
    while (stage(h) === "inline") put(`s${i}`);
    check(h, model);
    while (stage(h) !== "htree2") put(longName(i));
    check(h, model, { sample: 97 });
    let full: unknown = null;
    for (;;) {
      const before = h.changes;
      try {
        put(longName(i));
      } catch (e) {
        if (!(isExt4Error(e, "NoSpace") && e.code === "DX_INDEX_FULL")) throw e;
        expect(h.changes).toBe(before);
        full = e;
        break;
      }
    }
    expect(full).not.toBeNull();
    check(h, model, { sample: 397 });
    h.setFeature("largedir", true);
    const at3 = model.size;
    while (stage(h) !== "htree3") put(longName(i));
    // Go on until a middle-level node has split too (the root then has two entries).
    // dx_countlimit.count of the root, at 32 + 2.
    const rootCount = () => new ByteView(h.blocksOf(DIR).get(0)!).u16(34);
    for (let k = 0; k < 20_000 && rootCount() < 2; k++) put(longName(i));
    expect(rootCount()).toBe(2);
    expect(seen).toEqual(["inline", "linear1", "htree1", "htree2", "htree3"]);
    const v = verifyDirectory(h, DIR);
    expect(v.levels).toBe(3);
    expect(model.size).toBeGreaterThan(at3);
    check(h, model, { sample: 397 });
    // Every name resolves through the 3-level index.
    const dir = cur(h);
    for (const k of model.keys()) {
      expect(lookupEntry(h, dir, Buffer.from(k, "latin1"))?.ino).toBe(model.get(k)!.ino);
    }
  }, 60_000);
});

describe("removeEntry with the caller's lookup", () => {
  it("removes the named entry whether the lookup is current or was made stale by leaf splits", () => {
    for (const inline of [false, true]) {
      const h = host({ inline, bs: 1024 });
      newDir(h, inline);
      const model: Model = new Map();
      let ino = 100;
      const grow = (n: number): void => {
        for (let i = 0; i < n; i++) {
          const name = `entry-${ino}`;
          add(h, name, ino);
          model.set(name, { ino, ft: 1 });
          ino++;
        }
      };
      grow(3);
      // Current lookups, and lookups taken before enough insertions to split their leaves.
      const current = lookupEntry(h, cur(h), "entry-101");
      removeEntry(h, cur(h), "entry-101", current);
      model.delete("entry-101");
      check(h, model);
      const early = ["entry-100", "entry-102"].map((n) => [n, lookupEntry(h, cur(h), n)] as const);
      grow(150);
      expect(stage(h)).toMatch(/^htree/);
      for (const [name, hint] of early) {
        expect(hint).not.toBeNull();
        const old = removeEntry(h, cur(h), name, hint);
        expect(old.ino).toBe(model.get(name)?.ino);
        model.delete(name);
        check(h, model, { sample: 7 });
      }
      // A hint that names another entry is not trusted.
      const other = lookupEntry(h, cur(h), "entry-110");
      removeEntry(h, cur(h), "entry-111", other);
      model.delete("entry-111");
      check(h, model, { sample: 7 });
      expect(lookupEntry(h, cur(h), "entry-110")?.ino).toBe(110);
    }
  });
});
