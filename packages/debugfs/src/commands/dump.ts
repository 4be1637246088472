/**
 * Getting data out of the image: cat (to stdout), dump (one inode to a host
 * file) and rdump (a tree to a host directory), from debugfs/dump.c.
 *
 * The image is untrusted, so rdump never lets it steer writes outside the
 * target: names containing "/" or NUL, "." and ".." are refused, every path
 * it creates is new (O_EXCL, O_NOFOLLOW, mkdir), a directory reached twice
 * is not walked again, and the walk is iterative (no recursion depth to
 * exhaust). Set-uid, set-gid and sticky bits and device nodes are restored
 * only with `-p -S`, since either can hand privileges to whoever can reach
 * the dump.
 */

import { isUtf8 } from "node:buffer";
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  ftruncateSync,
  futimesSync,
  lchownSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import {
  corrupt,
  type DirEntry,
  type Filesystem,
  type Inode,
  iterateDirectory,
  type Timestamp,
} from "@ext4/core";
import { CommandError, defineCommand, usageError } from "../command.js";
import type { Shell } from "../shell/context.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import {
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
import { presentedXattr } from "./xattr-text.js";

/** Bytes read from the image per chunk when copying file data. */
const CHUNK = 1 << 20;

/**
 * Logical blocks whose map is asked for at once when copying a file: the
 * runs of one window are all that is held, however fragmented or large the
 * file (a window has at most this many runs).
 */
const MAP_WINDOW = 1 << 16;

/**
 * The bytes a file's data consists of, chunk by chunk, as ext2fs_file_read
 * gives them: i_size bytes, holes as zeros; the target of a fast symlink.
 * Throws Ext4Error while iterating.
 */
export function* fileChunks(fs: Filesystem, inode: Inode): Generator<Uint8Array> {
  if (inode.isSymlink() && fs.isFastSymlink(inode)) {
    yield fs.readLinkBytes(inode);
    return;
  }
  for (let off = 0; off < inode.size; off += CHUNK) {
    yield fs.readFile(inode, off, Math.min(CHUNK, inode.size - off));
  }
}

/**
 * Copies file data from an image to host descriptors through one reusable
 * buffer of {@link CHUNK} bytes, so that a dump holds no more than that of
 * file data whatever the sizes of the files.
 */
class DataCopier {
  private buffer: Uint8Array | null = null;

  constructor(private readonly fs: Filesystem) {}

  /**
   * Writes a file's data to `fd` (a new or truncated file), leaving holes
   * as holes: only mapped, written blocks are read and written, with one
   * positional write per chunk, and the file is extended to i_size only
   * when it ends in a hole. Throws Ext4Error or IoError (reading), a
   * node:fs error (writing).
   */
  copy(inode: Inode, fd: number): void {
    const fs = this.fs;
    const size = inode.size;
    if (
      inode.hasInlineData() ||
      (inode.isSymlink() && fs.isFastSymlink(inode)) ||
      !inode.isRegular()
    ) {
      // Small or unusual data (inline, fast symlink targets): read as ext2fs_file_read does.
      let off = 0;
      for (const chunk of fileChunks(fs, inode)) {
        writeAll(fd, chunk, chunk.length, off);
        off += chunk.length;
      }
      return;
    }
    const bs = fs.blockSize;
    const blocks = Math.ceil(size / bs);
    const perChunk = CHUNK / bs;
    const blocksCount = fs.superblock.blocksCount;
    let written = 0;
    for (let window = 0; window < blocks; window += MAP_WINDOW) {
      for (const run of fs.mapBlocks(inode, window, Math.min(MAP_WINDOW, blocks - window))) {
        if (run.kind === "hole" || run.unwritten) continue;
        // The map walkers check this already; the device read below must never go past the filesystem.
        if (run.physical + run.length > blocksCount) {
          throw corrupt(
            "DUMP_RUN_PAST_END",
            `blocks ${run.physical}+${run.length} run past the filesystem`,
            { inode: inode.ino, block: run.physical },
          );
        }
        for (let i = 0; i < run.length; i += perChunk) {
          const pos = (run.logical + i) * bs;
          if (pos >= size) break;
          const n = Math.min(perChunk, run.length - i);
          const buf = this.chunkBuffer();
          fs.cache.readRange(run.physical + i, n, buf);
          const len = Math.min(n * bs, size - pos);
          writeAll(fd, buf, len, pos);
          written = pos + len;
        }
      }
    }
    // A new file is as long as its last write: only a trailing hole needs the size set.
    if (written < size) ftruncateSync(fd, size);
  }

