import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import {
  DIRENT_TAIL_SIZE,
  dirBlockCsum,
  dirEntry2Struct,
  dirEntryHashStruct,
  dirEntryStruct,
  dirEntryTailStruct,
  dirRecLen,
  findDirEntry,
  parseDirEntries,
  readDirTail,
  recLenFromDisk,
  recLenToDisk,
  verifyDirBlockChecksum,
} from "./entry.js";
import { codeOf, parsesOrExt4Error } from "./test-support/assert.js";
import { dirBlock } from "./test-support/builders.js";

describe("directory entry structures", () => {
  it("have the kernel's sizes and offsets", () => {
    expect(dirEntry2Struct.size).toBe(8);
    expect(dirEntryStruct.size).toBe(8);
    expect(dirEntryStruct.offsetOf("name_len")).toBe(dirEntry2Struct.offsetOf("name_len"));
    expect(dirEntryTailStruct.size).toBe(12);
    expect(dirEntryTailStruct.offsetOf("det_checksum")).toBe(8);
    expect(dirEntryHashStruct.size).toBe(8);
    for (const s of [dirEntry2Struct, dirEntryStruct, dirEntryTailStruct, dirEntryHashStruct]) {
      let off = 0;
      for (const f of s.fields) {
        expect(f.offset).toBe(off);
        off += f.width;
      }
      expect(off).toBe(s.size);
    }
  });

  it("rounds record lengths like EXT4_DIR_REC_LEN", () => {
    expect([0, 1, 2, 3, 4, 5, 255].map((n) => dirRecLen(n))).toEqual([8, 12, 12, 12, 12, 16, 264]);
    expect(dirRecLen(1, true)).toBe(20);
  });
});

describe("rec_len encoding", () => {
  it("is the identity below 64 KiB blocks", () => {
    fc.assert(
      fc.property(fc.constantFrom(1024, 2048, 4096, 32768), fc.nat(0xffff), (bs, raw) => {
        expect(recLenFromDisk(raw, bs)).toBe(raw);
      }),
    );
  });

  it("round-trips every aligned length of a 64 KiB block", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16384 }), (q) => {
        const len = q * 4;
        const raw = recLenToDisk(len, 65536);
        expect(raw).toBeLessThanOrEqual(0xffff);
        expect(recLenFromDisk(raw, 65536)).toBe(len);
      }),
    );
    expect(recLenToDisk(65536, 65536)).toBe(0xffff);
    expect(recLenFromDisk(0, 65536)).toBe(65536);
  });
});

const nameArb = fc
  .uint8Array({ minLength: 1, maxLength: 255 })
  .filter((n) => !n.includes(0) && !n.includes(0x2f));

