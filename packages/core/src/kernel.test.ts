import { FileDevice } from "@ext4/iocache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeTime } from "./format/inode.js";
import {
  xattrBlockHash,
  xattrEaInodeEntryHash,
  xattrEaInodeValueHash,
  xattrEntryHash,
} from "./format/xattr.js";
import { Filesystem } from "./fs.js";
import { extentRows } from "./map/extent-tree.js";
import { parseEx, parseLogdump, parseStat } from "./test-support/debugfs-parse.js";
import { pseudoRandom } from "./test-support/fixtures.js";
import { type KernelImages, kernelImages } from "./test-support/kernel.js";
import { debugfs, inodeOf } from "./test-support/mkfs.js";

describe("images written by the kernel driver", () => {
  let k: KernelImages;
  let fs: Filesystem;
  beforeAll(() => {
    k = kernelImages();
    fs = Filesystem.open(FileDevice.open(k.frozen, { readOnly: true }));
  }, 60_000);
  afterAll(() => fs?.close());

  it("decodes nanosecond, post-2038 and pre-1970 timestamps as debugfs does", () => {
    const data = fs.readInode(inodeOf(k.frozen, "/data.bin"));
    expect(data.mtime).toEqual({ sec: 2200000000, nsec: 123456789 });
    const old = fs.readInode(inodeOf(k.frozen, "/old.txt"));
    expect(old.mtime).toEqual({ sec: -101, nsec: 500000000 });
    for (const i of [data, old]) {
      const d = parseStat(debugfs(k.frozen, `stat <${i.ino}>`));
      const e = encodeTime(i.mtime);
      expect(e.seconds >>> 0).toBe(d.times.mtime?.sec);
      expect(e.extra).toBe(d.times.mtime?.extra);
    }
    expect(fs.readFile(data, 0, data.size)).toEqual(pseudoRandom(300_000, 42));
  });

  it("recomputes the kernel's xattr entry and block hashes", () => {
    const attrs = fs.readInode(inodeOf(k.frozen, "/attrs.txt"));
    expect(fs.getXattr(attrs, "user.big")).toEqual(new TextEncoder().encode("b".repeat(1500)));
    expect(new TextDecoder().decode(fs.getXattr(attrs, "trusted.two") ?? new Uint8Array())).toBe(
      "second value",
    );
    const block = fs.readXattrBlock(attrs);
    if (block === null) throw new Error("attrs.txt has no xattr block");
    expect(block.hash).not.toBe(0);
    for (const e of block.entries)
      expect(xattrEntryHash(e.nameBytes, e.value ?? new Uint8Array())).toBe(e.hash);
    expect(xattrBlockHash(block.entries.map((e) => e.hash))).toBe(block.hash);
    expect(block.checksumValid).toBe(true);
  });

  it("reads a value kept in an EA inode (ea_inode) and checks its hashes", () => {
    const attrs = fs.readInode(inodeOf(k.frozen, "/attrs.txt"));
    const huge = fs.listXattrs(attrs).find((x) => x.name === "user.huge");
    const want = new Uint8Array(10240).map((_, i) => i % 256);
    expect(huge?.value).toEqual(want);
    expect(huge?.valueInum).toBeGreaterThan(0);
    const ea = fs.readInode(huge?.valueInum ?? 0);
    const valueHash = xattrEaInodeValueHash(fs.csumSeed, want);
    // The kernel keeps the value's hash in the EA inode's i_atime.
    expect(ea.atime.sec >>> 0).toBe(valueHash);
    expect(huge?.hash).toBe(xattrEaInodeEntryHash(new TextEncoder().encode("huge"), valueHash));
  });

  it("reads a sparse file past 2 TiB", () => {
    const h = fs.readInode(inodeOf(k.frozen, "/huge.bin"));
    expect(h.size).toBe(3 * 2 ** 40 + 4096);
    expect(fs.readFile(h, 3 * 2 ** 40, 8192)).toEqual(pseudoRandom(4096, 3));
    expect(fs.readFile(h, 3 * 2 ** 40 - 100, 200)).toEqual(
      new Uint8Array(200).map((_, i) => (i < 100 ? 0 : (pseudoRandom(100, 3)[i - 100] ?? 0))),
    );
    const lblk = (3 * 2 ** 40) / fs.blockSize;
    const [run] = fs.mapBlocks(h, lblk, 1);
    expect(run?.kind).toBe("mapped");
    const holes = fs.mapBlocks(h, 0, lblk);
    expect(holes).toEqual([{ kind: "hole", logical: 0, length: lblk }]);
  });

  it("maps fallocated space as unwritten extents that read as zeros", () => {
    const p = fs.readInode(inodeOf(k.frozen, "/prealloc.bin"));
    const runs = fs.mapBlocks(p, 0, 256);
    expect(runs.every((r) => r.kind === "mapped" && r.unwritten)).toBe(true);
    expect(fs.readFile(p, 0, 1 << 20).every((b) => b === 0)).toBe(true);
    const tree = fs.extentTree(p);
    expect(tree).not.toBeNull();
    const rows = extentRows(tree ?? ({} as never), p.size, fs.blockSize);
    expect(rows.map((r) => [r.logical, r.length, r.unwritten])).toEqual(
      parseEx(debugfs(k.frozen, `ex <${p.ino}>`)).map((r) => [
        r.logicalStart,
        r.length,
        r.unwritten,
      ]),
    );
  });

  it("finds the open-unlinked file in the orphan file", () => {
    const o = fs.orphans();
    expect(o.file).not.toBeNull();
    const inodes = o.file?.blocks.flatMap((b) => b.inodes) ?? [];
    expect(inodes).toContain(k.orphanIno);
    expect(o.file?.blocks.every((b) => b.checksumValid)).toBe(true);
    expect(fs.readInode(k.orphanIno).linksCount).toBe(0);
  });

  it("walks the committed transactions of a journal as logdump does", () => {
    const jfs = Filesystem.open(FileDevice.open(k.journaled, { readOnly: true }), {
      journal: "ignore",
    });
    try {
      expect(jfs.needsRecovery).toBe(true);
      const j = jfs.journal();
      expect(j?.superblock.csumV3 || j?.superblock.csumV2).toBe(true);
      const walk = j?.walk({ checkData: true });
      expect(walk?.transactions.length).toBeGreaterThan(0);
      const mine = (walk?.transactions ?? []).flatMap((t) => [
        ...t.descriptors.map((d) => ({
          block: d.journalBlock,
          seq: t.sequence,
          tags: d.tags.map((x) => x.fsBlock),
        })),
      ]);
      const dump = parseLogdump(debugfs(k.journaled, "logdump -a"));
      const theirs: Array<{ block: number; seq: number; tags: number[] }> = [];
      for (const e of dump) {
        if (e.kind === "block" && e.type === 1)
          theirs.push({ block: e.block, seq: e.sequence, tags: [] });
        if (e.kind === "tag") theirs[theirs.length - 1]?.tags.push(e.fsBlock);
      }
      expect(mine).toEqual(theirs);
      for (const t of walk?.transactions ?? []) {
        expect(t.commit?.checksumValid).toBe(true);
        for (const d of t.descriptors) {
          expect(d.checksumValid).toBe(true);
          expect(d.tags.every((x) => x.checksumValid === true)).toBe(true);
        }
      }
    } finally {
      jfs.close();
    }
  });
});
