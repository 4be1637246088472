/**
 * Extended attributes (debugfs/xattrs.c): ea_list and ea_get read them;
 * ea_set and ea_rm (with -w) change them through the core's setxattr and
 * removexattr.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { decodeExt4Acl, encodePosixAclXattr, XATTR_SIZE_MAX } from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import { byteString } from "../render/format.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import { readInode, wrapError, writableFs } from "./common.js";
import {
  presentedXattr,
  storedXattr,
  XATTR_C,
  XATTR_HEX,
  XATTR_NOQUOTES,
  XATTR_RAW,
  XATTR_STATFMT,
  xattrLine,
  xattrString,
} from "./xattr-text.js";

/** One attribute: full name (byte string) and value. */
export interface XattrData {
  readonly name: string;
  readonly value: Uint8Array;
}

/** ea_list <file>: every attribute, abbreviated as `stat` shows them. */
export const eaList = defineCommand<{ inode: number; xattrs: XattrData[] }>({
  name: "ea_list",
  aliases: [],
  usage: "<file>",
  help: "List extended attributes of an inode",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw new CommandError(who, `Usage: ${who} <file>`, "USAGE");
    const fs = shell.requireFs(who);
    const ino = shell.resolveInode(argv[1]!);
    const inode = readInode(fs, ino, who);
    try {
      return { inode: ino, xattrs: fs.listXattrs(inode).map(storedXattr) };
    } catch (e) {
      throw wrapError(who, e, "while reading extended attributes");
    }
  },
  render(d) {
    if (d.xattrs.length === 0) return "";
    return `Extended attributes:\n${d.xattrs.map((x) => `  ${xattrLine(x.name, x.value, XATTR_STATFMT)}`).join("")}`;
  },
});

/** The data of ea_get. */
export interface EaGetData {
  readonly inode: number;
  readonly name: string;
  readonly value: Uint8Array;
  /** The host file the value was written to (-f), or null. */
  readonly file: string | null;
  readonly flags: number;
}

const EA_GET_USAGE = "Usage: ea_get [-f outfile]|[-xVC] [-r] <file> <attr>";

/** ea_get [-f outfile]|[-xVC] [-r] <file> <attr>: one attribute's value. */
export const eaGet = defineCommand<EaGetData>({
  name: "ea_get",
  aliases: [],
  usage: "[-f outfile]|[-xVC] [-r] <file> <attr>",
  help: "Get an extended attribute of an inode",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { C: "flag", f: "value", r: "flag", x: "flag", V: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw new CommandError(who, EA_GET_USAGE, "USAGE");
      throw e;
    }
    if (r.operands.length !== 2) throw new CommandError(who, EA_GET_USAGE, "USAGE");
    let flags = 0;
    if (hasOpt(r, "x")) flags |= XATTR_HEX;
    if (hasOpt(r, "V")) flags |= XATTR_RAW | XATTR_NOQUOTES;
    if (hasOpt(r, "C")) flags |= XATTR_C;
    const fs = shell.requireFs(who);
    const ino = shell.resolveInode(r.operands[0]!);
    const inode = readInode(fs, ino, who);
    const name = byteString(r.operands[1]!);
    let found: XattrData | undefined;
    try {
      const all = fs.listXattrs(inode);
      // -r: the raw handle shows ACLs in ext4's on-disk form instead of the POSIX xattr form.
      found = (
        hasOpt(r, "r")
          ? all.map((x) => ({ name: byteString(x.name), value: x.value }))
          : all.map(presentedXattr)
      ).find((x) => x.name === name);
    } catch (e) {
      throw wrapError(who, e, "while getting extended attribute");
    }
    if (found === undefined) {
      throw new CommandError(
        who,
        "Extended attribute key not found while getting extended attribute",
        "XATTR_NOT_FOUND",
      );
    }
    let file: string | null = null;
    const out = r.opts.filter((o) => o.opt === "f").at(-1)?.value;
    if (out !== undefined) {
      file = resolve(shell.hostCwd, out);
      try {
        writeFileSync(file, found.value);
      } catch (e) {
        throw new CommandError(out, e instanceof Error ? e.message : String(e), "WRITE_FAILED");
      }
    }
    return { inode: ino, name: r.operands[1]!, value: found.value, file, flags };
  },
  render(d) {
    if (d.file !== null) return "";
    let flags = d.flags;
    if ((flags & XATTR_RAW) !== 0) {
      if ((flags & (XATTR_HEX | XATTR_C)) !== 0) flags &= ~XATTR_RAW;
      return `${xattrString(d.value, flags)}\n`;
    }
    return `${xattrLine(byteString(d.name), d.value, flags)}\n`;
  },
});

