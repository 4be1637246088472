/**
 * Model-based test of the whole write path: random sequences of namespace,
 * data and attribute operations run against the core on a fresh mke2fs
 * image and against a simple in-memory model, for every feature set of
 * the matrix. Every operation's outcome (the error kind, or the change) is
 * compared; after each sequence the core's reads are compared with the
 * model, then the image must pass `e2fsck -fn` and the kernel, mounting it
 * read-only, must show the same tree, contents, modes, owners, times,
 * link counts and xattrs — and the same statfs figures as the core.
 *
 * EXT4_SOAK=1 runs many more and longer sequences; EXT4_SHRINK=1 lets
 * fast-check shrink a failure (slow: every run mounts the image).
 */
import { rmSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Ext4Error } from "../errors.js";
import {
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_USER,
  ACL_USER_OBJ,
  encodePosixAclXattr,
} from "../format/acl.js";
import type { Timestamp } from "../format/inode.js";
import type { Filesystem } from "../fs.js";
import { pseudoRandom } from "../test-support/fixtures.js";
import { e2fsck } from "../test-support/mkfs.js";
import {
  freshImage,
  kernelView,
  openReadOnly,
  openWritable,
  WRITE_MATRIX,
  type WriteKind,
} from "../test-support/rw.js";
import { EXT4_EXTRA_TIMESTAMP_MAX } from "./engine.js";
import { FALLOC } from "./file.js";
import { RENAME } from "./namespace.js";
import {
  bytes,
  checkCore,
  checkKernel,
  ERRORS,
  expectOutcome,
  type MKind,
  type MNode,
  Model,
} from "./test-support/model.js";

const SOAK = process.env.EXT4_SOAK === "1";
const RUNS = Number(process.env.EXT4_RUNS ?? (SOAK ? 60 : 10));
const OPS = SOAK ? 600 : 260;

const NAMES = [
  "a",
  "b",
  "c",
  "d",
  "e",
  "f",
  "dir",
  "file",
  "x".repeat(255),
  "y".repeat(256),
  "a b",
  "é",
];
const XNAMES = ["user.a", "user.b", "trusted.t", "security.s", "system.posix_acl_access"];

