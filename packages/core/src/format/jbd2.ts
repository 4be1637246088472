/**
 * The jbd2 journal format (include/linux/jbd2.h; everything big-endian):
 * block header, journal superblock (v1 and v2), descriptor block tags
 * (tag and tag3), commit and revoke blocks, the v2/v3 checksums, and the
 * validated {@link JournalSuperblock}.
 */
import { crc32cRaw } from "../crc.js";
import { badChecksum, corrupt, Ext4Error, type Ext4ErrorContext } from "../errors.js";
import { be, bytes, defineStruct, type RawRecord } from "../struct.js";
import { ByteView } from "../view.js";

/** journal_header_t: the first 12 bytes of every journal metadata block. */
export const JOURNAL_HEADER = defineStruct("journal_header_t", [
  be("h_magic", 4, "JBD2_MAGIC_NUMBER 0xC03B3998"),
  be("h_blocktype", 4, "1 descriptor, 2 commit, 3 sb v1, 4 sb v2, 5 revoke"),
  be("h_sequence", 4, "transaction id"),
]);

/** journal_superblock_t (1024 bytes at journal block 0). */
export const JOURNAL_SUPERBLOCK = defineStruct("journal_superblock_t", [
  be("h_magic", 4, "s_header: JBD2_MAGIC_NUMBER"),
  be("h_blocktype", 4, "s_header: JBD2_SUPERBLOCK_V1 or _V2"),
  be("h_sequence", 4, "s_header: unused"),
  be("s_blocksize", 4, "journal block size"),
  be("s_maxlen", 4, "total blocks in the journal"),
  be("s_first", 4, "first block of log information"),
  be("s_sequence", 4, "first commit id expected in the log"),
  be("s_start", 4, "block of the start of the log; 0 when clean"),
  be("s_errno", 4, "error value set by jbd2_journal_abort (signed)"),
  be("s_feature_compat", 4, "compatible features (v2)"),
  be("s_feature_incompat", 4, "incompatible features (v2)"),
  be("s_feature_ro_compat", 4, "read-only-compatible features (v2)"),
  bytes("s_uuid", 16, "journal UUID"),
  be("s_nr_users", 4, "filesystems sharing the log"),
  be("s_dynsuper", 4, "block of a dynamic superblock copy"),
  be("s_max_transaction", 4, "limit of journal blocks per transaction"),
  be("s_max_trans_data", 4, "limit of data blocks per transaction"),
  be("s_checksum_type", 1, "checksum type (4 = crc32c)"),
  bytes("s_padding2", 3, "padding"),
  be("s_num_fc_blks", 4, "fast commit blocks (0 = 256)"),
  be("s_head", 4, "head of the log, valid while clean"),
  bytes("s_padding", 160, "padding"),
  be("s_checksum", 4, "crc32c(~0, superblock with s_checksum zeroed)"),
  bytes("s_users", 768, "UUIDs of the filesystems sharing the log (16 × 48)"),
]);

/** journal_block_tag3_t (csum v3). */
export const JOURNAL_BLOCK_TAG3 = defineStruct("journal_block_tag3_t", [
  be("t_blocknr", 4, "filesystem block, low 32 bits"),
  be("t_flags", 4, "JBD2_FLAG_* bits"),
  be("t_blocknr_high", 4, "filesystem block, high 32 bits (64bit)"),
  be("t_checksum", 4, "crc32c(seed, be32 sequence, block data)"),
]);

/** journal_block_tag_t (no csum v3); shorter without 64bit, see {@link journalTagBytes}. */
export const JOURNAL_BLOCK_TAG = defineStruct("journal_block_tag_t", [
  be("t_blocknr", 4, "filesystem block, low 32 bits"),
  be("t_checksum", 2, "low 16 bits of the block checksum (csum v2)"),
  be("t_flags", 2, "JBD2_FLAG_* bits"),
  be("t_blocknr_high", 4, "filesystem block, high 32 bits (64bit)"),
]);

/** struct jbd2_journal_block_tail: the last 4 bytes of descriptor blocks (csum v2/v3). */
export const JOURNAL_BLOCK_TAIL = defineStruct("jbd2_journal_block_tail", [
  be("t_checksum", 4, "crc32c(seed, block with t_checksum zeroed)"),
]);

