/**
 * Edits below the POSIX level, as debugfs -w makes them with libext2fs:
 * directory entries added or removed without touching link counts, inode
 * bytes read and written raw (checksum recomputed or kept), bits of the
 * allocation bitmaps set or cleared without touching the free counts,
 * inodes cleared or killed, blocks punched out of or preallocated into a
 * map regardless of i_size, a directory grown by one empty block, and
 * superblock and group descriptor fields set by their field-table names.
 *
 * These are the tools for building test images and repairing broken ones,
 * so most of them may leave a filesystem e2fsck objects to — that is their
 * purpose. What they never do is write outside the structure they were
 * asked to change: every block and inode number is checked against the
 * filesystem, a change that would make the superblock or a descriptor
 * unreadable to this toolkit is refused before anything is written, and
 * every metadata buffer is declared through {@link WriteEngine.dirty}
 * inside one {@link WriteEngine.op}, so the journal sees each change.
 */
import { buildLeaf } from "../dir/edit.js";
import type { DirWriteHost } from "../dir/host.js";
import { inlineToBlock } from "../dir/inline-write.js";
import { lookup, nameBytes } from "../dir/read.js";
import { addEntry, removeEntry } from "../dir/write.js";
import { DirWriter } from "../dir/writer.js";
import { Ext4Error, type Ext4ErrorContext, fsError } from "../errors.js";
import { fillBits, testBit, uninitBlockBitmap } from "../format/bitmap.js";
import {
  EXT4_BG_BLOCK_UNINIT,
  EXT4_BG_INODE_UNINIT,
  GROUP_DESC,
  type GroupDesc,
  type GroupDescField,
  groupDescChecksum,
  parseGroupDesc,
} from "../format/group-desc.js";
import {
  EXT4_GOOD_OLD_INODE_SIZE,
  INODE,
  type InodeField,
  inodeChecksumValid,
  setInodeChecksum,
} from "../format/inode.js";
import {
  EXT4_VALID_FS,
  groupFirstBlock,
  parseSuperblock,
  SUPERBLOCK,
  type SuperblockField,
} from "../format/superblock.js";
import type { Field, Struct } from "../struct.js";
import { ByteView } from "../view.js";
import { fileMap } from "./blockmap.js";
import type { SpacePolicy, WorkInode, WriteEngine } from "./engine.js";
import { FALLOC, fallocate, isFastSymlinkWork, maxFileBytes } from "./file.js";
import { setInlineContent } from "./inline.js";
import { fileTypeOfMode } from "./namespace.js";

/** What the raw editor needs from the open filesystem. */
export interface RawHost {
  /** The write engine of the filesystem (its host is the read side). */
  readonly engine: WriteEngine;
  /** The filesystem as a directory host (entries are changed through the directory module). */
  readonly dir: DirWriteHost;
  /** Changes the s_state a clean close writes back (the kernel's s_mount_state). */
  setMountState(state: number): void;
}

/** One field of a structure and its new value: a number, or the whole byte array of a bytes field. */
export interface RawFieldChange<N extends string> {
  readonly field: N;
  readonly value: number | Uint8Array;
}

/** The result of {@link RawEditor.setBlocksInUse} / {@link RawEditor.setInodesInUse}. */
export interface BitChange {
  /** Runs of numbers whose bit already had the requested state (debugfs warns about them). */
  readonly unchanged: readonly NumberRun[];
}

/** A run of consecutive block or inode numbers. */
export interface NumberRun {
  readonly start: number;
  readonly count: number;
}

/** What {@link RawEditor.killFile} did. */
export interface KillResult {
  /** Blocks that were freed (data and map blocks). */
  readonly freedBlocks: number;
  /** Runs of map blocks the bitmap already showed free (left alone). */
  readonly alreadyFree: readonly NumberRun[];
  /** False when the inode bitmap already showed the inode free (left alone). */
  readonly inodeWasInUse: boolean;
}

/** Space policy of raw edits: debugfs runs as root and may use the reserved blocks. */
const ROOT: SpacePolicy = { reserved: true };
/** Map surgery (punch) that must not fail for want of an extent split. */
const NOFAIL: SpacePolicy = { reserved: true, nofail: true };

function invalid(code: string, message: string, ctx: Ext4ErrorContext = {}): Ext4Error {
  return fsError("InvalidArgument", code, message, ctx);
}

/**
 * Writes `value` into field `f` of `v` after checking it fits the field's
 * width and kind (numbers must be integers in range; signed fields accept
 * the unsigned spelling of a negative value too; byte arrays must fit and
 * are zero-padded). Throws InvalidArgument RAW_VALUE_RANGE.
 */
