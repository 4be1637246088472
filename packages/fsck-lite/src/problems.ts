/**
 * The problem table, in the manner of e2fsck's problem.c: every finding the
 * checker can report is one row with a stable code, a message template, a
 * severity, the pass that reports it and whether e2fsck could repair it.
 * Checks emit {@link Problem} values (a code plus context) and never print;
 * the human and JSON renderers both read the same values.
 */

/** The pass a problem belongs to: 0 is everything before pass 1 (superblock, descriptors, journal). */
export type Pass = 0 | 1 | 2 | 3 | 4 | 5;

/**
 * How bad a finding is.
 * - `error`: the filesystem is not consistent (e2fsck -n would exit 4).
 * - `warning`: e2fsck prints it but still calls the filesystem clean (its
 *   PR_NO_OK problems, e.g. a journal needing replay or a superblock count
 *   the kernel keeps lazily).
 * - `info`: a note of ours that e2fsck does not print (e.g. a backup
 *   superblock that disagrees with the primary).
 */
export type Severity = "error" | "warning" | "info";

/** One row of the problem table. */
export interface ProblemDef {
  /** The pass that reports it. */
  readonly pass: Pass;
  readonly severity: Severity;
  /** Whether e2fsck (without -n) would offer to repair it. */
  readonly fixable: boolean;
  /**
   * Message with `{field}` placeholders filled from the {@link ProblemContext}:
   * {ino} {blk} {blk2} {group} {num} {num2} {entry} {dir} {str} {lblk}.
   */
  readonly messageTemplate: string;
  /**
   * e2fsck -n stops after this problem (it cannot go on without the repair
   * it was refused); the checker finishes the pass and skips later passes
   * unless told to keep going.
   */
  readonly stops?: boolean;
}

const e = (pass: Pass, messageTemplate: string, fixable = true, stops = false): ProblemDef => ({
  pass,
  severity: "error",
  fixable,
  messageTemplate,
  ...(stops ? { stops } : {}),
});
const w = (pass: Pass, messageTemplate: string, fixable = true): ProblemDef => ({
  pass,
  severity: "warning",
  fixable,
  messageTemplate,
});
const i = (pass: Pass, messageTemplate: string): ProblemDef => ({
  pass,
  severity: "info",
  fixable: false,
  messageTemplate,
});

