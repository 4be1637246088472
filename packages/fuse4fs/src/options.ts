/**
 * The `-o` options of fuse4fs, declared once as a table: name, value kind,
 * one help line, and what it sets. fuse2fs's names are used where fuse2fs
 * has the option; mount(8)'s generic options that reach a FUSE helper
 * through mount.fuse3 are accepted too. Parsing is pure and complete before
 * anything is opened or mounted: an unknown or malformed option is an
 * {@link OptionError} with one line of explanation.
 */

/** What to do when corruption is found while serving (ext4's errors=). */
export type ErrorsBehavior = "continue" | "remount-ro" | "panic";

/** When to update access times (the server keeps them: FUSE leaves atime to it). */
export type AtimeMode = "noatime" | "relatime" | "strictatime";

/** Every setting the options control. */
export interface Fuse4fsOptions {
  /** Mount read-only: the image is opened O_RDONLY and every mutator answers EROFS. */
  readOnly: boolean;
  /** Byte offset of the filesystem inside the image. */
  offset: number;
  /** Server-side privilege checks (reserved blocks, chattr +i/+a) treat every caller as root. */
  fakeroot: boolean;
  /** Let other users than the mounter use the mount. */
  allowOther: boolean;
  /** Statfs style: bsddf subtracts the filesystem overhead, minixdf does not. */
  statfs: "bsddf" | "minixdf";
  /** Do not look at the journal: mount read-only even when it needs recovery. */
  norecovery: boolean;
  /** errors= behaviour; undefined: the superblock's s_errors. */
  errors: ErrorsBehavior | undefined;
  /** Buffer cache size in bytes; undefined: the core's default. */
  cacheBytes: number | undefined;
  atime: AtimeMode;
  /** lazytime was given (accepted; timestamps are written as usual). */
  lazytime: boolean;
  /** POSIX ACLs enforced by the kernel (FUSE_POSIX_ACL). */
  acl: boolean;
  /** user.* extended attributes. */
  userXattr: boolean;
  /** Native reader threads (dispatch=threads) or fast-path workers (dispatch=inline). */
  threads: number;
  /** Log every request to stderr. */
  debug: boolean;
  /** Source shown in /proc/mounts; undefined: the image path. */
  fsname: string | undefined;
  /** Type suffix: fuse.SUBTYPE, or plain "fuse" when empty. */
  subtype: string;
  /** Honour set-id bits on the mount. */
  suid: boolean;
  /** Honour device nodes on the mount. */
  dev: boolean;
  /** Forbid executing files. */
  noexec: boolean;
  /** Write everything to the image after every change (mount -o sync). */
  sync: boolean;
  /** Who reads /dev/fuse: native reader threads, or the JS thread itself. */
  dispatch: "threads" | "inline";
  /** dispatch=inline: microseconds to poll for the next request before sleeping. */
  spinMicros: number;
  /** Kernel writeback cache (FUSE_WRITEBACK_CACHE). */
  writebackCache: boolean;
  /** Dentry cache timeout, seconds. */
  entryTimeout: number;
  /** Attribute cache timeout, seconds. */
  attrTimeout: number;
  /** Negative dentry cache timeout, seconds. */
  negativeTimeout: number;
  /** The mount's bdi read_ahead_kb set after mounting (root only); 0 leaves the kernel's. */
  readaheadKb: number;
  /** Serve reads and overwrites of mapped ranges natively (the data fast path). */
  fastpath: boolean;
  /** Drop to this user (name, uid or uid:gid) once the image and /dev/fuse are open. */
  runas: string | undefined;
}

