/**
 * Helpers several commands share: reading inodes with debugfs's error
 * wording, libext2fs's ext2fs_get_pathname, block-argument parsing, and the
 * mode bits.
 */
import { type Filesystem, type Inode, isExt4Error, iterateDirectory } from "@ext4/core";
import { CommandError, usageError } from "../command.js";
import type { Shell } from "../shell/context.js";
import { parseCNumber } from "../shell/parse.js";

/** S_IFMT: the file type bits of i_mode. */
export const S_IFMT = 0o170000;
/** S_IFDIR. */
export const S_IFDIR = 0o040000;
/** S_IFREG. */
export const S_IFREG = 0o100000;
/** S_IFLNK. */
export const S_IFLNK = 0o120000;
/** S_IFCHR. */
export const S_IFCHR = 0o020000;
/** S_IFBLK. */
export const S_IFBLK = 0o060000;
/** S_IFIFO. */
export const S_IFIFO = 0o010000;
/** S_IFSOCK. */
export const S_IFSOCK = 0o140000;

/** The root directory inode. */
export const ROOT_INO = 2;

/**
 * debugfs_read_inode: reads inode `ino`, reporting a failure as
 * `who: <reason> while reading inode N`. Throws CommandError.
 */
export function readInode(fs: Filesystem, ino: number, who: string): Inode {
  try {
    return fs.readInode(ino);
  } catch (e) {
    throw wrapError(who, e, `while reading inode ${ino}`);
  }
}

/** i_mode of `ino`. Throws CommandError. */
export function inodeMode(fs: Filesystem, ino: number): number {
  return readInode(fs, ino, String(ino)).mode;
}

/**
 * A failure from the core as a debugfs-style CommandError:
 * `who: <message> <context>`. CommandErrors pass through unchanged.
 */
export function wrapError(who: string, e: unknown, context = ""): CommandError {
  if (e instanceof CommandError) return e;
  const message = libext2fsMessage(e);
  const code = isExt4Error(e) ? e.code : "FAILED";
  return new CommandError(who, context === "" ? message : `${message} ${context}`, code, {
    cause: e,
  });
}

/**
 * The message of a failure: for the lookups every command shares, the
 * com_err text libext2fs prints (so scripts matching debugfs's errors keep
 * working); for everything else the core's message, which names the inode,
 * block or offset involved.
 */
export function libext2fsMessage(e: unknown): string {
  if (isExt4Error(e)) {
    switch (e.kind) {
      case "NotFound":
        return "File not found by ext2_lookup";
      case "NotADirectory":
        return "Ext2 inode is not a directory";
      case "Loop":
        return "Too many symbolic links encountered.";
      // The write side: libext2fs's texts where it has one, so scripts keep matching.
      case "Exists":
        return "Ext2 file already exists";
      case "NotEmpty":
        return "directory not empty";
      case "NoSpace":
        return e.code === "NO_FREE_INODES"
          ? "Could not allocate inode in ext2 filesystem"
          : "Could not allocate block in ext2 filesystem";
      case "ReadOnly":
        return "Attempt to write to filesystem opened read-only";
      default:
        return e.message;
    }
  }
  return e instanceof Error ? e.message : String(e);
}

/** ext2_file_type of a mode: the core's one mapping. */
export { fileTypeOfMode } from "@ext4/core";

// libext2fs bounds the walk up the tree at 32 levels (ext2fs_get_pathname).
const PATHNAME_MAX_DEPTH = 32;

/**
 * Finds, in directory `dir`, its ".." and the first entry naming `search`
 * (get_pathname_proc: the walk stops at that entry). Returns null when `dir`
 * is not a directory.
 */
function scanForName(
  fs: Filesystem,
  dir: number,
  search: number,
): { parent: number; name: Uint8Array | null } | null {
  const inode = fs.readInode(dir);
  if (!inode.isDirectory()) return null;
  let parent = 0;
  for (const e of iterateDirectory(fs, inode)) {
    if (e.name.length === 2 && e.name[0] === 0x2e && e.name[1] === 0x2e) parent = e.ino;
    if (e.ino === search) return { parent, name: e.name };
  }
  return { parent, name: null };
}

function pathnameInt(fs: Filesystem, dir: number, ino: number, depth: number): string {
  if (dir === ino) return dir === ROOT_INO ? "/" : ".";
  if (dir === 0 || depth < 0) return "...";
  const found = scanForName(fs, dir, ino);
  if (found === null) return ino !== 0 ? `<${dir}>/<${ino}>` : `<${dir}>`;
  const parentName = pathnameInt(fs, found.parent, dir, depth - 1);
  if (ino === 0) return parentName;
  const name = found.name === null ? "???" : Buffer.from(found.name).toString("latin1");
  return `${parentName.length > 1 ? parentName : ""}/${name}`;
}

