/**
 * The jbd2 journal of a filesystem: its superblock and a bounded walker of
 * the log (what debugfs's `logdump` prints and what a replay consumes).
 *
 * The walk follows jbd2's recovery scan (fs/jbd2/recovery.c do_one_pass,
 * PASS_SCAN): from s_start with sequence s_sequence, each block must carry
 * the magic and the expected sequence; a descriptor is followed by its
 * tagged data blocks, a commit block closes the transaction and the next
 * sequence is expected, revoke blocks list revoked filesystem blocks. Block
 * numbers wrap from the end of the log area back to s_first. The walk stops
 * at the first block that does not continue the log, and never visits more
 * blocks than the log holds.
 */
import { corrupt, type Ext4ErrorContext, isExt4Error } from "./errors.js";
import {
  decodeCommitBlock,
  decodeDescriptorTags,
  decodeJournalHeader,
  decodeRevokeBlock,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_FLAG_ESCAPE,
  JBD2_MAGIC_NUMBER,
  JBD2_REVOKE_BLOCK,
  type JournalSuperblock,
  type JournalTag,
  journalBlockTailChecksum,
  journalCommitChecksum,
  journalDataBlockChecksum,
} from "./format/jbd2.js";
import { ByteView } from "./view.js";

/** A tag of a descriptor with where its data sits in the log. */
export interface LoggedBlock extends JournalTag {
  /** Journal block holding the logged copy. */
  readonly journalBlock: number;
  /** Whether the data matches the tag checksum: null when not checked or no csum v2/v3. */
  readonly checksumValid: boolean | null;
}

/** A descriptor block of a transaction. */
export interface JournalDescriptor {
  readonly journalBlock: number;
  readonly checksumValid: boolean;
  readonly tags: readonly LoggedBlock[];
}

/** A revoke block of a transaction. */
export interface JournalRevoke {
  readonly journalBlock: number;
  readonly checksumValid: boolean;
  /** Filesystem blocks revoked by this transaction. */
  readonly blocks: readonly number[];
}

/** A commit block. */
export interface JournalCommit {
  readonly journalBlock: number;
  readonly checksumValid: boolean;
  readonly sec: number;
  readonly nsec: number;
}

/** One transaction found in the log. */
export interface JournalTransaction {
  readonly sequence: number;
  /** Journal block where the transaction starts. */
  readonly startBlock: number;
  readonly descriptors: readonly JournalDescriptor[];
  readonly revokes: readonly JournalRevoke[];
  /** The commit block, or null for a transaction cut short (not committed). */
  readonly commit: JournalCommit | null;
}

/** Why the walk stopped. */
export type JournalEndReason =
  | "clean"
  | "no-magic"
  | "sequence"
  | "unknown-block-type"
  | "bad-checksum"
  | "bad-revoke"
  | "log-exhausted";

/** The result of a log walk. */
export interface JournalWalk {
  readonly startBlock: number;
  readonly startSequence: number;
  /** Transactions in log order; only the last may be uncommitted. */
  readonly transactions: readonly JournalTransaction[];
  /** Journal block where the walk stopped. */
  readonly endBlock: number;
  /** The sequence that was expected there (the next transaction id). */
  readonly endSequence: number;
  readonly endReason: JournalEndReason;
  /** Block type at the end for "unknown-block-type", sequence found for "sequence". */
  readonly endDetail: number | null;
}

/** Options for {@link Journal.walk}. */
export interface JournalWalkOptions {
  /** Start here instead of s_start (e.g. at s_first to dump an old, clean log). */
  readonly startBlock?: number;
  /** Expected first sequence instead of s_sequence. */
  readonly startSequence?: number;
  /** Read every logged block and check its tag checksum (csum v2/v3). Default false. */
  readonly checkData?: boolean;
}

/** How the journal reads its blocks (journal block → bytes). */
export interface JournalStorage {
  /** Blocks in the journal file or device. */
  readonly totalBlocks: number;
  /** The bytes of journal block `n` (a transient buffer). Throws Ext4Error. */
  readBlock(n: number, ctx: Ext4ErrorContext): Uint8Array;
  /** The filesystem block holding journal block `n`. Throws Corrupt (JOURNAL_HOLE). */
  physical(n: number): number;
}

/** Where the newest surviving copy of a filesystem block sits in the log. */
export interface ReplaySource {
  /** Journal block holding the copy. */
  readonly journalBlock: number;
  /** JBD2_FLAG_ESCAPE: the copy's first four bytes stand for JBD2_MAGIC_NUMBER. */
  readonly escaped: boolean;
}

/** What a replay of the log would write (jbd2_journal_recover's three passes, computed). */
export interface ReplayPlan {
  /** Filesystem block → the copy to write there (later transactions win, revoked copies dropped). */
  readonly blocks: ReadonlyMap<number, ReplaySource>;
  /** Committed transactions found. */
  readonly transactions: number;
  /** First and last committed sequence, or null when nothing was committed. */
  readonly firstSequence: number | null;
  readonly lastSequence: number | null;
  /** The sequence the log continues with after recovery (jbd2: end of the log + 1). */
  readonly nextSequence: number;
  /** Logged copies skipped because a later revoke covers them. */
  readonly revoked: number;
  /** Logged copies skipped because their tag checksum fails (csum v2/v3) or their block lies outside the filesystem. */
  readonly bad: ReadonlyArray<{
    readonly fsBlock: number;
    readonly sequence: number;
    readonly why: string;
  }>;
  /** Why the log walk ended. */
  readonly endReason: JournalEndReason;
}