/** The defaults: read-write, kernel-checked permissions, ACLs, relatime, long cache timeouts. */
export const DEFAULT_OPTIONS: Readonly<Fuse4fsOptions> = {
  readOnly: false,
  offset: 0,
  fakeroot: false,
  allowOther: false,
  statfs: "bsddf",
  norecovery: false,
  errors: undefined,
  cacheBytes: undefined,
  atime: "relatime",
  lazytime: false,
  acl: true,
  userXattr: true,
  threads: 2,
  debug: false,
  fsname: undefined,
  subtype: "fuse4fs",
  suid: false,
  dev: false,
  noexec: false,
  sync: false,
  dispatch: "inline",
  spinMicros: 50,
  writebackCache: false,
  entryTimeout: 86400,
  attrTimeout: 86400,
  negativeTimeout: 86400,
  readaheadKb: 4096,
  fastpath: true,
  runas: undefined,
};

/** A bad option or command line; `message` is one line naming the problem. */
export class OptionError extends Error {
  override readonly name = "OptionError";
}

type Setter = (o: Fuse4fsOptions, value: string, name: string) => void;

/** One row of the option table. */
export interface OptionSpec {
  /** The option as written, e.g. "ro" or "offset=" (a trailing "=" takes a value). */
  readonly name: string;
  /** Value placeholder for help, e.g. "BYTES". */
  readonly arg?: string;
  /** One help line. */
  readonly help: string;
  readonly set: Setter;
}

function flag(name: string, help: string, set: (o: Fuse4fsOptions) => void): OptionSpec {
  return { name, help, set: (o) => set(o) };
}

function valued(name: string, arg: string, help: string, set: Setter): OptionSpec {
  return { name: `${name}=`, arg, help, set };
}

const SIZE_UNITS: Readonly<Record<string, number>> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** Parses a non-negative integer, decimal or 0x hex, with an optional k/m/g/t suffix (powers of 1024). */
export function parseSize(value: string, name: string): number {
  const m = /^(0x[0-9a-f]+|\d+)([kmgt]?)b?$/i.exec(value.trim());
  const unit = SIZE_UNITS[(m?.[2] ?? "").toLowerCase()];
  if (m === null || m[1] === undefined || unit === undefined) {
    throw new OptionError(
      `option ${name}: '${value}' is not a size (a number, optionally with k, m, g or t)`,
    );
  }
  const n = Number(m[1]) * unit;
  if (!Number.isSafeInteger(n)) throw new OptionError(`option ${name}: '${value}' is too large`);
  return n;
}

function parseInteger(value: string, name: string, min: number, max: number): number {
  if (!/^\d+$/.test(value))
    throw new OptionError(`option ${name}: '${value}' is not a whole number`);
  const n = Number(value);
  if (n < min || n > max) {
    throw new OptionError(`option ${name}: ${value} is outside ${min}..${max}`);
  }
  return n;
}

function parseSeconds(value: string, name: string): number {
  if (!/^\d+(\.\d+)?$/.test(value)) {
    throw new OptionError(`option ${name}: '${value}' is not a number of seconds`);
  }
  const n = Number(value);
  if (n > 10 ** 9) throw new OptionError(`option ${name}: ${value} seconds is too long`);
  return n;
}

function oneOf<T extends string>(value: string, name: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new OptionError(`option ${name}: '${value}' is not one of ${allowed.join(", ")}`);
  }
  return found;
}

function noComma(value: string, name: string): string {
  if (value.includes("\0")) throw new OptionError(`option ${name}: value contains NUL`);
  return value;
}

/** mount(8) options a FUSE helper may be handed and that change nothing here. */
const GENERIC_NO_OPS = [
  "defaults",
  "auto",
  "noauto",
  "user",
  "users",
  "nouser",
  "owner",
  "group",
  "nofail",
  "_netdev",
  "async",
];

