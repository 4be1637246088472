import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  checkDxNode,
  checkDxRoot,
  type DxCheckOptions,
  decodeDxNode,
  decodeDxRoot,
  dxCountLimitStruct,
  dxEntryStruct,
  dxNodeLimit,
  dxNodeStruct,
  dxRootInfoStruct,
  dxRootLimit,
  dxRootStruct,
  dxSearch,
  dxTailStruct,
  fakeDirentStruct,
  verifyDxChecksum,
} from "./dx.js";
import { codeOf, parsesOrExt4Error } from "./test-support/assert.js";
import { dxNodeBlock, dxRootBlock } from "./test-support/builders.js";

const opts = (o: Partial<DxCheckOptions> = {}): DxCheckOptions => ({
  blockSize: 1024,
  metadataCsum: false,
  largedir: false,
  hashInDirent: false,
  ...o,
});

const entriesArb = (max: number) =>
  fc
    .uniqueArray(fc.nat(0x7fffffff), { minLength: 0, maxLength: max - 1 })
    .map((hs) => hs.sort((a, b) => a - b).map((h) => (h * 2) >>> 0))
    .chain((hs) =>
      fc
        .array(fc.nat(1_000_000), { minLength: hs.length + 1, maxLength: hs.length + 1 })
        .map((blocks) =>
          blocks.map((block, i) => ({ hash: i === 0 ? 0 : (hs[i - 1] ?? 0), block })),
        ),
    );

describe("htree structures", () => {
  it("have the kernel's sizes", () => {
    expect(fakeDirentStruct.size).toBe(8);
    expect(dxRootStruct.size).toBe(32);
    expect(dxRootStruct.offsetOf("reserved_zero")).toBe(24);
    expect(dxRootInfoStruct.size).toBe(8);
    expect(dxCountLimitStruct.size).toBe(4);
    expect(dxEntryStruct.size).toBe(8);
    expect(dxNodeStruct.size).toBe(8);
    expect(dxTailStruct.size).toBe(8);
  });

  it("compute dx_root_limit and dx_node_limit like the kernel", () => {
    expect([dxRootLimit(1024, 8, true), dxNodeLimit(1024, true)]).toEqual([123, 126]);
    expect([dxRootLimit(4096, 8, false), dxNodeLimit(4096, false)]).toEqual([508, 511]);
    expect([dxRootLimit(4096, 8, true), dxNodeLimit(4096, true)]).toEqual([507, 510]);
  });
});

describe("dx blocks", () => {
  it("decode what the builders wrote, with valid checksums", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1024, 4096),
        fc.boolean(),
        fc.nat(0xffffffff),
        entriesArb(123),
        (bs, csum, seed, entries) => {
          const ents = entries.length === 0 ? [{ hash: 0, block: 1 }] : entries;
          const root = dxRootBlock(bs, {
            dot: 5,
            dotdot: 2,
            hashVersion: 1,
            indirectLevels: 0,
            entries: ents,
            ...(csum ? { csumSeed: seed } : {}),
          });
          const r = decodeDxRoot(root);
          expect(r).toMatchObject({ dotInode: 5, dotdotInode: 2, hashVersion: 1, infoLength: 8 });
          expect(r.entries).toEqual(ents);
          checkDxRoot(r, opts({ blockSize: bs, metadataCsum: csum }));
          const node = dxNodeBlock(bs, ents, csum ? seed : undefined);
          const n = decodeDxNode(node);
          expect(n.entries).toEqual(ents);
          checkDxNode(n, 3, opts({ blockSize: bs, metadataCsum: csum }));
          if (csum) {
            verifyDxChecksum(seed, root, bs);
            verifyDxChecksum(seed, node, bs);
            expect(codeOf(() => verifyDxChecksum(seed + 1, node, bs))).toBe("DX_BAD_CHECKSUM");
          }
        },
      ),
    );
  });

  it("name each failed dx_probe check", () => {
    const good = () =>
      decodeDxRoot(
        dxRootBlock(1024, {
          dot: 5,
          dotdot: 2,
          hashVersion: 1,
          indirectLevels: 0,
          entries: [{ hash: 0, block: 1 }],
        }),
      );
    const check =
      (patch: object, o: Partial<DxCheckOptions> = {}) =>
      () =>
        checkDxRoot({ ...good(), ...patch }, opts(o));
    expect(codeOf(check({ hashVersion: 3 }))).toBe("DX_ROOT_BAD_HASH_VERSION");
    expect(codeOf(check({ hashVersion: 6 }))).toBe("DX_ROOT_SIPHASH_MISMATCH");
    expect(codeOf(check({}, { hashInDirent: true }))).toBe("DX_ROOT_SIPHASH_MISMATCH");
    expect(codeOf(check({ unusedFlags: 1 }))).toBe("DX_ROOT_UNUSED_FLAGS");
    expect(codeOf(check({ indirectLevels: 2 }))).toBe("DX_ROOT_TOO_DEEP");
    expect(() => check({ indirectLevels: 2 }, { largedir: true })()).not.toThrow();
    expect(codeOf(check({ indirectLevels: 3 }, { largedir: true }))).toBe("DX_ROOT_TOO_DEEP");
    expect(codeOf(check({ reservedZero: 1 }))).toBe("DX_ROOT_RESERVED");
    expect(codeOf(check({ infoLength: 12 }))).toBe("DX_ROOT_INFO_LENGTH");
    expect(codeOf(check({ limit: 100 }))).toBe("DX_BAD_LIMIT");
    expect(codeOf(check({ count: 0 }))).toBe("DX_BAD_COUNT");
    expect(codeOf(check({ count: 200, limit: 124 }))).toBe("DX_BAD_COUNT");
    const leafish = new Uint8Array(1024);
    leafish[4] = 12;
    expect(codeOf(() => checkDxNode(decodeDxNode(leafish), 1, opts()))).toBe("DX_NODE_NOT_INDEX");
  });

  it("search picks the last entry whose hash is at most the target", () => {
    fc.assert(
      fc.property(entriesArb(50), fc.nat(0xffffffff), (entries, target) => {
        fc.pre(entries.length > 0);
        const at = dxSearch(entries, target);
        const want = entries.reduce((best, e, i) => (i > 0 && e.hash <= target ? i : best), 0);
        expect(at).toBe(want);
      }),
    );
  });

  it("decode or throw Ext4Error on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 1100 }), (bytes) => {
        parsesOrExt4Error(() => checkDxRoot(decodeDxRoot(bytes), opts()));
        parsesOrExt4Error(() => checkDxNode(decodeDxNode(bytes), 1, opts()));
        parsesOrExt4Error(() => verifyDxChecksum(1, bytes, 1024));
      }),
    );
  });
});
