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
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  closeSync,
  constants,
  ftruncateSync,
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
import { type Filesystem, type Inode, iterateDirectory, type Timestamp } from "@ext4/core";
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
 * Writes a file's data to an open descriptor, leaving holes as holes: only
 * mapped, written blocks are read and written, then the file is cut to
 * i_size. Throws Ext4Error (reading) or a node:fs error (writing).
 */
function writeSparse(fs: Filesystem, inode: Inode, fd: number): void {
  const size = inode.size;
  if (
    inode.hasInlineData() ||
    (inode.isSymlink() && fs.isFastSymlink(inode)) ||
    !inode.isRegular()
  ) {
    let off = 0;
    for (const chunk of fileChunks(fs, inode)) {
      writeAll(fd, chunk, off);
      off += chunk.length;
    }
    ftruncateSync(fd, off);
    return;
  }
  const bs = fs.blockSize;
  const blocks = Math.ceil(size / bs);
  if (blocks > 0) {
    for (const run of fs.mapBlocks(inode, 0, blocks)) {
      if (run.kind === "hole" || run.unwritten) continue;
      const start = run.logical * bs;
      const end = Math.min(size, (run.logical + run.length) * bs);
      for (let off = start; off < end; off += CHUNK) {
        writeAll(fd, fs.readFile(inode, off, Math.min(CHUNK, end - off)), off);
      }
    }
  }
  ftruncateSync(fd, size);
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.length) {
    done += writeSync(fd, data, done, data.length - done, position + done);
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

/** Owner first (chown clears set-id bits), then the mode, then the times. */
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
      writeSparse(fs, inode, fd);
    } catch (e) {
      throw wrapError(who, e, "while reading ext2 file");
    } finally {
      closeSync(fd);
    }
    if (p.perms) {
      fixPerms(shell, out, inode, p, false);
      restoreXattrs(shell, fs, [{ path: out, inode }]);
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
  /** Entries not reproduced, with the reason (each also reported on stderr). */
  readonly skipped: ReadonlyArray<{ readonly path: string; readonly reason: string }>;
}

interface Created {
  path: string;
  inode: Inode;
  symlink: boolean;
}

