/**
 * What a command sees of the shell it runs in: the open image, the current
 * and root directories, path resolution, and a way to report a problem while
 * still producing output. {@link Session} implements it; commands depend on
 * this interface only.
 */
import type { Filesystem } from "@ext4/core";
import type { CommandDef } from "../command.js";

/** Options for opening an image ({@link Shell.openImage}). */
export interface OpenOptions {
  /** Byte offset of the filesystem inside the file (a partitioned image). */
  offset?: number;
  /** debugfs -c: do not read the bitmaps; commands that need them fail. */
  catastrophic?: boolean;
  /** Buffer cache size in bytes. */
  cacheBytes?: number;
  /** debugfs -w: open read-write so the write commands work. */
  writable?: boolean;
  /**
   * Replay a journal that needs recovery, in memory, when opening
   * read-only (`--replay`; debugfs shows the image as it is on disk, and so
   * does ext4-debug by default). A read-write open always recovers the
   * journal on the image first, as a mount would.
   */
  replay?: boolean;
}

/** The open image. */
export interface OpenImage {
  /** The path as given. */
  readonly path: string;
  readonly offset: number;
  readonly catastrophic: boolean;
  /** True when the filesystem was opened read-write (-w and nothing forbade it). */
  readonly writable: boolean;
  /** Why a -w open ended up read-only (catastrophic mode, a feature not written), else null. */
  readonly readOnlyReason: string | null;
  readonly fs: Filesystem;
  /** What opening had to say (a retry without checksums, a read-only fallback), or null. */
  readonly warning: string | null;
}

/** The shell state and services a command may use. */
export interface Shell {
  /** The open image, or null. */
  readonly image: OpenImage | null;
  /**
   * The open filesystem. Throws CommandError `who: Filesystem not open`
   * (debugfs's check_fs_open) when none is.
   */
  requireFs(who: string): Filesystem;
  /** Current directory inode (debugfs's cwd). */
  cwd: number;
  /** Root directory inode for path resolution (debugfs's root; chroot changes it). */
  root: number;
  /**
   * debugfs's string_to_inode: `<N>` (1 ≤ N ≤ s_inodes_count) is inode N;
   * anything else is a path resolved from cwd (relative) or root
   * (absolute), following symlinks except in the last component. Throws
   * CommandError `spec: <reason>` when it does not resolve.
   */
  resolveInode(spec: string): number;
  /** Opens an image (read-only unless `options.writable`). Throws CommandError. */
  openImage(path: string, options: OpenOptions): void;
  /** Closes the image. Throws CommandError when none is open. */
  closeImage(who: string): void;
  /** Writes a warning line to stderr; the command still succeeds. */
  warn(line: string): void;
  /** Writes an error line to stderr and marks the command failed, while its output still prints. */
  fail(line: string): void;
  /** The command table (for `help`). */
  readonly commands: readonly CommandDef[];
  /** The host directory `dump`/`rdump` resolve relative paths against. */
  readonly hostCwd: string;
}
