import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { DirWriteHost } from "../dir/host.js";
import { lookup } from "../dir/read.js";
import { isExt4Error } from "../errors.js";
import {
  ACL_GROUP,
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_USER,
  ACL_USER_OBJ,
  decodePosixAclXattr,
} from "../format/acl.js";
import { InodeFlags } from "../format/inode.js";
import type { Filesystem } from "../fs.js";
import { kernelImages } from "../test-support/kernel.js";
import { e2fsck, mkfs, scratchDir } from "../test-support/mkfs.js";
import {
  expectFsckClean,
  freshImage,
  kernelView,
  openReadOnly,
  openWritable,
} from "../test-support/rw.js";
import { EXT4_EXTRA_TIMESTAMP_MAX } from "./engine.js";
import { EXT4_LINK_MAX, RENAME } from "./namespace.js";
import { kernelOrphanImage } from "./test-support/kernel-rw.js";

const owner = { mode: 0o755, uid: 0, gid: 0 };
const text = (s: string): Uint8Array => new TextEncoder().encode(s);

function expectKind(fn: () => unknown, kind: string, code?: string): void {
  try {
    fn();
  } catch (e) {
    expect(isExt4Error(e) && e.kind).toBe(kind);
    if (code !== undefined && isExt4Error(e)) expect(e.code).toBe(code);
    return;
  }
  throw new Error(`expected ${kind}`);
}

/** Makes directory `d` indexed by filling it past one block. */
function fillDir(fs: Filesystem, d: number, n: number): void {
  for (let i = 0; i < n; i++)
    fs.create(d, `entry-with-a-long-name-${i}`, { mode: 0o644, uid: 0, gid: 0 });
}

describe("link counts", () => {
  it("gives an indexed directory past 65000 subdirectories i_links_count 1 (dir_nlink)", () => {
    const image = freshImage("ext4-1k");
    const fs = openWritable(image);
    const d = fs.mkdir(2, "big", owner);
    fillDir(fs, d.ino, 60);
    expect(fs.readInode(d.ino).flags & InodeFlags.INDEX).not.toBe(0);
    // Pretend 64998 subdirectories exist (the real count would need 65000 inodes).
    fs.updateInode(d.ino, { linksCount: EXT4_LINK_MAX - 1 });
    fs.mkdir(d.ino, "s1", owner);
    expect(fs.readInode(d.ino).linksCount).toBe(EXT4_LINK_MAX);
    fs.mkdir(d.ino, "s2", owner);
    expect(fs.readInode(d.ino).linksCount).toBe(1);
    fs.mkdir(d.ino, "s3", owner);
    expect(fs.readInode(d.ino).linksCount).toBe(1);
    fs.rmdir(d.ino, "s3");
    expect(fs.readInode(d.ino).linksCount).toBe(1);
    fs.close();
  });

  it("refuses a 65001st subdirectory without an index, and a 65001st hard link", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const d = fs.mkdir(2, "small", owner);
    fs.updateInode(d.ino, { linksCount: EXT4_LINK_MAX });
    expectKind(() => fs.mkdir(d.ino, "x", owner), "TooManyLinks");
    const f = fs.create(2, "f", { mode: 0o644, uid: 0, gid: 0 });
    fs.updateInode(f.ino, { linksCount: EXT4_LINK_MAX });
    expectKind(() => fs.link(f.ino, 2, "g"), "TooManyLinks");
    expectKind(() => fs.link(d.ino, 2, "dirlink"), "Permission");
    fs.close();
  });
});

