/** A {@link BlockDevice} held in memory: for tests, and for images built or inspected without a file. */
import { type BlockDevice, checkTransfer, closedError, readOnlyError } from "./device.js";

/** Options for {@link MemoryDevice}. */
export interface MemoryDeviceOptions {
  /** Refuse writes with EROFS, as a device opened O_RDONLY would. */
  readOnly?: boolean;
  /** Name used in error messages (default "memory"). */
  name?: string;
}

/**
 * A device whose contents are a byte array. Given a size, it starts zeroed;
 * given bytes, it uses that array itself (no copy), so a test can build an
 * image, wrap it, and inspect {@link MemoryDevice.bytes} afterwards.
 */
export class MemoryDevice implements BlockDevice {
  /** The device contents (the caller's array when one was given). */
  readonly bytes: Uint8Array;
  readonly readOnly: boolean;
  readonly name: string;
  private closed = false;

  /** Throws RangeError for a size that is not a non-negative safe integer. */
  constructor(sizeOrBytes: number | Uint8Array, options: MemoryDeviceOptions = {}) {
    if (typeof sizeOrBytes === "number") {
      if (!Number.isSafeInteger(sizeOrBytes) || sizeOrBytes < 0) {
        throw new RangeError(
          `memory device size must be a non-negative integer, got ${sizeOrBytes}`,
        );
      }
      this.bytes = new Uint8Array(sizeOrBytes);
    } else {
      this.bytes = sizeOrBytes;
    }
    this.readOnly = options.readOnly ?? false;
    this.name = options.name ?? "memory";
  }

  /** The device size in bytes. */
  get size(): number {
    return this.bytes.length;
  }

  /** Copies `dest.length` bytes at `offset` into `dest`. Throws IoError (EIO past the end, EBADF after close). */
  read(offset: number, dest: Uint8Array): void {
    if (this.closed) throw closedError(this.name, "read");
    checkTransfer(this.name, this.size, "read", offset, dest.length);
    dest.set(this.bytes.subarray(offset, offset + dest.length));
  }

  /** Copies `src` to `offset`. Throws IoError (EROFS, ENOSPC past the end, EBADF after close). */
  write(offset: number, src: Uint8Array): void {
    if (this.closed) throw closedError(this.name, "write");
    if (this.readOnly) throw readOnlyError(this.name, offset);
    checkTransfer(this.name, this.size, "write", offset, src.length);
    this.bytes.set(src, offset);
  }

  /** Nothing to make durable. Throws IoError EBADF after close. */
  flush(): void {
    if (this.closed) throw closedError(this.name, "flush");
  }

  /** Marks the device closed; {@link MemoryDevice.bytes} stays readable. Idempotent. */
  close(): void {
    this.closed = true;
  }
}
