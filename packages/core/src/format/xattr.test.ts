import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { ByteView } from "../view.js";
import {
  EXT4_XATTR_MAGIC,
  encodeXattrEntries,
  joinXattrName,
  parseInodeXattrs,
  parseXattrBlock,
  parseXattrEntries,
  splitXattrName,
  XATTR_ENTRY,
  XATTR_HEADER,
  xattrBlockChecksum,
  xattrBlockHash,
  xattrEntryHash,
} from "./xattr.js";

const LIMITS = { eaInode: false, inodesCount: 1000 };

const attr = fc.record({
  name: fc
    .tuple(
      fc.constantFrom("user.", "trusted.", "security.", "system.", "other."),
      fc.string({ unit: fc.constantFrom(..."abcdefxyz._-0123"), minLength: 1, maxLength: 20 }),
    )
    .map(([p, s]) => p + s),
  value: fc.uint8Array({ maxLength: 64 }),
});

describe("xattr tables", () => {
  it("have the kernel's sizes", () => {
    expect(XATTR_HEADER.size).toBe(32);
    expect(XATTR_ENTRY.size).toBe(16);
    expect(XATTR_HEADER.offsetOf("h_checksum")).toBe(0x10);
    expect(XATTR_ENTRY.offsetOf("e_hash")).toBe(0xc);
  });
});

describe("xattr names", () => {
  it("split into index and suffix and join back", () => {
    fc.assert(
      fc.property(attr, ({ name }) => {
        const { index, suffix } = splitXattrName(name);
        expect(joinXattrName(index, suffix)).toBe(name);
      }),
    );
    expect(splitXattrName("system.posix_acl_access")).toEqual({ index: 2, suffix: "" });
    expect(splitXattrName("system.data")).toEqual({ index: 7, suffix: "data" });
    expect(splitXattrName("user.x")).toEqual({ index: 1, suffix: "x" });
  });
});

describe("xattr entries", () => {
  it("round-trip through encode and parse in a block (decode ∘ encode = identity)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(attr, { selector: (a) => a.name, maxLength: 12 }),
        fc.nat(0xffffffff),
        (attrs, seed) => {
          const block = new Uint8Array(1024);
          const v = new ByteView(block);
          XATTR_HEADER.set(v, "h_magic", EXT4_XATTR_MAGIC);
          XATTR_HEADER.set(v, "h_refcount", 1);
          XATTR_HEADER.set(v, "h_blocks", 1);
          if (!encodeXattrEntries(v, 32, 0, attrs, true)) return;
          v.setU32(0x10, xattrBlockChecksum(seed, 77, block));
          const parsed = parseXattrBlock(block, 77, { ...LIMITS, csumSeed: seed });
          expect(parsed.checksumValid).toBe(true);
          expect(parsed.entries.map((e) => ({ name: e.name, value: e.value }))).toEqual(attrs);
          for (const e of parsed.entries)
            expect(e.hash).toBe(xattrEntryHash(e.nameBytes, e.value ?? new Uint8Array()));
          expect(parsed.computedHash).toBe(xattrBlockHash(parsed.entries.map((e) => e.hash)));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("round-trip in the inode body (values relative to the first entry)", () => {
    fc.assert(
      fc.property(fc.uniqueArray(attr, { selector: (a) => a.name, maxLength: 3 }), (attrs) => {
        const inode = new Uint8Array(512);
        const body = new ByteView(inode, {}, 160, 352);
        body.setU32(0, EXT4_XATTR_MAGIC);
        const region = new ByteView(inode, {}, 164, 348);
        if (!encodeXattrEntries(region, 0, 0, attrs, false)) return;
        const parsed = parseInodeXattrs(inode, 512, 32, LIMITS, {});
        expect(parsed.map((e) => ({ name: e.name, value: e.value }))).toEqual(attrs);
      }),
      { numRuns: 100 },
    );
  });

  it("hash as the kernel: names rotate by 5, value words by 16, block by 16, zero hash unshares", () => {
    const name = new TextEncoder().encode("a");
    expect(xattrEntryHash(name, new Uint8Array())).toBe(0x61);
    expect(xattrEntryHash(new TextEncoder().encode("ab"), new Uint8Array())).toBe(
      ((0x61 << 5) ^ 0x62) >>> 0,
    );
    expect(xattrEntryHash(name, new Uint8Array([1, 0, 0, 0]))).toBe(((0x61 << 16) ^ 1) >>> 0);
    expect(xattrBlockHash([1, 2])).toBe(((1 << 16) ^ 2) >>> 0);
    expect(xattrBlockHash([1, 0, 2])).toBe(0);
    expect(xattrEntryHash(new Uint8Array([0xe9]), new Uint8Array(), true)).toBe(-0x17 >>> 0);
  });

  it("throws only Ext4Error on arbitrary regions, and bounds values", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.nat(64), (bytes, start) => {
        try {
          const entries = parseXattrEntries(
            new ByteView(bytes),
            Math.min(start, bytes.length),
            0,
            LIMITS,
            {},
          );
          for (const e of entries) expect((e.value?.length ?? 0) <= bytes.length).toBe(true);
        } catch (e) {
          expect(isExt4Error(e)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("names the failed checks", () => {
    const block = new Uint8Array(1024);
    const v = new ByteView(block);
    const codeOf = (): string => {
      try {
        parseXattrBlock(block, 5, { ...LIMITS, csumSeed: null });
        return "ok";
      } catch (e) {
        return isExt4Error(e) ? e.code : "other";
      }
    };
    expect(codeOf()).toBe("XATTR_BAD_MAGIC");
    XATTR_HEADER.set(v, "h_magic", EXT4_XATTR_MAGIC);
    XATTR_HEADER.set(v, "h_blocks", 2);
    expect(codeOf()).toBe("XATTR_BAD_BLOCKS");
    XATTR_HEADER.set(v, "h_blocks", 1);
    expect(codeOf()).toBe("ok");
    encodeXattrEntries(v, 32, 0, [{ name: "user.a", value: new Uint8Array([1, 2, 3]) }], true);
    expect(codeOf()).toBe("ok");
    v.setU16(32 + 2, 8); // e_value_offs into the entries
    expect(codeOf()).toBe("XATTR_VALUE_BOUNDS");
    v.setU16(32 + 2, 1022); // 3 bytes padded to 4 run past the block
    v.setU32(32 + 8, 3);
    expect(codeOf()).toBe("XATTR_VALUE_BOUNDS");
    v.setU32(32 + 4, 50); // e_value_inum without ea_inode
    expect(codeOf()).toBe("XATTR_EA_INODE_NO_FEATURE");
  });
});
