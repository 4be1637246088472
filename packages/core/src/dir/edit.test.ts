/**
 * Property tests of the region edits (find a slot, insert, delete, build a
 * leaf) against a model of the live names: every edit leaves a region the
 * kernel's entry checks accept, holding exactly the model, and a slot is
 * refused only when no record has the room.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { buildLeaf, deleteAt, findSlot, insertAt, leafEnd, regionRecords } from "./edit.js";
import {
  DIRENT_TAIL_SIZE,
  type DirParseOptions,
  dirRecLen,
  readDirTail,
  verifyDirBlockChecksum,
  writeDirEntry,
} from "./entry.js";

const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");

const nameArb = fc
  .uint8Array({ minLength: 1, maxLength: 255, min: 1, max: 255 })
  .map((b) => b.map((c) => (c === 0x2f ? 0x41 : c)));

type Op = { kind: "add"; name: Uint8Array; ino: number } | { kind: "del"; pick: number };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      name: nameArb,
      ino: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("del" as const), pick: fc.nat() }) },
);

describe("region edits", () => {
  it("keep a region valid and equal to the model, refusing a slot only when none has room", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(56, 68, 1024 - DIRENT_TAIL_SIZE, 1024, 4096, 65536),
        fc.array(opArb, { minLength: 1, maxLength: 120, size: "max" }),
        (size, ops) => {
          const base = size === 65536 ? 65536 : 4096;
          const region = new Uint8Array(size);
          writeDirEntry(
            region,
            0,
            { inode: 0, recLen: size, name: new Uint8Array(0), fileType: 0 },
            base,
          );
          const opts: DirParseOptions = { blockSize: base };
          const model = new Map<string, number>();
          for (const op of ops) {
            if (op.kind === "add") {
              const k = latin1(op.name);
              const need = dirRecLen(op.name.length);
              let slot: number | null;
              try {
                slot = findSlot(region, opts, op.name, need);
              } catch (e) {
                // Exists is allowed only for a name the region holds.
                expect(isExt4Error(e, "Exists") && model.has(k)).toBe(true);
                continue;
              }
              if (slot === null) {
                const room = regionRecords(region, opts).map((r) =>
                  r.inode === 0 ? r.recLen : r.recLen - dirRecLen(r.nameLen),
                );
                expect(Math.max(...room)).toBeLessThan(need);
                continue;
              }
              if (model.has(k)) continue;
              insertAt(region, slot, { inode: op.ino, name: op.name, fileType: 1 }, base);
              model.set(k, op.ino);
            } else {
              const live = regionRecords(region, opts).filter((r) => r.inode !== 0);
              const victim = live[op.pick % Math.max(1, live.length)];
              if (victim === undefined) continue;
              deleteAt(region, victim.offset, opts, base);
              model.delete(latin1(victim.name));
            }
            const rs = regionRecords(region, opts);
            expect(
              new Map(rs.filter((r) => r.inode !== 0).map((r) => [latin1(r.name), r.inode])),
            ).toEqual(model);
            expect(rs.reduce((s, r) => s + r.recLen, 0)).toBe(size);
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("build leaves that hold their entries in order, with a valid tail", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1024, 4096, 65536),
        fc.boolean(),
        fc.array(nameArb, { maxLength: 40 }),
        (bs, csum, names) => {
          const entries = names.map((name, i) => ({ inode: 100 + i, name, fileType: 1 }));
          const b = buildLeaf(entries, bs, csum ? 0x1234 : null);
          const used = names.reduce((s, n) => s + dirRecLen(n.length), 0);
          if (used > leafEnd(bs, csum)) {
            expect(b).toBeNull();
            return;
          }
          expect(b).not.toBeNull();
          const rs = regionRecords(b!.subarray(0, leafEnd(bs, csum)), { blockSize: bs });
          const live = rs.filter((r) => r.inode !== 0);
          expect(live.map((r) => latin1(r.name))).toEqual(names.map(latin1));
          expect(readDirTail(b!, bs) !== null).toBe(csum);
          if (csum) verifyDirBlockChecksum(0x1234, b!, bs);
        },
      ),
      { numRuns: 100 },
    );
  });
});