describe("O_TMPFILE", () => {
  it.each([
    ["ext4 (orphan list)", "ext4", []],
    ["ext3 (orphan list)", "ext3", []],
    ["ext4 with orphan_file", "ext4", ["-O", "orphan_file"]],
  ] as const)(
    "a nameless file is linked once, or deleted at its last release (%s)",
    (_n, kind, extra) => {
      const image = freshImage(kind, 32 << 20, [...extra]);
      const fs = openWritable(image);
      const before = fs.readInode(2);
      const freeInodes = fs.statfs().ffree;
      // Linked: gets its name, leaves the orphans, keeps its data.
      const t = fs.createTmpfile(2, { mode: 0o600, uid: 0, gid: 0 });
      expect(t.linksCount).toBe(0);
      expect(
        fs.orphans().list.length + (fs.orphans().file?.blocks.flatMap((b) => b.inodes).length ?? 0),
      ).toBe(1);
      fs.writeFile(t.ino, 0, text("temporary"));
      // The parent does not change until the file is linked.
      expect(fs.readInode(2).mtime).toEqual(before.mtime);
      const named = fs.link(t.ino, 2, "named");
      expect(named.linksCount).toBe(1);
      expect(lookup(fs, fs.readInode(2), "named")).toBe(t.ino);
      expect(fs.orphans().list).toEqual([]);
      fs.release(t.ino);
      expect(fs.readFile(fs.readInode(t.ino), 0, 100)).toEqual(text("temporary"));
      // Once linked it is an ordinary file: unlinked while open, it cannot be linked again.
      fs.acquire(t.ino);
      fs.unlink(2, "named");
      expectKind(() => fs.link(t.ino, 2, "again"), "NotFound", "LINK_DELETED");
      fs.release(t.ino);
      // Never linked: the last release deletes it.
      const u = fs.createTmpfile(2, { mode: 0o600, uid: 0, gid: 0 });
      fs.writeFile(u.ino, 0, new Uint8Array(100_000).fill(5));
      fs.release(u.ino);
      expect(fs.isInodeInUse(u.ino)).toBe(false);
      expect(fs.statfs().ffree).toBe(freeInodes);
      // An ordinary file unlinked while open is not linkable (ext4: no I_LINKABLE).
      const f = fs.create(2, "plain", { mode: 0o644, uid: 0, gid: 0 });
      fs.acquire(f.ino);
      fs.unlink(2, "plain");
      expectKind(() => fs.link(f.ino, 2, "back"), "NotFound", "LINK_DELETED");
      fs.release(f.ino);
      fs.close();
      expectFsckClean(image);
    },
  );

  it("a tmpfile left open at a crash is deleted by the next mount, like e2fsck does", () => {
    const image = freshImage("ext4", 32 << 20);
    const fs = openWritable(image);
    const t = fs.createTmpfile(2, { mode: 0o600, uid: 0, gid: 0 });
    fs.writeFile(t.ino, 0, new Uint8Array(70_000).fill(9));
    fs.sync();
    // No close: the session "crashes" with the tmpfile open and on the orphan list.
    const copy = join(scratchDir(), "tmpfile-crash.img");
    copyFileSync(image, copy);
    fs.close();
    const again = openWritable(copy);
    expect(again.isInodeInUse(t.ino)).toBe(false);
    again.close();
    expectFsckClean(copy);
  });
});

