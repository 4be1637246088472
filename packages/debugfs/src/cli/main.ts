/**
 * What `ext4-debug` does once its flags are parsed, as a function tests call
 * without spawning a process: open the image, then run one request (`-R`), a
 * script (`-f`), or the interactive shell. Unlike debugfs, the exit status
 * is strict: 0 only when every command succeeded.
 */
import { readFileSync } from "node:fs";
import { CommandError } from "../command.js";
import { byteString } from "../render/format.js";
import { describeFailure, type OutputSink, Session, toJson } from "../session.js";
import { runInteractive } from "./repl.js";

/** The parsed command line of `ext4-debug`. */
export interface CliOptions {
  /** The image to open, if any. */
  image?: string;
  /** `-R`: run this one request and exit. */
  request?: string;
  /** `-f`: run the requests in this file (`-` is stdin) and exit. */
  script?: string;
  /** `--json`: print each command's data as JSON instead of debugfs's text. */
  json?: boolean;
  /** `--offset`: the filesystem starts this many bytes into the image. */
  offset?: number;
  /** `-c`: catastrophic mode (no bitmaps are read). */
  catastrophic?: boolean;
  /** `-w`: open the image read-write (debugfs -w). */
  writable?: boolean;
  /** `--replay`: a read-only open shows the journal replayed, in memory. */
  replay?: boolean;
}

/** Where the CLI's output goes (process streams in production, buffers in tests). */
export interface CliIo {
  /** Writes stdout bytes or a byte string (one char per byte). */
  stdout(chunk: string | Uint8Array): void;
  /** Writes stderr text (Unicode; written as UTF-8). */
  stderr(text: string): void;
  /** The whole of stdin as UTF-8 text, for `-f -` (read lazily). */
  readStdin(): string;
}

/** Exit status when every command succeeded. */
export const EXIT_OK = 0;
/** Exit status when any command, or opening the image, failed. */
export const EXIT_FAILED = 1;

/**
 * Runs `ext4-debug` with parsed options and returns the exit status. The
 * interactive shell (no -R, no -f) needs a terminal or piped stdin and is
 * asynchronous; -R and -f complete synchronously inside the returned
 * promise. A writable image is flushed and marked clean when the run ends;
 * if that fails the status is 1. Never throws: every failure becomes one
 * stderr line and status 1.
 */
export async function runCli(options: CliOptions, io: CliIo): Promise<number> {
  const session = new Session({ onWarning: (l) => io.stderr(l) });
  let status = EXIT_FAILED;
  try {
    status = await runSession(session, options, io);
  } finally {
    // A writable image is flushed and marked clean here: a failure is a failed run, said once.
    if (session.image !== null) {
      try {
        session.closeImage("ext4-debug");
      } catch (e) {
        io.stderr(`${describeFailure("ext4-debug", e).message}\n`);
        status = EXIT_FAILED;
      }
    }
    session.dispose();
  }
  return status;
}

/** Opens the image and runs the request, script or shell; the caller closes the image. */
async function runSession(session: Session, options: CliOptions, io: CliIo): Promise<number> {
  const sink: OutputSink = { stdout: (c) => io.stdout(c), stderr: (l) => io.stderr(l) };
  const batch = options.request !== undefined || options.script !== undefined;
  if (options.image !== undefined) {
    try {
      session.openImage(options.image, {
        ...(options.offset !== undefined ? { offset: options.offset } : {}),
        ...(options.catastrophic === true ? { catastrophic: true } : {}),
        ...(options.writable === true ? { writable: true } : {}),
        ...(options.replay === true ? { replay: true } : {}),
      });
    } catch (e) {
      const err = describeFailure("ext4-debug", e);
      io.stderr(`${err.message}\n`);
      if (options.json === true && batch) io.stdout(byteString(`${toJson({ error: err })}\n`));
      // A request against an image that did not open can only fail; say so once.
      if (batch) return EXIT_FAILED;
    }
  }
  if (options.request !== undefined) {
    const outcome = session.execute(options.request, sink, options.json === true ? "json" : "text");
    if (!outcome.ok && options.json === true && outcome.error !== null) {
      io.stdout(byteString(`${toJson({ error: outcome.error })}\n`));
    }
    return outcome.ok ? EXIT_OK : EXIT_FAILED;
  }
  if (options.script !== undefined) {
    return runScript(session, options.script, io, options.json === true);
  }
  return await runInteractive(session);
}

/**
 * debugfs -f: each line is echoed as `debugfs: <line>` and run; a line
 * starting with `#` is echoed verbatim and skipped (debugfs's source_file).
 * In JSON mode each command prints one JSON object per line
 * (`{line, command, ok, data | error}`) and nothing is echoed. Returns the
 * exit status: 1 if the script cannot be read or any command failed.
 */
export function runScript(session: Session, script: string, io: CliIo, json: boolean): number {
  let text: string;
  try {
    text = script === "-" ? io.readStdin() : readFileSync(script, "utf8");
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    io.stderr(`${new CommandError(script, why).line}\n`);
    return EXIT_FAILED;
  }
  let status = EXIT_OK;
  const lines = text.split("\n");
  // A final newline does not start another (empty) command.
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  for (const raw of lines) {
    if (raw.startsWith("#")) {
      if (!json) io.stdout(byteString(`${raw}\n`));
      continue;
    }
    const line = raw.replace(/\r.*$/s, "");
    if (json) {
      const outcome = session.execute(
        line,
        { stdout: () => {}, stderr: (l) => io.stderr(l) },
        "none",
      );
      if (outcome.argv.length > 0) {
        const record = outcome.ok
          ? { line, command: outcome.command, ok: true, data: outcome.data }
          : { line, command: outcome.command, ok: false, error: outcome.error };
        io.stdout(byteString(`${toJson(record)}\n`));
      }
      if (!outcome.ok) status = EXIT_FAILED;
      continue;
    }
    io.stdout(byteString(`debugfs: ${line}\n`));
    const outcome = session.execute(line, {
      stdout: (c) => io.stdout(c),
      stderr: (l) => io.stderr(l),
    });
    if (!outcome.ok) status = EXIT_FAILED;
    // debugfs's source_file runs every line: quit only ends an interactive session.
  }
  return status;
}
