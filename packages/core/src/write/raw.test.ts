/**
 * The raw editor against the real tools: each edit is made on one copy of
 * an mke2fs image through the core and, where debugfs has the same
 * command, on another copy by `debugfs -w`; the two must agree byte for
 * byte where the edit is deterministic (inode bytes, descriptors, bitmap
 * bits), and e2fsck -fn must find exactly the damage the edit is meant to
 * cause — or none.
 */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { EXT4_VALID_FS } from "../format/superblock.js";
import type { Filesystem } from "../fs.js";
import {
  debugfs,
  debugfsScript,
  dumpe2fs,
  e2fsck,
  inodeOf,
  readAt,
  scratchDir,
} from "../test-support/mkfs.js";
import {
  expectFsckClean,
  freshImage,
  openReadOnly,
  openWritable,
  type WriteKind,
} from "../test-support/rw.js";

let copies = 0;

/** A second copy of `image` for the oracle to edit. */
function twin(image: string): string {
  const path = join(scratchDir(), `raw-twin-${process.pid}-${copies++}.img`);
  copyFileSync(image, path);
  return path;
}

/** Runs `fn` on `image` opened writable and closes it whatever happens. */
function edit<T>(image: string, fn: (fs: Filesystem) => T): T {
  const fs = openWritable(image);
  try {
    return fn(fs);
  } finally {
    fs.close();
  }
}

/** An image with a few files made through the core (so both copies start identical). */
function populated(kind: WriteKind): { image: string; file: number; dir: number; other: number } {
  const image = freshImage(kind);
  const ids = edit(image, (fs) => {
    const opts = { mode: 0o644, uid: 0, gid: 0 };
    const dir = fs.mkdir(2, "dir", { ...opts, mode: 0o755 }).ino;
    const file = fs.create(2, "file", opts).ino;
    fs.writeFile(file, 0, new Uint8Array(5 * fs.blockSize).fill(0x61));
    const other = fs.create(dir, "other", opts).ino;
    fs.writeFile(other, 0, new TextEncoder().encode("other\n"));
    return { file, dir, other };
  });
  expectFsckClean(image);
  return { image, ...ids };
}

/** Lines of e2fsck -fn output that name a problem (the pass banners dropped). */
function problems(image: string): string {
  const r = e2fsck(image);
  return r.output
    .split("\n")
    .filter((l) => !/^(Pass \d|e2fsck |\S+: \d+\/\d+ files)/.test(l))
    .join("\n");
}

const KINDS: readonly WriteKind[] = ["ext4", "ext4-1k", "ext4-inline", "ext3", "ext2"];