/** tid_gt: sequence numbers compare modulo 2^32, as jbd2 does. */
function tidGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/** An internal journal: superblock plus log access. */
export class Journal {
  /**
   * @param superblock the validated journal superblock
   * @param inode the journal inode number
   * @param needsRecovery the filesystem's needs_recovery feature flag
   * @param storage block access
   */
  constructor(
    readonly superblock: JournalSuperblock,
    readonly inode: number,
    readonly needsRecovery: boolean,
    private readonly storage: JournalStorage,
  ) {}

  /** True when the log is empty (s_start = 0): nothing to replay. */
  get isEmpty(): boolean {
    return this.superblock.start === 0;
  }

  /** A copy of journal block `n`. Throws Ext4Error (JOURNAL_BLOCK_RANGE past the journal). */
  readBlock(n: number): Uint8Array {
    if (!(Number.isSafeInteger(n) && n >= 0 && n < this.superblock.maxLen)) {
      throw corrupt("JOURNAL_BLOCK_RANGE", `journal block ${n} past ${this.superblock.maxLen}`);
    }
    return this.storage.readBlock(n, { offset: n }).slice();
  }

  /** The filesystem block holding journal block `n`. Throws Corrupt (JOURNAL_HOLE). */
  physicalBlock(n: number): number {
    return this.storage.physical(n);
  }

  /**
   * The replay a recovery would do, without writing anything
   * (fs/jbd2/recovery.c: PASS_SCAN finds the committed transactions,
   * PASS_REVOKE gathers revoke records with their sequence, PASS_REPLAY
   * keeps each logged block unless a revoke of the same or a later
   * transaction covers it). A copy whose csum v2/v3 tag checksum fails is
   * skipped, as jbd2 skips it; a tag naming a block outside the filesystem
   * (`fsBlocks`) is skipped too rather than written anywhere. An empty log
   * (s_start = 0) gives an empty plan. Throws Ext4Error as {@link walk}.
   */
  planReplay(fsBlocks: number): ReplayPlan {
    const jsb = this.superblock;
    const csum = jsb.csumV2 || jsb.csumV3;
    const walk = this.walk({ checkData: csum });
    const committed = walk.transactions.filter((t) => t.commit !== null);
    const revokes = new Map<number, number>();
    for (const tx of committed) {
      for (const r of tx.revokes) {
        for (const b of r.blocks) {
          const seen = revokes.get(b);
          if (seen === undefined || tidGt(tx.sequence, seen)) revokes.set(b, tx.sequence);
        }
      }
    }
    const blocks = new Map<number, ReplaySource>();
    const bad: Array<{ fsBlock: number; sequence: number; why: string }> = [];
    let revoked = 0;
    for (const tx of committed) {
      for (const d of tx.descriptors) {
        for (const tag of d.tags) {
          const rev = revokes.get(tag.fsBlock);
          if (rev !== undefined && !tidGt(tx.sequence, rev)) {
            revoked++;
            continue;
          }
          if (tag.checksumValid === false) {
            bad.push({ fsBlock: tag.fsBlock, sequence: tx.sequence, why: "tag checksum" });
            continue;
          }
          if (!(tag.fsBlock < fsBlocks)) {
            bad.push({
              fsBlock: tag.fsBlock,
              sequence: tx.sequence,
              why: "outside the filesystem",
            });
            continue;
          }
          blocks.set(tag.fsBlock, {
            journalBlock: tag.journalBlock,
            escaped: (tag.flags & JBD2_FLAG_ESCAPE) !== 0,
          });
        }
      }
    }
    const first = committed[0];
    const last = committed[committed.length - 1];
    return {
      blocks,
      transactions: committed.length,
      firstSequence: first?.sequence ?? null,
      lastSequence: last?.sequence ?? null,
      // jbd2_journal_recover: j_transaction_sequence = ++info.end_transaction.
      nextSequence: walk.endReason === "clean" ? jsb.sequence : (walk.endSequence + 1) >>> 0,
      revoked,
      bad,
      endReason: walk.endReason,
    };
  }

  /**
   * The bytes a replay writes for `src`: the logged copy with an escaped
   * magic restored. Throws Ext4Error (I/O, unmapped journal block).
   */
  replayData(src: ReplaySource): Uint8Array {
    const data = this.storage.readBlock(src.journalBlock, { offset: src.journalBlock }).slice();
    if (src.escaped) new ByteView(data).setU32be(0, JBD2_MAGIC_NUMBER);
    return data;
  }

  /** The log block after `n`, wrapping from the end of the log area to s_first. */
  nextBlock(n: number): number {
    const jsb = this.superblock;
    const next = n + 1;
    return next >= jsb.last ? next - (jsb.last - jsb.first) : next;
  }

