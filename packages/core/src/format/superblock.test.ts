import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Ext4Error, isExt4Error } from "../errors.js";
import { arbitraryRecord } from "../test-support/arbitrary.js";
import { fixture } from "../test-support/fixtures.js";
import { mkfs, readAt } from "../test-support/mkfs.js";
import { ByteView } from "../view.js";
import {
  decodeRawSuperblock,
  encodeRawSuperblock,
  groupHasSuper,
  parseSuperblock,
  SUPERBLOCK,
  SUPERBLOCK_OFFSET,
  setSuperblockChecksum,
  superblockLocations,
} from "./superblock.js";

function primary(kind: Parameters<typeof fixture>[0]): Uint8Array {
  return readAt(fixture(kind), SUPERBLOCK_OFFSET, 1024);
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof Ext4Error) return `${e.kind}:${e.code}`;
    throw e;
  }
  return "ok";
}

describe("ext4_super_block table", () => {
  it("is 1024 bytes with the kernel's offsets", () => {
    expect(SUPERBLOCK.size).toBe(1024);
    const at = (n: Parameters<typeof SUPERBLOCK.offsetOf>[0]) => SUPERBLOCK.offsetOf(n);
    expect(at("s_free_inodes_count")).toBe(0x10);
    expect(at("s_blocks_per_group")).toBe(0x20);
    expect(at("s_wtime")).toBe(0x30);
    expect(at("s_magic")).toBe(0x38);
    expect(at("s_lastcheck")).toBe(0x40);
    expect(at("s_def_resuid")).toBe(0x50);
    expect(at("s_feature_incompat")).toBe(0x60);
    expect(at("s_uuid")).toBe(0x68);
    expect(at("s_volume_name")).toBe(0x78);
    expect(at("s_last_mounted")).toBe(0x88);
    expect(at("s_algorithm_usage_bitmap")).toBe(0xc8);
    expect(at("s_journal_uuid")).toBe(0xd0);
    expect(at("s_journal_inum")).toBe(0xe0);
    expect(at("s_default_mount_opts")).toBe(0x100);
    expect(at("s_blocks_count_hi")).toBe(0x150);
    expect(at("s_mount_opts")).toBe(0x200);
    expect(at("s_checksum_seed")).toBe(0x270);
    expect(at("s_encoding")).toBe(0x27c);
    expect(at("s_orphan_file_inum")).toBe(0x280);
    expect(at("s_checksum")).toBe(0x3fc);
  });

  it("round-trips every raw field (decode ∘ encode = identity)", () => {
    fc.assert(
      fc.property(arbitraryRecord(SUPERBLOCK.fields), (rec) => {
        const buf = new Uint8Array(1024);
        encodeRawSuperblock(new ByteView(buf), rec);
        expect(decodeRawSuperblock(new ByteView(buf))).toEqual(rec);
      }),
      { numRuns: 200 },
    );
  });
});

