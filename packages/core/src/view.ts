/**
 * Bounded views over bytes. Every read of on-disk data in the core goes
 * through a {@link ByteView}: offsets are relative to the view, a read past its
 * end throws a precise `Corrupt` error, and a child view can never see past its
 * parent. Writes go through the same view, so encoders share the bounds.
 */
import { corrupt, type Ext4ErrorContext } from "./errors.js";

/**
 * A window `[start, start+length)` of a byte array with little-endian accessors.
 *
 * Views are made by the million (one per inode, entry header, descriptor,
 * extent node), so constructing one allocates nothing but the view itself:
 * values are assembled from the bytes rather than read through a DataView,
 * which would be a second allocation per view, and a child view shares its
 * parent's context object unless it adds to it.
 */
export class ByteView {
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
    if (!(start >= 0 && length >= 0 && start + length <= bytes.length)) {
      throw new RangeError(`view [${start}, +${length}) outside array of ${bytes.length}`);
    }
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
    // OK to assert: check() proved the byte is inside the window, and the window inside `bytes`.
    return this.bytes[this.start + offset]!;
  }
  /** Little-endian u16 at `offset`. Throws Corrupt past the end. */
  u16(offset: number): number {
    this.check(offset, 2);
    return le16(this.bytes, this.start + offset);
  }
  /** Little-endian u32 at `offset`. Throws Corrupt past the end. */
  u32(offset: number): number {
    this.check(offset, 4);
    return le32(this.bytes, this.start + offset);
  }
  /** Little-endian s32 at `offset` (signed timestamps). Throws Corrupt past the end. */
  i32(offset: number): number {
    this.check(offset, 4);
    return le32(this.bytes, this.start + offset) | 0;
  }
  /** Big-endian u32 at `offset` (jbd2 is big-endian). Throws Corrupt past the end. */
  u32be(offset: number): number {
    this.check(offset, 4);
    const b = this.bytes;
    const p = this.start + offset;
    // OK to assert: check() proved the four bytes are inside the window.
    return ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
  }
  /** Big-endian u16 at `offset`. Throws Corrupt past the end. */
  u16be(offset: number): number {
    this.check(offset, 2);
    const b = this.bytes;
    const p = this.start + offset;
    // OK to assert: check() proved the two bytes are inside the window.
    return (b[p]! << 8) | b[p + 1]!;
  }

  /** Writes a byte. Throws Corrupt past the end. */
  setU8(offset: number, v: number): void {
    this.check(offset, 1);
    this.bytes[this.start + offset] = v;
  }
  /** Writes a little-endian u16. Throws Corrupt past the end. */
  setU16(offset: number, v: number): void {
    this.check(offset, 2);
    const b = this.bytes;
    const p = this.start + offset;
    b[p] = v;
    b[p + 1] = v >>> 8;
  }
  /** Writes a little-endian u32. Throws Corrupt past the end. */
  setU32(offset: number, v: number): void {
    this.check(offset, 4);
    setLe32(this.bytes, this.start + offset, v);
  }
  /** Writes a little-endian s32. Throws Corrupt past the end. */
  setI32(offset: number, v: number): void {
    this.check(offset, 4);
    setLe32(this.bytes, this.start + offset, v);
  }
  /** Writes a big-endian u32. Throws Corrupt past the end. */
  setU32be(offset: number, v: number): void {
    this.check(offset, 4);
    const b = this.bytes;
    const p = this.start + offset;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
  }
  /** Writes a big-endian u16. Throws Corrupt past the end. */
  setU16be(offset: number, v: number): void {
    this.check(offset, 2);
    const b = this.bytes;
    const p = this.start + offset;
    b[p] = v >>> 8;
    b[p + 1] = v;
  }

  /**
   * A child view of `length` bytes at `offset`; it cannot see past this view.
   * `context` extends this view's context (e.g. adds the entry's offset).
   */
  sub(offset: number, length: number, context?: Ext4ErrorContext): ByteView {
    this.check(offset, length);
    // Contexts are never changed after construction, so a child without its own shares ours.
    const ctx = context === undefined ? this.context : { ...this.context, ...context };
    return new ByteView(this.bytes, ctx, this.start + offset, length);
  }

  /** The bytes `[offset, offset+length)` as a subarray (no copy). Throws Corrupt past the end. */
  slice(offset = 0, length = this.length - offset): Uint8Array {
    this.check(offset, length);
    return this.bytes.subarray(this.start + offset, this.start + offset + length);
  }
}

/**
 * Little-endian u16 at byte `at` of `bytes`, unchecked: only for decoders
 * that checked the whole structure against the array once, up front, with
 * offsets precomputed from its field table (a per-field {@link ByteView}
 * check would repeat that check for every field).
 */
export function le16(bytes: Uint8Array, at: number): number {
  // OK to assert: the caller checked [at, at+2) lies inside `bytes` (see above).
  return bytes[at]! | (bytes[at + 1]! << 8);
}

/** Little-endian u32 at byte `at` of `bytes`, unchecked (see {@link le16}). */
export function le32(bytes: Uint8Array, at: number): number {
  // OK to assert: the caller checked [at, at+4) lies inside `bytes` (see le16).
  return (
    (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0
  );
}

/** Writes a little-endian u32 (or s32: the low 32 bits of `v`) at byte `at`, unchecked (see {@link le16}). */
export function setLe32(bytes: Uint8Array, at: number, v: number): void {
  bytes[at] = v;
  bytes[at + 1] = v >>> 8;
  bytes[at + 2] = v >>> 16;
  bytes[at + 3] = v >>> 24;
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
