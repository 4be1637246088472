/**
 * Extended attributes: ea_list and ea_get (debugfs/xattrs.c), read-only.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { CommandError, defineCommand } from "../command.js";
import { byteString } from "../render/format.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import { readInode, wrapError } from "./common.js";
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
