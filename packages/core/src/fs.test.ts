import { readFileSync } from "node:fs";
import { join } from "node:path";
import { FileDevice, MemoryDevice } from "@ext4/iocache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DirHost } from "./dir/host.js";
import { isExt4Error } from "./errors.js";
import { ACL_GROUP, ACL_USER, aclToText, decodeExt4Acl } from "./format/acl.js";
import { superblockLocations } from "./format/superblock.js";
import { xattrBlockHash, xattrEntryHash } from "./format/xattr.js";
import { Filesystem } from "./fs.js";
import type { Inode } from "./inode.js";
import { extentRows } from "./map/extent-tree.js";
import {
  parseBlocks,
  parseEaList,
  parseEx,
  parseStat,
  parseStats,
} from "./test-support/debugfs-parse.js";
import {
  FIXTURE_FILES,
  FIXTURE_KINDS,
  type FixtureKind,
  fixture,
  fixtureTree,
  pseudoRandom,
} from "./test-support/fixtures.js";
import {
  debugfs,
  debugfsBytes,
  debugfsScript,
  dumpe2fs,
  inodeOf,
  mkfs,
  readAt,
} from "./test-support/mkfs.js";

const KINDS = Object.keys(FIXTURE_KINDS) as FixtureKind[];
const PATHS = ["/", "/lost+found", ...Object.values(FIXTURE_FILES)];