function setField<N extends string>(
  s: Struct<N>,
  v: ByteView,
  f: Field<N>,
  value: number | Uint8Array,
): void {
  if (f.kind === "bytes") {
    if (!(value instanceof Uint8Array) || value.length > f.width) {
      throw invalid("RAW_VALUE_RANGE", `${f.name} takes at most ${f.width} bytes`);
    }
    s.setBytes(v, f.name, value);
    return;
  }
  if (typeof value !== "number" || !Number.isSafeInteger(value)) {
    throw invalid("RAW_VALUE_RANGE", `${f.name} takes an integer`);
  }
  const bits = f.width * 8;
  const max = 2 ** bits - 1;
  if (f.kind === "i") {
    if (value < -(2 ** (bits - 1)) || value > max) {
      throw invalid("RAW_VALUE_RANGE", `${value} does not fit ${f.name}`);
    }
    s.set(v, f.name, value > 2 ** (bits - 1) - 1 ? value - 2 ** bits : value);
    return;
  }
  if (value < 0 || value > Math.min(max, Number.MAX_SAFE_INTEGER)) {
    throw invalid("RAW_VALUE_RANGE", `${value} does not fit ${f.name} (at most ${max})`);
  }
  s.set(v, f.name, value);
}

/**
 * The raw editor of a filesystem opened read-write (Filesystem.raw()). Every
 * method runs as one engine operation: when it returns or throws, bitmap and
 * descriptor checksums are consistent with what was written.
 */
export class RawEditor {
  constructor(private readonly h: RawHost) {}

  private get e(): WriteEngine {
    return this.h.engine;
  }

  private checkIno(ino: number): void {
    const n = this.e.geo.inodesCount;
    if (!(Number.isSafeInteger(ino) && ino >= 1 && ino <= n)) {
      throw invalid("RAW_BAD_INODE", `inode number ${ino} outside [1, ${n}]`, { inode: ino });
    }
  }

  // ---- directory entries ----

  /**
   * Adds the entry `name` → `ino` to directory `dir` (libext2fs's
   * ext2fs_link, debugfs `link`): the target's link count is not changed.
   * The file type comes from the target's mode unless given. The directory
   * grows (or becomes indexed, or leaves inline data) as needed. Throws
   * InvalidArgument (inode number, name), NotADirectory, Exists, NameTooLong,
   * NoSpace, Corrupt, BadChecksum.
   */
  link(dir: number, name: Uint8Array | string, ino: number, fileType?: number): void {
    this.checkIno(ino);
    this.e.op(() => {
      const d = this.h.dir.readInode(dir);
      const n = nameBytes(name);
      if (lookup(this.h.dir, d, n) !== null) {
        throw fsError("Exists", "EXISTS", "name exists", { inode: dir });
      }
      const type = fileType ?? fileTypeOfMode(this.e.host.readInode(ino).mode);
      addEntry(this.h.dir, d, n, ino, type);
    });
  }

  /**
   * Removes the entry `name` from directory `dir` (ext2fs_unlink, debugfs
   * `unlink`): the inode it named is not touched. Returns what the entry
   * pointed at. Throws NotADirectory, NotFound DIR_ENTRY_NOT_FOUND,
   * InvalidArgument ("." and ".."), Corrupt, BadChecksum.
   */
  unlink(dir: number, name: Uint8Array | string): { ino: number; fileType: number } {
    return this.e.op(() => {
      const old = removeEntry(this.h.dir, this.h.dir.readInode(dir), name);
      return { ino: old.ino, fileType: old.fileType };
    });
  }

  /**
   * Adds one empty block at the end of directory `ino` (ext2fs_expand_dir,
   * debugfs `expand_dir`); an inline directory moves to its first block
   * instead. Throws NotADirectory, NotSupported (an htree directory, whose
   * index would not cover the new block), NoSpace, FileTooBig, Corrupt.
   */
  expandDir(ino: number): void {
    this.e.op(() => {
      const w = new DirWriter(this.h.dir, this.h.dir.readInode(ino));
      if (w.d.inline) {
        inlineToBlock(w);
        return;
      }
      if (w.d.indexed) {
        throw fsError(
          "NotSupported",
          "RAW_EXPAND_INDEXED",
          "an htree directory cannot take an unindexed block",
          { inode: ino },
        );
      }
      const n = w.blockCount();
      w.grow(n);
      // OK to assert: an empty leaf always fits a block.
      w.commit(n, buildLeaf([], w.bs, w.seed)!);
    });
  }

