/**
 * {@link FuseSession}: one mounted FUSE connection served from JS. Requests
 * arrive from native reader threads, are decoded and dispatched on the JS
 * thread, and answered (possibly many ticks later) through native writev on
 * the descriptor they came from. READ/WRITE requests inside the mapping
 * cache never reach JS (the fast path).
 */
import { existsSync } from "node:fs";
import { FUSE_EXPIRE_ONLY } from "./abi.js";
import {
  Dispatcher,
  type DispatcherOptions,
  type FuseHandlers,
  type InitOptions,
  type Negotiated,
} from "./dispatch.js";
import { errnoName, errnoNumber, FuseError, fromNative } from "./errors.js";
import { type MountOptions, planMount } from "./mount-options.js";
import {
  type NativeBinding,
  NativeEvent,
  type NativeHandle,
  type NativeStats,
  native,
} from "./native.js";

/** How a session serves its mount. */
export interface ServeOptions {
  /**
   * Who reads /dev/fuse. "threads" (default): native reader threads, each on
   * its own cloned descriptor, hand requests to the JS thread; the fast path
   * runs on them. "inline": the JS thread polls the descriptor itself
   * (libuv) — one thread hop less per request; fast-path READ/WRITE are
   * handed to `threads` worker threads. See README "Threading model".
   */
  dispatch?: "threads" | "inline";
  /**
   * Reader threads (dispatch "threads"), each on its own cloned /dev/fuse
   * descriptor, or fast-path workers (dispatch "inline"). Default 2.
   */
  threads?: number;
  /**
   * Dispatch "inline" only: after serving what was queued, how long the JS
   * thread keeps polling the descriptor (without sleeping) for the next
   * request before it returns to the event loop. A sleeping thread's wake-up
   * is a cross-CPU interrupt, tens of microseconds on small VMs; a client in
   * a loop of requests sends its next one sooner. 0 (default) never polls;
   * at most 1000.
   */
  spinMicros?: number;
  /**
   * Dispatch "inline" only: large WRITE requests (64 KiB and up) reach the
   * handlers in one buffer the session reuses, instead of a fresh copy each:
   * `data` is valid only until the handler returns or first awaits, and must
   * be consumed (written, copied) by then. A fresh 1 MiB copy per request
   * cost an allocation whose pages the kernel had to zero and fault in. Off
   * by default.
   */
  transientWrites?: boolean;
  /** Largest WRITE accepted (sizes the read buffers). Default and maximum sensible: 1 MiB. */
  maxWrite?: number;
  /** INIT negotiation when the handlers have no INIT handler. */
  init?: InitOptions;
  /** Called once the INIT handshake is done. */
  onInit?: (n: Negotiated) => void;
  /** Log sink (malformed requests, handler failures). Default console.warn. */
  log?: (line: string) => void;
}

/** Why a session ended: errno 0 is a normal end (unmounted or aborted). */
export interface SessionEnd {
  errno: number;
  message: string;
}

/** A cached range of a node for the fast path. Offsets and lengths in bytes. */
export type MappedRange =
  | { offset: number; length: number; kind: "written"; deviceOffset: number }
  | { offset: number; length: number; kind: "unwritten" | "hole" };

/** A node's cached mapping, as the native side holds it. */
export interface NodeMapping {
  size: number;
  fastWrite: boolean;
  ranges: MappedRange[];
}

/** Session counters. */
export type SessionStats = NativeStats;

/** Options of {@link FuseSession.unmount} and {@link unmount}. */
export interface UnmountOptions {
  /** MNT_DETACH / `fusermount3 -z`: detach now, finish when no longer busy. */
  lazy?: boolean;
}

const NODE_FAST_WRITE = 1;
const NODE_RECORD_WRITES = 2;
const KIND = { hole: 0, unwritten: 1, written: 2 } as const;
const ENODEV = errnoNumber("ENODEV");
const QUIET_REPLY_ERRORS = new Set([errnoNumber("ENOENT"), ENODEV]);

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

