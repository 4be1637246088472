/**
 * debugfs's field names for set_super_value, set_inode_field and
 * set_block_group, derived from the core's field tables (SUPERBLOCK,
 * INODE, GROUP_DESC) rather than listed again: the kernel prefix (`s_`,
 * `i_`/`l_i_`, `bg_`) is dropped and a `_lo`/`_hi` (or `_high`) pair
 * becomes one name that takes the whole value, with `NAME_lo` / `NAME_hi`
 * reaching one half (debugfs's set_fields.c). What the tables cannot say —
 * which numbers are dates, UUIDs, strings, hash algorithms, or byte arrays
 * of numbers, and the few names debugfs spells differently — is the small
 * override table here. Parsing a value follows debugfs: strtoull/strtol
 * with base 0, string_to_time for dates, uuid_parse, e2p_string2hash.
 */
import { randomBytes } from "node:crypto";
import {
  GROUP_DESC,
  type GroupDescField,
  INODE,
  type InodeField,
  SUPERBLOCK,
  type SuperblockField,
} from "@ext4/core";
import { CommandError } from "../command.js";

/** How a field's value is written on the command line. */
export type FieldKind =
  | "uint"
  | "int"
  | "time"
  | "uuid"
  | "string"
  | "hashalg"
  | "encoding"
  | "csum"
  | "bmap";

/** A table field with its kernel name, byte width and whether it is a byte array. */
interface TableField<N extends string> {
  readonly name: N;
  readonly width: number;
  readonly kind: string;
}

/** One settable name. */
export interface FieldDef<N extends string> {
  /** debugfs's name (without `[N]`). */
  readonly name: string;
  readonly kind: FieldKind;
  /** The table field holding the value (the low half of a pair). */
  readonly lo: N;
  /** The high half (for an inode date: the *_extra field holding the epoch bits), or null. */
  readonly hi: N | null;
  /** Width in bytes of `lo` (or of one element) and of `hi`. */
  readonly loWidth: number;
  readonly hiWidth: number;
  /** Elements of a byte-array field addressed as NAME[i], or null. */
  readonly array: { readonly count: number; readonly width: number } | null;
  /** A fixed element of a byte-array field (`block[IND]`): byte offset and width. */
  readonly slot: { readonly offset: number; readonly width: number } | null;
}

/** A set of names over one table. */
export interface FieldTable<N extends string> {
  /** "Superblock", "Inode", "Block group descriptor" (for `-l`). */
  readonly what: string;
  /** The command `-l` names. */
  readonly command: string;
  /** Prefixes find_field strips. */
  readonly prefixes: readonly string[];
  readonly defs: readonly FieldDef<N>[];
  /** Other spellings accepted for a name (kernel names debugfs renamed). */
  readonly aliases: ReadonlyMap<string, string>;
}

interface Overrides<N extends string> {
  readonly skip: ReadonlySet<N>;
  readonly kinds: Readonly<Partial<Record<N, FieldKind>>>;
  /** debugfs names that differ from the table's: table stem → debugfs name. */
  readonly rename: Readonly<Record<string, string>>;
  /** Byte-array fields read as arrays of numbers: element width. */
  readonly arrays: Readonly<Partial<Record<N, number>>>;
}

/** Splits a stem into base name and role: `x_lo` low half, `x_hi`/`x_high` high half. */
function role(stem: string): { base: string; role: "lo" | "hi" | "single" } {
  if (stem.endsWith("_lo")) return { base: stem.slice(0, -3), role: "lo" };
  if (stem.endsWith("_hi")) return { base: stem.slice(0, -3), role: "hi" };
  if (stem.endsWith("_high")) return { base: stem.slice(0, -5), role: "hi" };
  return { base: stem, role: "single" };
}

function stemOf(name: string, prefixes: readonly string[]): string {
  for (const p of prefixes) if (name.startsWith(p)) return name.slice(p.length);
  return name;
}