  // ---- inodes ----

  /**
   * The on-disk bytes of inode `ino` (s_inode_size of them). Slots the
   * group descriptor says were never used read as zeros, as e2fsprogs reads
   * them. With `verify`, a checksum mismatch throws BadChecksum. Throws
   * InvalidArgument RAW_BAD_INODE, Corrupt, Io.
   */
  inodeBytes(ino: number, opts: { verify?: boolean } = {}): Uint8Array {
    this.checkIno(ino);
    const sb = this.e.geo;
    const loc = this.e.host.inodeLocation(ino);
    // OK to assert: inodeLocation validated the group.
    const gd = this.e.meta.groups[loc.group]!;
    const raw = new Uint8Array(sb.inodeSize);
    const neverUsed =
      sb.features.groupDescCsum &&
      ((gd.flags & EXT4_BG_INODE_UNINIT) !== 0 || loc.index >= sb.inodesPerGroup - gd.itableUnused);
    if (neverUsed) return raw;
    const buf = this.e.host.readBlock(loc.block, { inode: ino });
    raw.set(buf.subarray(loc.offset, loc.offset + sb.inodeSize));
    if (
      opts.verify === true &&
      sb.features.metadataCsum &&
      !inodeChecksumValid(sb.csumSeed, ino, raw, sb.inodeSize)
    ) {
      throw new Ext4Error("BadChecksum", "INODE_BAD_CHECKSUM", "inode checksum mismatch", {
        inode: ino,
        block: loc.block,
        offset: loc.offset,
      });
    }
    return raw;
  }

  /**
   * Writes `bytes` (at least s_inode_size of them) into inode slot `ino`,
   * with the checksum recomputed for this inode number when `checksum` is
   * true and metadata_csum is on (debugfs_write_inode), or exactly as given
   * (WRITE_INODE_NOCSUM). Throws InvalidArgument, Io.
   */
  writeInodeBytes(ino: number, bytes: Uint8Array, opts: { checksum: boolean }): void {
    this.checkIno(ino);
    const sb = this.e.geo;
    if (bytes.length < sb.inodeSize) {
      throw invalid("RAW_INODE_SIZE", `${bytes.length} bytes for a ${sb.inodeSize}-byte inode`, {
        inode: ino,
      });
    }
    const raw = bytes.slice(0, sb.inodeSize);
    if (opts.checksum && sb.features.metadataCsum) {
      setInodeChecksum(sb.csumSeed, ino, raw, sb.inodeSize);
    }
    this.e.op(() => this.storeRaw(ino, raw));
  }

  private storeRaw(ino: number, raw: Uint8Array): void {
    const loc = this.e.host.inodeLocation(ino);
    const buf = this.e.host.readBlock(loc.block, { inode: ino });
    buf.set(raw, loc.offset);
    this.e.dirty(loc.block);
    // Any decoded copy the operation kept is now stale.
    this.e.forgetInode(ino);
  }

  /**
   * Sets fields of inode `ino` by their INODE table names and writes it
   * back (debugfs `set_inode_field`): the checksum is recomputed unless
   * `checksum` is false (setting the checksum field itself). The current
   * checksum is verified first unless `verify` is false (debugfs reads
   * without verifying only to set the checksum field). With an empty change
   * list, `checksum` true and `verify` false this is `set_inode_field X
   * checksum calc`. Returns the bytes written. Fields past 128 +
   * i_extra_isize are refused: they would land in the in-inode xattr area.
   * Throws InvalidArgument (RAW_FIELD_OUTSIDE, RAW_VALUE_RANGE), BadChecksum,
   * Corrupt, Io.
   */
  setInodeFields(
    ino: number,
    changes: readonly RawFieldChange<InodeField>[],
    opts: { checksum: boolean; verify?: boolean },
  ): Uint8Array {
    return this.e.op(() => {
      const sb = this.e.geo;
      const raw = this.inodeBytes(ino, { verify: opts.verify !== false });
      const v = new ByteView(raw, { inode: ino });
      for (const c of changes) {
        const f = INODE.field(c.field);
        const extra =
          sb.inodeSize > EXT4_GOOD_OLD_INODE_SIZE ? INODE.get(v, "i_extra_isize") : -Infinity;
        const limit =
          c.field === "i_extra_isize" && sb.inodeSize > EXT4_GOOD_OLD_INODE_SIZE
            ? sb.inodeSize
            : Math.min(sb.inodeSize, EXT4_GOOD_OLD_INODE_SIZE + Math.max(0, extra));
        if (f.offset + f.width > limit) {
          throw invalid(
            "RAW_FIELD_OUTSIDE",
            `${c.field} lies outside this inode's ${limit} bytes of fields`,
            { inode: ino },
          );
        }
        setField(INODE, v, f, c.value);
      }
      if (opts.checksum && sb.features.metadataCsum) {
        setInodeChecksum(sb.csumSeed, ino, raw, sb.inodeSize);
      }
      this.storeRaw(ino, raw);
      return raw;
    });
  }

