/**
 * The state of one directory change: the host, the directory inode as last
 * returned by the host (every host call that changes the inode hands back a
 * re-read one, and only that one may be used afterwards), and the helpers
 * every write path shares. Blocks are read as private copies, changed in
 * memory and only then written back one at a time (`fileBlockForWrite`,
 * copy, `dirtyFileBlock`), so all checks on what is read happen before the
 * first byte changes, and the host's rule — nothing else between taking a
 * block for write and marking it dirty — holds by construction.
 */
import { corrupt, type Ext4ErrorContext, fsError } from "../errors.js";
import { DirInodeFlag } from "./constants.js";
import { type DirContext, dirContext, ProbeCopies, readDirBlock } from "./context.js";
import type { DirParseOptions } from "./entry.js";
import type { DirInode, DirTime, DirWriteHost } from "./host.js";
import { parseOptions } from "./htree.js";

/** The buffer {@link DirWriter.read} copies blocks into. */
const readCopies = new ProbeCopies();

/** One directory being changed. */
export class DirWriter {
  dir: DirInode;
  d: DirContext;
  readonly bs: number;
  /** The per-inode checksum seed with metadata_csum, else null (no tails to write). */
  readonly seed: number | null;
  /** i_flags to store when the change is finished (EXT4_INDEX_FL set or cleared on the way). */
  flags: number;

  /**
   * Starts a change of `dir`. Throws ReadOnly FS_READ_ONLY when the host is
   * not writable and NotADirectory DIR_NOT_A_DIRECTORY.
   */
  constructor(
    readonly host: DirWriteHost,
    dir: DirInode,
  ) {
    if (!host.writable) {
      throw fsError("ReadOnly", "FS_READ_ONLY", "filesystem is not writable", { inode: dir.ino });
    }
    this.dir = dir;
    this.d = dirContext(host, dir);
    this.bs = host.blockSize;
    this.seed = this.d.metadataCsum ? this.d.inodeSeed() : null;
    this.flags = dir.flags;
  }

  /** Takes the inode the host returned after changing it. */
  refresh(inode: DirInode): void {
    this.dir = inode;
    this.d = dirContext(this.host, inode);
  }

  /** Error context naming the directory (and a block). */
  ctx(lblk?: number): Ext4ErrorContext {
    return lblk === undefined ? this.d.errorContext : { ...this.d.errorContext, block: lblk };
  }

  /** Entry parse options for block `lblk`. */
  parseOptions(lblk: number): DirParseOptions {
    return parseOptions(this.d, this.ctx(lblk));
  }

  /**
   * Blocks of a block directory: i_size / block size. A directory whose
   * i_size is not a whole number of blocks would make the next block land
   * on a mapped one, so it is refused. Throws Corrupt DIR_SIZE_UNALIGNED.
   */
  blockCount(): number {
    if (this.d.size % this.bs !== 0) {
      throw corrupt(
        "DIR_SIZE_UNALIGNED",
        `directory i_size ${this.d.size} is not a multiple of the block size`,
        this.ctx(),
      );
    }
    return this.d.size / this.bs;
  }

  /**
   * A private copy of block `lblk`, or null for a hole. The copy is a
   * buffer shared by every writer and valid until the next read: each
   * change reads a block, edits it and commits it before reading another
   * (a 4 KiB allocation per change showed in profiles). Throws like
   * readDirBlock.
   */
  read(lblk: number): Uint8Array | null {
    const block = readDirBlock(this.d, lblk);
    return block === null ? null : readCopies.copy(0, block);
  }

  /**
   * Writes a whole block image into the host's buffer of `lblk` and marks it
   * dirty. Throws Corrupt DIR_BLOCK_SIZE for a buffer of the wrong size, and
   * whatever the host throws.
   */
  commit(lblk: number, bytes: Uint8Array): void {
    const buf = this.host.fileBlockForWrite(this.dir, lblk);
    if (buf.length !== this.bs) {
      throw corrupt("DIR_BLOCK_SIZE", `directory block of ${buf.length} bytes`, this.ctx(lblk));
    }
    buf.set(bytes);
    this.host.dirtyFileBlock(this.dir, lblk);
  }

  /**
   * Maps a new zeroed block at `lblk` (the kernel's `ext4_append`, which
   * refuses a logical block that is already mapped). Throws Corrupt
   * DIR_BLOCK_ALREADY_MAPPED, and NoSpace / FileTooBig from the host.
   */
  grow(lblk: number): void {
    if (this.host.readFileBlock(this.dir, lblk) !== null) {
      throw corrupt(
        "DIR_BLOCK_ALREADY_MAPPED",
        `directory block ${lblk} past i_size is already mapped`,
        this.ctx(lblk),
      );
    }
    this.refresh(this.host.growDirectory(this.dir, lblk));
  }

  /**
   * Finishes a change that added or removed a name: stores mtime/ctime (and
   * `size`, and the flags when they changed) in one inode update and
   * returns the re-read inode. Without dir_index, EXT4_INDEX_FL is dropped
   * as the kernel's `ext4_update_dx_flag` does.
   */
  touch(size?: number): DirInode {
    if (!this.host.hasFeature("dir_index")) this.flags = (this.flags & ~DirInodeFlag.Index) >>> 0;
    const now: DirTime = this.host.now();
    const changes: { size?: number; flags?: number; mtime: DirTime; ctime: DirTime } = {
      mtime: now,
      ctime: now,
    };
    if (size !== undefined && size !== this.dir.size) changes.size = size;
    if (this.flags !== this.dir.flags) changes.flags = this.flags;
    this.refresh(this.host.updateInode(this.dir.ino, changes));
    return this.dir;
  }
}