/** Derives the names of a table: fields in table order, pairs merged, overrides applied. */
function derive<N extends string>(
  fields: readonly TableField<N>[],
  prefixes: readonly string[],
  o: Overrides<N>,
  limit = Number.POSITIVE_INFINITY,
  offsets: (n: N) => number = () => 0,
): FieldDef<N>[] {
  const present = fields.filter((f) => !o.skip.has(f.name) && offsets(f.name) + f.width <= limit);
  const byBase = new Map<string, { lo?: TableField<N>; hi?: TableField<N> }>();
  const order: string[] = [];
  for (const f of present) {
    const r = role(stemOf(f.name, prefixes));
    let slot = byBase.get(r.base);
    if (slot === undefined) {
      slot = {};
      byBase.set(r.base, slot);
      order.push(r.base);
    }
    if (r.role === "hi") slot.hi = f;
    else slot.lo = f;
  }
  const defs: FieldDef<N>[] = [];
  for (const base of order) {
    const pair = byBase.get(base);
    // A high half whose low half is not present (a short descriptor) is not settable alone.
    if (pair?.lo === undefined) continue;
    const lo = pair.lo;
    const hi = pair.hi ?? null;
    const arrayWidth = o.arrays[lo.name];
    const kind: FieldKind =
      o.kinds[lo.name] ?? (lo.kind === "bytes" && arrayWidth === undefined ? "uuid" : "uint");
    defs.push({
      name: o.rename[base] ?? base,
      kind,
      lo: lo.name,
      hi: hi?.name ?? null,
      loWidth: arrayWidth ?? lo.width,
      hiWidth: hi?.width ?? 0,
      array: arrayWidth === undefined ? null : { count: lo.width / arrayWidth, width: arrayWidth },
      slot: null,
    });
  }
  return defs;
}

const SB_TIMES = [
  "s_mtime",
  "s_wtime",
  "s_lastcheck",
  "s_mkfs_time",
  "s_first_error_time",
  "s_last_error_time",
] as const;
const SB_STRINGS = [
  "s_volume_name",
  "s_last_mounted",
  "s_mount_opts",
  "s_first_error_func",
  "s_last_error_func",
] as const;

/** set_super_value's names over SUPERBLOCK. */
export const SUPER_FIELDS: FieldTable<SuperblockField> = {
  what: "Superblock",
  command: "set_super_value",
  prefixes: ["s_"],
  defs: derive(SUPERBLOCK.fields, ["s_"], {
    // s_magic is not settable in debugfs; the rest is padding.
    skip: new Set<SuperblockField>(["s_magic", "s_reserved", "s_reserved_pad"]),
    kinds: {
      ...Object.fromEntries(SB_TIMES.map((n) => [n, "time"])),
      ...Object.fromEntries(SB_STRINGS.map((n) => [n, "string"])),
      s_log_cluster_size: "int",
      s_max_mnt_count: "int",
      s_def_hash_version: "hashalg",
      s_encoding: "encoding",
    },
    rename: { mmp_update_interval: "mmp_interval" },
    arrays: { s_jnl_blocks: 4, s_backup_bgs: 4, s_encrypt_algos: 1 },
  }),
  aliases: new Map([
    ["mmp_update_interval", "mmp_interval"],
    ["overhead_blocks", "overhead_clusters"],
  ]),
};

/** set_inode_field's names over INODE. */
export const INODE_FIELDS: FieldTable<InodeField> = (() => {
  const times: Array<[InodeField, InodeField]> = [
    ["i_atime", "i_atime_extra"],
    ["i_ctime", "i_ctime_extra"],
    ["i_mtime", "i_mtime_extra"],
    ["i_crtime", "i_crtime_extra"],
  ];
  const defs = derive(INODE.fields, ["l_i_", "i_"], {
    skip: new Set<InodeField>(["l_i_reserved", "i_block"]),
    kinds: { i_dtime: "time", l_i_checksum_lo: "csum" },
    rename: { obso_faddr: "faddr" },
    arrays: {},
  });
  const out: FieldDef<InodeField>[] = [];
  for (const d of defs) {
    const t = times.find(([lo]) => lo === d.lo);
    // A date's epoch bits live in its *_extra field: debugfs sets both from one date.
    if (t !== undefined) out.push({ ...d, kind: "time", hi: t[1], hiWidth: 4 });
    else out.push(d);
    if (d.lo === "i_flags") {
      const block = { kind: "uint" as const, lo: "i_block" as const, hi: null, hiWidth: 0 };
      out.push({ ...block, name: "block", loWidth: 4, array: { count: 12, width: 4 }, slot: null });
      for (const [i, n] of ["IND", "DIND", "TIND"].entries()) {
        out.push({
          ...block,
          name: `block[${n}]`,
          loWidth: 4,
          array: null,
          slot: { offset: (12 + i) * 4, width: 4 },
        });
      }
    }
  }
  out.push({
    name: "bmap",
    kind: "bmap",
    lo: "i_block",
    hi: null,
    loWidth: 4,
    hiWidth: 0,
    array: { count: Number.POSITIVE_INFINITY, width: 4 },
    slot: null,
  });
  return {
    what: "Inode",
    command: "set_inode",
    prefixes: ["l_i_", "i_"],
    defs: out,
    aliases: new Map([["obso_faddr", "faddr"]]),
  };
})();