describe("parseSuperblock", () => {
  it("round-trips validated fields through the raw table", () => {
    const base = primary("ext4");
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom(..."abcXYZ019-_"), maxLength: 16 }),
        fc.nat(0xff),
        fc.nat(0xffffffff),
        fc.nat(0xffff),
        (label, wtimeHi, wtime, mnt) => {
          const buf = base.slice();
          const v = new ByteView(buf);
          SUPERBLOCK.setBytes(v, "s_volume_name", new TextEncoder().encode(label));
          SUPERBLOCK.set(v, "s_wtime", wtime);
          SUPERBLOCK.set(v, "s_wtime_hi", wtimeHi);
          SUPERBLOCK.set(v, "s_mnt_count", mnt);
          setSuperblockChecksum(buf);
          const sb = parseSuperblock(buf);
          expect(sb.volumeName).toBe(label);
          expect(sb.writeTime).toBe(wtime + wtimeHi * 2 ** 32);
          expect(sb.mountCount).toBe(mnt);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("derives geometry for 1 KiB and 4 KiB blocks", () => {
    const big = parseSuperblock(primary("ext4"));
    expect([big.blockSize, big.firstDataBlock, big.descSize, big.clusterRatio]).toEqual([
      4096, 0, 64, 1,
    ]);
    const small = parseSuperblock(primary("ext4-1k"));
    expect([small.blockSize, small.firstDataBlock, small.groupCount]).toEqual([1024, 1, 6]);
    const no64 = parseSuperblock(primary("ext4-no64"));
    expect(no64.descSize).toBe(32);
    expect(no64.features.has("64bit")).toBe(false);
    expect(big.hashSeed.length).toBe(4);
    expect(big.csumSeed).toBe(big.features.has("csum_seed") ? big.checksumSeed : big.csumSeed);
  });

  it("names the failed check", () => {
    const good = primary("ext4");
    const mutate = (f: (v: ByteView) => void, fixCsum = true): Uint8Array => {
      const b = good.slice();
      f(new ByteView(b));
      if (fixCsum) setSuperblockChecksum(b);
      return b;
    };
    expect(code(() => parseSuperblock(good))).toBe("ok");
    expect(code(() => parseSuperblock(mutate((v) => SUPERBLOCK.set(v, "s_magic", 0x1234))))).toBe(
      "Corrupt:SB_BAD_MAGIC",
    );
    expect(
      code(() => parseSuperblock(mutate((v) => SUPERBLOCK.set(v, "s_mnt_count", 7), false))),
    ).toBe("BadChecksum:SB_BAD_CHECKSUM");
    expect(
      code(() =>
        parseSuperblock(
          mutate((v) => SUPERBLOCK.set(v, "s_mnt_count", 7), false),
          { verifyChecksum: false },
        ),
      ),
    ).toBe("ok");
    expect(
      code(() => parseSuperblock(mutate((v) => SUPERBLOCK.set(v, "s_log_block_size", 7)))),
    ).toBe("Corrupt:SB_BAD_BLOCK_SIZE");
    expect(
      code(() => parseSuperblock(mutate((v) => SUPERBLOCK.set(v, "s_inodes_count", 12345)))),
    ).toBe("Corrupt:SB_BAD_INODES_COUNT");
    expect(code(() => parseSuperblock(mutate((v) => SUPERBLOCK.set(v, "s_rev_level", 2))))).toBe(
      "Incompatible:SB_REV_TOO_HIGH",
    );
    expect(code(() => parseSuperblock(mutate((v) => SUPERBLOCK.set(v, "s_inode_size", 200))))).toBe(
      "Corrupt:SB_BAD_INODE_SIZE",
    );
    expect(
      code(() => parseSuperblock(mutate((v) => SUPERBLOCK.set(v, "s_first_data_block", 1)))),
    ).toBe("Corrupt:SB_BAD_FIRST_DATA_BLOCK");
  });

  it("refuses unknown incompat bits by name and opens unknown ro_compat read-only", () => {
    const good = primary("ext4");
    const withBits = (
      field: "s_feature_incompat" | "s_feature_ro_compat",
      bits: number,
    ): Uint8Array => {
      const b = good.slice();
      const v = new ByteView(b);
      SUPERBLOCK.set(v, field, (SUPERBLOCK.get(v, field) | bits) >>> 0);
      setSuperblockChecksum(b);
      return b;
    };
    try {
      parseSuperblock(withBits("s_feature_incompat", 0x80000000 | 0x1));
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Incompatible")).toBe(true);
      expect((e as Error).message).toContain("compression");
      expect((e as Error).message).toContain("0x80000000");
    }
    const ro = parseSuperblock(withBits("s_feature_ro_compat", 0x40000000));
    expect(ro.readOnlyReason).toContain("0x40000000");
    expect(parseSuperblock(good).readOnlyReason).toBeNull();
  });
});

describe("backup superblocks", () => {
  it("follow sparse_super: groups 0, 1 and powers of 3, 5, 7", () => {
    const sb = parseSuperblock(primary("ext4-1k"));
    expect(superblockLocations(sb).map((l) => l.group)).toEqual([0, 1, 3, 5]);
    expect(
      [0, 1, 2, 3, 4, 5, 6, 7, 9, 25, 27, 49].filter((g) =>
        groupHasSuper({ ...sb, groupCount: 100 }, g),
      ),
    ).toEqual([0, 1, 3, 5, 7, 9, 25, 27, 49]);
  });

  it("are readable and carry their group number", () => {
    const image = fixture("ext4-1k");
    const sb = parseSuperblock(primary("ext4-1k"));
    for (const loc of superblockLocations(sb).slice(1)) {
      const backup = parseSuperblock(readAt(image, loc.byteOffset, 1024));
      expect(backup.blockGroupNr).toBe(loc.group);
      expect(backup.uuidString).toBe(sb.uuidString);
    }
  });

  it("follow sparse_super2 (s_backup_bgs) as dumpe2fs lists them", () => {
    const image = mkfs({ args: ["-b", "1024", "-O", "sparse_super2"], size: 64 << 20 });
    const sb = parseSuperblock(readAt(image, SUPERBLOCK_OFFSET, 1024));
    const groups = superblockLocations(sb).map((l) => l.group);
    expect(groups[0]).toBe(0);
    expect(groups.slice(1)).toEqual(sb.backupBgs.filter((g) => g !== 0));
    for (const loc of superblockLocations(sb).slice(1)) {
      expect(parseSuperblock(readAt(image, loc.byteOffset, 1024)).blockGroupNr).toBe(loc.group);
    }
  });
});
