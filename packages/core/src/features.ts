/**
 * ext4 feature flags (s_feature_compat / s_feature_incompat /
 * s_feature_ro_compat) by their kernel names, and the up-front gate that
 * decides whether an image can be opened at all (ext4-view's "feature gating
 * up front"): an unknown or unsupported incompat bit refuses the image, an
 * unknown ro_compat bit forces read-only, compat bits never matter.
 */
import { Ext4Error } from "./errors.js";

/** Which of the three feature words a flag lives in. */
export type FeatureWord = "compat" | "incompat" | "ro_compat";

/** One feature flag: kernel name (as `mke2fs -O` and debugfs spell it), word, bit, doc line. */
export interface FeatureDef {
  readonly name: string;
  readonly word: FeatureWord;
  readonly bit: number;
  readonly doc: string;
}

const f = (name: string, word: FeatureWord, bit: number, doc: string): FeatureDef => ({
  name,
  word,
  bit,
  doc,
});

/** Every feature flag ext4 (kernel and e2fsprogs) defines, in bit order per word. */
export const FEATURES: readonly FeatureDef[] = [
  f("dir_prealloc", "compat", 0x1, "preallocate directory blocks"),
  f("imagic_inodes", "compat", 0x2, "AFS magic inodes"),
  f("has_journal", "compat", 0x4, "has a jbd2 journal"),
  f("ext_attr", "compat", 0x8, "extended attributes"),
  f("resize_inode", "compat", 0x10, "reserved GDT blocks for online growth"),
  f("dir_index", "compat", 0x20, "hashed b-tree directories"),
  f("lazy_bg", "compat", 0x40, "lazy block group initialisation (obsolete)"),
  f("exclude_inode", "compat", 0x80, "snapshot exclude inode (never used)"),
  f("exclude_bitmap", "compat", 0x100, "snapshot exclude bitmap"),
  f("sparse_super2", "compat", 0x200, "at most two backup superblocks (s_backup_bgs)"),
  f("fast_commit", "compat", 0x400, "jbd2 fast commits"),
  f("stable_inodes", "compat", 0x800, "inode numbers never change (encryption)"),
  f("orphan_file", "compat", 0x1000, "orphan file (s_orphan_file_inum)"),

  f("compression", "incompat", 0x1, "compression (never merged)"),
  f("filetype", "incompat", 0x2, "file type in directory entries"),
  f("needs_recovery", "incompat", 0x4, "journal needs recovery (EXT4_FEATURE_INCOMPAT_RECOVER)"),
  f("journal_dev", "incompat", 0x8, "this is an external journal device"),
  f("meta_bg", "incompat", 0x10, "meta block groups"),
  f("extent", "incompat", 0x40, "extent-mapped files"),
  f("64bit", "incompat", 0x80, "64-bit block numbers, 64-byte group descriptors"),
  f("mmp", "incompat", 0x100, "multiple mount protection"),
  f("flex_bg", "incompat", 0x200, "flexible block groups"),
  f("ea_inode", "incompat", 0x400, "large xattr values in inodes"),
  f("dirdata", "incompat", 0x1000, "data in directory entries (Lustre)"),
  f("metadata_csum_seed", "incompat", 0x2000, "checksum seed in s_checksum_seed (csum_seed)"),
  f("large_dir", "incompat", 0x4000, "3-level htree, > 2 GiB directories (largedir)"),
  f("inline_data", "incompat", 0x8000, "data in the inode"),
  f("encrypt", "incompat", 0x10000, "encrypted files"),
  f("casefold", "incompat", 0x20000, "case-insensitive directories"),

  f("sparse_super", "ro_compat", 0x1, "backup superblocks only in groups 0, 1, 3^n, 5^n, 7^n"),
  f("large_file", "ro_compat", 0x2, "files over 2 GiB"),
  f("btree_dir", "ro_compat", 0x4, "b-tree directories (never used)"),
  f("huge_file", "ro_compat", 0x8, "i_blocks in fs blocks when EXT4_HUGE_FILE_FL"),
  f("uninit_bg", "ro_compat", 0x10, "group descriptor checksums (gdt_csum)"),
  f("dir_nlink", "ro_compat", 0x20, "more than 65000 subdirectories"),
  f("extra_isize", "ro_compat", 0x40, "large inodes reserve s_min_extra_isize"),
  f("has_snapshot", "ro_compat", 0x80, "snapshots (never merged)"),
  f("quota", "ro_compat", 0x100, "quota inodes"),
  f("bigalloc", "ro_compat", 0x200, "allocation in clusters"),
  f("metadata_csum", "ro_compat", 0x400, "crc32c metadata checksums"),
  f("replica", "ro_compat", 0x800, "replicas (never merged)"),
  f("read-only", "ro_compat", 0x1000, "mount read-only only"),
  f("project", "ro_compat", 0x2000, "project quota"),
  f("shared_blocks", "ro_compat", 0x4000, "blocks shared between files"),
  f("verity", "ro_compat", 0x8000, "fs-verity files"),
  f("orphan_present", "ro_compat", 0x10000, "orphan file has entries"),
];

