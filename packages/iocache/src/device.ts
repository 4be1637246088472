/**
 * The synchronous block-device contract every layer above is written against.
 *
 * Offsets and lengths are in bytes. Implementations read and write fully or
 * throw an {@link IoError}; a short read past the end of the device is an
 * error, never silently zero-filled.
 */
export interface BlockDevice {
  /** Size of the device in bytes (for a block device, from BLKGETSIZE64). */
  readonly size: number;
  /** True when the device was opened without write access. */
  readonly readOnly: boolean;
  /** A short human name for messages (a path, "memory", ...). */
  readonly name: string;
  /** Fills `dest` with the bytes at `offset`. Throws IoError. */
  read(offset: number, dest: Uint8Array): void;
  /** Writes all of `src` at `offset`. Throws IoError (EROFS on a read-only device). */
  write(offset: number, src: Uint8Array): void;
  /** Makes every completed write durable (fsync). Throws IoError. */
  flush(): void;
  /** Releases the device; further calls throw. Idempotent. */
  close(): void;
}

/** What failed in a device operation; `errno` is the POSIX name (EIO, EROFS, ENOSPC, ...). */
export class IoError extends Error {
  override readonly name = "IoError";
  constructor(
    message: string,
    readonly errno: string,
    readonly op: "open" | "read" | "write" | "flush" | "close",
    readonly offset?: number,
  ) {
    super(message);
  }
}