  /**
   * Copies the on-disk bytes of inode `src` over inode `dst` (debugfs
   * `copy_inode`), the checksum recomputed for `dst`. The source checksum is
   * verified first. Throws InvalidArgument, BadChecksum, Corrupt, Io.
   */
  copyInode(src: number, dst: number): void {
    const bytes = this.inodeBytes(src, { verify: true });
    this.writeInodeBytes(dst, bytes, { checksum: true });
  }

  /**
   * Zeroes the 128-byte base of inode `ino` (debugfs `clri`: the extra
   * fields and in-inode xattrs past it stay), checksum recomputed. The
   * current checksum is not verified: clearing a damaged inode is what
   * this is for. Throws InvalidArgument, Io.
   */
  clearInode(ino: number): void {
    const raw = this.inodeBytes(ino);
    raw.fill(0, 0, EXT4_GOOD_OLD_INODE_SIZE);
    this.writeInodeBytes(ino, raw, { checksum: true });
  }

  /**
   * Deallocates inode `ino` and its blocks (debugfs `kill_file`): i_dtime
   * is set to now, every data and map block the map names is freed in the
   * bitmap and the free counts, and the inode is freed (with
   * bg_used_dirs_count for a directory). Directory entries, the link count,
   * i_size, the map itself and the xattr block are left as they are.
   * Blocks (and the inode) the bitmaps already show free are left alone and
   * reported. Throws InvalidArgument, Corrupt (a map naming metadata
   * blocks: nothing is changed then), BadChecksum, Io.
   */
  killFile(ino: number): KillResult {
    this.checkIno(ino);
    return this.e.op(() => {
      const e = this.e;
      const inode = e.host.readInode(ino);
      const runs: Array<{ start: number; count: number }> = [];
      for (const b of e.host.blockList(inode)) {
        if (b.kind === "metadata") runs.push({ start: b.physical, count: 1 });
        else runs.push({ start: b.physical, count: b.length });
      }
      for (const r of runs) e.alloc.checkFileBlocks(r.start, r.count, { inode: ino });
      // A corrupt map may name a block twice: free each once.
      runs.sort((a, b) => a.start - b.start);
      const used = new BitReader(e);
      const toFree = new RunList();
      const alreadyFree = new RunList();
      let covered = 0;
      for (const r of runs) {
        for (let b = Math.max(r.start, covered); b < r.start + r.count; b++) {
          (used.block(b) ? toFree : alreadyFree).add(b);
        }
        covered = Math.max(covered, r.start + r.count);
      }
      const inodeWasInUse = used.inode(ino);
      this.setInodeFields(ino, [{ field: "i_dtime", value: e.now().sec >>> 0 }], {
        checksum: true,
      });
      let freed = 0;
      for (const r of toFree.runs) {
        e.alloc.freeBlocks(r.start, r.count, { inode: ino });
        freed += r.count;
      }
      if (inodeWasInUse) e.alloc.freeInode(ino, inode.isDirectory());
      return { freedBlocks: freed, alreadyFree: alreadyFree.runs, inodeWasInUse };
    });
  }

