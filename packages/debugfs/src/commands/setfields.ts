/**
 * set_super_value (ssv), set_inode_field (sif) and set_block_group
 * (set_bg), debugfs's set_fields.c: one field, by debugfs's name (see
 * fields.ts), set to a value parsed as debugfs parses it, then written
 * through the core's raw editor. `-l` lists the names.
 */
import {
  ByteView,
  type GroupDescField,
  INODE,
  type InodeField,
  type RawEditor,
  type RawFieldChange,
  type SuperblockField,
} from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import type { Shell } from "../shell/context.js";
import { wrapError, writableFs } from "./common.js";
import {
  cSigned,
  cUnsigned,
  type FieldTable,
  type FoundField,
  findField,
  groupFields,
  INODE_FIELDS,
  listFields,
  newUuid,
  parseFailure,
  parseHashAlg,
  parseUuid,
  SUPER_FIELDS,
  stringToTime,
} from "./fields.js";

/** What one of the three commands returns: the listing, or what was set. */
type SetData =
  | { readonly list: string }
  | {
      readonly field: string;
      readonly value: string;
      readonly target: number | null;
      /** The checksum `checksum calc` computed (it prints "Checksum set to ..."), else null. */
      readonly checksum: number | null;
      readonly checksumWidth: number;
    };

/** Where the current value of a table field is read from (array elements and epoch bits keep the rest). */
type Current<N extends string> = (field: N) => number | Uint8Array;

const tooBig = (value: string, field: string, limit: bigint): CommandError =>
  new CommandError("", `Value '${value}' exceeds field ${field} maximum ${limit}.`, "BAD_VALUE");

/** A number for the core: table fields past 2^53 (u64 counters) cannot be represented. */
function safe(v: bigint, value: string, field: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw tooBig(value, field, BigInt(Number.MAX_SAFE_INTEGER));
  }
  return Number(v);
}