function toBytes(name: string | Uint8Array): Uint8Array {
  return typeof name === "string" ? Buffer.from(name, "utf8") : name;
}

function checkId(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new FuseError(
      "ERR_FUSE_ARGUMENT",
      `${what} must be a non-negative safe integer, got ${n}`,
    );
  }
}

/** True when /dev/fuse exists (FUSE can be mounted on this machine). */
export function fuseAvailable(): boolean {
  return existsSync("/dev/fuse");
}

/**
 * Unmounts any FUSE mount at `mountpoint`: umount2(2) as root, `fusermount3
 * -u` otherwise; `lazy` detaches even when busy. Runs off the JS thread
 * (unmounting can wait for writeback that this thread serves). Rejects with
 * FuseError whose code is the errno name (EINVAL: not mounted, EBUSY: busy).
 */
export function unmount(mountpoint: string, options: UnmountOptions = {}): Promise<void> {
  return unmountWith(native(), mountpoint, options.lazy === true, !isRoot());
}

function unmountWith(
  b: NativeBinding,
  target: string,
  lazy: boolean,
  useFusermount: boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      b.unmount(target, lazy, useFusermount, (errno, message) => {
        if (errno === 0) resolve();
        else reject(new FuseError(errnoName(errno), message, errno));
      });
    } catch (e) {
      reject(fromNative(e));
    }
  });
}

/** A mounted FUSE connection. Create with {@link FuseSession.mount}, then {@link serve}. */
export class FuseSession {
  readonly mountpoint: string;
  /** How it was mounted (and so how it unmounts). */
  readonly method: "mount" | "fusermount";
  /** Resolves exactly once, when the kernel ends the connection (unmount, abort). */
  readonly ended: Promise<SessionEnd>;

  private readonly binding: NativeBinding;
  private readonly handle: NativeHandle;
  private dispatcher: Dispatcher | undefined;
  private resolveEnd: (e: SessionEnd) => void = () => {};
  private endInfo: SessionEnd | undefined;
  private closed = false;
  private log: (line: string) => void = (line) => console.warn(`native-fuse: ${line}`);
  private readonly notifyWaiters = new Map<number, (errno: number) => void>();
  private nextNotifyId = 1;

  private constructor(
    binding: NativeBinding,
    handle: NativeHandle,
    mountpoint: string,
    method: "mount" | "fusermount",
  ) {
    this.binding = binding;
    this.handle = handle;
    this.mountpoint = mountpoint;
    this.method = method;
    this.ended = new Promise((resolve) => {
      this.resolveEnd = resolve;
    });
  }

  /**
   * Mounts a new FUSE connection. Throws FuseError with the errno name as
   * code when it cannot (ENOENT: no mountpoint or no /dev/fuse; EPERM /
   * EACCES: not allowed; EBUSY), or ERR_FUSE_ARGUMENT for bad options.
   * Never blocks on the filesystem: nothing is served until {@link serve}.
   */
  static mount(options: MountOptions): FuseSession {
    const plan = planMount(options, isRoot());
    const b = native();
    let handle: NativeHandle;
    try {
      handle =
        plan.method === "mount"
          ? b.mountKernel(
              options.mountpoint,
              plan.source,
              plan.fstype,
              plan.readOnly,
              plan.kernelOptions,
              plan.mountFlags,
            )
          : b.mountFusermount(options.mountpoint, plan.fusermountOptions);
    } catch (e) {
      throw fromNative(e);
    }
    return new FuseSession(b, handle, options.mountpoint, plan.method);
  }

