/**
 * `ls` (debugfs/ls.c): the records of a directory as ext2fs_dir_iterate2
 * with DIRENT_FLAG_INCLUDE_EMPTY walks them, in the short (packed to 80
 * columns), long (-l) or parseable (-p) layout; -d adds deleted records
 * recovered from slack space, -c the checksum tails, -r prints encrypted
 * names raw.
 */
import {
  dirBlockInfo,
  type Filesystem,
  INODE,
  type InodeField,
  InodeFlags,
  type RawListEntry,
  viewOf,
} from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import { hex, localTime, MONTHS, padStart } from "../render/format.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import { readInode, S_IFDIR, S_IFMT, wrapError } from "./common.js";

/** The inode fields a long or parseable listing shows, read from the entry's inode. */
export interface LsInodeInfo {
  readonly mode: number;
  /** i_uid | l_i_uid_high << 16 (the long listing). */
  readonly uid: number;
  readonly gid: number;
  /** i_uid and i_gid low 16 bits (the parseable listing prints these). */
  readonly uid16: number;
  readonly gid16: number;
  /** 64-bit size; for directories debugfs prints i_size_lo. */
  readonly size: number;
  readonly sizeLo: number;
  /** i_mtime as the unsigned 32-bit word (ls ignores the epoch bits). */
  readonly mtime: number;
}

/** One record of the listing. */
export interface LsEntry {
  readonly kind: RawListEntry["kind"];
  readonly inode: number;
  readonly recLen: number;
  readonly fileType: number;
  /** The name decoded as UTF-8 (for reading; invalid bytes replaced). */
  readonly name: string;
  /** The name as stored (what the text output prints). */
  readonly nameBytes: Uint8Array;
  /** det_checksum of a checksum tail. */
  readonly checksum: number | null;
  /** Present for -l and -p when the entry has an inode that could be read. */
  readonly info: LsInodeInfo | null;
}

/** The data of `ls`. */
export interface LsData {
  readonly directory: number;
  readonly long: boolean;
  readonly parseable: boolean;
  readonly raw: boolean;
  /** The directory has EXT4_ENCRYPT_FL: names print as `<encrypted (len)>` unless -r. */
  readonly encrypted: boolean;
  readonly entries: readonly LsEntry[];
}

function lsInodeInfo(fs: Filesystem, ino: number): LsInodeInfo {
  const inode = fs.readInode(ino);
  const v = viewOf(inode.raw, { inode: ino });
  const g = (n: InodeField): number => INODE.get(v, n);
  return {
    mode: g("i_mode"),
    uid: g("i_uid") + g("l_i_uid_high") * 0x10000,
    gid: g("i_gid") + g("l_i_gid_high") * 0x10000,
    uid16: g("i_uid"),
    gid16: g("i_gid"),
    size: inode.size,
    sizeLo: g("i_size_lo"),
    mtime: g("i_mtime") >>> 0,
  };
}

const USAGE = "Usage: ls [-c] [-d] [-l] [-p] [-r] file";

/** list_directory / ls [-c] [-d] [-l] [-p] [-r] [file]. */
export const ls = defineCommand<LsData>({
  name: "list_directory",
  aliases: ["ls"],
  usage: "[-c] [-d] [-l] [-p] [-r] file",
  help: "List directory",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { c: "flag", d: "flag", l: "flag", p: "flag", r: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw new CommandError("", USAGE, "USAGE");
      throw e;
    }
    if (r.operands.length > 1) throw new CommandError("", USAGE, "USAGE");
    const fs = shell.requireFs(who);
    const spec = r.operands[0];
    const ino = spec === undefined ? shell.cwd : shell.resolveInode(spec);
    const dir = readInode(fs, ino, who);
    const long = hasOpt(r, "l");
    const parseable = hasOpt(r, "p");
    const data = {
      directory: ino,
      long,
      parseable,
      raw: hasOpt(r, "r"),
      encrypted: (dir.flags & InodeFlags.ENCRYPT) !== 0,
    };
    let listing: ReturnType<typeof dirBlockInfo>;
    try {
      listing = dirBlockInfo(fs, dir, {
        includeDeleted: hasOpt(r, "d"),
        includeChecksum: hasOpt(r, "c"),
      });
    } catch (e) {
      // debugfs prints the (empty) listing's newline, then the reason.
      shell.fail(wrapError(spec ?? "", e).line);
      return { ...data, entries: [] };
    }
    const entries: LsEntry[] = [];
    for (const block of listing.blocks) {
      for (const e of block.entries) {
        const inodeNo = e.kind === "deleted" ? 0 : e.inode;
        let info: LsInodeInfo | null = null;
        if ((long || parseable) && inodeNo !== 0) {
          try {
            info = lsInodeInfo(fs, inodeNo);
          } catch (err) {
            // debugfs_read_inode fails: the entry is skipped, the listing goes on.
            shell.fail(wrapError("ls", err, `while reading inode ${inodeNo}`).line);
            continue;
          }
        }
        entries.push({
          kind: e.kind,
          inode: e.inode,
          recLen: e.recLenRaw,
          fileType: e.fileTypeRaw,
          name: new TextDecoder().decode(e.name),
          nameBytes: e.name,
          checksum: e.checksum ?? null,
          info,
        });
      }
    }
    if (listing.error !== null) shell.fail(wrapError(spec ?? "", listing.error).line);
    return { ...data, entries };
  },
  render(d) {
    return renderLs(d);
  },
});

