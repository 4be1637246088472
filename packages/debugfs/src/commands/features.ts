/**
 * Names as libe2p prints them: feature flags (e2p_feature2string), default
 * mount options, hash algorithms, creator OS, filesystem state and error
 * behaviour, and the list of features this toolkit reads.
 */
import { FEATURES, FeatureSet, JOURNAL_FEATURE_NAMES } from "@ext4/core";

const WORD_INDEX = { compat: 0, incompat: 1, ro_compat: 2 } as const;
const WORD_LETTER = ["C", "I", "R"] as const;

/**
 * e2p_feature2string: the e2fsprogs name of bit `mask` of feature word
 * `word` (0 compat, 1 incompat, 2 ro_compat), or `FEATURE_<C|I|R><bit>` for
 * a bit without a name.
 */
export function featureName(word: 0 | 1 | 2, mask: number): string {
  const def = FEATURES.find((d) => WORD_INDEX[d.word] === word && d.bit === mask >>> 0);
  if (def !== undefined) return def.name;
  return `FEATURE_${WORD_LETTER[word]}${Math.log2(mask >>> 0)}`;
}

/** Every set bit of the three feature words by name, in debugfs's order (compat, incompat, ro_compat). */
export function featureList(compat: number, incompat: number, roCompat: number): string[] {
  const out: string[] = [];
  [compat, incompat, roCompat].forEach((value, word) => {
    for (let bit = 0; bit < 32; bit++) {
      const mask = 2 ** bit;
      if (Math.floor(value / mask) % 2 === 1) out.push(featureName(word as 0 | 1 | 2, mask));
    }
  });
  return out;
}

/** e2p_jrnl_feature2string: journal feature names, `FEATURE_<C|I|R><bit>` when unnamed. */
export function journalFeatureName(word: 0 | 1 | 2, mask: number): string {
  const table =
    word === 0
      ? JOURNAL_FEATURE_NAMES.compat
      : word === 1
        ? JOURNAL_FEATURE_NAMES.incompat
        : ({} as Record<number, string>);
  return table[mask >>> 0] ?? `FEATURE_${WORD_LETTER[word]}${Math.log2(mask >>> 0)}`;
}

/**
 * The features this toolkit can read: every compat feature (they never stop
 * a reader), the incompat features the core accepts, the ro_compat features
 * it understands; and the journal features its log walker knows.
 */
export function supportedFeatures(): { filesystem: string[]; journal: string[] } {
  const filesystem: string[] = [];
  for (const word of ["compat", "incompat", "ro_compat"] as const) {
    for (const d of FEATURES.filter((f) => f.word === word).sort((a, b) => a.bit - b.bit)) {
      const set =
        word === "incompat"
          ? new FeatureSet(0, d.bit, 0).unsupportedIncompat() === 0
          : word === "ro_compat"
            ? new FeatureSet(0, 0, d.bit).unknownRoCompat() === 0
            : true;
      if (set) filesystem.push(d.name);
    }
  }
  const journal: string[] = [];
  for (const [word, table] of [
    [0, JOURNAL_FEATURE_NAMES.compat],
    [1, JOURNAL_FEATURE_NAMES.incompat],
  ] as const) {
    for (const bit of Object.keys(table)
      .map(Number)
      .sort((a, b) => a - b)) {
      journal.push(journalFeatureName(word, bit));
    }
  }
  return { filesystem, journal };
}

/** The hash names libe2p knows (lib/e2p/hashstr.c); others print as HASHALG_<n>. */
const HASH_NAMES = ["legacy", "half_md4", "tea"];

/** e2p_hash2string: the name of a directory hash version. */
export function hashName(v: number): string {
  return HASH_NAMES[v] ?? `HASHALG_${v}`;
}

/** e2p_string2hash: a hash version by name (case-insensitive) or `HASHALG_<n>`, else -1. */
export function hashByName(name: string): number {
  const i = HASH_NAMES.indexOf(name.toLowerCase());
  if (i >= 0) return i;
  const m = /^HASHALG_(\d+)$/i.exec(name);
  return m === null ? -1 : Number(m[1]);
}

/** e2p_mntopt2string: default mount option names (EXT2_DEFM_* / EXT3_DEFM_*). */
export function mountOptionName(mask: number): string {
  const names: Record<number, string> = {
    1: "debug",
    2: "bsdgroups",
    4: "user_xattr",
    8: "acl",
    16: "uid16",
    32: "journal_data",
    64: "journal_data_ordered",
    96: "journal_data_writeback",
    256: "nobarrier",
    512: "block_validity",
    1024: "discard",
    2048: "nodelalloc",
  };
  return names[mask] ?? `MNTOPT_${Math.log2(mask)}`;
}

/** The "Default mount options:" list as lib/e2p/ls.c's print_mntopts builds it. */
export function mountOptionList(opts: number): string[] {
  const out: string[] = [];
  const jmode = opts & 0x0060;
  if (jmode !== 0) out.push(mountOptionName(jmode));
  for (let bit = 0; bit < 32; bit++) {
    const m = 2 ** bit;
    if (m === 0x20 || m === 0x40) continue;
    if (Math.floor(opts / m) % 2 === 1) out.push(mountOptionName(m));
  }
  return out;
}

/** e2p_os2string. */
export function osName(os: number): string {
  return ["Linux", "Hurd", "Masix", "FreeBSD", "Lites"][os] ?? "(unknown os)";
}

/** lib/e2p/ps.c print_fs_state (with its leading space). */
export function fsStateText(state: number): string {
  let s = (state & 1) !== 0 ? " clean" : " not clean";
  if ((state & 2) !== 0) s += " with errors";
  return s;
}

/** lib/e2p/pe.c print_fs_errors. */
export function errorsText(errors: number): string {
  return (
    ({ 1: "Continue", 2: "Remount read-only", 3: "Panic" } as Record<number, string>)[errors] ??
    "Unknown (continue)"
  );
}

/** e2p_encoding2str: the casefold encoding name. */
export function encodingName(encoding: number): string {
  return encoding === 1 ? "utf8-12.1" : `ENCODING_UNKNOWN_${encoding}`;
}

/** e2p_errcode2str: the errno names the kernel records in s_*_error_errcode. */
export function errcodeName(code: number): string {
  // EXT4_ERR_* (fs/ext4/ext4.h), index 0 unused.
  const names = [
    "",
    "UNKNOWN",
    "EIO",
    "ENOMEM",
    "EFSBADCRC",
    "EFSCORRUPTED",
    "ENOSPC",
    "ENOKEY",
    "EROFS",
    "EFBIG",
    "EEXIST",
    "ERANGE",
    "EOVERFLOW",
    "EBUSY",
    "ENOTDIR",
    "ENOTEMPTY",
    "ESHUTDOWN",
    "EFAULT",
  ];
  return names[code] ?? `UNKNOWN_ERRCODE_${code}`;
}
