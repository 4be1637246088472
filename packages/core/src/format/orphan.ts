/**
 * The orphan file (orphan_file feature, s_orphan_file_inum): each block
 * holds little-endian inode numbers (0 = free slot) followed by a tail with
 * a magic and a crc32c checksum (fs/ext4/orphan.c).
 */
import { crc32cRaw } from "../crc.js";
import { badChecksum, corrupt, type Ext4ErrorContext } from "../errors.js";
import { defineStruct, u32 } from "../struct.js";
import { ByteView } from "../view.js";

/** struct ext4_orphan_block_tail: the last 8 bytes of an orphan file block. */
export const ORPHAN_BLOCK_TAIL = defineStruct("ext4_orphan_block_tail", [
  u32("ob_magic", "EXT4_ORPHAN_BLOCK_MAGIC 0x0b10ca04"),
  u32("ob_checksum", "crc32c(orphan inode seed, le64 block, entries)"),
]);

/** ob_magic. */
export const EXT4_ORPHAN_BLOCK_MAGIC = 0x0b10ca04;

/** Inode slots per orphan block: (blockSize - tail) / 4. */
export function inodesPerOrphanBlock(blockSize: number): number {
  return (blockSize - ORPHAN_BLOCK_TAIL.size) / 4;
}

/** The orphan block checksum (ext4_orphan_file_block_csum_verify). */
export function orphanBlockChecksum(
  inodeSeed: number,
  physBlock: number,
  block: Uint8Array,
): number {
  const le = new Uint8Array(8);
  const v = new ByteView(le);
  v.setU32(0, physBlock % 2 ** 32);
  v.setU32(4, Math.floor(physBlock / 2 ** 32));
  return crc32cRaw(
    crc32cRaw(inodeSeed, le),
    block.subarray(0, inodesPerOrphanBlock(block.length) * 4),
  );
}

/** One parsed orphan file block. */
export interface OrphanBlock {
  /** Non-zero slots: the orphan inode numbers. */
  readonly inodes: readonly number[];
  readonly checksumValid: boolean;
}

/**
 * Parses an orphan file block: magic, then (with metadata_csum, when
 * `inodeSeed` is given) the checksum. Throws Corrupt (ORPHAN_BAD_MAGIC) or
 * BadChecksum (ORPHAN_BAD_CHECKSUM) unless `verifyChecksum` is false.
 */
export function parseOrphanBlock(
  block: Uint8Array,
  physBlock: number,
  inodeSeed: number | null,
  verifyChecksum: boolean,
  ctx: Ext4ErrorContext,
): OrphanBlock {
  const v = new ByteView(block, ctx);
  const tail = v.sub(block.length - ORPHAN_BLOCK_TAIL.size, ORPHAN_BLOCK_TAIL.size);
  const magic = ORPHAN_BLOCK_TAIL.get(tail, "ob_magic");
  if (magic !== EXT4_ORPHAN_BLOCK_MAGIC) {
    throw corrupt("ORPHAN_BAD_MAGIC", `orphan block magic 0x${magic.toString(16)}`, ctx);
  }
  let checksumValid = true;
  if (inodeSeed !== null) {
    const stored = ORPHAN_BLOCK_TAIL.get(tail, "ob_checksum");
    const want = orphanBlockChecksum(inodeSeed, physBlock, block);
    checksumValid = stored === want;
    if (!checksumValid && verifyChecksum) {
      throw badChecksum(
        "ORPHAN_BAD_CHECKSUM",
        `orphan block checksum 0x${stored.toString(16)} != 0x${want.toString(16)}`,
        ctx,
      );
    }
  }
  const inodes: number[] = [];
  const n = inodesPerOrphanBlock(block.length);
  for (let i = 0; i < n; i++) {
    const ino = v.u32(i * 4);
    if (ino !== 0) inodes.push(ino);
  }
  return { inodes, checksumValid };
}
