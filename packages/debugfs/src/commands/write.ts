/**
 * The write commands of debugfs -w (debugfs.c, misc/create_inode.c):
 * files, directories, links, symlinks and device nodes made through the
 * core's POSIX operations; entries, inodes, bitmaps and block maps changed
 * below that level through the core's raw editor (Filesystem.raw()).
 *
 * Every one of them needs the image opened with -w and fails with a
 * non-zero status, in debugfs's com_err shape, when it could not do what
 * was asked. Where debugfs itself gets something wrong (a device node made
 * over an existing name, a crash on a short mknod line, an empty-named
 * entry) these refuse instead.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { resolve } from "node:path";
import { type Filesystem, fsError, lookup, type NumberRun, type RawEditor } from "@ext4/core";
import { CommandError, defineCommand, usageError } from "../command.js";
import type { Shell } from "../shell/context.js";
import { parseCNumber } from "../shell/parse.js";
import { requireBitmaps } from "./alloc.js";
import {
  blockArgs,
  parentOf,
  readInode,
  S_IFBLK,
  S_IFCHR,
  S_IFIFO,
  wrapError,
  writableFs,
} from "./common.js";

/** Owner of what the write commands create: debugfs makes everything root's. */
const ROOT_OWNER = { uid: 0, gid: 0, reserved: true } as const;

/** How much of a host file `write` holds at a time. */
const COPY_CHUNK = 1 << 20;

/** Runs a core call, reporting its failure as `who: <libext2fs text> [context]`. */
function core<T>(who: string, fn: () => T, context = ""): T {
  try {
    return fn();
  } catch (e) {
    throw wrapError(who, e, context);
  }
}

