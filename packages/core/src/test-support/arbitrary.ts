/** fast-check arbitraries shared by the codec tests. */
import fc from "fast-check";
import type { FieldDef } from "../struct.js";

/** An arbitrary value for every field of a table (u64 fields kept below 2^53). */
export function arbitraryRecord(
  fields: readonly FieldDef[],
): fc.Arbitrary<Record<string, number | Uint8Array>> {
  const entries: Record<string, fc.Arbitrary<number | Uint8Array>> = {};
  for (const f of fields) {
    entries[f.name] =
      f.kind === "bytes"
        ? fc.uint8Array({ minLength: f.width, maxLength: f.width })
        : f.kind === "i"
          ? fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })
          : fc.nat(f.width === 8 ? Number.MAX_SAFE_INTEGER : 2 ** (8 * f.width) - 1);
  }
  return fc.record(entries);
}
