/**
 * A fixed-size bit set over a typed array: the checker's in-memory block and
 * inode maps (one bit per block or inode, never an object per item, so the
 * memory is bounded by the filesystem's size and known up front).
 */
export class Bitmap {
  private readonly words: Uint32Array;

  /** A bitmap of `size` bits, all clear. Throws RangeError for a size that is not a safe uint. */
  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bitmap size ${size}`);
    this.words = new Uint32Array(Math.ceil(size / 32));
  }

  /** True when bit `i` is set; false outside the map. */
  test(i: number): boolean {
    if (i < 0 || i >= this.size) return false;
    // OK to assert: i < size ≤ words.length × 32.
    return ((this.words[i >>> 5]! >>> (i & 31)) & 1) === 1;
  }

  /** Sets bit `i`; returns whether it was already set. Ignores bits outside the map. */
  set(i: number): boolean {
    if (i < 0 || i >= this.size) return false;
    const w = i >>> 5;
    const m = 1 << (i & 31);
    // OK to assert: w < words.length as above.
    const old = this.words[w]!;
    this.words[w] = old | m;
    return (old & m) !== 0;
  }

  /** Clears bit `i`. */
  clear(i: number): void {
    if (i < 0 || i >= this.size) return;
    const w = i >>> 5;
    this.words[w] = this.words[w]! & ~(1 << (i & 31));
  }

  /** Sets `count` bits from `start` (clipped to the map); returns how many were already set. */
  setRange(start: number, count: number): number {
    let already = 0;
    const end = Math.min(this.size, start + count);
    for (let i = Math.max(0, start); i < end; i++) if (this.set(i)) already++;
    return already;
  }

  /**
   * The 32 bits from `i` (bit k of the result is bit i + k; bits outside
   * the map read as clear). For comparing maps a word at a time.
   */
  bits32(i: number): number {
    if (i < 0 || i >= this.size) return 0;
    const w = i >>> 5;
    const sh = i & 31;
    // Words past the end read as 0; bits past `size` are never set.
    const lo = this.words[w] ?? 0;
    if (sh === 0) return lo | 0;
    const hi = this.words[w + 1] ?? 0;
    return (lo >>> sh) | (hi << (32 - sh));
  }

  /** True when any of the `count` bits from `start` is set. */
  anyInRange(start: number, count: number): boolean {
    const end = Math.min(this.size, start + count);
    for (let i = Math.max(0, start); i < end; i++) if (this.test(i)) return true;
    return false;
  }
}

/** True when bit `i` of an on-disk bitmap block (little-endian bit order) is set. */
export function testDiskBit(bytes: Uint8Array, i: number): boolean {
  const b = bytes[i >>> 3];
  return b !== undefined && ((b >>> (i & 7)) & 1) === 1;
}

/** The 32 bits of an on-disk bitmap from bit `i` (a multiple of 8); bytes past the end read as clear. */
export function diskBits32(bytes: Uint8Array, i: number): number {
  const b = i >>> 3;
  return (
    (bytes[b] ?? 0) |
    ((bytes[b + 1] ?? 0) << 8) |
    ((bytes[b + 2] ?? 0) << 16) |
    ((bytes[b + 3] ?? 0) << 24)
  );
}

/** The number of set bits in a 32-bit word. */
export function popcount32(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555);
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}