  private chunkBuffer(): Uint8Array {
    this.buffer ??= new Uint8Array(CHUNK);
    return this.buffer;
  }
}

function writeAll(fd: number, data: Uint8Array, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    done += writeSync(fd, data, done, length - done, position + done);
  }
}

/** cat <file>: the file's contents on stdout. */
export const cat = defineCommand<{ inode: number; size: number }>({
  name: "cat",
  aliases: [],
  usage: "<file>",
  help: "Dump an inode out to stdout",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw usageError(who, `${who} <file>`);
    const fs = shell.requireFs(who);
    const ino = shell.resolveInode(argv[1]!);
    const inode = readInode(fs, ino, who);
    return { inode: ino, size: inode.size };
  },
  *render(d, shell) {
    const fs = shell.requireFs("cat");
    const inode = readInode(fs, d.inode, "cat");
    try {
      yield* fileChunks(fs, inode);
    } catch (e) {
      throw wrapError("cat", e, "while reading ext2 file");
    }
  },
});

/** What -p restores: ownership, permission bits and times (and, with -S, the privileged bits). */
interface Preserve {
  readonly perms: boolean;
  readonly special: boolean;
}

/**
 * A timestamp as a Date for utimes. Not a number: node treats a negative
 * number of seconds as "now", so pre-1970 times would be lost; a Date keeps
 * them (millisecond precision; the kernel's utimes takes what node passes).
 */
const timeOf = (t: Timestamp): Date => new Date(t.sec * 1000 + Math.floor(t.nsec / 1e6));

/** The mode bits to give a dumped file: 0777, plus 07000 with -S. */
function permBits(mode: number, p: Preserve): number {
  return mode & (p.special ? 0o7777 : 0o777);
}

/** Owner first (chown clears set-id bits), then the mode, then the times; by path. */
function fixPerms(shell: Shell, path: string, inode: Inode, p: Preserve, symlink: boolean): void {
  try {
    lchownSync(path, inode.uid, inode.gid);
  } catch (e) {
    // Only root may give files away; a non-root dump keeps the caller as owner.
    if (process.getuid?.() === 0)
      shell.fail(`rdump: ${errText(e)} while changing ownership of ${path}`);
  }
  if (!symlink) {
    try {
      chmodSync(path, permBits(inode.mode, p));
    } catch (e) {
      shell.fail(`rdump: ${errText(e)} while setting permissions of ${path}`);
    }
  }
  try {
    if (symlink) lutimesSync(path, timeOf(inode.atime), timeOf(inode.mtime));
    else utimesSync(path, timeOf(inode.atime), timeOf(inode.mtime));
  } catch (e) {
    shell.fail(`rdump: ${errText(e)} while setting times of ${path}`);
  }
}

/**
 * {@link fixPerms} on the open descriptor of a file just written (no path
 * lookups), leaving out what is already right: the owner when the file was
 * created with it, the mode when it was created with it.
 */
