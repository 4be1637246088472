import { execFileSync } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lookup } from "../dir/read.js";
import { isExt4Error } from "../errors.js";
import { pseudoRandom } from "../test-support/fixtures.js";
import { mkfs, scratchDir } from "../test-support/mkfs.js";
import {
  expectFsckClean,
  freshImage,
  kernelView,
  openReadOnly,
  openWritable,
  sha256,
  type WriteKind,
} from "../test-support/rw.js";
import { FALLOC, maxFileBytes } from "./file.js";

const file = { mode: 0o644, uid: 0, gid: 0 };

let mountN = 0;
/** Runs a Python snippet with MNT set to the image mounted (`ro` or rw) on a loop device; always unmounts. */
function withKernel(image: string, rw: boolean, script: string): string {
  const mnt = join(scratchDir(), `kf-${process.pid}-${mountN++}`);
  mkdirSync(mnt, { recursive: true });
  execFileSync("mount", ["-o", rw ? "loop" : "ro,loop", image, mnt], { stdio: "ignore" });
  try {
    return execFileSync(
      "python3",
      ["-c", `import os, json\nMNT = ${JSON.stringify(mnt)}\n${script}`],
      {
        encoding: "utf8",
      },
    );
  } finally {
    execFileSync("umount", [mnt]);
    rmdirSync(mnt);
  }
}

describe("the size limit", () => {
  it.each([
    ["ext4", true],
    ["ext4-1k", true],
    ["ext2", false],
    ["ext3", false],
  ] as const)("is the kernel's s_maxbytes / s_bitmap_maxbytes (%s)", (kind, extents) => {
    const image = freshImage(kind as WriteKind);
    const ro = openReadOnly(image);
    const max = maxFileBytes(ro.superblock, extents);
    ro.close();
    // The kernel itself: truncate to the limit works, one byte more is EFBIG.
    const out = withKernel(
      image,
      true,
      `p = os.path.join(MNT, "f")
fd = os.open(p, os.O_CREAT | os.O_RDWR)
res = {}
try:
    os.ftruncate(fd, ${max})
    res["at"] = "ok"
except OSError as e:
    res["at"] = e.errno
try:
    os.ftruncate(fd, ${max + 1})
    res["past"] = "ok"
except OSError as e:
    res["past"] = e.errno
os.ftruncate(fd, 0)
os.close(fd)
os.unlink(p)
print(json.dumps(res))`,
    );
    expect(JSON.parse(out)).toEqual({ at: "ok", past: 27 });
    const fs = openWritable(image);
    const f = fs.create(2, "big", file);
    fs.truncate(f.ino, max);
    expect(() => fs.truncate(f.ino, max + 1)).toThrowError(
      expect.objectContaining({ kind: "FileTooBig" }),
    );
    expect(() => fs.writeFile(f.ino, max, new Uint8Array(1))).toThrowError(
      expect.objectContaining({ kind: "FileTooBig" }),
    );
    // A write crossing the limit is cut short, as generic_write_checks does.
    expect(fs.writeFile(f.ino, max - 10, new Uint8Array(100).fill(9)).written).toBe(10);
    fs.truncate(f.ino, 0);
    fs.close();
    expectFsckClean(image);
  });
});

