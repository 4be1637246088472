/**
 * `stat`: debugfs's internal_dump_inode, field for field. The data holds
 * the raw values debugfs prints (so `--json` shows what the disk says) and
 * the render reproduces its layout, including its quirks (the checksum line
 * without the prefix, the `(New-style)` device note before the line).
 */
import {
  type Filesystem,
  INODE,
  type Inode,
  type InodeField,
  InodeFlags,
  viewOf,
} from "@ext4/core";
import { defineCommand } from "../command.js";
import { asctime, hex, inodeTimeSeconds, latin1, octal, padStart } from "../render/format.js";
import type { Shell } from "../shell/context.js";
import { type BlockListData, blockListData, renderBlockList } from "./blocklist.js";
import {
  oneInodeArg,
  readInode,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  wrapError,
} from "./common.js";
import { type ExtentListData, extentListData, renderExtentList } from "./extents.js";
import { storedXattr, XATTR_STATFMT, xattrLine } from "./xattr-text.js";

/** A timestamp as stored: the 32-bit seconds word and, when present, the _extra word. */
export interface RawTime {
  readonly seconds: number;
  readonly extra: number | null;
}

/** What follows the fixed fields in `stat`. */
export type StatTail =
  | { readonly kind: "fastlink"; readonly target: string }
  | {
      readonly kind: "device";
      readonly newStyle: boolean;
      readonly major: number;
      readonly minor: number;
    }
  | { readonly kind: "extents"; readonly extents: ExtentListData }
  | { readonly kind: "inline"; readonly size: number | null }
  | { readonly kind: "blocks"; readonly blocks: BlockListData }
  | { readonly kind: "none" };

/** Everything `stat` prints about an inode. */
export interface StatData {
  readonly inode: number;
  readonly type: string;
  readonly mode: number;
  readonly flags: number;
  readonly generation: number;
  readonly versionLo: number;
  /** i_version_hi, when the inode has room for it (i_extra_isize ≥ 24). */
  readonly versionHi: number | null;
  readonly uid: number;
  readonly gid: number;
  readonly projid: number | null;
  /** The size as debugfs prints it: 64-bit for files and directories, i_size_lo for others. */
  readonly size: number;
  readonly fileAcl: number;
  readonly links: number;
  /** i_blocks as stored (lo + hi << 32). */
  readonly blockcount: number;
  readonly faddr: number;
  readonly ctime: RawTime;
  readonly atime: RawTime;
  readonly mtime: RawTime;
  readonly crtime: RawTime | null;
  readonly dtime: RawTime | null;
  /** i_extra_isize, for inodes larger than 128 bytes. */
  readonly extraIsize: number | null;
  readonly xattrs: ReadonlyArray<{ readonly name: string; readonly value: Uint8Array }>;
  /** The stored checksum with metadata_csum, else null. */
  readonly checksum: number | null;
  readonly tail: StatTail;
}

/** debugfs's name for the file type of `mode`. */
export function typeName(mode: number): string {
  switch (mode & S_IFMT) {
    case S_IFDIR:
      return "directory";
    case S_IFREG:
      return "regular";
    case S_IFLNK:
      return "symlink";
    case S_IFBLK:
      return "block special";
    case S_IFCHR:
      return "character special";
    case S_IFIFO:
      return "FIFO";
    case S_IFSOCK:
      return "socket";
    default:
      return "bad type";
  }
}

const u32 = (n: number): number => n >>> 0;

/**
 * The `stat` data of inode `ino`. Problems reading the xattrs or the block
 * map are reported through `shell.fail` (debugfs prints what it can);
 * failing to read the inode itself throws CommandError.
 */
