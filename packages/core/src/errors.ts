/**
 * The one error taxonomy of the toolkit. Every failure the core can report is
 * an {@link Ext4Error} with a discriminant `kind` and a stable string `code`;
 * callers switch on `kind`, scripts and JSON output key on `code`.
 */
import { IoError } from "@ext4/iocache";

/** The kinds of failure; each maps to exactly one errno in {@link errnoOf}. */
export type Ext4ErrorKind =
  | "Corrupt"
  | "BadChecksum"
  | "Incompatible"
  | "Io"
  | "NotFound"
  | "NotADirectory"
  | "IsADirectory"
  | "NameTooLong"
  | "NoSpace"
  | "ReadOnly"
  | "Exists"
  | "NotEmpty"
  | "InvalidArgument"
  | "TooManyLinks"
  | "Loop"
  | "FileTooBig"
  | "NoData"
  | "Range"
  | "Permission"
  | "NotSupported"
  | "TooBig"
  | "NoSuchAddress";

/** Where in the image a problem was met; every field optional. */
export interface Ext4ErrorContext {
  inode?: number;
  block?: number;
  offset?: number;
  group?: number;
  path?: string;
}

/**
 * A typed failure. `code` is stable across releases (e.g. `EXTENT_BAD_MAGIC`),
 * `message` is one human line naming what is wrong and where.
 */
export class Ext4Error extends Error {
  override readonly name = "Ext4Error";
  constructor(
    readonly kind: Ext4ErrorKind,
    readonly code: string,
    message: string,
    readonly context: Ext4ErrorContext = {},
    options?: { cause?: unknown },
  ) {
    super(withContext(message, context), options);
  }
}

function withContext(message: string, c: Ext4ErrorContext): string {
  const parts: string[] = [];
  if (c.inode !== undefined) parts.push(`inode ${c.inode}`);
  if (c.block !== undefined) parts.push(`block ${c.block}`);
  if (c.group !== undefined) parts.push(`group ${c.group}`);
  if (c.offset !== undefined) parts.push(`offset ${c.offset}`);
  if (c.path !== undefined) parts.push(`path ${c.path}`);
  return parts.length === 0 ? message : `${message} (${parts.join(", ")})`;
}

/** A structure on disk is malformed. `code` names the exact check that failed. */
export function corrupt(code: string, message: string, context: Ext4ErrorContext = {}): Ext4Error {
  return new Ext4Error("Corrupt", code, message, context);
}

/** A checksum did not match. */
export function badChecksum(
  code: string,
  message: string,
  context: Ext4ErrorContext = {},
): Ext4Error {
  return new Ext4Error("BadChecksum", code, message, context);
}

/** An operational failure (not found, not a directory, ...) with a stable code. */
export function fsError(
  kind: Exclude<Ext4ErrorKind, "Corrupt" | "BadChecksum">,
  code: string,
  message: string,
  context: Ext4ErrorContext = {},
): Ext4Error {
  return new Ext4Error(kind, code, message, context);
}

/** True for an {@link Ext4Error}, optionally of the given kind. */
export function isExt4Error(e: unknown, kind?: Ext4ErrorKind): e is Ext4Error {
  return e instanceof Ext4Error && (kind === undefined || e.kind === kind);
}

/**
 * The errno each kind maps to (the kernel's EFSCORRUPTED = EUCLEAN and
 * EFSBADCRC = EBADMSG; fuse2fs's translate_error for the rest). Names, not
 * numbers: the FUSE layer owns the numeric table.
 */
export const errnoOf: Readonly<Record<Ext4ErrorKind, string>> = {
  Corrupt: "EUCLEAN",
  BadChecksum: "EBADMSG",
  Incompatible: "EOPNOTSUPP",
  Io: "EIO",
  NotFound: "ENOENT",
  NotADirectory: "ENOTDIR",
  IsADirectory: "EISDIR",
  NameTooLong: "ENAMETOOLONG",
  NoSpace: "ENOSPC",
  ReadOnly: "EROFS",
  Exists: "EEXIST",
  NotEmpty: "ENOTEMPTY",
  InvalidArgument: "EINVAL",
  TooManyLinks: "EMLINK",
  Loop: "ELOOP",
  FileTooBig: "EFBIG",
  NoData: "ENODATA",
  Range: "ERANGE",
  Permission: "EPERM",
  NotSupported: "EOPNOTSUPP",
  TooBig: "E2BIG",
  NoSuchAddress: "ENXIO",
};

/** The errno name for any thrown value: unknown failures are EIO. */
export function errnoFor(e: unknown): string {
  if (e instanceof Ext4Error) return errnoOf[e.kind];
  if (typeof e === "object" && e !== null && "errno" in e && typeof e.errno === "string") {
    return e.errno;
  }
  return "EIO";
}

/**
 * Runs a device or cache call, turning its failures (IoError, and the
 * cache's RangeError past the device end) into Ext4Error Io with `ctx`.
 */
export function io<T>(fn: () => T, ctx: Ext4ErrorContext = {}): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof Ext4Error) throw e;
    if (e instanceof IoError || e instanceof RangeError) {
      throw new Ext4Error("Io", `IO_${e instanceof IoError ? e.errno : "RANGE"}`, e.message, ctx, {
        cause: e,
      });
    }
    throw e;
  }
}