  /**
   * Starts serving `handlers` (reader threads + dispatch on this thread).
   * Throws FuseError(ERR_FUSE_STATE) when already serving or closed.
   */
  serve(handlers: FuseHandlers, options: ServeOptions = {}): void {
    if (this.closed) throw new FuseError("ERR_FUSE_STATE", "session is closed");
    if (this.dispatcher !== undefined)
      throw new FuseError("ERR_FUSE_STATE", "session already serving");
    if (options.log !== undefined) this.log = options.log;
    const maxWrite = options.maxWrite ?? 1 << 20;
    const dispatcherOptions: DispatcherOptions = {
      log: this.log,
      maxWrite,
      init: options.init ?? {},
    };
    if (options.onInit !== undefined) dispatcherOptions.onInit = options.onInit;
    const dispatcher = new Dispatcher(
      handlers,
      (channel, unique, errno, data) => {
        const e = this.binding.reply(this.handle, channel, unique, errno, data);
        // ENOENT: the kernel stopped waiting (interrupted); ENODEV: connection gone.
        if (e !== 0 && !QUIET_REPLY_ERRORS.has(e))
          this.log(`reply to ${unique} failed: ${errnoName(e)}`);
      },
      dispatcherOptions,
    );
    try {
      this.binding.start(
        this.handle,
        options.threads ?? 2,
        maxWrite,
        (kind, a, b) => this.onEvent(kind, a, b),
        options.dispatch === "inline",
        options.spinMicros ?? 0,
        options.transientWrites ?? false,
      );
    } catch (e) {
      throw fromNative(e);
    }
    this.dispatcher = dispatcher;
  }

