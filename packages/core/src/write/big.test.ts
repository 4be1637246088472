/**
 * Big cases of the write path, each read back by the kernel and checked by
 * e2fsck: a directory of 200,000 entries (an htree with many splits), a
 * file of 50,000 extents (fragmented on purpose, a deep tree), and a 5 GiB
 * sparse file (extent-mapped and indirect). They run in CI; EXT4_BIG=0
 * skips them when time is short.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { pseudoRandom } from "../test-support/fixtures.js";
import { mkfs, scratchDir } from "../test-support/mkfs.js";
import { expectFsckClean, openWritable } from "../test-support/rw.js";

const RUN = process.env.EXT4_BIG !== "0";
const file = { mode: 0o644, uid: 0, gid: 0 };

let mountN = 0;
/** Runs Python with MNT bound to a read-only loop mount of `image`; always unmounts. */
function kernel(image: string, script: string): string {
  const mnt = join(scratchDir(), `kbig-${process.pid}-${mountN++}`);
  mkdirSync(mnt, { recursive: true });
  execFileSync("mount", ["-o", "ro,loop", image, mnt], { stdio: "ignore" });
  try {
    return execFileSync(
      "python3",
      ["-c", `import os, json, hashlib\nMNT = ${JSON.stringify(mnt)}\n${script}`],
      {
        encoding: "utf8",
        maxBuffer: 1 << 26,
      },
    );
  } finally {
    execFileSync("umount", [mnt]);
    rmdirSync(mnt);
  }
}

describe.runIf(RUN)("big cases", () => {
  it("a directory of 200,000 entries", () => {
    const image = mkfs({ size: 192 << 20, args: ["-b", "4096", "-N", "204800"] });
    const fs = openWritable(image);
    const d = fs.mkdir(2, "huge", { mode: 0o755, uid: 0, gid: 0 });
    const h = createHash("sha256");
    const names: string[] = [];
    for (let i = 0; i < 200_000; i++)
      names.push(`entry-${i.toString(36)}-${(i * 2654435761) % 1000003}`);
    for (const n of names) fs.create(d.ino, n, file);
    // Remove some, as rm would, leaving holes in the leaves.
    for (let i = 0; i < names.length; i += 97) fs.unlink(d.ino, names[i] as string);
    const kept = names.filter((_, i) => i % 97 !== 0).sort();
    for (const n of kept) h.update(`${n}\n`);
    expect(fs.readInode(d.ino).flags & 0x1000).toBe(0x1000);
    fs.close();
    expectFsckClean(image);
    const out = kernel(
      image,
      `names = sorted(os.listdir(os.path.join(MNT, "huge")))
h = hashlib.sha256()
for n in names: h.update((n + "\\n").encode())
print(json.dumps({"n": len(names), "h": h.hexdigest()}))`,
    );
    expect(JSON.parse(out)).toEqual({ n: kept.length, h: h.digest("hex") });
  }, 600_000);

  it("a file of 50,000 extents", () => {
    const image = mkfs({ size: 160 << 20, args: ["-b", "1024"] });
    const fs = openWritable(image);
    const f = fs.create(2, "frag", file);
    const h = createHash("sha256");
    const block = new Uint8Array(1024);
    for (let i = 0; i < 50_000; i++) {
      block.set(pseudoRandom(16, i));
      fs.writeFile(f.ino, i * 2048, block);
    }
    const inode = fs.readInode(f.ino);
    const tree = fs.extentTree(inode);
    expect(tree?.depth).toBeGreaterThanOrEqual(2);
    let extents = 0;
    const count = (n: NonNullable<typeof tree>): void => {
      extents += n.extents.length;
      for (const c of n.children) count(c.node);
    };
    // OK to assert: checked above.
    count(tree!);
    expect(extents).toBe(50_000);
    for (let off = 0; off < inode.size; off += 1 << 20) h.update(fs.readFile(inode, off, 1 << 20));
    fs.close();
    expectFsckClean(image);
    const out = kernel(
      image,
      `h = hashlib.sha256()
with open(os.path.join(MNT, "frag"), "rb") as f:
    while True:
        b = f.read(1 << 20)
        if not b: break
        h.update(b)
print(h.hexdigest())`,
    );
    expect(out.trim()).toBe(h.digest("hex"));
  }, 600_000);

  it.each([
    ["extents", ["-b", "4096"]],
    ["indirect", ["-t", "ext2", "-b", "1024"]],
  ] as const)(
    "a 5 GiB sparse file (%s)",
    (_name, args) => {
      const type = args[0] === "-t" ? "ext2" : "ext4";
      const image = mkfs({
        size: 64 << 20,
        type,
        args: args.filter((a) => a !== "-t" && a !== "ext2"),
      });
      const fs = openWritable(image);
      const f = fs.create(2, "sparse", file);
      const size = 5 * 2 ** 30;
      const pieces: Array<[number, Uint8Array]> = [
        [0, pseudoRandom(5000, 1)],
        [2 ** 30 + 123, pseudoRandom(70_000, 2)],
        [2 ** 32 - 10, pseudoRandom(100, 3)],
        [size - 4096, pseudoRandom(4096, 4)],
      ];
      for (const [off, data] of pieces) fs.writeFile(f.ino, off, data);
      expect(fs.readInode(f.ino).size).toBe(size);
      for (const [off, data] of pieces)
        expect(fs.readFile(fs.readInode(f.ino), off, data.length)).toEqual(data);
      fs.close();
      expectFsckClean(image);
      const out = kernel(
        image,
        `p = os.path.join(MNT, "sparse")
fd = os.open(p, os.O_RDONLY)
res = {"size": os.fstat(fd).st_size, "pieces": []}
for off, n in ${JSON.stringify(pieces.map(([o, d]) => [o, d.length]))}:
    res["pieces"].append(os.pread(fd, n, off).hex())
res["zero"] = os.pread(fd, 65536, 3 * 2**30).count(0)
os.close(fd)
print(json.dumps(res))`,
      );
      expect(JSON.parse(out)).toEqual({
        size,
        pieces: pieces.map(([, d]) => Buffer.from(d).toString("hex")),
        zero: 65536,
      });
    },
    600_000,
  );
});
