/**
 * The check: opens the image read-only (or takes a device), runs the passes
 * in e2fsck's order and returns plain data: the problems, a summary and a
 * verdict with its fsck(8) exit code. Nothing here prints.
 */
import { availableParallelism, loadavg } from "node:os";
import { Ext4Error, Filesystem, isExt4Error, type RecoveryReport, viewOf } from "@ext4/core";
import { type BlockDevice, FileDevice, IoError, OffsetDevice } from "@ext4/iocache";
import { CheckContext } from "./context.js";
import { SUPERBLOCK } from "./layout.js";
import { checkJournal, checkResizeInode, checkSuperblock } from "./pass0.js";
import { pass1 } from "./pass1.js";
import { pass2 } from "./pass2.js";
import { pass5 } from "./pass5.js";
import { pass3, pass4 } from "./pass34.js";
import { Prefetcher } from "./prefetch.js";
import { makeProblem, type Pass, type Problem } from "./problems.js";

/** Progress of a running check, for a progress bar. */
export interface Progress {
  pass: Pass;
  done: number;
  total: number;
}

/** Options of {@link check}. */
export interface CheckOptions {
  /** Byte offset of the filesystem inside the image (a partition). Default 0. */
  offset?: number;
  /** Keep at most this many problems (default 10 000); the rest are counted. */
  maxProblems?: number;
  /** Buffer cache size in bytes (default 8 MiB: the passes read metadata mostly once, in order). */
  cacheBytes?: number;
  /** The clock in unix seconds for "in the future" checks (default: now). */
  now?: number;
  /**
   * Run every pass even after a problem that makes e2fsck -n stop (a
   * corrupted directory block, an illegal indirect block...). Off by default
   * so the verdict and the passes reporting problems match e2fsck's.
   */
  keepGoing?: boolean;
  /** Name for the summary line (default: the volume label, else the path). */
  name?: string;
  /**
   * Check the filesystem as journal recovery would leave it: a journal that
   * needs recovery is replayed in memory first (the image is never
   * written), as `e2fsck -n` cannot. Default false: the image as it is on
   * disk, with the journal reported.
   */
  replay?: boolean;
  /** Called as the check advances. */
  progress?: (p: Progress) => void;
  /**
   * Read inode tables and directory blocks, with their checksums, ahead on
   * a second thread (prefetch.ts). Only for an image path (a BlockDevice
   * object stays on this thread). Default: for images of 256 MiB and more,
   * when a core looks free (the one-minute load average is below the cores
   * less one); on a busy machine the thread only competes with the checks
   * for the same cores. "all" makes this thread wait for the reader thread
   * to read everything it can instead of reading what the thread has not
   * reached (for tests: it proves the thread's reads and checksums give the
   * same result). The result is the same in every case.
   */
  readerThread?: boolean | "all";
}

/** What the check found overall. */
export type Verdict = "clean" | "errors" | "operational-error";

/** The closing summary, as e2fsck prints it. */
export interface Summary {
  /** Device name: the volume label, else the path. */
  name: string;
  inodesUsed: number;
  inodesCount: number;
  blocksUsed: number;
  blocksCount: number;
  /** Files whose blocks are not contiguous, percent of inodes in use, one decimal. */
  nonContiguousPercent: number;
  /** Passes that ran to the end. */
  passesRun: Pass[];
  /** Passes that reported at least one error or warning. */
  passesWithProblems: Pass[];
  errors: number;
  warnings: number;
  /** Problems found beyond maxProblems (counted, not kept). */
  dropped: number;
}

/** The result of {@link check}. */
export interface CheckResult {
  problems: Problem[];
  summary: Summary;
  verdict: Verdict;
  /** fsck(8): 0 clean, 4 errors left uncorrected, 8 operational error. */
  exitCode: 0 | 4 | 8;
  /** For an operational error: what went wrong. */
  error?: { code: string; message: string };
  /** With {@link CheckOptions.replay}: what the in-memory journal recovery did (absent when none was needed). */
  recovery?: RecoveryReport;
}