describe("orphans", () => {
  it.each(["ext4", "ext3"] as const)(
    "keeps an unlinked open file until its last release (%s)",
    (kind) => {
      const image = freshImage(kind);
      const fs = openWritable(image);
      const f = fs.create(2, "open.bin", { mode: 0o644, uid: 0, gid: 0 });
      fs.writeFile(f.ino, 0, new Uint8Array(50_000).fill(7));
      const free = fs.statfs().bfree;
      fs.acquire(f.ino);
      fs.acquire(f.ino);
      fs.unlink(2, "open.bin");
      expect(fs.superblock.lastOrphan).toBe(f.ino);
      expect(fs.readInode(f.ino).linksCount).toBe(0);
      // Still readable and writable while open.
      fs.writeFile(f.ino, 50_000, text("more"));
      expect(fs.readFile(fs.readInode(f.ino), 49_998, 10)).toEqual(
        new Uint8Array([7, 7, ...text("more")]),
      );
      fs.release(f.ino);
      expect(fs.readInode(f.ino).linksCount).toBe(0);
      fs.release(f.ino);
      expect(fs.superblock.lastOrphan).toBe(0);
      expect(fs.statfs().bfree).toBeGreaterThan(free);
      expect(fs.isInodeInUse(f.ino)).toBe(false);
      expectKind(() => fs.release(f.ino), "InvalidArgument", "NOT_OPEN");
      fs.close();
      expectFsckClean(image);
    },
  );

  it.each([
    ["orphan list", []],
    ["orphan file", ["-O", "orphan_file"]],
  ] as const)("cleans up orphans a crashed session left (%s)", (_name, args) => {
    const image = mkfs({ size: 32 << 20, args: [...args] });
    const fs = openWritable(image);
    const keep = fs.create(2, "keep", { mode: 0o644, uid: 0, gid: 0 });
    fs.writeFile(keep.ino, 0, text("kept"));
    const inos: number[] = [];
    for (let i = 0; i < 3; i++) {
      const f = fs.create(2, `gone${i}`, { mode: 0o644, uid: 0, gid: 0 });
      fs.writeFile(f.ino, 0, new Uint8Array(20_000 * (i + 1)).fill(i + 1));
      fs.acquire(f.ino);
      fs.unlink(2, `gone${i}`);
      inos.push(f.ino);
    }
    const orphans = fs.orphans();
    if (args.length === 0) expect([...orphans.list].sort()).toEqual([...inos].sort());
    else expect(orphans.file?.blocks.flatMap((b) => b.inodes).sort()).toEqual([...inos].sort());
    // Crash: everything reaches the disk but the session never closes.
    fs.sync();
    const crashed = join(scratchDir(), `crashed-${process.pid}-${args.length}.img`);
    copyFileSync(image, crashed);
    fs.close();
    const again = openWritable(crashed);
    const o = again.orphans();
    expect(o.list).toEqual([]);
    expect(o.file?.blocks.flatMap((b) => b.inodes) ?? []).toEqual([]);
    for (const ino of inos) expect(again.isInodeInUse(ino)).toBe(false);
    expect(again.readFile(again.readInode(keep.ino), 0, 10)).toEqual(text("kept"));
    again.close();
    expectFsckClean(crashed);
  });

  it("deletes files still open when the filesystem is closed", () => {
    const image = freshImage("ext4-1k");
    const fs = openWritable(image);
    const f = fs.create(2, "x", { mode: 0o644, uid: 0, gid: 0 });
    fs.writeFile(f.ino, 0, new Uint8Array(10_000).fill(1));
    fs.acquire(f.ino);
    fs.unlink(2, "x");
    fs.close();
    expectFsckClean(image);
    const ro = openReadOnly(image);
    expect(ro.isInodeInUse(f.ino)).toBe(false);
    expect(ro.superblock.lastOrphan).toBe(0);
    ro.close();
  });

  it("opens the kernel's ea_inode image read-only, naming the feature", () => {
    const k = kernelImages();
    const image = join(scratchDir(), `kfrozen-rw-${process.pid}.img`);
    copyFileSync(k.frozen, image);
    const fs = openWritable(image);
    expect(fs.writable).toBe(false);
    expect(fs.readOnlyReason).toMatch(/ea_inode/);
    fs.close();
  });

  it("cleans up the orphan a kernel left in its orphan file", () => {
    const image = kernelOrphanImage();
    const before = e2fsck(image);
    expect(before.status).not.toBe(0);
    const fs = openWritable(image);
    expect(fs.writable).toBe(true);
    const ro = fs.orphans();
    expect(ro.file?.blocks.flatMap((b) => b.inodes)).toEqual([]);
    fs.close();
    expectFsckClean(image);
  });
});

