/**
 * Mount options → what the native side passes to mount(2) or fusermount3.
 * Pure, so every combination is testable without mounting.
 */
import { FuseError } from "./errors.js";

/** How to mount a FUSE filesystem. */
export interface MountOptions {
  /** An existing directory (or file) to mount on. */
  mountpoint: string;
  /** Shown as the source in /proc/mounts. Default "native-fuse". */
  fsname?: string;
  /** Type suffix: the mount is "fuse.SUBTYPE", or plain "fuse" when empty. */
  subtype?: string;
  /** Let other users access the mount (needs user_allow_other for fusermount3). */
  allowOther?: boolean;
  /** Let the kernel check permissions from the mode bits. Default true. */
  defaultPermissions?: boolean;
  readOnly?: boolean;
  /** Largest READ the kernel sends (bytes). */
  maxRead?: number;
  /** "auto" (default): mount(2) when root, fusermount3 otherwise. */
  method?: "auto" | "mount" | "fusermount";
  /** Honour set-user/group-id bits (no MS_NOSUID). Default false, as libfuse mounts. */
  suid?: boolean;
  /** Honour device nodes (no MS_NODEV). Default false. */
  dev?: boolean;
  /** Forbid executing files (MS_NOEXEC). Default false. */
  noexec?: boolean;
  /** Further raw options, one per entry (no commas). */
  options?: readonly string[];
}

/** What to hand to the native mount call. */
export interface MountPlan {
  method: "mount" | "fusermount";
  /** mount(2) source (the fsname). */
  source: string;
  /** mount(2) filesystem type. */
  fstype: string;
  readOnly: boolean;
  /** mount(2) data without fd/rootmode/user_id/group_id (added natively). */
  kernelOptions: string;
  /** Extra mount(2) flag bits for the native call: 1 suid, 2 dev, 4 noexec. */
  mountFlags: number;
  /** `fusermount3 -o` argument. */
  fusermountOptions: string;
}

function checkOption(value: string, what: string): void {
  // Option strings are comma-separated; a comma or NUL would inject options.
  if (value.includes(",") || value.includes("\0")) {
    throw new FuseError(
      "ERR_FUSE_ARGUMENT",
      `${what} must not contain ',' or NUL: ${JSON.stringify(value)}`,
    );
  }
}

/**
 * Builds the mount call for `opts` (`isRoot`: whether mount(2) is allowed).
 * Throws FuseError(ERR_FUSE_ARGUMENT) for an unusable option value.
 */
export function planMount(opts: MountOptions, isRoot: boolean): MountPlan {
  if (opts.mountpoint.length === 0) throw new FuseError("ERR_FUSE_ARGUMENT", "mountpoint is empty");
  if (opts.mountpoint.includes("\0"))
    throw new FuseError("ERR_FUSE_ARGUMENT", "mountpoint contains NUL");
  const fsname = opts.fsname ?? "native-fuse";
  checkOption(fsname, "fsname");
  const subtype = opts.subtype ?? "";
  if (subtype !== "" && !/^[A-Za-z0-9_.+-]+$/.test(subtype)) {
    throw new FuseError(
      "ERR_FUSE_ARGUMENT",
      `subtype must be [A-Za-z0-9_.+-]+: ${JSON.stringify(subtype)}`,
    );
  }
  const method =
    opts.method === undefined || opts.method === "auto"
      ? isRoot
        ? "mount"
        : "fusermount"
      : opts.method;
  const common: string[] = [];
  if (opts.allowOther === true) common.push("allow_other");
  if (opts.defaultPermissions !== false) common.push("default_permissions");
  if (opts.maxRead !== undefined) {
    if (!Number.isSafeInteger(opts.maxRead) || opts.maxRead < 4096) {
      throw new FuseError(
        "ERR_FUSE_ARGUMENT",
        `maxRead must be an integer ≥ 4096, got ${opts.maxRead}`,
      );
    }
    common.push(`max_read=${opts.maxRead}`);
  }
  for (const o of opts.options ?? []) {
    checkOption(o, "option");
    if (o.length > 0) common.push(o);
  }
  const fm = [`fsname=${fsname}`];
  if (subtype !== "") fm.push(`subtype=${subtype}`);
  if (opts.readOnly === true) fm.push("ro");
  // fusermount3 mounts nosuid,nodev unless told otherwise (and allows it only to root).
  if (opts.suid === true) fm.push("suid");
  if (opts.dev === true) fm.push("dev");
  if (opts.noexec === true) fm.push("noexec");
  const mountFlags =
    (opts.suid === true ? 1 : 0) | (opts.dev === true ? 2 : 0) | (opts.noexec === true ? 4 : 0);
  return {
    method,
    source: fsname,
    fstype: subtype === "" ? "fuse" : `fuse.${subtype}`,
    readOnly: opts.readOnly === true,
    kernelOptions: common.join(","),
    mountFlags,
    fusermountOptions: [...fm, ...common].join(","),
  };
}
