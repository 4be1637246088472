/**
 * Errors of the FUSE transport. Two families:
 * - {@link FuseError}: a failure of this package's own calls (mounting, a
 *   bad argument, a session in the wrong state), with a stable `code` — an
 *   errno name for system calls (`ENOENT`, `EBUSY`, ...) or an `ERR_FUSE_*`
 *   code.
 * - {@link FuseErrno}: thrown by request handlers to answer the kernel with
 *   an errno; the dispatcher turns it (and any other thrown value) into the
 *   reply's error in one place ({@link errnoOfError}).
 */
/**
 * Linux errno numbers (x86-64, asm-generic/errno-base.h + errno.h). Node's
 * own table lacks several a filesystem answers with (EUCLEAN for a corrupt
 * structure, EREMOTEIO, EKEY*), so the full list lives here.
 */
const LINUX_ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  ENOEXEC: 8,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  ENOTBLK: 15,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ETXTBSY: 26,
  EFBIG: 27,
  ENOSPC: 28,
  ESPIPE: 29,
  EROFS: 30,
  EMLINK: 31,
  EPIPE: 32,
  EDOM: 33,
  ERANGE: 34,
  EDEADLK: 35,
  ENAMETOOLONG: 36,
  ENOLCK: 37,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENOMSG: 42,
  EIDRM: 43,
  ECHRNG: 44,
  EL2NSYNC: 45,
  EL3HLT: 46,
  EL3RST: 47,
  ELNRNG: 48,
  EUNATCH: 49,
  ENOCSI: 50,
  EL2HLT: 51,
  EBADE: 52,
  EBADR: 53,
  EXFULL: 54,
  ENOANO: 55,
  EBADRQC: 56,
  EBADSLT: 57,
  EBFONT: 59,
  ENOSTR: 60,
  ENODATA: 61,
  ETIME: 62,
  ENOSR: 63,
  ENONET: 64,
  ENOPKG: 65,
  EREMOTE: 66,
  ENOLINK: 67,
  EADV: 68,
  ESRMNT: 69,
  ECOMM: 70,
  EPROTO: 71,
  EMULTIHOP: 72,
  EDOTDOT: 73,
  EBADMSG: 74,
  EOVERFLOW: 75,
  ENOTUNIQ: 76,
  EBADFD: 77,
  EREMCHG: 78,
  ELIBACC: 79,
  ELIBBAD: 80,
  ELIBSCN: 81,
  ELIBMAX: 82,
  ELIBEXEC: 83,
  EILSEQ: 84,
  ERESTART: 85,
  ESTRPIPE: 86,
  EUSERS: 87,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  ESOCKTNOSUPPORT: 94,
  EOPNOTSUPP: 95,
  EPFNOSUPPORT: 96,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ENETRESET: 102,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ESHUTDOWN: 108,
  ETOOMANYREFS: 109,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
  ESTALE: 116,
  EUCLEAN: 117,
  ENOTNAM: 118,
  ENAVAIL: 119,
  EISNAM: 120,
  EREMOTEIO: 121,
  EDQUOT: 122,
  ENOMEDIUM: 123,
  EMEDIUMTYPE: 124,
  ECANCELED: 125,
  ENOKEY: 126,
  EKEYEXPIRED: 127,
  EKEYREVOKED: 128,
  EKEYREJECTED: 129,
  EOWNERDEAD: 130,
  ENOTRECOVERABLE: 131,
  ERFKILL: 132,
  EHWPOISON: 133,
  EWOULDBLOCK: 11,
  EDEADLOCK: 35,
  ENOTSUP: 95,
} as const;

/** Linux errno numbers by name (`ENOENT` → 2). */
export const ERRNO: Readonly<Record<string, number>> = LINUX_ERRNO;

const NAME_OF = new Map<number, string>();
for (const [name, value] of Object.entries(ERRNO)) {
  // Aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) come last: the first name wins.
  if (!NAME_OF.has(value)) NAME_OF.set(value, name);
}

/** The errno number for a name. Throws FuseError(ERR_FUSE_ARGUMENT) for an unknown name. */
export function errnoNumber(name: string): number {
  const n = ERRNO[name];
  if (n === undefined) throw new FuseError("ERR_FUSE_ARGUMENT", `unknown errno name ${name}`);
  return n;
}

/** The name of an errno number (`2` → `ENOENT`), or `E<n>` when unknown. */
export function errnoName(n: number): string {
  return NAME_OF.get(n) ?? `E${n}`;
}

/** A failure of a native-fuse call, with a stable `code` and, for system calls, `errno`. */
export class FuseError extends Error {
  override readonly name = "FuseError";
  readonly code: string;
  readonly errno: number | undefined;
  constructor(code: string, message: string, errno?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.errno = errno;
  }
}

/** True for a {@link FuseError}, optionally with the given code. */
export function isFuseError(e: unknown, code?: string): e is FuseError {
  return e instanceof FuseError && (code === undefined || e.code === code);
}

/** Re-raises an error thrown by the native addon as a {@link FuseError} (keeping code and errno). */
export function fromNative(e: unknown): FuseError {
  if (e instanceof FuseError) return e;
  if (e instanceof Error) {
    const rec = e as Error & { code?: unknown; errno?: unknown };
    const code = typeof rec.code === "string" ? rec.code : "ERR_FUSE_NATIVE";
    const errno = typeof rec.errno === "number" ? rec.errno : undefined;
    return new FuseError(code, e.message, errno, { cause: e });
  }
  return new FuseError("ERR_FUSE_NATIVE", String(e));
}

/**
 * Thrown by a request handler to answer with an errno, e.g.
 * `throw new FuseErrno("ENOENT")`. `errno` is the name; `number` its value.
 */
export class FuseErrno extends Error {
  override readonly name = "FuseErrno";
  readonly errno: string;
  readonly number: number;
  constructor(errno: string, message?: string) {
    super(message ?? errno);
    this.errno = errno;
    this.number = errnoNumber(errno);
  }
}

/**
 * The errno a thrown value answers with. FuseErrno carries its own; any
 * object with an `errno` name (the core's errors) or a Node system error
 * `code` maps through the table; anything else is EIO and `unexpected` is
 * true so that the caller logs it with its stack.
 */
export function errnoOfError(e: unknown): { errno: number; unexpected: boolean } {
  if (e instanceof FuseErrno) return { errno: e.number, unexpected: false };
  if (typeof e === "object" && e !== null) {
    const rec = e as { errno?: unknown; code?: unknown };
    if (typeof rec.errno === "string") {
      const n = ERRNO[rec.errno];
      if (n !== undefined) return { errno: n, unexpected: false };
    }
    if (typeof rec.code === "string" && rec.code.startsWith("E")) {
      const n = ERRNO[rec.code];
      if (n !== undefined) return { errno: n, unexpected: false };
    }
  }
  return { errno: errnoNumber("EIO"), unexpected: true };
}

/**
 * A request the kernel sent that does not decode (short payload, missing
 * NUL, a value past 2^53). The dispatcher answers it with `errno` and logs it.
 */
export class FuseProtocolError extends Error {
  override readonly name = "FuseProtocolError";
  readonly code: string;
  readonly errno: string;
  constructor(code: string, message: string, errno = "EIO") {
    super(message);
    this.code = code;
    this.errno = errno;
  }
}
