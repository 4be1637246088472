/**
 * The request loop's JS half: decode with the table (protocol.ts), enforce
 * the INIT handshake, call the filesystem's handler, and turn its result or
 * exception into exactly one reply. This is the one place where thrown
 * values become errnos and replies are encoded.
 */
import {
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  fuse_in_header,
  InitFlag,
  Opcode,
  type OpName,
} from "./abi.js";
import { errnoName, errnoNumber, errnoOfError, FuseProtocolError } from "./errors.js";
import {
  decodeRequest,
  encodeReply,
  type FuseRequest,
  type InitReply,
  OPS_BY_OPCODE,
  type OpReplies,
  type ProtocolState,
  type ReplyData,
  type RequestHeader,
} from "./protocol.js";

/** Per-request context handed to handlers. */
export interface RequestContext {
  readonly header: RequestHeader;
  /** The reader channel the request came on (its reply goes back there). */
  readonly channel: number;
  /** Aborted when the kernel sends INTERRUPT for this request (async handlers only). */
  readonly signal: AbortSignal;
}

/** A handler: returns the reply (or a promise of it) or throws an errno. */
export type Handler<K extends OpName> = (
  req: FuseRequest<K>,
  ctx: RequestContext,
) => OpReplies[K] | Promise<OpReplies[K]>;

/** The filesystem: any subset of handlers; a missing one answers ENOSYS. */
export type FuseHandlers = { [K in OpName]?: Handler<K> };

/** Where encoded replies go (the native session, or a test). */
export type ReplySink = (channel: number, unique: number, errno: number, data?: ReplyData) => void;

/** INIT negotiation defaults used when the filesystem has no INIT handler. */
export interface InitOptions {
  /** Flags wanted; only those the kernel offers are kept. */
  flags?: bigint;
  /** Largest WRITE payload (≤ the session's buffers). Default 1 MiB. */
  maxWrite?: number;
  maxReadahead?: number;
  maxBackground?: number;
  congestionThreshold?: number;
  /** Timestamp granularity in ns. Default 1. */
  timeGran?: number;
}

/**
 * Flags asked for by default: async reads, big writes with up to 256 pages,
 * atomic O_TRUNC, async direct I/O, parallel directory operations,
 * readdirplus (adaptive), the extended setxattr_in, and INIT_EXT for flags2.
 * Writeback cache, POSIX ACLs and HANDLE_KILLPRIV_V2 change who owns
 * metadata, so a filesystem asks for them explicitly.
 */
export const DEFAULT_INIT_FLAGS: bigint =
  InitFlag.ASYNC_READ |
  InitFlag.BIG_WRITES |
  InitFlag.ATOMIC_O_TRUNC |
  InitFlag.ASYNC_DIO |
  InitFlag.PARALLEL_DIROPS |
  InitFlag.DO_READDIRPLUS |
  InitFlag.READDIRPLUS_AUTO |
  InitFlag.MAX_PAGES |
  InitFlag.SETXATTR_EXT |
  InitFlag.INIT_EXT;

const PAGE = 4096;

/**
 * Computes the INIT reply for `req` from `opts`: the flags both sides want,
 * max_write clamped to `limit`, max_pages to cover it. Throws FuseErrno-like
 * EPROTO for a kernel older than 7.x.
 */
export function negotiateInit(
  req: FuseRequest<"INIT">,
  opts: InitOptions,
  limit: number,
): InitReply {
  if (req.major < FUSE_KERNEL_VERSION) {
    throw new FuseProtocolError("OLD_KERNEL", `kernel FUSE ${req.major}.${req.minor}`, "EPROTO");
  }
  const maxWrite = Math.max(PAGE, Math.min(opts.maxWrite ?? 1 << 20, limit));
  let flags = (opts.flags ?? DEFAULT_INIT_FLAGS) & req.flags;
  if ((req.flags & InitFlag.INIT_EXT) !== 0n) flags |= InitFlag.INIT_EXT;
  const reply: InitReply = {
    major: FUSE_KERNEL_VERSION,
    minor: Math.min(FUSE_KERNEL_MINOR_VERSION, req.minor),
    maxReadahead: Math.min(opts.maxReadahead ?? req.maxReadahead, req.maxReadahead),
    flags,
    maxWrite,
    timeGran: opts.timeGran ?? 1,
    // The kernel's default is 32 pages (128 KiB) unless FUSE_MAX_PAGES sets more.
    maxPages: (flags & InitFlag.MAX_PAGES) !== 0n ? Math.min(256, Math.ceil(maxWrite / PAGE)) : 0,
  };
  if (opts.maxBackground !== undefined) reply.maxBackground = opts.maxBackground;
  if (opts.congestionThreshold !== undefined) reply.congestionThreshold = opts.congestionThreshold;
  return reply;
}

