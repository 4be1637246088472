/**
 * The synchronous block-device contract every layer above is written against.
 *
 * Offsets and lengths are in bytes. Implementations read and write fully or
 * throw an {@link IoError}; a short read past the end of the device is an
 * error, never silently zero-filled.
 */
export interface BlockDevice {
  /** Size of the device in bytes, fixed when it is opened. */
  readonly size: number;
  /** True when the device was opened without write access. */
  readonly readOnly: boolean;
  /** A short human name for messages (a path, "memory", ...). */
  readonly name: string;
  /** Fills `dest` with the bytes at `offset`. Throws IoError. */
  read(offset: number, dest: Uint8Array): void;
  /**
   * Writes all of `src` at `offset`. `src` is only borrowed for the call (the
   * cache reuses its gather buffer), so a device that keeps the data copies it.
   * Throws IoError (EROFS on a read-only device).
   */
  write(offset: number, src: Uint8Array): void;
  /** Makes every completed write durable (fsync). Throws IoError. */
  flush(): void;
  /** Releases the device; further calls throw. Idempotent. */
  close(): void;
}

/**
 * What failed in a device operation; `errno` is the POSIX name (EIO, EROFS,
 * ENOSPC, ...), `offset` the byte offset of the failed transfer when known,
 * `cause` the underlying node:fs error when there is one.
 */
export class IoError extends Error {
  override readonly name = "IoError";
  constructor(
    message: string,
    readonly errno: string,
    readonly op: "open" | "read" | "write" | "flush" | "close",
    readonly offset?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Validates one device transfer before it is issued: `offset` must be a
 * non-negative safe integer and `[offset, offset+length)` must lie inside a
 * device of `size` bytes. Shared by every device so they agree on errnos:
 * EINVAL for a malformed offset, EIO for a read past the end (the kernel would
 * return a short read, which the contract forbids), ENOSPC for a write past
 * the end (what pwrite(2) past the end of a block device returns).
 * Throws IoError.
 */
export function checkTransfer(
  name: string,
  size: number,
  op: "read" | "write",
  offset: number,
  length: number,
): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new IoError(`${name}: ${op} at invalid offset ${offset}`, "EINVAL", op, offset);
  }
  if (offset + length > size) {
    throw new IoError(
      `${name}: ${op} of ${length} bytes at ${offset} past the end of the ${size}-byte device`,
      op === "read" ? "EIO" : "ENOSPC",
      op,
      offset,
    );
  }
}

/** The IoError every device throws when used after close(). */
export function closedError(name: string, op: IoError["op"]): IoError {
  return new IoError(`${name}: device is closed`, "EBADF", op);
}

/** The IoError every device throws for a write on a read-only device. */
export function readOnlyError(name: string, offset: number): IoError {
  return new IoError(`${name}: write on a read-only device`, "EROFS", "write", offset);
}