describe("inode flags", () => {
  it("refuses changes to immutable and append-only inodes as the kernel does", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const f = fs.create(2, "imm", { mode: 0o644, uid: 0, gid: 0 });
    fs.writeFile(f.ino, 0, text("data"));
    fs.setFlags(f.ino, InodeFlags.IMMUTABLE);
    expectKind(() => fs.writeFile(f.ino, 0, text("x")), "Permission");
    expectKind(() => fs.truncate(f.ino, 0), "Permission");
    expectKind(() => fs.setattr(f.ino, { mode: 0o600 }), "Permission");
    expectKind(() => fs.setattr(f.ino, { mtime: "now" }), "Permission");
    expectKind(() => fs.unlink(2, "imm"), "Permission");
    expectKind(() => fs.rename(2, "imm", 2, "other"), "Permission");
    expectKind(() => fs.link(f.ino, 2, "l"), "Permission");
    expectKind(() => fs.setXattr(f.ino, "user.a", text("1")), "Permission");
    expectKind(() => fs.setFlags(f.ino, InodeFlags.IMMUTABLE | InodeFlags.NODUMP), "Permission");
    fs.setFlags(f.ino, 0);
    fs.setFlags(f.ino, InodeFlags.APPEND | InodeFlags.NOATIME);
    expectKind(() => fs.writeFile(f.ino, 0, text("x")), "Permission");
    fs.writeFile(f.ino, 4, text("+appended"));
    expectKind(() => fs.truncate(f.ino, 0), "Permission");
    expectKind(() => fs.fallocate(f.ino, 0x03, 0, 4), "Permission");
    fs.setattr(f.ino, { atime: "now", mtime: "now" });
    expectKind(() => fs.setattr(f.ino, { atime: { sec: 5, nsec: 0 } }), "Permission");
    expect(fs.readFile(fs.readInode(f.ino), 0, 100)).toEqual(text("data+appended"));
    fs.setFlags(f.ino, 0);
    const d = fs.mkdir(2, "dir", owner);
    fs.create(d.ino, "inside", { mode: 0o644, uid: 0, gid: 0 });
    fs.setFlags(d.ino, InodeFlags.APPEND);
    fs.create(d.ino, "added", { mode: 0o644, uid: 0, gid: 0 });
    expectKind(() => fs.unlink(d.ino, "inside"), "Permission");
    fs.setFlags(d.ino, InodeFlags.IMMUTABLE);
    expectKind(() => fs.create(d.ino, "more", { mode: 0o644, uid: 0, gid: 0 }), "Permission");
    fs.setFlags(d.ino, 0);
    // Flags inherited from the directory (EXT4_FL_INHERITED), masked for files.
    fs.setFlags(d.ino, InodeFlags.NODUMP | InodeFlags.DIRSYNC | InodeFlags.NOATIME);
    const child = fs.create(d.ino, "child", { mode: 0o644, uid: 0, gid: 0 });
    expect(child.flags & (InodeFlags.NODUMP | InodeFlags.DIRSYNC | InodeFlags.NOATIME)).toBe(
      InodeFlags.NODUMP | InodeFlags.NOATIME,
    );
    const sub = fs.mkdir(d.ino, "sub", owner);
    expect(sub.flags & InodeFlags.DIRSYNC).toBe(InodeFlags.DIRSYNC);
    expectKind(() => fs.setFlags(sub.ino, InodeFlags.CASEFOLD), "NotSupported");
    fs.close();
    expectFsckClean(image);
  });
});