/**
 * Checks the filesystem in `target` (an image path, opened read-only, or a
 * {@link BlockDevice} the caller owns) and returns the findings. Never
 * writes. Never throws for anything the image contains: corruption becomes
 * problems, and an image that cannot be opened or read at all becomes an
 * operational-error result. Throws only for invalid options (RangeError).
 */
export function check(target: string | BlockDevice, options: CheckOptions = {}): CheckResult {
  const offset = options.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`invalid offset ${offset}`);
  let dev: BlockDevice;
  let owned = false;
  let file: FileDevice | null = null;
  try {
    if (typeof target === "string") {
      file = FileDevice.open(target, { readOnly: true });
      owned = true;
      dev = file;
      if (offset > 0) {
        if (offset >= file.size) {
          file.close();
          return operational(
            options,
            target,
            "EINVAL",
            `offset ${offset} is past the end of ${target} (${file.size} bytes)`,
          );
        }
        dev = new OffsetDevice(file, offset);
      }
    } else {
      dev =
        offset > 0 ? new OffsetDevice(target, offset, undefined, { closeInner: false }) : target;
    }
  } catch (e) {
    const code = e instanceof IoError ? e.errno : "EIO";
    return operational(
      options,
      typeof target === "string" ? target : target.name,
      code,
      (e as Error).message,
    );
  }
  let recovery: RecoveryReport | null = null;
  if (options.replay === true) {
    try {
      const view = Filesystem.recoveredView(dev);
      if (view !== null) {
        dev = view.device;
        recovery = view.report;
      }
    } catch (e) {
      if (owned) dev.close();
      return operational(
        options,
        typeof target === "string" ? target : target.name,
        "EJOURNAL",
        `cannot replay the journal: ${(e as Error).message}`,
      );
    }
  }
  let reader: Prefetcher | null = null;
  if (
    recovery === null &&
    file !== null &&
    typeof target === "string" &&
    (options.readerThread ?? (file.size >= READER_THREAD_MIN_BYTES && spareCore())) !== false
  ) {
    reader = Prefetcher.start(target, file.fd, offset);
    if (reader !== null) reader.preferThread = options.readerThread === "all";
  }
  try {
    const result = runChecks(dev, options, typeof target === "string" ? target : dev.name, reader);
    if (recovery !== null) result.recovery = recovery;
    return result;
  } finally {
    reader?.close();
    if (owned) dev.close();
  }
}

/** Images from this size on get a reader thread by default (below, starting it costs more than it saves). */
const READER_THREAD_MIN_BYTES = 256 * 1024 * 1024;

/** Whether a core looks idle: the one-minute load average is below the cores less one. */
function spareCore(): boolean {
  const cores = availableParallelism();
  return cores >= 2 && loadavg()[0]! < cores - 1;
}

/**
 * The result of a check that could not run (the image cannot be opened or
 * read, a bad option): no problems, verdict "operational-error", exit 8.
 */
export function operationalResult(name: string, code: string, message: string): CheckResult {
  return {
    problems: [],
    summary: {
      name,
      inodesUsed: 0,
      inodesCount: 0,
      blocksUsed: 0,
      blocksCount: 0,
      nonContiguousPercent: 0,
      passesRun: [],
      passesWithProblems: [],
      errors: 0,
      warnings: 0,
      dropped: 0,
    },
    verdict: "operational-error",
    exitCode: 8,
    error: { code, message },
  };
}

function operational(
  options: CheckOptions,
  name: string,
  code: string,
  message: string,
): CheckResult {
  return operationalResult(options.name ?? name, code, message);
}

const STRUCTURE_CODE = { 1: "STRUCTURE_1", 2: "STRUCTURE_2", 5: "STRUCTURE_5" } as const;

