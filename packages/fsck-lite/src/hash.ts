/**
 * The htree name hash as e2fsck computes it (ext2fs_dirhash2, via the
 * core's dxHash: legacy, half-MD4 and TEA, signed or unsigned; unlike the
 * kernel, no end-of-directory cookie adjustment). Pass 2 uses it to check
 * that every name sits in the leaf its hash range says.
 */
import { dxHash as coreDxHash, DxHashVersion, isExt4Error } from "@ext4/core";

/** DX_HASH_* values as stored in dx_root_info.hash_version (+3 for the unsigned variants). */
export const DX_HASH = {
  LEGACY: DxHashVersion.Legacy,
  HALF_MD4: DxHashVersion.HalfMd4,
  TEA: DxHashVersion.Tea,
  LEGACY_UNSIGNED: DxHashVersion.LegacyUnsigned,
  HALF_MD4_UNSIGNED: DxHashVersion.HalfMd4Unsigned,
  TEA_UNSIGNED: DxHashVersion.TeaUnsigned,
  SIPHASH: DxHashVersion.Siphash,
} as const;

/**
 * The major hash of `name` for `version` with the filesystem's s_hash_seed,
 * or null for a version that cannot be computed here (siphash needs the
 * encryption key; unknown versions are a corruption reported elsewhere).
 */
export function dxHash(name: Uint8Array, version: number, seed: readonly number[]): number | null {
  try {
    return coreDxHash(version, name, seed).hash;
  } catch (e) {
    if (isExt4Error(e)) return null;
    throw e;
  }
}