  /**
   * Maps logical block `lblk` of `ino` to physical block `physical`
   * (debugfs `set_inode_field X bmap[N]`): map blocks the change needs are
   * allocated and counted, the data block itself is neither marked in the
   * bitmap nor counted in i_blocks, as ext2fs_bmap2 with BMAP_SET leaves
   * it. Throws InvalidArgument (no block map, block outside the
   * filesystem), Exists (already mapped elsewhere), FileTooBig, NoSpace,
   * Corrupt.
   */
  mapBlock(ino: number, lblk: number, physical: number): void {
    this.checkIno(ino);
    const sb = this.e.geo;
    if (
      !(
        Number.isSafeInteger(physical) &&
        physical >= sb.firstDataBlock &&
        physical < sb.blocksCount
      )
    ) {
      throw invalid("RAW_BAD_BLOCK", `block ${physical} outside the filesystem`, { inode: ino });
    }
    this.e.op(() => {
      const w = this.mapped(ino);
      const map = fileMap(this.e, w, NOFAIL);
      if (!(Number.isSafeInteger(lblk) && lblk >= 0 && lblk < map.maxBlocks)) {
        throw fsError("FileTooBig", "RAW_BAD_LBLK", `logical block ${lblk} past the map`, {
          inode: ino,
        });
      }
      const [run] = map.map(lblk, 1);
      if (run !== undefined && run.kind === "mapped") {
        if (run.physical === physical) return;
        throw fsError(
          "Exists",
          "RAW_LBLK_MAPPED",
          `logical block ${lblk} is mapped to ${run.physical}`,
          {
            inode: ino,
          },
        );
      }
      map.insert(lblk, physical, 1, false);
      this.e.store(w);
    });
  }

  /** A work inode with a block map (no inline data, fast symlink, device, fifo or socket). */
  private mapped(ino: number): WorkInode {
    const w = this.e.load(ino);
    const hasMap =
      !w.hasInline() && (w.isReg() || w.isDir() || (w.isLink() && !isFastSymlinkWork(this.e, w)));
    if (!hasMap) {
      throw invalid("NO_BLOCK_MAP", "the inode has no block map", { inode: ino });
    }
    return w;
  }

  /**
   * Frees logical blocks [start, end] of `ino` (end null: to the end of the
   * map), data and emptied map blocks alike, whatever i_size says (debugfs
   * `punch`, ext2fs_punch); i_size and the times stay. For inline data,
   * punching from block 0 empties the inline content and sets i_size to 0;
   * a later start is past the inline data and changes nothing. Throws
   * InvalidArgument (bad range, no block map), Corrupt, Io.
   */
  punch(ino: number, start: number, end: number | null): void {
    this.checkIno(ino);
    if (
      !(
        Number.isSafeInteger(start) &&
        start >= 0 &&
        (end === null || (Number.isSafeInteger(end) && end >= start))
      )
    ) {
      throw invalid("BAD_RANGE", `bad block range ${start}-${end ?? ""}`, { inode: ino });
    }
    this.e.op(() => {
      const w0 = this.e.load(ino);
      if (w0.hasInline()) {
        if (start > 0) return;
        setInlineContent(this.e, w0, new Uint8Array(60));
        w0.f.size = 0;
        this.e.store(w0);
        return;
      }
      const w = this.mapped(ino);
      const map = fileMap(this.e, w, NOFAIL);
      if (start >= map.maxBlocks) return;
      map.remove(start, Math.min(map.maxBlocks, (end ?? map.maxBlocks) + 1));
      this.e.store(w);
    });
  }

  /**
   * Allocates blocks for logical blocks [start, end] of `ino` (end null: as
   * far as space and the map allow) without changing i_size (debugfs
   * `fallocate`): extent files get unwritten extents (inline files move to
   * a block first), block-mapped files get zeroed blocks — but only inside
   * i_size, since a block past EOF of such a file is an error to e2fsck.
   * Existing mappings are left alone. When space runs out the blocks
   * allocated so far stay and NoSpace is thrown. Throws InvalidArgument
   * (bad range), NotSupported (past EOF of a block-mapped file),
   * IsADirectory, Permission, FileTooBig, NoSpace, Corrupt.
   */
  allocate(ino: number, start: number, end: number | null): void {
    this.checkIno(ino);
    if (
      !(
        Number.isSafeInteger(start) &&
        start >= 0 &&
        (end === null || (Number.isSafeInteger(end) && end >= start))
      )
    ) {
      throw invalid("BAD_RANGE", `bad block range ${start}-${end ?? ""}`, { inode: ino });
    }
    const e = this.e;
    const bs = e.blockSize;
    e.op(() => {
      const w = e.load(ino);
      const extents = w.usesExtents() || (w.hasInline() && e.geo.features.has("extent"));
      const maxBytes = maxFileBytes(e.geo, extents);
      const offset = start * bs;
      const last = end === null ? Math.floor(maxBytes / bs) - 1 : end;
      if (offset >= maxBytes || (last + 1) * bs > maxBytes) {
        throw fsError("FileTooBig", "FILE_TOO_BIG", `block ${last} past the largest file`, {
          inode: ino,
        });
      }
      if (extents || !w.isReg()) {
        fallocate(e, ino, FALLOC.KEEP_SIZE, offset, (last - start + 1) * bs, ROOT);
        return;
      }
      const eofBlocks = Math.ceil(w.f.size / bs);
      if (last >= eofBlocks) {
        throw fsError(
          "NotSupported",
          "RAW_FALLOC_PAST_EOF",
          "a block-mapped file cannot hold blocks past its end",
          { inode: ino },
        );
      }
      const map = fileMap(e, w, ROOT);
      const per = bs / 512;
      let failure: unknown = null;
      try {
        for (const run of map.map(start, last - start + 1)) {
          if (run.kind !== "hole") continue;
          let lblk = run.logical;
          let left = run.length;
          while (left > 0) {
            const goal = map.goalFor(lblk) ?? e.alloc.inodeGoal(ino, true);
            const r = e.alloc.allocBlocks(goal, left, ROOT);
            try {
              map.insert(lblk, r.start, r.count, false);
            } catch (err) {
              e.alloc.freeBlocks(r.start, r.count, { inode: ino });
              throw err;
            }
            w.blocks512 += r.count * per;
            for (let i = 0; i < r.count; i++) e.zeroBlock(r.start + i);
            lblk += r.count;
            left -= r.count;
          }
        }
      } catch (err) {
        failure = err;
      }
      e.store(w);
      if (failure !== null) throw failure;
    });
  }