describe("linear blocks", () => {
  it("parse back exactly what the builder encoded, checksum included", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1024, 2048, 4096),
        fc.array(
          fc.record({
            ino: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
            name: nameArb,
            type: fc.nat(7),
          }),
          {
            maxLength: 12,
          },
        ),
        fc.boolean(),
        fc.nat(0xffffffff),
        (bs, entries, csum, seed) => {
          const b = dirBlock(bs);
          const fitting = [];
          let used = csum ? DIRENT_TAIL_SIZE : 0;
          for (const e of entries) {
            if (used + dirRecLen(e.name.length) > bs) break;
            used += dirRecLen(e.name.length);
            fitting.push(e);
            b.entry(e.ino, e.name, e.type);
          }
          if (csum) b.tail(seed);
          const block = b.build();
          const parsed = parseDirEntries(block, { blockSize: bs });
          const live = parsed.filter((e) => e.inode !== 0);
          expect(
            live.map((e) => ({ ino: e.inode, name: e.name.slice(), type: e.fileTypeRaw })),
          ).toEqual(fitting.map((e) => ({ ino: e.ino, name: e.name, type: e.type })));
          expect(parsed.reduce((s, e) => s + e.recLen, 0)).toBe(bs);
          if (csum) {
            expect(readDirTail(block, bs)).not.toBeNull();
            verifyDirBlockChecksum(seed, block, bs);
            const { stored, computed } = dirBlockCsum(seed, block, bs);
            expect(stored).toBe(computed);
          } else {
            expect(readDirTail(block, bs)).toBeNull();
          }
        },
      ),
    );
  });

  it("find a name exactly where a full parse sees it, even in bit-flipped blocks", () => {
    const base = dirBlock(1024).entry(2, ".", 2).entry(2, "..", 2);
    for (let i = 0; i < 30; i++) base.entry(100 + i, `n${i}`, 1);
    const block = base.build();
    fc.assert(
      fc.property(fc.array(fc.nat(1024 * 8 - 1), { maxLength: 3 }), fc.nat(35), (bits, k) => {
        const b = block.slice();
        for (const bit of bits) b[bit >> 3]! ^= 1 << (bit & 7);
        const name = new TextEncoder().encode(`n${k}`);
        let parsed: ReturnType<typeof parseDirEntries>;
        try {
          parsed = parseDirEntries(b, { blockSize: 1024 });
        } catch (e) {
          expect(isExt4Error(e)).toBe(true);
          parsesOrExt4Error(() => findDirEntry(b, { blockSize: 1024 }, name));
          return;
        }
        const want = parsed.find(
          (e) =>
            e.inode !== 0 && e.name.length === name.length && e.name.every((c, i) => c === name[i]),
        );
        const got = findDirEntry(b, { blockSize: 1024 }, name);
        expect(got).toEqual(
          want === undefined
            ? null
            : { offset: want.offset, inode: want.inode, fileTypeRaw: want.fileTypeRaw },
        );
      }),
    );
  });

  it("detect a flipped bit in a checksummed block", () => {
    fc.assert(
      fc.property(fc.nat(1024 * 8 - 1), (bit) => {
        const block = dirBlock(1024)
          .entry(2, ".", 2)
          .entry(2, "..", 2)
          .entry(12, "file", 1)
          .tail(7)
          .build();
        block[bit >> 3]! ^= 1 << (bit & 7);
        const e = (() => {
          try {
            parseDirEntries(block, { blockSize: 1024 });
            verifyDirBlockChecksum(7, block, 1024);
            return null;
          } catch (err) {
            return err;
          }
        })();
        expect(isExt4Error(e)).toBe(true);
      }),
    );
  });

  it("name each failed check", () => {
    const ok = () => dirBlock(1024).entry(2, ".", 2).entry(2, "..", 2).entry(12, "name", 1).build();
    const v = (b: Uint8Array) => new DataView(b.buffer);
    const parse = (b: Uint8Array) => () => parseDirEntries(b, { blockSize: 1024 });
    let b = ok();
    v(b).setUint16(4, 8, true);
    expect(codeOf(parse(b))).toBe("DIRENT_REC_LEN_TOO_SMALL");
    b = ok();
    v(b).setUint16(4, 14, true);
    expect(codeOf(parse(b))).toBe("DIRENT_REC_LEN_UNALIGNED");
    b = ok();
    v(b).setUint8(6, 9);
    expect(codeOf(parse(b))).toBe("DIRENT_NAME_OVERFLOW");
    b = ok();
    v(b).setUint16(24 + 4, 2000, true);
    expect(codeOf(parse(b))).toBe("DIRENT_OVERRUN");
    b = ok();
    v(b).setUint16(24 + 4, 1024 - 24 - 8, true);
    expect(codeOf(parse(b))).toBe("DIRENT_TOO_CLOSE_TO_END");
    b = ok();
    b[24 + 8] = 0x2f;
    expect(codeOf(parse(b))).toBe("DIRENT_BAD_NAME");
    b = ok();
    v(b).setUint8(24 + 6, 0);
    expect(codeOf(parse(b))).toBe("DIRENT_EMPTY_NAME");
    const noTail = ok();
    expect(codeOf(() => verifyDirBlockChecksum(1, noTail, 1024))).toBe("DIRENT_TAIL_MISSING");
    const bad = dirBlock(1024).entry(2, ".", 2).tail(1).build();
    expect(codeOf(() => verifyDirBlockChecksum(2, bad, 1024))).toBe("DIRBLOCK_BAD_CHECKSUM");
  });

  it("reads the hash stored after names in encrypted+casefolded directories", () => {
    const block = dirBlock(1024, true)
      .entry(2, ".", 2)
      .entry(2, "..", 2)
      .entry(13, "x", 1, { hash: { hash: 0xabcd0000, minorHash: 0x1234 } })
      .build();
    const es = parseDirEntries(block, { blockSize: 1024, hashInDirent: true });
    expect(es[0]?.hash).toBeUndefined();
    expect(es[2]).toMatchObject({ inode: 13, hash: 0xabcd0000, minorHash: 0x1234 });
  });

  it("parse or throw Ext4Error on arbitrary and bit-flipped blocks", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1024, maxLength: 1024 }),
        fc.boolean(),
        (bytes, hashed) => {
          parsesOrExt4Error(() =>
            parseDirEntries(bytes, { blockSize: 1024, hashInDirent: hashed }),
          );
          parsesOrExt4Error(() => verifyDirBlockChecksum(0, bytes, 1024));
        },
      ),
    );
    const base = dirBlock(4096)
      .entry(2, ".", 2)
      .entry(2, "..", 2)
      .entry(99, "abc", 1)
      .tail(3)
      .build();
    fc.assert(
      fc.property(fc.array(fc.nat(4096 * 8 - 1), { minLength: 1, maxLength: 8 }), (bits) => {
        const b = base.slice();
        for (const bit of bits) b[bit >> 3]! ^= 1 << (bit & 7);
        parsesOrExt4Error(() => parseDirEntries(b, { blockSize: 4096 }));
        parsesOrExt4Error(() => parseDirEntries(b, { blockSize: 65536 }));
      }),
    );
  });
});

