import { execFileSync } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lookup } from "../dir/read.js";
import { isExt4Error } from "../errors.js";
import { pseudoRandom } from "../test-support/fixtures.js";
import { mkfs, scratchDir } from "../test-support/mkfs.js";
import { expectFsckClean, freshImage, kernelView, openWritable } from "../test-support/rw.js";
import { XATTR } from "./attr.js";

const file = { mode: 0o644, uid: 0, gid: 0 };
const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function expectKind(fn: () => unknown, kind: string): void {
  try {
    fn();
  } catch (e) {
    expect(isExt4Error(e) && e.kind).toBe(kind);
    return;
  }
  throw new Error(`expected ${kind}`);
}

describe("extended attributes", () => {
  it("gives the kernel's errors", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const f = fs.create(2, "f", file);
    expectKind(() => fs.setXattr(f.ino, "user.big", new Uint8Array(65537)), "TooBig");
    expectKind(() => fs.setXattr(f.ino, `user.${"n".repeat(256)}`, text("v")), "Range");
    expectKind(() => fs.setXattr(f.ino, "user.huge", new Uint8Array(5000)), "NoSpace");
    expectKind(() => fs.setXattr(f.ino, "system.other", text("v")), "NotSupported");
    expectKind(() => fs.setXattr(f.ino, "nonamespace", text("v")), "NotSupported");
    expectKind(() => fs.setXattr(f.ino, "user.", text("v")), "InvalidArgument");
    expectKind(() => fs.setXattr(f.ino, "user.a", text("v"), XATTR.REPLACE), "NoData");
    fs.setXattr(f.ino, "user.a", text("value"), XATTR.CREATE);
    expectKind(() => fs.setXattr(f.ino, "user.a", text("v"), XATTR.CREATE), "Exists");
    fs.setXattr(f.ino, "user.a", text("other"), XATTR.REPLACE);
    expect(fs.readXattr(f.ino, "user.a")).toEqual(text("other"));
    expectKind(() => fs.readXattr(f.ino, "user.a", 3), "Range");
    expect(fs.readXattr(f.ino, "user.a", 5)).toEqual(text("other"));
    expectKind(() => fs.readXattr(f.ino, "user.none"), "NoData");
    expectKind(() => fs.removeXattr(f.ino, "user.none"), "NoData");
    const l = fs.symlink(2, "l", "f", { uid: 0, gid: 0 });
    expectKind(() => fs.setXattr(l.ino, "user.a", text("v")), "Permission");
    expectKind(() => fs.readXattr(l.ino, "user.a"), "NoData");
    fs.setXattr(l.ino, "trusted.t", text("on a symlink"));
    expectKind(
      () => fs.setXattr(f.ino, "system.posix_acl_access", new Uint8Array(5)),
      "InvalidArgument",
    );
    expectKind(
      () => fs.setXattr(f.ino, "system.posix_acl_default", new Uint8Array(4)),
      "InvalidArgument",
    );
    fs.close();
    expectFsckClean(image);
  });

  it("moves values between the inode body and the block and keeps the block sorted", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const f = fs.create(2, "f", file);
    fs.setXattr(f.ino, "user.small", pseudoRandom(30, 1));
    const where = (): Record<string, string> =>
      Object.fromEntries(fs.listXattrs(fs.readInode(f.ino)).map((x) => [x.name, x.source]));
    expect(where()).toEqual({ "user.small": "inode" });
    fs.setXattr(f.ino, "user.zzzz", pseudoRandom(300, 2));
    fs.setXattr(f.ino, "user.mm", pseudoRandom(300, 3));
    fs.setXattr(f.ino, "trusted.a", pseudoRandom(300, 4));
    expect(where()).toEqual({
      "user.small": "inode",
      "user.zzzz": "block",
      "user.mm": "block",
      "trusted.a": "block",
    });
    // The kernel's order in a block: index, then name length, then name.
    expect(fs.readXattrBlock(fs.readInode(f.ino))?.entries.map((e) => e.name)).toEqual([
      "user.mm",
      "user.zzzz",
      "trusted.a",
    ]);
    // The small one grows past the body: it moves to the block.
    fs.setXattr(f.ino, "user.small", pseudoRandom(400, 5));
    expect(where()["user.small"]).toBe("block");
    fs.removeXattr(f.ino, "user.zzzz");
    fs.removeXattr(f.ino, "user.mm");
    fs.removeXattr(f.ino, "trusted.a");
    fs.setXattr(f.ino, "user.small", pseudoRandom(20, 6));
    // The block emptied: it is freed and i_file_acl cleared.
    expect(fs.readInode(f.ino).fileAcl).toBe(0);
    expect(where()).toEqual({ "user.small": "inode" });
    fs.close();
    expectFsckClean(image);
    expect(kernelView(image).tree["/f"]?.xattrs).toEqual({
      "user.small": hex(pseudoRandom(20, 6)),
    });
  });

  it("copies a block the kernel shares between inodes before changing it, and frees it with its last user", () => {
    const image = mkfs({ size: 32 << 20, args: ["-b", "4096"] });
    const mnt = join(scratchDir(), `kx-${process.pid}`);
    mkdirSync(mnt, { recursive: true });
    execFileSync("mount", ["-o", "loop", image, mnt]);
    try {
      execFileSync("python3", [
        "-c",
        `import os
for n in ("a", "b", "c"):
    p = os.path.join(${JSON.stringify(mnt)}, n)
    open(p, "w").write(n)
    os.setxattr(p, "user.shared", b"s" * 600)
    os.setxattr(p, "user.other", b"o" * 500)`,
      ]);
    } finally {
      execFileSync("umount", [mnt]);
      rmdirSync(mnt);
    }
    const fs = openWritable(image);
    const ino = (n: string): number => lookup(fs, fs.root(), n) ?? -1;
    const [a, b, c] = ["a", "b", "c"].map((n) => fs.readInode(ino(n)));
    // OK to assert: three names looked up above.
    const shared = a!.fileAcl;
    expect(shared).not.toBe(0);
    expect(b!.fileAcl).toBe(shared);
    expect(c!.fileAcl).toBe(shared);
    expect(fs.readXattrBlock(a!)?.refcount).toBe(3);
    fs.setXattr(a!.ino, "user.shared", text("changed"));
    const a2 = fs.readInode(a!.ino);
    expect(a2.fileAcl).not.toBe(shared);
    expect(fs.readXattrBlock(fs.readInode(b!.ino))?.refcount).toBe(2);
    fs.unlink(2, "b");
    expect(fs.readXattrBlock(fs.readInode(c!.ino))?.refcount).toBe(1);
    expect(fs.isBlockInUse(shared)).toBe(true);
    fs.removeXattr(c!.ino, "user.shared");
    fs.removeXattr(c!.ino, "user.other");
    expect(fs.isBlockInUse(shared)).toBe(false);
    fs.close();
    expectFsckClean(image);
    const v = kernelView(image);
    expect(v.tree["/a"]?.xattrs).toEqual({
      "user.shared": hex(text("changed")),
      "user.other": "6f".repeat(500),
    });
    expect(v.tree["/c"]?.xattrs).toEqual({});
  });
});
