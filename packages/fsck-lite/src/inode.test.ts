/**
 * The checker's one-call inode checksum agrees with the core's
 * inodeChecksumValid (the reference), and the block-map walkers terminate
 * without throwing anything but Ext4Error on arbitrary i_block contents.
 */
import { inodeChecksumValid, isExt4Error, setInodeChecksum } from "@ext4/core";
import { BufferCache, MemoryDevice } from "@ext4/iocache";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CheckContext, F } from "./context.js";
import { decodeInode, inodeCsumOk } from "./inode.js";
import { walkBlockMap, walkExtents } from "./walk.js";

/** A context with just enough geometry for the inode-level helpers. */
function fakeContext(blocks = 64, blockSize = 1024): CheckContext {
  const ctx = new CheckContext(new MemoryDevice(blocks * blockSize), {
    maxProblems: 1000,
    cacheBytes: 1 << 20,
    now: 0,
  });
  ctx.g = {
    blockSize,
    blocksCount: blocks,
    inodesCount: 64,
    firstDataBlock: 1,
    blocksPerGroup: 8192,
    inodesPerGroup: 64,
    groupCount: 1,
    inodeSize: 256,
    descSize: 32,
    firstIno: 11,
    itableBlocks: 16,
    gdtBlocks: 1,
    reservedGdtBlocks: 0,
    compat: 0,
    incompat: F.INCOMPAT_EXTENTS,
    roCompat: F.RO_METADATA_CSUM,
    csumSeed: 0x12345678,
    hashSeed: [0, 0, 0, 0],
    defHashVersion: 1,
    unsignedHash: false,
    uuid: new Uint8Array(16),
    revLevel: 1,
    logGroupsPerFlex: 0,
    firstMetaBg: 0,
    backupBgs: [0, 0],
    minExtraIsize: 32,
    journalInum: 0,
    preallocDirBlocks: 0,
    freeBlocks: 0,
    freeInodes: 0,
    creatorOs: 0,
  };
  ctx.cache = new BufferCache(ctx.dev, { blockSize, capacityBytes: 1 << 20 });
  return ctx;
}

describe("inodeCsumOk", () => {
  it("agrees with the core's inodeChecksumValid on random inodes, signed or not", () => {
    const ctx = fakeContext();
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        fc.integer({ min: 1, max: 1 << 20 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 40 }),
        (raw, ino, sign, extra) => {
          raw[128] = extra;
          raw[129] = 0;
          raw[0] = raw[0]! | 1; // a non-zero base: the all-zero exemption is tested below
          if (sign) setInodeChecksum(ctx.g.csumSeed, ino, raw, 256);
          const ours = inodeCsumOk(ctx, decodeInode(ino, raw));
          expect(ours).toBe(inodeChecksumValid(ctx.g.csumSeed, ino, raw, 256));
          if (sign) expect(ours).toBe(true);
        },
      ),
    );
    expect(inodeCsumOk(ctx, decodeInode(5, new Uint8Array(256)))).toBe(true);
  });
});

describe("block-map walkers", () => {
  it("terminate and throw nothing but Ext4Error on arbitrary i_block contents and blocks", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 60, maxLength: 60 }),
        fc.uint8Array({ minLength: 0, maxLength: 4096 }),
        fc.boolean(),
        (iblock, disk, extents) => {
          const ctx = fakeContext(64);
          (ctx.dev as MemoryDevice).bytes.set(disk, 2048);
          const raw = new Uint8Array(256);
          raw.set(iblock, 40);
          if (extents) {
            // Start from a plausible header half the time so the walk goes deeper.
            raw.set([0x0a, 0xf3, iblock[2]! & 7, 0, 4, 0, iblock[6]! & 3, 0], 40);
          }
          const inode = decodeInode(12, raw);
          let visited = 0;
          const v = {
            data: (_l: number, _p: number, len: number) => {
              visited += len;
            },
            meta: () => {
              visited++;
            },
          };
          try {
            if (extents) walkExtents(ctx, inode, v, true);
            else walkBlockMap(ctx, inode, v, () => {});
          } catch (e) {
            expect(isExt4Error(e)).toBe(true);
          }
          expect(visited).toBeLessThan(1 << 24);
        },
      ),
      { numRuns: 500 },
    );
  });
});
