import { execFileSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FileDevice } from "@ext4/iocache";
import { describe, expect, it } from "vitest";
import { crc32cRaw } from "./crc.js";
import { isExt4Error } from "./errors.js";
import {
  COMMIT_HEADER,
  encodeDescriptorTags,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_FEATURE_INCOMPAT_CSUM_V3,
  JBD2_FLAG_LAST_TAG,
  JBD2_FLAG_SAME_UUID,
  JBD2_MAGIC_NUMBER,
  JBD2_REVOKE_BLOCK,
  JOURNAL_HEADER,
  journalBlockTailChecksum,
  journalCommitChecksum,
  journalDataBlockChecksum,
  parseJournalSuperblock,
  REVOKE_HEADER,
} from "./format/jbd2.js";
import { Filesystem } from "./fs.js";
import { Journal, type JournalWalk } from "./journal.js";
import { type LogdumpEvent, parseLogdump, parseStats } from "./test-support/debugfs-parse.js";
import { pseudoRandom } from "./test-support/fixtures.js";
import { journalSuperblockBytes } from "./test-support/journal.js";
import {
  debugfs,
  debugfsScript,
  dumpe2fs,
  e2fsck,
  mkfs,
  readAt,
  scratchDir,
} from "./test-support/mkfs.js";
import { ByteView } from "./view.js";

/** The walk as logdump -a would print it. */
function events(walk: JournalWalk): LogdumpEvent[] {
  const out: LogdumpEvent[] = [];
  for (const tx of walk.transactions) {
    const items: Array<{ block: number; ev: LogdumpEvent[] }> = [
      ...tx.descriptors.map((d) => ({
        block: d.journalBlock,
        ev: [
          {
            kind: "block",
            sequence: tx.sequence,
            type: JBD2_DESCRIPTOR_BLOCK,
            block: d.journalBlock,
          } as const,
          ...d.tags.map(
            (t) =>
              ({
                kind: "tag",
                fsBlock: t.fsBlock,
                journalBlock: t.journalBlock,
                flags: t.flags,
              }) as const,
          ),
        ],
      })),
      ...tx.revokes.map((r) => ({
        block: r.journalBlock,
        ev: [
          {
            kind: "block",
            sequence: tx.sequence,
            type: JBD2_REVOKE_BLOCK,
            block: r.journalBlock,
          } as const,
          ...r.blocks.map((b) => ({ kind: "revoke", fsBlock: b }) as const),
        ],
      })),
    ];
    if (tx.commit) {
      items.push({
        block: tx.commit.journalBlock,
        ev: [
          {
            kind: "block",
            sequence: tx.sequence,
            type: JBD2_COMMIT_BLOCK,
            block: tx.commit.journalBlock,
          },
        ],
      });
    }
    items.sort((a, b) => a.block - b.block);
    for (const i of items) out.push(...i.ev);
  }
  out.push({ kind: "end", block: walk.endBlock, reason: walk.endReason });
  return out;
}

