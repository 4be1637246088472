/**
 * On-disk structures declared once, as data. A {@link Struct} is built from a
 * table of fields in kernel order (kernel name, width, one doc line); offsets
 * are computed from the widths, so they are contiguous by construction and a
 * test compares the total to the kernel's struct size. Reading, writing, raw
 * decoding and checksum coverage all derive from the table, operating on a
 * {@link ByteView} over the cached buffer rather than on decoded copies.
 */
import { joinLoHi, splitLoHi } from "./brands.js";
import type { ByteView } from "./view.js";

/** How a field's bytes are interpreted. */
export type FieldKind = "u" | "i" | "be" | "bytes";

/** One row of a structure table. */
export interface FieldDef<N extends string = string> {
  readonly name: N;
  readonly width: number;
  readonly kind: FieldKind;
  readonly doc: string;
}

/** A field with its computed offset. */
export interface Field<N extends string = string> extends FieldDef<N> {
  readonly offset: number;
}

/** Little-endian unsigned 8-bit field. */
export const u8 = <N extends string>(name: N, doc: string): FieldDef<N> => ({
  name,
  width: 1,
  kind: "u",
  doc,
});
/** Little-endian unsigned 16-bit field. */
export const u16 = <N extends string>(name: N, doc: string): FieldDef<N> => ({
  name,
  width: 2,
  kind: "u",
  doc,
});
/** Little-endian unsigned 32-bit field. */
export const u32 = <N extends string>(name: N, doc: string): FieldDef<N> => ({
  name,
  width: 4,
  kind: "u",
  doc,
});
/** Little-endian signed 32-bit field. */
export const i32 = <N extends string>(name: N, doc: string): FieldDef<N> => ({
  name,
  width: 4,
  kind: "i",
  doc,
});
/**
 * Little-endian unsigned 64-bit field (`__le64`). {@link Struct.get} refuses
 * values past 2^53 as corruption; the raw {@link Struct.decode} reads them
 * approximately instead, so a garbage informational field cannot make the
 * raw layer fail.
 */
export const u64 = <N extends string>(name: N, doc: string): FieldDef<N> => ({
  name,
  width: 8,
  kind: "u",
  doc,
});
/** Big-endian unsigned field (jbd2 structures), 1, 2, 4 or 8 bytes (8: as {@link u64}). */
export const be = <N extends string>(name: N, width: 1 | 2 | 4 | 8, doc: string): FieldDef<N> => ({
  name,
  width,
  kind: "be",
  doc,
});
/** An opaque byte array (UUIDs, names, reserved padding). */
export const bytes = <N extends string>(name: N, width: number, doc: string): FieldDef<N> => ({
  name,
  width,
  kind: "bytes",
  doc,
});

/** A decoded copy of every field: numbers, or byte arrays for `bytes` fields. */
export type RawRecord<N extends string> = { readonly [K in N]: number | Uint8Array };

/** A structure table: field lookup, typed accessors, raw decode, checksum coverage. */
export class Struct<N extends string> {
  /** Fields in kernel order with offsets. */
  readonly fields: readonly Field<N>[];
  /** Total size in bytes (sum of the widths). */
  readonly size: number;
  private readonly byName: ReadonlyMap<N, Field<N>>;

  constructor(
    readonly name: string,
    defs: readonly FieldDef<N>[],
  ) {
    let offset = 0;
    const fields: Field<N>[] = [];
    const byName = new Map<N, Field<N>>();
    for (const d of defs) {
      if (byName.has(d.name)) throw new Error(`${name}: duplicate field ${d.name}`);
      const f = { ...d, offset };
      fields.push(f);
      byName.set(d.name, f);
      offset += d.width;
    }
    this.fields = fields;
    this.size = offset;
    this.byName = byName;
  }

  /** The field called `name`. */
  field(name: N): Field<N> {
    const f = this.byName.get(name);
    // OK to throw a plain Error: names are checked by the type system; this is a programming bug.
    if (f === undefined) throw new Error(`${this.name}: no field ${name}`);
    return f;
  }

  /** Byte offset of `name` in the structure. */
  offsetOf(name: N): number {
    return this.field(name).offset;
  }

  /** True when the view is long enough to hold `name` (for structures with optional tails). */
  has(v: ByteView, name: N): boolean {
    const f = this.field(name);
    return f.offset + f.width <= v.length;
  }

  /** Reads a numeric field. Throws Corrupt if the view is too short. */
  get(v: ByteView, name: N): number {
    return this.read(v, this.field(name));
  }

  /** Reads numeric field `f` (already looked up: decode walks the table without a name lookup per field). */
  private read(v: ByteView, f: Field<N>): number {
    switch (f.kind) {
      case "u":
        if (f.width === 8) return joinLoHi(v.u32(f.offset), v.u32(f.offset + 4));
        return f.width === 1 ? v.u8(f.offset) : f.width === 2 ? v.u16(f.offset) : v.u32(f.offset);
      case "i":
        return v.i32(f.offset);
      case "be":
        if (f.width === 8) return joinLoHi(v.u32be(f.offset + 4), v.u32be(f.offset));
        return f.width === 1
          ? v.u8(f.offset)
          : f.width === 2
            ? v.u16be(f.offset)
            : v.u32be(f.offset);
      case "bytes":
        throw new Error(`${this.name}.${f.name} is a byte array; use bytesOf`);
    }
  }

