/**
 * The directory write primitives on real images, through the core's
 * Filesystem opened read-write: tens of thousands of entries added and
 * some removed, replaced and re-added in images made by mke2fs (4 KiB and
 * 1 KiB blocks, with and without metadata_csum, inline_data, ext2 without
 * dir_index or filetype, largedir with a 3-level index). Every image is then
 * judged by the real tools: `e2fsck -fn` must find nothing (link counts are
 * kept right: all entries name one of two files whose i_links_count is set
 * to match), debugfs must list and dump the htree exactly as the read side
 * renders it, the kernel must list the same names from a loop mount, and
 * the directory must pass the structural check.
 */
import { mkdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileDevice } from "@ext4/iocache";
import { afterAll, describe, expect, it } from "vitest";
import { Filesystem } from "../fs.js";
import type { Inode } from "../inode.js";
import { e2fsck, mkfs, scratchDir } from "../test-support/mkfs.js";
import { DirInodeFlag } from "./constants.js";
import type { DirInode } from "./host.js";
import { resolvePath } from "./path.js";
import { dirBlockInfo, htreeInfo, lookupEntry, readDirectory } from "./read.js";
import { ImageHost } from "./test-support/image.js";
import { kernelListings, kernelMutate } from "./test-support/kernel.js";
import { debugfsRaw, debugfsScript } from "./test-support/oracle.js";
import { renderHtree, renderLs } from "./test-support/render.js";
import { key, verifyDirectory } from "./test-support/verify-dir.js";
import { addEntry, isEmptyDirectory, removeEntry, replaceEntry, setDotDot } from "./write.js";

const enc = new TextEncoder();
const created: string[] = [];
let serial = 0;

afterAll(() => {
  for (const p of created.splice(0)) rmSync(p, { recursive: true, force: true });
});

/** Deterministic pseudo-random bytes (xorshift), for names with every byte but NUL and '/'. */
function oddName(i: number): Uint8Array {
  let x = (i + 1) * 2654435761;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const len = 30 + (next() % 90);
  const out = new Uint8Array(len);
  for (let k = 0; k < len; k++) {
    const c = 1 + (next() % 255);
    out[k] = c === 0x2f ? 0x2d : c;
  }
  // A unique tail keeps names distinct whatever the random part.
  const tail = enc.encode(`#${i}`);
  out.set(tail, len - tail.length);
  return out;
}

/** A name of `len` bytes unique per `i`. */
const padded = (i: number, len: number, fill = "n"): Uint8Array => {
  const head = `${String(i).padStart(6, "0")}-`;
  return enc.encode(head + fill.repeat(len - head.length));
};

interface Scenario {
  readonly title: string;
  readonly type?: "ext2" | "ext3" | "ext4";
  readonly args: readonly string[];
  readonly size: number;
  /** Entries added to /big, or "3-levels": until the index has 3 levels, and 300 more. */
  readonly count: number | "3-levels";
  readonly name: (i: number) => Uint8Array;
  /** The shape /big must end in. */
  readonly shape: { kind: "linear" | "htree"; levels?: number };
  /** Set EXT2_FLAGS_UNSIGNED_HASH (s_flags 2) before writing. */
  readonly unsignedHash?: boolean;
  /**
   * Also grow directories made by Filesystem.mkdir (initDirectory: inline
   * ones with inline_data), move one into another, and expect these shapes.
   */
  readonly mkdirs?: { grown: string[]; kept: string[]; emptied: string[] };
  /** Files the kernel creates in /big before we write (so we continue the kernel's htree). */
  readonly kernelSeed?: number;
}