describe.each([
  ["without checksums", "jo"],
  ["with csum v3", "jo -c"],
])("a journal written by debugfs %s", (_name, open) => {
  it("walks as debugfs logdump does", () => {
    const image = mkfs({ args: ["-b", "1024"], size: 32 << 20 });
    const d1 = join(scratchDir(), "jdata1");
    const d3 = join(scratchDir(), "jdata3");
    writeFileSync(d1, pseudoRandom(1024, 1));
    writeFileSync(d3, pseudoRandom(3072, 3));
    debugfsScript(image, [
      open,
      `jw -b 300,301,302 ${d3}`,
      "jc",
      open,
      "jw -r 300",
      "jc",
      open,
      `jw -b 303 ${d1}`,
      "jc",
    ]);
    const fs = Filesystem.open(FileDevice.open(image, { readOnly: true }), { journal: "ignore" });
    try {
      expect(fs.needsRecovery).toBe(true);
      const j = fs.journal();
      expect(j).not.toBeNull();
      if (j === null) return;
      const { header } = parseStats(dumpe2fs(image, true));
      expect(j.superblock.maxLen).toBe(Number(header.get("Total journal blocks")));
      expect(j.superblock.sequence).toBe(Number(header.get("Journal sequence")));
      expect(j.superblock.start).toBe(Number(header.get("Journal start")));
      const names = header.get("Journal features") ?? "";
      expect(j.superblock.csumV3).toBe(names.includes("journal_checksum_v3"));
      expect(j.isEmpty).toBe(false);
      const walk = j.walk({ checkData: true });
      expect(events(walk)).toEqual(parseLogdump(debugfs(image, "logdump -a")));
      expect(walk.transactions.every((t) => t.commit?.checksumValid)).toBe(true);
      for (const tx of walk.transactions) {
        for (const d of tx.descriptors) {
          expect(d.checksumValid).toBe(true);
          for (const t of d.tags) expect(t.checksumValid).toBe(j.superblock.csumV3 ? true : null);
        }
      }
      // The logged copy of FS block 301 is the second 1 KiB of the data file.
      const tag = walk.transactions[0]?.descriptors[0]?.tags[1];
      expect(tag?.fsBlock).toBe(301);
      expect(j.readBlock(tag?.journalBlock ?? 0)).toEqual(
        pseudoRandom(3072, 3).subarray(1024, 2048),
      );
    } finally {
      fs.close();
    }
  });

  it("replays as e2fsck does: later revokes win, the rest lands home", () => {
    const image = mkfs({ args: ["-b", "1024"], size: 32 << 20 });
    const d1 = join(scratchDir(), "rdata1");
    const d3 = join(scratchDir(), "rdata3");
    writeFileSync(d1, pseudoRandom(1024, 11));
    writeFileSync(d3, pseudoRandom(3072, 13));
    // Blocks 5000.. are free data blocks: replaying into them is harmless.
    debugfsScript(image, [
      open,
      `jw -b 5000,5001,5002 ${d3}`,
      "jc",
      open,
      "jw -r 5000",
      "jc",
      open,
      `jw -b 5003 ${d1}`,
      "jc",
    ]);
    const before = readAt(image, 5000 * 1024, 4096);
    const ref = `${image}.ref`;
    copyFileSync(image, ref);
    execFileSync("e2fsck", ["-E", "journal_only", "-y", ref], { stdio: "pipe" });
    const want = readAt(ref, 5000 * 1024, 4096);
    expect(want.subarray(0, 1024)).toEqual(before.subarray(0, 1024));
    expect(want.subarray(1024, 3072)).toEqual(pseudoRandom(3072, 13).subarray(1024));
    expect(want.subarray(3072)).toEqual(pseudoRandom(1024, 11));
    // In memory: the view shows the recovered blocks, the image is untouched.
    const mem = Filesystem.open(FileDevice.open(image, { readOnly: true }));
    try {
      expect(mem.recovery).toMatchObject({
        inMemory: true,
        transactions: 3,
        blocks: 3,
        revoked: 1,
      });
      expect(mem.needsRecovery).toBe(false);
      expect(mem.journal()?.isEmpty).toBe(true);
      const got = new Uint8Array(4096);
      for (let i = 0; i < 4; i++) got.set(mem.readBlock(5000 + i), i * 1024);
      expect(got).toEqual(want);
    } finally {
      mem.close();
    }
    expect(readAt(image, 5000 * 1024, 4096)).toEqual(before);
    // On the device: the same bytes, and e2fsck finds nothing left to do.
    const rw = Filesystem.open(FileDevice.open(image), { writable: true });
    expect(rw.recovery).toMatchObject({ inMemory: false, transactions: 3 });
    rw.close();
    expect(readAt(image, 5000 * 1024, 4096)).toEqual(want);
    const r = e2fsck(image);
    expect(r.status, r.output).toBe(0);
  });
});

/** An in-memory journal of `maxLen` 1 KiB blocks with csum v3. */
function memoryJournal(maxLen: number, start: number, sequence: number) {
  const blocks: Uint8Array[] = Array.from({ length: maxLen }, () => new Uint8Array(1024));
  const sbBytes = journalSuperblockBytes(JBD2_FEATURE_INCOMPAT_CSUM_V3 | 2, maxLen);
  const sv = new ByteView(sbBytes);
  sv.setU32be(0x18, sequence);
  sv.setU32be(0x1c, start);
  sv.setU32be(0xfc, 0);
  sv.setU32be(0xfc, crc32cRaw(0xffffffff, sbBytes));
  blocks[0] = sbBytes;
  const jsb = parseJournalSuperblock(sbBytes, { totalBlocks: maxLen, fsBlockSize: 1024 });
  const header = (b: Uint8Array, type: number, seq: number): void => {
    const v = new ByteView(b);
    JOURNAL_HEADER.set(v, "h_magic", JBD2_MAGIC_NUMBER);
    JOURNAL_HEADER.set(v, "h_blocktype", type);
    JOURNAL_HEADER.set(v, "h_sequence", seq);
  };
  const b = (n: number): Uint8Array => blocks[n] ?? new Uint8Array(1024);
  const api = {
    jsb,
    blocks,
    descriptor(at: number, seq: number, fsBlocks: number[], dataAt: number[]): void {
      const d = b(at);
      header(d, JBD2_DESCRIPTOR_BLOCK, seq);
      encodeDescriptorTags(
        d,
        jsb,
        fsBlocks.map((fsBlock, i) => {
          const data = pseudoRandom(1024, fsBlock);
          b(dataAt[i] ?? 0).set(data);
          return {
            fsBlock,
            flags:
              (i > 0 ? JBD2_FLAG_SAME_UUID : 0) |
              (i === fsBlocks.length - 1 ? JBD2_FLAG_LAST_TAG : 0),
            checksum: journalDataBlockChecksum(jsb.csumSeed, seq, data),
            uuid: i > 0 ? null : new Uint8Array(16),
          };
        }),
      );
      new ByteView(d).setU32be(1020, journalBlockTailChecksum(jsb.csumSeed, d));
    },
    commit(at: number, seq: number): void {
      const c = b(at);
      header(c, JBD2_COMMIT_BLOCK, seq);
      new ByteView(c).setU32be(
        COMMIT_HEADER.offsetOf("h_chksum"),
        journalCommitChecksum(jsb.csumSeed, c),
      );
    },
    revoke(at: number, seq: number, fsBlocks: number[]): void {
      const r = b(at);
      header(r, JBD2_REVOKE_BLOCK, seq);
      const v = new ByteView(r);
      v.setU32be(12, REVOKE_HEADER.size + fsBlocks.length * 8);
      fsBlocks.forEach((x, i) => {
        v.setU32be(16 + i * 8, 0);
        v.setU32be(20 + i * 8, x);
      });
      v.setU32be(1020, journalBlockTailChecksum(jsb.csumSeed, r));
    },
    journal(): Journal {
      return new Journal(jsb, 8, true, {
        totalBlocks: maxLen,
        readBlock: (n) => b(n),
        physical: (n) => n,
      });
    },
  };
  return api;
}

