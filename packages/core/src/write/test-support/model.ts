/**
 * A simple in-memory model of a POSIX filesystem tree for the model-based
 * write tests: nodes (files, directories, symlinks, special files) with
 * modes, owners, times, xattrs and link counts; operations that predict
 * the error kind the core must give (or apply the change); and checks of
 * the core (read back through the Filesystem) and of the kernel's view of
 * the image against it.
 */
import { expect } from "vitest";
import { readDirectory } from "../../dir/read.js";
import { isExt4Error } from "../../errors.js";
import type { Timestamp } from "../../format/inode.js";
import type { Filesystem } from "../../fs.js";
import type { KernelView } from "../../test-support/rw.js";
import { sha256 } from "../../test-support/rw.js";

/** Node kinds as the kernel walk names them. */
export type MKind = "file" | "dir" | "symlink" | "chr" | "blk" | "fifo" | "sock";

/** One inode of the model. */
export interface MNode {
  readonly ino: number;
  readonly kind: MKind;
  mode: number;
  uid: number;
  gid: number;
  atime: Timestamp;
  mtime: Timestamp;
  ctime: Timestamp;
  data: Uint8Array;
  target: Uint8Array;
  rdev: { major: number; minor: number };
  readonly entries: Map<string, number>;
  readonly xattrs: Map<string, Uint8Array>;
  /** Names pointing at it (files) / its parent (directories). */
  names: number;
  parent: number;
  open: number;
}

const enc = new TextEncoder();

/** The model tree. */
export class Model {
  readonly nodes = new Map<number, MNode>();
  /** Unlinked nodes still held open. */
  readonly orphans = new Set<number>();

  /** Loads root and lost+found (and anything else already there) from the core. */
  constructor(fs: Filesystem) {
    const visit = (ino: number, parent: number): void => {
      const i = fs.readInode(ino);
      const node: MNode = {
        ino,
        kind: i.isDirectory() ? "dir" : "file",
        mode: i.mode & 0o7777,
        uid: i.uid,
        gid: i.gid,
        atime: i.atime,
        mtime: i.mtime,
        ctime: i.ctime,
        data: new Uint8Array(0),
        target: new Uint8Array(0),
        rdev: { major: 0, minor: 0 },
        entries: new Map(),
        xattrs: new Map(),
        names: 1,
        parent,
        open: 0,
      };
      this.nodes.set(ino, node);
      if (i.isDirectory()) {
        for (const d of readDirectory(fs, i)) {
          const name = new TextDecoder().decode(d.name);
          if (name === "." || name === "..") continue;
          node.entries.set(name, d.ino);
          visit(d.ino, ino);
        }
      }
    };
    visit(2, 2);
  }

  /** The node `ino`. */
  node(ino: number): MNode {
    const n = this.nodes.get(ino);
    if (n === undefined) throw new Error(`model has no inode ${ino}`);
    return n;
  }

  /** Live directories, in inode order. */
  dirs(): MNode[] {
    return [...this.nodes.values()].filter((n) => n.kind === "dir").sort((a, b) => a.ino - b.ino);
  }

  /** Regular files, linked or open, in inode order. */
  files(): MNode[] {
    return [...this.nodes.values()].filter((n) => n.kind === "file").sort((a, b) => a.ino - b.ino);
  }

  /** Every (directory, name) pair, in a stable order. */
  entries(): Array<{ dir: MNode; name: string; node: MNode }> {
    const out: Array<{ dir: MNode; name: string; node: MNode }> = [];
    for (const d of this.dirs()) {
      for (const [name, ino] of [...d.entries].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        out.push({ dir: d, name, node: this.node(ino) });
      }
    }
    return out;
  }

  /** A directory's link count: 2 plus its subdirectories. */
  nlink(n: MNode): number {
    if (n.kind !== "dir") return n.names;
    let subdirs = 0;
    for (const ino of n.entries.values()) if (this.node(ino).kind === "dir") subdirs++;
    return 2 + subdirs;
  }

  /** True when directory `a` is `b` or an ancestor of it. */
  isAncestor(a: number, b: number): boolean {
    let cur = b;
    for (let i = 0; i < 10_000; i++) {
      if (cur === a) return true;
      if (cur === 2) return false;
      cur = this.node(cur).parent;
    }
    return false;
  }

  /** Drops one name of `n`; the node leaves the model when nothing holds it. */
  dropName(n: MNode): void {
    n.names = Math.max(0, n.names - 1);
    if (n.kind === "dir") n.names = 0;
    if (n.names === 0) {
      if (n.open > 0) this.orphans.add(n.ino);
      else this.nodes.delete(n.ino);
    }
  }

  /** A new node. */
  add(
    ino: number,
    kind: MKind,
    mode: number,
    uid: number,
    gid: number,
    t: Timestamp,
    parent: number,
  ): MNode {
    const n: MNode = {
      ino,
      kind,
      mode,
      uid,
      gid,
      atime: t,
      mtime: t,
      ctime: t,
      data: new Uint8Array(0),
      target: new Uint8Array(0),
      rdev: { major: 0, minor: 0 },
      entries: new Map(),
      xattrs: new Map(),
      names: 1,
      parent,
      open: 0,
    };
    this.nodes.set(ino, n);
    return n;
  }

