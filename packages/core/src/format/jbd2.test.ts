import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { arbitraryRecord } from "../test-support/arbitrary.js";
import { journalSuperblockBytes } from "../test-support/journal.js";
import { ByteView } from "../view.js";
import {
  COMMIT_HEADER,
  decodeDescriptorTags,
  encodeDescriptorTags,
  JBD2_FEATURE_INCOMPAT_64BIT,
  JBD2_FEATURE_INCOMPAT_CSUM_V2,
  JBD2_FEATURE_INCOMPAT_CSUM_V3,
  JBD2_FLAG_LAST_TAG,
  JBD2_FLAG_SAME_UUID,
  JOURNAL_BLOCK_TAG,
  JOURNAL_BLOCK_TAG3,
  JOURNAL_HEADER,
  JOURNAL_SUPERBLOCK,
  type JournalSuperblock,
  type JournalTag,
  journalTagBytes,
  parseJournalSuperblock,
  REVOKE_HEADER,
} from "./jbd2.js";

const FEATURE_SETS = [0, 2, 8, 10, 16, 18];

describe("jbd2 tables", () => {
  it("have the kernel's sizes and offsets", () => {
    expect(JOURNAL_HEADER.size).toBe(12);
    expect(JOURNAL_SUPERBLOCK.size).toBe(1024);
    expect(JOURNAL_SUPERBLOCK.offsetOf("s_errno")).toBe(0x20);
    expect(JOURNAL_SUPERBLOCK.offsetOf("s_uuid")).toBe(0x30);
    expect(JOURNAL_SUPERBLOCK.offsetOf("s_nr_users")).toBe(0x40);
    expect(JOURNAL_SUPERBLOCK.offsetOf("s_checksum_type")).toBe(0x50);
    expect(JOURNAL_SUPERBLOCK.offsetOf("s_num_fc_blks")).toBe(0x54);
    expect(JOURNAL_SUPERBLOCK.offsetOf("s_checksum")).toBe(0xfc);
    expect(JOURNAL_SUPERBLOCK.offsetOf("s_users")).toBe(0x100);
    expect([JOURNAL_BLOCK_TAG3.size, JOURNAL_BLOCK_TAG.size, REVOKE_HEADER.size]).toEqual([
      16, 12, 16,
    ]);
    expect(COMMIT_HEADER.offsetOf("h_commit_sec")).toBe(0x30);
    expect(COMMIT_HEADER.size).toBe(0x3c);
  });

  it("size tags as journal_tag_bytes", () => {
    expect(journalTagBytes(0)).toBe(8);
    expect(journalTagBytes(JBD2_FEATURE_INCOMPAT_64BIT)).toBe(12);
    expect(journalTagBytes(JBD2_FEATURE_INCOMPAT_CSUM_V2)).toBe(10);
    expect(journalTagBytes(JBD2_FEATURE_INCOMPAT_CSUM_V2 | JBD2_FEATURE_INCOMPAT_64BIT)).toBe(14);
    expect(journalTagBytes(JBD2_FEATURE_INCOMPAT_CSUM_V3)).toBe(16);
  });

  it("round-trip the raw superblock (decode ∘ encode = identity)", () => {
    fc.assert(
      fc.property(arbitraryRecord(JOURNAL_SUPERBLOCK.fields), (rec) => {
        const b = new Uint8Array(1024);
        JOURNAL_SUPERBLOCK.encode(new ByteView(b), rec);
        expect(JOURNAL_SUPERBLOCK.decode(new ByteView(b))).toEqual(rec);
      }),
      { numRuns: 100 },
    );
  });
});

describe("journal superblock", () => {
  it("validates and names failures", () => {
    for (const f of FEATURE_SETS) {
      const jsb = parseJournalSuperblock(journalSuperblockBytes(f), {
        totalBlocks: 64,
        fsBlockSize: 1024,
      });
      expect(jsb.tagBytes).toBe(journalTagBytes(f));
      expect(jsb.sequence).toBe(5);
    }
    const codeOf = (b: Uint8Array, total = 64): string => {
      try {
        parseJournalSuperblock(b, { totalBlocks: total, fsBlockSize: 1024 });
        return "ok";
      } catch (e) {
        return isExt4Error(e) ? `${e.kind}:${e.code}` : "other";
      }
    };
    expect(codeOf(journalSuperblockBytes(0), 32)).toBe("Corrupt:JOURNAL_BAD_MAXLEN");
    expect(codeOf(journalSuperblockBytes(0x40))).toBe("Incompatible:JOURNAL_UNKNOWN_FEATURES");
    expect(codeOf(journalSuperblockBytes(8 | 16))).toBe("Corrupt:JOURNAL_BAD_FEATURES");
    const bad = journalSuperblockBytes(16);
    bad[0x40] = 9;
    expect(codeOf(bad)).toBe("BadChecksum:JOURNAL_BAD_SB_CHECKSUM");
    const start = journalSuperblockBytes(0);
    new ByteView(start).setU32be(0x1c, 64);
    expect(codeOf(start)).toBe("Corrupt:JOURNAL_BAD_START");
  });
});

describe("descriptor tags", () => {
  const tag = (is64: boolean, csum: number): fc.Arbitrary<JournalTag> =>
    fc.record({
      fsBlock: fc.nat(is64 ? 2 ** 48 : 0xffffffff),
      flags: fc.constantFrom(0, 1, 2, 3, 4, 6),
      checksum: fc.nat(csum),
      uuid: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    });

  it("round-trip for every tag format (decode ∘ encode = identity)", () => {
    for (const f of FEATURE_SETS) {
      const jsb = parseJournalSuperblock(journalSuperblockBytes(f), {
        totalBlocks: 64,
        fsBlockSize: 1024,
      });
      const csumBits = jsb.csumV3 ? 0xffffffff : jsb.csumV2 ? 0xffff : 0;
      fc.assert(
        fc.property(
          fc.array(tag(jsb.is64bit, csumBits), { minLength: 1, maxLength: 20 }),
          (tags) => {
            const norm = tags.map((t, i) => {
              const flags =
                (t.flags & ~JBD2_FLAG_LAST_TAG) | (i === tags.length - 1 ? JBD2_FLAG_LAST_TAG : 0);
              return { ...t, flags, uuid: flags & JBD2_FLAG_SAME_UUID ? null : t.uuid };
            });
            const b = new Uint8Array(1024);
            encodeDescriptorTags(b, jsb, norm);
            expect(decodeDescriptorTags(b, jsb as JournalSuperblock)).toEqual(norm);
          },
        ),
        { numRuns: 30 },
      );
    }
  });
});
