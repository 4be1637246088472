import { FileDevice } from "@ext4/iocache";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32cTable } from "../crc.js";
import { isExt4Error } from "../errors.js";
import { Filesystem } from "../fs.js";
import { parseStats } from "../test-support/debugfs-parse.js";
import { fixture } from "../test-support/fixtures.js";
import { debugfs, dumpe2fs, mkfs, readAt } from "../test-support/mkfs.js";
import { ByteView } from "../view.js";
import {
  descriptorBlock,
  encodeGroupDesc,
  GROUP_DESC,
  groupDescChecksum,
  groupDescLocation,
  parseGroupDesc,
} from "./group-desc.js";
import { parseSuperblock, SUPERBLOCK_OFFSET, type Superblock } from "./superblock.js";

function superblockOf(image: string): Superblock {
  return parseSuperblock(readAt(image, SUPERBLOCK_OFFSET, 1024));
}

describe("ext4_group_desc table", () => {
  it("is 64 bytes with the kernel's offsets", () => {
    expect(GROUP_DESC.size).toBe(64);
    expect(GROUP_DESC.offsetOf("bg_flags")).toBe(0x12);
    expect(GROUP_DESC.offsetOf("bg_itable_unused_lo")).toBe(0x1c);
    expect(GROUP_DESC.offsetOf("bg_checksum")).toBe(0x1e);
    expect(GROUP_DESC.offsetOf("bg_block_bitmap_hi")).toBe(0x20);
    expect(GROUP_DESC.offsetOf("bg_exclude_bitmap_hi")).toBe(0x34);
    expect(GROUP_DESC.offsetOf("bg_block_bitmap_csum_hi")).toBe(0x38);
    expect(GROUP_DESC.offsetOf("bg_inode_bitmap_csum_hi")).toBe(0x3a);
  });
});

describe.each(["ext4", "ext4-no64", "ext4-nocsum"] as const)("descriptors of %s", (kind) => {
  it("round-trip through encode and parse (decode ∘ encode = identity)", () => {
    const sb = superblockOf(fixture(kind));
    const wide = sb.descSize >= 64;
    const counter = (bits: number) => fc.nat(2 ** bits - 1);
    fc.assert(
      fc.property(
        fc.nat(sb.groupCount - 1),
        fc.integer({
          min: sb.gdtBlocks + 1 + sb.reservedGdtBlocks,
          max: sb.blocksCount - sb.inodeTableBlocks - 1,
        }),
        counter(wide ? 32 : 16),
        fc.nat(sb.inodesPerGroup),
        counter(wide ? 32 : 16),
        fc.nat(7),
        fc.nat(0xffffffff),
        fc.nat(0xffffffff),
        (group, where, freeBlocks, freeInodes, dirs, flags, bbCsum, ibCsum) => {
          const fields = {
            blockBitmap: where,
            inodeBitmap: where,
            inodeTable: where,
            freeBlocksCount: freeBlocks,
            freeInodesCount: freeInodes,
            usedDirsCount: dirs,
            flags,
            excludeBitmap: 0,
            blockBitmapCsum: wide ? bbCsum : bbCsum & 0xffff,
            inodeBitmapCsum: wide ? ibCsum : ibCsum & 0xffff,
            itableUnused: freeInodes,
          };
          const buf = new Uint8Array(sb.descSize);
          encodeGroupDesc(sb, fields, group, buf);
          const gd = parseGroupDesc({ ...sb, features: sb.features }, group, buf, {
            verifyChecksum: true,
          });
          const { raw: _r, checksum: _c, checksumValid, location: _l, group: g, ...rest } = gd;
          expect(rest).toEqual(fields);
          expect(g).toBe(group);
          expect(checksumValid).toBe(true);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("checksums as e2fsprogs wrote them, and catches a flipped bit", () => {
    const image = fixture(kind);
    const sb = superblockOf(image);
    const loc = groupDescLocation(sb, 0);
    const bytes = readAt(image, loc.block * sb.blockSize + loc.offset, sb.descSize);
    const stored = new ByteView(bytes).u16(GROUP_DESC.offsetOf("bg_checksum"));
    expect(groupDescChecksum(sb, 0, bytes)).toBe(stored);
    bytes[4] = (bytes[4] ?? 0) ^ 0x10;
    try {
      parseGroupDesc(sb, 0, bytes);
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "BadChecksum")).toBe(true);
    }
    expect(parseGroupDesc(sb, 0, bytes, { verifyChecksum: false }).checksumValid).toBe(false);
  });
});

describe("meta_bg", () => {
  it("places descriptor blocks as dumpe2fs reports, and opens", () => {
    const image = mkfs({ args: ["-b", "1024", "-O", "meta_bg,^resize_inode"], size: 160 << 20 });
    const sb = superblockOf(image);
    expect(sb.features.has("meta_bg")).toBe(true);
    const text = dumpe2fs(image);
    const primaries = new Map<number, number>();
    for (const m of text.matchAll(/^Group (\d+):.*\n(.*)$/gm)) {
      const d = /Group descriptor at (\d+)/.exec(m[2] ?? "");
      if (d) primaries.set(Number(m[1]), Number(d[1]));
    }
    const metaGroups = Math.ceil(sb.groupCount / sb.descPerBlock);
    expect(metaGroups).toBeGreaterThan(1);
    for (let nr = 0; nr < metaGroups; nr++) {
      expect(descriptorBlock(sb, nr)).toBe(primaries.get(nr * sb.descPerBlock));
    }
    const fs = Filesystem.open(FileDevice.open(image, { readOnly: true }));
    try {
      const { groups } = parseStats(debugfs(image, "stats"));
      expect(groups.map((g) => [g.blockBitmap, g.inodeTable, g.freeBlocks])).toEqual(
        fs.groups.map((g) => [g.blockBitmap, g.inodeTable, g.freeBlocksCount]),
      );
      for (let g = 0; g < sb.groupCount; g++) {
        const b = fs.readBlockBitmap(g);
        expect(b.bitmap.countSet()).toBe(sb.clustersPerGroup - fs.group(g).freeBlocksCount);
      }
      // The backup table after group 1's superblock copy (second group of each meta group).
      const backup = Filesystem.open(FileDevice.open(image, { readOnly: true }), {
        backup: { block: sb.blocksPerGroup + sb.firstDataBlock, blockSize: sb.blockSize },
      });
      try {
        expect(backup.groups.map((g) => [g.blockBitmap, g.inodeTable])).toEqual(
          fs.groups.map((g) => [g.blockBitmap, g.inodeTable]),
        );
      } finally {
        backup.close();
      }
    } finally {
      fs.close();
    }
  });
});

describe("the descriptor checksum", () => {
  it("is crc32c over le32 group and the bytes with bg_checksum zeroed, for any bytes", () => {
    const sb = superblockOf(fixture("ext4"));
    expect(sb.features.metadataCsum).toBe(true);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 80 }),
        fc.nat(0xffffffff),
        (desc, group) => {
          // By definition: a copy with the field zeroed, one crc over it.
          const copy = desc.slice(0, Math.min(desc.length, sb.descSize));
          copy.fill(0, 0x1e, 0x20);
          const le = new Uint8Array([group, group >>> 8, group >>> 16, group >>> 24]);
          const want = crc32cTable(crc32cTable(sb.csumSeed, le), copy) & 0xffff;
          expect(groupDescChecksum(sb, group, desc)).toBe(want);
        },
      ),
    );
  });
});