describe("rename", () => {
  it("moves directories between parents, fixing '..' and link counts, and exchanges", () => {
    const image = freshImage("ext4-1k");
    const fs = openWritable(image);
    const a = fs.mkdir(2, "a", owner);
    const b = fs.mkdir(2, "b", owner);
    const sub = fs.mkdir(a.ino, "sub", owner);
    fs.mkdir(sub.ino, "deeper", owner);
    fs.rename(a.ino, "sub", b.ino, "moved");
    expect(lookup(fs, fs.readInode(sub.ino), "..")).toBe(b.ino);
    expect(fs.readInode(a.ino).linksCount).toBe(2);
    expect(fs.readInode(b.ino).linksCount).toBe(3);
    expectKind(() => fs.rename(b.ino, "moved", sub.ino, "x"), "InvalidArgument");
    expectKind(() => fs.rename(2, "b", fs.readInode(sub.ino).ino, "y"), "InvalidArgument");
    fs.create(a.ino, "file", { mode: 0o644, uid: 0, gid: 0 });
    expectKind(() => fs.rename(a.ino, "file", b.ino, "moved"), "IsADirectory");
    expectKind(() => fs.rename(b.ino, "moved", a.ino, "file"), "NotADirectory");
    expectKind(() => fs.rename(2, "a", 2, "b"), "NotEmpty");
    expectKind(() => fs.rename(a.ino, "file", b.ino, "moved", RENAME.NOREPLACE), "Exists");
    expectKind(() => fs.rename(a.ino, "nope", b.ino, "x"), "NotFound");
    expectKind(() => fs.rename(a.ino, "file", b.ino, "x", RENAME.WHITEOUT), "NotSupported");
    // Exchange a file and a directory across parents.
    fs.rename(a.ino, "file", b.ino, "moved", RENAME.EXCHANGE);
    expect(lookup(fs, fs.readInode(sub.ino), "..")).toBe(a.ino);
    expect(fs.readInode(a.ino).linksCount).toBe(3);
    expect(fs.readInode(b.ino).linksCount).toBe(2);
    // Replace an empty directory.
    fs.mkdir(b.ino, "empty", owner);
    fs.rename(a.ino, "file", b.ino, "empty");
    expect(fs.readInode(b.ino).linksCount).toBe(3);
    fs.close();
    expectFsckClean(image);
    const v = kernelView(image);
    expect(v.tree["/b/empty"]?.nlink).toBe(3);
    expect(v.tree["/b/moved"]?.type).toBe("file");
  });
});

