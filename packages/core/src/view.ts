/**
 * Bounded views over bytes. Every read of on-disk data in the core goes
 * through a {@link ByteView}: offsets are relative to the view, a read past its
 * end throws a precise `Corrupt` error, and a child view can never see past its
 * parent. Writes go through the same view, so encoders share the bounds.
 */
import { corrupt, type Ext4ErrorContext } from "./errors.js";

/** A window `[start, start+length)` of a byte array with little-endian accessors. */
export class ByteView {
  private readonly dv: DataView;

  /**
   * @param bytes the underlying array (often a cached block buffer: a view, not a copy)
   * @param context where these bytes came from, attached to every error
   * @param start offset of the window in `bytes`
   * @param length size of the window; defaults to the rest of `bytes`
   */
  constructor(
    readonly bytes: Uint8Array,
    readonly context: Ext4ErrorContext = {},
    readonly start = 0,
    readonly length = bytes.length - start,
  ) {
    if (start < 0 || length < 0 || start + length > bytes.length) {
      throw new RangeError(`view [${start}, +${length}) outside array of ${bytes.length}`);
    }
    this.dv = new DataView(bytes.buffer, bytes.byteOffset + start, length);
  }

  private check(offset: number, width: number): void {
    if (!(offset >= 0 && offset + width <= this.length)) {
      throw corrupt(
        "SHORT_STRUCTURE",
        `read of ${width} bytes at ${offset} past end of ${this.length}-byte structure`,
        { ...this.context, offset: (this.context.offset ?? 0) + offset },
      );
    }
  }

  /** Unsigned byte at `offset`. Throws Corrupt past the end. */
  u8(offset: number): number {
    this.check(offset, 1);
    return this.dv.getUint8(offset);
  }
  /** Little-endian u16 at `offset`. Throws Corrupt past the end. */
  u16(offset: number): number {
    this.check(offset, 2);
    return this.dv.getUint16(offset, true);
  }
  /** Little-endian u32 at `offset`. Throws Corrupt past the end. */
  u32(offset: number): number {
    this.check(offset, 4);
    return this.dv.getUint32(offset, true);
  }
  /** Little-endian s32 at `offset` (signed timestamps). Throws Corrupt past the end. */
  i32(offset: number): number {
    this.check(offset, 4);
    return this.dv.getInt32(offset, true);
  }
  /** Big-endian u32 at `offset` (jbd2 is big-endian). Throws Corrupt past the end. */
  u32be(offset: number): number {
    this.check(offset, 4);
    return this.dv.getUint32(offset, false);
  }
  /** Big-endian u16 at `offset`. Throws Corrupt past the end. */
  u16be(offset: number): number {
    this.check(offset, 2);
    return this.dv.getUint16(offset, false);
  }

  /** Writes a byte. Throws Corrupt past the end. */
  setU8(offset: number, v: number): void {
    this.check(offset, 1);
    this.dv.setUint8(offset, v);
  }
  /** Writes a little-endian u16. Throws Corrupt past the end. */
  setU16(offset: number, v: number): void {
    this.check(offset, 2);
    this.dv.setUint16(offset, v, true);
  }
  /** Writes a little-endian u32. Throws Corrupt past the end. */
  setU32(offset: number, v: number): void {
    this.check(offset, 4);
    this.dv.setUint32(offset, v >>> 0, true);
  }
  /** Writes a little-endian s32. Throws Corrupt past the end. */
  setI32(offset: number, v: number): void {
    this.check(offset, 4);
    this.dv.setInt32(offset, v, true);
  }
  /** Writes a big-endian u32. Throws Corrupt past the end. */
  setU32be(offset: number, v: number): void {
    this.check(offset, 4);
    this.dv.setUint32(offset, v >>> 0, false);
  }
  /** Writes a big-endian u16. Throws Corrupt past the end. */
  setU16be(offset: number, v: number): void {
    this.check(offset, 2);
    this.dv.setUint16(offset, v, false);
  }

  /**
   * A child view of `length` bytes at `offset`; it cannot see past this view.
   * `context` extends this view's context (e.g. adds the entry's offset).
   */
  sub(offset: number, length: number, context?: Ext4ErrorContext): ByteView {
    this.check(offset, length);
    return new ByteView(this.bytes, { ...this.context, ...context }, this.start + offset, length);
  }

  /** The bytes `[offset, offset+length)` as a subarray (no copy). Throws Corrupt past the end. */
  slice(offset = 0, length = this.length - offset): Uint8Array {
    this.check(offset, length);
    return this.bytes.subarray(this.start + offset, this.start + offset + length);
  }
}

/** Wraps a whole array in a view. */
export function viewOf(bytes: Uint8Array, context: Ext4ErrorContext = {}): ByteView {
  return new ByteView(bytes, context);
}

/**
 * Checks `count × size ≤ available` before anything is allocated or looped
 * over (Go's saferio). Throws Corrupt with `code`.
 */
export function checkCount(
  count: number,
  size: number,
  available: number,
  code: string,
  context: Ext4ErrorContext = {},
): void {
  if (!Number.isSafeInteger(count) || count < 0 || count * size > available) {
    throw corrupt(
      code,
      `count ${count} × ${size} bytes exceeds the ${available} available`,
      context,
    );
  }
}