/**
 * set_block_group's names over GROUP_DESC for a descriptor of `descSize`
 * bytes: a 32-byte descriptor has no high halves.
 */
export function groupFields(descSize: number): FieldTable<GroupDescField> {
  return {
    what: "Block group descriptor",
    command: "set_block_group",
    prefixes: ["bg_"],
    defs: derive(
      GROUP_DESC.fields,
      ["bg_"],
      {
        skip: new Set<GroupDescField>(["bg_reserved"]),
        kinds: { bg_checksum: "csum" },
        rename: {},
        arrays: {},
      },
      descSize,
      (n) => GROUP_DESC.offsetOf(n),
    ),
    aliases: new Map(),
  };
}

/** The type column of `-l`. */
function typeText(kind: FieldKind): string {
  switch (kind) {
    case "uint":
      return "unsigned integer";
    case "int":
      return "integer";
    case "time":
      return "date/time";
    case "uuid":
      return "UUID";
    case "string":
      return "string";
    case "hashalg":
      return "hash algorithm";
    case "encoding":
      return "encoding name or unsigned integer";
    case "csum":
      return 'unsigned integer OR "calc"';
    case "bmap":
      return "set physical->logical block map";
  }
}

/** The `-l` listing, in debugfs's layout. */
export function listFields<N extends string>(t: FieldTable<N>): string {
  let out = `${t.what} fields supported by the ${t.command} command:\n`;
  for (const d of t.defs) {
    let name = d.name;
    if (d.array !== null) name += Number.isFinite(d.array.count) ? `[${d.array.count}]` : "[]";
    if (d.hi !== null) name += "[_hi|_lo]";
    out += `\t${name.padEnd(25)}\t${typeText(d.kind)}\n`;
  }
  return out;
}

/** A name resolved: its definition, which half (`_lo`/`_hi` given), and the array index. */
export interface FoundField<N extends string> {
  readonly def: FieldDef<N>;
  readonly half: "lo" | "hi" | null;
  readonly index: number | null;
}

/** strtol(s, &end, 0) over the whole string, or null. */
function cLong(s: string): number | null {
  const m = /^[ \t]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return null;
  const v = Number(BigInt(m[2]!.replace(/^0(?=[0-7])/, "0o")));
  return m[1] === "-" ? -v : v;
}

/**
 * debugfs's find_field: strips the kernel prefix, reads `[N]` (or a named
 * slot like `block[IND]`), strips a `_lo`/`_hi` suffix from a name that has
 * a high half. Returns null when nothing matches ("invalid field
 * specifier").
 */
export function findField<N extends string>(t: FieldTable<N>, spec: string): FoundField<N> | null {
  let s = spec;
  for (const p of t.prefixes) {
    if (s.startsWith(p)) {
      s = s.slice(p.length);
      break;
    }
  }
  const exact = t.defs.find((d) => d.slot !== null && d.name === s);
  if (exact !== undefined) return { def: exact, half: null, index: null };
  let index: number | null = null;
  const m = /^(.*)\[([^\]]+)\]$/.exec(s);
  if (m !== null) {
    const n = cLong(m[2]!);
    if (n !== null) {
      s = m[1]!;
      index = n;
    }
  }
  let half: "lo" | "hi" | null = null;
  let base = s;
  if (s.length > 3 && (s.endsWith("_lo") || s.endsWith("_hi"))) {
    half = s.endsWith("_lo") ? "lo" : "hi";
    base = s.slice(0, -3);
  }
  const lookup = (name: string): FieldDef<N> | undefined => {
    const n = t.aliases.get(name) ?? name;
    return t.defs.find((d) => d.name === n && d.slot === null);
  };
  let def: FieldDef<N> | undefined;
  if (half !== null) {
    def = lookup(base);
    if (def !== undefined && def.hi === null) def = undefined;
  }
  if (def === undefined) {
    half = null;
    def = lookup(s);
  }
  if (def === undefined) return null;
  if (def.array !== null) {
    if (index === null || index < 0 || index >= def.array.count) return null;
  } else if (index !== null) return null;
  return { def, half, index };
}

