/**
 * Model-based tests of the directory write primitives: random sequences of
 * adds, removes, replacements and ".." changes against a Map, on every
 * directory shape (inline, linear, htree; with and without metadata_csum,
 * filetype, dir_index, largedir; every hash version, signed and unsigned),
 * with a limited allocator; after each step the directory must verify
 * structurally and list and look up exactly the model. Also the cases the
 * model does not reach on its own: hash collisions across leaves, removal
 * and replacement in each shape, unusable indexes, corrupt blocks.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { ByteView } from "../view.js";
import { DirInodeFlag } from "./constants.js";
import { dxRootStruct, writeDxTail } from "./dx.js";
import { dxHash } from "./hash.js";
import type { DirInode } from "./host.js";
import { htreeInfo, lookupEntry, readDirectory } from "./read.js";
import { codeOf } from "./test-support/assert.js";
import { MemWriteHost } from "./test-support/mem-write.js";
import { key, verifyDirectory } from "./test-support/verify-dir.js";
import {
  addEntry,
  initDirectory,
  isEmptyDirectory,
  removeEntry,
  replaceEntry,
  setDotDot,
} from "./write.js";

const enc = new TextEncoder();
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
  readonly freeBlocks: number;
}

function makeHost(c: Cfg): MemWriteHost {
  const features = ["extent"];
  if (c.csum) features.push("metadata_csum");
  if (c.filetype) features.push("filetype");
  if (c.dirIndex) features.push("dir_index");
  if (c.inline) features.push("inline_data");
  if (c.largedir) features.push("largedir");
  const h = new MemWriteHost({
    blockSize: c.bs,
    features,
    defHashVersion: c.hashVersion,
    unsignedHash: c.unsignedHash,
    maxInline: c.maxInline,
    freeBlocks: c.freeBlocks,
  });
  h.mkdirInode(PARENT);
  return h;
}

function newDir(h: MemWriteHost, inline: boolean): DirInode {
  return initDirectory(h, h.mkdirInode(DIR, { inline }), PARENT);
}

const cur = (h: MemWriteHost): DirInode => h.readInode(DIR);

type Model = Map<string, { ino: number; ft: number }>;

/** The directory holds exactly the model, verifies, and every name (or a sample) resolves both ways. */
function check(h: MemWriteHost, model: Model, parent: number, lookups: readonly string[]): void {
  const v = verifyDirectory(h, DIR);
  const ft = h.hasFeature("filetype");
  expect(v.parent).toBe(parent);
  expect(v.entries).toEqual(
    new Map([...model].map(([k, m]) => [k, { ino: m.ino, fileTypeRaw: ft ? m.ft : 0 }])),
  );
  const dir = cur(h);
  const listed = readDirectory(h, dir);
  expect(listed.length).toBe(model.size + 2);
  expect(listed.find((e) => e.nameText === "..")?.ino).toBe(parent);
  for (const k of lookups) {
    const n = Buffer.from(k, "latin1");
    const want = model.get(k)?.ino ?? null;
    const hit = lookupEntry(h, dir, n);
    expect(hit?.ino ?? null).toBe(want);
    if (v.kind === "htree" && want !== null) expect(hit?.via).toBe("htree");
    expect(lookupEntry(h, dir, n, { method: "linear" })?.ino ?? null).toBe(want);
  }
  expect(isEmptyDirectory(h, dir)).toBe(model.size === 0);
}

/** Names with any byte but NUL and '/', never "." or "..": short ones, and long ones to fill blocks fast. */
const nameArb = fc
  .oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[a-z0-9_.-]{1,12}$/).map((s) => enc.encode(s)) },
    {
      weight: 2,
      arbitrary: fc.uint8Array({ minLength: 40, maxLength: 255, min: 1, max: 255, size: "max" }),
    },
  )
  .map((b) => {
    const n = b.map((c) => (c === 0x2f ? 0x5f : c));
    return n.length <= 2 && n.every((c) => c === 0x2e) ? Uint8Array.of(0x78, ...n) : n;
  });

type Cmd =
  | { readonly op: "add"; readonly name: Uint8Array; readonly ino: number; readonly ft: number }
  | { readonly op: "remove"; readonly pick: number }
  | { readonly op: "removeAbsent"; readonly name: Uint8Array }
  | { readonly op: "replace"; readonly pick: number; readonly ino: number; readonly ft: number }
  | { readonly op: "dotdot"; readonly ino: number };