const nat = (max: number) => fc.nat({ max });
const op = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("create" as const),
      dir: nat(1e6),
      name: nat(1e6),
      mode: nat(0o777),
      uid: nat(3),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("mkdir" as const),
      dir: nat(1e6),
      name: nat(1e6),
      mode: nat(0o777),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      t: fc.constant("write" as const),
      file: nat(1e6),
      where: nat(4),
      off: nat(1_500_000),
      len: fc.oneof(nat(100), nat(5000), nat(70_000)),
      seed: nat(1e6),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("truncate" as const),
      file: nat(1e6),
      size: fc.oneof(nat(100), nat(1_500_000)),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("fallocate" as const),
      file: nat(1e6),
      mode: fc.constantFrom(
        0,
        FALLOC.KEEP_SIZE,
        FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE,
        FALLOC.ZERO_RANGE,
        FALLOC.ZERO_RANGE | FALLOC.KEEP_SIZE,
      ),
      off: nat(1_200_000),
      len: fc.integer({ min: 1, max: 300_000 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("unlink" as const),
      pick: nat(1e6),
      name: nat(1e6),
      existing: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("rmdir" as const),
      pick: nat(1e6),
      name: nat(1e6),
      existing: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("rename" as const),
      pick: nat(1e6),
      dst: nat(1e6),
      name: nat(1e6),
      existing: fc.boolean(),
      flags: fc.constantFrom(0, 0, RENAME.NOREPLACE, RENAME.EXCHANGE),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("link" as const),
      file: nat(1e6),
      dir: nat(1e6),
      name: nat(1e6),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("symlink" as const),
      dir: nat(1e6),
      name: nat(1e6),
      len: nat(300),
      seed: nat(1e6),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("mknod" as const),
      dir: nat(1e6),
      name: nat(1e6),
      kind: fc.constantFrom<MKind>("chr", "blk", "fifo", "sock"),
      major: nat(300),
      minor: nat(3000),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("setattr" as const),
      pick: nat(1e6),
      mode: fc.option(nat(0o7777)),
      uid: fc.option(nat(70_000)),
      gid: fc.option(nat(70_000)),
      atime: fc.option(
        fc.oneof(
          fc.constant("now" as const),
          fc.record({ sec: fc.integer({ min: -(2 ** 31), max: 2 ** 33 }), nsec: nat(999_999_999) }),
        ),
      ),
      mtime: fc.option(
        fc.oneof(
          fc.constant("now" as const),
          fc.record({ sec: fc.integer({ min: -(2 ** 31), max: 2 ** 33 }), nsec: nat(999_999_999) }),
        ),
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("setxattr" as const),
      pick: nat(1e6),
      name: nat(3),
      len: nat(150),
      seed: nat(1e6),
      flags: fc.constantFrom(0, 0, 1, 2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("removexattr" as const), pick: nat(1e6), name: nat(4) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ t: fc.constant("acl" as const), pick: nat(1e6), uid: nat(5000) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("copy" as const),
      src: nat(1e6),
      dst: nat(1e6),
      srcOff: fc.oneof(nat(100), nat(200_000)),
      dstOff: fc.oneof(nat(100), nat(1_200_000)),
      len: fc.oneof(nat(5000), nat(300_000)),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("open" as const), file: nat(1e6) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("close" as const), file: nat(1e6) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("bulk" as const),
      dir: nat(1e6),
      count: fc.integer({ min: 20, max: 400 }),
    }),
  },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

const pick = <T>(list: readonly T[], i: number): T | undefined =>
  list.length === 0 ? undefined : list[i % list.length];
const nameOf = (i: number): string => NAMES[i % NAMES.length] as string;
const TOO_LONG = (s: string): boolean => bytes(s).length > 255;

function resize(data: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(data.subarray(0, Math.min(size, data.length)));
  return out;
}

class Runner {
  private bulkCounter = 0;
  noSpace = 0;
  constructor(
    readonly fs: Filesystem,
    readonly m: Model,
    readonly extents: boolean,
    readonly ns: boolean,
  ) {}

  /** Runs a core call expected to succeed; NoSpace is accepted (counted) and reported as false. */
  private tryRun(fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      if (e instanceof Ext4Error && e.kind === "NoSpace") {
        this.noSpace++;
        return false;
      }
      throw e;
    }
  }

  /** Takes the core's view of a file after an operation that failed part way (NoSpace). */
  private resync(n: MNode): void {
    const i = this.fs.readInode(n.ino);
    n.data = this.fs.readFile(i, 0, i.size);
    n.mtime = i.mtime;
    n.ctime = i.ctime;
  }

  apply(o: Op, T: Timestamp): void {
    const { fs, m } = this;
    const dirs = m.dirs();
    switch (o.t) {
      case "create":
      case "mkdir":
      case "symlink":
      case "mknod": {
        // OK to assert: the root always exists.
        const dir = pick(dirs, o.dir)!;
        const name = nameOf(o.name);
        const expected = TOO_LONG(name) ? "NameTooLong" : dir.entries.has(name) ? "Exists" : null;
        let created: { ino: number } | null = null;
        let kind: MKind = "file";
        let mode = 0o644;
        const target = o.t === "symlink" ? pseudoAscii(1 + o.len, o.seed) : new Uint8Array(0);
        const run = (): void => {
          if (o.t === "create") {
            mode = o.mode;
            created = fs.create(dir.ino, name, { mode, uid: o.uid, gid: o.uid });
          } else if (o.t === "mkdir") {
            kind = "dir";
            mode = o.mode;
            created = fs.mkdir(dir.ino, name, { mode, uid: 0, gid: 0 });
          } else if (o.t === "symlink") {
            kind = "symlink";
            mode = 0o777;
            created = fs.symlink(dir.ino, name, target, { uid: 1, gid: 1 });
          } else {
            kind = o.kind;
            mode = 0o640;
            const type = { chr: 0o020000, blk: 0o060000, fifo: 0o010000, sock: 0o140000 }[
              o.kind as "chr"
            ];
            created = fs.mknod(
              dir.ino,
              name,
              type | mode,
              { major: o.major, minor: o.minor },
              { uid: 2, gid: 2 },
            );
          }
        };
        if (expected !== null) {
          expectOutcome(expected, run, `${o.t} ${name}`);
          return;
        }
        if (!this.tryRun(run) || created === null) return;
        const owner = o.t === "create" ? o.uid : o.t === "symlink" ? 1 : o.t === "mknod" ? 2 : 0;
        // A setgid directory hands its group down, and its setgid bit to subdirectories.
        const sgid = (dir.mode & 0o2000) !== 0;
        if (sgid && (kind as MKind) === "dir") mode |= 0o2000;
        const n = m.add(
          (created as { ino: number }).ino,
          kind,
          mode & 0o7777,
          owner,
          sgid ? dir.gid : owner,
          T,
          dir.ino,
        );
        if (o.t === "symlink") n.target = target;
        if (o.t === "mknod" && (o.kind === "chr" || o.kind === "blk"))
          n.rdev = { major: o.major, minor: o.minor };
        dir.entries.set(name, n.ino);
        dir.mtime = T;
        dir.ctime = T;
        return;
      }
      case "bulk": {
        // OK to assert: the root always exists.
        const dir = pick(dirs, o.dir)!;
        for (let i = 0; i < o.count; i++) {
          const name = `n${this.bulkCounter++}`;
          let ino = 0;
          if (
            !this.tryRun(() => {
              ino = fs.create(dir.ino, name, { mode: 0o600, uid: 0, gid: 0 }).ino;
            })
          )
            return;
          const n = m.add(
            ino,
            "file",
            0o600,
            0,
            (dir.mode & 0o2000) !== 0 ? dir.gid : 0,
            T,
            dir.ino,
          );
          dir.entries.set(name, n.ino);
          dir.mtime = T;
          dir.ctime = T;
        }
        return;
      }
      case "write": {
        const f = pick(m.files(), o.file);
        if (f === undefined) return;
        const size = f.data.length;
        const offset = [0, size, size + (o.off % 70_000), o.off % (size + 1), o.off][
          o.where
        ] as number;
        const data = pseudoRandom(o.len, o.seed);
        let written = 0;
        if (
          !this.tryRun(() => {
            written = fs.writeFile(f.ino, offset, data).written;
          })
        )
          return;
        expect(written === o.len || written === 0 || this.fs.statfs().bfree < 64).toBe(true);
        if (written > 0) {
          const next = resize(f.data, Math.max(size, offset + written));
          next.set(data.subarray(0, written), offset);
          f.data = next;
          f.mtime = T;
          f.ctime = T;
        }
        return;
      }
      case "truncate": {
        const f = pick(m.files(), o.file);
        if (f === undefined) return;
        if (!this.tryRun(() => fs.truncate(f.ino, o.size))) return;
        f.data = resize(f.data, o.size);
        f.mtime = T;
        f.ctime = T;
        return;
      }
      case "fallocate": {
        const f = pick(m.files(), o.file);
        if (f === undefined) return;
        const punch = (o.mode & FALLOC.PUNCH_HOLE) !== 0;
        const zero = (o.mode & FALLOC.ZERO_RANGE) !== 0;
        const keep = (o.mode & FALLOC.KEEP_SIZE) !== 0;
        if (!this.extents && !punch) {
          expectOutcome(
            "NotSupported",
            () => fs.fallocate(f.ino, o.mode, o.off, o.len),
            "fallocate",
          );
          return;
        }
        let ok = true;
        try {
          fs.fallocate(f.ino, o.mode, o.off, o.len);
        } catch (e) {
          if (!(e instanceof Ext4Error && e.kind === "NoSpace")) throw e;
          this.noSpace++;
          ok = false;
        }
        if (!ok) {
          this.resync(f);
          return;
        }
        const size = f.data.length;
        const end = o.off + o.len;
        if (punch) {
          if (o.off >= size) return;
          f.data = f.data.slice();
          f.data.fill(0, o.off, Math.min(end, size));
          f.mtime = T;
          f.ctime = T;
          return;
        }
        if (!keep && end > size) {
          f.data = resize(f.data, end);
          f.mtime = T;
        }
        if (zero) {
          f.data = f.data.slice();
          f.data.fill(0, o.off, Math.min(end, f.data.length));
          f.mtime = T;
        }
        f.ctime = T;
        return;
      }
      case "unlink":
      case "rmdir": {
        const entries = m.entries();
        const ent = o.existing ? pick(entries, o.pick) : undefined;
        // OK to assert: the root always exists.
        const dir = ent?.dir ?? pick(dirs, o.pick)!;
        const name = ent?.name ?? nameOf(o.name);
        const ino = dir.entries.get(name);
        const node = ino === undefined ? undefined : m.node(ino);
        let expected: string | null = null;
        if (TOO_LONG(name)) expected = o.t === "unlink" ? "NameTooLong" : "NameTooLong";
        else if (node === undefined) expected = "NotFound";
        else if (o.t === "unlink" && node.kind === "dir") expected = "IsADirectory";
        else if (o.t === "rmdir" && node.kind !== "dir") expected = "NotADirectory";
        else if (o.t === "rmdir" && node.entries.size > 0) expected = "NotEmpty";
        if (expected !== null || node === undefined) {
          expectOutcome(
            expected ?? "NotFound",
            () => (o.t === "unlink" ? fs.unlink(dir.ino, name) : fs.rmdir(dir.ino, name)),
            `${o.t} ${name}`,
          );
          return;
        }
        if (o.t === "unlink") fs.unlink(dir.ino, name);
        else fs.rmdir(dir.ino, name);
        dir.entries.delete(name);
        dir.mtime = T;
        dir.ctime = T;
        node.ctime = T;
        m.dropName(node);
        return;
      }
      case "rename": {
        const entries = m.entries();
        const ent = pick(entries, o.pick);
        if (ent === undefined) return;
        // OK to assert: the root always exists.
        const dstDir = pick(dirs, o.dst)!;
        const existingNames = [...dstDir.entries.keys()];
        const dstName =
          o.existing && existingNames.length > 0
            ? (pick(existingNames, o.name) as string)
            : nameOf(o.name);
        const src = ent.node;
        const dstIno = dstDir.entries.get(dstName);
        const dst = dstIno === undefined ? undefined : m.node(dstIno);
        const exchange = o.flags === RENAME.EXCHANGE;
        let expected: string | null = null;
        if (TOO_LONG(dstName)) expected = "NameTooLong";
        else if (dst !== undefined && o.flags === RENAME.NOREPLACE) expected = "Exists";
        else if (exchange && dst === undefined) expected = "NotFound";
        else if (src.kind === "dir" && m.isAncestor(src.ino, dstDir.ino))
          expected = "InvalidArgument";
        else if (
          dst !== undefined &&
          dst.kind === "dir" &&
          dst !== src &&
          m.isAncestor(dst.ino, ent.dir.ino)
        )
          expected = exchange ? "InvalidArgument" : "NotEmpty";
        else if (dst === src) expected = null;
        else if (!exchange && dst !== undefined && src.kind === "dir" && dst.kind !== "dir")
          expected = "NotADirectory";
        else if (!exchange && dst !== undefined && src.kind !== "dir" && dst.kind === "dir")
          expected = "IsADirectory";
        else if (!exchange && dst !== undefined && dst.kind === "dir" && dst.entries.size > 0)
          expected = "NotEmpty";
        const call = (): void => fs.rename(ent.dir.ino, ent.name, dstDir.ino, dstName, o.flags);
        if (expected !== null) {
          expectOutcome(expected, call, `rename ${ent.name} → ${dstName}`);
          return;
        }
        if (dst === src) {
          call();
          return;
        }
        if (!this.tryRun(call)) return;
        for (const d of new Set([ent.dir, dstDir])) {
          d.mtime = T;
          d.ctime = T;
        }
        src.ctime = T;
        if (exchange && dst !== undefined) {
          ent.dir.entries.set(ent.name, dst.ino);
          dstDir.entries.set(dstName, src.ino);
          dst.ctime = T;
          if (src.kind === "dir") src.parent = dstDir.ino;
          if (dst.kind === "dir") dst.parent = ent.dir.ino;
          return;
        }
        ent.dir.entries.delete(ent.name);
        dstDir.entries.set(dstName, src.ino);
        if (src.kind === "dir") src.parent = dstDir.ino;
        if (dst !== undefined) {
          dst.ctime = T;
          m.dropName(dst);
        }
        return;
      }
      case "link": {
        const f = pick(m.files(), o.file);
        // OK to assert: the root always exists.
        const dir = pick(dirs, o.dir)!;
        if (f === undefined) return;
        const name = nameOf(o.name);
        const expected = m.orphans.has(f.ino)
          ? "NotFound"
          : TOO_LONG(name)
            ? "NameTooLong"
            : dir.entries.has(name)
              ? "Exists"
              : null;
        const call = (): void => {
          fs.link(f.ino, dir.ino, name);
        };
        if (expected !== null) {
          expectOutcome(expected, call, `link ${name}`);
          return;
        }
        if (!this.tryRun(call)) return;
        dir.entries.set(name, f.ino);
        dir.mtime = T;
        dir.ctime = T;
        f.names++;
        f.ctime = T;
        return;
      }
      case "setattr": {
        const n = pick(
          [...m.nodes.values()].sort((a, b) => a.ino - b.ino),
          o.pick,
        );
        if (n === undefined) return;
        const changes: Parameters<Filesystem["setattr"]>[1] = {
          ...(o.mode === null ? {} : { mode: o.mode }),
          ...(o.uid === null ? {} : { uid: o.uid }),
          ...(o.gid === null ? {} : { gid: o.gid }),
          ...(o.atime === null ? {} : { atime: o.atime }),
          ...(o.mtime === null ? {} : { mtime: o.mtime }),
        };
        fs.setattr(n.ino, changes);
        if (o.mode !== null) n.mode = o.mode;
        if (o.uid !== null) n.uid = o.uid;
        if (o.gid !== null) n.gid = o.gid;
        // The inode holds 32-bit seconds without extra fields, 34 bits with them.
        const max = this.ns ? EXT4_EXTRA_TIMESTAMP_MAX : 2 ** 31 - 1;
        const clamp = (t: Timestamp): Timestamp => ({ sec: Math.min(max, t.sec), nsec: t.nsec });
        if (o.atime !== null) n.atime = o.atime === "now" ? T : clamp(o.atime);
        if (o.mtime !== null) n.mtime = o.mtime === "now" ? T : clamp(o.mtime);
        if (Object.keys(changes).length > 0) n.ctime = T;
        return;
      }
      case "setxattr":
      case "removexattr":
      case "acl": {
        const n = pick(
          [...m.nodes.values()].sort((a, b) => a.ino - b.ino),
          o.pick,
        );
        if (n === undefined) return;
        const name =
          o.t === "acl" ? "system.posix_acl_access" : (XNAMES[o.name % XNAMES.length] as string);
        const exists = n.xattrs.has(name);
        const special = n.kind !== "file" && n.kind !== "dir";
        let value: Uint8Array | null = null;
        let flags = 0;
        let expected: string | null = null;
        if (o.t === "removexattr") {
          if (name === "system.posix_acl_access" && n.kind === "symlink") expected = "NotSupported";
          else if (special && name.startsWith("user.")) expected = "Permission";
          else if (!exists) expected = "NoData";
        } else if (o.t === "acl") {
          value = encodePosixAclXattr([
            { tag: ACL_USER_OBJ, perm: 6 },
            { tag: ACL_USER, perm: 4, id: o.uid },
            { tag: ACL_GROUP_OBJ, perm: 4 },
            { tag: ACL_MASK, perm: 4 },
            { tag: ACL_OTHER, perm: 0 },
          ]);
          if (n.kind === "symlink") expected = "NotSupported";
        } else {
          value = pseudoRandom(o.len, o.seed);
          flags = o.flags;
          if (special && name.startsWith("user.")) expected = "Permission";
          else if (flags === 1 && exists) expected = "Exists";
          else if (flags === 2 && !exists) expected = "NoData";
        }
        const call = (): void => {
          if (value === null) fs.removeXattr(n.ino, name);
          else fs.setXattr(n.ino, name, value, flags);
        };
        if (expected !== null) {
          expectOutcome(expected, call, `${o.t} ${name} on ${n.kind}`);
          return;
        }
        if (!this.tryRun(call)) return;
        if (value === null) n.xattrs.delete(name);
        else n.xattrs.set(name, value);
        n.ctime = T;
        return;
      }
      case "copy": {
        const files = m.files();
        const src = pick(files, o.src);
        const dst = pick(files, o.dst);
        if (src === undefined || dst === undefined) return;
        const n = Math.max(0, Math.min(o.len, src.data.length - o.srcOff));
        const overlap = src === dst && n > 0 && o.srcOff < o.dstOff + n && o.dstOff < o.srcOff + n;
        const call = (): number => fs.copyRange(src.ino, o.srcOff, dst.ino, o.dstOff, o.len);
        if (overlap) {
          expectOutcome("InvalidArgument", call, "copy overlapping");
          return;
        }
        let copied = 0;
        if (
          !this.tryRun(() => {
            copied = call();
          })
        ) {
          this.resync(dst);
          return;
        }
        if (copied < n) {
          this.resync(dst);
          return;
        }
        expect(copied).toBe(n);
        if (n === 0) return;
        const next = resize(dst.data, Math.max(dst.data.length, o.dstOff + n));
        next.set(src.data.subarray(o.srcOff, o.srcOff + n), o.dstOff);
        dst.data = next;
        dst.mtime = T;
        dst.ctime = T;
        return;
      }
      case "open": {
        const f = pick(m.files(), o.file);
        if (f === undefined) return;
        fs.acquire(f.ino);
        f.open++;
        return;
      }
      case "close": {
        const f = pick(
          m.files().filter((x) => x.open > 0),
          o.file,
        );
        if (f === undefined) return;
        fs.release(f.ino);
        f.open--;
        if (f.open === 0 && m.orphans.has(f.ino)) {
          m.orphans.delete(f.ino);
          m.nodes.delete(f.ino);
        }
        return;
      }
    }
  }
}