export function statData(shell: Shell, fs: Filesystem, ino: number, who: string): StatData {
  const inode = readInode(fs, ino, who);
  const sb = fs.superblock;
  const v = viewOf(inode.raw, { inode: ino });
  const g = (name: InodeField): number => INODE.get(v, name);
  const large = sb.inodeSize > 128;
  const extra = large ? g("i_extra_isize") : 0;
  const mode = g("i_mode");
  const type = mode & S_IFMT;
  const time = (lo: "i_ctime" | "i_atime" | "i_mtime", hi: InodeField): RawTime => ({
    seconds: u32(g(lo)),
    extra: large && extra >= 24 ? g(hi) : null,
  });
  const dtime = g("i_dtime");
  let xattrs: StatData["xattrs"] = [];
  try {
    xattrs = fs.listXattrs(inode).map(storedXattr);
  } catch {
    // debugfs's dump_inode_attributes silently prints nothing when the xattrs cannot be read.
  }
  let checksum: number | null = null;
  if (sb.features.metadataCsum) {
    checksum = g("l_i_checksum_lo");
    // debugfs's test: i_extra_isize reaches offsetof(i_checksum_hi) - 128.
    if (large && extra >= INODE.offsetOf("i_checksum_hi") - 128) {
      checksum = u32(checksum | (g("i_checksum_hi") << 16));
    }
  }
  return {
    inode: ino,
    type: typeName(mode),
    mode,
    flags: u32(g("i_flags")),
    generation: u32(g("i_generation")),
    versionLo: u32(g("l_i_version")),
    versionHi: large && extra >= 24 ? u32(g("i_version_hi")) : null,
    uid: g("i_uid") + g("l_i_uid_high") * 0x10000,
    gid: g("i_gid") + g("l_i_gid_high") * 0x10000,
    projid: large && extra >= 32 ? u32(g("i_projid")) : null,
    size: type === S_IFREG || type === S_IFDIR ? inode.size : u32(g("i_size_lo")),
    fileAcl: g("i_file_acl_lo") + g("l_i_file_acl_high") * 2 ** 32,
    links: g("i_links_count"),
    blockcount: g("i_blocks_lo") + g("l_i_blocks_high") * 2 ** 32,
    faddr: u32(g("i_obso_faddr")),
    ctime: time("i_ctime", "i_ctime_extra"),
    atime: time("i_atime", "i_atime_extra"),
    mtime: time("i_mtime", "i_mtime_extra"),
    crtime:
      large && extra >= 24 ? { seconds: u32(g("i_crtime")), extra: g("i_crtime_extra") } : null,
    dtime:
      dtime === 0
        ? null
        : { seconds: u32(dtime), extra: large && extra >= 24 ? g("i_ctime_extra") : null },
    extraIsize: large ? extra : null,
    xattrs,
    checksum,
    tail: statTail(shell, fs, inode, who),
  };
}

function statTail(shell: Shell, fs: Filesystem, inode: Inode, who: string): StatTail {
  const type = inode.mode & S_IFMT;
  const flags = inode.flags;
  if (type === S_IFLNK && isFastSymlinkDebugfs(inode)) {
    const n = Math.min(inode.size, 60);
    const bytes = inode.fields.iBlock.subarray(0, n);
    const nul = bytes.indexOf(0);
    return { kind: "fastlink", target: latin1(nul < 0 ? bytes : bytes.subarray(0, nul)) };
  }
  if (type === S_IFLNK && (flags & InodeFlags.INLINE_DATA) !== 0) {
    try {
      const data = inode.inlineData() ?? new Uint8Array(0);
      return {
        kind: "fastlink",
        target: latin1(data.subarray(0, Math.min(inode.size, data.length))),
      };
    } catch (e) {
      shell.fail(wrapError("dump_inline_symlink", e, "while dumping link destination").line);
      return { kind: "none" };
    }
  }
  const dev = inode.deviceNumber();
  if (dev !== null) {
    // i_block[0] holds the old 16-bit encoding; when it is zero the new one is in i_block[1].
    const old = viewOf(inode.fields.iBlock).u32(0);
    return { kind: "device", newStyle: old === 0, major: dev.major, minor: dev.minor };
  }
  if ((flags & InodeFlags.EXTENTS) !== 0) {
    return { kind: "extents", extents: extentListData(shell, fs, inode, who) };
  }
  if ((flags & InodeFlags.INLINE_DATA) !== 0) {
    try {
      const data = inode.inlineData();
      return { kind: "inline", size: data === null ? null : data.length };
    } catch {
      return { kind: "inline", size: null };
    }
  }
  return { kind: "blocks", blocks: blockListData(shell, fs, inode, who) };
}

