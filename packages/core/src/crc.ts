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
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return ~crc32cStandard(buf, ~seed >>> 0) >>> 0;
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
