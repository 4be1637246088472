/**
 * Journaled metadata updates: jbd2's running transaction, commit and
 * checkpoint, for one synchronous writer (DESIGN.md decision 7).
 *
 * Every metadata block the engine declares dirty joins the running
 * transaction and is pinned in the cache, so it cannot reach its home
 * location before the transaction is in the log. A commit writes, in log
 * order, revoke blocks, descriptor blocks each followed by the copies they
 * tag (escaped when a copy starts with the jbd2 magic), flushes the device
 * — which also makes file data written so far durable, the ordering of
 * data=ordered — then writes the commit block and flushes again; only then
 * are the buffers unpinned, free to be written home by the cache.
 * Checkpointing writes everything home, flushes, and moves the log tail
 * (journal s_start) to the head. A freed block with a copy in the live log
 * gets a revoke record, so a replay can never write old metadata over a
 * block reused for file data.
 *
 * On disk this is exactly what the kernel writes (fs/jbd2/commit.c), so
 * e2fsck and the kernel recover what a killed server leaves, and so does
 * this toolkit's own replay.
 */
import type { BlockDevice, BufferCache } from "@ext4/iocache";
import type { Timestamp } from "../format/inode.js";
import {
  COMMIT_HEADER,
  encodeDescriptorTags,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_FEATURE_COMPAT_CHECKSUM,
  JBD2_FLAG_ESCAPE,
  JBD2_FLAG_LAST_TAG,
  JBD2_FLAG_SAME_UUID,
  JBD2_MAGIC_NUMBER,
  JBD2_REVOKE_BLOCK,
  JOURNAL_BLOCK_TAIL,
  JOURNAL_HEADER,
  JOURNAL_SUPERBLOCK,
  type JournalSuperblock,
  type JournalTag,
  journalBlockTailChecksum,
  journalCommitChecksum,
  journalDataBlockChecksum,
  journalSuperblockChecksum,
  REVOKE_HEADER,
} from "../format/jbd2.js";
import type { Journal } from "../journal.js";
import { ByteView } from "../view.js";

/** Counters of the journal since it was attached. */
export interface JournalStats {
  /** Transactions committed to the log. */
  readonly commits: number;
  /** Metadata block copies written to the log. */
  readonly loggedBlocks: number;
  /** Revoke records written. */
  readonly revokes: number;
  /** Checkpoints (everything written home, log emptied). */
  readonly checkpoints: number;
  /**
   * Transactions too large for the whole log, written home directly
   * without the journal's protection (a single operation dirtying more
   * metadata than the log holds).
   */
  readonly unjournaled: number;
  /** Blocks in the running transaction now. */
  readonly running: number;
  /** Sequence of the running transaction. */
  readonly sequence: number;
  /** Log blocks in use by committed, not yet checkpointed transactions. */
  readonly logUsed: number;
  /** Usable log blocks. */
  readonly logCapacity: number;
}

/**
 * Why this journal cannot be written by this toolkit, or null. The journal
 * format versions it writes are the ones the kernel writes today: v1/v2
 * superblocks, 32/64-bit tags, no checksums or csum v2/v3; the old v1
 * compat checksums (whole-transaction crc32 in the commit block) are not.
 */
export function journalWriteBlocker(jsb: JournalSuperblock): string | null {
  if ((jsb.featureCompat & JBD2_FEATURE_COMPAT_CHECKSUM) !== 0) {
    return "the journal uses v1 (compat) checksums";
  }
  if (jsb.nrUsers > 1) return `the journal is shared by ${jsb.nrUsers} filesystems`;
  if (jsb.last - jsb.first < 8) return `the journal log has only ${jsb.last - jsb.first} blocks`;
  return null;
}

/** The running transaction and the log around it. */
export class JournalWriter {
  private readonly jsb: JournalSuperblock;
  private readonly bs: number;
  private readonly csum: boolean;
  private readonly tailBytes: number;
  /** Tags in one descriptor (the first carries the 16-byte UUID). */
  private readonly tagsPerDescriptor: number;
  /** Records in one revoke block. */
  private readonly revokesPerBlock: number;
  private readonly capacity: number;
  /** Journal block where the next transaction starts. */
  private head: number;
  /** Journal block of the oldest transaction not yet checkpointed (== head when none). */
  private tail: number;
  /** Sequence of the running transaction. */
  private sequence: number;
  /** Blocks of the running transaction (each pinned once in the cache). */
  private readonly running = new Set<number>();
  /** Blocks to revoke in the running transaction. */
  private readonly revokes = new Set<number>();
  /**
   * Filesystem blocks with a copy in the live log (committed, not
   * checkpointed) → the newest copy, which a checkpoint writes home itself
   * when the cached buffer already holds newer, uncommitted changes.
   */
  private readonly logged = new Map<number, { journalBlock: number; escaped: boolean }>();
  private counters = { commits: 0, loggedBlocks: 0, revokes: 0, checkpoints: 0, unjournaled: 0 };

