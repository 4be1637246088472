/**
 * The native addon, loaded once, with its exact JS-facing signatures
 * (native/lib.rs). Internal: the typed front is {@link FuseSession}.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { FuseError } from "./errors.js";

/** An opaque session handle (a Node External). */
export type NativeHandle = { readonly __nativeFuseHandle: unique symbol };

/** Event kinds delivered to the session callback. */
export const NativeEvent = { REQUEST: 0, NOTIFY_DONE: 1, LOG: 2, END: 3 } as const;

/** Counters kept by the native session. */
export interface NativeStats {
  fastReads: number;
  fastReadBytes: number;
  fastWrites: number;
  fastWriteBytes: number;
  forwarded: number;
  replies: number;
  replyErrors: number;
  malformed: number;
  fastFallbacks: number;
  notifications: number;
  notifyErrors: number;
  /**
   * Nanoseconds the JS thread spent serving forwarded requests, from the
   * call into JS to its return (decode, handler, encode and the reply's
   * writev for synchronous handlers); dispatch "inline" only, else 0.
   */
  jsNanos: number;
  /** GETXATTR probes of security.capability answered natively (see setCapabilityAbsent). */
  xattrAnswers: number;
  mappedNodes: number;
  mappedRanges: number;
  device: boolean;
}

/** The addon's functions (see native/lib.rs for each). */
export interface NativeBinding {
  mountKernel(
    target: string,
    source: string,
    fstype: string,
    readOnly: boolean,
    options: string,
    flags?: number,
  ): NativeHandle;
  mountFusermount(target: string, options: string): NativeHandle;
  start(
    h: NativeHandle,
    threads: number,
    maxWrite: number,
    onEvent: (kind: number, a: number, b: Buffer | string | number) => void,
    inline?: boolean,
    spinMicros?: number,
    transientWrites?: boolean,
  ): void;
  reply(
    h: NativeHandle,
    channel: number,
    unique: number,
    errno: number,
    data?: Uint8Array | readonly Uint8Array[],
  ): number;
  notifyInvalInode(
    h: NativeHandle,
    id: number,
    nodeid: number,
    offset: number,
    length: number,
  ): boolean;
  notifyInvalEntry(
    h: NativeHandle,
    id: number,
    parent: number,
    name: Uint8Array,
    flags: number,
  ): boolean;
  notifyDelete(
    h: NativeHandle,
    id: number,
    parent: number,
    child: number,
    name: Uint8Array,
  ): boolean;
  setDevice(h: NativeHandle, fd: number, align: number): void;
  mapUpsert(
    h: NativeHandle,
    nodeid: number,
    size: number,
    flags: number,
    extents: Float64Array,
  ): void;
  mapInvalidate(h: NativeHandle, nodeid: number, offset: number, length: number): void;
  mapTakeWritten(h: NativeHandle, nodeid: number): number;
  setCapabilityAbsent(h: NativeHandle, nodeid: number, absent: boolean): void;
  mapDump(
    h: NativeHandle,
    nodeid: number,
  ): { size: number; flags: number; extents: Buffer } | undefined;
  stats(h: NativeHandle): NativeStats;
  state(h: NativeHandle): { started: boolean; running: boolean; ended: boolean };
  setRef(h: NativeHandle, keepAlive: boolean): void;
  close(h: NativeHandle): boolean;
  flock(fd: number, exclusive: boolean, nonblock: boolean): void;
  funlock(fd: number): void;
  setNoNewPrivs(): void;
  getNoNewPrivs(): boolean;
  dropCapabilities(all: boolean): number;
  capabilities(): { effective: string; permitted: string };
  unmount(
    target: string,
    lazy: boolean,
    useFusermount: boolean,
    done: (errno: number, message: string) => void,
  ): void;
}

const BINARY = "native-fuse.linux-x64-gnu.node";

let cached: NativeBinding | undefined;

/**
 * The addon, loaded on first use from the package root (where
 * `napi build --platform` puts it). Throws FuseError(ERR_FUSE_NOT_BUILT)
 * when it has not been built, or on a platform it is not built for.
 */
export function native(): NativeBinding {
  if (cached !== undefined) return cached;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new FuseError(
      "ERR_FUSE_PLATFORM",
      `native-fuse is built for linux-x64 only, not ${process.platform}-${process.arch}`,
    );
  }
  // src/ and dist/ are both one level below the package root.
  const root = dirname(dirname(fileURLToPath(import.meta.url)));
  const file = join(root, BINARY);
  if (!existsSync(file)) {
    throw new FuseError(
      "ERR_FUSE_NOT_BUILT",
      `${file} is missing: run \`pnpm --filter @ext4/native-fuse build\``,
    );
  }
  const require = createRequire(import.meta.url);
  cached = require(file) as NativeBinding;
  return cached;
}