const EA_SET_USAGE = "Usage: ea_set [-f infile] [-r] <file> <attr> [<value>]";

/**
 * cstring.c's parse_c_string: backslash escapes \a \b \f \n \t \v,
 * \xHH and up to three octal digits; an unescaped double quote ends the
 * value. Returns the bytes (the argument's characters as UTF-8).
 */
export function parseCString(s: string): Uint8Array {
  const src = Buffer.from(s, "utf8");
  const out: number[] = [];
  const hex = (c: number | undefined): number =>
    c === undefined ? -1 : Number.parseInt(String.fromCharCode(c), 16);
  for (let i = 0; i < src.length; i++) {
    const c = src[i]!;
    if (c === 0x22) break;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const e = src[++i];
    if (e === undefined) break;
    const simple: Record<number, number> = { 97: 7, 98: 8, 102: 12, 110: 10, 116: 9, 118: 11 };
    if (simple[e] !== undefined) out.push(simple[e]!);
    else if (e === 0x78 && !Number.isNaN(hex(src[i + 1]))) {
      let v = hex(src[++i]);
      if (!Number.isNaN(hex(src[i + 1]))) v = v * 16 + hex(src[++i]);
      out.push(v);
    } else if (e >= 0x30 && e <= 0x39) {
      // debugfs reads up to three digits 0-9 as octal (8 and 9 included, as it does).
      let v = e - 0x30;
      for (
        let k = 0;
        k < 2 && src[i + 1] !== undefined && src[i + 1]! >= 0x30 && src[i + 1]! <= 0x39;
        k++
      ) {
        v = v * 8 + (src[++i]! - 0x30);
      }
      out.push(v & 0xff);
    } else out.push(e);
  }
  return Uint8Array.from(out);
}

/** The data of ea_set. */
export interface EaSetData {
  readonly inode: number;
  readonly name: string;
  readonly size: number;
}

/**
 * ea_set [-f infile] [-r] <file> <attr> [<value>]: sets an attribute to the
 * value given (C escapes allowed) or to a host file's contents. ACL names
 * take the POSIX xattr form, or with -r ext4's on-disk form.
 */
export const eaSet = defineCommand<EaSetData>({
  name: "ea_set",
  aliases: [],
  usage: "[-f infile] [-r] <file> <attr> [<value>]",
  help: "Set an extended attribute of an inode",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { f: "value", r: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw new CommandError(who, EA_SET_USAGE, "USAGE");
      throw e;
    }
    const file = r.opts.filter((o) => o.opt === "f").at(-1)?.value;
    if (r.operands.length !== (file === undefined ? 3 : 2)) {
      throw new CommandError(who, EA_SET_USAGE, "USAGE");
    }
    const fs = writableFs(shell, who);
    const ino = shell.resolveInode(r.operands[0]!);
    const name = r.operands[1]!;
    let value: Uint8Array;
    if (file !== undefined) {
      try {
        value = readFileSync(resolve(shell.hostCwd, file));
      } catch (e) {
        throw new CommandError(file, e instanceof Error ? e.message : String(e), "READ_FAILED");
      }
      if (value.length > XATTR_SIZE_MAX) {
        throw new CommandError(
          who,
          `${file}: ${value.length} bytes is more than an attribute holds (${XATTR_SIZE_MAX})`,
          "TOO_BIG",
        );
      }
    } else value = parseCString(r.operands[2]!);
    try {
      // -r: the raw handle stores ACLs as given, in ext4's form; the core takes the POSIX form.
      if (hasOpt(r, "r") && /^system\.posix_acl_(access|default)$/.test(name)) {
        value = encodePosixAclXattr(decodeExt4Acl(value, { inode: ino }));
      }
      fs.setXattr(ino, name, value, 0, { reserved: true });
    } catch (e) {
      throw wrapError(who, e, "while setting extended attribute");
    }
    return { inode: ino, name, size: value.length };
  },
  render() {
    return "";
  },
});

/** ea_rm <file> <attrs>...: removes attributes, stopping at the first that cannot be. */
export const eaRm = defineCommand<{ inode: number; names: string[] }>({
  name: "ea_rm",
  aliases: [],
  usage: "<file> <attrs>...",
  help: "Remove an extended attribute of an inode",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length < 3) throw new CommandError(who, `Usage: ${who} <file> <attrs>...`, "USAGE");
    const fs = writableFs(shell, who);
    const ino = shell.resolveInode(argv[1]!);
    const names = argv.slice(2);
    for (const name of names) {
      try {
        fs.removeXattr(ino, name);
      } catch (e) {
        throw wrapError(who, e, `while removing extended attribute ${name}`);
      }
    }
    return { inode: ino, names };
  },
  render() {
    return "";
  },
});