function fixPermsFd(
  shell: Shell,
  fd: number,
  path: string,
  inode: Inode,
  p: Preserve,
  done: { owner: boolean; mode: boolean },
): void {
  if (!done.owner) {
    try {
      fchownSync(fd, inode.uid, inode.gid);
    } catch (e) {
      if (process.getuid?.() === 0)
        shell.fail(`rdump: ${errText(e)} while changing ownership of ${path}`);
    }
  }
  if (!done.mode) {
    try {
      fchmodSync(fd, permBits(inode.mode, p));
    } catch (e) {
      shell.fail(`rdump: ${errText(e)} while setting permissions of ${path}`);
    }
  }
  try {
    futimesSync(fd, timeOf(inode.atime), timeOf(inode.mtime));
  } catch (e) {
    shell.fail(`rdump: ${errText(e)} while setting times of ${path}`);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** dump_inode / dump [-p [-S]] <file> <output_file>. */
export const dump = defineCommand<{
  inode: number;
  file: string;
  size: number;
  preserved: boolean;
}>({
  name: "dump_inode",
  aliases: ["dump"],
  usage: "[-p [-S]] <file> <output_file>",
  help: "Dump an inode out to a file",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError(
      who,
      "Usage: dump_inode [-p [-S]] <file> <output_file>",
      "USAGE",
    );
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { p: "flag", S: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw usage;
      throw e;
    }
    if (r.operands.length !== 2) throw usage;
    const p = { perms: hasOpt(r, "p"), special: hasOpt(r, "S") };
    if (p.special && !p.perms) throw new CommandError(who, "-S needs -p", "USAGE");
    const fs = shell.requireFs(who);
    const ino = shell.resolveInode(r.operands[0]!);
    const inode = readInode(fs, ino, who);
    const out = resolve(shell.hostCwd, r.operands[1]!);
    let fd: number;
    try {
      fd = openSync(out, constants.O_CREAT | constants.O_WRONLY | constants.O_TRUNC, 0o666);
    } catch (e) {
      throw new CommandError(
        who,
        `${errText(e)} while opening ${r.operands[1]} for dump_inode`,
        "OPEN_FAILED",
      );
    }
    try {
      new DataCopier(fs).copy(inode, fd);
    } catch (e) {
      throw wrapError(who, e, "while reading ext2 file");
    } finally {
      closeSync(fd);
    }
    if (p.perms) {
      const script = xattrScript(shell, fs, out, inode);
      if (script !== null && script !== "") runSetfattr(shell, script);
      fixPerms(shell, out, inode, p, false);
    }
    return { inode: ino, file: out, size: inode.size, preserved: p.perms };
  },
  render() {
    return "";
  },
});

/** What rdump did. */
export interface RdumpData {
  readonly target: string;
  readonly files: number;
  readonly directories: number;
  readonly symlinks: number;
  readonly hardlinks: number;
  readonly special: number;
  /**
   * Entries not reproduced, with the reason (each also reported on stderr);
   * the first {@link MAX_SKIPPED_LISTED} of them.
   */
  readonly skipped: ReadonlyArray<{ readonly path: string; readonly reason: string }>;
  /** How many entries were not reproduced in all. */
  readonly skippedCount: number;
}

/**
 * How many skipped entries rdump's data lists: an image can hold any number
 * of entries it must skip, and the data is held until the command ends.
 */
export const MAX_SKIPPED_LISTED = 1000;

/** The checks of {@link safeName} on a name whose UTF-8 decoding is `text`. */
function safeNameText(name: Uint8Array, text: string): string | null {
  if (name.length === 0 || name.includes(0x2f) || name.includes(0)) return null;
  if (
    (name.length === 1 && name[0] === 0x2e) ||
    (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)
  ) {
    return null;
  }
  // Host paths are built as strings, which must be valid UTF-8 to name exactly these bytes.
  return isUtf8(name) ? text : null;
}

const utf8 = new TextDecoder();

/** A name from the image as a host path component, or null when it is unsafe ("/", NUL, ".", "..") or not valid UTF-8. */
export function safeName(name: Uint8Array): string | null {
  return safeNameText(name, utf8.decode(name));
}

/** `dir/name` for a name that {@link safeName} accepted (no normalisation needed). */
function childPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

/** Escapes a path or name the way getfattr does, for setfattr --restore. */
function attrEscape(s: string): string {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) {
    out +=
      b < 0x21 || b > 0x7e || b === 0x5c || b === 0x3d
        ? `\\${b.toString(8).padStart(3, "0")}`
        : String.fromCharCode(b);
  }
  return out;
}

/**
 * The `setfattr --restore` text for one dumped entry: ACLs in their POSIX
 * form, everything else as stored; system.data (inline data) and other
 * internal system.* attributes are not attributes a host file can carry.
 * "" when there is nothing to restore; null when the attributes could not
 * be read (reported through `shell.fail`).
 */
function xattrScript(shell: Shell, fs: Filesystem, path: string, inode: Inode): string | null {
  let xattrs: ReturnType<typeof presentedXattr>[];
  try {
    xattrs = fs.listXattrs(inode).map(presentedXattr);
  } catch (e) {
    shell.fail(wrapError("rdump", e, `while reading the extended attributes of ${path}`).line);
    return null;
  }
  let lines = "";
  for (const x of xattrs) {
    const name = Buffer.from(x.name, "latin1").toString("utf8");
    if (
      name.startsWith("system.") &&
      name !== "system.posix_acl_access" &&
      name !== "system.posix_acl_default"
    ) {
      continue;
    }
    lines += `${attrEscape(name)}=0x${Buffer.from(x.value).toString("hex")}\n`;
  }
  return lines === "" ? "" : `# file: ${attrEscape(path)}\n${lines}\n`;
}

