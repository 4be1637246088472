/**
 * Shell housekeeping: help, params, open, close, quit, cd, pwd,
 * supported_features.
 */
import { CommandError, defineCommand, usageError } from "../command.js";
import { padEnd } from "../render/format.js";
import { getopt, optValue, parseCNumber, UsageError } from "../shell/parse.js";
import { inodeMode, pathOf, S_IFDIR, S_IFMT } from "./common.js";
import { supportedFeatures } from "./features.js";

/** help / list_requests: the command table as ss's list_requests prints it. */
export const help = defineCommand<{ commands: Array<{ names: string[]; help: string }> }>({
  name: "help",
  aliases: ["list_requests", "lr", "?"],
  usage: "",
  help: "Display info on command or topic.",
  needsFs: false,
  run(shell) {
    return {
      commands: shell.commands.map((c) => ({ names: [c.name, ...c.aliases], help: c.help })),
    };
  },
  render(data) {
    let out = "Available debugfs requests:\n\n";
    for (const c of data.commands) {
      const names = c.names.join(", ");
      // ss pads the names to column 25 and wraps them onto their own line past 23.
      out += names.length > 23 ? `${names}\n${" ".repeat(25)}` : padEnd(names, 25);
      out += `${c.help}\n`;
    }
    return out;
  },
});

/** show_debugfs_params: open mode and image. */
export const params = defineCommand<{
  open: boolean;
  mode: "read-only" | "read-write" | null;
  path: string | null;
}>({
  name: "show_debugfs_params",
  aliases: ["params"],
  usage: "",
  help: "Show debugfs parameters",
  needsFs: false,
  run(shell) {
    const image = shell.image;
    return image === null
      ? { open: false, mode: null, path: null }
      : { open: true, mode: image.writable ? "read-write" : "read-only", path: image.path };
  },
  render(data) {
    return data.open
      ? `Open mode: ${data.mode}\nFilesystem in use: ${data.path}\n`
      : "Filesystem in use: --none--\n";
  },
});

/** open_filesys [-w] [-o offset] [-c] image: opens an image, read-write with -w. */
export const open = defineCommand<{
  path: string;
  offset: number;
  catastrophic: boolean;
  writable: boolean;
}>({
  name: "open_filesys",
  aliases: ["open"],
  usage: "[-w] [-o offset] [-c] <device>",
  help: "Open a filesystem",
  needsFs: false,
  run(shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError(who, `Usage: open [-w] [-o offset] [-c] <device>`, "USAGE");
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), {
        o: "value",
        c: "flag",
        w: "flag",
        i: "flag",
        f: "flag",
        e: "flag",
        D: "flag",
      });
    } catch (e) {
      if (e instanceof UsageError) throw usage;
      throw e;
    }
    if (r.operands.length !== 1) throw usage;
    const offsetText = optValue(r, "o");
    let offset = 0;
    if (offsetText !== undefined) {
      const n = parseCNumber(offsetText);
      if (n === null) throw new CommandError(who, `Bad offset - ${offsetText}`, "BAD_NUMBER");
      offset = n;
    }
    const catastrophic = r.opts.some((o) => o.opt === "c");
    const writable = r.opts.some((o) => o.opt === "w");
    const path = r.operands[0]!;
    shell.openImage(path, { offset, catastrophic, writable });
    return { path, offset, catastrophic, writable: shell.image?.writable ?? false };
  },
  render() {
    // debugfs's open prints nothing on stdout (its catastrophic-mode note went to stderr).
    return "";
  },
});

/** close_filesys: closes the image. */
export const close = defineCommand<{ closed: string }>({
  name: "close_filesys",
  aliases: ["close"],
  usage: "",
  help: "Close the filesystem",
  needsFs: true,
  run(shell, argv) {
    if (argv.length > 1 && !(argv.length === 2 && argv[1] === "-a")) {
      throw new CommandError("", "Usage: close_filesys [-a]", "USAGE");
    }
    const path = shell.image?.path ?? "";
    shell.closeImage(argv[0]!);
    return { closed: path };
  },
  render() {
    return "";
  },
});