/**
 * ext2fs_get_pathname(fs, dir, ino): the path of directory `dir` (ino 0),
 * or of entry `ino` inside it, found by walking ".." upwards (at most 32
 * levels; "..." past that, "???" for a name that is not found, `<N>` for an
 * ancestor that is not a directory). The result is a byte string (names
 * are printed as stored). Throws Ext4Error from reading directories.
 */
export function getPathname(fs: Filesystem, dir: number, ino = 0): string {
  return pathnameInt(fs, dir, dir === ino ? 0 : ino, PATHNAME_MAX_DEPTH);
}

/** The path of directory `ino` (see {@link getPathname}). Throws Ext4Error. */
export function pathOf(fs: Filesystem, ino: number): string {
  return getPathname(fs, ino);
}

/**
 * debugfs's strtoblk/parse_ulonglong: a block number (decimal, 0x hex, 0
 * octal). Throws CommandError `who: Bad <what> - <text>`.
 */
export function parseBlock(who: string, text: string, what = "block number"): number {
  const n = parseCNumber(text);
  if (n === null) throw new CommandError(who, `Bad ${what} - ${text}`, "BAD_NUMBER");
  return n;
}

/**
 * common_inode_args_process: exactly one `<file>` argument, resolved to an
 * inode. Throws CommandError (usage, or the lookup failure).
 */
export function oneInodeArg(shell: Shell, argv: readonly string[]): number {
  if (argv.length !== 2) throw usageError(argv[0]!, `${argv[0]} <file>`);
  shell.requireFs(argv[0]!);
  return shell.resolveInode(argv[1]!);
}

/**
 * common_block_args_process: `<block> [count]` for testb and friends. Throws
 * CommandError.
 */
export function blockArgs(argv: readonly string[]): { block: number; count: number } {
  const who = argv[0]!;
  if (argv.length < 2 || argv.length > 3) throw usageError(who, `${who} <block> [count]`);
  const block = parseBlock(who, argv[1]!);
  if (block === 0) throw new CommandError(who, "Invalid block number 0", "BAD_BLOCK");
  const count = argv.length > 2 ? parseBlock(who, argv[2]!, "count") : 1;
  return { block, count };
}

/**
 * debugfs's check_fs_read_write: the open filesystem when it may be
 * written. Throws CommandError `who: filesystem opened read-only` (with
 * how to open it writable, or why it could not be).
 */
export function writableFs(shell: Shell, who: string): Filesystem {
  const fs = shell.requireFs(who);
  if (fs.writable) return fs;
  const reason = shell.image?.readOnlyReason ?? null;
  const why = reason !== null ? `: ${reason}` : "; open it with -w (or `open -w`) to change it";
  throw new CommandError(who, `filesystem opened read-only${why}`, "READ_ONLY");
}

/**
 * Splits a path the way debugfs's write commands do (strrchr '/'): the
 * directory part resolved like any path argument (the cwd when there is
 * none), and the last component as the new name. Throws CommandError when
 * the directory does not resolve or the name is empty.
 */
export function parentOf(
  shell: Shell,
  path: string,
  who: string,
): { parent: number; name: string } {
  const slash = path.lastIndexOf("/");
  const name = slash < 0 ? path : path.slice(slash + 1);
  if (name === "") throw new CommandError(who, `${path}: no file name`, "BAD_NAME");
  if (slash < 0) return { parent: shell.cwd, name };
  return { parent: shell.resolveInode(slash === 0 ? "/" : path.slice(0, slash)), name };
}

/** Names up to this long are converted in JS: a Buffer per name cost more than the name (ls of 20,000). */
const SHORT_NAME = 64;

/** The bytes of a name as a byte string (one char per byte). */
export function nameString(name: Uint8Array): string {
  if (name.length > SHORT_NAME) {
    return Buffer.from(name.buffer, name.byteOffset, name.byteLength).toString("latin1");
  }
  let s = "";
  // OK to assert: i < name.length.
  for (let i = 0; i < name.length; i++) s += String.fromCharCode(name[i]!);
  return s;
}

const utf8 = new TextDecoder();

/**
 * A name decoded as UTF-8 (invalid sequences replaced), for display and
 * JSON. An ASCII name is its own decoding, and the common case: it skips
 * the decoder, whose cost per call is most of a short name's.
 */
export function nameText(name: Uint8Array): string {
  if (name.length <= SHORT_NAME) {
    let s = "";
    for (let i = 0; i < name.length; i++) {
      // OK to assert: i < name.length.
      const c = name[i]!;
      if (c >= 0x80) return utf8.decode(name);
      s += String.fromCharCode(c);
    }
    return s;
  }
  return utf8.decode(name);
}