  /**
   * Attaches to `journal` at mount: the log must be empty (recovered). The
   * journal superblock is rewritten at once with s_start = s_first and the
   * sequence to continue with, as jbd2's journal_reset does. Throws
   * IoError; Error when the log is not empty (a caller bug: recover first).
   */
  constructor(
    private readonly journal: Journal,
    private readonly device: BlockDevice,
    private readonly cache: BufferCache,
    private readonly clock: () => Timestamp,
  ) {
    const jsb = journal.superblock;
    // OK to throw a plain Error: Filesystem.open recovers before attaching.
    if (jsb.start !== 0) throw new Error("journal attached before recovery");
    this.jsb = jsb;
    this.bs = jsb.blockSize;
    this.csum = jsb.csumV2 || jsb.csumV3;
    this.tailBytes = this.csum ? JOURNAL_BLOCK_TAIL.size : 0;
    this.tagsPerDescriptor = Math.floor(
      (this.bs - JOURNAL_HEADER.size - this.tailBytes - 16) / jsb.tagBytes,
    );
    this.revokesPerBlock = Math.floor(
      (this.bs - REVOKE_HEADER.size - this.tailBytes) / (jsb.is64bit ? 8 : 4),
    );
    this.capacity = jsb.last - jsb.first;
    this.head = jsb.first;
    this.tail = jsb.first;
    this.sequence = jsb.sequence >>> 0;
    this.writeSuperblock(jsb.first);
  }

  /** Counters and the state of the log. */
  stats(): JournalStats {
    return {
      ...this.counters,
      running: this.running.size,
      sequence: this.sequence,
      logUsed: this.used(),
      logCapacity: this.capacity,
    };
  }

  /** True when the running transaction holds anything. */
  get pending(): boolean {
    return this.running.size > 0 || this.revokes.size > 0;
  }

  /**
   * True when the running transaction should be committed at the end of
   * the current operation: it has reached a quarter of the log (jbd2's
   * j_max_transaction_buffers), or the cache is filling up with its pins.
   */
  get full(): boolean {
    return (
      this.running.size >= Math.max(16, this.capacity >> 2) ||
      this.running.size * this.bs >= this.cache.capacityBytes >> 1
    );
  }

  /**
   * Joins metadata block `block` (just changed in the cache and marked
   * dirty) to the running transaction: pinned until the commit. A revoke
   * of the block in this transaction is cancelled (jbd2_journal_cancel_revoke):
   * its new contents must replay.
   */
  join(block: number): void {
    if (this.running.has(block)) return;
    this.revokes.delete(block);
    this.cache.pin(block);
    this.running.add(block);
  }

  /**
   * Blocks [start, start + count) were freed. A copy of one in the running
   * transaction is dropped (jbd2_journal_forget) and its cached contents
   * discarded (the block's next owner writes it afresh); one with a copy
   * still in the log is revoked (jbd2_journal_revoke).
   */
  forget(start: number, count: number): void {
    if (this.running.size === 0 && this.logged.size === 0) return;
    const end = start + count;
    const drop = (b: number): void => {
      if (this.running.delete(b)) {
        this.cache.unpin(b);
        this.cache.discard(b);
      }
      if (this.logged.has(b)) this.revokes.add(b);
    };
    if (count > this.running.size + this.logged.size) {
      // A large range (a big file's data): walk the two sets instead of the range.
      for (const b of [...this.running, ...this.logged.keys()]) if (b >= start && b < end) drop(b);
    } else {
      for (let b = start; b < end; b++) drop(b);
    }
  }