// The walk checks records with a fast path (the conjunction of the checks on
// the header bytes) and names four bytes at a time; this reference applies
// the kernel's checks one by one, byte by byte, as the walk did before. The
// two must agree on any bytes: same records, or the same error at the same offset.
function referenceScan(
  bytes: Uint8Array,
  blockSize: number,
  hashInDirent: boolean,
  metadataCsum: boolean,
  checkNames: boolean,
): { records: Array<[number, number, number, number, number[]]> } | { error: string } {
  const size = bytes.length;
  const u8 = (o: number): number => bytes[o] ?? 0;
  const u16 = (o: number): number => u8(o) | (u8(o + 1) << 8);
  const fake = (off: number, nameLen: number, ft: number): boolean =>
    ft === 0xde ||
    (nameLen >= 1 &&
      nameLen <= 2 &&
      off + 10 <= size &&
      u8(off + 8) === 0x2e &&
      (u8(off + 9) === 0x2e || u8(off + 9) === 0));
  const records: Array<[number, number, number, number, number[]]> = [];
  let off = 0;
  while (off < size) {
    const fail = (code: string) => ({ error: `${code}@${off}` });
    if (size - off < 8) return fail("DIRENT_HEADER_TRUNCATED");
    const rlen = recLenFromDisk(u16(off + 4), blockSize);
    const nameLen = u8(off + 6);
    const hashed = hashInDirent && !fake(off, nameLen, u8(off + 7));
    if (rlen < dirRecLen(1, hashed)) return fail("DIRENT_REC_LEN_TOO_SMALL");
    if (rlen % 4 !== 0) return fail("DIRENT_REC_LEN_UNALIGNED");
    if (rlen < dirRecLen(nameLen, hashed)) return fail("DIRENT_NAME_OVERFLOW");
    if (off + rlen > size) return fail("DIRENT_OVERRUN");
    const minTail = dirRecLen(1, hashInDirent && !metadataCsum);
    if (off + rlen > size - minTail && off + rlen !== size) return fail("DIRENT_TOO_CLOSE_TO_END");
    const inode = u16(off) + u16(off + 2) * 65536;
    const name = [...bytes.subarray(off + 8, off + 8 + nameLen)];
    if (inode !== 0 && checkNames) {
      if (nameLen === 0) return fail("DIRENT_EMPTY_NAME");
      if (name.some((c) => c === 0x2f || c === 0)) return fail("DIRENT_BAD_NAME");
    }
    records.push([off, inode, rlen, u8(off + 7), name]);
    off += rlen;
  }
  return { records };
}