/** What INIT settled, for the session. */
export interface Negotiated {
  readonly major: number;
  readonly minor: number;
  readonly flags: bigint;
  readonly maxWrite: number;
  readonly maxReadahead: number;
}

/** Options of a {@link Dispatcher}. */
export interface DispatcherOptions {
  /** Log sink for malformed requests and unexpected handler failures. */
  log?: (line: string) => void;
  /** Upper bound for max_write (the native read buffers). */
  maxWrite?: number;
  init?: InitOptions;
  onInit?: (n: Negotiated) => void;
}

class Context implements RequestContext {
  readonly header: RequestHeader;
  readonly channel: number;
  private controller: AbortController | undefined;
  constructor(header: RequestHeader, channel: number) {
    this.header = header;
    this.channel = channel;
  }
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    return this.controller.signal;
  }
  interrupt(): void {
    this.controller ??= new AbortController();
    this.controller.abort(new Error("interrupted by the kernel (FUSE_INTERRUPT)"));
  }
}

const EIO = errnoNumber("EIO");
const ENOSYS = errnoNumber("ENOSYS");
const HEADER = fuse_in_header.size;

/** Turns raw requests into handler calls and handler results into replies. */
export class Dispatcher {
  private readonly handlers: FuseHandlers;
  private readonly sink: ReplySink;
  private readonly log: (line: string) => void;
  private readonly maxWrite: number;
  private readonly initOptions: InitOptions;
  private readonly onInit: ((n: Negotiated) => void) | undefined;
  private readonly state: ProtocolState = { setxattrExt: false };
  private readonly pending = new Map<number, Context>();
  private negotiated: Negotiated | undefined;

  constructor(handlers: FuseHandlers, sink: ReplySink, options: DispatcherOptions = {}) {
    this.handlers = handlers;
    this.sink = sink;
    this.log = options.log ?? ((line) => console.warn(`native-fuse: ${line}`));
    this.maxWrite = options.maxWrite ?? 1 << 20;
    this.initOptions = options.init ?? {};
    this.onInit = options.onInit;
  }

  /** The INIT outcome once the handshake is done. */
  get init(): Negotiated | undefined {
    return this.negotiated;
  }

