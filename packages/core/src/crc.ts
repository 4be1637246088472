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
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return ~crc32cStandard(buf, ~seed >>> 0) >>> 0;
}

/** Inputs up to this size are checksummed in JS by {@link crc32cTable}. */
export const SMALL_CRC = 96;

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one table lookup per byte.
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** The raw crc32c of {@link crc32cRaw}, computed byte by byte in JS. */
export function crc32cTable(seed: number, data: Uint8Array): number {
  let crc = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    // OK to assert: i < data.length, and the index is masked to 0..255.
    crc = (crc >>> 8) ^ CRC32C_TABLE[(crc ^ data[i]!) & 0xff]!;
  }
  return crc >>> 0;
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