const inoArb = fc.integer({ min: 11, max: 2 ** 32 - 1 });
const ftArb = fc.integer({ min: 1, max: 7 });
const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      op: fc.constant("add" as const),
      name: nameArb,
      ino: inoArb,
      ft: ftArb,
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("remove" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("removeAbsent" as const), name: nameArb }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant("replace" as const),
      pick: fc.nat(),
      ino: inoArb,
      ft: ftArb,
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("dotdot" as const), ino: inoArb }) },
);

const cfgArb: fc.Arbitrary<Cfg> = fc.record({
  bs: fc.constantFrom(1024, 1024, 1024, 2048, 4096, 65536),
  csum: fc.boolean(),
  filetype: fc.boolean(),
  dirIndex: fc.boolean(),
  inline: fc.boolean(),
  largedir: fc.boolean(),
  hashVersion: fc.constantFrom(0, 1, 2),
  unsignedHash: fc.boolean(),
  maxInline: fc.constantFrom(60, 72, 128, 400),
  freeBlocks: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 40 })),
});

/** Runs a command sequence against the model; returns how often the allocator said no. */
function run(cfg: Cfg, cmds: readonly Cmd[]): { noSpace: number; kinds: Set<string> } {
  const h = makeHost(cfg);
  let parent = PARENT;
  const model: Model = new Map();
  let noSpace = 0;
  const kinds = new Set<string>();
  try {
    newDir(h, cfg.inline);
  } catch (e) {
    // A block directory needs its first block; with none free there is nothing to test.
    if (isExt4Error(e, "NoSpace")) return { noSpace: 1, kinds };
    throw e;
  }
  for (const c of cmds) {
    const touched: string[] = [];
    const keys = [...model.keys()];
    switch (c.op) {
      case "add": {
        const k = key(c.name);
        touched.push(k);
        if (model.has(k)) break;
        try {
          addEntry(h, cur(h), c.name, c.ino, c.ft);
          model.set(k, { ino: c.ino, ft: c.ft });
        } catch (e) {
          if (!isExt4Error(e, "NoSpace")) throw e;
          noSpace++;
        }
        break;
      }
      case "remove": {
        if (keys.length === 0) break;
        const k = keys[c.pick % keys.length]!;
        const old = removeEntry(h, cur(h), Buffer.from(k, "latin1"));
        expect(old.ino).toBe(model.get(k)!.ino);
        model.delete(k);
        touched.push(k);
        break;
      }
      case "removeAbsent": {
        const k = key(c.name);
        if (model.has(k)) break;
        expect(codeOf(() => removeEntry(h, cur(h), c.name))).toBe("DIR_ENTRY_NOT_FOUND");
        break;
      }
      case "replace": {
        if (keys.length === 0) break;
        const k = keys[c.pick % keys.length]!;
        const old = replaceEntry(h, cur(h), Buffer.from(k, "latin1"), c.ino, c.ft);
        expect(old.ino).toBe(model.get(k)!.ino);
        model.set(k, { ino: c.ino, ft: c.ft });
        touched.push(k);
        break;
      }
      case "dotdot": {
        expect(setDotDot(h, cur(h), c.ino)).toBe(parent);
        parent = c.ino;
        break;
      }
    }
    check(h, model, parent, touched);
    kinds.add(verifyDirectory(h, DIR).kind);
  }
  check(h, model, parent, [...model.keys()]);
  return { noSpace, kinds };
}

describe("directory writes against a model", () => {
  it("agree with a Map after every step, in every directory shape", () => {
    const kinds = new Set<string>();
    let noSpace = 0;
    fc.assert(
      fc.property(
        cfgArb,
        fc.array(cmdArb, { minLength: 20, maxLength: 200, size: "max" }),
        (cfg, cmds) => {
          const r = run(cfg, cmds);
          for (const k of r.kinds) kinds.add(k);
          noSpace += r.noSpace;
        },
      ),
      { numRuns: 100 },
    );
    // The runs reached every shape and the allocator's refusals.
    expect([...kinds].sort()).toEqual(["htree", "inline", "linear"]);
    expect(noSpace).toBeGreaterThan(0);
  }, 120_000);
});

/** A 255-byte name ending in `tag`. */
const long = (fill: string, tag: string): string => `${fill.repeat(254 - tag.length)}-${tag}`;

