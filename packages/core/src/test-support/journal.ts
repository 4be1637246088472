/** Builders of synthetic jbd2 journals for the walker tests. */

import {
  JBD2_FEATURE_INCOMPAT_CSUM_V2,
  JBD2_FEATURE_INCOMPAT_CSUM_V3,
  JBD2_MAGIC_NUMBER,
  JOURNAL_SUPERBLOCK,
  journalSuperblockChecksum,
} from "../format/jbd2.js";
import { ByteView } from "../view.js";

/** A valid v2 journal superblock with the given incompat features. */
export function journalSuperblockBytes(
  incompat: number,
  maxLen = 64,
  blockSize = 1024,
): Uint8Array {
  const b = new Uint8Array(blockSize);
  const v = new ByteView(b);
  JOURNAL_SUPERBLOCK.encode(v, {
    h_magic: JBD2_MAGIC_NUMBER,
    h_blocktype: 4,
    s_blocksize: blockSize,
    s_maxlen: maxLen,
    s_first: 1,
    s_sequence: 5,
    s_start: 0,
    s_feature_incompat: incompat,
    s_uuid: new Uint8Array(16).fill(0xab),
    s_nr_users: 1,
    s_checksum_type:
      incompat & (JBD2_FEATURE_INCOMPAT_CSUM_V2 | JBD2_FEATURE_INCOMPAT_CSUM_V3) ? 4 : 0,
  });
  v.setU32be(JOURNAL_SUPERBLOCK.offsetOf("s_checksum"), journalSuperblockChecksum(b));
  return b;
}
