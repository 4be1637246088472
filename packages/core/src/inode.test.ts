import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkInode, decodeInode, type InodeDecodeParams } from "./format/inode.js";
import { Inode, type InodeEnv } from "./inode.js";
import { ByteView } from "./view.js";

const env = (decode: InodeDecodeParams): InodeEnv => ({
  inodeSize: decode.inodeSize,
  blockSize: 4096,
  xattrLimits: { eaInode: false, inodesCount: 1000 },
  decode,
});

/** Random inode bytes that pass checkInode (a valid i_extra_isize, a size below 2^53). */
const checkedInode = fc
  .record({
    size: fc.constantFrom(128, 256, 512),
    extra: fc.constantFrom(0, 4, 12, 28, 32),
    bytes: fc.uint8Array({ minLength: 512, maxLength: 512 }),
    hugeFile: fc.boolean(),
    is64bit: fc.boolean(),
  })
  .map(({ size, extra, bytes, hugeFile, is64bit }) => {
    const raw = bytes.slice(0, size);
    // i_size_high below 2^21, so the size stays below 2^53.
    raw[0x6e] = 0;
    raw[0x6f] = 0;
    if (size > 128) new ByteView(raw).setU16(0x80, extra);
    return { raw, params: { inodeSize: size, hugeFile, is64bit } };
  });

describe("an Inode whose fields are decoded on demand", () => {
  it("answers every accessor as the decoded fields do, before and after decoding", () => {
    fc.assert(
      fc.property(checkedInode, ({ raw, params }) => {
        checkInode(raw, params);
        const want = decodeInode(raw, params);
        const lazy = new Inode(7, null, raw, env(params), true);
        const eager = new Inode(7, want, raw, env(params), true);
        for (const inode of [lazy, eager]) {
          expect(inode.mode).toBe(want.mode);
          expect(inode.size).toBe(want.size);
          expect(inode.flags).toBe(want.flags);
          expect(inode.generation).toBe(want.generation);
          expect(inode.linksCount).toBe(want.linksCount);
          expect(inode.uid).toBe(want.uid);
          expect(inode.gid).toBe(want.gid);
          expect(inode.dtime).toBe(want.dtime);
          expect(inode.fileAcl).toBe(want.fileAcl);
          expect(inode.mtime).toEqual(want.mtime);
          expect(inode.isInUse()).toBe(
            want.linksCount > 0 || (want.mode !== 0 && want.dtime === 0),
          );
        }
        expect(lazy.fields).toEqual(want);
        // Decoded once, then the same object.
        expect(lazy.fields).toBe(lazy.fields);
      }),
      { numRuns: 300 },
    );
  });

  it("cannot be built without the decoding parameters", () => {
    const params = { inodeSize: 256, hugeFile: false, is64bit: true };
    const { decode: _, ...noDecode } = env(params);
    expect(() => new Inode(7, null, new Uint8Array(256), noDecode, true)).toThrow(TypeError);
  });
});