  // ---- bitmaps ----

  /**
   * Marks blocks [start, start + count) in use (or free) in the block
   * bitmap only, as debugfs `setb` / `freeb` do: the free counts are not
   * changed (e2fsck reports the difference). A BLOCK_UNINIT group gets its
   * bitmap initialised first. Returns the blocks whose bit was already in
   * that state. Throws InvalidArgument (range outside the filesystem),
   * BadChecksum (a bitmap that does not match its checksum), Io.
   */
  setBlocksInUse(start: number, count: number, inUse: boolean): BitChange {
    const sb = this.e.geo;
    if (
      !(
        Number.isSafeInteger(start) &&
        Number.isSafeInteger(count) &&
        count >= 1 &&
        start >= sb.firstDataBlock &&
        start + count <= sb.blocksCount
      )
    ) {
      throw invalid(
        "RAW_BAD_BLOCK",
        `blocks ${start}+${count} outside [${sb.firstDataBlock}, ${sb.blocksCount})`,
      );
    }
    return this.e.op(() => {
      const unchanged = new RunList();
      let b = start;
      while (b < start + count) {
        const g = Math.floor((b - sb.firstDataBlock) / sb.blocksPerGroup);
        const first = groupFirstBlock(sb, g);
        const n = Math.min(start + count, first + sb.blocksPerGroup) - b;
        const buf = this.e.alloc.blockBitsForWrite(g);
        for (let i = 0; i < n; i++) {
          const bit = Math.floor((b + i - first) / sb.clusterRatio);
          if (testBit(buf, bit) === inUse) unchanged.add(b + i);
          else fillBits(buf, bit, 1, inUse);
        }
        // OK to assert: g < groupCount because b < blocksCount.
        this.e.dirty(this.e.meta.groups[g]!.blockBitmap);
        this.e.meta.blockBitmapsChanged.add(g);
        b += n;
      }
      return { unchanged: unchanged.runs };
    });
  }

  /**
   * Marks inodes [ino, ino + count) in use (or free) in the inode bitmap
   * only (debugfs `seti` / `freei`); an INODE_UNINIT group gets its bitmap
   * initialised first. Returns the inodes already in that state. Throws
   * InvalidArgument, BadChecksum, Io.
   */
  setInodesInUse(ino: number, count: number, inUse: boolean): BitChange {
    const sb = this.e.geo;
    if (
      !(
        Number.isSafeInteger(ino) &&
        Number.isSafeInteger(count) &&
        count >= 1 &&
        ino >= 1 &&
        ino + count - 1 <= sb.inodesCount
      )
    ) {
      throw invalid("RAW_BAD_INODE", `inodes ${ino}+${count} outside [1, ${sb.inodesCount}]`);
    }
    return this.e.op(() => {
      const unchanged = new RunList();
      let i = ino;
      while (i < ino + count) {
        const g = Math.floor((i - 1) / sb.inodesPerGroup);
        const idx = (i - 1) % sb.inodesPerGroup;
        const n = Math.min(ino + count - i, sb.inodesPerGroup - idx);
        const buf = this.e.alloc.inodeBitsForWrite(g);
        for (let k = 0; k < n; k++) {
          if (testBit(buf, idx + k) === inUse) unchanged.add(i + k);
          else fillBits(buf, idx + k, 1, inUse);
        }
        // OK to assert: g < groupCount because i ≤ inodesCount.
        this.e.dirty(this.e.meta.groups[g]!.inodeBitmap);
        this.e.meta.inodeBitmapsChanged.add(g);
        i += n;
      }
      return { unchanged: unchanged.runs };
    });
  }

