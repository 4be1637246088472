/**
 * crc32c for the checker's hottest loop: the checksum of every inode in
 * pass 1, computed straight out of the inode table chunk. The core's
 * crc32cRaw wraps each call in a Buffer and crosses into native code; for
 * half a million 256-byte records that per-call cost is as large as the
 * work itself, so this slice-by-8 table version runs in place instead, on
 * any range of any array, allocating nothing. The checksum fields inside
 * the record are not zeroed in a copy: crc is linear, so their share is
 * taken back out with small precomputed tables (see {@link InodeCsum}).
 */
import { CRC32C_TABLES, crc32cRange } from "@ext4/core";

/** The core's slicing-by-8 tables: T[0..255] is the byte table. */
const T = CRC32C_TABLES;

/**
 * The kernel's raw `crc32c_le(seed, bytes[start, end))` (no pre- or
 * post-inversion), in JS on any range of any array, allocating nothing:
 * the core's crc32cRange. Throws RangeError when the range is not inside
 * `bytes`.
 */
export const crc32cSpan = crc32cRange;

/** One crc32c step over a zero byte (the state advanced by 8 bits of message). */
function zeroStep(c: number): number {
  // OK to assert: the index is masked to 0..255.
  return (c >>> 8) ^ T[c & 0xff]!;
}

/**
 * The linear map "advance the crc state over `n` zero bytes" (crc32c_le(s,
 * n zeros) as a function of s), as four byte-indexed tables: the image of a
 * state x is ZT[x & 0xff] ^ ZT[256 + (x >>> 8 & 0xff)] ^ ... Built from the
 * images of the 32 basis bits, O(32 n).
 */
function advanceTables(n: number): Int32Array {
  const basis = new Int32Array(32);
  for (let j = 0; j < 32; j++) {
    let c = 1 << j;
    for (let k = 0; k < n; k++) c = zeroStep(c);
    basis[j] = c;
  }
  const out = new Int32Array(1024);
  for (let byte = 0; byte < 4; byte++) {
    for (let b = 0; b < 256; b++) {
      let c = 0;
      // OK to assert: j < 32.
      for (let j = 0; j < 8; j++) if ((b >>> j) & 1) c ^= basis[8 * byte + j]!;
      out[256 * byte + b] = c;
    }
  }
  return out;
}

/** Whether `bytes[at, at + n)` are all zero (the caller checks the range). */
function zero(bytes: Uint8Array, at: number, n: number): boolean {
  // OK to assert: the range lies inside `bytes`.
  for (let k = at; k < at + n; k++) if (bytes[k]! !== 0) return false;
  return true;
}

/** Applies {@link advanceTables} to the state `x`. */
function advance(z: Int32Array, x: number): number {
  // OK to assert: every index is a byte plus a table base below 1024.
  return (
    z[x & 0xff]! ^
    z[256 + ((x >>> 8) & 0xff)]! ^
    z[512 + ((x >>> 16) & 0xff)]! ^
    z[768 + (x >>> 24)]!
  );
}

/**
 * The share of one byte at `position` of a `length`-byte message in its
 * crc, for each byte value: crc32c_le(0, [b, then length-1-position zeros]).
 */
function positionTable(length: number, position: number): Int32Array {
  const z = advanceTables(length - 1 - position);
  const out = new Int32Array(256);
  // OK to assert: b < 256.
  for (let b = 0; b < 256; b++) out[b] = advance(z, T[b]!);
  return out;
}

/** crc32c_le(csumSeed, le32 ino ++ le32 generation): the per-inode seed of inode and extent checksums. */
export function inodeSeed(csumSeed: number, ino: number, generation: number): number {
  return seed32(csumSeed, ino, generation) >>> 0;
}

/**
 * {@link inodeSeed} as a signed 32-bit value: hot loops stay in int32
 * arithmetic (an unsigned result above 2^31 is a double in JS, and mixing
 * the two makes the engine throw its optimised code away).
 */
function seed32(csumSeed: number, ino: number, generation: number): number {
  let c = csumSeed | 0;
  // OK to assert: the table index is masked to 0..255.
  for (let k = 0; k < 32; k += 8) c = (c >>> 8) ^ T[(c ^ (ino >>> k)) & 0xff]!;
  for (let k = 0; k < 32; k += 8) c = (c >>> 8) ^ T[(c ^ (generation >>> k)) & 0xff]!;
  return c | 0;
}

/**
 * The inode checksum (ext4_inode_csum, metadata_csum) for records of one
 * size: crc32c over le32 i_ino, le32 i_generation and the record with
 * l_i_checksum_lo (and i_checksum_hi when the extra area holds it) taken as
 * zero, seeded with the filesystem's checksum seed.
 */
export class InodeCsum {
  /** Bytes per record (the inode size). */
  readonly recordSize: number;
  private readonly loAt: number;
  private readonly hiAt: number;
  private readonly generationAt: number;
  private readonly extraAt: number;
  private readonly lo0: Int32Array;
  private readonly lo1: Int32Array;
  private readonly hi0: Int32Array;
  private readonly hi1: Int32Array;
  /** The state advanced over one whole record. */
  private readonly zRecord: Int32Array;

