/**
 * Checksums used by ext4: crc32c (metadata_csum; hardware-accelerated through
 * @node-rs/crc32, which uses SSE4.2/PCLMUL where the CPU has them) and the
 * crc16 of old-style group descriptor checksums (uninit_bg / gdt_csum).
 */
import { crc32c as crc32cStandard } from "@node-rs/crc32";

/**
 * The kernel's raw `crc32c_le(seed, data)`: no pre- or post-inversion. ext4
 * chains it as `ext4_chksum(sbi, crc, data)`. The library computes the
 * standard (inverted) form, so seed and result are complemented around it.
 */
export function crc32cRaw(seed: number, data: Uint8Array): number {
  // Small inputs (inode numbers, entry headers, descriptors) are cheaper in
  // JS than across the native boundary; the write path makes many of them.
  if (data.length <= SMALL_CRC) return crc32cTable(seed, data);
  // The binding takes any Uint8Array (offset views included: crc.test.ts),
  // so no Buffer is made around it.
  return ~crc32cStandard(data as Buffer, ~seed >>> 0) >>> 0;
}

/**
 * Inputs up to this size are checksummed in JS by {@link crc32cTable}: a
 * call into the native library costs about as much as 128 bytes in JS
 * (measured with bench/core/inode.ts' inputs on x86-64).
 */
export const SMALL_CRC = 128;

/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) tables for
 * slicing-by-8: table k (entries k×256 to k×256+255) holds the crc of a
 * byte followed by k zero bytes, so eight input bytes cost eight lookups
 * and no dependent shifts between them. Table 0 is the byte table.
 */
export const CRC32C_TABLES: Readonly<Uint32Array> = (() => {
  const t = new Uint32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  for (let k = 1; k < 8; k++) {
    for (let i = 0; i < 256; i++) {
      // OK to assert: both indexes are below 256 × 8.
      const prev = t[(k - 1) * 256 + i]!;
      t[k * 256 + i] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/** The raw crc32c of {@link crc32cRaw}, computed in JS (no allocation, no native call). */
export function crc32cTable(seed: number, data: Uint8Array): number {
  return crc32cRange(seed, data, 0, data.length);
}

/**
 * The raw crc32c of `data[start, end)`, in JS: for checksums over parts of
 * a buffer (around a stored checksum field) without making subarrays.
 * Throws RangeError when the range is not inside `data`.
 */
export function crc32cRange(seed: number, data: Uint8Array, start: number, end: number): number {
  if (!(start >= 0 && start <= end && end <= data.length)) {
    throw new RangeError(`crc range [${start}, ${end}) outside ${data.length} bytes`);
  }
  const t = CRC32C_TABLES;
  let crc = seed >>> 0;
  let i = start;
  // OK to assert in both loops: i < end <= data.length (checked above), and
  // every table index is a byte plus a multiple of 256 below 256 × 8.
  for (; i + 8 <= end; i += 8) {
    const x = crc ^ (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24));
    crc =
      t[1792 + (x & 0xff)]! ^
      t[1536 + ((x >>> 8) & 0xff)]! ^
      t[1280 + ((x >>> 16) & 0xff)]! ^
      t[1024 + (x >>> 24)]! ^
      t[768 + data[i + 4]!]! ^
      t[512 + data[i + 5]!]! ^
      t[256 + data[i + 6]!]! ^
      t[data[i + 7]!]!;
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ t[(crc ^ data[i]!) & 0xff]!;
  return crc >>> 0;
}

/** The raw crc32c of `count` zero bytes (a checksum field counted as zero, without a zero buffer). */
export function crc32cZeros(seed: number, count: number): number {
  const t = CRC32C_TABLES;
  let crc = seed >>> 0;
  // OK to assert: the index is masked to 0..255.
  for (let i = 0; i < count; i++) crc = (crc >>> 8) ^ t[crc & 0xff]!;
  return crc >>> 0;
}

/**
 * The raw crc32c of `value` as a little-endian u32 (inode numbers and
 * generations in checksum seeds), without a 4-byte buffer.
 */
export function crc32cU32(seed: number, value: number): number {
  const t = CRC32C_TABLES;
  const x = (seed ^ value) >>> 0;
  // OK to assert: every index is a byte plus a multiple of 256 below 256 × 4.
  return (
    (t[768 + (x & 0xff)]! ^
      t[512 + ((x >>> 8) & 0xff)]! ^
      t[256 + ((x >>> 16) & 0xff)]! ^
      t[x >>> 24]!) >>>
    0
  );
}

// CRC-16/ARC (poly 0x8005 reflected = 0xA001), as lib/crc16.c in the kernel.
const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** The kernel's `crc16(crc, data)` (used by `ext4_group_desc_csum` without metadata_csum). */
export function crc16(seed: number, data: Uint8Array): number {
  let crc = seed & 0xffff;
  for (const byte of data) {
    // OK to assert: the index is masked to 0..255 and the table has 256 entries.
    crc = (crc >>> 8) ^ CRC16_TABLE[(crc ^ byte) & 0xff]!;
  }
  return crc;
}
