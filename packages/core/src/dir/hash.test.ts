import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import { DxHashVersion, dxHash, effectiveHashVersion, kernelDxHash } from "./hash.js";
import { debugfsScript, quoteArg } from "./test-support/oracle.js";

const enc = new TextEncoder();

/** s_hash_seed words from a UUID string, as uuid_parse lays the bytes and the disk stores them. */
function seedWords(uuid: string): number[] {
  const hex = uuid.replaceAll("-", "");
  const bytes = Uint8Array.from({ length: 16 }, (_, i) =>
    Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16),
  );
  const v = new DataView(bytes.buffer);
  return [0, 1, 2, 3].map((i) => v.getUint32(4 * i, true));
}

// Names debugfs can take as one quoted argument: any bytes but NUL, newline and CR.
const nameArb = fc
  .uint8Array({ minLength: 0, maxLength: 255 })
  .map((a) => a.filter((b) => b !== 0 && b !== 10 && b !== 13));
const byteHeavy = fc
  .uint8Array({ minLength: 1, maxLength: 70 })
  .map((a) => a.map((b) => (b < 14 ? b + 0x80 : b)));
const uuidArb = fc.uuid({ version: 4 });

describe("dxHash", () => {
  it("agrees with debugfs dx_hash for all six variants on generated names and seeds", () => {
    const cases: Array<{ version: number; name: Uint8Array; seed: string }> = fc
      .sample<{ version: number; name: Uint8Array; seed: string }>(
        fc.record({
          version: fc.constantFrom(0, 1, 2, 3, 4, 5),
          name: fc.oneof(nameArb, byteHeavy),
          seed: fc.oneof(uuidArb, fc.constant("00000000-0000-0000-0000-000000000000")),
        }),
        { numRuns: 1200, seed: 20240601 },
      )
      .concat(
        // Edge lengths around the 16- and 32-byte blocks of TEA and half-MD4, for every variant.
        [0, 1, 15, 16, 17, 31, 32, 33, 64, 255].flatMap((len) =>
          [0, 1, 2, 3, 4, 5].map((version) => ({
            version,
            name: Uint8Array.from({ length: len }, (_, i) => 0x21 + ((i * 37) % 200)),
            seed: "0d1e2f30-4152-4637-8899-aabbccddeeff",
          })),
        ),
      );
    const lines = cases.map((c) =>
      Buffer.concat([enc.encode(`dx_hash -h ${c.version} -s ${c.seed} -- `), quoteArg(c.name)]),
    );
    const out = debugfsScript(lines)
      .split("\n")
      .filter((l) => l.startsWith("Hash of "))
      .map((l) => /is 0x([0-9a-f]+) \(minor 0x([0-9a-f]+)\)$/.exec(l));
    expect(out.length).toBe(cases.length);
    const mismatches = cases.flatMap((c, i) => {
      const m = out[i];
      const want = {
        hash: Number.parseInt(m?.[1] ?? "x", 16),
        minorHash: Number.parseInt(m?.[2] ?? "x", 16),
      };
      const got = dxHash(c.version, c.name, seedWords(c.seed));
      return got.hash === want.hash && got.minorHash === want.minorHash ? [] : [{ c, got, want }];
    });
    expect(mismatches).toEqual([]);
    // The variants really differ on high bytes: signedness is exercised, not vacuous.
    const hi = Uint8Array.of(0xe9, 0x74, 0xe9);
    expect(dxHash(0, hi).hash).not.toBe(dxHash(3, hi).hash);
  });

  it("uses the default seed for an all-zero seed and ignores the seed for legacy", () => {
    const name = enc.encode("some-name");
    expect(dxHash(1, name, [0, 0, 0, 0])).toEqual(dxHash(1, name));
    expect(dxHash(0, name, [1, 2, 3, 4])).toEqual(dxHash(0, name));
    expect(dxHash(0, name).minorHash).toBe(0);
  });

  it("always clears bit 0 and matches the kernel except at the EOF cookie", () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 1, 2, 3, 4, 5), nameArb, (v, name) => {
        const h = dxHash(v, name);
        expect(h.hash & 1).toBe(0);
        const k = kernelDxHash(v, name);
        expect(k.hash).toBe(h.hash === 0xfffffffe ? 0xfffffffc : h.hash);
      }),
    );
  });

  it("refuses siphash and unknown versions with typed errors", () => {
    for (const [v, kind] of [
      [DxHashVersion.Siphash, "NotSupported"],
      [7, "Incompatible"],
    ] as const) {
      try {
        dxHash(v, enc.encode("x"));
        expect.unreachable();
      } catch (e) {
        expect(isExt4Error(e, kind)).toBe(true);
      }
    }
  });

  it("moves signed versions to unsigned ones on unsigned-hash filesystems", () => {
    expect([0, 1, 2, 6].map((v) => effectiveHashVersion(v, true))).toEqual([3, 4, 5, 6]);
    expect([0, 1, 2].map((v) => effectiveHashVersion(v, false))).toEqual([0, 1, 2]);
  });
});

describe("kernelDxHash's memo of the last hash", () => {
  it("answers every call as a fresh computation would, whatever came before", () => {
    const call = fc.record({
      version: fc.constantFrom(0, 1, 2, 3, 4, 5),
      name: fc
        .constantFrom("a", "b", "file-1", "file-2", "\u00e9t\u00e9")
        .map((n) => new TextEncoder().encode(n)),
      seed: fc.constantFrom<readonly number[] | undefined>(
        undefined,
        [1, 2, 3, 4],
        [1, 2, 3, 5],
        [0, 0, 0, 0],
        [1, 2, 3, 4, 9],
      ),
    });
    fc.assert(
      fc.property(fc.array(call, { maxLength: 12 }), (calls) => {
        for (const c of calls) {
          const want = dxHash(c.version, c.name, c.seed);
          const fresh = want.hash === 0xfffffffe ? { ...want, hash: 0xfffffffc } : want;
          expect(kernelDxHash(c.version, c.name, c.seed)).toEqual(fresh);
          // A caller changing its buffer afterwards must not change the memo.
          c.name.fill(0x7a);
        }
      }),
    );
  });
});