/** The option table, in help order. */
export const OPTIONS: readonly OptionSpec[] = [
  flag("ro", "mount read-only (the image is opened read-only)", (o) => {
    o.readOnly = true;
  }),
  flag("rw", "mount read-write (the default)", (o) => {
    o.readOnly = false;
  }),
  valued(
    "offset",
    "BYTES",
    "the filesystem starts this many bytes into the image (k/m/g suffixes)",
    (o, v, n) => {
      o.offset = parseSize(v, n);
    },
  ),
  flag("fakeroot", "treat every caller as root in the checks the server makes itself", (o) => {
    o.fakeroot = true;
  }),
  flag(
    "kernel",
    "let the kernel cache and check permissions: allow_other, default_permissions, acl",
    (o) => {
      o.allowOther = true;
      o.acl = true;
    },
  ),
  flag("allow_other", "let users other than the mounter use the mount", (o) => {
    o.allowOther = true;
  }),
  flag(
    "default_permissions",
    "let the kernel check permissions from mode bits and ACLs (always on)",
    () => {},
  ),
  flag("bsddf", "statfs reports blocks minus the filesystem's own overhead (default)", (o) => {
    o.statfs = "bsddf";
  }),
  flag("minixdf", "statfs reports every block of the filesystem", (o) => {
    o.statfs = "minixdf";
  }),
  flag(
    "norecovery",
    "do not replay the journal; mount read-only if it needs recovery (alias noload)",
    (o) => {
      o.norecovery = true;
    },
  ),
  flag("noload", "same as norecovery", (o) => {
    o.norecovery = true;
  }),
  valued(
    "errors",
    "continue|remount-ro|panic",
    "what to do on corruption (default: the superblock's setting)",
    (o, v, n) => {
      o.errors = oneOf(v, n, ["continue", "remount-ro", "panic"] as const);
    },
  ),
  valued("cache_size", "BYTES", "metadata buffer cache size (default 64m)", (o, v, n) => {
    const size = parseSize(v, n);
    if (size < 1 << 16) throw new OptionError(`option ${n}: at least 64k is needed`);
    o.cacheBytes = size;
  }),
  flag("noatime", "never update access times", (o) => {
    o.atime = "noatime";
  }),
  flag("relatime", "update access times when older than mtime/ctime or a day (default)", (o) => {
    o.atime = "relatime";
  }),
  flag("strictatime", "update access times on every read", (o) => {
    o.atime = "strictatime";
  }),
  flag("lazytime", "accepted for compatibility; timestamps are written as usual", (o) => {
    o.lazytime = true;
  }),
  flag("acl", "enforce POSIX ACLs (default)", (o) => {
    o.acl = true;
  }),
  flag("noacl", "no POSIX ACLs: system.posix_acl_* are not supported", (o) => {
    o.acl = false;
  }),
  flag("user_xattr", "allow user.* extended attributes (default)", (o) => {
    o.userXattr = true;
  }),
  flag("nouser_xattr", "refuse user.* extended attributes", (o) => {
    o.userXattr = false;
  }),
  valued(
    "threads",
    "N",
    "native threads: fast-path workers, or readers with dispatch=threads (1-64, default 2)",
    (o, v, n) => {
      o.threads = parseInteger(v, n, 1, 64);
    },
  ),
  flag("debug", "log every request to stderr (same as -d)", (o) => {
    o.debug = true;
  }),
  valued("fsname", "NAME", "source shown in /proc/mounts (default: the image path)", (o, v, n) => {
    if (v.length === 0) throw new OptionError(`option ${n}: empty name`);
    o.fsname = noComma(v, n);
  }),
  valued(
    "subtype",
    "NAME",
    "type shown as fuse.NAME in /proc/mounts; empty shows plain fuse",
    (o, v, n) => {
      if (v !== "" && !/^[A-Za-z0-9_.+-]+$/.test(v)) {
        throw new OptionError(`option ${n}: '${v}' may only use letters, digits and _.+-`);
      }
      o.subtype = v;
    },
  ),
  flag("suid", "honour set-user-id and set-group-id bits", (o) => {
    o.suid = true;
  }),
  flag("nosuid", "ignore set-id bits (default)", (o) => {
    o.suid = false;
  }),
  flag("dev", "honour device nodes", (o) => {
    o.dev = true;
  }),
  flag("nodev", "do not honour device nodes (default)", (o) => {
    o.dev = false;
  }),
  flag("exec", "allow executing files (default)", (o) => {
    o.noexec = false;
  }),
  flag("noexec", "forbid executing files", (o) => {
    o.noexec = true;
  }),
  flag(
    "sync",
    "write every change through to the image before answering (no writeback cache)",
    (o) => {
      o.sync = true;
    },
  ),
  valued(
    "dispatch",
    "inline|threads",
    "who reads /dev/fuse: the JS thread (default) or native reader threads",
    (o, v, n) => {
      o.dispatch = oneOf(v, n, ["threads", "inline"] as const);
    },
  ),
  valued(
    "spin_us",
    "N",
    "dispatch=inline: microseconds to poll for the next request before sleeping (0-1000, default 50; none on one CPU)",
    (o, v, n) => {
      o.spinMicros = parseInteger(v, n, 0, 1000);
    },
  ),
  flag("writeback_cache", "let the kernel cache writes and write them back later", (o) => {
    o.writebackCache = true;
  }),
  flag("no_writeback_cache", "send every write to the server at once (default)", (o) => {
    o.writebackCache = false;
  }),
  valued("entry_timeout", "SECS", "how long the kernel caches names (default 86400)", (o, v, n) => {
    o.entryTimeout = parseSeconds(v, n);
  }),
  valued(
    "attr_timeout",
    "SECS",
    "how long the kernel caches attributes (default 86400)",
    (o, v, n) => {
      o.attrTimeout = parseSeconds(v, n);
    },
  ),
  valued(
    "negative_timeout",
    "SECS",
    "how long the kernel caches missing names (default 86400)",
    (o, v, n) => {
      o.negativeTimeout = parseSeconds(v, n);
    },
  ),
  valued(
    "readahead_kb",
    "KB",
    "set the mount's read_ahead_kb after mounting, as root (default 4096; 0 keeps the kernel's)",
    (o, v, n) => {
      o.readaheadKb = parseInteger(v, n, 0, 1 << 20);
    },
  ),
  flag("fastpath", "serve mapped reads and overwrites natively (default)", (o) => {
    o.fastpath = true;
  }),
  flag("nofastpath", "send all file data through the server's JS thread", (o) => {
    o.fastpath = false;
  }),
  valued(
    "runas",
    "USER[:GROUP]",
    "after opening the image and /dev/fuse, drop to this user with no capabilities",
    (o, v, n) => {
      if (!/^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$/.test(v)) {
        throw new OptionError(`option ${n}: '${v}' is not a user name or uid (optionally :group)`);
      }
      o.runas = v;
    },
  ),
];