  /** Absolute paths of every linked node (hard links give several). */
  paths(): Map<string, MNode> {
    const out = new Map<string, MNode>();
    const walk = (n: MNode, path: string): void => {
      out.set(path, n);
      if (n.kind !== "dir") return;
      for (const [name, ino] of n.entries)
        walk(this.node(ino), `${path === "/" ? "" : path}/${name}`);
    };
    walk(this.node(2), "/");
    return out;
  }
}

/** Error kinds met as predicted (statistics for EXT4_STATS). */
export const ERRORS = new Map<string, number>();

/** Runs `fn` against the core expecting the error kind `expected` (or success when null). */
export function expectOutcome<T>(expected: string | null, fn: () => T, what: string): T | null {
  if (expected === null) return fn();
  try {
    fn();
  } catch (e) {
    if (isExt4Error(e)) {
      expect(e.kind, `${what}: ${e.message}`).toBe(expected);
      ERRORS.set(expected, (ERRORS.get(expected) ?? 0) + 1);
      return null;
    }
    throw e;
  }
  throw new Error(`${what}: expected ${expected}, but it succeeded`);
}

const sameTime = (a: Timestamp, b: Timestamp, ns: boolean): boolean =>
  a.sec === b.sec && (!ns || a.nsec === b.nsec);

/** Checks everything the core reads back against the model. */
export function checkCore(fs: Filesystem, m: Model, ns: boolean): void {
  for (const n of m.nodes.values()) {
    const i = fs.readInode(n.ino);
    const where = `inode ${n.ino} (${n.kind})`;
    expect(i.mode & 0o7777, where).toBe(n.mode);
    expect([i.uid, i.gid], where).toEqual([n.uid, n.gid]);
    expect(i.linksCount, where).toBe(m.orphans.has(n.ino) ? 0 : m.nlink(n));
    expect(sameTime(i.mtime, n.mtime, ns), `${where} mtime`).toBe(true);
    expect(sameTime(i.ctime, n.ctime, ns), `${where} ctime`).toBe(true);
    expect(sameTime(i.atime, n.atime, ns), `${where} atime`).toBe(true);
    if (n.kind === "file") {
      expect(i.size, where).toBe(n.data.length);
      expect(sha256(fs.readFile(i, 0, i.size)), where).toBe(sha256(n.data));
    }
    if (n.kind === "symlink") expect(fs.readLinkBytes(i), where).toEqual(n.target);
    if (n.kind === "chr" || n.kind === "blk") expect(i.deviceNumber(), where).toEqual(n.rdev);
    if (n.kind === "dir") {
      const names = readDirectory(fs, i)
        .map((d) => new TextDecoder().decode(d.name))
        .filter((x) => x !== "." && x !== "..")
        .sort();
      expect(names, where).toEqual([...n.entries.keys()].sort());
    }
    const xs = new Map<string, string>();
    for (const name of fs.listXattrNames(n.ino))
      xs.set(name, Buffer.from(fs.readXattr(n.ino, name)).toString("hex"));
    const want = new Map([...n.xattrs].map(([k, v]) => [k, Buffer.from(v).toString("hex")]));
    expect(xs, where).toEqual(want);
  }
}

const tsNs = (t: Timestamp, ns: boolean): string =>
  (BigInt(t.sec) * 1_000_000_000n + BigInt(ns ? t.nsec : 0)).toString();

/** Checks the kernel's view of the image against the model (linked nodes only). */
export function checkKernel(view: KernelView, m: Model, ns: boolean): void {
  const paths = m.paths();
  const seen = Object.keys(view.tree).sort();
  expect(seen).toEqual([...paths.keys()].sort());
  for (const [path, n] of paths) {
    // OK to assert: the key sets are equal.
    const k = view.tree[path]!;
    expect(k.type, path).toBe(n.kind);
    expect(k.ino, path).toBe(n.ino);
    expect(k.mode, path).toBe(n.mode);
    expect([k.uid, k.gid], path).toEqual([n.uid, n.gid]);
    expect(k.nlink, path).toBe(m.nlink(n));
    expect(k.mtimeNs, `${path} mtime`).toBe(tsNs(n.mtime, ns));
    expect(k.ctimeNs, `${path} ctime`).toBe(tsNs(n.ctime, ns));
    expect(k.atimeNs, `${path} atime`).toBe(tsNs(n.atime, ns));
    if (n.kind === "file") {
      expect(k.size, path).toBe(n.data.length);
      expect(k.sha256, path).toBe(sha256(n.data));
    }
    if (n.kind === "symlink") expect(k.target, path).toBe(Buffer.from(n.target).toString("hex"));
    if (n.kind === "chr" || n.kind === "blk") {
      // The kernel's new_encode_dev layout of st_rdev.
      const { major, minor } = n.rdev;
      expect(k.rdev, path).toBe(((major & 0xfff) << 8) | (minor & 0xff) | ((minor & ~0xff) << 12));
    }
    if (n.kind !== "symlink") {
      const want: Record<string, string> = {};
      for (const [name, v] of n.xattrs) want[name] = Buffer.from(v).toString("hex");
      expect(k.xattrs, path).toEqual(want);
    }
  }
}

/** UTF-8 bytes of a string. */
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}
