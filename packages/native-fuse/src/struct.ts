/**
 * FUSE structures declared once, as data: each is a table of
 * `[kernel field name, type, doc]` rows in the order of
 * include/uapi/linux/fuse.h. Offsets come from the widths (so they are
 * contiguous by construction and a test checks every size against the
 * kernel's); decoding and encoding both derive from the table. Decoded
 * records use camelCase keys and leave out padding/unused/reserved fields.
 */
import { FuseProtocolError } from "./errors.js";

/**
 * Field types. `u64` decodes to a number and refuses values past 2^53
 * (EOVERFLOW); `u64c` clamps to 2^53−1 (lengths, where "more than the file"
 * means the same); `x64` is an opaque 64-bit value kept as a bigint (lock
 * owners, poll handles, u64 flag words); `i64` is a signed time in seconds.
 */
export type FieldType = "u16" | "u32" | "i32" | "u64" | "u64c" | "i64" | "x64";

/** One row of a structure table. */
export type FieldDef = readonly [name: string, type: FieldType, doc: string];

type Camel<S extends string> = S extends `${infer H}_${infer T}`
  ? `${H}${Capitalize<Camel<T>>}`
  : S;
type Hidden =
  | `padding${string}`
  | `unused${string}`
  | `dummy${string}`
  | `reserved${string}`
  | `spare${string}`
  | `__${string}`;
type ValueOf<T extends FieldType> = T extends "x64" ? bigint : number;

/** The decoded record of a table: camelCase keys, numbers (bigints for `x64`), padding left out. */
export type Decoded<F extends readonly FieldDef[]> = {
  -readonly [D in F[number] as D[0] extends Hidden ? never : Camel<D[0]>]: ValueOf<D[1]>;
};

const WIDTH: Readonly<Record<FieldType, number>> = {
  u16: 2,
  u32: 4,
  i32: 4,
  u64: 8,
  u64c: 8,
  i64: 8,
  x64: 8,
};

/** A field with its computed offset. */
export interface Field {
  readonly name: string;
  readonly key: string;
  readonly type: FieldType;
  readonly offset: number;
  readonly width: number;
  readonly doc: string;
  readonly hidden: boolean;
}

function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

function isHidden(name: string): boolean {
  return /^(padding|unused|dummy|reserved|spare|__)/.test(name);
}

const TWO32 = 2 ** 32;

/** Reads a little-endian u64 as a number; throws EOVERFLOW past 2^53 unless `clamp`. */
export function readU64(dv: DataView, off: number, what: string, clamp = false): number {
  const lo = dv.getUint32(off, true);
  const hi = dv.getUint32(off + 4, true);
  if (hi > 0x1fffff) {
    if (clamp) return Number.MAX_SAFE_INTEGER;
    throw new FuseProtocolError("VALUE_TOO_LARGE", `${what} exceeds 2^53`, "EOVERFLOW");
  }
  return hi * TWO32 + lo;
}

/** Reads a little-endian i64 as a number; throws EOVERFLOW outside ±2^53. */
export function readI64(dv: DataView, off: number, what: string): number {
  const lo = dv.getUint32(off, true);
  const hi = dv.getInt32(off + 4, true);
  const v = hi * TWO32 + lo;
  if (!Number.isSafeInteger(v)) {
    throw new FuseProtocolError("VALUE_TOO_LARGE", `${what} exceeds 2^53`, "EOVERFLOW");
  }
  return v;
}