const SCENARIOS: readonly Scenario[] = [
  {
    title: "ext4 4 KiB, mke2fs defaults (metadata_csum): 20,000 entries after the kernel's 3,000",
    args: ["-b", "4096"],
    kernelSeed: 3000,
    size: 64 << 20,
    count: 20_000,
    name: (i) => padded(i, 150),
    shape: { kind: "htree", levels: 2 },
  },
  {
    title: "ext4 1 KiB, names of arbitrary bytes: 8,000 entries",
    args: ["-b", "1024"],
    size: 48 << 20,
    count: 8000,
    name: oddName,
    mkdirs: { grown: ["linear", "htree1"], kept: ["linear"], emptied: ["linear"] },
    shape: { kind: "htree", levels: 2 },
  },
  {
    title: "ext4 4 KiB without metadata_csum, unsigned hash: 12,000 entries",
    args: ["-b", "4096", "-O", "^metadata_csum"],
    size: 48 << 20,
    count: 12_000,
    name: oddName,
    unsignedHash: true,
    shape: { kind: "htree" },
  },
  {
    title: "ext4 inline_data: directories from mkdir grow out of the inode",
    args: ["-b", "4096", "-O", "inline_data", "-I", "256"],
    size: 32 << 20,
    count: 3000,
    name: (i) => padded(i, 40),
    mkdirs: {
      grown: ["inline", "inline+xattr", "linear", "htree1"],
      kept: ["inline", "inline+xattr"],
      emptied: ["inline", "inline+xattr", "linear"],
    },
    shape: { kind: "htree" },
  },
  {
    title: "ext2 without dir_index: linear growth",
    type: "ext2",
    args: ["-b", "4096", "-O", "^dir_index"],
    size: 32 << 20,
    count: 3000,
    name: (i) => padded(i, 40),
    mkdirs: { grown: ["linear"], kept: ["linear"], emptied: ["linear"] },
    shape: { kind: "linear" },
  },
  {
    title: "ext2 without dir_index and filetype",
    type: "ext2",
    args: ["-b", "2048", "-O", "^dir_index,^filetype"],
    size: 16 << 20,
    count: 1500,
    name: (i) => padded(i, 24),
    shape: { kind: "linear" },
  },
  {
    title: "ext4 1 KiB with largedir: a 3-level index",
    args: ["-b", "1024", "-O", "large_dir"],
    size: 96 << 20,
    count: "3-levels",
    name: (i) => padded(i, 255, "L"),
    shape: { kind: "htree", levels: 3 },
  },
];