describe("the log walker", () => {
  it("wraps from the end of the log back to s_first", () => {
    const m = memoryJournal(16, 14, 7);
    m.descriptor(14, 7, [500, 501], [15, 1]);
    m.commit(2, 7);
    m.revoke(3, 8, [500, 9]);
    m.commit(4, 8);
    const w = m.journal().walk({ checkData: true });
    expect(w.transactions.map((t) => [t.sequence, t.startBlock, t.commit?.journalBlock])).toEqual([
      [7, 14, 2],
      [8, 3, 4],
    ]);
    expect(
      w.transactions[0]?.descriptors[0]?.tags.map((t) => [
        t.fsBlock,
        t.journalBlock,
        t.checksumValid,
      ]),
    ).toEqual([
      [500, 15, true],
      [501, 1, true],
    ]);
    expect(w.transactions[1]?.revokes[0]?.blocks).toEqual([500, 9]);
    expect([w.endBlock, w.endSequence, w.endReason]).toEqual([5, 9, "no-magic"]);
  });

  it("ends at a sequence gap, an unknown block type, a bad commit checksum", () => {
    const m = memoryJournal(16, 1, 3);
    m.descriptor(1, 3, [40], [2]);
    m.commit(3, 3);
    m.commit(4, 9);
    expect(m.journal().walk()).toMatchObject({ endBlock: 4, endReason: "sequence", endDetail: 9 });
    m.commit(4, 4);
    new ByteView(m.blocks[5] ?? new Uint8Array()).setU32be(0, JBD2_MAGIC_NUMBER);
    new ByteView(m.blocks[5] ?? new Uint8Array()).setU32be(4, 77);
    new ByteView(m.blocks[5] ?? new Uint8Array()).setU32be(8, 5);
    expect(m.journal().walk()).toMatchObject({
      endBlock: 5,
      endReason: "unknown-block-type",
      endDetail: 77,
    });
    const c = m.blocks[3] ?? new Uint8Array();
    c[100] = 1;
    const w = m.journal().walk();
    expect(w.endReason).toBe("bad-checksum");
    expect(w.transactions.map((t) => t.commit)).toEqual([null]);
  });

  it("ends at a revoke block whose count runs past the block", () => {
    const m = memoryJournal(16, 1, 3);
    m.revoke(1, 3, [7]);
    m.commit(2, 3);
    expect(m.journal().walk().transactions[0]?.revokes[0]?.blocks).toEqual([7]);
    new ByteView(m.blocks[1] ?? new Uint8Array()).setU32be(12, 5000);
    expect(m.journal().walk()).toMatchObject({ endBlock: 1, endReason: "bad-revoke" });
  });

  it("stops after one pass over a log that never ends", () => {
    const m = memoryJournal(16, 1, 0);
    for (let n = 1; n < 16; n++) m.commit(n, n - 1);
    const w = m.journal().walk();
    expect(w.endReason).toBe("log-exhausted");
    expect(w.transactions.length).toBe(15);
  });

  it("refuses a start outside the log and reports a clean log", () => {
    const m = memoryJournal(16, 0, 1);
    expect(m.journal().walk().endReason).toBe("clean");
    try {
      m.journal().walk({ startBlock: 40 });
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "Corrupt")).toBe(true);
    }
  });

  it("never throws anything but Ext4Error on garbage logs", () => {
    for (let seed = 1; seed < 200; seed++) {
      const m = memoryJournal(32, 1, seed);
      for (let n = 1; n < 32; n++) {
        const g = pseudoRandom(1024, seed * 100 + n);
        if (n % 3 !== 0) new ByteView(g).setU32be(0, JBD2_MAGIC_NUMBER);
        new ByteView(g).setU32be(4, 1 + ((g[9] ?? 0) % 5));
        new ByteView(g).setU32be(8, seed + (n % 4 === 0 ? 1 : 0));
        m.blocks[n] = g;
      }
      try {
        const w = m.journal().walk({ checkData: true });
        expect(w.transactions.length).toBeLessThan(32);
      } catch (e) {
        expect(isExt4Error(e)).toBe(true);
      }
    }
  });
});
