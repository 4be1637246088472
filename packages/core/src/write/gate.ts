/**
 * What may be written: the features this toolkit reads but does not know
 * how to change safely (an image using one opens read-only, with the
 * reason), and the feature-word setter for the few flags the kernel itself
 * toggles at run time (orphan_present).
 */
import { featureDef } from "../features.js";
import type { Superblock } from "../format/superblock.js";
import type { MetaState } from "./meta.js";

/** Features that make a writable open fall back to read-only, with why. */
const WRITE_BLOCKERS: ReadonlyArray<readonly [string, string]> = [
  ["bigalloc", "bigalloc (allocation in clusters is not implemented)"],
  ["ea_inode", "ea_inode (xattr values in EA inodes are not written)"],
  ["quota", "quota (the quota files would not be kept up to date)"],
  ["verity", "verity (fs-verity files are not written)"],
  ["mmp", "mmp (multiple mount protection is not implemented)"],
  ["shared_blocks", "shared_blocks (blocks shared between files are not handled)"],
];

/**
 * Why `sb` may not be written by this toolkit even though it can be read,
 * or null. Encrypted and casefolded directories are refused per inode
 * instead (the rest of such a filesystem can be written).
 */
export function writeBlockers(sb: Superblock): string | null {
  const reasons = WRITE_BLOCKERS.filter(([name]) => sb.features.has(name)).map(([, why]) => why);
  if (sb.features.has("orphan_present") && !sb.features.has("orphan_file")) {
    reasons.push("orphan_present without the orphan_file feature");
  }
  return reasons.length === 0 ? null : `unsupported for writing: ${reasons.join(", ")}`;
}

/** Sets or clears feature `name` in the superblock bytes (s_feature_* words). */
export function setFeature(meta: MetaState, name: string, on: boolean): void {
  const d = featureDef(name);
  // OK to throw a plain Error: names are constants in this package; an unknown one is a bug.
  if (d === undefined) throw new Error(`unknown feature ${name}`);
  const field =
    d.word === "compat"
      ? "s_feature_compat"
      : d.word === "incompat"
        ? "s_feature_incompat"
        : "s_feature_ro_compat";
  const cur = meta.sbGet(field);
  const next = (on ? cur | d.bit : cur & ~d.bit) >>> 0;
  if (next !== cur) meta.sbSet(field, next);
}
