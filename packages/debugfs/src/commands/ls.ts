/**
 * `ls` (debugfs/ls.c): the records of a directory as ext2fs_dir_iterate2
 * with DIRENT_FLAG_INCLUDE_EMPTY walks them, in the short (packed to 80
 * columns), long (-l) or parseable (-p) layout; -d adds deleted records
 * recovered from slack space, -c the checksum tails, -r prints encrypted
 * names raw.
 */
import { dirBlockInfo, type Filesystem, InodeFlags, type RawListEntry } from "@ext4/core";
import { CommandError, defineCommand, type Rendered } from "../command.js";
import { hex, localTime, MONTHS, padStart } from "../render/format.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import { nameString, nameText, readInode, S_IFDIR, S_IFMT, wrapError } from "./common.js";

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
  // The inode's fields carry every word ls prints; the raw words are their low bits. Read
  // one by one (not .fields): a listing of many inodes then never decodes the rest.
  const inode = fs.readInode(ino);
  const uid = inode.uid;
  const gid = inode.gid;
  const size = inode.size;
  return {
    mode: inode.mode,
    uid,
    gid,
    uid16: uid & 0xffff,
    gid16: gid & 0xffff,
    size,
    sizeLo: size % 2 ** 32,
    // i_mtime as stored: the epoch bits of i_mtime_extra sit above the low 32 bits.
    mtime: inode.mtime.sec >>> 0,
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
          name: nameText(e.name),
          nameBytes: e.name,
          checksum: e.checksum ?? null,
          info,
        });
      }
    }
    if (listing.error !== null) shell.fail(wrapError(spec ?? "", listing.error).line);
    return { ...data, entries };
  },
  render(d): Rendered {
    return renderLs(d);
  },
});

/**
 * print_filename (1.47): bytes below 32, from 127 up, and the backslash as
 * `\xNN`; everything else as is. Encrypted names as `<encrypted (len)>`.
 */
function printFilename(name: Uint8Array, encrypted: boolean): string {
  if (encrypted) return `<encrypted (${name.length})>`;
  let plain = true;
  for (const ch of name) {
    if (ch < 32 || ch >= 127 || ch === 0x5c) {
      plain = false;
      break;
    }
  }
  if (plain) return nameString(name);
  let s = "";
  for (const ch of name) {
    s +=
      ch < 32 || ch >= 127 || ch === 0x5c
        ? `\\x${ch.toString(16).padStart(2, "0")}`
        : String.fromCharCode(ch);
  }
  return s;
}

const NO_DATE = "                 ";
const two = (n: number): string => String(n).padStart(2, "0");

/**
 * ls -l's `%2d-%s-%4d %02d:%02d` of i_mtime. The files of one directory
 * mostly share a few times, so the last one is remembered.
 */
function dateFormatter(): (mtime: number) => string {
  let lastTime = Number.NaN;
  let last = NO_DATE;
  return (mtime) => {
    if (mtime === lastTime) return last;
    const t = localTime(mtime);
    last =
      t === null
        ? NO_DATE
        : `${padStart(t.day, 2)}-${MONTHS[t.month]}-${padStart(t.year, 4)} ${two(t.hour)}:${two(t.minute)}`;
    lastTime = mtime;
    return last;
  };
}

/** Text is handed on in pieces of about this many characters (bytes), not as one string per listing. */
const RENDER_CHUNK = 64 * 1024;

/** The text of `ls` in the layout its options select, in chunks of about 64 KiB. */
export function* renderLs(d: LsData): Generator<string> {
  const dateString = dateFormatter();
  let out = "";
  let col = 0;
  for (let index = 0; index < d.entries.length; index++) {
    if (out.length >= RENDER_CHUNK) {
      yield out;
      out = "";
    }
    const e = d.entries[index]!;
    // ls.c: the first two records ("." and "..") are always printed raw.
    const encrypted = d.encrypted && !d.raw && index >= 2;
    const deleted = e.kind === "deleted";
    const lbr = deleted ? "<" : " ";
    const rbr = deleted ? ">" : " ";
    const ino = deleted ? 0 : e.inode;
    if (d.parseable) {
      const i = e.info;
      const mode = i?.mode ?? 0;
      out += `/${ino}/${mode.toString(8).padStart(6, "0")}/${i?.uid16 ?? 0}/${i?.gid16 ?? 0}/${nameString(e.nameBytes)}/`;
      out += (mode & S_IFMT) === S_IFDIR ? "/" : `${i?.size ?? 0}/`;
      out += "\n";
      continue;
    }
    if (d.long) {
      const i = e.info;
      const datestr = i !== null && ino !== 0 ? dateString(i.mtime) : NO_DATE;
      out += `${lbr}${padStart(ino, 6)}${rbr} ${padStart((i?.mode ?? 0).toString(8), 6)} `;
      if (e.kind === "checksum") {
        out += `(dirblock checksum: 0x${hex(e.checksum ?? 0, 8)})\n`;
        continue;
      }
      out += `(${e.fileType})  ${padStart(i?.uid ?? 0, 5)}  ${padStart(i?.gid ?? 0, 5)}   `;
      out +=
        i !== null && (i.mode & S_IFMT) === S_IFDIR
          ? padStart(i.sizeLo | 0, 5)
          : padStart(i?.size ?? 0, 5);
      out += ` ${datestr} ${printFilename(e.nameBytes, encrypted)}\n`;
      continue;
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
      continue;
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
  }
  yield `${out}\n`;
}
