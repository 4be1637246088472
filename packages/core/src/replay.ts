/**
 * Journal recovery: applying a {@link ReplayPlan} either to the device (a
 * read-write open, as the kernel and e2fsck recover) or as an overlay in
 * memory ({@link ReplayDevice}: a read-only open shows the recovered
 * filesystem and never writes the image, DESIGN.md decision 7).
 *
 * After recovery the log is empty (journal s_start 0, s_sequence past the
 * replayed transactions, s_errno folded into the filesystem's s_state as
 * EXT4_ERROR_FS the way ext4_clear_journal_err and e2fsck do) and the
 * filesystem no longer needs recovery.
 */
import { type BlockDevice, IoError } from "@ext4/iocache";
import { featureDef } from "./features.js";
import { JBD2_MAGIC_NUMBER, JOURNAL_SUPERBLOCK, journalSuperblockChecksum } from "./format/jbd2.js";
import {
  EXT4_ERROR_FS,
  SUPERBLOCK,
  SUPERBLOCK_OFFSET,
  SUPERBLOCK_SIZE,
  setSuperblockChecksum,
} from "./format/superblock.js";
import type { Journal, ReplayPlan } from "./journal.js";
import { ByteView } from "./view.js";

/** What a recovery did, for messages (`fuse4fs`, `ext4-debug`, `ext4-check --replay`). */
export interface RecoveryReport {
  /** True when the recovered blocks only live in memory (read-only open). */
  readonly inMemory: boolean;
  /** Committed transactions replayed. */
  readonly transactions: number;
  /** Distinct filesystem blocks written. */
  readonly blocks: number;
  /** Logged copies dropped by revoke records. */
  readonly revoked: number;
  /** Logged copies skipped as damaged (tag checksum, block outside the filesystem). */
  readonly skipped: number;
  /** The journal recorded an error (s_errno): the filesystem is now marked with errors. */
  readonly journalErrno: number;
}

/** A recovered block: read from the log (unescaped) or given. */
type Source =
  | { readonly physical: number; readonly escaped: boolean }
  | { readonly bytes: Uint8Array };

/**
 * The journal superblock (the bytes of journal block 0) of an empty log:
 * s_start 0, s_sequence `sequence`, s_errno 0, checksum renewed with csum
 * v2/v3. Returns a patched copy.
 */
export function emptiedJournalSuperblock(
  block: Uint8Array,
  sequence: number,
  csum: boolean,
): Uint8Array {
  const out = block.slice();
  const v = new ByteView(out);
  JOURNAL_SUPERBLOCK.set(v, "s_start", 0);
  JOURNAL_SUPERBLOCK.set(v, "s_sequence", sequence >>> 0);
  JOURNAL_SUPERBLOCK.set(v, "s_errno", 0);
  if (csum) v.setU32be(JOURNAL_SUPERBLOCK.offsetOf("s_checksum"), journalSuperblockChecksum(out));
  return out;
}

/**
 * The filesystem block holding the primary superblock, patched for a
 * recovered filesystem: needs_recovery cleared, EXT4_ERROR_FS added when
 * the journal recorded an error, checksum renewed with metadata_csum.
 * Returns a patched copy of `block` (filesystem block SUPERBLOCK_OFFSET / blockSize).
 */
export function recoveredSuperblockBlock(
  block: Uint8Array,
  blockSize: number,
  journalErrno: number,
): Uint8Array {
  const out = block.slice();
  const off = SUPERBLOCK_OFFSET % blockSize;
  const sb = out.subarray(off, off + SUPERBLOCK_SIZE);
  const v = new ByteView(sb);
  // OK to assert: both names are constants of the feature table.
  const recover = featureDef("needs_recovery")!;
  const csum = featureDef("metadata_csum")!;
  SUPERBLOCK.set(
    v,
    "s_feature_incompat",
    (SUPERBLOCK.get(v, "s_feature_incompat") & ~recover.bit) >>> 0,
  );
  if (journalErrno !== 0)
    SUPERBLOCK.set(v, "s_state", SUPERBLOCK.get(v, "s_state") | EXT4_ERROR_FS);
  if ((SUPERBLOCK.get(v, "s_feature_ro_compat") & csum.bit) !== 0) setSuperblockChecksum(sb);
  return out;
}

/**
 * A read-only view of a device with a journal replayed over it: blocks the
 * plan recovers are read from the log (unescaped), the superblock and the
 * journal superblock are served patched as after recovery, everything else
 * comes from the device. Nothing is copied up front, so memory does not
 * grow with the log. Writes fail with EROFS.
 */
export class ReplayDevice implements BlockDevice {
  readonly readOnly = true;
  readonly name: string;
  readonly size: number;
  private readonly blockSize: number;
  private readonly scratch: Uint8Array;

