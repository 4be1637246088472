/**
 * Core metadata micro-benchmark (on demand, not in CI): the hot paths of
 * `ext4-debug ls -l` and of fuse4fs metadata operations, through the core
 * API on an in-memory image (no FUSE, no process start-up). Run from the
 * repo root after `pnpm exec tsc -b`:
 *
 *   node bench/core/inode.ts [--files 20000] [--rounds 5] [--only read,write] [--work DIR]
 *
 * Read rows (an mke2fs -d image with a FILES-entry directory /big, cached in
 * WORK): readInode of every inode of /big, readdir of /big, lookup of every
 * name (htree), and `ls -l` as ext4-debug does it (raw listing + one
 * readInode per entry). Write rows (a writable copy of the image in memory,
 * journal on): create, stat (lookup + readInode), rename and unlink of
 * FILES files in one directory; mkdir/create, walk and removal of a
 * 5,000-file tree. Each row is the best of ROUNDS rounds, per operation.
 * The machine is shared: compare before/after in the same conditions.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  dirBlockInfo,
  Filesystem,
  iterateDirectory,
  lookupEntry,
  resolvePath,
} from "../../packages/core/dist/index.js";
import { MemoryDevice } from "../../packages/iocache/dist/index.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const FILES = Number(arg("files", "20000"));
const ROUNDS = Number(arg("rounds", "5"));
const ONLY = new Set(arg("only", "read,write").split(","));
const WORK = arg("work", "/var/tmp/ext4-core-bench");
const TREE_FILES = 5000;

/** The image: /big with FILES empty files, mke2fs defaults (metadata_csum, dir_index, journal). */
function image(): Uint8Array {
  const img = join(WORK, `core-${FILES}.img`);
  if (!existsSync(img)) {
    mkdirSync(WORK, { recursive: true });
    const tree = join(WORK, "tree");
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(join(tree, "big"), { recursive: true });
    for (let i = 1; i <= FILES; i++) {
      writeFileSync(join(tree, "big", `entry-${String(i).padStart(6, "0")}`), "");
    }
    execFileSync("mke2fs", [
      "-q",
      "-F",
      "-t",
      "ext4",
      "-N",
      String(FILES * 3 + 20000),
      "-d",
      tree,
      img,
      "512M",
    ]);
    rmSync(tree, { recursive: true, force: true });
  }
  return new Uint8Array(readFileSync(img));
}

/** Runs `fn` ROUNDS times; prints the best time per operation. */
function row(name: string, ops: number, fn: (round: number) => void): void {
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    fn(r);
    best = Math.min(best, performance.now() - t0);
  }
  const per = (best * 1000) / ops;
  console.log(
    `${name.padEnd(34)} ${best.toFixed(1).padStart(9)} ms  ${per.toFixed(2).padStart(8)} µs/op  (${ops} ops, best of ${ROUNDS})`,
  );
}

const bytes = image();
console.log(`core bench: ${FILES} files, node ${process.version}`);

if (ONLY.has("read")) {
  const fs = Filesystem.open(new MemoryDevice(bytes, { readOnly: true }));
  const big = fs.readInode(resolvePath(fs, "/big").ino);
  const entries = [...iterateDirectory(fs, big, { includeDots: false })];
  const inos = entries.map((e) => e.ino);
  const names = entries.map((e) => e.name);
  let sink = 0;
  row("readInode (warm cache)", inos.length, () => {
    for (const ino of inos) sink += fs.readInode(ino).fields.mode;
  });
  row("readdir /big", entries.length, () => {
    for (const e of iterateDirectory(fs, big)) sink += e.ino;
  });
  // mke2fs -d leaves /big unindexed (as e2fsprogs' populate does): every
  // lookup scans the blocks, so only every 20th name is looked up.
  const sample = names.filter((_, i) => i % 20 === 0);
  const indexed = (big.flags & 0x1000) !== 0;
  row(`lookup, 1 name in 20 (${indexed ? "htree" : "linear"})`, sample.length, () => {
    for (const n of sample) sink += lookupEntry(fs, big, n)?.ino ?? 0;
  });
  // What ext4-debug's ls -l reads of each inode (commands/ls.ts).
  row("ls -l /big (listing + readInode)", entries.length, () => {
    const listing = dirBlockInfo(fs, big);
    for (const b of listing.blocks) {
      for (const e of b.entries) {
        if (e.kind === "deleted") continue;
        const inode = fs.readInode(e.inode);
        sink += inode.mode + inode.uid + inode.gid + inode.size + inode.mtime.sec;
      }
    }
  });
  row("readInode, cold cache (fresh open)", inos.length, () => {
    const cold = Filesystem.open(new MemoryDevice(bytes, { readOnly: true }));
    for (const ino of inos) sink += cold.readInode(ino).fields.mode;
  });
  if (sink === 42) console.log("");
}