  /**
   * Walks the log (see the module comment). Bounded: at most
   * (last - first) blocks are visited. A log that ends — no magic, another
   * sequence, an unknown block type, a failed commit or descriptor
   * checksum, a revoke count past its block — is the normal result, named
   * in endReason. Throws Ext4Error only for I/O, an unmapped journal block,
   * or a start block outside the log (JOURNAL_BAD_START).
   */
  walk(options: JournalWalkOptions = {}): JournalWalk {
    const jsb = this.superblock;
    const csum = jsb.csumV2 || jsb.csumV3;
    let block = options.startBlock ?? jsb.start;
    let sequence = (options.startSequence ?? jsb.sequence) >>> 0;
    const startBlock = block;
    const startSequence = sequence;
    const transactions: JournalTransaction[] = [];
    const end = (reason: JournalEndReason, detail: number | null = null): JournalWalk => ({
      startBlock,
      startSequence,
      transactions,
      endBlock: block,
      endSequence: sequence,
      endReason: reason,
      endDetail: detail,
    });
    if (block === 0) return end("clean");
    if (block < jsb.first || block >= jsb.last) {
      throw corrupt("JOURNAL_BAD_START", `log start ${block} outside [${jsb.first}, ${jsb.last})`);
    }
    const budget = jsb.last - jsb.first;
    let visited = 0;
    let current: {
      sequence: number;
      startBlock: number;
      descriptors: JournalDescriptor[];
      revokes: JournalRevoke[];
    } | null = null;
    const close = (commit: JournalCommit | null): void => {
      if (current === null) return;
      transactions.push({ ...current, commit });
      current = null;
    };
    const advance = (): boolean => {
      block = this.nextBlock(block);
      visited++;
      return visited < budget;
    };
    for (;;) {
      if (visited >= budget) {
        close(null);
        return end("log-exhausted");
      }
      const bytes = this.storage.readBlock(block, { offset: block }).slice();
      const header = decodeJournalHeader(bytes);
      if (header === null) {
        close(null);
        return end("no-magic");
      }
      if (header.sequence !== sequence) {
        close(null);
        return end("sequence", header.sequence);
      }
      const here = block;
      if (
        current === null &&
        (header.blocktype === JBD2_DESCRIPTOR_BLOCK ||
          header.blocktype === JBD2_REVOKE_BLOCK ||
          header.blocktype === JBD2_COMMIT_BLOCK)
      ) {
        current = { sequence, startBlock: here, descriptors: [], revokes: [] };
      }
      const tx = current;
      switch (header.blocktype) {
        case JBD2_DESCRIPTOR_BLOCK: {
          const checksumValid =
            !csum ||
            journalBlockTailChecksum(jsb.csumSeed, bytes) ===
              new ByteView(bytes).u32be(bytes.length - 4);
          const tags = decodeDescriptorTags(bytes, jsb);
          const logged: LoggedBlock[] = [];
          let ok = advance();
          for (const tag of tags) {
            if (!ok) break;
            let valid: boolean | null = null;
            if (options.checkData === true && csum) {
              const data = this.storage.readBlock(block, { offset: block });
              const c = journalDataBlockChecksum(jsb.csumSeed, sequence, data);
              valid = jsb.csumV3 ? c === tag.checksum : (c & 0xffff) === tag.checksum;
            }
            logged.push({ ...tag, journalBlock: block, checksumValid: valid });
            ok = advance();
          }
          tx?.descriptors.push({ journalBlock: here, checksumValid, tags: logged });
          if (!ok && logged.length < tags.length) {
            close(null);
            return end("log-exhausted");
          }
          continue;
        }
        case JBD2_COMMIT_BLOCK: {
          const c = decodeCommitBlock(bytes);
          const checksumValid = !csum || journalCommitChecksum(jsb.csumSeed, bytes) === c.chksum0;
          const badDescriptor = tx?.descriptors.some((d) => !d.checksumValid) ?? false;
          if (!checksumValid || badDescriptor) {
            // jbd2 ends recovery before a transaction whose commit or
            // descriptor checksum fails (info->end_transaction).
            close(null);
            return end("bad-checksum");
          }
          close({ journalBlock: here, checksumValid, sec: c.commitSec, nsec: c.commitNsec });
          sequence = (sequence + 1) >>> 0;
          advance();
          continue;
        }
        case JBD2_REVOKE_BLOCK: {
          const checksumValid =
            !csum ||
            journalBlockTailChecksum(jsb.csumSeed, bytes) ===
              new ByteView(bytes).u32be(bytes.length - 4);
          let blocks: number[];
          try {
            blocks = decodeRevokeBlock(bytes, jsb, { offset: here });
          } catch (e) {
            // jbd2 refuses to recover past a revoke block whose count runs off the block.
            if (!isExt4Error(e)) throw e;
            close(null);
            return end("bad-revoke");
          }
          tx?.revokes.push({ journalBlock: here, checksumValid, blocks });
          advance();
          continue;
        }
        default:
          close(null);
          return end("unknown-block-type", header.blocktype);
      }
    }
  }
}