/** Writes `v` little-endian into `width` bytes at `offset` of a copy of `bytes`. */
function withElement(bytes: Uint8Array, offset: number, width: number, v: bigint): Uint8Array {
  const out = bytes.slice();
  for (let i = 0; i < width; i++) out[offset + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/**
 * The table changes for setting `found` to `value` (parse_uint, parse_int,
 * parse_time, parse_uuid, parse_string, parse_hashalg, parse_encoding).
 * `hiFits` says whether the high half may be written (an inode whose
 * i_extra_isize leaves no room for it keeps it only when it would be 0).
 * Throws CommandError with debugfs's messages.
 */
function changesFor<N extends string>(
  found: FoundField<N>,
  value: string,
  current: Current<N>,
  now: number,
  hiFits: boolean,
): RawFieldChange<N>[] {
  const d = found.def;
  const name = d.name;
  let kind = d.kind;
  if (kind === "encoding") kind = /^utf8(-12\.1)?$/i.test(value) ? "encoding" : "uint";
  if (kind === "time" && found.half !== null) kind = "uint";
  if (kind === "csum") kind = "uint";
  const element = (v: bigint, width: number): RawFieldChange<N>[] => {
    const bytes = current(d.lo);
    if (!(bytes instanceof Uint8Array)) throw parseFailure(value, name);
    const offset = d.slot?.offset ?? (found.index ?? 0) * width;
    return [{ field: d.lo, value: withElement(bytes, offset, width, v) }];
  };
  const pair = (lo: bigint, hi: bigint): RawFieldChange<N>[] => {
    const out: RawFieldChange<N>[] = [{ field: d.lo, value: safe(lo, value, name) }];
    if (d.hi !== null && (hiFits || hi !== 0n))
      out.push({ field: d.hi, value: safe(hi, value, name) });
    return out;
  };
  switch (kind) {
    case "uint": {
      const v = cUnsigned(value);
      if (v === null) throw parseFailure(value, name);
      const width = d.array?.width ?? d.slot?.width ?? null;
      if (width !== null) {
        const limit = 2n ** BigInt(8 * width) - 1n;
        if (v > limit) throw tooBig(value, name, limit);
        return element(v, width);
      }
      if (found.half === "hi" && d.hi !== null) {
        const limit = 2n ** BigInt(8 * d.hiWidth) - 1n;
        if (v > limit) throw tooBig(value, name, limit);
        return [{ field: d.hi, value: safe(v, value, name) }];
      }
      const loBits = BigInt(8 * d.loWidth);
      const bits = found.half === null && d.hi !== null ? loBits + BigInt(8 * d.hiWidth) : loBits;
      const limit = 2n ** bits - 1n;
      if (v > limit) throw tooBig(value, name, limit);
      if (found.half === "lo" || d.hi === null)
        return [{ field: d.lo, value: safe(v, value, name) }];
      return pair(v & (2n ** loBits - 1n), v >> loBits);
    }
    case "int": {
      const v = cSigned(value);
      if (v === null) throw parseFailure(value, name);
      const bits = BigInt(8 * d.loWidth);
      // debugfs stores strtol's result truncated to the field, two's complement.
      return [{ field: d.lo, value: Number(((v % 2n ** bits) + 2n ** bits) % 2n ** bits) }];
    }
    case "time": {
      const t = stringToTime(value, now);
      if (t === null) throw parseFailure(value, name);
      const lo = BigInt(t) & 0xffffffffn;
      if (d.hi === null) return [{ field: d.lo, value: Number(lo) }];
      if (d.hiWidth === 4) {
        // ext4's extra time word: the low two bits extend the signed 32-bit seconds (epoch bits).
        const low32 = Number(lo) | 0;
        const epoch = BigInt(Math.floor((t - low32) / 2 ** 32)) & 3n;
        const extra = current(d.hi);
        const cur = typeof extra === "number" ? BigInt(extra) : 0n;
        return pair(lo, (cur & ~3n) | epoch);
      }
      return pair(lo, t < 0 ? 0n : (BigInt(t) >> 32n) & 0xffn);
    }
    case "uuid": {
      let bytes: Uint8Array | null;
      const v = value.toLowerCase();
      if (v === "null" || v === "clear") bytes = new Uint8Array(16);
      else if (v === "random" || v === "time") bytes = newUuid(v);
      else bytes = parseUuid(value);
      if (bytes === null) throw new CommandError("", `Invalid UUID format: ${value}`, "BAD_VALUE");
      return [{ field: d.lo, value: bytes }];
    }
    case "string": {
      const bytes = new TextEncoder().encode(value);
      if (bytes.length >= d.loWidth) {
        throw new CommandError("", `Error maximum size for ${name} is ${d.loWidth}.`, "BAD_VALUE");
      }
      return [{ field: d.lo, value: bytes }];
    }
    case "hashalg": {
      const n = parseHashAlg(value);
      if (n === null) throw new CommandError("", `Invalid hash algorithm: ${value}`, "BAD_VALUE");
      return [{ field: d.lo, value: n }];
    }
    case "encoding":
      // e2p_str2encoding: utf8 (Unicode 12.1) is encoding 1.
      return [{ field: d.lo, value: 1 }];
    case "bmap":
      throw parseFailure(value, name);
  }
}

/** The `-l` data, or null when the arguments are not `-l`. */
function listing<N extends string>(
  argv: readonly string[],
  table: () => FieldTable<N>,
): SetData | null {
  return argv.length === 2 && argv[1] === "-l" ? { list: listFields(table()) } : null;
}

function invalidField(who: string, spec: string): CommandError {
  return new CommandError(who, `invalid field specifier: ${spec}`, "BAD_FIELD");
}

function raw(shell: Shell, who: string): RawEditor {
  const fs = writableFs(shell, who);
  try {
    return fs.raw();
  } catch (e) {
    throw wrapError(who, e);
  }
}

const now = (): number => Math.floor(Date.now() / 1000);

/** set_super_value/ssv <field> <value> (ssv -l lists the fields). */
export const setSuperValue = defineCommand<SetData>({
  name: "set_super_value",
  aliases: ["ssv"],
  usage: "<field> <value>",
  help: "Set superblock value",
  needsFs: false,
  run(shell, argv) {
    const who = argv[0]!;
    const list = listing(argv, () => SUPER_FIELDS);
    if (list !== null) return list;
    if (argv.length !== 3) {
      throw new CommandError(
        who,
        'Usage: set_super_value <field> <value> ("set_super_value -l" lists the fields)',
        "USAGE",
      );
    }
    const editor = raw(shell, who);
    const found = findField(SUPER_FIELDS, argv[1]!);
    if (found === null) throw invalidField(who, argv[1]!);
    const changes = changesFor<SuperblockField>(
      found,
      argv[2]!,
      (f) => editor.superField(f),
      now(),
      true,
    );
    try {
      editor.setSuperFields(changes);
    } catch (e) {
      throw wrapError(who, e);
    }
    return {
      field: found.def.name,
      value: argv[2]!,
      target: null,
      checksum: null,
      checksumWidth: 0,
    };
  },
  render(d) {
    return "list" in d ? d.list : "";
  },
});

/** set_inode_field/sif <file> <field> <value> (sif -l lists the fields). */
export const setInodeField = defineCommand<SetData>({
  name: "set_inode_field",
  aliases: ["sif"],
  usage: "<file> <field> <value>",
  help: "Set inode field",
  needsFs: false,
  run(shell, argv) {
    const who = argv[0]!;
    const list = listing(argv, () => INODE_FIELDS);
    if (list !== null) return list;
    if (argv.length !== 4) {
      throw new CommandError(
        who,
        'Usage: set_inode_field <inode> <field> <value> ("set_inode_field -l" lists the fields)',
        "USAGE",
      );
    }
    const editor = raw(shell, who);
    const found = findField(INODE_FIELDS, argv[2]!);
    if (found === null) throw invalidField(who, argv[2]!);
    const ino = shell.resolveInode(argv[1]!);
    const value = argv[3]!;
    const base = { field: found.def.name, value, target: ino };
    try {
      if (found.def.kind === "bmap") {
        const phys = cUnsigned(value);
        if (phys === null) throw parseFailure(value, found.def.name);
        editor.mapBlock(ino, found.index ?? 0, safe(phys, value, found.def.name));
        return { ...base, checksum: null, checksumWidth: 0 };
      }
      const csum = found.def.kind === "csum";
      if (csum && value === "calc") {
        const bytes = editor.setInodeFields(ino, [], { checksum: true, verify: false });
        const v = new ByteView(bytes);
        const hasHi = bytes.length > 128 && INODE.get(v, "i_extra_isize") >= 4;
        const c =
          INODE.get(v, "l_i_checksum_lo") + (hasHi ? INODE.get(v, "i_checksum_hi") * 0x10000 : 0);
        return { ...base, checksum: c, checksumWidth: 8 };
      }
      const bytes = editor.inodeBytes(ino);
      const view = new ByteView(bytes);
      const room = bytes.length > 128 ? 128 + INODE.get(view, "i_extra_isize") : 128;
      const hi = found.def.hi;
      const hiFits = hi === null || INODE.offsetOf(hi) + found.def.hiWidth <= room;
      const current: Current<InodeField> = (f) => {
        const field = INODE.field(f);
        if (field.offset + field.width > bytes.length) return 0;
        return field.kind === "bytes" ? INODE.bytesOf(view, f).slice() : INODE.get(view, f);
      };
      const changes = changesFor<InodeField>(found, value, current, now(), hiFits);
      editor.setInodeFields(ino, changes, { checksum: !csum, verify: !csum });
    } catch (e) {
      throw wrapError(who, e);
    }
    return { ...base, checksum: null, checksumWidth: 0 };
  },
  render(d) {
    if ("list" in d) return d.list;
    if (d.checksum === null) return "";
    return `Checksum set to 0x${d.checksum.toString(16).padStart(d.checksumWidth, "0")}\n`;
  },
});

/** set_block_group/set_bg <bg number> <field> <value> (set_bg -l lists the fields). */
export const setBlockGroup = defineCommand<SetData>({
  name: "set_block_group",
  aliases: ["set_bg"],
  usage: "<bg number> <field> <value>",
  help: "Set block group descriptor field",
  needsFs: false,
  run(shell, argv) {
    const who = argv[0]!;
    const descSize = shell.image?.fs.superblock.descSize ?? 32;
    const list = listing(argv, () => groupFields(descSize));
    if (list !== null) return list;
    if (argv.length !== 4) {
      throw new CommandError(
        who,
        'Usage: set_block_group <bg number> <field> <value> ("set_block_group -l" lists the fields)',
        "USAGE",
      );
    }
    const editor = raw(shell, who);
    const groupCount = shell.requireFs(who).superblock.groupCount;
    const g = cUnsigned(argv[1]!);
    if (g === null) {
      throw new CommandError(who, `invalid block group number: ${argv[1]}`, "BAD_GROUP");
    }
    if (g >= BigInt(groupCount)) {
      throw new CommandError(who, `block group number too big: ${g}`, "BAD_GROUP");
    }
    const group = Number(g);
    const found = findField(groupFields(descSize), argv[2]!);
    if (found === null) throw invalidField(who, argv[2]!);
    const value = argv[3]!;
    const base = { field: found.def.name, value, target: group };
    try {
      if (found.def.kind === "csum" && value === "calc") {
        const c = editor.setGroupFields(group, [], { checksum: "calc" });
        return { ...base, checksum: c, checksumWidth: 4 };
      }
      const bytes = editor.groupDescBytes(group);
      const current: Current<GroupDescField> = () => bytes;
      const changes = changesFor<GroupDescField>(found, value, current, now(), true);
      editor.setGroupFields(group, changes, { checksum: "keep" });
    } catch (e) {
      throw wrapError(who, e);
    }
    return { ...base, checksum: null, checksumWidth: 0 };
  },
  render(d) {
    if ("list" in d) return d.list;
    if (d.checksum === null) return "";
    return `Checksum set to 0x${d.checksum.toString(16).padStart(d.checksumWidth, "0")}\n`;
  },
});