/**
 * ext2fs_is_fast_symlink as e2fsprogs 1.47 defines it: a symlink whose size
 * fits in i_block (under 60 bytes) and that keeps no inline data.
 */
function isFastSymlinkDebugfs(inode: Inode): boolean {
  return (
    (inode.mode & S_IFMT) === S_IFLNK &&
    (inode.flags & InodeFlags.INLINE_DATA) === 0 &&
    inode.size > 0 &&
    inode.size < 60
  );
}

function timeLine(label: string, t: RawTime, dtime = false): string {
  if (t.extra === null) return `${label}: 0x${hex(t.seconds, 8)} -- ${asctime(t.seconds | 0)}\n`;
  const when = asctime(inodeTimeSeconds(t.seconds, t.extra));
  return dtime
    ? `${label}: 0x${hex(t.seconds, 8)}:(${hex(t.extra, 8)}) -- ${when}\n`
    : `${label}: 0x${hex(t.seconds, 8)}:${hex(t.extra, 8)} -- ${when}\n`;
}

/** The text of `stat` (debugfs's internal_dump_inode with an empty prefix). */
export function renderStat(d: StatData): string {
  let out = `Inode: ${d.inode}   Type: ${d.type}    Mode:  0${octal(d.mode & 0o7777, 3)}   Flags: 0x${hex(d.flags)}\n`;
  out +=
    d.versionHi !== null
      ? `Generation: ${d.generation}    Version: 0x${hex(d.versionHi, 8)}:${hex(d.versionLo, 8)}\n`
      : `Generation: ${d.generation}    Version: 0x${hex(d.versionLo, 8)}\n`;
  out += `User: ${padStart(d.uid | 0, 5)}   Group: ${padStart(d.gid | 0, 5)}`;
  if (d.projid !== null) out += `   Project: ${padStart(d.projid | 0, 5)}`;
  out += `   Size: ${d.size}\n`;
  out += `File ACL: ${d.fileAcl}\n`;
  out += `Links: ${d.links}   Blockcount: ${d.blockcount}\n`;
  out += `Fragment:  Address: ${d.faddr}    Number: 0    Size: 0\n`;
  const extended = d.ctime.extra !== null;
  out += timeLine(extended ? " ctime" : "ctime", d.ctime);
  out += timeLine(extended ? " atime" : "atime", d.atime);
  out += timeLine(extended ? " mtime" : "mtime", d.mtime);
  if (d.crtime !== null) out += timeLine("crtime", d.crtime);
  if (d.dtime !== null) out += timeLine(extended ? " dtime" : "dtime", d.dtime, extended);
  if (d.extraIsize !== null) out += `Size of extra inode fields: ${d.extraIsize}\n`;
  if (d.xattrs.length > 0) {
    out += "Extended attributes:\n";
    for (const x of d.xattrs) out += `  ${xattrLine(x.name, x.value, XATTR_STATFMT)}`;
  }
  if (d.checksum !== null) out += `Inode checksum: 0x${hex(d.checksum, 8)}\n`;
  const t = d.tail;
  switch (t.kind) {
    case "fastlink":
      out += `Fast link dest: "${t.target}"\n`;
      break;
    case "device": {
      const note = t.newStyle ? "(New-style) " : "";
      const dec = (n: number): string => String(n).padStart(2, "0");
      out += `${note}Device major/minor number: ${dec(t.major)}:${dec(t.minor)} (hex ${hex(t.major, 2)}:${hex(t.minor, 2)})\n`;
      break;
    }
    case "extents":
      out += renderExtentList(t.extents);
      break;
    case "inline":
      if (t.size !== null) out += `Size of inline data: ${t.size}\n`;
      break;
    case "blocks":
      out += renderBlockList(t.blocks);
      break;
    case "none":
      break;
  }
  return out;
}

/** show_inode_info / stat <file>. */
export const stat = defineCommand<StatData>({
  name: "show_inode_info",
  aliases: ["stat"],
  usage: "<file>",
  help: "Show inode information ",
  needsFs: true,
  run(shell, argv) {
    const ino = oneInodeArg(shell, argv);
    return statData(shell, shell.requireFs(argv[0]!), ino, argv[0]!);
  },
  render: renderStat,
});