/** `count` pairs of distinct 255-byte ASCII names with the same legacy (dx_hack) hash. */
function legacyCollisions(count: number): Array<[string, string]> {
  const seen = new Map<number, string>();
  const pairs: Array<[string, string]> = [];
  for (let i = 0; pairs.length < count; i++) {
    const n = long("p", i.toString(36));
    const h = dxHash(0, enc.encode(n)).hash;
    const other = seen.get(h);
    if (other !== undefined) {
      pairs.push([other, n]);
      seen.delete(h);
    } else {
      seen.set(h, n);
    }
  }
  return pairs;
}

describe("hash collisions", () => {
  const pairs = legacyCollisions(6);

  it("split a collision run across two leaves with the continuation bit, and still find both", () => {
    const h = makeHost({
      bs: 1024,
      csum: true,
      filetype: true,
      dirIndex: true,
      inline: false,
      largedir: false,
      hashVersion: 0,
      unsignedHash: false,
      maxInline: 60,
      freeBlocks: Number.POSITIVE_INFINITY,
    });
    newDir(h, false);
    const [a, b] = pairs[0]!;
    const ha = dxHash(0, enc.encode(a)).hash;
    // X must hash above the pair and be written first, so the sorted split
    // (A | B X by bytes) cuts between A and B.
    let x = "";
    for (let i = 0; ; i++) {
      x = long("q", String(i));
      if (dxHash(0, enc.encode(x)).hash > ha) break;
    }
    const model: Model = new Map();
    for (const [n, ino] of [
      [x, 30],
      [a, 31],
      [b, 32],
      [`${"r".repeat(200)}y`, 33],
    ] as const) {
      addEntry(h, cur(h), n, ino, 1);
      model.set(n, { ino, ft: 1 });
    }
    const info = htreeInfo(h, cur(h));
    expect(info.root.entries.map((e) => e.hash)).toEqual([0, (ha | 1) >>> 0]);
    const v = verifyDirectory(h, DIR);
    expect(v.continued).toBe(1);
    check(h, model, PARENT, [...model.keys()]);
    // The second of the pair lives in the continued leaf and is found through it.
    expect(lookupEntry(h, cur(h), b)).toMatchObject({ via: "htree", lblk: 2 });
    removeEntry(h, cur(h), a);
    model.delete(a);
    check(h, model, PARENT, [...model.keys(), a]);
  });

  it("keep the htree sound while many colliding names come and go", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.nat({ max: 11 }),
            fc.nat({ max: 200 }).map((n) => 100 + n),
          ),
          {
            minLength: 50,
            maxLength: 250,
          },
        ),
        fc.boolean(),
        (picks, unsignedHash) => {
          const h = makeHost({
            bs: 1024,
            csum: true,
            filetype: true,
            dirIndex: true,
            inline: false,
            largedir: false,
            hashVersion: 0,
            unsignedHash,
            maxInline: 60,
            freeBlocks: Number.POSITIVE_INFINITY,
          });
          newDir(h, false);
          const model: Model = new Map();
          for (const p of picks) {
            const n = p < 12 ? pairs[p >> 1]![p & 1]! : `${"f".repeat(180)}${p}`;
            if (model.has(n)) {
              removeEntry(h, cur(h), n);
              model.delete(n);
            } else {
              addEntry(h, cur(h), n, 1000 + p, 1);
              model.set(n, { ino: 1000 + p, ft: 1 });
            }
          }
          check(h, model, PARENT, [...model.keys(), ...pairs.flat()]);
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe("removing and replacing", () => {
  for (const shape of ["inline", "linear", "htree"] as const) {
    it(`work in ${shape} directories, and never touch '.' or '..'`, () => {
      const h = makeHost({
        bs: 1024,
        csum: true,
        filetype: true,
        dirIndex: shape === "htree",
        inline: shape === "inline",
        largedir: false,
        hashVersion: 1,
        unsignedHash: false,
        maxInline: 400,
        freeBlocks: Number.POSITIVE_INFINITY,
      });
      newDir(h, shape === "inline");
      const model: Model = new Map();
      const n = shape === "inline" ? 12 : 60;
      for (let i = 0; i < n; i++) {
        const name = `${shape}-${i}${shape === "inline" ? "" : "z".repeat(40)}`;
        addEntry(h, cur(h), name, 100 + i, 1);
        model.set(name, { ino: 100 + i, ft: 1 });
      }
      expect(verifyDirectory(h, DIR).kind).toBe(shape);
      for (const bad of [".", ".."]) {
        expect(codeOf(() => removeEntry(h, cur(h), bad))).toBe("DIR_NAME_DOT");
        expect(codeOf(() => replaceEntry(h, cur(h), bad, 5, 2))).toBe("DIR_NAME_DOT");
      }
      const names = [...model.keys()];
      for (const [i, k] of names.entries()) {
        if (i % 3 === 0) {
          expect(replaceEntry(h, cur(h), k, 500 + i, 2)).toMatchObject({
            ino: model.get(k)!.ino,
            fileType: 1,
          });
          model.set(k, { ino: 500 + i, ft: 2 });
        }
      }
      check(h, model, PARENT, names);
      expect(setDotDot(h, cur(h), 77)).toBe(PARENT);
      check(h, model, 77, []);
      for (const k of names) {
        expect(removeEntry(h, cur(h), k).ino).toBe(model.get(k)!.ino);
        model.delete(k);
      }
      expect(codeOf(() => removeEntry(h, cur(h), names[0]!))).toBe("DIR_ENTRY_NOT_FOUND");
      check(h, model, 77, names);
      // An emptied directory keeps its shape (the kernel never shrinks one).
      expect(verifyDirectory(h, DIR).kind).toBe(shape);
      expect(isEmptyDirectory(h, cur(h))).toBe(true);
    });
  }
});

describe("inline directories", () => {
  const inlineHost = (maxInline: number, freeBlocks = Number.POSITIVE_INFINITY) =>
    makeHost({
      bs: 1024,
      csum: true,
      filetype: true,
      dirIndex: true,
      inline: true,
      largedir: false,
      hashVersion: 1,
      unsignedHash: false,
      maxInline,
      freeBlocks,
    });

  it("fill i_block, then grow system.data to the most the inode allows, then move to a block", () => {
    const h = inlineHost(128);
    newDir(h, true);
    // 56 bytes of i_block hold three 16-byte records (the last stretched to 24).
    for (let i = 1; i <= 3; i++) addEntry(h, cur(h), `name_${i}`, 30 + i, 1);
    expect(cur(h).size).toBe(60);
    addEntry(h, cur(h), "name_4", 34, 1);
    expect(cur(h).size).toBe(128);
    const listed = () => readDirectory(h, cur(h)).map((e) => e.nameText);
    expect(listed()).toEqual([".", "..", "name_1", "name_2", "name_3", "name_4"]);
    for (let i = 5; i <= 7; i++) addEntry(h, cur(h), `name_${i}`, 30 + i, 1);
    expect(cur(h).flags & DirInodeFlag.InlineData).not.toBe(0);
    addEntry(h, cur(h), "name_8", 38, 1);
    const d = cur(h);
    expect(d.flags & DirInodeFlag.InlineData).toBe(0);
    expect(d.size).toBe(1024);
    // Converted as the kernel does: ".", ".." of 12 bytes, the inline records after them, in order.
    expect(readDirectory(h, d).map((e) => [e.nameText, e.lblk, e.offset])).toEqual([
      [".", 0, 0],
      ["..", 0, 12],
      ["name_1", 0, 24],
      ["name_2", 0, 40],
      ["name_3", 0, 56],
      ["name_4", 0, 80],
      ["name_5", 0, 96],
      ["name_6", 0, 112],
      ["name_7", 0, 128],
      ["name_8", 0, 144],
    ]);
    verifyDirectory(h, DIR);
  });

  it("move straight to a block when the inode has no room for system.data", () => {
    const h = inlineHost(60);
    newDir(h, true);
    for (let i = 1; i <= 4; i++) addEntry(h, cur(h), `name_${i}`, 30 + i, 1);
    expect(verifyDirectory(h, DIR)).toMatchObject({ kind: "linear", blocks: 1 });
  });

  it("put the inline data back when the block cannot be allocated", () => {
    const h = inlineHost(60, 0);
    newDir(h, true);
    for (let i = 1; i <= 3; i++) addEntry(h, cur(h), `name_${i}`, 30 + i, 1);
    const before = h.snapshot(DIR);
    expect(codeOf(() => addEntry(h, cur(h), "name_4", 34, 1))).toBe("NO_FREE_BLOCKS");
    expect(h.snapshot(DIR)).toEqual(before);
    expect(verifyDirectory(h, DIR).entries.size).toBe(3);
  });
});

describe("failures change nothing they can foresee", () => {
  it("a checksum failure in a block the add reads stops it before any write", () => {
    for (const lblk of [0, 1, 2]) {
      const h = makeHost({
        bs: 1024,
        csum: true,
        filetype: true,
        dirIndex: true,
        inline: false,
        largedir: false,
        hashVersion: 1,
        unsignedHash: false,
        maxInline: 60,
        freeBlocks: Number.POSITIVE_INFINITY,
      });
      newDir(h, false);
      for (let i = 0; i < 30; i++) addEntry(h, cur(h), `n${i}${"y".repeat(80)}`, 100 + i, 1);
      const b = h.blocksOf(DIR).get(lblk)!;
      const saved = b.slice();
      // Byte 40 is a dx_entry hash of the root; byte 20 a name byte of a leaf's first entry.
      b[lblk === 0 ? 40 : 20]! ^= 0x40;
      let failures = 0;
      for (let i = 0; i < 60; i++) {
        const before = h.changes;
        try {
          addEntry(h, cur(h), `m${i}${"w".repeat(80)}`, 900 + i, 1);
        } catch (e) {
          if (!isExt4Error(e, "BadChecksum")) throw e;
          expect(h.changes).toBe(before);
          failures++;
        }
      }
      expect(failures).toBeGreaterThan(0);
      // No successful add wrote the damaged block: restoring it leaves a sound directory.
      b.set(saved);
      verifyDirectory(h, DIR);
    }
  });

  it("an unusable index is dropped without metadata_csum (as the kernel does), and refused with it", () => {
    for (const csum of [false, true]) {
      const h = makeHost({
        bs: 1024,
        csum,
        filetype: true,
        dirIndex: true,
        inline: false,
        largedir: false,
        hashVersion: 1,
        unsignedHash: false,
        maxInline: 60,
        freeBlocks: Number.POSITIVE_INFINITY,
      });
      newDir(h, false);
      const model: Model = new Map();
      for (let i = 0; i < 40; i++) {
        const n = `n${i}${"y".repeat(80)}`;
        addEntry(h, cur(h), n, 100 + i, 1);
        model.set(n, { ino: 100 + i, ft: 1 });
      }
      expect(verifyDirectory(h, DIR).kind).toBe("htree");
      const b0 = h.blocksOf(DIR).get(0)!;
      dxRootStruct.set(new ByteView(b0), "unused_flags", 1);
      if (csum) writeDxTail(b0, 1024, 32, h.seedOf(DIR));
      if (csum) {
        const before = h.changes;
        expect(codeOf(() => addEntry(h, cur(h), "late", 999, 1))).toBe("DX_ROOT_UNUSED_FLAGS");
        expect(h.changes).toBe(before);
        continue;
      }
      addEntry(h, cur(h), "late", 999, 1);
      model.set("late", { ino: 999, ft: 1 });
      expect(cur(h).flags & DirInodeFlag.Index).toBe(0);
      check(h, model, PARENT, [...model.keys()]);
    }
  });

  it("an index pointing a leaf slot at an index block is refused, never written into", () => {
    const h = makeHost({
      bs: 1024,
      csum: true,
      filetype: true,
      dirIndex: true,
      inline: false,
      largedir: false,
      hashVersion: 1,
      unsignedHash: false,
      maxInline: 60,
      freeBlocks: Number.POSITIVE_INFINITY,
    });
    newDir(h, false);
    // Two interior nodes under the root: indirect_levels (byte 30) 1 and a root count (at 34) of 2.
    const twoNodes = () => {
      const v = new ByteView(h.blocksOf(DIR).get(0)!);
      return (cur(h).flags & DirInodeFlag.Index) !== 0 && v.u8(30) === 1 && v.u16(34) >= 2;
    };
    for (let i = 0; !twoNodes(); i++) addEntry(h, cur(h), long("g", String(i)), 100 + i, 1);
    const root = htreeInfo(h, cur(h)).root;
    const [a, b] = root.entries.map((e) => e.block);
    for (const [target, code] of [
      [b!, "DX_LEAF_IS_INDEX"],
      [a!, "DX_TREE_CYCLE"],
    ] as const) {
      const node = h.blocksOf(DIR).get(a!)!;
      const saved = node.slice();
      const v = new ByteView(node);
      const count = v.u16(10);
      for (let j = 0; j < count; j++) v.setU32(8 + j * 8 + 4, target);
      writeDxTail(node, 1024, 8, h.seedOf(DIR));
      let seen: string | null = null;
      for (let i = 0; i < 50 && seen === null; i++) {
        const before = h.changes;
        try {
          addEntry(h, cur(h), `late-${i}`, 900 + i, 1);
        } catch (e) {
          if (!isExt4Error(e)) throw e;
          expect(h.changes).toBe(before);
          seen = e.code;
        }
      }
      expect(seen).toBe(code);
      node.set(saved);
      verifyDirectory(h, DIR);
    }
  });
});