/** Printable bytes for symlink targets (no NUL). */
function pseudoAscii(length: number, seed: number): Uint8Array {
  return pseudoRandom(length, seed).map((b) => 0x21 + (b % 90));
}

/** A seeded random source for the engine (i_generation, Orlov spreading). */
function seeded(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const STATS = new Map<string, number>();

function runSequence(
  kind: WriteKind,
  ops: readonly Op[],
  seed: number,
  extra: string[] = [],
): void {
  const image = freshImage(kind, 64 << 20, extra);
  let passed = false;
  let k = 0;
  let T: Timestamp = { sec: 1_700_000_000, nsec: 0 };
  const fs = openWritable(image, { clock: () => T, random: seeded(seed) });
  let closed = false;
  try {
    const m = new Model(fs);
    const ns = fs.superblock.inodeSize > 128;
    const r = new Runner(fs, m, fs.hasFeature("extent"), ns);
    for (const o of ops) {
      k++;
      T = { sec: 1_700_000_000 + k * 10, nsec: (k * 7919 * 1000 + 1) % 1_000_000_000 };
      try {
        r.apply(o, T);
        STATS.set(o.t, (STATS.get(o.t) ?? 0) + 1);
      } catch (e) {
        throw new Error(
          `op #${k} ${JSON.stringify(o)}: ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      }
    }
    checkCore(fs, m, ns);
    if (process.env.EXT4_STATS === "1") {
      let inline = 0;
      let indexed = 0;
      let depth = 0;
      for (const n of m.nodes.values()) {
        const i = fs.readInode(n.ino);
        if (i.hasInlineData()) inline++;
        if ((i.flags & 0x1000) !== 0) indexed++;
        const t = fs.extentTree(i);
        if (t !== null) depth = Math.max(depth, t.depth);
      }
      console.log(
        kind,
        JSON.stringify(Object.fromEntries(STATS)),
        `errors ${JSON.stringify(Object.fromEntries(ERRORS))} noSpace ${r.noSpace} inline ${inline} htree ${indexed} depth ${depth} nodes ${m.nodes.size}`,
      );
    }
    // Unlinked files still open are deleted by close(), like a final release.
    for (const ino of m.orphans) m.nodes.delete(ino);
    m.orphans.clear();
    fs.close();
    closed = true;
    const check = e2fsck(image);
    expect(check.status, check.output).toBe(0);
    const view = kernelView(image);
    checkKernel(view, m, ns);
    const ro = openReadOnly(image);
    try {
      const st = ro.statfs();
      expect({
        blocks: st.blocks,
        bfree: st.bfree,
        bavail: st.bavail,
        files: st.files,
        ffree: st.ffree,
      }).toEqual({
        blocks: view.statfs.blocks,
        bfree: view.statfs.bfree,
        bavail: view.statfs.bavail,
        files: view.statfs.files,
        ffree: view.statfs.ffree,
      });
    } finally {
      ro.close();
    }
    passed = true;
  } finally {
    if (!closed) fs.close();
    // A soak makes thousands of images: a passing sequence's goes, a failing one's stays.
    if (passed) rmSync(image);
  }
}

/** Runs the property for one image kind (plus extra mke2fs options) and reports a failure briefly. */
function check(kind: WriteKind, extra: string[], runs: number): void {
  const out = fc.check(
    fc.property(fc.array(op, { minLength: OPS / 2, maxLength: OPS }), fc.nat(), (ops, seed) => {
      runSequence(kind, ops, seed, extra);
    }),
    {
      numRuns: runs,
      endOnFailure: process.env.EXT4_SHRINK !== "1",
      ...(process.env.EXT4_SEED === undefined ? {} : { seed: Number(process.env.EXT4_SEED) }),
    },
  );
  if (out.failed) {
    // The counterexample is long: report the replay seed and the failure, and the ops only when asked.
    const ops = process.env.EXT4_SHOW_OPS === "1" ? `\n${JSON.stringify(out.counterexample)}` : "";
    throw new Error(
      `seed ${out.seed} path ${out.counterexamplePath}: ${String((out.errorInstance as Error)?.stack ?? out.errorInstance)}${ops}`,
    );
  }
}

describe.each(Object.keys(WRITE_MATRIX) as WriteKind[])(
  "the write path on %s against a model",
  (kind) => {
    it(
      "random operation sequences read back the same through the core, e2fsck and the kernel",
      () => check(kind, [], RUNS),
      SOAK ? 3_600_000 : 300_000,
    );
  },
);

/** Less common layouts: fewer sequences each. */
const VARIANTS: ReadonlyArray<readonly [string, WriteKind, string[]]> = [
  ["csum_seed", "ext4", ["-O", "metadata_csum_seed"]],
  ["meta_bg", "ext4-1k", ["-O", "meta_bg,^resize_inode"]],
  ["no flex_bg, many groups", "ext4-1k", ["-O", "^flex_bg", "-g", "2048"]],
  ["no extents", "ext4-no64", ["-O", "^extent"]],
  ["sparse_super2", "ext4", ["-O", "sparse_super2"]],
  ["orphan_file", "ext4", ["-O", "orphan_file"]],
  ["128-byte inodes", "ext4-1k", ["-I", "128"]],
  ["large_dir", "ext4-1k", ["-O", "large_dir"]],
];

describe.each(VARIANTS)("the write path with %s against a model", (_name, kind, extra) => {
  it(
    "random operation sequences read back the same through the core, e2fsck and the kernel",
    () => check(kind, extra, Math.max(1, Math.floor(RUNS / 3))),
    SOAK ? 3_600_000 : 300_000,
  );
});
