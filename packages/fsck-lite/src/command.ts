/**
 * What `ext4-check` does once its flags are parsed: run {@link check},
 * render, set the fsck(8) exit code. Both ways in share it: the oclif
 * command (src/cli.ts) and the start-up fast path of src/main.ts, which
 * parses the plain invocations itself so that a check does not pay for
 * loading oclif. Nothing here imports oclif.
 */
import { type CheckResult, check, operationalResult, type Progress } from "./check.js";
import { type JsonReport, renderHuman, toJson } from "./render.js";

/** Exit status for a usage error (fsck(8)). */
export const EXIT_USAGE = 16;
/** Exit status for an operational error (fsck(8)). */
export const EXIT_OPERATIONAL = 8;

/** The parsed flags of `ext4-check` (see cli.ts for their meaning). */
export interface CommandFlags {
  offset?: string | undefined;
  quiet: boolean;
  keepGoing: boolean;
  replay: boolean;
  /** --progress / --no-progress; undefined: only when stderr is a terminal. */
  progress?: boolean | undefined;
  /** --json: the caller prints the returned report (oclif does). */
  json: boolean;
}

/** Where the command writes. */
export interface CommandIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** One line for the user on stderr (newline added); silent under --json. */
  warn: (line: string) => void;
  /** The progress bar's terminal, when one is wanted. */
  tty: NodeJS.WriteStream;
}

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

/**
 * Runs the check of `image` with `flags`, writes the human output (unless
 * --json) and sets process.exitCode to the fsck(8) status. Returns the JSON
 * report. Never throws for anything the image contains.
 */
export function runCommand(image: string, flags: CommandFlags, io: CommandIo): JsonReport {
  let offset = 0;
  if (flags.offset !== undefined) {
    try {
      offset = parseBytes(flags.offset);
    } catch (e) {
      io.warn(`ext4-check: --offset: ${(e as Error).message}`);
      process.exitCode = EXIT_USAGE;
      return toJson(operationalResult(image, "EINVAL", (e as Error).message));
    }
  }
  const wantBar = flags.progress ?? (io.tty.isTTY === true && !flags.json && !flags.quiet);
  const bar = wantBar ? progressBar(io.tty) : null;
  let result: CheckResult;
  try {
    result = check(image, {
      offset,
      keepGoing: flags.keepGoing,
      replay: flags.replay,
      ...(bar === null ? {} : { progress: bar.update }),
    });
  } finally {
    bar?.done();
  }
  if (!flags.json) {
    const text = renderHuman(result, { quiet: flags.quiet });
    if (result.verdict === "operational-error") io.stderr(text);
    else io.stdout(text);
  }
  process.exitCode = result.exitCode;
  return toJson(result);
}

/**
 * The exit status for an exception the command did not expect: 16 for an
 * oclif flag or argument error (its exit 2), 8 for anything else. Never throws.
 */
export function exitCodeForError(err: Error & { oclif?: { exit?: number } }): number {
  return err.oclif?.exit === 2 || /flag|argument|Missing|Unexpected|Nonexistent/i.test(err.message)
    ? EXIT_USAGE
    : EXIT_OPERATIONAL;
}

/**
 * The invocations the start-up fast path may run without oclif: one image
 * argument and any of -p/--quiet, --keep-going, --[no-]progress and
 * --offset VALUE / --offset=VALUE, each at most once, with a valid offset,
 * and no `EXT4_CHECK_CONTENT_TYPE` in the environment (which oclif reads as
 * --json). Returns the parse, or null for anything else (help, --json,
 * --replay, a usage error...), which goes to oclif. Never throws.
 */
export function parseFastArgs(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): { image: string; flags: CommandFlags } | null {
  if (env.EXT4_CHECK_CONTENT_TYPE !== undefined) return null;
  let image: string | undefined;
  const flags: CommandFlags = { quiet: false, keepGoing: false, replay: false, json: false };
  const seen = new Set<string>();
  const once = (name: string) => {
    if (seen.has(name)) return false;
    seen.add(name);
    return true;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-p" || a === "--quiet") {
      if (!once("quiet")) return null;
      flags.quiet = true;
    } else if (a === "--keep-going") {
      if (!once("keep-going")) return null;
      flags.keepGoing = true;
    } else if (a === "--progress" || a === "--no-progress") {
      if (!once("progress")) return null;
      flags.progress = a === "--progress";
    } else if (a === "--offset" || a.startsWith("--offset=")) {
      if (!once("offset")) return null;
      const value = a === "--offset" ? argv[++i] : a.slice("--offset=".length);
      if (value === undefined || value.startsWith("-")) return null;
      try {
        parseBytes(value);
      } catch {
        return null;
      }
      flags.offset = value;
    } else if (a.startsWith("-") || a === "" || image !== undefined) {
      return null;
    } else {
      image = a;
    }
  }
  return image === undefined ? null : { image, flags };
}