describe("holes, preallocation and seeking", () => {
  it("answers SEEK_DATA and SEEK_HOLE as the kernel does, and punches and zeroes like it", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const f = fs.create(2, "sparse", file);
    const bs = 4096;
    fs.writeFile(f.ino, 0, pseudoRandom(3 * bs, 1));
    fs.writeFile(f.ino, 20 * bs + 100, pseudoRandom(5000, 2));
    fs.fallocate(f.ino, FALLOC.KEEP_SIZE, 40 * bs, 8 * bs);
    fs.fallocate(f.ino, 0, 60 * bs, 4 * bs);
    fs.writeFile(f.ino, 62 * bs + 7, pseudoRandom(10, 3));
    fs.fallocate(f.ino, FALLOC.PUNCH_HOLE | FALLOC.KEEP_SIZE, bs + 100, bs);
    fs.fallocate(f.ino, FALLOC.ZERO_RANGE, 21 * bs, 2 * bs + 5);
    const inode = fs.readInode(f.ino);
    const offsets = [
      0,
      1,
      bs,
      2 * bs,
      3 * bs,
      10 * bs,
      20 * bs,
      21 * bs + 3,
      22 * bs,
      30 * bs,
      45 * bs,
      61 * bs,
      62 * bs,
      63 * bs,
    ];
    const mine: Record<string, string | number> = {};
    for (const o of offsets) {
      for (const what of ["data", "hole"] as const) {
        try {
          mine[`${what}${o}`] = what === "data" ? fs.seekData(f.ino, o) : fs.seekHole(f.ino, o);
        } catch (e) {
          expect(isExt4Error(e, "NoSuchAddress")).toBe(true);
          mine[`${what}${o}`] = 6;
        }
      }
    }
    const content = fs.readFile(inode, 0, inode.size);
    fs.close();
    expectFsckClean(image);
    const kernel = JSON.parse(
      withKernel(
        image,
        false,
        `fd = os.open(os.path.join(MNT, "sparse"), os.O_RDONLY)
out = {}
for o in ${JSON.stringify(offsets)}:
    for what, how in (("data", os.SEEK_DATA), ("hole", os.SEEK_HOLE)):
        try:
            out[what + str(o)] = os.lseek(fd, o, how)
        except OSError as e:
            out[what + str(o)] = e.errno
os.close(fd)
print(json.dumps(out))`,
      ),
    );
    expect(mine).toEqual(kernel);
    expect(kernelView(image).tree["/sparse"]?.sha256).toBe(sha256(content));
  });

  it("frees preallocated blocks past EOF on truncate and converts unwritten extents written in the middle", () => {
    const image = freshImage("ext4");
    const fs = openWritable(image);
    const f = fs.create(2, "pre", file);
    const before = fs.statfs().bfree;
    fs.fallocate(f.ino, FALLOC.KEEP_SIZE, 0, 1 << 20);
    expect(fs.readInode(f.ino).size).toBe(0);
    expect(before - fs.statfs().bfree).toBe(256);
    fs.writeFile(f.ino, 100 * 4096 + 10, new Uint8Array(4096).fill(5));
    const tree = fs.extentTree(fs.readInode(f.ino));
    expect(tree?.extents.map((x) => [x.logical, x.length, x.unwritten])).toEqual([
      [0, 100, true],
      [100, 2, false],
      [102, 154, true],
    ]);
    fs.truncate(f.ino, 50 * 4096);
    expect(before - fs.statfs().bfree).toBe(50);
    fs.close();
    expectFsckClean(image);
  });

  it("copies ranges within the filesystem, keeping the source's holes", () => {
    const image = freshImage("ext4-1k");
    const fs = openWritable(image);
    const src = fs.create(2, "src", file);
    fs.writeFile(src.ino, 0, pseudoRandom(10_000, 4));
    fs.writeFile(src.ino, 3 << 20, pseudoRandom(2000, 5));
    const dst = fs.create(2, "dst", file);
    const before = fs.statfs().bfree;
    expect(fs.copyRange(src.ino, 0, dst.ino, 5, 4 << 20)).toBe((3 << 20) + 2000);
    // Only the data was written: about 12 KiB of 1 KiB blocks, not 3 MiB.
    expect(before - fs.statfs().bfree).toBeLessThan(40);
    const s = fs.readInode(src.ino);
    const d = fs.readInode(dst.ino);
    expect(d.size).toBe(s.size + 5);
    expect(sha256(fs.readFile(d, 5, s.size))).toBe(sha256(fs.readFile(s, 0, s.size)));
    expect(() => fs.copyRange(src.ino, 0, src.ino, 100, 1000)).toThrowError(
      expect.objectContaining({ kind: "InvalidArgument" }),
    );
    fs.close();
    expectFsckClean(image);
  });

  it("builds deep extent trees and triple-indirect maps, and frees them", () => {
    for (const kind of ["ext4-1k", "ext2"] as const) {
      const image = freshImage(kind);
      const fs = openWritable(image);
      const f = fs.create(2, "frag", file);
      const free = fs.statfs().bfree;
      // Every other block: 3000 one-block extents, a depth-2 tree with 1 KiB blocks.
      for (let i = 0; i < 3000; i++) fs.writeFile(f.ino, i * 2048, pseudoRandom(1024, i));
      if (kind === "ext4-1k") expect(fs.extentTree(fs.readInode(f.ino))?.depth).toBe(2);
      // 80 MiB: the triple-indirect range with 1 KiB blocks.
      fs.writeFile(f.ino, 80 << 20, pseudoRandom(3000, 9));
      const inode = fs.readInode(f.ino);
      const data = fs.readFile(inode, 0, inode.size);
      fs.close();
      expectFsckClean(image);
      expect(kernelView(image).tree["/frag"]?.sha256).toBe(sha256(data));
      const again = openWritable(image);
      again.truncate(f.ino, 1000);
      expect(again.statfs().bfree).toBe(free - 1);
      again.unlink(2, "frag");
      expect(again.statfs().bfree).toBe(free);
      again.close();
      expectFsckClean(image);
    }
  });
});