const BY_NAME = new Map(OPTIONS.map((s) => [s.name, s]));

/** Splits `-o` arguments at commas (a backslash escapes a comma or a backslash). */
export function splitOptions(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    let cur = "";
    for (let i = 0; i < arg.length; i++) {
      const c = arg[i];
      if (c === "\\" && i + 1 < arg.length) {
        cur += arg[++i];
      } else if (c === ",") {
        out.push(cur);
        cur = "";
      } else {
        cur += c;
      }
    }
    out.push(cur);
  }
  return out.filter((s) => s.length > 0);
}

/**
 * Parses `-o` arguments (each comma-separated) into options, later ones
 * winning. Throws OptionError naming the first unknown or malformed option.
 */
export function parseOptions(args: readonly string[]): Fuse4fsOptions {
  const o: Fuse4fsOptions = { ...DEFAULT_OPTIONS };
  for (const item of splitOptions(args)) {
    const eq = item.indexOf("=");
    const key = eq < 0 ? item : item.slice(0, eq);
    const value = eq < 0 ? undefined : item.slice(eq + 1);
    if (GENERIC_NO_OPS.includes(key) && value === undefined) continue;
    // mount(8)'s x-* options and comment= belong to userspace tools, not filesystems.
    if (key.startsWith("x-") || key === "comment") continue;
    const spec = BY_NAME.get(value === undefined ? key : `${key}=`);
    if (spec === undefined) {
      const other = BY_NAME.get(value === undefined ? `${key}=` : key);
      if (other !== undefined) {
        throw new OptionError(
          value === undefined
            ? `option ${key} needs a value (${key}=${other.arg ?? "VALUE"})`
            : `option ${key} takes no value`,
        );
      }
      throw new OptionError(`unknown option '${item}' (see fuse4fs --help)`);
    }
    spec.set(o, value ?? "", key);
  }
  return o;
}