describe.each(KINDS)("raw editor on %s", (kind) => {
  it("link adds an entry without a link count; unlink removes it and leaves the inode", () => {
    const { image, file, dir } = populated(kind);
    edit(image, (fs) => fs.raw().link(dir, "alias", file));
    expect(debugfs(image, "ls -p /dir")).toContain(`/${file}/100644/0/0/alias/`);
    expect(debugfs(image, `stat <${file}>`)).toMatch(/Links: 1 /);
    expect(problems(image)).toMatch(new RegExp(`Inode ${file} ref count is 1, should be 2`));
    const old = edit(image, (fs) => fs.raw().unlink(dir, "alias"));
    expect(old.ino).toBe(file);
    expectFsckClean(image);
    edit(image, (fs) => fs.raw().unlink(2, "file"));
    expect(debugfs(image, `stat <${file}>`)).toMatch(/Links: 1 /);
    expect(problems(image)).toMatch(new RegExp(`Unattached inode ${file}`));
  });

  it("link refuses an existing name and a non-directory, changing nothing", () => {
    const { image, file, other } = populated(kind);
    edit(image, (fs) => {
      const raw = fs.raw();
      expect(() => raw.link(2, "file", other)).toThrowError(
        expect.objectContaining({ kind: "Exists" }),
      );
      expect(() => raw.link(file, "x", other)).toThrowError(
        expect.objectContaining({ kind: "NotADirectory" }),
      );
      expect(() => raw.link(2, "x", 0)).toThrowError(
        expect.objectContaining({ code: "RAW_BAD_INODE" }),
      );
    });
    expectFsckClean(image);
  });

  it("copy_inode, clri and set_inode_field write the bytes debugfs writes", () => {
    const { image, file, other } = populated(kind);
    const theirs = twin(image);
    edit(image, (fs) => {
      const raw = fs.raw();
      raw.copyInode(file, other);
      raw.setInodeFields(file, [{ field: "i_links_count", value: 7 }], { checksum: true });
      raw.setInodeFields(
        file,
        [
          { field: "i_uid", value: 0x5678 },
          { field: "l_i_uid_high", value: 0x1234 },
        ],
        { checksum: true },
      );
      raw.clearInode(2 + 1); // <3>, an unused reserved inode
    });
    debugfsScript(theirs, [
      `copy_inode <${file}> <${other}>`,
      `sif <${file}> links_count 7`,
      `sif <${file}> uid 0x12345678`,
      "clri <3>",
    ]);
    for (const ino of [file, other, 3]) {
      expect(debugfs(image, `id <${ino}>`), `inode ${ino}`).toBe(debugfs(theirs, `id <${ino}>`));
    }
  });

  it("refuses fields past i_extra_isize and values that do not fit", () => {
    const { image, file } = populated(kind);
    edit(image, (fs) => {
      const raw = fs.raw();
      expect(() =>
        raw.setInodeFields(file, [{ field: "i_mode", value: 0x10000 }], { checksum: true }),
      ).toThrowError(expect.objectContaining({ code: "RAW_VALUE_RANGE" }));
      if (fs.superblock.inodeSize === 128) {
        expect(() =>
          raw.setInodeFields(file, [{ field: "i_projid", value: 1 }], { checksum: true }),
        ).toThrowError(expect.objectContaining({ code: "RAW_FIELD_OUTSIDE" }));
      }
    });
    expectFsckClean(image);
  });

  it("kill_file frees the blocks and the inode as debugfs does, entries untouched", () => {
    const { image, file } = populated(kind);
    const theirs = twin(image);
    const blocks = debugfs(image, `blocks <${file}>`).trim().split(/\s+/).map(Number);
    const r = edit(image, (fs) => fs.raw().killFile(file));
    expect(r.inodeWasInUse).toBe(true);
    expect(r.freedBlocks).toBe(blocks.length);
    debugfsScript(theirs, [`kill_file <${file}>`]);
    const cmds = [`testi <${file}>`, ...blocks.map((b) => `testb ${b}`)];
    expect(debugfsScript(image, cmds, false)).toBe(debugfsScript(theirs, cmds, false));
    const counts = (img: string) =>
      dumpe2fs(img)
        .split("\n")
        .filter((l) => /free blocks|Free blocks|Free inodes/.test(l))
        .join("\n");
    expect(counts(image)).toBe(counts(theirs));
    expect(debugfs(image, `stat <${file}>`)).toMatch(/dtime: 0x[0-9a-f]+/);
    expect(debugfs(image, "ls -p /")).toContain(`/${file}/100644/0/0/file/`);
    expect(problems(image)).toMatch(/has dtime set|deleted\/unused inode/);
  });

  it("setb, freeb, seti and freei change the bitmaps only, as debugfs does", () => {
    const { image, file } = populated(kind);
    const theirs = twin(image);
    const [first] = debugfs(image, `blocks <${file}>`).trim().split(/\s+/).map(Number);
    const free = Number(/Free blocks found: (\d+)/.exec(debugfs(image, "ffb 1 2000"))?.[1]);
    // A free inode of group 0, whose bitmap is initialised (see the uninit case below).
    const spare = Number(/Free inode found: (\d+)/.exec(debugfs(image, "ffi"))?.[1]);
    const r = edit(image, (fs) => {
      const raw = fs.raw();
      const a = raw.setBlocksInUse(first!, 2, false);
      const b = raw.setBlocksInUse(free, 3, true);
      const c = raw.setInodesInUse(file, 1, false);
      const d = raw.setInodesInUse(spare, 1, true);
      const again = raw.setBlocksInUse(free, 1, true);
      return { a, b, c, d, again };
    });
    expect(r.a.unchanged).toEqual([]);
    expect(r.again.unchanged).toEqual([{ start: free, count: 1 }]);
    debugfsScript(theirs, [
      `freeb ${first} 2`,
      `setb ${free} 3`,
      `freei <${file}>`,
      `seti <${spare}>`,
    ]);
    const cmds = [`testb ${first} 2`, `testb ${free} 3`, `testi <${file}>`, `testi <${spare}>`];
    expect(debugfsScript(image, cmds, false)).toBe(debugfsScript(theirs, cmds, false));
    const groups = (img: string) =>
      dumpe2fs(img)
        .split("\n")
        .filter((l) => /free blocks, /.test(l))
        .join("\n");
    expect(groups(image)).toBe(groups(theirs));
    const p = problems(image);
    expect(p).toMatch(/Block bitmap differences: .*-?\(?\d/);
    expect(p).toMatch(/Inode bitmap differences/);
  });

  it("refuses block and inode ranges outside the filesystem", () => {
    const { image } = populated(kind);
    edit(image, (fs) => {
      const raw = fs.raw();
      const n = fs.superblock.blocksCount;
      expect(() => raw.setBlocksInUse(n - 1, 2, true)).toThrowError(
        expect.objectContaining({ code: "RAW_BAD_BLOCK" }),
      );
      expect(() => raw.setInodesInUse(0, 1, true)).toThrowError(
        expect.objectContaining({ code: "RAW_BAD_INODE" }),
      );
    });
    expectFsckClean(image);
  });

  it("punch frees blocks whatever i_size says; fallocate maps blocks and keeps the size", () => {
    const { image, file } = populated(kind);
    const before = debugfs(image, `blocks <${file}>`).trim().split(/\s+/).map(Number);
    edit(image, (fs) => fs.raw().punch(file, 1, 2));
    const after = debugfs(image, `blocks <${file}>`).trim().split(/\s+/).map(Number);
    expect(after).toEqual(before.filter((b) => !before.slice(1, 3).includes(b)).filter((b) => b));
    expect(debugfs(image, `stat <${file}>`)).toMatch(/Size: 20480|Size: 5120/);
    expectFsckClean(image);
    const size = Number(/Size: (\d+)/.exec(debugfs(image, `stat <${file}>`))?.[1]);
    edit(image, (fs) => fs.raw().allocate(file, 1, 2));
    expect(debugfs(image, `blocks <${file}>`).trim().split(/\s+/)).toHaveLength(before.length);
    expect(Number(/Size: (\d+)/.exec(debugfs(image, `stat <${file}>`))?.[1])).toBe(size);
    expectFsckClean(image);
    if (kind === "ext3" || kind === "ext2") {
      edit(image, (fs) => {
        expect(() => fs.raw().allocate(file, 10, 12)).toThrowError(
          expect.objectContaining({ code: "RAW_FALLOC_PAST_EOF" }),
        );
      });
    } else {
      edit(image, (fs) => fs.raw().allocate(file, 10, 12));
      expect(debugfs(image, `ex <${file}>`)).toMatch(/10 - +12 .*Uninit/);
      edit(image, (fs) => fs.raw().punch(file, 5, null));
      expect(debugfs(image, `ex <${file}>`)).not.toMatch(/ 10 - /);
    }
    expectFsckClean(image);
  });

  it("expand_dir adds an empty block (an inline directory moves to one)", () => {
    const { image, dir } = populated(kind);
    const size = (ino: number) => Number(/Size: (\d+)/.exec(debugfs(image, `stat <${ino}>`))?.[1]);
    const bs = Number(/Block size: +(\d+)/.exec(dumpe2fs(image, true))?.[1]);
    const was = size(dir);
    edit(image, (fs) => fs.raw().expandDir(dir));
    expect(size(dir)).toBe(kind === "ext4-inline" ? bs : was + bs);
    expect(debugfs(image, "ls -p /dir")).toContain("/other/");
    expectFsckClean(image);
    edit(image, (fs) => {
      expect(() => fs.raw().expandDir(inodeOf(image, "/file"))).toThrowError(
        expect.objectContaining({ kind: "NotADirectory" }),
      );
    });
  });

  it("bmap maps a logical block to a chosen physical block", () => {
    const { image, file } = populated(kind);
    const free = Number(/Free blocks found: (\d+)/.exec(debugfs(image, "ffb 1 3000"))?.[1]);
    edit(image, (fs) => fs.raw().mapBlock(file, 20, free));
    expect(debugfs(image, `bmap <${file}> 20`).trim()).toBe(String(free));
    edit(image, (fs) => {
      expect(() => fs.raw().mapBlock(file, 20, free + 1)).toThrowError(
        expect.objectContaining({ code: "RAW_LBLK_MAPPED" }),
      );
    });
  });
});

describe("raw editor details", () => {
  it("a kept inode checksum stays wrong; checksum calc makes it valid", () => {
    const { image, file } = populated("ext4");
    edit(image, (fs) => {
      fs.raw().setInodeFields(file, [{ field: "l_i_checksum_lo", value: 0x1234 }], {
        checksum: false,
        verify: false,
      });
      expect(() =>
        fs.raw().setInodeFields(file, [{ field: "i_links_count", value: 1 }], { checksum: true }),
      ).toThrowError(expect.objectContaining({ kind: "BadChecksum" }));
    });
    expect(problems(image)).toMatch(new RegExp(`Inode ${file} passes checks, but checksum`));
    edit(image, (fs) => fs.raw().setInodeFields(file, [], { checksum: true, verify: false }));
    expectFsckClean(image);
  });

  it("seti in an INODE_UNINIT group initialises its bitmap (debugfs drops such a change)", () => {
    const image = freshImage("ext4-1k");
    const last = Number(/Inode count: +(\d+)/.exec(dumpe2fs(image, true))?.[1]);
    expect(dumpe2fs(image)).toMatch(/INODE_UNINIT/);
    edit(image, (fs) => fs.raw().setInodesInUse(last, 1, true));
    expect(debugfs(image, `testi <${last}>`)).toBe(`Inode ${last} is marked in use\n`);
    expect(problems(image)).toMatch(new RegExp(`Inode bitmap differences: +-${last}`));
  });
});

describe("superblock and group descriptor fields", () => {
  it("set_super_value fields land as debugfs puts them", () => {
    const image = freshImage("ext4");
    const theirs = twin(image);
    edit(image, (fs) => {
      fs.raw().setSuperFields([
        { field: "s_max_mnt_count", value: 33 },
        { field: "s_errors", value: 2 },
        { field: "s_volume_name", value: new TextEncoder().encode("raw-label") },
        { field: "s_checkinterval", value: 86400 },
      ]);
    });
    debugfsScript(theirs, [
      "ssv max_mnt_count 33",
      "ssv errors 2",
      "ssv volume_name raw-label",
      "ssv checkinterval 86400",
    ]);
    const pick = (img: string) =>
      dumpe2fs(img, true)
        .split("\n")
        .filter((l) =>
          /^(Maximum mount count|Errors behavior|Filesystem volume name|Check interval|Filesystem state):/.test(
            l,
          ),
        )
        .join("\n");
    expect(pick(image)).toBe(pick(theirs));
    expect(pick(image)).toContain("raw-label");
    expectFsckClean(image);
  });

  it("the state and the free counts set survive the close", () => {
    const image = freshImage("ext4-1k");
    edit(image, (fs) => {
      fs.raw().setValid(false);
      fs.raw().setSuperFields([{ field: "s_free_inodes_count", value: 5 }]);
    });
    const h = dumpe2fs(image, true);
    expect(h).toMatch(/Filesystem state: +not clean/);
    expect(h).toMatch(/Free inodes: +5$/m);
    edit(image, (fs) => {
      expect(fs.superblock.state & EXT4_VALID_FS).toBe(0);
      fs.raw().setValid(true);
    });
    expect(dumpe2fs(image, true)).toMatch(/Filesystem state: +clean/);
  });

  it("refuses a superblock the toolkit could not read back, changing nothing", () => {
    const image = freshImage("ext4");
    edit(image, (fs) => {
      const raw = fs.raw();
      const before = raw.superField("s_inodes_count");
      expect(() => raw.setSuperFields([{ field: "s_inodes_count", value: 5 }])).toThrowError(
        expect.objectContaining({ code: "RAW_SB_INVALID" }),
      );
      expect(raw.superField("s_inodes_count")).toBe(before);
      expect(() => raw.setSuperFields([{ field: "s_kbytes_written", value: 1 }])).toThrowError(
        expect.objectContaining({ kind: "NotSupported" }),
      );
      expect(() => raw.setSuperFields([{ field: "s_mnt_count", value: 70000 }])).toThrowError(
        expect.objectContaining({ code: "RAW_VALUE_RANGE" }),
      );
    });
    expectFsckClean(image);
  });

  it("set_bg writes the descriptor bytes debugfs writes, checksum kept or recomputed", () => {
    for (const kind of ["ext4", "ext4-no64"] as const) {
      const image = freshImage(kind);
      const theirs = twin(image);
      const r = openReadOnly(image);
      const loc = r.group(0).location;
      const descSize = r.superblock.descSize;
      const bs = r.blockSize;
      r.close();
      const gdBytes = (img: string) => readAt(img, loc.block * bs + loc.offset, descSize);
      edit(image, (fs) =>
        fs.raw().setGroupFields(0, [{ field: "bg_itable_unused_lo", value: 100 }], {
          checksum: "keep",
        }),
      );
      debugfsScript(theirs, ["set_bg 0 itable_unused 100"]);
      expect(gdBytes(image), kind).toEqual(gdBytes(theirs));
      expect(dumpe2fs(image)).toMatch(/Group 0: .*csum 0x[0-9a-f]+ \(EXPECTED/);
      // The descriptor checksum is now wrong, as debugfs leaves it: open as debugfs does, ignoring it.
      const fs = openWritable(image, { verifyChecksums: false });
      let csum: number;
      try {
        csum = fs.raw().setGroupFields(0, [{ field: "bg_flags", value: 4 }], { checksum: "calc" });
      } finally {
        fs.close();
      }
      debugfsScript(theirs, ["set_bg 0 flags 4", "set_bg 0 checksum calc"]);
      expect(gdBytes(image), kind).toEqual(gdBytes(theirs));
      expect(dumpe2fs(image)).toContain(`csum 0x${csum.toString(16).padStart(4, "0")}`);
      expect(dumpe2fs(image)).not.toMatch(/Group 0: .*EXPECTED/);
    }
  });

  it("refuses a descriptor the toolkit could not read back and a group that does not exist", () => {
    const image = freshImage("ext4");
    edit(image, (fs) => {
      const raw = fs.raw();
      const n = fs.superblock.blocksCount;
      expect(() =>
        raw.setGroupFields(0, [{ field: "bg_block_bitmap_lo", value: n + 5 }], {
          checksum: "keep",
        }),
      ).toThrowError(expect.objectContaining({ code: "RAW_GD_INVALID" }));
      expect(() => raw.setGroupFields(99, [], { checksum: "calc" })).toThrowError(
        expect.objectContaining({ code: "RAW_BAD_GROUP" }),
      );
    });
    expectFsckClean(image);
  });

  it("is refused on a filesystem opened read-only", () => {
    const image = freshImage("ext4");
    const fs = openReadOnly(image);
    try {
      fs.raw();
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "ReadOnly")).toBe(true);
    } finally {
      fs.close();
    }
  });
});
