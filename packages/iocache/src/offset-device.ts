/** A window of another {@link BlockDevice}: a filesystem inside a larger (partitioned) image. */
import { type BlockDevice, checkTransfer, closedError, readOnlyError } from "./device.js";

/** Options for {@link OffsetDevice}. */
export interface OffsetDeviceOptions {
  /** Whether close() also closes the inner device (default true: the window owns it). */
  closeInner?: boolean;
}

/**
 * The bytes `[offset, offset+length)` of `inner`, addressed from 0. Transfers
 * are bounds-checked against the window before they reach `inner`, so a
 * filesystem in one partition can never read or write its neighbours.
 */
export class OffsetDevice implements BlockDevice {
  readonly size: number;
  readonly name: string;
  private readonly closeInner: boolean;
  private closed = false;

  /**
   * @param inner the whole device
   * @param offset byte offset of the window in `inner`
   * @param length window size in bytes; defaults to the rest of `inner`
   * Throws RangeError when the window is not inside `inner`.
   */
  constructor(
    readonly inner: BlockDevice,
    readonly offset: number,
    length?: number,
    options: OffsetDeviceOptions = {},
  ) {
    const size = length ?? inner.size - offset;
    if (
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(size) ||
      offset < 0 ||
      size < 0 ||
      offset + size > inner.size
    ) {
      throw new RangeError(
        `window [${offset}, +${size}) is not inside ${inner.name} of ${inner.size} bytes`,
      );
    }
    this.size = size;
    this.name = `${inner.name}@${offset}`;
    this.closeInner = options.closeInner ?? true;
  }

  /** Whether writes are refused: the inner device's answer. */
  get readOnly(): boolean {
    return this.inner.readOnly;
  }

  /** Reads from the window. Throws IoError (EIO past the window's end, or whatever `inner` throws). */
  read(offset: number, dest: Uint8Array): void {
    if (this.closed) throw closedError(this.name, "read");
    checkTransfer(this.name, this.size, "read", offset, dest.length);
    this.inner.read(this.offset + offset, dest);
  }

  /** Writes into the window. Throws IoError (EROFS, ENOSPC past the window's end, or from `inner`). */
  write(offset: number, src: Uint8Array): void {
    if (this.closed) throw closedError(this.name, "write");
    if (this.readOnly) throw readOnlyError(this.name, offset);
    checkTransfer(this.name, this.size, "write", offset, src.length);
    this.inner.write(this.offset + offset, src);
  }

  /** Flushes the inner device. Throws IoError. */
  flush(): void {
    if (this.closed) throw closedError(this.name, "flush");
    this.inner.flush();
  }

  /** Closes the window, and the inner device unless `closeInner: false`. Idempotent. Throws IoError from `inner`. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.closeInner) this.inner.close();
  }
}