  // ---- superblock ----

  /** The current value of a superblock field (a copy for byte arrays). Throws Corrupt for a u64 past 2^53. */
  superField(field: SuperblockField): number | Uint8Array {
    const v = new ByteView(this.e.meta.sbBytes);
    return SUPERBLOCK.field(field).kind === "bytes"
      ? SUPERBLOCK.bytesOf(v, field).slice()
      : SUPERBLOCK.get(v, field);
  }

  /**
   * Sets superblock fields by their SUPERBLOCK table names (debugfs
   * `set_super_value`), all or none: a result this toolkit could not read
   * back (bad geometry, unknown incompat features, ...) is refused. The
   * superblock is written at the next sync or close, with its checksum
   * recomputed (so s_checksum, like s_wtime, cannot be set this way: debugfs
   * rewrites it too). s_free_*_count become the free counters later changes
   * count from; s_state becomes what a clean close leaves. Throws
   * InvalidArgument (RAW_VALUE_RANGE, RAW_SB_INVALID), NotSupported
   * (s_kbytes_written, which the writer keeps itself).
   */
  setSuperFields(changes: readonly RawFieldChange<SuperblockField>[]): void {
    const e = this.e;
    const m = e.meta;
    for (const c of changes) {
      if (c.field === "s_kbytes_written") {
        throw fsError(
          "NotSupported",
          "RAW_SB_KBYTES",
          "s_kbytes_written is kept by the writer and rewritten at close",
        );
      }
    }
    e.op(() => {
      const saved = m.sbBytes.slice();
      const v = new ByteView(m.sbBytes);
      try {
        for (const c of changes) setField(SUPERBLOCK, v, SUPERBLOCK.field(c.field), c.value);
        parseSuperblock(m.sbBytes, { verifyChecksum: false });
      } catch (err) {
        m.sbBytes.set(saved);
        if (err instanceof Ext4Error && err.kind !== "InvalidArgument") {
          throw invalid("RAW_SB_INVALID", `the superblock would not be valid: ${err.message}`);
        }
        throw err;
      }
      // Mark the parsed superblock stale (byte fields bypass sbSet) and the block for writing.
      m.sbSet("s_state", m.sbGet("s_state"));
      const names = new Set(changes.map((c) => c.field));
      if (names.has("s_state")) this.h.setMountState(m.sbGet("s_state"));
      if (names.has("s_free_inodes_count")) e.freeInodes = m.sbGet("s_free_inodes_count");
      if (names.has("s_free_blocks_count_lo") || names.has("s_free_blocks_count_hi")) {
        const is64 = e.geo.features.has("64bit");
        const blocks =
          m.sbGet("s_free_blocks_count_lo") +
          (is64 ? m.sbGet("s_free_blocks_count_hi") * 2 ** 32 : 0);
        e.freeClusters = Math.floor(blocks / e.geo.clusterRatio);
      }
    });
  }

  /**
   * Sets or clears EXT4_VALID_FS in s_state, now and for the clean close
   * (debugfs `dirty`, `dirty -clean`). Throws nothing beyond Io.
   */
  setValid(valid: boolean): void {
    const state = this.e.meta.sbGet("s_state");
    this.setSuperFields([
      { field: "s_state", value: valid ? state | EXT4_VALID_FS : state & ~EXT4_VALID_FS },
    ]);
  }

  // ---- group descriptors ----

  /** The on-disk bytes of group descriptor `g` (s_desc_size of them). Throws InvalidArgument RAW_BAD_GROUP. */
  groupDescBytes(g: number): Uint8Array {
    const gd = this.group(g);
    const buf = this.e.host.readBlock(gd.location.block, { group: g });
    return buf.slice(gd.location.offset, gd.location.offset + this.e.geo.descSize);
  }

  private group(g: number): GroupDesc {
    const gd = this.e.meta.groups[g];
    if (!Number.isSafeInteger(g) || gd === undefined) {
      throw invalid("RAW_BAD_GROUP", `no group ${g}`, { group: g });
    }
    return gd;
  }