/** Every problem the checker can report, by stable code. */
export const PROBLEMS = {
  // ---- operational ---------------------------------------------------------
  CHECK_LIMIT: i(0, "too many problems; {num} more were not recorded"),
  IO_ERROR: e(0, "error reading block {blk}: {str}", false),
  STRUCTURE_1: e(1, "inode {ino}: malformed structure: {str}"),
  STRUCTURE_2: e(2, "directory inode {ino}, block #{lblk}: malformed structure: {str}"),
  STRUCTURE_5: e(5, "group summaries: malformed structure: {str}"),

  // ---- before pass 1: superblock -------------------------------------------
  SB_SHORT_DEVICE: e(0, "the device is too small to hold a superblock ({num} bytes)", false, true),
  SB_BAD_MAGIC: e(
    0,
    "bad magic number in the superblock ({num}); not an ext2/3/4 filesystem",
    false,
    true,
  ),
  SB_BAD_BLOCK_SIZE: e(0, "superblock block size is invalid (s_log_block_size {num})", false, true),
  SB_REV_TOO_HIGH: e(0, "filesystem revision {num} is too high for this checker", false, true),
  SB_CORRUPT_FIELD: e(0, "corruption found in superblock ({str} = {num})", false, true),
  SB_BAD_INODE_COUNT: e(0, "inode count in superblock is {num}, should be {num2}", true, true),
  SB_FIRST_DATA_BLOCK: e(
    0,
    "superblock first_data_block = {num}, should have been {num2}",
    true,
    true,
  ),
  SB_TOO_BIG: e(
    0,
    "the filesystem size (according to the superblock) is {num} blocks but the device holds only {num2}",
    true,
    true,
  ),
  SB_CHECKSUM: e(0, "superblock checksum does not match superblock", true, true),
  SB_UNSUPPORTED_INCOMPAT: e(0, "filesystem has unsupported feature(s): {str}", false, true),
  SB_UNSUPPORTED_RO_COMPAT: e(
    0,
    "filesystem has unsupported read-only feature(s): {str}",
    false,
    true,
  ),
  SB_DESC_SIZE: e(0, "group descriptor size {num} is incorrect", false, true),
  SB_FUTURE_MTIME: w(0, "superblock last mount time is in the future"),
  SB_FUTURE_WTIME: w(0, "superblock last write time is in the future"),
  SB_EXTRA_ISIZE: w(0, "bad {str} extra isize in superblock ({num})"),
  SB_BACKUP_DIFFERS: i(0, "backup superblock in group {group} differs from the primary in {str}"),
  SB_ERROR_STATE: i(0, "the superblock records that the kernel met errors (s_state {num})"),
  SB_ORPHAN_LIST: i(
    0,
    "orphan list is not empty (s_last_orphan {num}); e2fsck -n does not process it",
  ),
  SB_HASH_VERSION: i(0, "s_def_hash_version {num} is unknown"),

  // ---- before pass 1: group descriptors ------------------------------------
  GD_BLOCK_BITMAP_RANGE: e(
    0,
    "block bitmap for group {group} is not in group (block {blk})",
    true,
    true,
  ),
  GD_INODE_BITMAP_RANGE: e(
    0,
    "inode bitmap for group {group} is not in group (block {blk})",
    true,
    true,
  ),
  GD_INODE_TABLE_RANGE: e(
    0,
    "inode table for group {group} is not in group (block {blk})",
    true,
    true,
  ),
  GD_METADATA_OVERLAP: e(0, "group {group} metadata block {blk} is also used by {str}", true, true),
  GD_CHECKSUM: w(0, "group descriptor {group} checksum is {num}, should be {num2}"),
  GD_UNINIT_NO_CSUM: w(0, "group descriptor {group} marked uninitialized without feature set"),
  GD_ITABLE_UNUSED: e(0, "group descriptor {group} has invalid unused inodes count {num}"),
  GD_FREE_BLOCKS_RANGE: e(0, "group {group} free blocks count {num} exceeds the group size", true),
  GD_LAST_BLOCK_UNINIT: e(0, "last group {group} has BLOCK_UNINIT set"),

  // ---- before pass 1: journal and reserved inodes --------------------------
  JOURNAL_INVALID: e(0, "superblock has an invalid journal (inode {ino}): {str}", true, true),
  JOURNAL_SB_CORRUPT: e(0, "journal superblock is corrupt: {str}", true, true),
  JOURNAL_NO_FEATURE: e(
    0,
    "superblock has_journal flag is clear, but a journal inode {ino} is present",
  ),
  JOURNAL_RECOVERY_NO_JOURNAL: e(
    0,
    "superblock needs_recovery flag is set, but no journal is present",
    true,
    true,
  ),
  JOURNAL_NEEDS_RECOVERY: w(0, "journal needs recovery; a read-only check does not replay it"),
  JOURNAL_RECOVERY_FLAG_CLEAR: w(
    0,
    "superblock needs_recovery flag is clear, but the journal has data",
  ),
  RESIZE_INODE_INVALID: e(0, "resize inode not valid: {str}"),

  // ---- pass 1: inodes ------------------------------------------------------
  INODE_CSUM: e(1, "inode {ino} passes checks, but checksum does not match inode"),
  INODE_LOW_DTIME: e(1, "inode {ino} was part of the orphaned inode list"),
  INODE_ZERO_DTIME: e(1, "deleted inode {ino} has zero dtime"),
  INODE_SET_DTIME: e(1, "inode {ino} is in use, but has dtime set"),
  INODE_EXTRA_ISIZE: e(1, "inode {ino} has an extra size ({num}) which is invalid"),
  INODE_BAD_MODE: e(2, "inode {ino} ({str}) has invalid mode ({num})"),
  INODE_FADDR: e(2, "i_faddr for inode {ino} ({str}) is {num}, should be zero"),
  INODE_FILE_ACL_HIGH: e(2, "i_file_acl_hi for inode {ino} ({str}) is {num}, should be zero"),
  INODE_BLOCKS_HIGH: e(2, "i_blocks_hi for inode {ino} ({str}) is {num}, should be zero"),
  INODE_DIR_SIZE_HIGH: e(
    2,
    "i_size_high of directory inode {ino} ({str}) is {num}, should be zero",
  ),
  INODE_BAD_DEVICE: e(2, "inode {ino} ({str}) is an illegal {str} device or special file"),
  SYMLINK_INVALID: e(2, "symlink {str} (inode #{ino}) is invalid"),
  XATTR_BLOCK_INVALID_REF: e(
    2,
    "extended attribute block for inode {ino} ({str}) is invalid ({blk})",
  ),
  ROOT_NOT_DIR: e(1, "root inode is not a directory"),
  ROOT_DTIME: e(1, "root inode has dtime set"),
  RESERVED_BAD_MODE: e(1, "reserved inode {ino} has bad mode"),
  BAD_BLOCKS_INODE: e(1, "the bad block inode looks invalid"),
  JOURNAL_NOT_REGULAR: e(1, "journal inode is not a regular file"),
  IMMUTABLE_SPECIAL: w(
    1,
    "special (device/socket/fifo/symlink) file (inode {ino}) has immutable or append-only flag set",
  ),
  SPECIAL_NONZERO_SIZE: e(1, "special (device/socket/fifo) inode {ino} has non-zero size"),
  INDEX_FL_NOT_DIR: e(1, "inode {ino} has INDEX_FL flag set but is not a directory"),
  INDEX_FL_NO_FEATURE: e(
    1,
    "inode {ino} has INDEX_FL flag set on filesystem without htree support",
  ),
  EXTENTS_FL_NO_FEATURE: e(
    1,
    "inode {ino} has EXTENTS_FL flag set on filesystem without extents support",
  ),
  EXTENTS_FL_MISSING: e(1, "inode {ino} missing EXTENTS_FL, but is in extents format"),
  INLINE_FL_NO_FEATURE: e(
    1,
    "inode {ino} has INLINE_DATA_FL flag on filesystem without inline data support",
  ),
  INLINE_NO_XATTR: e(1, "inode {ino} has INLINE_DATA_FL flag but extended attribute not found"),
  INLINE_AND_EXTENTS: e(1, "inode {ino} has inline data and extent flags set"),
  BAD_I_SIZE: e(1, "inode {ino}, i_size is {num}, should be {num2}"),
  BAD_I_BLOCKS: e(1, "inode {ino}, i_blocks is {num}, should be {num2}"),
  ZERO_LENGTH_DIR: e(1, "inode {ino} is a zero-length directory"),
  ILLEGAL_BLOCK: e(1, "illegal block #{lblk} ({blk}) in inode {ino}"),
  ILLEGAL_INDIRECT: e(1, "illegal indirect block ({blk}) in inode {ino}"),
  BLOCK_ITERATE: e(
    1,
    "error while iterating over blocks in inode {ino}: illegal indirect block found",
    false,
    true,
  ),
  TOO_BIG: e(1, "block #{lblk} ({blk}) causes inode {ino} to be too big"),
  DUP_BLOCKS: e(1, "inode {ino} has {num} multiply-claimed block(s), shared with {str}"),
  EXTENT_HEADER: e(1, "inode {ino} has corrupt extent header"),
  EXTENT_NODE: e(1, "inode {ino} has an invalid extent node (blk {blk}, lblk {lblk})"),
  EXTENT_CSUM: e(
    1,
    "inode {ino} extent block {blk} passes checks, but checksum does not match extent",
  ),
  EXTENT_BAD_START: e(
    1,
    "inode {ino} has an invalid extent (logical block {lblk}, invalid physical block {blk}, len {num})",
  ),
  EXTENT_BAD_LEN: e(
    1,
    "inode {ino} has an invalid extent (logical block {lblk}, physical block {blk}, invalid len {num})",
  ),
  EXTENT_ZERO_LEN: e(
    1,
    "inode {ino} has zero length extent (invalid logical block {lblk}, physical block {blk})",
  ),
  EXTENT_ORDER: e(
    1,
    "inode {ino} has out of order extents (invalid logical block {lblk}, physical block {blk}, len {num})",
  ),
  EXTENT_END_BEYOND: e(
    1,
    "inode {ino}, end of extent exceeds allowed value (logical block {lblk}, physical block {blk}, len {num})",
  ),
  EXTENT_INDEX_START: e(
    1,
    "interior extent node of inode {ino}: logical start {lblk} does not match logical start {num} at next level",
  ),
  EXTENT_ITERATE: e(
    1,
    "failed to iterate extents in inode {ino} (blk {blk}, lblk {lblk}): an index node with no entries",
    false,
    true,
  ),
  UNINIT_DIR_EXTENT: e(1, "directory inode {ino} has extent marked uninitialized at block {lblk}"),
  EXTENT_TOO_DEEP: e(1, "inode {ino} extent tree depth {num} is too deep"),
  XATTR_BLOCK_READ: e(1, "error reading extended attribute block {blk} for inode {ino} ({str})"),
  XATTR_BLOCK_BAD: e(1, "inode {ino} has a bad extended attribute block {blk}"),
  XATTR_BLOCK_CSUM: e(
    1,
    "inode {ino} extended attribute block {blk} passes checks, but checksum does not match block",
  ),
  XATTR_BLOCK_CORRUPT: e(1, "extended attribute block {blk} is corrupt ({str})"),
  XATTR_REFCOUNT: e(
    1,
    "extended attribute block {blk} has reference count {num}, should be {num2}",
  ),
  XATTR_REFCOUNT_READ: e(
    1,
    "error reading extended attribute block {blk} to fix its reference count (bad header)",
    false,
    true,
  ),
  XATTR_HASH: e(1, "extended attribute in inode {ino} has a hash ({num}) which is invalid"),
  XATTR_IBODY_CORRUPT: e(1, "inode {ino} extended attribute is corrupt ({str})"),
  DUP_SCAN_ABORT: e(
    1,
    "error while rescanning inodes for multiply-claimed blocks: inode {ino} checksum does not match inode",
    false,
    true,
  ),
  DIR_TOO_DEEP_HTREE: e(1, "HTREE directory inode {ino} has a tree depth ({num}) which is too big"),
  HTREE_HASH_VERSION: e(1, "HTREE directory inode {ino} has an unsupported hash version ({num})"),
  HTREE_ROOT_INVALID: e(1, "HTREE directory inode {ino} has an invalid root node"),
  HTREE_INCOMPAT: e(1, "HTREE directory inode {ino} uses an incompatible htree root node flag"),
  HTREE_NO_FEATURE: e(1, "inode {ino} has INDEX_FL flag set on filesystem without htree support"),
  LARGE_DIR_FEATURE: e(
    1,
    "filesystem has large directories, but lacks LARGE_DIR flag in superblock",
  ),

  // ---- pass 2: directories -------------------------------------------------
  DIR_CORRUPTED: e(
    2,
    "directory inode {ino}, block #{lblk}, offset {num}: directory corrupted",
    true,
    true,
  ),
  DIR_CSUM: e(
    2,
    "directory inode {ino}, block #{lblk}: directory passes checks but fails checksum",
  ),
  DIR_NO_CSUM: e(
    2,
    "directory inode {ino}, block #{lblk}, offset {num}: directory has no checksum",
  ),
  DIR_HOLE: e(2, "directory inode {ino} has an unallocated block #{lblk}"),
  DIR_MISSING_DOT: e(
    2,
    "first entry '{entry}' (inode={num}) in directory inode {ino} ({str}) should be '.'",
  ),
  DIR_BAD_DOT_INODE: e(2, "invalid inode number for '.' in directory inode {ino}"),
  DIR_MISSING_DOTDOT: e(
    2,
    "second entry '{entry}' (inode={num}) in directory inode {ino} should be '..'",
  ),
  DIRENT_BAD_INODE: e(2, "entry '{entry}' in {str} ({ino}) has invalid inode #: {num}"),
  DIRENT_UNUSED_INODE: e(2, "entry '{entry}' in {str} ({ino}) has deleted/unused inode {num}"),
  DIRENT_UNINIT_INODE: e(
    2,
    "entry '{entry}' in {str} ({ino}) references inode {num} in group {group} where _INODE_UNINIT is set",
  ),
  DIRENT_UNUSED_AREA: e(
    2,
    "entry '{entry}' in {str} ({ino}) references inode {num} found in group {group}'s unused inodes area",
  ),
  DIRENT_LINK_ROOT: e(2, "entry '{entry}' in {str} ({ino}) is a link to the root inode"),
  DIRENT_LINK_DIR: e(2, "entry '{entry}' in {str} ({ino}) is a link to directory {num}"),
  DIRENT_LINK_DOT: e(2, "entry '{entry}' in {str} ({ino}) is a link to '.'"),
  DIRENT_BAD_NAME: e(2, "entry '{entry}' in {str} ({ino}) has illegal characters in its name"),
  DIRENT_ZERO_NAME: e(2, "entry in {str} ({ino}) has a zero-length name"),
  DIRENT_FILETYPE: e(
    2,
    "entry '{entry}' in {str} ({ino}) has an incorrect filetype (was {num}, should be {num2})",
  ),
  DIRENT_FILETYPE_SET: e(
    2,
    "entry '{entry}' in {str} ({ino}) has filetype set without the filetype feature",
  ),
  DIRENT_DUPLICATE: e(2, "duplicate entry '{entry}' found in {str} ({ino})"),
  DIRENT_DUP_DOT: e(2, "entry '{entry}' in {str} ({ino}) is a duplicate '.' or '..' entry"),
  HTREE_BAD_LIMIT: e(
    2,
    "problem in HTREE directory inode {ino}: block #{lblk} has invalid limit ({num})",
  ),
  HTREE_BAD_COUNT: e(
    2,
    "problem in HTREE directory inode {ino}: block #{lblk} has invalid count ({num})",
  ),
  HTREE_HASH_ORDER: e(
    2,
    "problem in HTREE directory inode {ino}: block #{lblk} has an unordered hash table",
  ),
  HTREE_BAD_DEPTH: e(
    2,
    "problem in HTREE directory inode {ino}: block #{lblk} has invalid depth ({num})",
  ),
  HTREE_BAD_BLOCK: e(2, "problem in HTREE directory inode {ino}: bad block number {lblk}"),
  HTREE_MIN_HASH: e(2, "problem in HTREE directory inode {ino}: block #{lblk} has bad min hash"),
  HTREE_MAX_HASH: e(2, "problem in HTREE directory inode {ino}: block #{lblk} has bad max hash"),
  HTREE_NOT_REFERENCED: e(
    2,
    "problem in HTREE directory inode {ino}: block #{lblk} not referenced",
  ),
  HTREE_DUP_REF: e(2, "problem in HTREE directory inode {ino}: block #{lblk} referenced twice"),
  HTREE_ROOT_CSUM: e(2, "problem in HTREE directory inode {ino}: root node fails checksum"),
  HTREE_NODE_CSUM: e(
    2,
    "problem in HTREE directory inode {ino}: internal node {lblk} fails checksum",
  ),
  HTREE_INVALID: e(2, "invalid HTREE directory inode {ino} ({str})"),

  // ---- pass 3: connectivity ------------------------------------------------
  NO_ROOT: e(3, "root inode not allocated", true, true),
  ROOT_NOT_DIR_ABORT: e(3, "root inode is not a directory; aborting", false, true),
  DIR_NON_UNIQUE: e(3, "directory inode {ino} has non-unique filenames (found in pass 2)"),
  UNCONNECTED_DIR: e(3, "unconnected directory inode {ino} (was in {str})"),
  BAD_DOTDOT: e(3, "'..' in {str} ({ino}) is {num}, should be {num2}"),
  NO_LOST_FOUND: i(3, "/lost+found not found"),
  LOST_FOUND_NOT_DIR: i(3, "/lost+found is not a directory (inode {ino})"),

  // ---- pass 4: reference counts --------------------------------------------
  UNATTACHED_INODE: e(4, "unattached inode {ino}"),
  INODE_REREAD: e(
    4,
    "inode {ino} checksum does not match inode while re-reading it in pass 4",
    false,
    true,
  ),
  UNATTACHED_ZERO_LEN: e(4, "unattached zero-length inode {ino}"),
  BAD_REF_COUNT: e(4, "inode {ino} ref count is {num}, should be {num2}"),

  // ---- pass 5: group summaries -------------------------------------------------
  BLOCK_BITMAP_DIFF: e(5, "block bitmap differences: {str}"),
  INODE_BITMAP_DIFF: e(5, "inode bitmap differences: {str}"),
  BLOCK_BITMAP_PADDING: e(5, "padding at end of block bitmap is not set"),
  INODE_BITMAP_PADDING: e(5, "padding at end of inode bitmap is not set"),
  FREE_BLOCKS_GROUP: e(5, "free blocks count wrong for group #{group} ({num}, counted={num2})"),
  FREE_INODES_GROUP: e(5, "free inodes count wrong for group #{group} ({num}, counted={num2})"),
  DIRS_COUNT_GROUP: e(5, "directories count wrong for group #{group} ({num}, counted={num2})"),
  FREE_BLOCKS_TOTAL: w(5, "free blocks count wrong ({num}, counted={num2})"),
  FREE_INODES_TOTAL: w(5, "free inodes count wrong ({num}, counted={num2})"),
  BLOCK_BITMAP_CSUM: e(5, "group {group} block bitmap does not match checksum"),
  INODE_BITMAP_CSUM: e(5, "group {group} inode bitmap does not match checksum"),
} as const satisfies Record<string, ProblemDef>;