/** Runs one `setfattr --restore` over `script`; failures are reported through `shell.fail`. */
function runSetfattr(shell: Shell, script: string): void {
  try {
    execFileSync("setfattr", ["--restore=-"], { input: script, stdio: ["pipe", "ignore", "pipe"] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    for (const line of (stderr || errText(e)).split("\n"))
      shell.fail(`rdump: setting extended attributes: ${line}`);
  }
}

/** How {@link Finisher.planFile} says to create a regular file. */
interface FilePlan {
  /** Its setfattr text ("" for none, null when its attributes could not be read). */
  readonly script: string | null;
  /** The mode to create it with. */
  readonly mode: number;
}

/** Entries waiting for their attributes, then their owner, mode and times. */
interface Deferred {
  readonly path: string;
  readonly inode: Inode;
}

/** A batch of deferred entries is finished when it holds this many entries ... */
const BATCH_ENTRIES = 1024;
/** ... or this much setfattr script. */
const BATCH_SCRIPT = 1 << 20;

/**
 * The last steps of an rdump, in an order that keeps every step possible
 * for a caller who is not root (a file must still be writable while its
 * attributes are set; a directory must not lose write or search permission
 * before its entries are done): attributes first, then owner, mode and
 * times, each directory after everything inside it. Entries without
 * attributes are finished at once; the others wait in a bounded batch (one
 * setfattr per batch), and while any wait, a finished directory waits
 * behind them.
 */
class Finisher {
  private batch: Deferred[] = [];
  private script = "";
  /** The owner and group a file gets when it is created here, once one has been looked at. */
  private creator: { readonly uid: number; readonly gid: number } | null = null;
  /** Permission bits seen to survive creation (the umask or a default ACL may take some away). */
  private keptBits = 0;
  /** False once a file did not get the mode it was created with: from then on, fchmod always. */
  private createWithMode = true;

  constructor(
    private readonly shell: Shell,
    private readonly fs: Filesystem,
    private readonly p: Preserve,
  ) {}

  /**
   * The `setfattr --restore` text of a regular file about to be created
   * ({@link xattrScript}) and the mode to create it with: its final mode
   * when nothing has to happen to the file before that mode is set
   * (attributes while it is still writable, set-id bits after the owner),
   * else 0600.
   */
  planFile(path: string, inode: Inode): FilePlan {
    const script = xattrScript(this.shell, this.fs, path, inode);
    const bits = permBits(inode.mode, this.p);
    const final = this.createWithMode && script === "" && (bits & 0o7000) === 0;
    return { script, mode: final ? bits : 0o600 };
  }

  /**
   * A regular file just written, still open as `fd`, created as
   * {@link planFile} said: finished on the descriptor now, unless it has
   * attributes to restore (then it waits). What creation already got right
   * is not done again: the first file shows which owner and group files get
   * here, and a file whose mode has bits not yet seen to survive the umask
   * (or a default ACL of the target) is looked at once.
   */
  file(path: string, inode: Inode, fd: number, plan: FilePlan): void {
    if (plan.script !== null && plan.script !== "") {
      this.defer({ path, inode }, plan.script);
      return;
    }
    const bits = permBits(inode.mode, this.p);
    const finalMode = plan.mode === bits;
    if (this.creator === null || (finalMode && (bits & ~this.keptBits) !== 0)) {
      try {
        const st = fstatSync(fd);
        this.creator ??= { uid: st.uid, gid: st.gid };
        if (finalMode) {
          if ((st.mode & 0o7777) === bits) this.keptBits |= bits;
          else this.createWithMode = false;
        }
      } catch {
        this.createWithMode = false;
      }
    }
    const owner = this.creator?.uid === inode.uid && this.creator.gid === inode.gid;
    const mode = finalMode && (bits & ~this.keptBits) === 0;
    fixPermsFd(this.shell, fd, path, inode, this.p, { owner, mode });
  }

  /** A fifo, device node, or a directory whose entries are all created. */
  entry(path: string, inode: Inode, isDirectory: boolean): void {
    const script = xattrScript(this.shell, this.fs, path, inode);
    const mustWait = isDirectory && this.batch.length > 0;
    if ((script === "" || script === null) && !mustWait) {
      fixPerms(this.shell, path, inode, this.p, false);
    } else {
      this.defer({ path, inode }, script ?? "");
    }
  }

  /** A symlink: owner and times (its mode is not its own; it has no attributes here). */
  symlink(path: string, inode: Inode): void {
    fixPerms(this.shell, path, inode, this.p, true);
  }

  /** Finishes everything still waiting. */
  flush(): void {
    if (this.script !== "") runSetfattr(this.shell, this.script);
    // In the order they were deferred: a directory comes after its entries.
    for (const d of this.batch) fixPerms(this.shell, d.path, d.inode, this.p, false);
    this.batch = [];
    this.script = "";
  }

  private defer(d: Deferred, script: string): void {
    this.batch.push(d);
    this.script += script;
    if (this.batch.length >= BATCH_ENTRIES || this.script.length >= BATCH_SCRIPT) this.flush();
  }
}

const RDUMP_USAGE = "Usage: rdump [-p [-S]] <directory>... <native directory>";

/**
 * A directory being dumped. Only the directory at the top of the walk has
 * an iterator (which holds one directory block's entries); the others
 * resume from the position after their last entry when the walk comes
 * back to them.
 */
interface Frame {
  readonly path: string;
  readonly inode: Inode;
  entries: Iterator<DirEntry, void> | null;
  /** The readdir position to resume at (DirEntry.position of the last entry + 1). */
  resumeAt: number;
}

/** rdump [-p [-S]] <directory>... <native directory>: a tree out to the host. */
export const rdump = defineCommand<RdumpData>({
  name: "rdump",
  aliases: [],
  usage: "[-p [-S]] <directory>... <native directory>",
  help: "Recursively dump a directory to the native filesystem",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { p: "flag", S: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw new CommandError(who, RDUMP_USAGE, "USAGE");
      throw e;
    }
    if (r.operands.length < 2) throw new CommandError(who, RDUMP_USAGE, "USAGE");
    // rdump always restores modes, owners and times (as debugfs does); -p is accepted for symmetry.
    const p = { perms: true, special: hasOpt(r, "S") };
    if (p.special && !hasOpt(r, "p")) throw new CommandError(who, "-S needs -p", "USAGE");
    const fs = shell.requireFs(who);
    const targetArg = r.operands[r.operands.length - 1]!;
    const target = resolve(shell.hostCwd, targetArg);
    try {
      if (!statSync(target).isDirectory()) {
        throw new CommandError("rdump", `${targetArg} is not a directory`, "NOT_A_DIRECTORY");
      }
    } catch (e) {
      if (e instanceof CommandError) throw e;
      throw new CommandError("rdump", `${errText(e)} while statting ${targetArg}`, "STAT_FAILED");
    }
    const counts = { files: 0, directories: 0, symlinks: 0, hardlinks: 0, special: 0 };
    const skipped: Array<{ path: string; reason: string }> = [];
    let skippedCount = 0;
    const skip = (path: string, reason: string, policy = false): void => {
      if (skippedCount++ < MAX_SKIPPED_LISTED) skipped.push({ path, reason });
      // Entries left out by policy (no -S, not root, sockets) are warnings; anything else failed.
      if (policy) shell.warn(`rdump: ${reason} (${path})`);
      else shell.fail(`rdump: ${reason} (${path})`);
    };
    const copier = new DataCopier(fs);
    const finisher = new Finisher(shell, fs, p);
    // The first path of each file with more links than found so far (forgotten once all are made).
    const linked = new Map<number, { path: string; more: number }>();
    const walked = new Set<number>();
    const isRoot = process.getuid?.() === 0;
    // Depth first, one frame per directory on the current path (a level per host
    // path component, so at most PATH_MAX / 2 of them), and one live directory
    // iterator: not the entries of whole levels, not a block of entries per level.
    const stack: Frame[] = [];

    // Creates one entry; a directory becomes the next frame.
    const make = (path: string, inode: Inode, existing: boolean): void => {
      const type = inode.mode & S_IFMT;
      try {
        if (type === S_IFDIR) {
          if (walked.has(inode.ino)) {
            skip(path, `directory inode ${inode.ino} reached twice; not walked again`);
            return;
          }
          walked.add(inode.ino);
          if (!existing) mkdirSync(path, 0o700);
          counts.directories++;
          const parent = stack[stack.length - 1];
          if (parent !== undefined) parent.entries = null;
          stack.push({ path, inode, entries: null, resumeAt: 0 });
          return;
        }
        if (type === S_IFREG) {
          const first = inode.linksCount > 1 ? linked.get(inode.ino) : undefined;
          if (first !== undefined) {
            linkSync(first.path, path);
            counts.hardlinks++;
            if (--first.more <= 0) linked.delete(inode.ino);
            return;
          }
          const plan = finisher.planFile(path, inode);
          const fd = openSync(
            path,
            constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
            plan.mode,
          );
          try {
            copier.copy(inode, fd);
            finisher.file(path, inode, fd, plan);
          } finally {
            closeSync(fd);
          }
          if (inode.linksCount > 1) linked.set(inode.ino, { path, more: inode.linksCount - 1 });
          counts.files++;
          return;
        }
        if (type === S_IFLNK) {
          symlinkSync(Buffer.from(fs.readLinkBytes(inode)), path);
          counts.symlinks++;
          finisher.symlink(path, inode);
          return;
        }
        if (type === S_IFIFO) {
          execFileSync("mkfifo", ["-m", "600", "--", path], { stdio: "ignore" });
          counts.special++;
        } else if (type === S_IFCHR || type === S_IFBLK) {
          if (!p.special) {
            skip(path, "device node not created (needs -p -S)", true);
            return;
          }
          if (!isRoot) {
            skip(path, "device node not created (needs root)", true);
            return;
          }
          const dev = inode.deviceNumber() ?? { major: 0, minor: 0 };
          execFileSync(
            "mknod",
            [
              "-m",
              "600",
              "--",
              path,
              type === S_IFCHR ? "c" : "b",
              String(dev.major),
              String(dev.minor),
            ],
            {
              stdio: "ignore",
            },
          );
          counts.special++;
        } else if (type === S_IFSOCK) {
          skip(path, "socket not created (a socket cannot be dumped)", true);
          return;
        } else {
          skip(path, `inode ${inode.ino} has an unknown file type`);
          return;
        }
        finisher.entry(path, inode, false);
      } catch (e) {
        skip(path, wrapError("rdump", e).message);
      }
    };

    for (const spec of r.operands.slice(0, -1)) {
      const ino = shell.resolveInode(spec);
      const inode = readInode(fs, ino, spec);
      const base = spec.slice(spec.lastIndexOf("/") + 1);
      // "/" (or any path ending in "/") dumps the directory's contents into the target itself.
      const intoTarget = base === "";
      if (!intoTarget && safeName(Buffer.from(base, "utf8")) === null) {
        skip(join(target, base), "unsafe name");
        continue;
      }
      make(intoTarget ? target : join(target, base), inode, intoTarget);
      while (stack.length > 0) {
        const d = stack[stack.length - 1]!;
        let next: IteratorResult<DirEntry, void>;
        try {
          d.entries ??= iterateDirectory(fs, d.inode, { includeDots: false, start: d.resumeAt });
          next = d.entries.next();
        } catch (err) {
          skip(d.path, wrapError("rdump", err, `while dumping ${d.path}`).message);
          next = { done: true, value: undefined };
        }
        if (next.done === true) {
          stack.pop();
          // Its entries are all there: now its own attributes, owner, mode and times.
          finisher.entry(d.path, d.inode, true);
          continue;
        }
        const e = next.value;
        d.resumeAt = e.position + 1;
        const name = safeNameText(e.name, e.nameText);
        if (name === null) {
          skip(`${d.path}/${e.nameText}`, "unsafe name in the image");
          continue;
        }
        const path = childPath(d.path, name);
        let inode: Inode;
        try {
          inode = fs.readInode(e.ino);
        } catch (err) {
          skip(path, wrapError(name, err, `while reading inode ${e.ino}`).message);
          continue;
        }
        make(path, inode, false);
      }
    }
    finisher.flush();
    return { target, ...counts, skipped, skippedCount };
  },
  render() {
    return "";
  },
});