describe("inline data", () => {
  it("keeps small files in the inode and moves them out as the kernel does", () => {
    const image = freshImage("ext4-inline");
    const fs = openWritable(image);
    const f = fs.create(2, "tiny", file);
    fs.writeFile(f.ino, 0, new TextEncoder().encode("hello"));
    expect(fs.readInode(f.ino).hasInlineData()).toBe(true);
    expect(fs.readInode(f.ino).blocks512).toBe(0);
    fs.writeFile(f.ino, 50, pseudoRandom(60, 1));
    expect(fs.readInode(f.ino).hasInlineData()).toBe(true);
    const medium = fs.create(2, "medium", file);
    fs.writeFile(medium.ino, 0, pseudoRandom(100, 2));
    fs.writeFile(medium.ino, 100, pseudoRandom(5000, 3));
    expect(fs.readInode(medium.ino).hasInlineData()).toBe(false);
    expect(fs.readInode(medium.ino).usesExtents()).toBe(true);
    fs.truncate(f.ino, 20);
    expect(fs.readInode(f.ino).hasInlineData()).toBe(true);
    fs.truncate(f.ino, 3000);
    expect(fs.readInode(f.ino).hasInlineData()).toBe(false);
    const want = {
      tiny: fs.readFile(fs.readInode(f.ino), 0, 3000),
      medium: fs.readFile(fs.readInode(medium.ino), 0, 5100),
    };
    const d = fs.mkdir(2, "dir", { mode: 0o755, uid: 0, gid: 0 });
    expect(fs.readInode(d.ino).hasInlineData()).toBe(true);
    for (let i = 0; i < 30; i++) fs.create(d.ino, `n${i}`, file);
    fs.close();
    expectFsckClean(image);
    const v = kernelView(image);
    expect(v.tree["/tiny"]?.sha256).toBe(sha256(want.tiny));
    expect(v.tree["/medium"]?.sha256).toBe(sha256(want.medium));
    expect(Object.keys(v.tree).filter((p) => p.startsWith("/dir/")).length).toBe(30);
  });
});

describe("filling the filesystem", () => {
  it.each(["ext4", "ext4-1k", "ext2"] as const)(
    "fails cleanly with NoSpace and loses nothing (%s)",
    (kind) => {
      const image = freshImage(kind, 6 << 20);
      const fs = openWritable(image);
      const contents = new Map<string, Uint8Array>();
      let n = 0;
      let full = false;
      while (!full && n < 200) {
        const name = `f${n}`;
        let ino: number;
        try {
          ino = fs.create(2, name, file).ino;
        } catch (e) {
          expect(isExt4Error(e, "NoSpace")).toBe(true);
          break;
        }
        const data = pseudoRandom(150_000 + n * 1000, n);
        let written = 0;
        try {
          written = fs.writeFile(ino, 0, data, { reserved: true }).written;
        } catch (e) {
          expect(isExt4Error(e, "NoSpace")).toBe(true);
        }
        if (written < data.length) full = true;
        contents.set(name, data.subarray(0, written));
        n++;
      }
      expect(full).toBe(true);
      // Inodes run out too: empty files until NoSpace (NO_FREE_INODES or a full directory).
      let made = 0;
      for (;;) {
        try {
          fs.create(2, `e${made}`, file);
          made++;
        } catch (e) {
          expect(isExt4Error(e, "NoSpace")).toBe(true);
          break;
        }
      }
      for (const [name, data] of contents) {
        const ino = lookup(fs, fs.root(), name) ?? -1;
        expect(sha256(fs.readFile(fs.readInode(ino), 0, data.length + 1))).toBe(sha256(data));
      }
      fs.close();
      expectFsckClean(image);
      const v = kernelView(image);
      for (const [name, data] of contents)
        expect(v.tree[`/${name}`]?.sha256, name).toBe(sha256(data));
    },
  );

  it("runs out of inodes with NoSpace and stays consistent", () => {
    const image = mkfs({ size: 8 << 20, args: ["-N", "64"] });
    const fs = openWritable(image);
    let made = 0;
    try {
      for (;;) {
        fs.create(2, `i${made}`, file);
        made++;
      }
    } catch (e) {
      expect(isExt4Error(e, "NoSpace") && e.code).toBe("NO_FREE_INODES");
    }
    expect(fs.statfs().ffree).toBe(0);
    expect(() => fs.mkdir(2, "d", file)).toThrowError(expect.objectContaining({ kind: "NoSpace" }));
    fs.unlink(2, "i0");
    fs.mkdir(2, "d", file);
    fs.close();
    expectFsckClean(image);
  });
});