  /**
   * @param base the device holding the image
   * @param blockSize the filesystem (and journal) block size
   * @param sources recovered filesystem block → where its bytes come from
   */
  private constructor(
    private readonly base: BlockDevice,
    blockSize: number,
    private readonly sources: ReadonlyMap<number, Source>,
  ) {
    this.name = base.name;
    this.size = base.size;
    this.blockSize = blockSize;
    this.scratch = new Uint8Array(blockSize);
  }

  /**
   * The recovered view of `base`: `plan` replayed from `journal`, the
   * superblock block and journal superblock patched as recovery leaves
   * them. Throws Ext4Error (reading the log or the superblocks).
   */
  static over(
    base: BlockDevice,
    journal: Journal,
    plan: ReplayPlan,
    blockSize: number,
  ): ReplayDevice {
    const sources = new Map<number, Source>();
    for (const [fsBlock, src] of plan.blocks) {
      sources.set(fsBlock, {
        physical: journal.physicalBlock(src.journalBlock),
        escaped: src.escaped,
      });
    }
    const view = new ReplayDevice(base, blockSize, sources);
    const jsb = journal.superblock;
    const jsbPhysical = journal.physicalBlock(0);
    const jsbBlock = new Uint8Array(blockSize);
    view.read(jsbPhysical * blockSize, jsbBlock);
    sources.set(jsbPhysical, {
      bytes: emptiedJournalSuperblock(jsbBlock, plan.nextSequence, jsb.csumV2 || jsb.csumV3),
    });
    const sbBlockNo = Math.floor(SUPERBLOCK_OFFSET / blockSize);
    const sbBlock = new Uint8Array(blockSize);
    view.read(sbBlockNo * blockSize, sbBlock);
    sources.set(sbBlockNo, { bytes: recoveredSuperblockBlock(sbBlock, blockSize, jsb.errno) });
    return view;
  }

  /** Reads through the overlay. Throws IoError as the base device does. */
  read(offset: number, dest: Uint8Array): void {
    const bs = this.blockSize;
    const end = offset + dest.length;
    let pos = offset;
    while (pos < end) {
      const block = Math.floor(pos / bs);
      const src = this.sources.get(block);
      if (src === undefined) {
        // A run of blocks not in the overlay: one read from the base device.
        let runEnd = Math.min(end, (block + 1) * bs);
        while (runEnd < end && !this.sources.has(runEnd / bs)) runEnd = Math.min(end, runEnd + bs);
        this.base.read(pos, dest.subarray(pos - offset, runEnd - offset));
        pos = runEnd;
        continue;
      }
      const data = this.blockBytes(src);
      const inBlock = pos - block * bs;
      const n = Math.min(bs - inBlock, end - pos);
      dest.set(data.subarray(inBlock, inBlock + n), pos - offset);
      pos += n;
    }
  }

  /** Always fails: the overlay is read-only. Throws IoError (EROFS). */
  write(offset: number): void {
    throw new IoError(`${this.name}: the recovered view is read-only`, "EROFS", "write", offset);
  }

  /** Nothing to make durable. */
  flush(): void {}

  /** Closes the base device. */
  close(): void {
    this.base.close();
  }

  private blockBytes(src: Source): Uint8Array {
    if ("bytes" in src) return src.bytes;
    this.base.read(src.physical * this.blockSize, this.scratch);
    if (src.escaped) new ByteView(this.scratch).setU32be(0, JBD2_MAGIC_NUMBER);
    return this.scratch;
  }
}

/**
 * Recovers on the device itself, in jbd2's order: every planned block is
 * written home and flushed, then the journal superblock says the log is
 * empty, then the superblock loses needs_recovery; each step flushed
 * before the next, so a crash in between leaves a journal that replays
 * again to the same result. Throws Ext4Error (reading the log), IoError.
 */
export function replayOnDevice(
  device: BlockDevice,
  journal: Journal,
  plan: ReplayPlan,
  blockSize: number,
): void {
  const order = [...plan.blocks.keys()].sort((a, b) => a - b);
  for (const fsBlock of order) {
    // OK to assert: the key comes from the map.
    device.write(fsBlock * blockSize, journal.replayData(plan.blocks.get(fsBlock)!));
  }
  device.flush();
  const jsb = journal.superblock;
  const jsbPhysical = journal.physicalBlock(0);
  const jsbBlock = new Uint8Array(blockSize);
  device.read(jsbPhysical * blockSize, jsbBlock);
  device.write(
    jsbPhysical * blockSize,
    emptiedJournalSuperblock(jsbBlock, plan.nextSequence, jsb.csumV2 || jsb.csumV3),
  );
  device.flush();
  const sbBlockNo = Math.floor(SUPERBLOCK_OFFSET / blockSize);
  const sbBlock = new Uint8Array(blockSize);
  device.read(sbBlockNo * blockSize, sbBlock);
  device.write(sbBlockNo * blockSize, recoveredSuperblockBlock(sbBlock, blockSize, jsb.errno));
  device.flush();
}
