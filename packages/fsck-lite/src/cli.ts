/**
 * The `ext4-check` command (oclif, single-command CLI). Thin: it parses
 * flags, calls {@link check}, renders the result and sets the fsck(8) exit
 * code (0 clean, 4 problems left, 8 operational error, 16 usage error).
 */
import { Args, Command, Flags } from "@oclif/core";
import { type CheckResult, check, type Progress } from "./check.js";
import { type JsonReport, renderHuman, toJson } from "./render.js";

/** Exit status for a usage error (fsck(8)). */
export const EXIT_USAGE = 16;
/** Exit status for an operational error (fsck(8)). */
export const EXIT_OPERATIONAL = 8;

/**
 * Parses a byte count: digits with an optional K, M, G or T suffix (powers
 * of 1024) or `s` (512-byte sectors). Throws RangeError for anything else.
 */
export function parseBytes(text: string): number {
  const m = /^(\d+)\s*([kKmMgGtTsS]?)$/.exec(text.trim());
  if (!m) throw new RangeError(`not a byte count: ${text}`);
  const unit = (m[2] ?? "").toLowerCase();
  const mult = unit === "s" ? 512 : unit === "" ? 1 : 1024 ** ("kmgt".indexOf(unit) + 1);
  const value = Number(m[1]) * mult;
  if (!Number.isSafeInteger(value)) throw new RangeError(`byte count too large: ${text}`);
  return value;
}

/** A progress bar on stderr, redrawn at most every 100 ms. Returns the callback and a closer. */
export function progressBar(stream: NodeJS.WriteStream): {
  update: (p: Progress) => void;
  done: () => void;
} {
  let last = 0;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const width = 30;
      const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
      const fill = Math.round(frac * width);
      stream.write(
        `\rPass ${p.pass}: [${"#".repeat(fill)}${" ".repeat(width - fill)}] ${Math.round(frac * 100)}%  `,
      );
      drawn = true;
    },
    done() {
      if (drawn) stream.write(`\r${" ".repeat(50)}\r`);
    },
  };
}

/** `ext4-check IMAGE`: is this ext2/3/4 filesystem consistent? Same verdict as `e2fsck -fn`. */
export default class CheckCommand extends Command {
  static override description =
    "Check an ext2/ext3/ext4 filesystem image read-only, with the verdict of e2fsck -fn.\n" +
    "Exit status (fsck(8)): 0 clean, 4 problems found, 8 operational error, 16 usage error.";
  static override enableJsonFlag = true;
  static override args = {
    image: Args.string({ description: "image file or block device", required: true }),
  };
  static override flags = {
    offset: Flags.string({
      description: "byte offset of the filesystem in the image (suffix K/M/G/T, or s for sectors)",
    }),
    quiet: Flags.boolean({
      char: "p",
      description: "print only the problems (fsck -p style), nothing when clean",
    }),
    "keep-going": Flags.boolean({ description: "run every pass even where e2fsck -n would stop" }),
    replay: Flags.boolean({
      description: "replay the journal in memory before checking (not available yet)",
    }),
    progress: Flags.boolean({
      description: "force the progress bar (default: only when stderr is a terminal)",
      allowNo: true,
    }),
  };

  /** Runs the check; returns the JSON report (printed by oclif with --json). */
  async run(): Promise<JsonReport> {
    const { args, flags } = await this.parse(CheckCommand);
    if (flags.replay) {
      this.logToStderr(
        "ext4-check: journal replay is not available yet; run without --replay to check the filesystem as it is on disk (a journal that needs recovery is reported)",
      );
      process.exitCode = EXIT_OPERATIONAL;
      return toJson(
        operationalResult(args.image, "ENOTSUP", "journal replay is not available yet"),
      );
    }
    let offset = 0;
    if (flags.offset !== undefined) {
      try {
        offset = parseBytes(flags.offset);
      } catch (e) {
        this.logToStderr(`ext4-check: --offset: ${(e as Error).message}`);
        process.exitCode = EXIT_USAGE;
        return toJson(operationalResult(args.image, "EINVAL", (e as Error).message));
      }
    }
    const json = this.jsonEnabled();
    const wantBar = flags.progress ?? (process.stderr.isTTY === true && !json && !flags.quiet);
    const bar = wantBar ? progressBar(process.stderr) : null;
    let result: CheckResult;
    try {
      result = check(args.image, {
        offset,
        keepGoing: flags["keep-going"],
        ...(bar === null ? {} : { progress: bar.update }),
      });
    } finally {
      bar?.done();
    }
    if (!json) {
      const text = renderHuman(result, { quiet: flags.quiet });
      if (result.verdict === "operational-error") process.stderr.write(text);
      else process.stdout.write(text);
    }
    process.exitCode = result.exitCode;
    return toJson(result);
  }

  /** Flag and argument errors exit 16 (fsck's usage error) instead of oclif's 2. */
  protected override async catch(
    err: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<void> {
    if (err.oclif?.exit === 0) return;
    process.stderr.write(`ext4-check: ${err.message}\n`);
    process.exitCode =
      err.oclif?.exit === 2 || /flag|argument|Missing|Unexpected|Nonexistent/i.test(err.message)
        ? EXIT_USAGE
        : EXIT_OPERATIONAL;
  }
}

function operationalResult(name: string, code: string, message: string): CheckResult {
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
