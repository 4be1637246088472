import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32cTable } from "../crc.js";
import { isExt4Error } from "../errors.js";
import { ByteView } from "../view.js";
import {
  decodeInode,
  decodeOwnedInode,
  decodeTime,
  encodeInode,
  encodeTime,
  INODE,
  type InodeDecodeParams,
  type InodeField,
  type InodeFields,
  inodeChecksum,
  inodeChecksumValid,
  ownedInodeChecksumValid,
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

// The decoder, encoder and checksum read and write through offsets precomputed
// from the INODE table; these references go through the table by name, field
// by field, as the codec did before, and the two must agree on any bytes.
function tableDecode(raw: Uint8Array, params: InodeDecodeParams): InodeFields {
  const v = new ByteView(raw, {}, 0, params.inodeSize);
  let extraIsize = 0;
  if (params.inodeSize > 128) {
    extraIsize = INODE.get(v, "i_extra_isize");
    if (128 + extraIsize > params.inodeSize || (extraIsize & 3) !== 0) throw new Error("extra");
  }
  const fits = (name: InodeField): boolean => {
    const f = INODE.field(name);
    return f.offset + f.width <= 128 + extraIsize;
  };
  const g = (name: InodeField): number => INODE.get(v, name);
  const opt = (name: InodeField): number | undefined => (fits(name) ? g(name) : undefined);
  const flags = g("i_flags");
  return {
    mode: g("i_mode"),
    uid: g("i_uid") + g("l_i_uid_high") * 0x10000,
    gid: g("i_gid") + g("l_i_gid_high") * 0x10000,
    size: INODE.getLoHi(v, "i_size_lo", "i_size_high"),
    atime: decodeTime(g("i_atime"), opt("i_atime_extra")),
    ctime: decodeTime(g("i_ctime"), opt("i_ctime_extra")),
    mtime: decodeTime(g("i_mtime"), opt("i_mtime_extra")),
    crtime: fits("i_crtime") ? decodeTime(g("i_crtime"), opt("i_crtime_extra")) : null,
    dtime: g("i_dtime"),
    linksCount: g("i_links_count"),
    blocksRaw: g("i_blocks_lo") + (params.hugeFile ? g("l_i_blocks_high") * 2 ** 32 : 0),
    blocksUnitIsFsBlock: params.hugeFile && (flags & 0x40000) !== 0,
    flags,
    version: g("l_i_version") + (opt("i_version_hi") ?? 0) * 2 ** 32,
    iBlock: INODE.bytesOf(v, "i_block").slice(),
    generation: g("i_generation"),
    fileAcl: g("i_file_acl_lo") + (params.is64bit ? g("l_i_file_acl_high") * 2 ** 32 : 0),
    extraIsize,
    checksum: g("l_i_checksum_lo") + (opt("i_checksum_hi") ?? 0) * 0x10000,
    projid: opt("i_projid") ?? 0,
  };
}

function tableEncode(raw: Uint8Array, f: InodeFields, params: InodeDecodeParams): void {
  const v = new ByteView(raw, {}, 0, params.inodeSize);
  const extra = params.inodeSize > 128 ? f.extraIsize : 0;
  const s = (name: InodeField, value: number): void => {
    const d = INODE.field(name);
    if (d.offset + d.width <= 128 + extra) INODE.set(v, name, value);
  };
  s("i_mode", f.mode);
  s("i_uid", f.uid & 0xffff);
  s("l_i_uid_high", f.uid >>> 16);
  s("i_gid", f.gid & 0xffff);
  s("l_i_gid_high", f.gid >>> 16);
  INODE.setLoHi(v, "i_size_lo", "i_size_high", f.size);
  const time = (t: Timestamp | null, base: InodeField, extraField: InodeField): void => {
    if (t === null) return;
    const e = encodeTime(t);
    s(base, e.seconds);
    s(extraField, e.extra);
  };
  time(f.atime, "i_atime", "i_atime_extra");
  time(f.ctime, "i_ctime", "i_ctime_extra");
  time(f.mtime, "i_mtime", "i_mtime_extra");
  time(f.crtime, "i_crtime", "i_crtime_extra");
  s("i_dtime", f.dtime);
  s("i_links_count", f.linksCount);
  s("i_blocks_lo", f.blocksRaw % 2 ** 32);
  s("l_i_blocks_high", Math.floor(f.blocksRaw / 2 ** 32));
  s("i_flags", f.flags);
  s("l_i_version", f.version % 2 ** 32);
  s("i_version_hi", Math.floor(f.version / 2 ** 32));
  INODE.setBytes(v, "i_block", f.iBlock);
  s("i_generation", f.generation);
  s("i_file_acl_lo", f.fileAcl % 2 ** 32);
  s("l_i_file_acl_high", Math.floor(f.fileAcl / 2 ** 32));
  if (params.inodeSize > 128) INODE.set(v, "i_extra_isize", extra);
  s("i_projid", f.projid);
  s("l_i_checksum_lo", f.checksum & 0xffff);
  s("i_checksum_hi", f.checksum >>> 16);
}

/** ext4_inode_csum by definition: a copy with both checksum halves zeroed, one crc over it. */
function tableChecksum(fsSeed: number, ino: number, raw: Uint8Array, inodeSize: number): number {
  const v = new ByteView(raw, {}, 0, inodeSize);
  const le = new Uint8Array(8);
  new ByteView(le).setU32(0, ino);
  new ByteView(le).setU32(4, INODE.get(v, "i_generation"));
  const copy = raw.slice(0, inodeSize);
  const cv = new ByteView(copy);
  INODE.set(cv, "l_i_checksum_lo", 0);
  if (inodeSize > 128 && INODE.get(cv, "i_extra_isize") >= 4) INODE.set(cv, "i_checksum_hi", 0);
  return crc32cTable(crc32cTable(fsSeed, le), copy);
}

/** Random inode bytes whose i_extra_isize is valid (or not) for the size. */
const inodeBytes = fc
  .record({
    size: fc.constantFrom(128, 256, 512, 1024),
    extra: fc.oneof(fc.constantFrom(0, 4, 28, 32), fc.nat(0xffff)),
    seed: fc.uint8Array({ minLength: 1024, maxLength: 1024 }),
    hugeFile: fc.boolean(),
    is64bit: fc.boolean(),
    small: fc.boolean(),
  })
  .map(({ size, extra, seed, hugeFile, is64bit, small }) => {
    const raw = seed.slice(0, size);
    // Keep the size below 2^53 most of the time, so both decoders get past it.
    if (small) raw[0x6f] = 0;
    if (size > 128) new ByteView(raw).setU16(0x80, extra);
    return { raw, params: { inodeSize: size, hugeFile, is64bit } };
  });

function outcome<T>(f: () => T): { ok: T } | { err: string } {
  try {
    return { ok: f() };
  } catch (e) {
    return { err: isExt4Error(e) ? e.code : String(e) };
  }
}

describe("inode codec against the field table", () => {
  it("decodes any bytes exactly as the table decoder does", () => {
    fc.assert(
      fc.property(inodeBytes, ({ raw, params }) => {
        const fast = outcome(() => decodeInode(raw, params));
        const slow = outcome(() => tableDecode(raw, params));
        if ("ok" in slow) expect(fast).toEqual(slow);
        else expect("err" in fast).toBe(true);
        const owned = outcome(() => decodeOwnedInode(raw, params));
        expect(owned).toEqual(fast);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses what the table decoder refuses, with the same codes", () => {
    const raw = new Uint8Array(256);
    new ByteView(raw).setU16(0x80, 6);
    expect(outcome(() => decodeInode(raw, PARAMS))).toEqual({ err: "INODE_BAD_EXTRA_ISIZE" });
    raw.fill(0);
    raw[0x6f] = 0xff;
    expect(outcome(() => decodeInode(raw, PARAMS))).toEqual({ err: "VALUE_TOO_LARGE" });
    expect(() => decodeInode(new Uint8Array(100), PARAMS)).toThrow(RangeError);
  });

  it("shares i_block with an owned inode and copies it otherwise", () => {
    const raw = new Uint8Array(256);
    const owned = decodeOwnedInode(raw, PARAMS);
    const copied = decodeInode(raw, PARAMS);
    raw[0x28] = 9;
    expect(owned.iBlock[0]).toBe(9);
    expect(copied.iBlock[0]).toBe(0);
  });

  it("encodes exactly the bytes the table encoder writes, over any previous contents", () => {
    fc.assert(
      fc.property(
        fields,
        fc.uint8Array({ minLength: 512, maxLength: 512 }),
        fc.constantFrom(128, 256, 512),
        fc.constantFrom(0, 4, 12, 32),
        (f, before, size, extraIsize) => {
          const params = { ...PARAMS, inodeSize: size };
          const a = before.slice(0, size);
          const b = before.slice(0, size);
          const g = { ...f, extraIsize, crtime: extraIsize >= 28 ? f.crtime : null };
          encodeInode(a, g, params);
          tableEncode(b, g, params);
          expect(a).toEqual(b);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("checksums any bytes as the definition does (both halves zeroed, one crc)", () => {
    fc.assert(
      fc.property(
        inodeBytes,
        fc.nat(0xffffffff),
        fc.nat(0xffffffff),
        ({ raw, params }, seed, ino) => {
          const size = params.inodeSize;
          expect(inodeChecksum(seed, ino, raw, size)).toBe(tableChecksum(seed, ino, raw, size));
          // The in-place check of an owned copy answers the same and leaves the bytes as they were.
          const before = raw.slice();
          expect(ownedInodeChecksumValid(seed, ino, raw, size)).toBe(
            inodeChecksumValid(seed, ino, raw, size),
          );
          expect(raw).toEqual(before);
          const copy = raw.slice();
          setInodeChecksum(seed, ino, copy, size);
          expect(inodeChecksumValid(seed, ino, copy, size)).toBe(true);
          expect(ownedInodeChecksumValid(seed, ino, copy, size)).toBe(true);
          expect(ownedInodeChecksumValid(seed, ino, new Uint8Array(size), size)).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