/** struct commit_header. */
export const COMMIT_HEADER = defineStruct("commit_header", [
  be("h_magic", 4, "JBD2_MAGIC_NUMBER"),
  be("h_blocktype", 4, "JBD2_COMMIT_BLOCK"),
  be("h_sequence", 4, "transaction id"),
  be("h_chksum_type", 1, "JBD2_CRC32_CHKSUM 1, MD5 2, SHA1 3, CRC32C 4 (v1 checksums)"),
  be("h_chksum_size", 1, "checksum size (v1 checksums)"),
  bytes("h_padding", 2, "padding"),
  bytes("h_chksum", 32, "checksums; h_chksum[0] is the block checksum with csum v2/v3"),
  be("h_commit_sec", 8, "commit time, seconds"),
  be("h_commit_nsec", 4, "commit time, nanoseconds"),
]);

/** jbd2_journal_revoke_header_t. */
export const REVOKE_HEADER = defineStruct("jbd2_journal_revoke_header_t", [
  be("h_magic", 4, "JBD2_MAGIC_NUMBER"),
  be("h_blocktype", 4, "JBD2_REVOKE_BLOCK"),
  be("h_sequence", 4, "transaction id"),
  be("r_count", 4, "bytes used in the block, header included"),
]);

/** h_magic. */
export const JBD2_MAGIC_NUMBER = 0xc03b3998;
/** h_blocktype values. */
export const JBD2_DESCRIPTOR_BLOCK = 1;
/** H_blocktype: commit block. */
export const JBD2_COMMIT_BLOCK = 2;
/** H_blocktype: journal superblock v1. */
export const JBD2_SUPERBLOCK_V1 = 3;
/** H_blocktype: journal superblock v2. */
export const JBD2_SUPERBLOCK_V2 = 4;
/** H_blocktype: revoke block. */
export const JBD2_REVOKE_BLOCK = 5;
/** H_blocktype: fast commit block. */
export const JBD2_FC_BLOCK = 6;

/** Tag flags. */
export const JBD2_FLAG_ESCAPE = 1;
/** Tag flag: no UUID follows the tag. */
export const JBD2_FLAG_SAME_UUID = 2;
/** Tag flag: block deleted by this transaction. */
export const JBD2_FLAG_DELETED = 4;
/** Tag flag: last tag of the descriptor. */
export const JBD2_FLAG_LAST_TAG = 8;

/** Journal feature bits. */
export const JBD2_FEATURE_COMPAT_CHECKSUM = 0x1;
/** Journal incompat: revoke blocks. */
export const JBD2_FEATURE_INCOMPAT_REVOKE = 0x1;
/** Journal incompat: 64-bit block numbers. */
export const JBD2_FEATURE_INCOMPAT_64BIT = 0x2;
/** Journal incompat: asynchronous commits. */
export const JBD2_FEATURE_INCOMPAT_ASYNC_COMMIT = 0x4;
/** Journal incompat: checksums v2 (16-bit tags). */
export const JBD2_FEATURE_INCOMPAT_CSUM_V2 = 0x8;
/** Journal incompat: checksums v3 (32-bit tags). */
export const JBD2_FEATURE_INCOMPAT_CSUM_V3 = 0x10;
/** Journal incompat: fast commits. */
export const JBD2_FEATURE_INCOMPAT_FAST_COMMIT = 0x20;
const JBD2_KNOWN_INCOMPAT = 0x3f;
/** s_checksum_type for crc32c. */
export const JBD2_CRC32C_CHKSUM = 4;
/** JBD2_DEFAULT_FAST_COMMIT_BLOCKS. */
export const JBD2_DEFAULT_FAST_COMMIT_BLOCKS = 256;

/** Names of journal features as e2fsprogs prints them (`logdump`, `dumpe2fs`). */
export const JOURNAL_FEATURE_NAMES = {
  compat: { 1: "journal_checksum" } as Record<number, string>,
  incompat: {
    1: "journal_incompat_revoke",
    2: "journal_64bit",
    4: "journal_async_commit",
    8: "journal_checksum_v2",
    16: "journal_checksum_v3",
    32: "journal_fast_commit",
  } as Record<number, string>,
};

/** Field names of {@link JOURNAL_SUPERBLOCK}. */
export type JournalSuperblockField = (typeof JOURNAL_SUPERBLOCK.fields)[number]["name"];