describe.each(KINDS)("fixture %s against debugfs", (kind) => {
  let image: string;
  let fs: Filesystem;
  const ino = new Map<string, number>();
  const inode = (path: string): Inode => fs.readInode(ino.get(path) ?? -1);

  beforeAll(() => {
    image = fixture(kind);
    fs = Filesystem.open(FileDevice.open(image, { readOnly: true }));
    for (const p of PATHS) ino.set(p, inodeOf(image, p));
  });
  afterAll(() => fs.close());

  it("reads every inode's stat fields as debugfs does", () => {
    for (const p of PATHS) {
      const i = inode(p);
      const d = parseStat(debugfs(image, `stat <${i.ino}>`));
      expect({ path: p, mode: i.mode & 0o7777, flags: i.flags }).toEqual({
        path: p,
        mode: d.mode,
        flags: d.flags,
      });
      expect(i.generation).toBe(d.generation);
      expect(i.fields.version).toBe(d.version);
      expect([i.uid, i.gid, i.fields.projid]).toEqual([d.uid, d.gid, d.project]);
      expect(i.size).toBe(d.size);
      expect(i.fileAcl).toBe(d.fileAcl);
      expect(i.linksCount).toBe(d.links);
      expect(i.fields.blocksRaw).toBe(d.blockcount);
      expect(i.fields.extraIsize).toBe(d.extraIsize ?? 0);
      if (d.checksum !== null) expect(i.fields.checksum).toBe(d.checksum);
      for (const [name, t] of Object.entries(d.times)) {
        const mine = i.fields[name as "atime" | "ctime" | "mtime" | "crtime"];
        expect(mine).not.toBeNull();
        expect(((mine?.sec ?? 0) % 2 ** 32) >>> 0).toBe(t.sec);
        if (t.extra !== null) expect(mine?.nsec).toBe(t.extra >>> 2);
      }
      if (d.device !== null) expect(i.deviceNumber()).toEqual(d.device);
      expect(i.checksumValid).toBe(true);
    }
    expect(inode("/").isDirectory()).toBe(true);
    expect(inode(FIXTURE_FILES.fifo).fileType).toBe("fifo");
    expect(inode(FIXTURE_FILES.device).fileType).toBe("chardev");
  });

  it("reads file contents as in the source tree", () => {
    const tree = fixtureTree();
    for (const p of [
      FIXTURE_FILES.small,
      FIXTURE_FILES.medium,
      FIXTURE_FILES.empty,
      FIXTURE_FILES.big,
      FIXTURE_FILES.sparse,
      FIXTURE_FILES.frag,
      FIXTURE_FILES.inner,
    ]) {
      const i = inode(p);
      const want = readFileSync(join(tree, p));
      expect(Buffer.from(fs.readFile(i, 0, i.size)).equals(want), p).toBe(true);
    }
    // Reads at odd offsets and lengths, across holes and extent boundaries.
    const sparse = inode(FIXTURE_FILES.sparse);
    const host = readFileSync(join(tree, FIXTURE_FILES.sparse));
    for (const [off, len] of [
      [1, 5000],
      [16000, 100000],
      [98303, 2],
      [(4 << 20) - 10, 100],
    ] as const) {
      expect(Buffer.from(fs.readFile(sparse, off, len)).equals(host.subarray(off, off + len))).toBe(
        true,
      );
    }
    // far.bin: 80 MiB of hole, then 4 KiB of data (triple indirect with 1 KiB blocks).
    const far = inode(FIXTURE_FILES.far);
    expect(far.size).toBe((80 << 20) + 4096);
    expect(fs.readFile(far, 80 << 20, 4096)).toEqual(pseudoRandom(4096, 5));
    expect(fs.readFile(far, 1 << 20, 8192).every((b) => b === 0)).toBe(true);
    expect(fs.readFile(far, far.size, 10).length).toBe(0);
    // debugfs cat agrees too.
    expect(
      Buffer.from(fs.readFile(inode(FIXTURE_FILES.big), 0, 1 << 20)).equals(
        debugfsBytes(image, `cat ${FIXTURE_FILES.big}`),
      ),
    ).toBe(true);
  });

  it("reads unwritten extents as zeros and maps them as unwritten", () => {
    const sparse = inode(FIXTURE_FILES.sparse);
    if (!sparse.usesExtents()) return;
    const bs = fs.blockSize;
    const runs = fs.mapBlocks(sparse, 20, 4);
    expect(runs.some((r) => r.kind === "mapped" && r.unwritten)).toBe(true);
    expect(fs.readFile(sparse, 20 * bs, 4 * bs).every((b) => b === 0)).toBe(true);
    expect(fs.readFileBlock(sparse, 20)).toBeNull();
  });

  it("maps blocks consistently with the block list", () => {
    for (const p of [
      FIXTURE_FILES.big,
      FIXTURE_FILES.sparse,
      FIXTURE_FILES.frag,
      FIXTURE_FILES.far,
    ]) {
      const i = inode(p);
      const n = Math.ceil(i.size / fs.blockSize);
      const runs = fs.mapBlocks(i, 0, n);
      // Runs cover [0, n) exactly, in order.
      let pos = 0;
      for (const r of runs) {
        expect(r.logical).toBe(pos);
        expect(r.length).toBeGreaterThan(0);
        pos += r.length;
      }
      expect(pos).toBe(n);
      const mappedFromMap = runs.flatMap((r) =>
        r.kind === "mapped" ? Array.from({ length: r.length }, (_, k) => r.physical + k) : [],
      );
      const mappedFromList = fs
        .blockList(i)
        .flatMap((e) =>
          e.kind === "mapped" ? Array.from({ length: e.length }, (_, k) => e.physical + k) : [],
        );
      expect(mappedFromMap).toEqual(mappedFromList);
      // A sub-range maps to the same blocks as the whole.
      const mid = Math.floor(n / 3);
      const sub = fs.mapBlocks(i, mid, 7);
      expect(sub[0]?.logical).toBe(mid);
      expect(sub.reduce((s, r) => s + r.length, 0)).toBe(7);
    }
  });

  it("lists blocks as debugfs blocks does", () => {
    for (const p of PATHS) {
      const i = inode(p);
      // debugfs walks the i_block of fast symlinks and devices as if it held block numbers.
      if (fs.isFastSymlink(i) || i.fileType === "chardev") {
        expect(fs.blockList(i)).toEqual([]);
        continue;
      }
      const mine = fs
        .blockList(i)
        .flatMap((e) =>
          e.kind === "metadata"
            ? [e.physical]
            : Array.from({ length: e.length }, (_, k) => e.physical + k),
        );
      expect(mine, p).toEqual(parseBlocks(debugfs(image, `blocks <${i.ino}>`)));
    }
  });

  it("dumps extent trees as debugfs ex does", () => {
    for (const p of PATHS) {
      const i = inode(p);
      const tree = fs.extentTree(i);
      const want = parseEx(debugfs(image, `ex <${i.ino}>`));
      if (tree === null) {
        expect(want).toEqual([]);
        continue;
      }
      const rows = extentRows(tree, i.size, fs.blockSize).map((r) => ({
        level: r.level,
        maxDepth: r.maxDepth,
        entry: r.entry,
        entries: r.entries,
        logicalStart: r.logical,
        logicalEnd: r.logical + r.length - 1,
        physicalStart: r.physical,
        physicalEnd: r.leaf ? r.physical + r.length - 1 : null,
        length: r.length,
        unwritten: r.unwritten,
      }));
      expect(rows, p).toEqual(want);
    }
    if (kind === "ext4-1k") {
      const t = fs.extentTree(inode(FIXTURE_FILES.frag));
      expect(t?.depth).toBe(2);
    }
  });

  it("reads symlinks of every kind", () => {
    expect(fs.readLink(inode(FIXTURE_FILES.shortLink))).toBe("small.txt");
    expect(fs.isFastSymlink(inode(FIXTURE_FILES.shortLink))).toBe(true);
    const long = inode(FIXTURE_FILES.longLink);
    expect(fs.readLink(long)).toBe(`${"d".repeat(90)}/${"e".repeat(40)}/target`);
    expect(fs.isFastSymlink(long)).toBe(false);
    const d = parseStat(debugfs(image, `stat ${FIXTURE_FILES.shortLink}`));
    expect(d.fastLink).toBe("small.txt");
    try {
      fs.readLink(inode(FIXTURE_FILES.small));
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "InvalidArgument")).toBe(true);
    }
  });

  it("lists xattrs as debugfs ea_list does", () => {
    for (const p of PATHS) {
      const i = inode(p);
      const want = parseEaList(debugfs(image, `ea_list <${i.ino}>`));
      const mine = fs.listXattrs(i);
      expect(
        mine.map((x) => [x.name, x.value.length]),
        p,
      ).toEqual(want.map((w) => [w.name, w.length]));
      for (const w of want) {
        if (w.value !== null) expect(fs.getXattr(i, w.name)).toEqual(w.value);
      }
    }
    const small = inode(FIXTURE_FILES.small);
    expect(new TextDecoder().decode(fs.getXattr(small, "user.big") ?? new Uint8Array())).toBe(
      "v".repeat(700),
    );
    expect(fs.getXattr(small, "user.missing")).toBeNull();
    expect(fs.listXattrs(small).find((x) => x.name === "user.big")?.source).toBe("block");
  });

  it("recomputes xattr entry and block hashes as e2fsprogs stored them", () => {
    const small = inode(FIXTURE_FILES.small);
    const block = fs.readXattrBlock(small);
    if (block === null) throw new Error("small.txt has no xattr block");
    expect(fs.readXattrBlock(inode(FIXTURE_FILES.empty))).toBeNull();
    expect(block.checksumValid).toBe(true);
    expect(block.entries.length).toBeGreaterThan(0);
    for (const e of block.entries) {
      expect(xattrEntryHash(e.nameBytes, e.value ?? new Uint8Array())).toBe(e.hash);
    }
    // e2fsprogs leaves h_hash 0 (the kernel fixture checks a kernel-written one).
    if (block.hash !== 0) expect(xattrBlockHash(block.entries.map((e) => e.hash))).toBe(block.hash);
  });

  it("decodes the POSIX ACL", () => {
    const acl = fs.getPosixAcl(inode(FIXTURE_FILES.dir), "access");
    expect(acl).not.toBeNull();
    expect(aclToText(acl ?? [])).toBe(
      [
        "user::rw-",
        "user:1000:r--",
        "group::r--",
        "group:2000:r-x",
        "mask::r-x",
        "other::r--",
      ].join("\n"),
    );
    expect(acl?.find((e) => e.tag === ACL_USER)?.id).toBe(1000);
    expect(acl?.find((e) => e.tag === ACL_GROUP)?.id).toBe(2000);
    expect(fs.getPosixAcl(inode(FIXTURE_FILES.dir), "default")).toBeNull();
    expect(
      decodeExt4Acl(
        fs.getXattr(inode(FIXTURE_FILES.dir), "system.posix_acl_access") ?? new Uint8Array(),
      ),
    ).toEqual(acl);
  });

  it("reads inline data as debugfs reports it", () => {
    const medium = inode(FIXTURE_FILES.medium);
    if (kind !== "ext4-inline") {
      expect(medium.inlineData()).toBeNull();
      return;
    }
    const data = medium.inlineData();
    expect(data?.length).toBe(100);
    expect(new TextDecoder().decode(data ?? new Uint8Array()).slice(0, 100)).toBe("m".repeat(100));
    expect(inode(FIXTURE_FILES.dir).inlineData()).not.toBeNull();
    try {
      fs.readFileBlock(medium, 0);
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "InvalidArgument")).toBe(true);
    }
  });

  it("reads the superblock as debugfs stats does", () => {
    const { header } = parseStats(debugfs(image, "stats"));
    const sb = fs.superblock;
    expect(sb.blocksCount).toBe(Number(header.get("Block count")));
    expect(sb.inodesCount).toBe(Number(header.get("Inode count")));
    expect(sb.reservedBlocksCount).toBe(Number(header.get("Reserved block count")));
    expect(sb.freeBlocksCount).toBe(Number(header.get("Free blocks")));
    expect(sb.freeInodesCount).toBe(Number(header.get("Free inodes")));
    expect(sb.firstDataBlock).toBe(Number(header.get("First block")));
    expect(sb.blockSize).toBe(Number(header.get("Block size")));
    expect(sb.blocksPerGroup).toBe(Number(header.get("Blocks per group")));
    expect(sb.inodesPerGroup).toBe(Number(header.get("Inodes per group")));
    expect(sb.inodeTableBlocks).toBe(Number(header.get("Inode blocks per group")));
    expect(sb.reservedGdtBlocks).toBe(Number(header.get("Reserved GDT blocks") ?? 0));
    expect(sb.inodeSize).toBe(Number(header.get("Inode size")));
    expect(sb.firstIno).toBe(Number(header.get("First inode")));
    expect(sb.uuidString).toBe(header.get("Filesystem UUID"));
    expect(sb.features.names().join(" ")).toBe(header.get("Filesystem features"));
    expect(sb.minExtraIsize).toBe(Number(header.get("Required extra isize") ?? 0));
    expect(sb.journalInum).toBe(Number(header.get("Journal inode") ?? 0));
    if (header.has("Group descriptor size")) {
      expect(sb.descSize).toBe(Number(header.get("Group descriptor size")));
    }
    if (header.has("Checksum")) expect(sb.checksum).toBe(Number(header.get("Checksum")));
    expect(sb.volumeName === "" ? "<none>" : sb.volumeName).toBe(
      header.get("Filesystem volume name"),
    );
    expect(fs.stats().directories).toBe(Number(header.get("Directories")));
    expect(fs.stats().groupFreeBlocks).toBe(sb.freeBlocksCount);
    expect(fs.stats().groupFreeInodes).toBe(sb.freeInodesCount);
  });

  it("reads group descriptors as debugfs stats does", () => {
    const { groups } = parseStats(debugfs(image, "stats"));
    expect(groups.length).toBe(fs.superblock.groupCount);
    for (const g of groups) {
      const gd = fs.group(g.group);
      expect([gd.blockBitmap, gd.inodeBitmap, gd.inodeTable]).toEqual([
        g.blockBitmap,
        g.inodeBitmap,
        g.inodeTable,
      ]);
      expect([gd.freeBlocksCount, gd.freeInodesCount, gd.usedDirsCount]).toEqual([
        g.freeBlocks,
        g.freeInodes,
        g.dirs,
      ]);
      if (g.unused !== null) expect(gd.itableUnused).toBe(g.unused);
      if (g.checksum !== null) expect(gd.checksum).toBe(g.checksum);
      expect((gd.flags & 1) !== 0).toBe(g.flags.includes("Inode not init"));
      expect((gd.flags & 2) !== 0).toBe(g.flags.includes("Block not init"));
      expect(gd.checksumValid).toBe(true);
    }
  });

  it("finds the backup superblocks dumpe2fs lists, and reads one", () => {
    const text = dumpe2fs(image);
    const backups = [...text.matchAll(/Backup superblock at (\d+)/g)].map((m) => Number(m[1]));
    const mine = superblockLocations(fs.superblock);
    expect(mine[0]?.group).toBe(0);
    expect(mine.slice(1).map((l) => l.block)).toEqual(backups);
  });

  it("reads bitmaps that agree with the descriptors and debugfs testb", () => {
    const sb = fs.superblock;
    for (let g = 0; g < sb.groupCount; g++) {
      const gd = fs.group(g);
      const b = fs.readBlockBitmap(g);
      expect(b.checksumValid).toBe(true);
      expect(b.bitmap.countSet(), `group ${g}`).toBe(sb.clustersPerGroup - gd.freeBlocksCount);
      const i = fs.readInodeBitmap(g);
      expect(i.bitmap.countSet(), `group ${g}`).toBe(sb.inodesPerGroup - gd.freeInodesCount);
    }
    // Sample blocks of every group against testb (uninit groups included).
    const probes: number[] = [];
    for (let g = 0; g < sb.groupCount; g++) {
      const first = sb.firstDataBlock + g * sb.blocksPerGroup;
      for (const d of [0, 1, 2, 300, 1000, 5000]) {
        // debugfs refuses block 0 ("Invalid block number").
        if (first + d < sb.blocksCount && first + d > 0) probes.push(first + d);
      }
    }
    const out = debugfsScript(
      image,
      probes.map((b) => `testb ${b}`),
      false,
    );
    for (const b of probes) {
      const used = new RegExp(`Block ${b} marked in use\\b`).test(out);
      expect(fs.isBlockInUse(b), `block ${b}`).toBe(used);
    }
    for (const p of PATHS) expect(fs.isInodeInUse(ino.get(p) ?? 0)).toBe(true);
    expect(fs.isInodeInUse(sb.inodesCount)).toBe(false);
  });

  it("opens from every backup superblock and its backup descriptors", () => {
    for (const loc of superblockLocations(fs.superblock).slice(1)) {
      const b = Filesystem.open(FileDevice.open(image, { readOnly: true }), {
        backup: { block: loc.block, blockSize: fs.blockSize },
      });
      try {
        expect(b.superblock.blockGroupNr).toBe(loc.group);
        expect(b.groups.map((g) => [g.blockBitmap, g.inodeBitmap, g.inodeTable])).toEqual(
          fs.groups.map((g) => [g.blockBitmap, g.inodeBitmap, g.inodeTable]),
        );
        const big = b.readInode(ino.get(FIXTURE_FILES.big) ?? 0);
        expect(b.readFile(big, 0, 4096)).toEqual(fs.readFile(inode(FIXTURE_FILES.big), 0, 4096));
      } finally {
        b.close();
      }
    }
  });

  it("satisfies the directory module's DirHost contract", () => {
    const host: DirHost = fs;
    const root = host.readInode(2);
    expect(root.ino).toBe(2);
    expect(host.hashSeed.length).toBe(4);
    expect(host.hasFeature("filetype")).toBe(true);
    expect(host.readFileBlock(root, 0)?.length ?? root.inlineData()?.length).toBeGreaterThan(0);
    expect(host.readLink(host.readInode(ino.get(FIXTURE_FILES.shortLink) ?? 0))).toBe("small.txt");
  });

  it("reports no orphans on a clean image", () => {
    const o = fs.orphans();
    expect(o.list).toEqual([]);
    if (o.file !== null) expect(o.file.blocks.every((b) => b.inodes.length === 0)).toBe(true);
  });
});

