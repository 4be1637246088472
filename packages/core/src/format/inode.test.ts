import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { ByteView } from "../view.js";
import {
  decodeInode,
  decodeTime,
  encodeInode,
  encodeTime,
  INODE,
  type InodeFields,
  inodeChecksum,
  inodeChecksumValid,
  setInodeChecksum,
  type Timestamp,
} from "./inode.js";

const PARAMS = { inodeSize: 256, hugeFile: true, is64bit: true };

/** Seconds the 32-bit field plus two epoch bits can hold (kernel table in ext4.h). */
const timestamp: fc.Arbitrary<Timestamp> = fc.record({
  sec: fc.integer({ min: -(2 ** 31), max: 3 * 2 ** 32 + 2 ** 31 - 1 }),
  nsec: fc.nat(999_999_999),
});

const fields: fc.Arbitrary<InodeFields> = fc.record({
  mode: fc.nat(0xffff),
  uid: fc.nat(0xffffffff),
  gid: fc.nat(0xffffffff),
  size: fc.nat(Number.MAX_SAFE_INTEGER),
  atime: timestamp,
  ctime: timestamp,
  mtime: timestamp,
  crtime: timestamp,
  dtime: fc.nat(0xffffffff),
  linksCount: fc.nat(0xffff),
  blocksRaw: fc.nat(2 ** 48 - 1),
  blocksUnitIsFsBlock: fc.constant(false),
  flags: fc.nat(0xffffffff).map((f) => (f & ~0x40000) >>> 0),
  version: fc.nat(Number.MAX_SAFE_INTEGER),
  iBlock: fc.uint8Array({ minLength: 60, maxLength: 60 }),
  generation: fc.nat(0xffffffff),
  fileAcl: fc.nat(2 ** 48 - 1),
  extraIsize: fc.constant(32),
  checksum: fc.nat(0xffffffff),
  projid: fc.nat(0xffffffff),
});

describe("ext4_inode table", () => {
  it("is 160 bytes with the kernel's offsets", () => {
    expect(INODE.size).toBe(160);
    expect(INODE.offsetOf("i_flags")).toBe(0x20);
    expect(INODE.offsetOf("i_block")).toBe(0x28);
    expect(INODE.offsetOf("i_generation")).toBe(0x64);
    expect(INODE.offsetOf("i_file_acl_lo")).toBe(0x68);
    expect(INODE.offsetOf("i_size_high")).toBe(0x6c);
    expect(INODE.offsetOf("l_i_blocks_high")).toBe(0x74);
    expect(INODE.offsetOf("l_i_checksum_lo")).toBe(0x7c);
    expect(INODE.offsetOf("i_extra_isize")).toBe(0x80);
    expect(INODE.offsetOf("i_checksum_hi")).toBe(0x82);
    expect(INODE.offsetOf("i_crtime")).toBe(0x90);
    expect(INODE.offsetOf("i_version_hi")).toBe(0x98);
    expect(INODE.offsetOf("i_projid")).toBe(0x9c);
  });
});

describe("timestamps", () => {
  it("round-trip through the 32-bit seconds and the extra word", () => {
    fc.assert(
      fc.property(timestamp, (t) => {
        const e = encodeTime(t);
        expect(e.seconds).toBeGreaterThanOrEqual(-(2 ** 31));
        expect(e.seconds).toBeLessThan(2 ** 31);
        expect(decodeTime(e.seconds, e.extra)).toEqual(t);
      }),
    );
  });

  it("follow the kernel's epoch table", () => {
    expect(encodeTime({ sec: -1, nsec: 0 })).toEqual({ seconds: -1, extra: 0 });
    expect(encodeTime({ sec: 2 ** 31, nsec: 0 })).toEqual({ seconds: -(2 ** 31), extra: 1 });
    expect(encodeTime({ sec: 2 ** 32 + 5, nsec: 7 })).toEqual({ seconds: 5, extra: (7 << 2) | 1 });
    expect(decodeTime(-(2 ** 31), 1).sec).toBe(2 ** 31);
    expect(decodeTime(100, undefined)).toEqual({ sec: 100, nsec: 0 });
  });
});

describe("inode codec", () => {
  it("round-trips every field (decode ∘ encode = identity)", () => {
    fc.assert(
      fc.property(fields, (f) => {
        const raw = new Uint8Array(256);
        encodeInode(raw, f, PARAMS);
        expect(decodeInode(raw, PARAMS)).toEqual(f);
      }),
      { numRuns: 200 },
    );
  });

  it("omits extra fields a small i_extra_isize has no room for", () => {
    fc.assert(
      fc.property(fields, (f) => {
        const raw = new Uint8Array(256);
        encodeInode(
          raw,
          { ...f, extraIsize: 4, crtime: null, projid: 0, version: f.version % 2 ** 32 },
          PARAMS,
        );
        const d = decodeInode(raw, PARAMS);
        expect(d.crtime).toBeNull();
        expect(d.atime.nsec).toBe(0);
        expect(d.checksum).toBe(f.checksum);
      }),
      { numRuns: 50 },
    );
  });

  it("refuses an i_extra_isize past the inode or not a multiple of 4", () => {
    for (const bad of [130, 6, 1000]) {
      const raw = new Uint8Array(256);
      new ByteView(raw).setU16(INODE.offsetOf("i_extra_isize"), bad);
      try {
        decodeInode(raw, PARAMS, { inode: 12 });
        expect.unreachable();
      } catch (e) {
        expect(isExt4Error(e, "Corrupt")).toBe(true);
      }
    }
  });

  it("checksums 32 bits with i_checksum_hi, 16 without, and detects any flipped bit", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 256, maxLength: 256 }),
        fc.nat(0xffffffff),
        fc.nat(255 * 8),
        fc.boolean(),
        (raw, seed, flip, small) => {
          new ByteView(raw).setU16(INODE.offsetOf("i_extra_isize"), small ? 0 : 32);
          setInodeChecksum(seed, 12, raw, 256);
          expect(inodeChecksumValid(seed, 12, raw, 256)).toBe(true);
          const byte = flip >> 3;
          // Without i_checksum_hi its bytes are covered data, not checksum.
          if (byte === 0x7c || byte === 0x7d || (!small && (byte === 0x82 || byte === 0x83)))
            return;
          raw[byte] = (raw[byte] ?? 0) ^ (1 << (flip & 7));
          const still = inodeChecksumValid(seed, 12, raw, 256);
          if (!small) expect(still).toBe(false);
          else
            expect(still).toBe(
              (inodeChecksum(seed, 12, raw, 256) & 0xffff) === new ByteView(raw).u16(0x7c),
            );
        },
      ),
      { numRuns: 200 },
    );
  });

  it("accepts an all-zero inode", () => {
    expect(inodeChecksumValid(0x1234, 99, new Uint8Array(256), 256)).toBe(true);
  });
});