if (ONLY.has("write")) {
  const opts = { mode: 0o644, uid: 0, gid: 0 };
  const names = Array.from({ length: FILES }, (_, i) => `file-${i}`);
  const renamed = names.map((n) => `${n}.moved`);
  // Each round starts from a fresh copy of the image, so rounds are alike.
  const rounds: Array<Record<string, number>> = [];
  for (let r = 0; r < ROUNDS; r++) {
    const fs = Filesystem.open(new MemoryDevice(bytes.slice()), { writable: true });
    const times: Record<string, number> = {};
    const time = (name: string, fn: () => void): void => {
      const t0 = performance.now();
      fn();
      times[name] = performance.now() - t0;
    };
    const dir = fs.mkdir(2, "w", { mode: 0o755, uid: 0, gid: 0 }).ino;
    time("create", () => {
      for (const n of names) fs.create(dir, n, opts);
    });
    time("stat (lookup + readInode)", () => {
      for (const n of names) {
        const e = lookupEntry(fs, fs.readInode(dir), n);
        if (e === null) throw new Error(`lost ${n}`);
        fs.readInode(e.ino);
      }
    });
    time("rename", () => {
      for (let i = 0; i < FILES; i++) fs.rename(dir, names[i]!, dir, renamed[i]!);
    });
    time("unlink", () => {
      for (const n of renamed) fs.unlink(dir, n);
    });
    // The tree: 50 × 10 directories, TREE_FILES files (the fuse4fs untar/walk/rm rows).
    const tree: Array<{ ino: number; files: string[] }> = [];
    time("tree: mkdir + create", () => {
      const top = fs.mkdir(2, "tree", { mode: 0o755, uid: 0, gid: 0 }).ino;
      for (let a = 0; a < 50; a++) {
        const d = fs.mkdir(top, `d${a}`, { mode: 0o755, uid: 0, gid: 0 }).ino;
        for (let b = 0; b < 10; b++) {
          const e = fs.mkdir(d, `e${b}`, { mode: 0o755, uid: 0, gid: 0 }).ino;
          const files: string[] = [];
          for (let k = 0; k < TREE_FILES / 500; k++) {
            const n = `f${k}`;
            fs.create(e, n, opts);
            files.push(n);
          }
          tree.push({ ino: e, files });
        }
      }
    });
    time("tree: walk (readdir + readInode)", () => {
      const walk = (ino: number): void => {
        for (const e of iterateDirectory(fs, fs.readInode(ino), { includeDots: false })) {
          const child = fs.readInode(e.ino);
          if (child.isDirectory()) walk(e.ino);
        }
      };
      walk(resolvePath(fs, "/tree").ino);
    });
    time("tree: rm -rf", () => {
      for (const t of tree) for (const n of t.files) fs.unlink(t.ino, n);
      for (let a = 0; a < 50; a++) {
        const d = resolvePath(fs, `/tree/d${a}`).ino;
        for (let b = 0; b < 10; b++) fs.rmdir(d, `e${b}`);
        fs.rmdir(resolvePath(fs, "/tree").ino, `d${a}`);
      }
      fs.rmdir(2, "tree");
    });
    time("commit + close", () => fs.close());
    rounds.push(times);
  }
  const ops: Record<string, number> = {
    create: FILES,
    "stat (lookup + readInode)": FILES,
    rename: FILES,
    unlink: FILES,
    "tree: mkdir + create": TREE_FILES + 551,
    "tree: walk (readdir + readInode)": TREE_FILES + 550,
    "tree: rm -rf": TREE_FILES + 551,
    "commit + close": 1,
  };
  for (const [name, n] of Object.entries(ops)) {
    const best = Math.min(...rounds.map((t) => t[name] ?? Number.POSITIVE_INFINITY));
    const per = (best * 1000) / n;
    console.log(
      `${name.padEnd(34)} ${best.toFixed(1).padStart(9)} ms  ${per.toFixed(2).padStart(8)} µs/op  (${n} ops, best of ${ROUNDS})`,
    );
  }
}
