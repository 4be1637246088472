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