/** The validated journal superblock. */
export interface JournalSuperblock {
  readonly raw: RawRecord<JournalSuperblockField>;
  /** 1 (JBD2_SUPERBLOCK_V1) or 2. */
  readonly version: 1 | 2;
  readonly blockSize: number;
  readonly maxLen: number;
  readonly first: number;
  readonly sequence: number;
  readonly start: number;
  readonly errno: number;
  readonly featureCompat: number;
  readonly featureIncompat: number;
  readonly featureRoCompat: number;
  readonly uuid: Uint8Array;
  readonly nrUsers: number;
  readonly maxTransaction: number;
  readonly maxTransData: number;
  readonly checksumType: number;
  readonly checksum: number;
  readonly numFcBlocks: number;
  readonly head: number;
  /** One past the last block of the log area (maxLen minus the fast commit area). */
  readonly last: number;
  /** crc32c(~0, s_uuid): the seed of every v2/v3 journal checksum. */
  readonly csumSeed: number;
  readonly is64bit: boolean;
  readonly csumV2: boolean;
  readonly csumV3: boolean;
  /** Bytes per descriptor tag (before any 16-byte UUID). */
  readonly tagBytes: number;
}

/** journal_tag_bytes: 16 with csum v3; else 12 (+2 with csum v2), minus 4 without 64bit. */
export function journalTagBytes(incompat: number): number {
  if (incompat & JBD2_FEATURE_INCOMPAT_CSUM_V3) return JOURNAL_BLOCK_TAG3.size;
  let sz = JOURNAL_BLOCK_TAG.size;
  if (incompat & JBD2_FEATURE_INCOMPAT_CSUM_V2) sz += 2;
  return incompat & JBD2_FEATURE_INCOMPAT_64BIT ? sz : sz - 4;
}

/** jbd2_superblock_csum: crc32c(~0) over the 1024 bytes with s_checksum zeroed. */
export function journalSuperblockChecksum(sb: Uint8Array): number {
  const copy = sb.slice(0, JOURNAL_SUPERBLOCK.size);
  new ByteView(copy).setU32be(JOURNAL_SUPERBLOCK.offsetOf("s_checksum"), 0);
  return crc32cRaw(0xffffffff, copy);
}

/** Options for {@link parseJournalSuperblock}. */
export interface ParseJournalSuperblockOptions {
  /** Blocks in the journal inode or device: s_maxlen must not exceed it. */
  readonly totalBlocks: number;
  /** The filesystem block size: an internal journal must use it. */
  readonly fsBlockSize: number;
  /** Throw BadChecksum on a mismatch (default true). */
  readonly verifyChecksum?: boolean;
}

/**
 * Validates a journal superblock as jbd2's journal_load/load_superblock:
 * magic and type, block size, s_maxlen within the journal, s_first and
 * s_start inside the log, known incompat features, one checksum version,
 * the superblock checksum. Throws Corrupt (JOURNAL_* codes), BadChecksum
 * (JOURNAL_BAD_SB_CHECKSUM), or Incompatible (JOURNAL_UNKNOWN_FEATURES).
 */