/** An image whose root holds two files to point entries at and an empty /big. */
function makeImage(s: Scenario): string {
  const tree = join(scratchDir(), `wtree-${process.pid}-${serial++}`);
  mkdirSync(join(tree, "big"), { recursive: true });
  writeFileSync(join(tree, "target"), "");
  writeFileSync(join(tree, "other"), "");
  let image: string;
  try {
    image = mkfs({ type: s.type ?? "ext4", size: s.size, args: [...s.args], from: tree });
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  created.push(image);
  if (s.unsignedHash === true) debugfsScript([enc.encode("ssv flags 2")], image, true);
  const seed = s.kernelSeed ?? 0;
  if (seed > 0) {
    kernelMutate(image, (mnt) => {
      for (let i = 0; i < seed; i++) writeFileSync(join(mnt, "big", `kernel-made-${i}`), "");
    });
  }
  return image;
}

/** indirect_levels + 1 of an indexed directory, 0 otherwise (read from block 0 of the dx_root). */
function levels(fs: Filesystem, dir: DirInode): number {
  if ((dir.flags & DirInodeFlag.Index) === 0 || (dir.flags & DirInodeFlag.InlineData) !== 0)
    return 0;
  return (fs.readFileBlock(dir as Inode, 0)?.[30] ?? 0) + 1;
}

/** The shape of a directory: inline, linear or htree<levels>. */
function shapeOf(fs: Filesystem, dir: DirInode): string {
  if ((dir.flags & DirInodeFlag.InlineData) !== 0) return `inline${dir.size > 60 ? "+xattr" : ""}`;
  const l = levels(fs, dir);
  return l === 0 ? "linear" : `htree${l}`;
}

type Model = Map<string, number>;

/**
 * Adds, removes, replaces and re-adds entries of `dir` through the
 * primitives; returns the final model and the shapes the directory went
 * through.
 */
function exercise(
  fs: Filesystem,
  ino: number,
  s: { count: number | "3-levels"; name: (i: number) => Uint8Array },
  targets: { a: number; b: number },
): { model: Model; shapes: string[] } {
  let dir = fs.readInode(ino) as DirInode;
  const model: Model = new Map(
    readDirectory(fs, dir, { includeDots: false }).map((e) => [key(e.name), e.ino]),
  );
  const shapes: string[] = [shapeOf(fs, dir)];
  const note = () => {
    const sh = shapeOf(fs, dir);
    if (shapes[shapes.length - 1] !== sh) shapes.push(sh);
  };
  const put = (i: number) => {
    const n = s.name(i);
    dir = addEntry(fs, dir, n, targets.a, 1);
    model.set(key(n), targets.a);
    note();
  };
  let i = 0;
  if (s.count === "3-levels") {
    for (; levels(fs, dir) < 3 && i < 60_000; i++) put(i);
    for (const end = i + 300; i < end; i++) put(i);
  } else {
    for (; i < s.count; i++) put(i);
  }
  const added = i;
  // Remove every 7th name, point every 11th at the other file, then add a tenth more (reusing space).
  for (let k = 3; k < added; k += 7) {
    const n = s.name(k);
    const r = removeEntry(fs, dir, n);
    expect(r.ino).toBe(targets.a);
    dir = r.dir;
    model.delete(key(n));
  }
  for (let k = 5; k < added; k += 11) {
    const n = s.name(k);
    if (!model.has(key(n))) continue;
    dir = replaceEntry(fs, dir, n, targets.b, 1).dir;
    model.set(key(n), targets.b);
  }
  for (const end = i + Math.ceil(added / 10); i < end; i++) put(i);
  return { model, shapes };
}

/** Sets each target's i_links_count to its root entry plus the entries naming it. */
function fixLinks(fs: Filesystem, models: readonly Model[], targets: { a: number; b: number }) {
  for (const t of [targets.a, targets.b]) {
    let n = 1;
    for (const m of models) for (const v of m.values()) if (v === t) n++;
    fs.updateInode(t, { linksCount: n });
  }
}

/** Everything the tools say about directory `path` agrees with `model`. */
function judge(
  image: string,
  path: string,
  model: Model,
  parent: number,
  kernel: Map<string, string[]>,
): void {
  const raw = new ImageHost(image);
  try {
    const ino = resolvePath(raw, path).ino;
    const dir = raw.readInode(ino);
    const v = verifyDirectory(raw, ino);
    expect(v.parent).toBe(parent);
    expect(new Map([...v.entries].map(([k, e]) => [k, e.ino]))).toEqual(model);
    for (const k of model.keys()) {
      expect(lookupEntry(raw, dir, Buffer.from(k, "latin1"))?.ino).toBe(model.get(k));
    }
    // debugfs reads the same records and, for an htree, the same index.
    const listing = dirBlockInfo(raw, dir);
    expect(listing.error).toBeNull();
    expect(renderLs(listing, "short", (i) => raw.readInode(i))).toBe(
      debugfsRaw(image, `ls <${ino}>`),
    );
    if (v.kind === "htree") {
      const phys = (lblk: number) => raw.bmap(dir, lblk)?.pblk ?? 0;
      const text = renderHtree(
        htreeInfo(raw, dir),
        raw.blockSize,
        raw.hasFeature("metadata_csum"),
        phys,
      );
      expect(text).toBe(debugfsRaw(image, `htree_dump <${ino}>`));
    }
    expect([...(kernel.get(path) ?? [])].sort()).toEqual([...model.keys()].sort());
  } finally {
    raw.close();
  }
}

for (const s of SCENARIOS) {
  describe(s.title, () => {
    it("writes what e2fsck, debugfs and the kernel read back", () => {
      const image = makeImage(s);
      const fs = Filesystem.open(FileDevice.open(image), { writable: true });
      const dirs: Array<{ path: string; model: Model; parent: number }> = [];
      let big: { model: Model; shapes: string[] };
      const shapes: Record<string, string[]> = {};
      try {
        expect(fs.writable).toBe(true);
        const targets = { a: resolvePath(fs, "/target").ino, b: resolvePath(fs, "/other").ino };
        big = exercise(fs, resolvePath(fs, "/big").ino, s, targets);
        dirs.push({ path: "/big", model: big.model, parent: 2 });
        if (s.mkdirs !== undefined) {
          const opts = { mode: 0o755, uid: 0, gid: 0 };
          const made: Record<string, { ino: number; model: Model }> = {};
          for (const [name, count] of [
            ["grown", 600],
            ["kept", 5],
            ["emptied", 9],
          ] as const) {
            const ino = fs.mkdir(2, name, opts).ino;
            const r = exercise(fs, ino, { count, name: (i) => padded(i, 12) }, targets);
            shapes[name] = r.shapes;
            if (name === "emptied") {
              let d = fs.readInode(ino) as DirInode;
              expect(isEmptyDirectory(fs, d)).toBe(false);
              for (const k of [...r.model.keys()]) {
                d = removeEntry(fs, d, Buffer.from(k, "latin1")).dir;
                r.model.delete(k);
              }
              expect(isEmptyDirectory(fs, d)).toBe(true);
            }
            made[name] = { ino, model: r.model };
          }
          // /grown moves into /kept as rename does it: the new entry, the old one
          // removed, ".." rewritten, and the parents' link counts.
          const grown = made.grown!;
          const kept = made.kept!;
          addEntry(fs, fs.readInode(kept.ino), "grown", grown.ino, 2);
          kept.model.set("grown", grown.ino);
          removeEntry(fs, fs.readInode(2), "grown");
          expect(setDotDot(fs, fs.readInode(grown.ino), kept.ino)).toBe(2);
          fs.updateInode(2, { linksCount: fs.readInode(2).linksCount - 1 });
          fs.updateInode(kept.ino, { linksCount: fs.readInode(kept.ino).linksCount + 1 });
          dirs.push(
            { path: "/kept", model: kept.model, parent: 2 },
            { path: "/kept/grown", model: grown.model, parent: kept.ino },
            { path: "/emptied", model: made.emptied!.model, parent: 2 },
          );
        }
        fixLinks(
          fs,
          dirs.map((d) => d.model),
          targets,
        );
      } finally {
        fs.close();
      }
      const final = big.shapes[big.shapes.length - 1] ?? "";
      if (s.shape.kind === "linear") expect(big.shapes).toEqual(["linear"]);
      else {
        // mke2fs -d makes an empty directory inline when it can; the kernel's 3,000 files need an index.
        const first = s.args.includes("inline_data")
          ? "inline"
          : s.kernelSeed !== undefined
            ? "htree1"
            : "linear";
        expect(big.shapes[0]).toBe(first);
        if (s.kernelSeed === undefined) expect(big.shapes).toContain("linear");
        expect(final).toBe(`htree${s.shape.levels ?? final.slice(5)}`);
        expect(final).toMatch(/^htree[1-3]$/);
      }
      if (s.mkdirs !== undefined) expect(shapes).toEqual(s.mkdirs);
      const fsck = e2fsck(image);
      expect(fsck.status, fsck.output).toBe(0);
      const kernel = kernelListings(
        image,
        dirs.map((d) => d.path),
      );
      for (const d of dirs) judge(image, d.path, d.model, d.parent, kernel);

      // The kernel carries on from what we wrote: new files, and some of ours unlinked.
      const names = new Map(dirs.map((d) => [d.path, new Set(d.model.keys())]));
      kernelMutate(image, (mnt) => {
        for (const d of dirs) {
          const set = names.get(d.path)!;
          [...set]
            .filter((_, k) => k % 9 === 4)
            .forEach((n) => {
              unlinkSync(
                Buffer.concat([Buffer.from(join(mnt, d.path, "/")), Buffer.from(n, "latin1")]),
              );
              set.delete(n);
            });
          for (let k = 0; k < 200; k++) {
            writeFileSync(join(mnt, d.path, `after-${k}`), "");
            set.add(`after-${k}`);
          }
        }
      });
      const again = e2fsck(image);
      expect(again.status, again.output).toBe(0);
      const listed = kernelListings(image, [...names.keys()]);
      const raw = new ImageHost(image);
      try {
        for (const [path, set] of names) {
          expect([...(listed.get(path) ?? [])].sort()).toEqual([...set].sort());
          const v = verifyDirectory(raw, resolvePath(raw, path).ino);
          expect([...v.entries.keys()].sort()).toEqual([...set].sort());
        }
      } finally {
        raw.close();
      }
    }, 120_000);
  });
}