/** A name from the image as a host path component, or null when it is unsafe ("/", NUL, ".", "..") or not valid UTF-8. */
export function safeName(name: Uint8Array): string | null {
  if (name.length === 0 || name.includes(0x2f) || name.includes(0)) return null;
  if (
    (name.length === 1 && name[0] === 0x2e) ||
    (name.length === 2 && name[0] === 0x2e && name[1] === 0x2e)
  ) {
    return null;
  }
  // Host paths are byte strings on Linux; Buffer paths would keep invalid UTF-8, strings must be valid.
  const text = Buffer.from(name).toString("utf8");
  return Buffer.from(text, "utf8").equals(Buffer.from(name)) ? text : null;
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
 * Restores the xattrs of dumped entries with one `setfattr --restore`:
 * ACLs in their POSIX form, everything else as stored; system.data (inline
 * data) and other internal system.* attributes are not attributes a host
 * file can carry. Failures are reported through `shell.fail`.
 */
function restoreXattrs(
  shell: Shell,
  fs: Filesystem,
  entries: ReadonlyArray<{ path: string; inode: Inode }>,
): void {
  let script = "";
  for (const { path, inode } of entries) {
    let xattrs: ReturnType<typeof presentedXattr>[];
    try {
      xattrs = fs.listXattrs(inode).map(presentedXattr);
    } catch (e) {
      shell.fail(wrapError("rdump", e, `while reading the extended attributes of ${path}`).line);
      continue;
    }
    const lines: string[] = [];
    for (const x of xattrs) {
      const name = Buffer.from(x.name, "latin1").toString("utf8");
      if (
        name.startsWith("system.") &&
        name !== "system.posix_acl_access" &&
        name !== "system.posix_acl_default"
      ) {
        continue;
      }
      lines.push(`${attrEscape(name)}=0x${Buffer.from(x.value).toString("hex")}`);
    }
    if (lines.length > 0) script += `# file: ${attrEscape(path)}\n${lines.join("\n")}\n\n`;
  }
  if (script === "") return;
  try {
    execFileSync("setfattr", ["--restore=-"], { input: script, stdio: ["pipe", "ignore", "pipe"] });
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    for (const line of (stderr || errText(e)).split("\n"))
      shell.fail(`rdump: setting extended attributes: ${line}`);
  }
}

const RDUMP_USAGE = "Usage: rdump [-p [-S]] <directory>... <native directory>";

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
    const skip = (path: string, reason: string, policy = false): void => {
      skipped.push({ path, reason });
      // Entries left out by policy (no -S, not root, sockets) are warnings; anything else failed.
      if (policy) shell.warn(`rdump: ${reason} (${path})`);
      else shell.fail(`rdump: ${reason} (${path})`);
    };
    const created: Created[] = [];
    const linked = new Map<number, string>();
    const walked = new Set<number>();
    const isRoot = process.getuid?.() === 0;

    // Creates one entry; returns the directory to walk next, if it is one.
    const make = (path: string, inode: Inode, existing: boolean): boolean => {
      const type = inode.mode & S_IFMT;
      try {
        if (type === S_IFDIR) {
          if (walked.has(inode.ino)) {
            skip(path, `directory inode ${inode.ino} reached twice; not walked again`);
            return false;
          }
          walked.add(inode.ino);
          if (!existing) mkdirSync(path, 0o700);
          counts.directories++;
          created.push({ path, inode, symlink: false });
          return true;
        }
        if (type === S_IFREG) {
          const first = inode.linksCount > 1 ? linked.get(inode.ino) : undefined;
          if (first !== undefined) {
            linkSync(first, path);
            counts.hardlinks++;
            return false;
          }
          const fd = openSync(
            path,
            constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW,
            0o600,
          );
          try {
            writeSparse(fs, inode, fd);
          } finally {
            closeSync(fd);
          }
          if (inode.linksCount > 1) linked.set(inode.ino, path);
          counts.files++;
        } else if (type === S_IFLNK) {
          symlinkSync(Buffer.from(fs.readLinkBytes(inode)), path);
          counts.symlinks++;
          created.push({ path, inode, symlink: true });
          return false;
        } else if (type === S_IFIFO) {
          execFileSync("mkfifo", ["-m", "600", "--", path], { stdio: "ignore" });
          counts.special++;
        } else if (type === S_IFCHR || type === S_IFBLK) {
          if (!p.special) {
            skip(path, "device node not created (needs -p -S)", true);
            return false;
          }
          if (!isRoot) {
            skip(path, "device node not created (needs root)", true);
            return false;
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
          return false;
        } else {
          skip(path, `inode ${inode.ino} has an unknown file type`);
          return false;
        }
        created.push({ path, inode, symlink: false });
      } catch (e) {
        skip(path, wrapError("rdump", e).message);
      }
      return false;
    };

    const stack: Array<{ ino: number; path: string }> = [];
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
      const path = intoTarget ? target : join(target, base);
      if (make(path, inode, intoTarget)) stack.push({ ino, path });
    }
    while (stack.length > 0) {
      const d = stack.pop()!;
      try {
        for (const e of iterateDirectory(fs, fs.readInode(d.ino), { includeDots: false })) {
          const name = safeName(e.name);
          if (name === null) {
            skip(`${d.path}/${e.nameText}`, "unsafe name in the image");
            continue;
          }
          const path = join(d.path, name);
          let inode: Inode;
          try {
            inode = fs.readInode(e.ino);
          } catch (err) {
            skip(path, wrapError(name, err, `while reading inode ${e.ino}`).message);
            continue;
          }
          if (make(path, inode, false)) stack.push({ ino: e.ino, path });
        }
      } catch (err) {
        skip(d.path, wrapError("rdump", err, `while dumping ${d.path}`).message);
      }
    }
    restoreXattrs(
      shell,
      fs,
      created.filter((c) => !c.symlink),
    );
    // Children were created after their parents: fixing in reverse leaves every directory's times last.
    for (let i = created.length - 1; i >= 0; i--) {
      const c = created[i]!;
      fixPerms(shell, c.path, c.inode, p, c.symlink);
    }
    return { target, ...counts, skipped };
  },
  render() {
    return "";
  },
});