describe("the record walk against a one-check-at-a-time reference", () => {
  // Mostly well-formed regions with a few bytes changed, so walks get deep before failing.
  const region = fc
    .record({
      records: fc.array(
        fc.record({
          name: fc.uint8Array({ minLength: 0, maxLength: 13 }),
          inode: fc.constantFrom(0, 1, 0x12345678),
          // Extra bytes after the minimal length, in 4-byte steps (sometimes off the grid).
          slack: fc.oneof(fc.constantFrom(0, 4, 8, 12), fc.nat(40)),
        }),
        { maxLength: 12 },
      ),
      flips: fc.array(
        fc.tuple(fc.nat(255), fc.oneof(fc.constantFrom(0, 0x2f, 0x2e, 0xde), fc.nat(255))),
        { maxLength: 2 },
      ),
      // What is left after the last record: 0 ends the region exactly; 1..15 leave a short tail.
      tail: fc.oneof(fc.constant(0), fc.nat(15)),
      hashInDirent: fc.boolean(),
      metadataCsum: fc.boolean(),
      checkNames: fc.boolean(),
      blockSize: fc.constantFrom(1024, 65536),
    })
    .map((o) => {
      const bytes = new Uint8Array(300);
      let off = 0;
      for (const r of o.records) {
        const len = dirRecLen(r.name.length, o.hashInDirent) + r.slack;
        if (off + len > 280) break;
        const n = r.inode;
        bytes.set([n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >>> 24], off);
        bytes.set([len & 0xff, len >> 8, r.name.length, 1], off + 4);
        bytes.set(r.name, off + 8);
        off += len;
      }
      for (const [at, value] of o.flips) bytes[at] = value;
      return { ...o, bytes: bytes.subarray(0, off + o.tail) };
    });

  it("accepts and rejects exactly what the reference does", () => {
    fc.assert(
      fc.property(region, (o) => {
        const opts = {
          blockSize: o.blockSize,
          hashInDirent: o.hashInDirent,
          metadataCsum: o.metadataCsum,
          checkNames: o.checkNames,
        };
        let got: ReturnType<typeof referenceScan>;
        try {
          const records: Array<[number, number, number, number, number[]]> = [];
          parseDirEntries(o.bytes, opts).forEach((e) => {
            records.push([e.offset, e.inode, e.recLen, e.fileTypeRaw, [...e.name]]);
          });
          got = { records };
        } catch (e) {
          if (!isExt4Error(e)) throw e;
          got = { error: `${e.code}@${e.context.offset}` };
        }
        const want = referenceScan(
          o.bytes,
          o.blockSize,
          o.hashInDirent,
          o.metadataCsum,
          o.checkNames,
        );
        expect(got).toEqual(want);
        // findDirEntry walks the same way, checking structure but not names (ext4_search_dir):
        // it fails where that walk fails, or finds what it lists.
        const structural = referenceScan(
          o.bytes,
          o.blockSize,
          o.hashInDirent,
          o.metadataCsum,
          false,
        );
        const probe =
          "records" in structural
            ? structural.records.find(
                (r) => r[1] !== 0 && r[4].length > 0 && !r[4].some((c) => c === 0x2f || c === 0),
              )
            : undefined;
        const name = new Uint8Array(probe?.[4] ?? [0x61]);
        try {
          const m = findDirEntry(o.bytes, opts, name);
          expect("records" in structural || m !== null).toBe(true);
          if (probe !== undefined && "records" in structural) {
            const first = structural.records.find(
              (r) =>
                r[1] !== 0 && r[4].length === name.length && r[4].every((c, i) => c === name[i]),
            );
            expect(m?.offset).toBe(first?.[0]);
          }
        } catch (e) {
          if (!isExt4Error(e)) throw e;
          expect("error" in structural).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