function runChecks(
  dev: BlockDevice,
  options: CheckOptions,
  path: string,
  reader: Prefetcher | null,
): CheckResult {
  const ctx = new CheckContext(dev, {
    maxProblems: options.maxProblems ?? 10_000,
    cacheBytes: options.cacheBytes ?? 8 * 1024 * 1024,
    now: options.now ?? Math.floor(Date.now() / 1000),
  });
  ctx.reader = reader;
  const passesRun: Pass[] = [];
  const progress = (pass: Pass) => (done: number, total: number) =>
    options.progress?.({ pass, done, total });
  const keepGoing = options.keepGoing === true;
  // Runs one pass; a structure the pass did not expect to be malformed
  // becomes a problem of that pass instead of an exception.
  const run = (pass: Pass, fn: () => unknown): boolean => {
    ctx.pass = pass;
    options.progress?.({ pass, done: 0, total: 1 });
    let ok: unknown;
    try {
      ok = fn();
    } catch (e) {
      if (!isExt4Error(e) && !(e instanceof IoError)) throw e;
      const code = pass === 1 || pass === 2 || pass === 5 ? STRUCTURE_CODE[pass] : "IO_ERROR";
      ctx.report(code, {
        str: e.message,
        ...(e instanceof Ext4Error ? { ino: e.context.inode ?? 0, blk: e.context.block ?? 0 } : {}),
      });
      ok = true;
    }
    passesRun.push(pass);
    return ok !== false && (keepGoing || !ctx.stopped);
  };
  const steps: Array<[Pass, () => unknown]> = [
    [
      0,
      () => {
        if (!checkSuperblock(ctx)) return false;
        checkResizeInode(ctx);
        return checkJournal(ctx);
      },
    ],
    [1, () => pass1(ctx, progress(1))],
    [2, () => pass2(ctx, progress(2))],
    [3, () => pass3(ctx)],
    [4, () => pass4(ctx)],
    [5, () => pass5(ctx)],
  ];
  try {
    for (const [pass, fn] of steps) if (!run(pass, fn)) break;
  } catch (e) {
    // Not a malformed structure (those become problems): a bug. Say so
    // plainly rather than crash; tests treat EINTERNAL as a failure.
    return operational(
      options,
      path,
      "EINTERNAL",
      `internal error: ${(e as Error).stack ?? String(e)}`,
    );
  }
  if (ctx.dropped > 0) ctx.problems.push(makeProblem("CHECK_LIMIT", { num: ctx.dropped }));
  const problems = ctx.problems;
  const errors = problems.filter((p) => p.severity === "error").length;
  const warnings = problems.filter((p) => p.severity === "warning").length;
  const passesWithProblems = [
    ...new Set(problems.filter((p) => p.severity !== "info").map((p) => p.pass)),
  ].sort();
  const g = ctx.g as CheckContext["g"] | undefined;
  let label = "";
  if (ctx.sbBytes !== undefined && g !== undefined) {
    const raw = SUPERBLOCK.bytesOf(viewOf(ctx.sbBytes), "s_volume_name");
    const end = raw.indexOf(0);
    label = Buffer.from(raw.subarray(0, end < 0 ? raw.length : end)).toString("utf8");
  }
  const inodesUsed = g === undefined ? 0 : g.inodesCount - g.freeInodes;
  const summary: Summary = {
    name: options.name ?? (label !== "" ? label : path),
    inodesUsed,
    inodesCount: g?.inodesCount ?? 0,
    blocksUsed: g === undefined ? 0 : g.blocksCount - g.freeBlocks,
    blocksCount: g?.blocksCount ?? 0,
    nonContiguousPercent:
      inodesUsed > 0 ? Math.round((1000 * ctx.fragmented) / inodesUsed) / 10 : 0,
    passesRun,
    passesWithProblems,
    errors,
    warnings,
    dropped: ctx.dropped,
  };
  if (g === undefined) {
    // No usable superblock, primary or backup: like e2fsck, which exits 8
    // when it cannot open the filesystem at all, this is "could not check",
    // not "checked and found problems". The findings still say why.
    const first = problems.find((p) => p.severity === "error");
    return {
      problems,
      summary,
      verdict: "operational-error",
      exitCode: 8,
      error: {
        code: first?.code ?? "SB_UNUSABLE",
        message: `no usable superblock: ${first?.message ?? "the filesystem could not be opened"}`,
      },
    };
  }
  const verdict: Verdict = errors > 0 || ctx.dropped > 0 ? "errors" : "clean";
  return { problems, summary, verdict, exitCode: verdict === "clean" ? 0 : 4 };
}