  /** Reads a numeric field, or `fallback` when the view ends before it (optional tails). */
  getOr(v: ByteView, name: N, fallback: number): number {
    return this.has(v, name) ? this.get(v, name) : fallback;
  }

  /** The bytes of a field (a subarray of the buffer, not a copy). */
  bytesOf(v: ByteView, name: N): Uint8Array {
    const f = this.field(name);
    return v.slice(f.offset, f.width);
  }

  /** Reads a `_lo`/`_hi` pair as one safe integer; a missing `hi` (short struct) reads as 0. */
  getLoHi(v: ByteView, lo: N, hi: N): number {
    const loField = this.field(lo);
    const hiValue = this.has(v, hi) ? this.get(v, hi) : 0;
    return joinLoHi(this.get(v, lo), hiValue, loField.width * 8);
  }

  /** Writes a numeric field. */
  set(v: ByteView, name: N, value: number): void {
    const f = this.field(name);
    switch (f.kind) {
      case "u":
        if (f.width === 8) {
          const { lo, hi } = splitLoHi(value);
          v.setU32(f.offset, lo);
          v.setU32(f.offset + 4, hi);
        } else if (f.width === 1) v.setU8(f.offset, value);
        else if (f.width === 2) v.setU16(f.offset, value);
        else v.setU32(f.offset, value);
        return;
      case "i":
        v.setI32(f.offset, value);
        return;
      case "be":
        if (f.width === 8) {
          const { lo, hi } = splitLoHi(value);
          v.setU32be(f.offset, hi);
          v.setU32be(f.offset + 4, lo);
        } else if (f.width === 1) v.setU8(f.offset, value);
        else if (f.width === 2) v.setU16be(f.offset, value);
        else v.setU32be(f.offset, value);
        return;
      case "bytes":
        throw new Error(`${this.name}.${name} is a byte array; use setBytes`);
    }
  }

  /** Writes a byte-array field; `value` is zero-padded or must fit. */
  setBytes(v: ByteView, name: N, value: Uint8Array): void {
    const f = this.field(name);
    if (value.length > f.width) throw new RangeError(`${this.name}.${name}: ${value.length} bytes`);
    const dest = v.slice(f.offset, f.width);
    dest.fill(0);
    dest.set(value);
  }

  /** Writes a `_lo`/`_hi` pair; a short struct without `hi` requires the value to fit in `lo`. */
  setLoHi(v: ByteView, lo: N, hi: N, value: number): void {
    const loField = this.field(lo);
    const { lo: l, hi: h } = splitLoHi(value, loField.width * 8);
    this.set(v, lo, l);
    if (this.has(v, hi)) this.set(v, hi, h);
    else if (h !== 0) throw new RangeError(`${this.name}.${lo}: ${value} needs ${hi}`);
  }

  /**
   * Decodes every field present in the view into a plain record (the raw,
   * unjudged layer: kernel names, no validation). Fields past the end of a
   * short view are omitted.
   */
  decode(v: ByteView): Partial<RawRecord<N>> {
    const out: Partial<Record<N, number | Uint8Array>> = {};
    for (const f of this.fields) {
      if (f.offset + f.width > v.length) break;
      out[f.name] =
        f.kind === "bytes"
          ? v.slice(f.offset, f.width).slice()
          : f.width === 8
            ? f.kind === "be"
              ? v.u32be(f.offset) * 2 ** 32 + v.u32be(f.offset + 4)
              : v.u32(f.offset + 4) * 2 ** 32 + v.u32(f.offset)
            : this.read(v, f);
    }
    return out;
  }

  /**
   * Writes every field present in `record` (the inverse of {@link decode});
   * fields absent from the record, or past the end of a short view, are left
   * as they are. Throws RangeError for a byte array wider than its field.
   */
  encode(v: ByteView, record: Partial<RawRecord<N>>): void {
    for (const f of this.fields) {
      const value = record[f.name];
      if (value === undefined || f.offset + f.width > v.length) continue;
      if (typeof value === "number") this.set(v, f.name, value);
      else this.setBytes(v, f.name, value);
    }
  }

  /**
   * The byte ranges `[start, end)` of the first `length` bytes that a checksum
   * covers when the fields in `excluded` are left out (the kernel computes
   * over the structure "with the checksum field zeroed" or skipped).
   */
  coverage(length: number, excluded: readonly N[]): Array<[number, number]> {
    const holes = excluded
      .map((n) => this.field(n))
      .map((f) => [f.offset, f.offset + f.width] as [number, number])
      .sort((a, b) => a[0] - b[0]);
    const ranges: Array<[number, number]> = [];
    let pos = 0;
    for (const [s, e] of holes) {
      if (s >= length) break;
      if (s > pos) ranges.push([pos, s]);
      pos = Math.max(pos, e);
    }
    if (pos < length) ranges.push([pos, length]);
    return ranges;
  }
}

/** Declares a structure from its field table (see {@link Struct}). */
export function defineStruct<N extends string>(
  name: string,
  defs: readonly FieldDef<N>[],
): Struct<N> {
  return new Struct(name, defs);
}
