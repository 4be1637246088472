/**
 * Per-directory facts every walk needs, worked out once from the host and
 * the inode: geometry bounded by i_size, which features apply, and how each
 * block is read and verified.
 */
import { corrupt, type Ext4ErrorContext, fsError } from "../errors.js";
import { ByteView } from "../view.js";
import { DirInodeFlag, isDirMode } from "./constants.js";
import { fakeDirentStruct, verifyDxChecksum } from "./dx.js";
import { dirCsumSeed, recLenFromDisk, verifyDirBlockChecksum } from "./entry.js";
import type { DirHost, DirInode } from "./host.js";

const FAKE_INODE = fakeDirentStruct.offsetOf("inode");
const FAKE_REC_LEN = fakeDirentStruct.offsetOf("rec_len");

/** What a walk knows about one directory. */
export interface DirContext {
  readonly host: DirHost;
  readonly inode: DirInode;
  readonly blockSize: number;
  /** i_size as the kernel reads it for a directory (`ext4_isize`: only i_size_lo without largedir). */
  readonly size: number;
  /** Logical blocks the walk may visit: ceil(size / blockSize). */
  readonly blockCount: number;
  readonly metadataCsum: boolean;
  readonly largedir: boolean;
  readonly filetype: boolean;
  /** dir_index is on and the inode has EXT4_INDEX_FL (the kernel's `is_dx`). */
  readonly indexed: boolean;
  /** EXT4_INLINE_DATA_FL is set. */
  readonly inline: boolean;
  readonly encrypted: boolean;
  readonly casefolded: boolean;
  /** Entries carry ext4_dir_entry_hash (encrypted and casefolded: `ext4_hash_in_dirent`). */
  readonly hashInDirent: boolean;
  /** Error context naming the directory inode. */
  readonly errorContext: Ext4ErrorContext;
  /** The per-inode checksum seed (computed on first use). */
  inodeSeed(): number;
}

/**
 * Builds the context for `inode`. Throws NotADirectory (DIR_NOT_A_DIRECTORY)
 * for anything but a directory.
 */
export function dirContext(host: DirHost, inode: DirInode): DirContext {
  const ctx = { inode: inode.ino };
  if (!isDirMode(inode.mode)) {
    throw fsError("NotADirectory", "DIR_NOT_A_DIRECTORY", "not a directory", ctx);
  }
  const bs = host.blockSize;
  const largedir = host.hasFeature("largedir");
  // Without largedir the kernel ignores i_size_high of directories, which also caps a walk at 4 GiB.
  const size = largedir ? inode.size : inode.size % 2 ** 32;
  const encrypted = (inode.flags & DirInodeFlag.Encrypt) !== 0;
  const casefolded = (inode.flags & DirInodeFlag.Casefold) !== 0;
  let seed: number | undefined;
  return {
    host,
    inode,
    blockSize: bs,
    size,
    blockCount: Math.ceil(size / bs),
    metadataCsum: host.hasFeature("metadata_csum"),
    largedir,
    filetype: host.hasFeature("filetype"),
    indexed: host.hasFeature("dir_index") && (inode.flags & DirInodeFlag.Index) !== 0,
    inline: (inode.flags & DirInodeFlag.InlineData) !== 0,
    encrypted,
    casefolded,
    hashInDirent: encrypted && casefolded,
    errorContext: ctx,
    inodeSeed: () => {
      seed ??= dirCsumSeed(host.csumSeed, inode.ino, inode.generation);
      return seed;
    },
  };
}

/**
 * Reads logical block `lblk` of the directory, or null for a hole. Throws
 * Corrupt DIR_BLOCK_PAST_EOF past i_size and DIR_BLOCK_SIZE when the host
 * hands back a buffer of the wrong size.
 */
export function readDirBlock(d: DirContext, lblk: number): Uint8Array | null {
  if (lblk >= d.blockCount) {
    throw corrupt("DIR_BLOCK_PAST_EOF", `directory block ${lblk} is past i_size ${d.size}`, {
      ...d.errorContext,
      block: lblk,
    });
  }
  const b = d.host.readFileBlock(d.inode, lblk);
  if (b !== null && b.length !== d.blockSize) {
    throw corrupt("DIR_BLOCK_SIZE", `directory block of ${b.length} bytes`, {
      ...d.errorContext,
      block: lblk,
    });
  }
  return b;
}

/**
 * True when block `lblk` of an indexed directory is an index block
 * (`is_dx_internal_node`: block 0, or a first entry with inode 0 that covers
 * the whole block).
 */
export function isDxInternal(d: DirContext, lblk: number, block: Uint8Array): boolean {
  if (!d.indexed) return false;
  if (lblk === 0) return true;
  const v = new ByteView(block);
  if (v.length < fakeDirentStruct.size) return false;
  return (
    v.u32(FAKE_INODE) === 0 && recLenFromDisk(v.u16(FAKE_REC_LEN), d.blockSize) === d.blockSize
  );
}

/**
 * Verifies a directory block's checksum when metadata_csum is on: an index
 * block's dx_tail, a leaf's dirent tail. Throws BadChecksum.
 */
export function verifyBlock(d: DirContext, lblk: number, block: Uint8Array): void {
  if (!d.metadataCsum) return;
  const ctx = { ...d.errorContext, block: lblk };
  if (isDxInternal(d, lblk, block)) verifyDxChecksum(d.inodeSeed(), block, d.blockSize, ctx);
  else verifyDirBlockChecksum(d.inodeSeed(), block, d.blockSize, ctx);
}

/**
 * Private copies of index blocks for one kind of probe, in buffers reused
 * from probe to probe: a fresh 4 KiB copy per probed level (an allocation
 * outside the JS heap) was a tenth of a lookup. A copy stays valid until
 * the next copy at the same level by the same owner; probes are
 * synchronous and never nest (a lookup or an insertion calls no other
 * directory code while its frames are alive), so one set per module does.
 */
export class ProbeCopies {
  private readonly buffers: Uint8Array[] = [];

  /** A copy of `block` for index level `level` (0 = the root). */
  copy(level: number, block: Uint8Array): Uint8Array {
    let b = this.buffers[level];
    if (b === undefined || b.length !== block.length) {
      b = new Uint8Array(block.length);
      this.buffers[level] = b;
    }
    b.set(block);
    return b;
  }
}