/** quit: leaves the shell. */
export const quit = defineCommand<null>({
  name: "quit",
  aliases: ["q"],
  usage: "",
  help: "Leave the subsystem.",
  needsFs: false,
  run() {
    return null;
  },
  render() {
    return "";
  },
});

/** change_working_directory: cd to a directory. */
export const cd = defineCommand<{ inode: number }>({
  name: "change_working_directory",
  aliases: ["cd"],
  usage: "<file>",
  help: "Change working directory",
  needsFs: true,
  run(shell, argv) {
    if (argv.length !== 2) throw usageError(argv[0]!, `${argv[0]} <file>`);
    const ino = shell.resolveInode(argv[1]!);
    const fs = shell.requireFs(argv[0]!);
    if ((inodeMode(fs, ino) & S_IFMT) !== S_IFDIR) {
      // ext2fs_check_directory's EXT2_ET_NO_DIRECTORY, printed by com_err(argv[1], retval, 0).
      throw new CommandError(argv[1]!, "Ext2 inode is not a directory", "NOT_A_DIRECTORY");
    }
    shell.cwd = ino;
    return { inode: ino };
  },
  render() {
    return "";
  },
});

/** change_root_directory: chroot for path resolution. */
export const chroot = defineCommand<{ inode: number }>({
  name: "change_root_directory",
  aliases: ["chroot"],
  usage: "<file>",
  help: "Change root directory",
  needsFs: true,
  run(shell, argv) {
    if (argv.length !== 2) throw usageError(argv[0]!, `${argv[0]} <file>`);
    const ino = shell.resolveInode(argv[1]!);
    const fs = shell.requireFs(argv[0]!);
    if ((inodeMode(fs, ino) & S_IFMT) !== S_IFDIR) {
      throw new CommandError(argv[1]!, "Ext2 inode is not a directory", "NOT_A_DIRECTORY");
    }
    shell.root = ino;
    return { inode: ino };
  },
  render() {
    return "";
  },
});

/** print_working_directory: cwd and root with their paths. */
export const pwd = defineCommand<{
  cwd: { inode: number; path: string | null };
  root: { inode: number; path: string | null };
}>({
  name: "print_working_directory",
  aliases: ["pwd"],
  usage: "",
  help: "Print current working directory",
  needsFs: true,
  run(shell, argv) {
    if (argv.length !== 1) throw usageError(argv[0]!, "print_working_directory ");
    const fs = shell.requireFs(argv[0]!);
    const path = (ino: number): string | null => {
      try {
        return pathOf(fs, ino);
      } catch (e) {
        shell.fail(
          `${argv[0]}: ${e instanceof Error ? e.message : String(e)} while trying to get pathname of ${ino === shell.cwd ? "cwd" : "root"}`,
        );
        return null;
      }
    };
    return {
      cwd: { inode: shell.cwd, path: path(shell.cwd) },
      root: { inode: shell.root, path: path(shell.root) },
    };
  },
  render(data) {
    return (
      `[pwd]   INODE: ${String(data.cwd.inode).padStart(6)}  PATH: ${data.cwd.path ?? "NULL"}\n` +
      `[root]  INODE: ${String(data.root.inode).padStart(6)}  PATH: ${data.root.path ?? "NULL"}\n`
    );
  },
});

/** supported_features [feature]: what this toolkit can read. */
export const supported = defineCommand<
  { query: null; filesystem: string[]; journal: string[] } | { query: string; supported: true }
>({
  name: "supported_features",
  aliases: [],
  usage: "[feature]",
  help: "Print features supported by this version of ext4-debug",
  needsFs: false,
  run(_shell, argv) {
    const all = supportedFeatures();
    const name = argv[1];
    if (name === undefined)
      return { query: null, filesystem: all.filesystem, journal: all.journal };
    if (all.filesystem.includes(name) || all.journal.includes(name)) {
      return { query: name, supported: true };
    }
    throw new CommandError(argv[0]!, `Unknown feature: ${name}`, "UNKNOWN_FEATURE");
  },
  render(data) {
    if (data.query !== null) return `Supported feature: ${data.query}\n`;
    const fs = data.filesystem.map((f) => ` ${f}`).join("");
    const j = data.journal.map((f) => ` ${f}`).join("");
    return `Supported features:${fs}\n${j}\n`;
  },
});