/** The node.js error text of a host file failure, without the "ENOENT: " prefix and the path. */
function hostMessage(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const x = /^[A-Z]+: ([^,]+)/.exec(m);
  const text = x?.[1] ?? m;
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}`;
}

/** Refuses a name that already exists in `parent` (ext2fs_namei succeeding in __do_write_internal). */
function checkAbsent(fs: Filesystem, who: string, parent: number, name: string, dir = false): void {
  const found = core(who, () => lookup(fs, fs.readInode(parent), name));
  if (found !== null) {
    throw new CommandError(
      who,
      dir ? "Ext2 directory already exists" : "Ext2 file already exists",
      "EXISTS",
    );
  }
}

/** The data of the commands that make a new inode. */
interface Created {
  readonly inode: number;
}

/**
 * write <native file> <new file>: a new regular file with the host file's
 * permission bits, owned by root, holes kept where the source has whole
 * zero blocks (copy_file_chunk). A failure after the inode was made still
 * reports it, and fails the command.
 */
export const write = defineCommand<Created & { size: number }>({
  name: "write",
  aliases: [],
  usage: "<native file> <new file>",
  help: "Copy a file from your native filesystem",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 3) throw usageError(who, `${who} <native file> <new file>`);
    const fs = writableFs(shell, who);
    const src = argv[1]!;
    let fd: number;
    try {
      fd = openSync(resolve(shell.hostCwd, src), "r");
    } catch (e) {
      throw new CommandError(
        who,
        `${hostMessage(e)} while opening "${src}" to copy`,
        "OPEN_FAILED",
      );
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) {
        throw new CommandError(who, `"${src}" is not a regular file`, "NOT_A_FILE");
      }
      const { parent, name } = parentOf(shell, argv[2]!, who);
      checkAbsent(fs, who, parent, name);
      const inode = core(who, () =>
        fs.create(parent, name, { ...ROOT_OWNER, mode: st.mode & 0o7777 }),
      ).ino;
      try {
        copyInto(fs, fd, inode, st.size);
      } catch (e) {
        shell.fail(wrapError(who, e, `while copying "${src}"`).line);
      }
      return { inode, size: st.size };
    } finally {
      closeSync(fd);
    }
  },
  render(d) {
    return `Allocated inode: ${d.inode}\n`;
  },
});

/** Copies `size` bytes of host file `fd` into inode `ino`, skipping whole zero blocks. */
function copyInto(fs: Filesystem, fd: number, ino: number, size: number): void {
  const bs = fs.blockSize;
  const buf = new Uint8Array(COPY_CHUNK);
  for (let off = 0; off < size; ) {
    const got = readSync(fd, buf, 0, Math.min(COPY_CHUNK, size - off), off);
    if (got === 0) break;
    let runStart = -1;
    for (let p = 0; p <= got; p += bs) {
      const zero = p === got || buf.subarray(p, Math.min(p + bs, got)).every((b) => b === 0);
      if (!zero && runStart < 0) runStart = p;
      if (zero && runStart >= 0) {
        writeAll(fs, ino, off + runStart, buf.subarray(runStart, p));
        runStart = -1;
      }
      // The last piece may be short: end the scan exactly at `got`.
      if (p < got && p + bs > got) p = got - bs;
    }
    off += got;
  }
  if (fs.readInode(ino).size !== size) fs.truncate(ino, size, { reserved: true });
}

/** Writes all of `data`, turning a short write (the filesystem filled up) into NoSpace. */
function writeAll(fs: Filesystem, ino: number, offset: number, data: Uint8Array): void {
  const r = fs.writeFile(ino, offset, data, { reserved: true });
  if (r.written < data.length) {
    throw fsError("NoSpace", "NO_FREE_BLOCKS", `${r.written} of ${data.length} bytes written`, {
      inode: ino,
    });
  }
}

/** mkdir <filename>: a directory, mode 0755, owned by root. */
export const mkdir = defineCommand<Created>({
  name: "mkdir",
  aliases: [],
  usage: "<filename>",
  help: "Create a directory",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw usageError(who, `${who} <filename>`);
    const fs = writableFs(shell, who);
    const { parent, name } = parentOf(shell, argv[1]!, who);
    checkAbsent(fs, who, parent, name, true);
    return { inode: core(who, () => fs.mkdir(parent, name, { ...ROOT_OWNER, mode: 0o755 })).ino };
  },
  render() {
    return "";
  },
});

/** symlink <filename> <target>: a symbolic link (fast in the inode below 60 bytes). */
export const symlink = defineCommand<Created>({
  name: "symlink",
  aliases: [],
  usage: "<filename> <target>",
  help: "Create a symbolic link",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 3) throw usageError(who, `${who} <filename> <target>`);
    const fs = writableFs(shell, who);
    const { parent, name } = parentOf(shell, argv[1]!, who);
    checkAbsent(fs, who, parent, name);
    return { inode: core(who, () => fs.symlink(parent, name, argv[2]!, ROOT_OWNER)).ino };
  },
  render() {
    return "";
  },
});

const MKNOD_USAGE = "Usage: mknod <name> [p| [c|b] <major> <minor>]";

/**
 * mknod <name> [p| [c|b] <major> <minor>]: a fifo or device node with no
 * permission bits, as do_mknod_internal makes it; numbers up to 65535.
 */
export const mknod = defineCommand<Created & { major: number; minor: number }>({
  name: "mknod",
  aliases: [],
  usage: "<name> [p| [c|b] <major> <minor>]",
  help: "Create a special file",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError(who, MKNOD_USAGE, "USAGE");
    shell.requireFs(who);
    const t = argv[2];
    if (t === undefined || t.length !== 1) throw usage;
    const type = t === "p" ? S_IFIFO : t === "c" ? S_IFCHR : t === "b" ? S_IFBLK : 0;
    const words = type === S_IFIFO ? 3 : type === 0 ? 0 : 5;
    let major = 0;
    let minor = 0;
    if (words === 5 && argv.length === 5) {
      const ma = parseCNumber(argv[3]!);
      const mi = parseCNumber(argv[4]!);
      if (ma === null || mi === null || ma > 65535 || mi > 65535) throw usage;
      major = ma;
      minor = mi;
    }
    if (argv.length !== words) throw usage;
    const fs = writableFs(shell, who);
    const { parent, name } = parentOf(shell, argv[1]!, who);
    checkAbsent(fs, who, parent, name);
    const rdev = type === S_IFIFO ? null : { major, minor };
    const inode = core(who, () => fs.mknod(parent, name, type, rdev, ROOT_OWNER)).ino;
    return { inode, major, minor };
  },
  render(d) {
    return `Allocated inode: ${d.inode}\n`;
  },
});

/**
 * link/ln <source file> <dest_name>: a new directory entry for the source
 * inode (make_link); the link count is not changed. An existing directory
 * as destination receives the source's base name.
 */
export const link = defineCommand<{ inode: number; dir: number; name: string }>({
  name: "link",
  aliases: ["ln"],
  usage: "<source file> <dest_name>",
  help: "Create directory link",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 3) throw usageError(who, `${who} <source file> <dest_name>`);
    const fs = writableFs(shell, who);
    const src = argv[1]!;
    const ino = shell.resolveInode(src);
    readInode(fs, ino, src);
    let dir: number;
    let name: string;
    let existing: number | null = null;
    try {
      existing = shell.resolveInode(argv[2]!);
    } catch {
      // Not there yet: the destination names the new entry.
    }
    if (existing !== null) {
      dir = existing;
      name = src.slice(src.lastIndexOf("/") + 1);
    } else {
      ({ parent: dir, name } = parentOf(shell, argv[2]!, who));
    }
    core(who, () => fs.raw().link(dir, name, ino));
    return { inode: ino, dir, name };
  },
  render() {
    return "";
  },
});

/** unlink <pathname>: removes the directory entry only; the inode and its link count stay. */
export const unlink = defineCommand<{ inode: number; dir: number; name: string }>({
  name: "unlink",
  aliases: [],
  usage: "<pathname>",
  help: "Delete a directory link",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw usageError(who, `${who} <pathname>`);
    const fs = writableFs(shell, who);
    const { parent, name } = parentOf(shell, argv[1]!, who);
    const old = core(who, () => fs.raw().unlink(parent, name));
    return { inode: old.ino, dir: parent, name };
  },
  render() {
    return "";
  },
});

/** Resolves a pathname for rm/rmdir the way ext2fs_namei does, with their error text. */
function resolveForRemoval(shell: Shell, who: string, path: string): number {
  try {
    return shell.resolveInode(path);
  } catch (e) {
    const msg = e instanceof CommandError ? e.message : String(e);
    throw new CommandError(who, `${msg} while trying to resolve filename`, "NOT_FOUND");
  }
}

/**
 * rm <pathname>: unlink(2) — the entry goes, the link count drops, and the
 * inode and its blocks are freed with its last link (printing debugfs's
 * empty line when it is).
 */
export const rm = defineCommand<{ inode: number; deleted: boolean }>({
  name: "rm",
  aliases: [],
  usage: "<filename>",
  help: "Remove a file (unlink and kill_file, if appropriate)",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw usageError(who, `${who} <filename>`);
    const fs = writableFs(shell, who);
    const ino = resolveForRemoval(shell, who, argv[1]!);
    const inode = readInode(fs, ino, who);
    if (inode.isDirectory()) throw new CommandError(who, "file is a directory", "IS_A_DIRECTORY");
    const { parent, name } = parentOf(shell, argv[1]!, who);
    core(who, () => fs.unlink(parent, name));
    return { inode: ino, deleted: inode.linksCount <= 1 };
  },
  render(d) {
    // kill_file_by_inode prints an empty line when the inode goes.
    return d.deleted ? "\n" : "";
  },
});

/** rmdir <filename>: removes an empty directory, the parent losing its ".." link. */
export const rmdir = defineCommand<{ inode: number }>({
  name: "rmdir",
  aliases: [],
  usage: "<filename>",
  help: "Remove a directory",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw usageError(who, `${who} <filename>`);
    const fs = writableFs(shell, who);
    const ino = resolveForRemoval(shell, who, argv[1]!);
    const inode = readInode(fs, ino, who);
    if (!inode.isDirectory()) {
      throw new CommandError(who, "file is not a directory", "NOT_A_DIRECTORY");
    }
    const { parent, name } = parentOf(shell, argv[1]!, who);
    core(who, () => fs.rmdir(parent, name));
    return { inode: ino };
  },
  render() {
    return "\n";
  },
});

/** One inode argument, resolved, on a writable filesystem. */
function writableInodeArg(shell: Shell, argv: readonly string[]): { fs: Filesystem; ino: number } {
  const who = argv[0]!;
  if (argv.length !== 2) throw usageError(who, `${who} <file>`);
  const fs = writableFs(shell, who);
  return { fs, ino: shell.resolveInode(argv[1]!) };
}

/** Warning lines for runs of numbers that already had the requested state. */
function warnRuns(
  shell: Shell,
  who: string,
  what: string,
  runs: readonly NumberRun[],
  state: string,
): void {
  for (const r of runs) {
    const which =
      r.count === 1 ? `${what} ${r.start}` : `${what}s ${r.start}-${r.start + r.count - 1}`;
    shell.warn(`${who}: Warning: ${which} already ${state}`);
  }
}

/** copy_inode <source> <dest>: the source's on-disk inode over the destination's, checksum redone. */
export const copyInode = defineCommand<{ source: number; dest: number }>({
  name: "copy_inode",
  aliases: [],
  usage: "<source file> <dest_name>",
  help: "Copy the inode structure",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 3) throw usageError(who, `${who} <source file> <dest_name>`);
    const fs = writableFs(shell, who);
    const source = shell.resolveInode(argv[1]!);
    const dest = shell.resolveInode(argv[2]!);
    core(who, () => fs.raw().copyInode(source, dest), `while copying inode ${source}`);
    return { source, dest };
  },
  render() {
    return "";
  },
});

/** clri <file>: zeroes the inode's 128-byte base (debugfs's clri). */
export const clri = defineCommand<{ inode: number }>({
  name: "clri",
  aliases: [],
  usage: "<file>",
  help: "Clear an inode's contents",
  needsFs: true,
  run(shell, argv) {
    const { fs, ino } = writableInodeArg(shell, argv);
    core(argv[0]!, () => fs.raw().clearInode(ino), `while clearing inode ${ino}`);
    return { inode: ino };
  },
  render() {
    return "";
  },
});

/**
 * kill_file <file>: frees the inode and its blocks (bitmaps and counts),
 * leaving its directory entries — and debugfs's empty line.
 */
export const killFile = defineCommand<{ inode: number; freedBlocks: number }>({
  name: "kill_file",
  aliases: [],
  usage: "<file>",
  help: "Deallocate an inode and its blocks",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const { fs, ino } = writableInodeArg(shell, argv);
    requireBitmaps(shell, who);
    const r = core(who, () => fs.raw().killFile(ino), `while killing inode ${ino}`);
    warnRuns(shell, who, "block", r.alreadyFree, "clear");
    if (!r.inodeWasInUse) shell.warn(`${who}: Warning: inode already clear`);
    return { inode: ino, freedBlocks: r.freedBlocks };
  },
  render() {
    return "\n";
  },
});

/** freei/seti <file> [num]: clears or sets inode bitmap bits (counts untouched, as debugfs). */
function inodeBitCommand(name: "freei" | "seti", help: string) {
  const inUse = name === "seti";
  return defineCommand<{ inode: number; count: number }>({
    name,
    aliases: [],
    usage: "<file> [num]",
    help,
    needsFs: true,
    run(shell, argv) {
      const who = argv[0]!;
      if (argv.length < 2 || argv.length > 3) throw usageError(who, `${who} <file> [num]`);
      const fs = writableFs(shell, who);
      requireBitmaps(shell, who);
      const ino = shell.resolveInode(argv[1]!);
      let count = 1;
      if (argv.length === 3) {
        const n = parseCNumber(argv[2]!);
        if (n === null || n === 0)
          throw new CommandError(who, `Bad length - ${argv[2]}`, "BAD_NUMBER");
        count = n;
      }
      const r = core(who, () => fs.raw().setInodesInUse(ino, count, inUse));
      warnRuns(shell, who, "inode", r.unchanged, inUse ? "set" : "clear");
      return { inode: ino, count };
    },
    render() {
      return "";
    },
  });
}

/** freei <file> [num]. */
export const freei = inodeBitCommand("freei", "Clear an inode's in-use flag");
/** seti <file> [num]. */
export const seti = inodeBitCommand("seti", "Set an inode's in-use flag");

/** freeb/setb <block> [count]: clears or sets block bitmap bits (counts untouched, as debugfs). */
function blockBitCommand(name: "freeb" | "setb", help: string) {
  const inUse = name === "setb";
  return defineCommand<{ block: number; count: number }>({
    name,
    aliases: [],
    usage: "<block> [count]",
    help,
    needsFs: true,
    run(shell, argv) {
      const who = argv[0]!;
      const { block, count } = blockArgs(argv);
      const fs = writableFs(shell, who);
      requireBitmaps(shell, who);
      if (count === 0) throw new CommandError(who, `Bad count - ${argv[2]}`, "BAD_NUMBER");
      const r = core(who, () => fs.raw().setBlocksInUse(block, count, inUse));
      warnRuns(shell, who, "block", r.unchanged, inUse ? "set" : "clear");
      return { block, count };
    },
    render() {
      return "";
    },
  });
}

/** freeb <block> [count]. */
export const freeb = blockBitCommand("freeb", "Clear a block's in-use flag");
/** setb <block> [count]. */
export const setb = blockBitCommand("setb", "Set a block's in-use flag");

/** expand_dir/expand <file>: one more empty block (an inline directory moves to a block). */
export const expandDir = defineCommand<{ inode: number }>({
  name: "expand_dir",
  aliases: ["expand"],
  usage: "<file>",
  help: "Expand directory",
  needsFs: true,
  run(shell, argv) {
    const { fs, ino } = writableInodeArg(shell, argv);
    core("ext2fs_expand_dir", () => fs.raw().expandDir(ino));
    return { inode: ino };
  },
  render() {
    return "";
  },
});

/** Parses `<file> start_blk [end_blk]` for punch and fallocate (strtoblk's messages). */
function blockRangeArgs(
  shell: Shell,
  argv: readonly string[],
): { fs: Filesystem; ino: number; start: number; end: number | null } {
  const who = argv[0]!;
  if (argv.length < 3 || argv.length > 4)
    throw usageError(who, `${who} <file> start_blk [end_blk]`);
  const fs = writableFs(shell, who);
  const ino = shell.resolveInode(argv[1]!);
  const num = (s: string): number => {
    const n = parseCNumber(s);
    if (n === null) throw new CommandError(who, `Bad logical block - ${s}`, "BAD_NUMBER");
    return n;
  };
  const start = num(argv[2]!);
  const end = argv.length === 4 ? num(argv[3]!) : null;
  if (end !== null && end < start) {
    throw new CommandError(who, `end block ${end} is before start block ${start}`, "BAD_RANGE");
  }
  return { fs, ino, start, end };
}

/** debugfs prints an open end as ~0ULL. */
const OPEN_END = "18446744073709551615";

/** A `<file> start_blk [end_blk]` command calling `edit` on the raw editor (punch, fallocate). */
function blockRangeCommand(def: {
  name: string;
  aliases: string[];
  help: string;
  verb: string;
  edit: (editor: RawEditor, ino: number, start: number, end: number | null) => void;
}) {
  return defineCommand<{ inode: number; start: number; end: number | null }>({
    name: def.name,
    aliases: def.aliases,
    usage: "<file> start_blk [end_blk]",
    help: def.help,
    needsFs: true,
    run(shell, argv) {
      const { fs, ino, start, end } = blockRangeArgs(shell, argv);
      core(
        argv[0]!,
        () => def.edit(fs.raw(), ino, start, end),
        `while ${def.verb} inode ${ino} from ${start} to ${end ?? OPEN_END}`,
      );
      return { inode: ino, start, end };
    },
    render() {
      return "";
    },
  });
}

/** punch/truncate <file> start_blk [end_blk]: frees the blocks of the range (to the end when open). */
export const punch = blockRangeCommand({
  name: "punch",
  aliases: ["truncate"],
  help: "Punch (or truncate) blocks from an inode by deallocating them",
  verb: "truncating",
  edit: (editor, ino, start, end) => editor.punch(ino, start, end),
});

/** fallocate <file> start_blk [end_blk]: maps blocks into the range, i_size unchanged. */
export const fallocate = blockRangeCommand({
  name: "fallocate",
  aliases: [],
  help: "Allocate uninitialized blocks to an inode",
  verb: "fallocating",
  edit: (editor, ino, start, end) => editor.allocate(ino, start, end),
});

/** dirty_filesys/dirty [-clean]: clears (or with -clean sets) the valid flag in s_state. */
export const dirty = defineCommand<{ clean: boolean }>({
  name: "dirty_filesys",
  aliases: ["dirty"],
  usage: "[-clean]",
  help: "Mark the filesystem as dirty",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length > 2 || (argv.length === 2 && argv[1] !== "-clean")) {
      throw usageError(who, `${who} [-clean]`);
    }
    const fs = writableFs(shell, who);
    const clean = argv.length === 2;
    core(who, () => fs.raw().setValid(clean));
    return { clean };
  },
  render() {
    return "";
  },
});