  /**
   * Sets fields of group descriptor `g` by their GROUP_DESC table names
   * (debugfs `set_block_group`). bg_checksum is kept as it is — the change
   * usually invalidates it, as debugfs leaves it — unless `checksum` is
   * "calc", which recomputes it after the change. A descriptor this toolkit
   * would refuse to read (bitmaps or table outside the filesystem, ...) is
   * refused. Returns bg_checksum as written. Throws InvalidArgument
   * (RAW_BAD_GROUP, RAW_FIELD_OUTSIDE for a field past s_desc_size,
   * RAW_VALUE_RANGE, RAW_GD_INVALID), Io.
   */
  setGroupFields(
    g: number,
    changes: readonly RawFieldChange<GroupDescField>[],
    opts: { checksum: "keep" | "calc" },
  ): number {
    const e = this.e;
    const sb = e.geo;
    const gd = this.group(g);
    return e.op(() => {
      const bytes = this.groupDescBytes(g);
      const v = new ByteView(bytes, { group: g });
      for (const c of changes) {
        const f = GROUP_DESC.field(c.field);
        if (f.offset + f.width > sb.descSize) {
          throw invalid(
            "RAW_FIELD_OUTSIDE",
            `${c.field} lies past the ${sb.descSize}-byte descriptor`,
            {
              group: g,
            },
          );
        }
        setField(GROUP_DESC, v, f, c.value);
      }
      if (opts.checksum === "calc") {
        GROUP_DESC.set(v, "bg_checksum", groupDescChecksum(sb, g, bytes));
      }
      let parsed: ReturnType<typeof parseGroupDesc>;
      try {
        parsed = parseGroupDesc(sb, g, bytes, { verifyChecksum: false, location: gd.location });
      } catch (err) {
        if (err instanceof Ext4Error) {
          throw invalid(
            "RAW_GD_INVALID",
            `group descriptor ${g} would not be valid: ${err.message}`,
            {
              group: g,
            },
          );
        }
        throw err;
      }
      const buf = e.host.readBlock(gd.location.block, { group: g });
      buf.set(bytes, gd.location.offset);
      e.dirty(gd.location.block);
      e.meta.groups[g] = parsed;
      return parsed.checksum;
    });
  }
}

/** Reads allocation bits with each group's bitmap fetched once (uninitialised groups computed). */
class BitReader {
  private readonly blocks = new Map<number, Uint8Array>();
  private readonly inodes = new Map<number, Uint8Array>();

  constructor(private readonly e: WriteEngine) {}

  /** Whether the block bitmap marks `block` in use. */
  block(block: number): boolean {
    const sb = this.e.geo;
    const g = Math.floor((block - sb.firstDataBlock) / sb.blocksPerGroup);
    let bits = this.blocks.get(g);
    if (bits === undefined) {
      // OK to assert: the block was range-checked by the caller.
      const gd = this.e.meta.groups[g]!;
      bits =
        sb.features.groupDescCsum && (gd.flags & EXT4_BG_BLOCK_UNINIT) !== 0
          ? uninitBlockBitmap(sb, gd, g).bytes
          : this.e.host.readBlock(gd.blockBitmap, { group: g }).slice();
      this.blocks.set(g, bits);
    }
    return testBit(bits, Math.floor((block - groupFirstBlock(sb, g)) / sb.clusterRatio));
  }

  /** Whether the inode bitmap marks `ino` in use. */
  inode(ino: number): boolean {
    const sb = this.e.geo;
    const g = Math.floor((ino - 1) / sb.inodesPerGroup);
    let bits = this.inodes.get(g);
    if (bits === undefined) {
      // OK to assert: ino was range-checked by the caller.
      const gd = this.e.meta.groups[g]!;
      bits =
        sb.features.groupDescCsum && (gd.flags & EXT4_BG_INODE_UNINIT) !== 0
          ? new Uint8Array(sb.blockSize)
          : this.e.host.readBlock(gd.inodeBitmap, { group: g }).slice();
      this.inodes.set(g, bits);
    }
    return testBit(bits, (ino - 1) % sb.inodesPerGroup);
  }
}

/** Collects ascending numbers into runs of consecutive ones. */
class RunList {
  readonly runs: NumberRun[] = [];

  /** Appends `n` (callers add in ascending order). */
  add(n: number): void {
    const last = this.runs[this.runs.length - 1];
    if (last !== undefined && last.start + last.count === n) {
      this.runs[this.runs.length - 1] = { start: last.start, count: last.count + 1 };
    } else this.runs.push({ start: n, count: 1 });
  }
}