describe("orphan list and journal edge cases", () => {
  const open = (image: string): Filesystem =>
    Filesystem.open(FileDevice.open(image, { readOnly: true }));

  it("follows the s_last_orphan chain through i_dtime and refuses a loop", () => {
    const image = mkfs({ args: ["-b", "1024"], size: 16 << 20, from: fixtureTree() });
    const a = inodeOf(image, FIXTURE_FILES.small);
    const b = inodeOf(image, FIXTURE_FILES.medium);
    debugfsScript(image, [`ssv last_orphan ${a}`, `sif <${a}> dtime ${b}`, `sif <${b}> dtime 0`]);
    let fs = open(image);
    try {
      expect(fs.orphans().list).toEqual([a, b]);
    } finally {
      fs.close();
    }
    debugfsScript(image, [`sif <${b}> dtime ${a}`]);
    fs = open(image);
    try {
      fs.orphans();
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
      expect((e as { code: string }).code).toBe("ORPHAN_LOOP");
    } finally {
      fs.close();
    }
  });

  it("reports an external journal as not supported and no journal as null", () => {
    const image = mkfs({ args: ["-b", "1024"], size: 16 << 20 });
    debugfsScript(image, ["ssv journal_inum 0", "ssv journal_dev 0x801"]);
    const fs = open(image);
    try {
      fs.journal();
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "NotSupported")).toBe(true);
    } finally {
      fs.close();
    }
    const plain = open(mkfs({ type: "ext2", args: ["-b", "1024"], size: 8 << 20 }));
    try {
      expect(plain.journal()).toBeNull();
    } finally {
      plain.close();
    }
  });

  it("refuses an image whose block count exceeds the device", () => {
    const image = mkfs({ args: ["-b", "1024"], size: 16 << 20 });
    const bytes = readAt(image, 0, 8 << 20);
    try {
      Filesystem.open(new MemoryDevice(bytes, { readOnly: true }));
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
    }
  });
});