export function parseJournalSuperblock(
  block: Uint8Array,
  options: ParseJournalSuperblockOptions,
  ctx: Ext4ErrorContext = {},
): JournalSuperblock {
  const v = new ByteView(block, ctx, 0, Math.min(block.length, JOURNAL_SUPERBLOCK.size));
  if (v.length < JOURNAL_SUPERBLOCK.size) {
    throw corrupt("JOURNAL_SB_SHORT", `journal superblock needs 1024 bytes`, ctx);
  }
  const raw = JOURNAL_SUPERBLOCK.decode(v) as RawRecord<JournalSuperblockField>;
  const n = (f: JournalSuperblockField): number => raw[f] as number;
  if (n("h_magic") !== JBD2_MAGIC_NUMBER) {
    throw corrupt("JOURNAL_BAD_MAGIC", `journal magic 0x${n("h_magic").toString(16)}`, ctx);
  }
  const type = n("h_blocktype");
  if (type !== JBD2_SUPERBLOCK_V1 && type !== JBD2_SUPERBLOCK_V2) {
    throw corrupt("JOURNAL_BAD_SB_TYPE", `journal superblock type ${type}`, ctx);
  }
  const version = type === JBD2_SUPERBLOCK_V1 ? 1 : 2;
  const compat = version === 2 ? n("s_feature_compat") : 0;
  const incompat = version === 2 ? n("s_feature_incompat") : 0;
  const roCompat = version === 2 ? n("s_feature_ro_compat") : 0;
  if ((incompat & ~JBD2_KNOWN_INCOMPAT) !== 0) {
    throw new Ext4Error(
      "Incompatible",
      "JOURNAL_UNKNOWN_FEATURES",
      `unknown journal incompat features 0x${(incompat & ~JBD2_KNOWN_INCOMPAT).toString(16)}`,
      ctx,
    );
  }
  const csumV2 = (incompat & JBD2_FEATURE_INCOMPAT_CSUM_V2) !== 0;
  const csumV3 = (incompat & JBD2_FEATURE_INCOMPAT_CSUM_V3) !== 0;
  if (csumV2 && csumV3) throw corrupt("JOURNAL_BAD_FEATURES", "both csum v2 and v3 set", ctx);
  if ((csumV2 || csumV3) && (compat & JBD2_FEATURE_COMPAT_CHECKSUM) !== 0) {
    throw corrupt("JOURNAL_BAD_FEATURES", "csum v1 together with v2/v3", ctx);
  }
  if (csumV2 || csumV3) {
    if (n("s_checksum_type") !== JBD2_CRC32C_CHKSUM) {
      throw corrupt("JOURNAL_BAD_CSUM_TYPE", `checksum type ${n("s_checksum_type")}`, ctx);
    }
    const want = journalSuperblockChecksum(block);
    if (want !== n("s_checksum") && options.verifyChecksum !== false) {
      throw badChecksum(
        "JOURNAL_BAD_SB_CHECKSUM",
        `journal superblock checksum 0x${n("s_checksum").toString(16)} != 0x${want.toString(16)}`,
        ctx,
      );
    }
  }
  const blockSize = n("s_blocksize");
  if (blockSize !== options.fsBlockSize) {
    throw corrupt("JOURNAL_BAD_BLOCKSIZE", `journal block size ${blockSize}`, ctx);
  }
  const maxLen = n("s_maxlen");
  if (maxLen > options.totalBlocks || maxLen < 2) {
    throw corrupt(
      "JOURNAL_BAD_MAXLEN",
      `journal length ${maxLen} vs ${options.totalBlocks} blocks available`,
      ctx,
    );
  }
  const first = n("s_first");
  if (first === 0 || first >= maxLen) {
    throw corrupt("JOURNAL_BAD_FIRST", `journal first block ${first} of ${maxLen}`, ctx);
  }
  let last = maxLen;
  const numFcBlocks = n("s_num_fc_blks");
  if (incompat & JBD2_FEATURE_INCOMPAT_FAST_COMMIT) {
    last = maxLen - (numFcBlocks === 0 ? JBD2_DEFAULT_FAST_COMMIT_BLOCKS : numFcBlocks);
    if (last <= first) {
      throw corrupt("JOURNAL_BAD_FC_BLOCKS", `${numFcBlocks} fast commit blocks leave no log`, ctx);
    }
  }
  const start = n("s_start");
  if (start !== 0 && (start < first || start >= last)) {
    throw corrupt("JOURNAL_BAD_START", `log start ${start} outside [${first}, ${last})`, ctx);
  }
  const uuid = raw.s_uuid as Uint8Array;
  const errnoRaw = n("s_errno");
  return {
    raw,
    version,
    blockSize,
    maxLen,
    first,
    sequence: n("s_sequence"),
    start,
    errno: errnoRaw >= 2 ** 31 ? errnoRaw - 2 ** 32 : errnoRaw,
    featureCompat: compat,
    featureIncompat: incompat,
    featureRoCompat: roCompat,
    uuid,
    nrUsers: version === 2 ? n("s_nr_users") : 1,
    maxTransaction: n("s_max_transaction"),
    maxTransData: n("s_max_trans_data"),
    checksumType: n("s_checksum_type"),
    checksum: n("s_checksum"),
    numFcBlocks,
    head: n("s_head"),
    last,
    csumSeed: crc32cRaw(0xffffffff, uuid),
    is64bit: (incompat & JBD2_FEATURE_INCOMPAT_64BIT) !== 0,
    csumV2,
    csumV3,
    tagBytes: journalTagBytes(incompat),
  };
}