  /**
   * Commits the running transaction (see the module comment); a no-op when
   * it is empty. Makes room by checkpointing first when the log is short
   * of space. Throws IoError; after a failed write the transaction stays
   * running (nothing was unpinned) and the next commit retries it.
   */
  commit(): void {
    if (!this.pending) return;
    const blocks = [...this.running].sort((a, b) => a - b);
    const revokes = [...this.revokes].sort((a, b) => a - b);
    const revokeBlocks = Math.ceil(revokes.length / this.revokesPerBlock);
    const descriptors = Math.ceil(blocks.length / this.tagsPerDescriptor);
    const need = revokeBlocks + descriptors + blocks.length + 1;
    if (need > this.free()) this.checkpoint();
    if (need > this.free()) {
      this.writeHomeUnjournaled();
      return;
    }
    const seq = this.sequence;
    const image = new Uint8Array((need - 1) * this.bs);
    const placed: Array<{ fsBlock: number; at: number; escaped: boolean }> = [];
    let at = 0;
    const nextBlock = (): Uint8Array => {
      const b = image.subarray(at * this.bs, (at + 1) * this.bs);
      at++;
      return b;
    };
    for (let i = 0; i < revokes.length; i += this.revokesPerBlock) {
      this.encodeRevoke(nextBlock(), seq, revokes.slice(i, i + this.revokesPerBlock));
    }
    for (let i = 0; i < blocks.length; i += this.tagsPerDescriptor) {
      const group = blocks.slice(i, i + this.tagsPerDescriptor);
      const desc = nextBlock();
      const tags: JournalTag[] = [];
      for (const [k, fsBlock] of group.entries()) {
        const copy = nextBlock();
        copy.set(this.cache.get(fsBlock));
        let flags = k === 0 ? 0 : JBD2_FLAG_SAME_UUID;
        if (new ByteView(copy).u32be(0) === JBD2_MAGIC_NUMBER) {
          // A copy must not look like a journal block: jbd2 escapes the magic.
          copy.fill(0, 0, 4);
          flags |= JBD2_FLAG_ESCAPE;
        }
        placed.push({ fsBlock, at: at - 1, escaped: (flags & JBD2_FLAG_ESCAPE) !== 0 });
        if (k === group.length - 1) flags |= JBD2_FLAG_LAST_TAG;
        let checksum = 0;
        if (this.csum) {
          const c = journalDataBlockChecksum(this.jsb.csumSeed, seq, copy);
          checksum = this.jsb.csumV3 ? c : c & 0xffff;
        }
        tags.push({ fsBlock, flags, checksum, uuid: k === 0 ? this.jsb.uuid : null });
      }
      this.header(desc, JBD2_DESCRIPTOR_BLOCK, seq);
      encodeDescriptorTags(desc, this.jsb, tags);
      this.setTail(desc);
    }
    this.writeLog(this.head, image);
    // Data written so far and the log blocks above become durable together.
    this.cache.flush();
    const commitPos = this.advance(this.head, need - 1);
    const commit = new Uint8Array(this.bs);
    this.header(commit, JBD2_COMMIT_BLOCK, seq);
    const now = this.clock();
    const cv = new ByteView(commit);
    const secOff = COMMIT_HEADER.offsetOf("h_commit_sec");
    cv.setU32be(secOff, Math.floor(now.sec / 2 ** 32) >>> 0);
    cv.setU32be(secOff + 4, now.sec >>> 0);
    COMMIT_HEADER.set(cv, "h_commit_nsec", now.nsec >>> 0);
    if (this.csum) {
      cv.setU32be(
        COMMIT_HEADER.offsetOf("h_chksum"),
        journalCommitChecksum(this.jsb.csumSeed, commit),
      );
    }
    this.writeLog(commitPos, commit);
    this.device.flush();
    for (const b of blocks) this.cache.unpin(b);
    for (const p of placed) {
      this.logged.set(p.fsBlock, {
        journalBlock: this.advance(this.head, p.at),
        escaped: p.escaped,
      });
    }
    this.running.clear();
    this.revokes.clear();
    this.head = this.advance(commitPos, 1);
    this.sequence = (seq + 1) >>> 0;
    this.counters.commits++;
    this.counters.loggedBlocks += blocks.length;
    this.counters.revokes += revokes.length;
  }

  /**
   * Writes every committed block home (with any other dirty, unpinned
   * buffer), flushes, and empties the log by moving its tail to the head
   * (journal s_start). The running transaction stays running. Throws IoError.
   */
  checkpoint(): void {
    this.cache.flush();
    // A block changed again in the running transaction is pinned with
    // uncommitted contents: its committed copy goes home from the log
    // (jbd2 would force the running transaction out first).
    const buf = new Uint8Array(this.bs);
    for (const b of this.running) {
      const copy = this.logged.get(b);
      if (copy === undefined) continue;
      this.device.read(this.journal.physicalBlock(copy.journalBlock) * this.bs, buf);
      if (copy.escaped) new ByteView(buf).setU32be(0, JBD2_MAGIC_NUMBER);
      this.device.write(b * this.bs, buf);
    }
    this.device.flush();
    this.tail = this.head;
    this.logged.clear();
    this.writeSuperblock(this.head);
    this.device.flush();
    this.counters.checkpoints++;
  }