  /** Requests whose async handler has not finished. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Handles one raw request read on `channel`. Never throws. */
  handle(channel: number, bytes: Uint8Array): void {
    if (bytes.length < HEADER) {
      this.log(`malformed request: ${bytes.length} bytes, shorter than fuse_in_header`);
      return;
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const opcode = dv.getUint32(4, true);
    const uniqueLo = dv.getUint32(8, true);
    const uniqueHi = dv.getUint32(12, true);
    const unique = uniqueHi * 2 ** 32 + uniqueLo;
    const spec = OPS_BY_OPCODE.get(opcode);
    const noReply = spec?.noReply ?? false;
    if (!Number.isSafeInteger(unique)) {
      this.log(`request id ${unique} past 2^53 (opcode ${opcode}); dropped`);
      return;
    }
    let req: FuseRequest;
    try {
      // Only INIT is accepted before the handshake (and only before it).
      if (this.negotiated === undefined && opcode !== Opcode.INIT) {
        throw new FuseProtocolError("NOT_INITIALIZED", `opcode ${opcode} before INIT`);
      }
      if (this.negotiated !== undefined && opcode === Opcode.INIT) {
        throw new FuseProtocolError("INIT_TWICE", "INIT after the handshake");
      }
      req = decodeRequest(bytes, this.state);
    } catch (e) {
      const errno = e instanceof FuseProtocolError ? errnoNumber(e.errno) : errnoOfError(e).errno;
      this.log(
        `malformed request (opcode ${opcode}, unique ${unique}): ${e instanceof Error ? e.message : String(e)}`,
      );
      if (!noReply) this.sink(channel, unique, errno);
      return;
    }
    this.run(channel, req, noReply);
  }

  private run(channel: number, req: FuseRequest, noReply: boolean): void {
    const ctx = new Context(req.header, channel);
    if (req.op === "INTERRUPT") {
      this.pending.get(req.unique)?.interrupt();
    }
    const handler = this.handlers[req.op] as Handler<OpName> | undefined;
    let result: unknown;
    try {
      if (handler !== undefined) {
        result = handler(req as never, ctx);
      } else if (req.op === "INIT") {
        result = negotiateInit(req, this.initOptions, this.maxWrite);
      } else if (req.op === "DESTROY" || noReply) {
        result = undefined;
      } else {
        if (!noReply) this.sink(channel, req.header.unique, ENOSYS);
        return;
      }
    } catch (e) {
      this.fail(channel, req, e, noReply);
      return;
    }
    if (result instanceof Promise) {
      const unique = req.header.unique;
      this.pending.set(unique, ctx);
      result.then(
        (r: unknown) => {
          this.pending.delete(unique);
          this.finish(channel, req, r, noReply);
        },
        (e: unknown) => {
          this.pending.delete(unique);
          this.fail(channel, req, e, noReply);
        },
      );
      return;
    }
    this.finish(channel, req, result, noReply);
  }

  private finish(channel: number, req: FuseRequest, result: unknown, noReply: boolean): void {
    if (noReply) return;
    let data: ReplyData | undefined;
    try {
      if (req.op === "INIT") {
        data = this.completeInit(req, result as InitReply);
      } else {
        data = encodeReply(req, result as never);
      }
    } catch (e) {
      this.fail(channel, req, e, noReply);
      return;
    }
    this.sink(channel, req.header.unique, 0, data);
  }

  private completeInit(req: FuseRequest<"INIT">, reply: InitReply): ReplyData {
    // max_write must fit the native read buffers, or every later read fails EINVAL.
    const maxWrite = Math.max(PAGE, Math.min(reply.maxWrite, this.maxWrite));
    const fixed: InitReply = { ...reply, maxWrite };
    if (fixed.maxPages !== undefined && fixed.maxPages > 256) fixed.maxPages = 256;
    const data = encodeReply(req, fixed);
    const major = fixed.major ?? FUSE_KERNEL_VERSION;
    // A kernel with a newer major gets our major and sends INIT again (fuse.h,
    // "Version negotiation"); the handshake is done only on a matching major.
    if (req.major === FUSE_KERNEL_VERSION && major === FUSE_KERNEL_VERSION) {
      const flags = fixed.flags & req.flags;
      this.state.setxattrExt = (flags & InitFlag.SETXATTR_EXT) !== 0n;
      this.negotiated = {
        major,
        minor: Math.min(req.minor, fixed.minor ?? FUSE_KERNEL_MINOR_VERSION),
        flags,
        maxWrite,
        maxReadahead: fixed.maxReadahead,
      };
      this.onInit?.(this.negotiated);
    }
    if (data === undefined) throw new FuseProtocolError("INIT_ENCODE", "INIT reply not encoded");
    return data;
  }

  private fail(channel: number, req: FuseRequest, e: unknown, noReply: boolean): void {
    let errno: number;
    if (e instanceof FuseProtocolError) {
      errno = errnoNumber(e.errno);
      if (e.errno === "EIO") this.log(`${req.op} (unique ${req.header.unique}): ${e.message}`);
    } else {
      const r = errnoOfError(e);
      errno = r.errno;
      if (r.unexpected) {
        const detail = e instanceof Error ? (e.stack ?? e.message) : String(e);
        this.log(
          `${req.op} handler failed (unique ${req.header.unique}), answering EIO: ${detail}`,
        );
      }
    }
    if (noReply) return;
    if (errno <= 0 || errno > 4095) errno = EIO;
    this.sink(channel, req.header.unique, errno);
  }
}

/** Human name of an errno, for logs (re-exported convenience). */
export { errnoName };