/** Block header fields of any journal metadata block, or null when the magic is absent. */
export function decodeJournalHeader(
  block: Uint8Array,
): { blocktype: number; sequence: number } | null {
  const v = new ByteView(block);
  if (
    block.length < JOURNAL_HEADER.size ||
    JOURNAL_HEADER.get(v, "h_magic") !== JBD2_MAGIC_NUMBER
  ) {
    return null;
  }
  return {
    blocktype: JOURNAL_HEADER.get(v, "h_blocktype"),
    sequence: JOURNAL_HEADER.get(v, "h_sequence"),
  };
}

/** One descriptor tag. */
export interface JournalTag {
  /** Filesystem block the logged block belongs at. */
  readonly fsBlock: number;
  readonly flags: number;
  /** Stored checksum (32 bits for tag3, 16 for tag with csum v2, else 0). */
  readonly checksum: number;
  /** The tag's UUID when JBD2_FLAG_SAME_UUID is clear. */
  readonly uuid: Uint8Array | null;
}

/**
 * Decodes the tags of a descriptor block as jbd2's count_tags/do_one_pass:
 * tags of `tagBytes` from byte 12, each followed by a 16-byte UUID unless
 * SAME_UUID, up to LAST_TAG or the end of the block (minus the tail with
 * csum v2/v3). The count is bounded by the block size.
 */
export function decodeDescriptorTags(block: Uint8Array, jsb: JournalSuperblock): JournalTag[] {
  const v = new ByteView(block);
  const end = block.length - (jsb.csumV2 || jsb.csumV3 ? JOURNAL_BLOCK_TAIL.size : 0);
  const tags: JournalTag[] = [];
  let off = JOURNAL_HEADER.size;
  while (off + jsb.tagBytes <= end) {
    const t = v.sub(off, jsb.tagBytes);
    let fsBlock: number;
    let flags: number;
    let checksum: number;
    if (jsb.csumV3) {
      flags = JOURNAL_BLOCK_TAG3.get(t, "t_flags");
      checksum = JOURNAL_BLOCK_TAG3.get(t, "t_checksum");
      fsBlock =
        JOURNAL_BLOCK_TAG3.get(t, "t_blocknr") +
        (jsb.is64bit ? JOURNAL_BLOCK_TAG3.get(t, "t_blocknr_high") * 2 ** 32 : 0);
    } else {
      flags = JOURNAL_BLOCK_TAG.get(t, "t_flags");
      checksum = jsb.csumV2 ? JOURNAL_BLOCK_TAG.get(t, "t_checksum") : 0;
      fsBlock =
        JOURNAL_BLOCK_TAG.get(t, "t_blocknr") +
        (jsb.is64bit ? JOURNAL_BLOCK_TAG.get(t, "t_blocknr_high") * 2 ** 32 : 0);
    }
    off += jsb.tagBytes;
    let uuid: Uint8Array | null = null;
    if ((flags & JBD2_FLAG_SAME_UUID) === 0) {
      uuid = off + 16 <= block.length ? block.slice(off, off + 16) : new Uint8Array(16);
      off += 16;
    }
    tags.push({ fsBlock, flags, checksum, uuid });
    if (flags & JBD2_FLAG_LAST_TAG) break;
  }
  return tags;
}