/** The option help: one line per option. */
export function optionHelp(): string {
  const rows = OPTIONS.map((s) => [`-o ${s.name}${s.arg ?? ""}`, s.help] as const);
  const width = Math.max(...rows.map(([a]) => a.length));
  return rows.map(([a, h]) => `  ${a.padEnd(width)}  ${h}`).join("\n");
}

/** The parsed command line of `fuse4fs IMAGE MOUNTPOINT [-o opts] [-f] [-d]`. */
export interface CommandLine {
  image: string;
  mountpoint: string;
  /** Raw -o arguments, in order. */
  options: string[];
  foreground: boolean;
  debug: boolean;
}

/**
 * Parses fuse-style arguments: two positionals, `-o OPTS` (also `-oOPTS`,
 * repeatable), `-f`, `-d` (debug, implies foreground, as libfuse does),
 * `-s` (accepted: the server is single-threaded anyway) and `--` ending
 * flags. `-h`/`--help` and `-V`/`--version` are returned as a request.
 * Throws OptionError for anything else.
 */
export function parseCommandLine(argv: readonly string[]): CommandLine | "help" | "version" {
  const pos: string[] = [];
  const options: string[] = [];
  let foreground = false;
  let debug = false;
  let flags = true;
  for (let i = 0; i < argv.length; i++) {
    // OK to assert: i < argv.length.
    const a = argv[i]!;
    if (!flags || a === "-" || !a.startsWith("-")) {
      pos.push(a);
      continue;
    }
    if (a === "--") {
      flags = false;
    } else if (a === "-h" || a === "--help") {
      return "help";
    } else if (a === "-V" || a === "--version") {
      return "version";
    } else if (a === "-o") {
      const v = argv[++i];
      if (v === undefined) throw new OptionError("-o needs an argument");
      options.push(v);
    } else if (a.startsWith("-o")) {
      options.push(a.slice(2));
    } else if (a === "-f") {
      foreground = true;
    } else if (a === "-d") {
      debug = true;
      foreground = true;
    } else if (a === "-s") {
      // libfuse's single-threaded flag: metadata is served by one thread here anyway.
    } else {
      throw new OptionError(`unknown flag '${a}' (see fuse4fs --help)`);
    }
  }
  if (pos.length !== 2) {
    throw new OptionError(
      pos.length < 2 ? "an image and a mountpoint are needed" : `unexpected argument '${pos[2]}'`,
    );
  }
  // OK to assert: exactly two positionals.
  return { image: pos[0]!, mountpoint: pos[1]!, options, foreground, debug };
}

/** The whole `--help` text. */
export function usage(): string {
  return [
    "usage: fuse4fs IMAGE MOUNTPOINT [-o OPTION[,OPTION...]] [-f] [-d]",
    "",
    "Mounts an ext2/ext3/ext4 image or block device through FUSE. Runs in the",
    "background once the mount is ready unless -f is given.",
    "",
    "  -f                  stay in the foreground",
    "  -d                  log every request to stderr (implies -f)",
    "  -o OPTIONS          comma-separated options, below",
    "  -h, --help          this help",
    "  -V, --version       the version",
    "",
    "options:",
    optionHelp(),
    "",
    "exit status: 0 mounted (or unmounted cleanly in the foreground), 1 bad",
    "command line or option, 32 the image could not be mounted.",
  ].join("\n");
}