  /**
   * `recordSize` is the inode size, `loAt` and `hiAt` the offsets of
   * l_i_checksum_lo and i_checksum_hi, `generationAt` and `extraAt` those of
   * i_generation and i_extra_isize. Throws RangeError when the checksum
   * fields do not fit in the record.
   */
  constructor(
    recordSize: number,
    loAt: number,
    hiAt: number,
    generationAt: number,
    extraAt: number,
  ) {
    // (No parameter properties: the reader thread runs this file with Node's
    // type stripping when the sources run directly, and that strips only
    // erasable syntax.)
    if (loAt + 2 > recordSize || generationAt + 4 > recordSize) {
      throw new RangeError(`inode size ${recordSize} too small`);
    }
    this.recordSize = recordSize;
    this.loAt = loAt;
    this.hiAt = hiAt;
    this.generationAt = generationAt;
    this.extraAt = extraAt;
    this.lo0 = positionTable(recordSize, loAt);
    this.lo1 = positionTable(recordSize, loAt + 1);
    // Records too short to hold i_checksum_hi never use these.
    const hi = hiAt + 2 <= recordSize && extraAt + 2 <= recordSize;
    this.hi0 = hi ? positionTable(recordSize, hiAt) : this.lo0;
    this.hi1 = hi ? positionTable(recordSize, hiAt + 1) : this.lo1;
    this.zRecord = advanceTables(recordSize);
  }

  /**
   * The computed checksum of the record at `bytes[at, at + recordSize)`
   * (caller checks the range), with i_checksum_hi zeroed when `withHi`.
   * Never throws.
   */
  compute(
    csumSeed: number,
    ino: number,
    generation: number,
    bytes: Uint8Array,
    at: number,
    withHi: boolean,
  ): number {
    let c = crc32cSpan(seed32(csumSeed, ino, generation), bytes, at, at + this.recordSize);
    // crc is linear: zeroing a byte is XORing out its share at its position.
    // OK to assert: the fields lie inside the record (constructor) and the
    // record inside `bytes` (caller); table indices are bytes.
    c ^= this.lo0[bytes[at + this.loAt]!]! ^ this.lo1[bytes[at + this.loAt + 1]!]!;
    if (withHi) c ^= this.hi0[bytes[at + this.hiAt]!]! ^ this.hi1[bytes[at + this.hiAt + 1]!]!;
    return c >>> 0;
  }

  /**
   * Whether every one of `count` consecutive records at `bytes[at...]`
   * (inodes `firstIno`, `firstIno + 1`, ...) carries a valid 32-bit
   * checksum, with a single crc pass over the whole range (`crcRange`, the
   * native crc32c_le) instead of one per record. By linearity, the crc of
   * the concatenated records is a known combination of each record's
   * expected crc (its stored checksum, its seed and its checksum bytes), so
   * the two agree when every record is valid. One invalid record always
   * shows (advancing the state is invertible); several could in principle
   * cancel out, with odds of 2^-32 for damage that is not built to. A record
   * that is all zero counts as valid (as in libext2fs). False answers "not
   * sure": records whose i_extra_isize leaves no room for i_checksum_hi
   * (16-bit checksums), any failure; the caller then checks record by
   * record. Never throws for a range inside
   * `bytes` (caller checks it).
   */
  verifyRun(
    csumSeed: number,
    firstIno: number,
    bytes: Uint8Array,
    at: number,
    count: number,
    crcRange: (seed: number, data: Uint8Array) => number,
  ): boolean {
    const size = this.recordSize;
    if (size <= 128 || this.hi0 === this.lo0 || count <= 0) return false;
    // The native pass first: code after a long loop that has not run yet
    // would make the engine drop this function's optimised code every call.
    const native = crcRange(0, bytes.subarray(at, at + count * size)) | 0;
    const acc = this.expected(csumSeed | 0, firstIno, bytes, at, count);
    return acc !== null && native === acc;
  }

  /**
   * The crc the run of {@link verifyRun} has when every record is valid
   * (all-zero records included), or null when a record has only a 16-bit
   * checksum. The loop alone in a method: the engine compiles it once.
   */
  private expected(
    seed: number,
    firstIno: number,
    bytes: Uint8Array,
    at: number,
    count: number,
  ): number | null {
    const size = this.recordSize;
    const { loAt, hiAt, generationAt, extraAt, zRecord } = this;
    let acc = 0;
    for (let i = 0; i < count; i++) {
      const r = at + i * size;
      // OK to assert: every offset is inside record i, inside `bytes`.
      const extra = bytes[r + extraAt]! | (bytes[r + extraAt + 1]! << 8);
      if (extra < 4) {
        // A record never written (all zero, as mke2fs leaves free inodes)
        // passes in libext2fs and adds nothing to the crc of the run.
        if (!zero(bytes, r, size)) return null;
        acc = advance(zRecord, acc);
        continue;
      }
      const gen =
        bytes[r + generationAt]! |
        (bytes[r + generationAt + 1]! << 8) |
        (bytes[r + generationAt + 2]! << 16) |
        (bytes[r + generationAt + 3]! << 24);
      const lo0 = bytes[r + loAt]!;
      const lo1 = bytes[r + loAt + 1]!;
      const hi0 = bytes[r + hiAt]!;
      const hi1 = bytes[r + hiAt + 1]!;
      const want = lo0 | (lo1 << 8) | (hi0 << 16) | (hi1 << 24);
      const share = this.lo0[lo0]! ^ this.lo1[lo1]! ^ this.hi0[hi0]! ^ this.hi1[hi1]!;
      acc = advance(zRecord, acc ^ seed32(seed, firstIno + i, gen)) ^ want ^ share;
    }
    return acc;
  }
}