/** Writes a non-negative safe integer as a little-endian u64. Throws RangeError otherwise. */
export function writeU64(dv: DataView, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 field: ${v} is not a safe uint`);
  dv.setUint32(off, v % TWO32, true);
  dv.setUint32(off + 4, Math.floor(v / TWO32), true);
}

/** Writes a safe integer (possibly negative) as a little-endian i64. Throws RangeError otherwise. */
export function writeI64(dv: DataView, off: number, v: number): void {
  if (!Number.isSafeInteger(v)) throw new RangeError(`i64 field: ${v} is not a safe integer`);
  dv.setBigInt64(off, BigInt(v), true);
}

/** A structure table with decode/encode. */
export class FuseStruct<F extends readonly FieldDef[]> {
  readonly name: string;
  readonly fields: readonly Field[];
  /** Size in bytes, as `sizeof(struct ...)` in the kernel. */
  readonly size: number;

  constructor(name: string, defs: F) {
    this.name = name;
    let offset = 0;
    const fields: Field[] = [];
    for (const [fname, type, doc] of defs) {
      const width = WIDTH[type];
      fields.push({
        name: fname,
        key: camel(fname),
        type,
        offset,
        width,
        doc,
        hidden: isHidden(fname),
      });
      offset += width;
    }
    this.fields = fields;
    this.size = offset;
  }

  /** Decodes the structure at `off`. Throws FuseProtocolError when the view is too short. */
  decode(dv: DataView, off: number): Decoded<F> {
    if (off < 0 || off + this.size > dv.byteLength) {
      throw new FuseProtocolError(
        "SHORT_PAYLOAD",
        `${this.name} needs ${this.size} bytes at ${off}, have ${dv.byteLength - off}`,
      );
    }
    const out: Record<string, number | bigint> = {};
    for (const f of this.fields) {
      if (f.hidden) continue;
      const at = off + f.offset;
      switch (f.type) {
        case "u16":
          out[f.key] = dv.getUint16(at, true);
          break;
        case "u32":
          out[f.key] = dv.getUint32(at, true);
          break;
        case "i32":
          out[f.key] = dv.getInt32(at, true);
          break;
        case "u64":
          out[f.key] = readU64(dv, at, `${this.name}.${f.name}`);
          break;
        case "u64c":
          out[f.key] = readU64(dv, at, `${this.name}.${f.name}`, true);
          break;
        case "i64":
          out[f.key] = readI64(dv, at, `${this.name}.${f.name}`);
          break;
        case "x64":
          out[f.key] = dv.getBigUint64(at, true);
          break;
      }
    }
    return out as Decoded<F>;
  }

  /**
   * Encodes `value` at `off`; absent fields (and padding) are written as 0.
   * Throws RangeError for a value that does not fit its field.
   */
  encode(value: Partial<Decoded<F>>, dv: DataView, off: number): void {
    const rec = value as Record<string, number | bigint | undefined>;
    for (const f of this.fields) {
      const at = off + f.offset;
      const v = f.hidden ? undefined : rec[f.key];
      switch (f.type) {
        case "u16":
          dv.setUint16(at, checkUint(v ?? 0, 0xffff, this.name, f.name), true);
          break;
        case "u32":
          dv.setUint32(at, checkUint(v ?? 0, 0xffffffff, this.name, f.name), true);
          break;
        case "i32":
          dv.setInt32(at, Number(v ?? 0), true);
          break;
        case "u64":
        case "u64c":
          writeU64(dv, at, Number(v ?? 0));
          break;
        case "i64":
          writeI64(dv, at, Number(v ?? 0));
          break;
        case "x64":
          dv.setBigUint64(at, BigInt.asUintN(64, typeof v === "bigint" ? v : BigInt(v ?? 0)), true);
          break;
      }
    }
  }

  /** Encodes into a fresh buffer of exactly {@link size} bytes. */
  toBytes(value: Partial<Decoded<F>>): Uint8Array {
    const out = new Uint8Array(this.size);
    this.encode(value, new DataView(out.buffer), 0);
    return out;
  }
}

function checkUint(v: number | bigint, max: number, struct: string, field: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > max) {
    throw new RangeError(`${struct}.${field}: ${n} does not fit`);
  }
  return n;
}

/** Declares a structure table (see {@link FuseStruct}). */
export function struct<const F extends readonly FieldDef[]>(name: string, defs: F): FuseStruct<F> {
  return new FuseStruct(name, defs);
}