/** "Couldn't parse 'x' for field y." — debugfs prints it bare, without a command name. */
export function parseFailure(value: string, field: string): CommandError {
  return new CommandError("", `Couldn't parse '${value}' for field ${field}.`, "BAD_VALUE");
}

/** strtoull(s, &end, 0) over the whole string (a leading '-' wraps, as strtoull does), or null. */
export function cUnsigned(s: string): bigint | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return null;
  const d = m[2]!;
  const v = /^0[xX]/.test(d)
    ? BigInt(d)
    : d.length > 1 && d.startsWith("0")
      ? BigInt(`0o${d.slice(1)}`)
      : BigInt(d);
  if (v >= 2n ** 64n) return null;
  return m[1] === "-" ? (2n ** 64n - v) % 2n ** 64n : v;
}

/** strtol(s, &end, 0) over the whole string as a signed 64-bit value, or null. */
export function cSigned(s: string): bigint | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return null;
  const d = m[2]!;
  const v = /^0[xX]/.test(d)
    ? BigInt(d)
    : d.length > 1 && d.startsWith("0")
      ? BigInt(`0o${d.slice(1)}`)
      : BigInt(d);
  if (v >= 2n ** 63n) return null;
  return m[1] === "-" ? -v : v;
}

/**
 * debugfs's string_to_time: "now", "@SECONDS", YYYYMMDD[HHMM[SS]] read as
 * UTC, else a plain integer. Returns null when it is none of these.
 */
export function stringToTime(arg: string, now: number): number | null {
  if (arg === "now") return now;
  if (arg.startsWith("@")) {
    const v = cSigned(arg.slice(1));
    return v === null ? null : Number(v);
  }
  const m = /^(\d{4})(\d{2})(\d{2})(?:(\d{2})(\d{2})(\d{2})?)?$/.exec(arg);
  if (m !== null) {
    const [y, mo, d, h, mi, se] = m.slice(1).map((x) => (x === undefined ? 0 : Number(x)));
    if (mo! >= 1 && mo! <= 12 && d! >= 1 && d! <= 31 && h! <= 23 && mi! <= 59 && se! <= 61) {
      return Date.UTC(y!, mo! - 1, d!, h, mi, se) / 1000;
    }
  }
  const v = cUnsigned(arg);
  return v === null || v >= 2n ** 63n ? null : Number(v);
}

/** uuid_parse's format: 8-4-4-4-12 hex digits. Returns the 16 bytes or null. */
export function parseUuid(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(s)) {
    return null;
  }
  return Uint8Array.from(Buffer.from(s.replaceAll("-", ""), "hex"));
}

/**
 * A new UUID as libuuid makes it: random (version 4) or time-based
 * (version 1: 100 ns intervals since 1582-10-15, a random clock sequence
 * and a random multicast node, as libuuid uses without a MAC address).
 */
export function newUuid(kind: "random" | "time"): Uint8Array {
  const b = Uint8Array.from(randomBytes(16));
  if (kind === "random") {
    b[6] = (b[6]! & 0x0f) | 0x40;
  } else {
    const t = BigInt(Date.now()) * 10000n + 0x01b21dd213814000n;
    const low = Number(t & 0xffffffffn);
    const mid = Number((t >> 32n) & 0xffffn);
    const high = Number((t >> 48n) & 0x0fffn) | 0x1000;
    b.set([low >>> 24, (low >>> 16) & 0xff, (low >>> 8) & 0xff, low & 0xff], 0);
    b.set([mid >>> 8, mid & 0xff, high >>> 8, high & 0xff], 4);
    b[10] = b[10]! | 0x01;
  }
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}

/** e2p_string2hash: the directory hash algorithms by name (or HASHALG_N). */
export function parseHashAlg(s: string): number | null {
  const names = [
    "legacy",
    "half_md4",
    "tea",
    "legacy_unsigned",
    "half_md4_unsigned",
    "tea_unsigned",
    "siphash",
  ];
  const i = names.indexOf(s.toLowerCase());
  if (i >= 0) return i;
  const m = /^hashalg_(\d+)$/i.exec(s);
  if (m === null) return null;
  const n = Number(m[1]);
  return n <= 255 ? n : null;
}