describe("creation", () => {
  it("inherits a default ACL (posix_acl_create) and a setgid directory's group", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const d = fs.mkdir(2, "acl", { mode: 0o2775, uid: 0, gid: 500 });
    fs.setPosixAcl(d.ino, "default", [
      { tag: ACL_USER_OBJ, perm: 7 },
      { tag: ACL_USER, perm: 5, id: 1234 },
      { tag: ACL_GROUP_OBJ, perm: 5 },
      { tag: ACL_GROUP, perm: 7, id: 99 },
      { tag: ACL_MASK, perm: 7 },
      { tag: ACL_OTHER, perm: 1 },
    ]);
    const f = fs.create(d.ino, "f", { mode: 0o664, uid: 1000, gid: 1000, umask: 0o077 });
    // The umask does not apply with a default ACL; the mode is masked by it instead.
    expect(f.mode & 0o7777).toBe(0o660);
    expect(f.gid).toBe(500);
    const access = decodePosixAclXattr(fs.readXattr(f.ino, "system.posix_acl_access"));
    expect(access).toEqual([
      { tag: ACL_USER_OBJ, perm: 6 },
      { tag: ACL_USER, perm: 5, id: 1234 },
      { tag: ACL_GROUP_OBJ, perm: 5 },
      { tag: ACL_GROUP, perm: 7, id: 99 },
      { tag: ACL_MASK, perm: 6 },
      { tag: ACL_OTHER, perm: 0 },
    ]);
    const sub = fs.mkdir(d.ino, "sub", { mode: 0o777, uid: 0, gid: 0 });
    expect(sub.mode & 0o7777).toBe(0o2771);
    expect(fs.listXattrNames(sub.ino).sort()).toEqual([
      "system.posix_acl_access",
      "system.posix_acl_default",
    ]);
    const plain = fs.create(2, "plain", { mode: 0o666, uid: 0, gid: 0, umask: 0o022 });
    expect(plain.mode & 0o777).toBe(0o644);
    fs.close();
    expectFsckClean(image);
    const v = kernelView(image);
    expect(v.tree["/acl/f"]?.mode).toBe(0o660);
    expect(v.tree["/acl/f"]?.gid).toBe(500);
    expect(Object.keys(v.tree["/acl/sub"]?.xattrs ?? {}).sort()).toEqual([
      "system.posix_acl_access",
      "system.posix_acl_default",
    ]);
  });

  it("works on 128-byte inodes (no nanoseconds, xattrs in a block)", () => {
    const image = mkfs({ size: 16 << 20, args: ["-I", "128", "-b", "1024"] });
    const fs = openWritable(image, { clock: () => ({ sec: 1_750_000_000, nsec: 123_456_789 }) });
    const f = fs.create(2, "f", { mode: 0o644, uid: 7, gid: 8 });
    fs.writeFile(f.ino, 0, text("small"));
    fs.setXattr(f.ino, "user.x", text("in a block"));
    expect(fs.readInode(f.ino).fileAcl).not.toBe(0);
    expect(fs.readInode(f.ino).mtime).toEqual({ sec: 1_750_000_000, nsec: 0 });
    fs.mkdir(2, "d", owner);
    fs.symlink(2, "l", "f", { uid: 0, gid: 0 });
    fs.close();
    expectFsckClean(image);
    const v = kernelView(image);
    expect(v.tree["/f"]?.xattrs).toEqual({ "user.x": Buffer.from("in a block").toString("hex") });
    expect(v.tree["/f"]?.mtimeNs).toBe("1750000000000000000");
  });

  it("refuses bad names and targets", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    expectKind(() => fs.create(2, "x".repeat(256), owner), "NameTooLong");
    expectKind(() => fs.create(2, ".", owner), "Exists");
    expectKind(() => fs.create(2, "", owner), "NotFound");
    expectKind(() => fs.create(2, "a/b", owner), "InvalidArgument");
    expectKind(() => fs.symlink(2, "s", "", { uid: 0, gid: 0 }), "NotFound");
    expectKind(() => fs.symlink(2, "s", "x".repeat(4096), { uid: 0, gid: 0 }), "NameTooLong");
    expectKind(() => fs.mknod(2, "d", 0o040755, null, { uid: 0, gid: 0 }), "InvalidArgument");
    const f = fs.create(2, "file", owner);
    expectKind(() => fs.create(f.ino, "x", owner), "NotADirectory");
    expectKind(() => fs.rmdir(2, "."), "InvalidArgument");
    expectKind(() => fs.rmdir(2, ".."), "NotEmpty");
    expectKind(() => fs.unlink(2, "lost+found"), "IsADirectory");
    fs.close();
    expectFsckClean(image);
  });

  it("clamps timestamps to what the inode holds, as the kernel does", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const f = fs.create(2, "t", { mode: 0o644, uid: 0, gid: 0 });
    fs.setattr(f.ino, { mtime: { sec: 2 ** 40, nsec: 5 }, atime: { sec: -(2 ** 40), nsec: 7 } });
    expect(fs.readInode(f.ino).mtime).toEqual({ sec: EXT4_EXTRA_TIMESTAMP_MAX, nsec: 5 });
    expect(fs.readInode(f.ino).atime).toEqual({ sec: -(2 ** 31), nsec: 7 });
    // The Filesystem is the directory module's write host.
    const host: DirWriteHost = fs;
    expect(host.writable).toBe(true);
    fs.close();
    expectFsckClean(image);
    const v = kernelView(image);
    expect(v.tree["/t"]?.mtimeNs).toBe(`${BigInt(EXT4_EXTRA_TIMESTAMP_MAX) * 1_000_000_000n + 5n}`);
  });

  it("refuses every change on a read-only open", () => {
    const image = freshImage("ext4");
    const fs = openReadOnly(image);
    expectKind(() => fs.create(2, "x", owner), "ReadOnly");
    expect(fs.writable).toBe(false);
    fs.close();
  });
});