  private onEvent(kind: number, a: number, b: Buffer | string | number): void {
    try {
      switch (kind) {
        case NativeEvent.REQUEST:
          this.dispatcher?.handle(a, b as Buffer);
          return;
        case NativeEvent.NOTIFY_DONE: {
          const w = this.notifyWaiters.get(a);
          this.notifyWaiters.delete(a);
          w?.(b as number);
          return;
        }
        case NativeEvent.LOG:
          this.log(String(b));
          return;
        case NativeEvent.END:
          this.finish({ errno: a, message: String(b) });
          return;
      }
    } catch (e) {
      // Nothing may escape into the native callback (it would be an uncaught exception).
      this.log(`event ${kind} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }

  private finish(end: SessionEnd): void {
    if (this.endInfo !== undefined) return;
    this.endInfo = end;
    for (const w of this.notifyWaiters.values()) w(ENODEV);
    this.notifyWaiters.clear();
    // Joins the (finished) threads and closes the descriptors.
    this.binding.close(this.handle);
    this.closed = true;
    this.resolveEnd(end);
  }

  /** "mounted" (not serving yet), "serving", "ended" or "closed". */
  get status(): "mounted" | "serving" | "ended" | "closed" {
    if (this.endInfo !== undefined) return "ended";
    if (this.closed) return "closed";
    return this.dispatcher === undefined ? "mounted" : "serving";
  }

  /** What INIT negotiated, once the kernel has sent it. */
  get negotiated(): Negotiated | undefined {
    return this.dispatcher?.init;
  }

  /**
   * Unmounts this session's mount (see {@link unmount}); the session then
   * ends ({@link ended}). Rejects with FuseError (code = errno name).
   */
  unmount(options: UnmountOptions = {}): Promise<void> {
    return unmountWith(
      this.binding,
      this.mountpoint,
      options.lazy === true,
      this.method === "fusermount",
    );
  }

  private notify(send: (id: number) => boolean): Promise<number> {
    if (this.endInfo !== undefined || this.closed || this.dispatcher === undefined) {
      return Promise.resolve(ENODEV);
    }
    const id = this.nextNotifyId++;
    return new Promise((resolve) => {
      this.notifyWaiters.set(id, resolve);
      let queued = false;
      try {
        queued = send(id);
      } finally {
        if (!queued) {
          this.notifyWaiters.delete(id);
          resolve(ENODEV);
        }
      }
    });
  }

  /**
   * Tells the kernel to drop cached data of `nodeid` in `[offset,
   * offset+length)` (length 0: to the end; offset −1: attributes only).
   * Resolves with 0 or an errno (ENOENT: not cached — nothing to do). Sent
   * from a native thread, so it is safe to call while handling a request.
   * Throws FuseError(ERR_FUSE_ARGUMENT) for a bad node id.
   */
  notifyInvalInode(nodeid: number, offset = 0, length = 0): Promise<number> {
    checkId(nodeid, "nodeid");
    return this.notify((id) =>
      this.binding.notifyInvalInode(this.handle, id, nodeid, offset, length),
    );
  }

  /**
   * Tells the kernel to drop the dentry `name` in `parent` (with
   * `expireOnly`, only to expire it). Resolves with 0 or an errno.
   * Throws FuseError(ERR_FUSE_ARGUMENT) for a bad node id or name.
   */
  notifyInvalEntry(
    parent: number,
    name: string | Uint8Array,
    options: { expireOnly?: boolean } = {},
  ): Promise<number> {
    checkId(parent, "parent");
    const bytes = toBytes(name);
    const flags = options.expireOnly === true ? FUSE_EXPIRE_ONLY : 0;
    return this.notify((id) =>
      this.binding.notifyInvalEntry(this.handle, id, parent, bytes, flags),
    );
  }

  /**
   * Tells the kernel `name` in `parent` (node `child`) was deleted.
   * Resolves with 0 or an errno. Throws FuseError(ERR_FUSE_ARGUMENT) for bad arguments.
   */
  notifyDelete(parent: number, child: number, name: string | Uint8Array): Promise<number> {
    checkId(parent, "parent");
    checkId(child, "child");
    const bytes = toBytes(name);
    return this.notify((id) => this.binding.notifyDelete(this.handle, id, parent, child, bytes));
  }

  /**
   * Sets the device (block device or image file descriptor, owned by the
   * caller; the session keeps its own dup) that mapped ranges refer to. An
   * O_DIRECT descriptor needs device offsets aligned to `align` (default
   * 4096). Drops all cached mappings. Throws FuseError (EBADF, ...).
   */
  setDevice(fd: number, options: { align?: number } = {}): void {
    this.call(() => this.binding.setDevice(this.handle, fd, options.align ?? 0));
  }

  /** Removes the device and every cached mapping: all READ/WRITE go to JS. */
  clearDevice(): void {
    this.call(() => this.binding.setDevice(this.handle, -1, 0));
  }

  /**
   * Declares `nodeid`'s size and caches `ranges` (replacing whatever was
   * cached under each). READs inside cached ranges are then served natively;
   * with `fastWrite`, so are WRITEs that only overwrite written ranges below
   * `size`, and with `recordWrites` too the time of the last one is kept for
   * {@link takeNativeWrite}. Waits for native I/O in flight on the node
   * first. Throws FuseError(ERR_FUSE_ARGUMENT) for non-integer or negative
   * values.
   */
  upsertMapping(
    nodeid: number,
    size: number,
    ranges: readonly MappedRange[],
    options: { fastWrite?: boolean; recordWrites?: boolean } = {},
  ): void {
    checkId(nodeid, "nodeid");
    checkId(size, "size");
    const packed = new Float64Array(ranges.length * 4);
    ranges.forEach((r, i) => {
      checkId(r.offset, "range offset");
      checkId(r.length, "range length");
      packed[i * 4] = r.offset;
      packed[i * 4 + 1] = r.length;
      packed[i * 4 + 2] = KIND[r.kind];
      if (r.kind === "written") {
        checkId(r.deviceOffset, "device offset");
        packed[i * 4 + 3] = r.deviceOffset;
      }
    });
    const flags =
      (options.fastWrite === true ? NODE_FAST_WRITE : 0) |
      (options.recordWrites === true ? NODE_RECORD_WRITES : 0);
    this.call(() => this.binding.mapUpsert(this.handle, nodeid, size, flags, packed));
  }

  /**
   * Forgets `nodeid`'s cached ranges in `range` (or the whole node and its
   * size), then waits until no native I/O on the node is in flight: after
   * it returns, every READ/WRITE of that range reaches JS. Call it before
   * changing the node's block map.
   */
  invalidateMapping(nodeid: number, range?: { offset: number; length: number }): void {
    checkId(nodeid, "nodeid");
    if (range !== undefined) {
      checkId(range.offset, "offset");
      checkId(range.length, "length");
    }
    this.call(() =>
      this.binding.mapInvalidate(
        this.handle,
        nodeid,
        range?.offset ?? 0,
        range === undefined ? -1 : range.length,
      ),
    );
  }

  /**
   * When native overwrites last changed `nodeid`'s data, as microseconds
   * since the epoch, or 0 when none did since the previous call (which this
   * one clears); recorded only for nodes upserted with `recordWrites`. A
   * native overwrite changes no metadata: without the kernel's writeback
   * cache (which then owns mtime) the filesystem stamps mtime and ctime from
   * this before it reports the node's attributes. The time survives
   * invalidation of the node until taken.
   */
  takeNativeWrite(nodeid: number): number {
    checkId(nodeid, "nodeid");
    return this.call(() => this.binding.mapTakeWritten(this.handle, nodeid));
  }

  /**
   * Vouches that `nodeid` has no `security.capability` extended attribute
   * (`absent` true), or withdraws that (false; do it before the attribute
   * may appear). While vouched, the kernel's GETXATTR probe for it — sent
   * before the first write to a file and at chown, to drop file
   * capabilities — is answered ENODATA natively, one round trip into JS
   * less for each.
   */
  setCapabilityAbsent(nodeid: number, absent: boolean): void {
    checkId(nodeid, "nodeid");
    this.call(() => this.binding.setCapabilityAbsent(this.handle, nodeid, absent));
  }

  /** The node's cached mapping, or undefined when nothing is cached. */
  mapping(nodeid: number): NodeMapping | undefined {
    checkId(nodeid, "nodeid");
    const d = this.call(() => this.binding.mapDump(this.handle, nodeid));
    if (d === undefined) return undefined;
    const f = new Float64Array(d.extents.buffer, d.extents.byteOffset, d.extents.byteLength / 8);
    const ranges: MappedRange[] = [];
    for (let i = 0; i + 3 < f.length; i += 4) {
      const offset = f[i] ?? 0;
      const length = f[i + 1] ?? 0;
      const kind = f[i + 2];
      if (kind === KIND.written)
        ranges.push({ offset, length, kind: "written", deviceOffset: f[i + 3] ?? 0 });
      else ranges.push({ offset, length, kind: kind === KIND.unwritten ? "unwritten" : "hole" });
    }
    return { size: d.size, fastWrite: (d.flags & NODE_FAST_WRITE) !== 0, ranges };
  }

  /** Counters: fast-path reads/writes and bytes, forwarded requests, errors. */
  stats(): SessionStats {
    return this.call(() => this.binding.stats(this.handle));
  }

  /** Let the process exit while mounted (the mount then dies with it). */
  unref(): void {
    this.binding.setRef(this.handle, false);
  }

  /** Keep the process alive while the session serves (the default). */
  ref(): void {
    this.binding.setRef(this.handle, true);
  }

  /**
   * Releases the session. Before {@link serve}: closes the connection (the
   * mount stays, failing with ENOTCONN, until unmounted). After the end: a
   * no-op. While serving: throws FuseError(ERR_FUSE_STATE) — unmount first.
   */
  close(): void {
    if (this.closed) return;
    const done = this.call(() => this.binding.close(this.handle));
    if (!done) throw new FuseError("ERR_FUSE_STATE", "session still serving: unmount it first");
    this.closed = true;
  }

  private call<T>(f: () => T): T {
    try {
      return f();
    } catch (e) {
      throw fromNative(e);
    }
  }
}
