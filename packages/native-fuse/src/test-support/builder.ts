/**
 * Builds raw FUSE requests the way the kernel lays them out (fuse_in_header,
 * then the arguments, then extensions), for decoder and dispatcher tests.
 */
import { fuse_in_header, Opcode, type OpName } from "../abi.js";
import type { Decoded, FieldDef, FuseStruct } from "../struct.js";

/** Header fields a test may set; `len` and `total_extlen` are computed. */
export interface HeaderFields {
  unique?: number;
  nodeid?: number;
  uid?: number;
  gid?: number;
  pid?: number;
}

/** A request under construction. */
export class RequestBuilder {
  private readonly opcode: number;
  private readonly header: HeaderFields;
  private readonly parts: Uint8Array[] = [];
  private readonly extParts: Uint8Array[] = [];
  private lenOverride: number | undefined;

  constructor(op: OpName | number, header: HeaderFields = {}) {
    this.opcode = typeof op === "number" ? op : Opcode[op];
    this.header = header;
  }

  /** Appends raw bytes. */
  bytes(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }

  /** Appends a NUL-terminated string. */
  cstr(s: string | Uint8Array): this {
    const b = typeof s === "string" ? Buffer.from(s) : s;
    const out = new Uint8Array(b.length + 1);
    out.set(b);
    return this.bytes(out);
  }

  /** Appends an encoded structure. */
  struct<F extends readonly FieldDef[]>(s: FuseStruct<F>, value: Partial<Decoded<F>>): this {
    return this.bytes(s.toBytes(value));
  }

  /** Appends an extension (padded to 8 bytes, counted in total_extlen). */
  ext(b: Uint8Array): this {
    const padded = new Uint8Array(Math.ceil(b.length / 8) * 8);
    padded.set(b);
    this.extParts.push(padded);
    return this;
  }

  /** Makes the header's len field lie (malformed-request tests). */
  len(n: number): this {
    this.lenOverride = n;
    return this;
  }

  /** The request bytes. */
  build(): Uint8Array {
    const body = [...this.parts, ...this.extParts];
    const extLen = this.extParts.reduce((a, p) => a + p.length, 0);
    const total = fuse_in_header.size + body.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(total);
    fuse_in_header.encode(
      {
        len: this.lenOverride ?? total,
        opcode: this.opcode,
        unique: this.header.unique ?? 2,
        nodeid: this.header.nodeid ?? 1,
        uid: this.header.uid ?? 0,
        gid: this.header.gid ?? 0,
        pid: this.header.pid ?? 1,
        totalExtlen: extLen / 8,
      },
      new DataView(out.buffer),
      0,
    );
    let off = fuse_in_header.size;
    for (const p of body) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** Starts a request of opcode `op`. */
export function request(op: OpName | number, header: HeaderFields = {}): RequestBuilder {
  return new RequestBuilder(op, header);
}