/**
 * print_filename (1.47): bytes below 32, from 127 up, and the backslash as
 * `\xNN`; everything else as is. Encrypted names as `<encrypted (len)>`.
 */
function printFilename(name: Uint8Array, encrypted: boolean): string {
  if (encrypted) return `<encrypted (${name.length})>`;
  let s = "";
  for (const ch of name) {
    s +=
      ch < 32 || ch >= 127 || ch === 0x5c
        ? `\\x${ch.toString(16).padStart(2, "0")}`
        : String.fromCharCode(ch);
  }
  return s;
}

function dateString(mtime: number): string {
  const t = localTime(mtime);
  if (t === null) return "                 ";
  const two = (n: number): string => String(n).padStart(2, "0");
  return `${padStart(t.day, 2)}-${MONTHS[t.month]}-${padStart(t.year, 4)} ${two(t.hour)}:${two(t.minute)}`;
}

/** The text of `ls` in the layout its options select. */
export function renderLs(d: LsData): string {
  let out = "";
  let col = 0;
  d.entries.forEach((e, index) => {
    // ls.c: the first two records ("." and "..") are always printed raw.
    const encrypted = d.encrypted && !d.raw && index >= 2;
    const deleted = e.kind === "deleted";
    const lbr = deleted ? "<" : " ";
    const rbr = deleted ? ">" : " ";
    const ino = deleted ? 0 : e.inode;
    const name = Buffer.from(e.nameBytes).toString("latin1");
    if (d.parseable) {
      const i = e.info;
      const mode = i?.mode ?? 0;
      out += `/${ino}/${mode.toString(8).padStart(6, "0")}/${i?.uid16 ?? 0}/${i?.gid16 ?? 0}/${name}/`;
      out += (mode & S_IFMT) === S_IFDIR ? "/" : `${i?.size ?? 0}/`;
      out += "\n";
      return;
    }
    if (d.long) {
      const i = e.info;
      const datestr = i !== null && ino !== 0 ? dateString(i.mtime) : "                 ";
      out += `${lbr}${padStart(ino, 6)}${rbr} ${padStart((i?.mode ?? 0).toString(8), 6)} `;
      if (e.kind === "checksum") {
        out += `(dirblock checksum: 0x${hex(e.checksum ?? 0, 8)})\n`;
        return;
      }
      out += `(${e.fileType})  ${padStart(i?.uid ?? 0, 5)}  ${padStart(i?.gid ?? 0, 5)}   `;
      out +=
        i !== null && (i.mode & S_IFMT) === S_IFDIR
          ? padStart(i.sizeLo | 0, 5)
          : padStart(i?.size ?? 0, 5);
      out += ` ${datestr} ${printFilename(e.nameBytes, encrypted)}\n`;
      return;
    }
    let tmp: string;
    let width: number;
    if (e.kind === "checksum") {
      tmp = `${lbr}${e.inode}${rbr} (dirblock checksum: 0x${hex(e.checksum ?? 0, 8)})   `;
      width = tmp.length;
      if (col + width > 80) {
        out += "\n";
        col = 0;
      }
      out += tmp;
      col += width;
      return;
    }
    tmp = `${lbr}${e.inode}${rbr} (${e.recLen}) `;
    const shown = printFilename(e.nameBytes, encrypted);
    width = tmp.length + 3 + shown.length;
    if (col + width > 80) {
      out += "\n";
      col = 0;
    }
    out += `${tmp}${shown}   `;
    col += width;
  });
  return `${out}\n`;
}