/** Encodes tags into a descriptor block after its header (the inverse of {@link decodeDescriptorTags}). */
export function encodeDescriptorTags(
  block: Uint8Array,
  jsb: Pick<JournalSuperblock, "csumV2" | "csumV3" | "is64bit" | "tagBytes">,
  tags: readonly JournalTag[],
): void {
  const v = new ByteView(block);
  let off = JOURNAL_HEADER.size;
  for (const tag of tags) {
    const t = v.sub(off, jsb.tagBytes);
    const lo = tag.fsBlock % 2 ** 32;
    const hi = Math.floor(tag.fsBlock / 2 ** 32);
    if (jsb.csumV3) {
      JOURNAL_BLOCK_TAG3.set(t, "t_blocknr", lo);
      JOURNAL_BLOCK_TAG3.set(t, "t_flags", tag.flags);
      if (jsb.is64bit) JOURNAL_BLOCK_TAG3.set(t, "t_blocknr_high", hi);
      JOURNAL_BLOCK_TAG3.set(t, "t_checksum", tag.checksum);
    } else {
      JOURNAL_BLOCK_TAG.set(t, "t_blocknr", lo);
      JOURNAL_BLOCK_TAG.set(t, "t_flags", tag.flags);
      if (jsb.csumV2) JOURNAL_BLOCK_TAG.set(t, "t_checksum", tag.checksum);
      if (jsb.is64bit) JOURNAL_BLOCK_TAG.set(t, "t_blocknr_high", hi);
    }
    off += jsb.tagBytes;
    if ((tag.flags & JBD2_FLAG_SAME_UUID) === 0) {
      block.set(tag.uuid ?? new Uint8Array(16), off);
      off += 16;
    }
  }
}

/** jbd2's descriptor/revoke tail checksum: crc32c(seed, block with the tail zeroed). */
export function journalBlockTailChecksum(seed: number, block: Uint8Array): number {
  const copy = block.slice();
  new ByteView(copy).setU32be(copy.length - 4, 0);
  return crc32cRaw(seed, copy);
}

/** jbd2_commit_block_csum: crc32c(seed, commit block with h_chksum[0] zeroed). */
export function journalCommitChecksum(seed: number, block: Uint8Array): number {
  const copy = block.slice();
  new ByteView(copy).setU32be(COMMIT_HEADER.offsetOf("h_chksum"), 0);
  return crc32cRaw(seed, copy);
}

/** jbd2_block_tag_csum: crc32c(seed, be32 sequence, block data); tags keep 16 bits with csum v2. */
export function journalDataBlockChecksum(seed: number, sequence: number, data: Uint8Array): number {
  const seq = new Uint8Array(4);
  new ByteView(seq).setU32be(0, sequence);
  return crc32cRaw(crc32cRaw(seed, seq), data);
}

/**
 * The block numbers listed in a revoke block: r_count bytes (header
 * included, bounded by the block size minus the tail with csum v2/v3) of
 * 4- or 8-byte (64bit) big-endian records. Throws Corrupt
 * (JOURNAL_BAD_REVOKE_COUNT).
 */
export function decodeRevokeBlock(
  block: Uint8Array,
  jsb: JournalSuperblock,
  ctx: Ext4ErrorContext = {},
): number[] {
  const v = new ByteView(block, ctx);
  const count = REVOKE_HEADER.get(v, "r_count");
  const limit = block.length - (jsb.csumV2 || jsb.csumV3 ? JOURNAL_BLOCK_TAIL.size : 0);
  const rec = jsb.is64bit ? 8 : 4;
  if (count < REVOKE_HEADER.size || count > limit) {
    throw corrupt("JOURNAL_BAD_REVOKE_COUNT", `revoke r_count ${count}`, ctx);
  }
  const out: number[] = [];
  for (let off = REVOKE_HEADER.size; off + rec <= count; off += rec) {
    out.push(rec === 8 ? v.u32be(off) * 2 ** 32 + v.u32be(off + 4) : v.u32be(off));
  }
  return out;
}

/** Commit block fields. */
export interface CommitBlock {
  readonly chksumType: number;
  readonly chksumSize: number;
  /** h_chksum[0] (the v2/v3 block checksum, or the v1 crc32). */
  readonly chksum0: number;
  readonly commitSec: number;
  readonly commitNsec: number;
}

/** Decodes a commit block's fields. */
export function decodeCommitBlock(block: Uint8Array): CommitBlock {
  const v = new ByteView(block);
  return {
    chksumType: COMMIT_HEADER.get(v, "h_chksum_type"),
    chksumSize: COMMIT_HEADER.get(v, "h_chksum_size"),
    chksum0: v.u32be(COMMIT_HEADER.offsetOf("h_chksum")),
    commitSec:
      v.u32be(COMMIT_HEADER.offsetOf("h_commit_sec")) * 2 ** 32 +
      v.u32be(COMMIT_HEADER.offsetOf("h_commit_sec") + 4),
    commitNsec: COMMIT_HEADER.get(v, "h_commit_nsec"),
  };
}