/** A stable problem code (a key of {@link PROBLEMS}). */
export type ProblemCode = keyof typeof PROBLEMS;

/** Where a problem is and the numbers that describe it; every field optional. */
export interface ProblemContext {
  ino?: number;
  blk?: number;
  blk2?: number;
  lblk?: number;
  group?: number;
  num?: number;
  num2?: number;
  /** A directory entry name. */
  entry?: string;
  /** The directory holding `entry`. */
  dir?: number;
  str?: string;
}

/** One finding: a row of the table plus its context and rendered message. */
export interface Problem {
  readonly code: ProblemCode;
  readonly pass: Pass;
  readonly severity: Severity;
  readonly fixable: boolean;
  readonly message: string;
  readonly context: Readonly<ProblemContext>;
}

/** Renders a template: each `{field}` becomes the context value, `?` when absent. */
export function formatMessage(template: string, ctx: ProblemContext): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const v = (ctx as Record<string, unknown>)[key];
    return v === undefined ? "?" : String(v);
  });
}

/** Builds the {@link Problem} for `code` with `context`. */
export function makeProblem(code: ProblemCode, context: ProblemContext = {}): Problem {
  const def: ProblemDef = PROBLEMS[code];
  return {
    code,
    pass: def.pass,
    severity: def.severity,
    fixable: def.fixable,
    message: formatMessage(def.messageTemplate, context),
    context,
  };
}