/**
 * Aliases accepted by {@link FeatureSet.has}: the names the kernel's
 * `ext4_has_feature_*` helpers use where they differ from e2fsprogs'.
 */
const ALIASES: Readonly<Record<string, string>> = {
  recover: "needs_recovery",
  csum_seed: "metadata_csum_seed",
  largedir: "large_dir",
  gdt_csum: "uninit_bg",
  readonly: "read-only",
  extents: "extent",
  journal: "has_journal",
};

const BY_NAME = new Map<string, FeatureDef>(FEATURES.map((d) => [d.name, d]));

/** The definition of `name` (kernel or e2fsprogs spelling), or undefined. */
export function featureDef(name: string): FeatureDef | undefined {
  return BY_NAME.get(ALIASES[name] ?? name);
}

/**
 * Incompat features this toolkit reads. Everything else in s_feature_incompat
 * (unknown bits, compression, journal_dev, dirdata) makes the image
 * unreadable: refusing is the only safe answer to a format we do not parse.
 */
const SUPPORTED_INCOMPAT = [
  "filetype",
  "needs_recovery",
  "meta_bg",
  "extent",
  "64bit",
  "mmp",
  "flex_bg",
  "ea_inode",
  "metadata_csum_seed",
  "large_dir",
  "inline_data",
  "encrypt",
  "casefold",
].reduce((m, n) => m | (featureDef(n)?.bit ?? 0), 0);

/** ro_compat features whose on-disk effects this toolkit understands. */
const KNOWN_RO_COMPAT = [
  "sparse_super",
  "large_file",
  "btree_dir",
  "huge_file",
  "uninit_bg",
  "dir_nlink",
  "extra_isize",
  "quota",
  "bigalloc",
  "metadata_csum",
  "read-only",
  "project",
  "shared_blocks",
  "verity",
  "orphan_present",
].reduce((m, n) => m | (featureDef(n)?.bit ?? 0), 0);

/** Names of the set bits of `value` in `word`; unknown bits appear as `0x...`. */
export function featureNames(word: FeatureWord, value: number): string[] {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = (bit << 1) >>> 0) {
    if ((value & bit) === 0) continue;
    const def = FEATURES.find((d) => d.word === word && d.bit === bit);
    out.push(def?.name ?? `FEATURE_${word.toUpperCase()}_0x${bit.toString(16)}`);
  }
  return out;
}

/** The three feature words of a superblock with name lookup. Immutable. */
export class FeatureSet {
  constructor(
    readonly compat: number,
    readonly incompat: number,
    readonly roCompat: number,
  ) {}

  /**
   * True when the feature called `name` is set. Accepts e2fsprogs names
   * ("metadata_csum", "large_dir") and the kernel's ("csum_seed", "largedir",
   * "recover", "gdt_csum"). An unknown name is false.
   */
  has(name: string): boolean {
    const d = featureDef(name);
    if (d === undefined) return false;
    return (this.word(d.word) & d.bit) !== 0;
  }

  /** The raw value of one feature word. */
  word(word: FeatureWord): number {
    return word === "compat" ? this.compat : word === "incompat" ? this.incompat : this.roCompat;
  }

  /** Every set feature by name, compat then incompat then ro_compat (as `dumpe2fs` lists them). */
  names(): string[] {
    return [
      ...featureNames("compat", this.compat),
      ...featureNames("incompat", this.incompat),
      ...featureNames("ro_compat", this.roCompat),
    ];
  }

  /** Incompat bits this toolkit does not support (unknown or known-unsupported). */
  unsupportedIncompat(): number {
    return (this.incompat & ~SUPPORTED_INCOMPAT) >>> 0;
  }

  /** ro_compat bits this toolkit does not know: the image may be read, never written. */
  unknownRoCompat(): number {
    return (this.roCompat & ~KNOWN_RO_COMPAT) >>> 0;
  }

  /** True when metadata checksums are crc32c (metadata_csum). */
  get metadataCsum(): boolean {
    return (this.roCompat & 0x400) !== 0;
  }

  /** True when group descriptors carry a checksum (metadata_csum or gdt_csum). */
  get groupDescCsum(): boolean {
    return (this.roCompat & (0x400 | 0x10)) !== 0;
  }
}

/**
 * The open-time gate. Throws Ext4Error kind `Incompatible` (code
 * `INCOMPAT_FEATURES`) naming every unsupported incompat bit. Returns the
 * reason the image must stay read-only (unknown ro_compat bits, or the
 * read-only feature), or null.
 */
export function checkFeatures(features: FeatureSet): string | null {
  const bad = features.unsupportedIncompat();
  if (bad !== 0) {
    const names = featureNames("incompat", bad);
    throw new Ext4Error(
      "Incompatible",
      "INCOMPAT_FEATURES",
      `unsupported incompatible features: ${names.join(", ")}`,
    );
  }
  const unknownRo = features.unknownRoCompat();
  if (unknownRo !== 0) {
    return `unknown read-only-compatible features: ${featureNames("ro_compat", unknownRo).join(", ")}`;
  }
  if (features.has("read-only")) return "the read-only feature is set";
  return null;
}