  /**
   * Commits, checkpoints and marks the log empty (s_start 0), as jbd2
   * leaves a journal at unmount. The writer must not be used afterwards.
   * Throws IoError.
   */
  shutdown(): void {
    this.commit();
    this.checkpoint();
    this.writeSuperblock(0);
    this.device.flush();
  }

  // ---- internals ----

  /** Log blocks used by transactions not yet checkpointed. */
  private used(): number {
    return (this.head - this.tail + this.capacity) % this.capacity;
  }

  /** Log blocks a new transaction may take (one stays unused so head never meets tail). */
  private free(): number {
    return this.capacity - this.used() - 1;
  }

  /** Journal block `n` steps after `pos`, wrapping from s_last back to s_first. */
  private advance(pos: number, n: number): number {
    return this.jsb.first + ((pos - this.jsb.first + n) % this.capacity);
  }

  private header(block: Uint8Array, type: number, seq: number): void {
    const v = new ByteView(block);
    JOURNAL_HEADER.set(v, "h_magic", JBD2_MAGIC_NUMBER);
    JOURNAL_HEADER.set(v, "h_blocktype", type);
    JOURNAL_HEADER.set(v, "h_sequence", seq);
  }

  /** The csum v2/v3 tail of descriptor and revoke blocks. */
  private setTail(block: Uint8Array): void {
    if (!this.csum) return;
    new ByteView(block).setU32be(
      block.length - 4,
      journalBlockTailChecksum(this.jsb.csumSeed, block),
    );
  }

  private encodeRevoke(block: Uint8Array, seq: number, records: readonly number[]): void {
    this.header(block, JBD2_REVOKE_BLOCK, seq);
    const v = new ByteView(block);
    const wide = this.jsb.is64bit;
    let off = REVOKE_HEADER.size;
    for (const b of records) {
      if (wide) {
        v.setU32be(off, Math.floor(b / 2 ** 32));
        v.setU32be(off + 4, b >>> 0);
        off += 8;
      } else {
        v.setU32be(off, b);
        off += 4;
      }
    }
    REVOKE_HEADER.set(v, "r_count", off);
    this.setTail(block);
  }

  /**
   * Writes whole blocks `data` to the log from journal block `pos` on
   * (wrapping), one device write per physically contiguous run; cached
   * copies of those blocks are dropped so no reader sees stale ones.
   */
  private writeLog(pos: number, data: Uint8Array): void {
    const bs = this.bs;
    const n = data.length / bs;
    let runStart = 0;
    let runPhys = this.journal.physicalBlock(pos);
    let p = pos;
    for (let i = 1; i <= n; i++) {
      let phys = -1;
      if (i < n) {
        p = this.advance(p, 1);
        phys = this.journal.physicalBlock(p);
        if (phys === runPhys + (i - runStart)) continue;
      }
      this.device.write(runPhys * bs, data.subarray(runStart * bs, i * bs));
      for (let k = 0; k < i - runStart; k++) this.cache.invalidate(runPhys + k);
      runStart = i;
      runPhys = phys;
    }
  }

  /** Rewrites the journal superblock with s_start `start` and the running sequence. */
  private writeSuperblock(start: number): void {
    const phys = this.journal.physicalBlock(0);
    const block = new Uint8Array(this.bs);
    this.device.read(phys * this.bs, block);
    const v = new ByteView(block);
    JOURNAL_SUPERBLOCK.set(v, "s_start", start);
    JOURNAL_SUPERBLOCK.set(v, "s_sequence", this.sequence);
    if (this.csum) {
      v.setU32be(JOURNAL_SUPERBLOCK.offsetOf("s_checksum"), journalSuperblockChecksum(block));
    }
    this.device.write(phys * this.bs, block);
    this.cache.invalidate(phys);
  }

  /**
   * The last resort for a transaction larger than the whole log: its
   * blocks go home directly, without atomicity (counted in
   * {@link JournalStats.unjournaled}).
   */
  private writeHomeUnjournaled(): void {
    for (const b of this.running) this.cache.unpin(b);
    this.running.clear();
    this.revokes.clear();
    this.cache.flush();
    this.counters.unjournaled++;
  }
}
