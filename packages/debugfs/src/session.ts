/**
 * The library form of the shell: a {@link Session} holds the open image and
 * the current directory, and runs one command line at a time, returning the
 * command's data together with its rendered text. The CLI, the interactive
 * shell and the tests all go through {@link Session.run} /
 * {@link Session.execute}; nothing here prints.
 */
import { EXT4_ROOT_INO, type Filesystem, isExt4Error } from "@ext4/core";
import { type CommandDef, CommandError, type Rendered } from "./command.js";
import { COMMANDS } from "./commands/index.js";
import { closeImage, openImage, resolveInode } from "./image.js";
import { byteString } from "./render/format.js";
import type { OpenImage, OpenOptions, Shell } from "./shell/context.js";
import { ParseError, splitLine } from "./shell/parse.js";

/** Where {@link Session.execute} sends a command's output as it is produced. */
export interface OutputSink {
  /** Called with each chunk of stdout: a byte string (one char per byte) or bytes. */
  stdout(chunk: string | Uint8Array): void;
  /** Called with each complete stderr line, newline included. */
  stderr(line: string): void;
}

/** How {@link Session.execute} prints a command's result. */
export type OutputFormat = "text" | "json" | "none";

/** The result of one command line. */
export interface Outcome {
  /** The line as given. */
  readonly line: string;
  /** Its words after ss-style splitting (empty for a blank line). */
  readonly argv: readonly string[];
  /** The canonical name of the command run, or null (blank line, unknown command, parse error). */
  readonly command: string | null;
  /** False when the command failed or was not found: the CLI exits 1. */
  readonly ok: boolean;
  /** The command's data (what `--json` prints), when it ran. */
  readonly data: unknown;
  /** The failure, when there was one: stable code and the stderr line. */
  readonly error: { readonly code: string; readonly message: string } | null;
  /** True for `quit`: the shell should stop reading commands. */
  readonly quit: boolean;
}

/** An {@link Outcome} with its output collected (what {@link Session.run} returns). */
export interface CollectedOutcome extends Outcome {
  /** stdout as bytes. */
  readonly stdout: Uint8Array;
  /** stdout decoded as UTF-8 (convenient for tests; exact bytes are in `stdout`). */
  readonly text: string;
  /** stderr text (each line newline-terminated). */
  readonly stderr: string;
}

/** Options for a {@link Session}. */
export interface SessionOptions {
  /** The command table (default: every ext4-debug command). */
  commands?: readonly CommandDef[];
  /** Host directory that dump/rdump resolve relative paths against (default process.cwd()). */
  hostCwd?: string;
  /** Receives warning lines produced outside a command (opening an image from the CLI). */
  onWarning?: (line: string) => void;
}

const QUIT = new Set(["quit", "q"]);

/**
 * One inspection session over at most one open image, like one run of
 * debugfs. Not re-entrant: one command at a time.
 */
export class Session implements Shell {
  /** The open image, or null. */
  image: OpenImage | null = null;
  /** The current directory (debugfs's cwd); the root inode after open. */
  cwd = EXT4_ROOT_INO;
  /** The directory "/" resolves to (debugfs's root; chroot moves it). */
  root = EXT4_ROOT_INO;
  /** The command table this session dispatches on. */
  readonly commands: readonly CommandDef[];
  /** The host directory relative dump/rdump/ea_get -f paths are resolved against. */
  readonly hostCwd: string;
  private readonly byName = new Map<string, CommandDef>();
  private sink: OutputSink | null = null;
  private failed: string | null = null;

  /** Where warnings go outside a command (while the CLI opens the image). */
  private readonly warnings: ((line: string) => void) | undefined;

  constructor(options: SessionOptions = {}) {
    this.warnings = options.onWarning;
    this.commands = options.commands ?? COMMANDS;
    this.hostCwd = options.hostCwd ?? process.cwd();
    for (const c of this.commands) {
      for (const n of [c.name, ...c.aliases]) this.byName.set(n, c);
    }
  }

  /** The command called `name` (or one of its aliases), or undefined. */
  lookup(name: string): CommandDef | undefined {
    return this.byName.get(name);
  }

  /** Every command name and alias (for completion). */
  commandNames(): string[] {
    return [...this.byName.keys()].sort();
  }

  /**
   * Opens an image (debugfs `open`), read-only unless `options.writable`.
   * Throws CommandError when an image is already open, the file cannot be
   * opened, or it is not a filesystem we can read (the message names what
   * is wrong and where).
   */
  openImage(path: string, options: OpenOptions = {}): void {
    if (this.image !== null) {
      throw new CommandError(
        "open",
        `Filesystem ${this.image.path} is still open.  Close it first.`,
        "FS_STILL_OPEN",
      );
    }
    const image = openImage(path, options);
    this.image = image;
    this.cwd = EXT4_ROOT_INO;
    this.root = EXT4_ROOT_INO;
    if (image.warning !== null) for (const w of image.warning.split("\n")) this.warn(w);
    if (image.catastrophic)
      this.warn(`${path}: catastrophic mode - not reading inode or group bitmaps`);
  }

  /** Closes the open image. Throws CommandError `who: Filesystem not open` when none is. */
  closeImage(who: string): void {
    const image = this.image;
    if (image === null) throw new CommandError(who, "Filesystem not open", "FS_NOT_OPEN");
    this.image = null;
    closeImage(image);
  }

  /**
   * Closes the image if one is open (for cleanup paths). Never throws: a
   * caller that must know whether a writable image was flushed uses
   * {@link closeImage}.
   */
  dispose(): void {
    const image = this.image;
    this.image = null;
    if (image !== null) {
      try {
        closeImage(image);
      } catch {
        // Only cleanup paths get here; the CLI closes through closeImage and reports failures.
      }
    }
  }

  /** The open filesystem. Throws CommandError `who: Filesystem not open` when there is none. */
  requireFs(who: string): Filesystem {
    if (this.image === null) throw new CommandError(who, "Filesystem not open", "FS_NOT_OPEN");
    return this.image.fs;
  }

  /** debugfs's string_to_inode (`<N>` or a path). Throws CommandError `spec: <reason>`. */
  resolveInode(spec: string): number {
    const fs = this.requireFs(spec);
    return resolveInode(fs, spec, this.cwd, this.root);
  }

  /** A warning line on stderr; the running command still succeeds. */
  warn(line: string): void {
    if (this.sink !== null) this.sink.stderr(`${line}\n`);
    else this.warnings?.(`${line}\n`);
  }

  /** An error line on stderr that marks the running command failed while its output still prints. */
  fail(line: string): void {
    this.sink?.stderr(`${line}\n`);
    this.failed ??= line;
  }

  /**
   * Runs one command line and collects its output. Never throws for a
   * command failure: that is reported in the outcome (ok false, error, the
   * stderr line).
   */
  run(line: string): CollectedOutcome {
    const chunks: Buffer[] = [];
    let stderr = "";
    const outcome = this.execute(line, {
      stdout(chunk) {
        chunks.push(typeof chunk === "string" ? Buffer.from(chunk, "latin1") : Buffer.from(chunk));
      },
      stderr(l) {
        stderr += l;
      },
    });
    const stdout = Buffer.concat(chunks);
    return { ...outcome, stdout, text: stdout.toString("utf8"), stderr };
  }

  /**
   * Runs one command line, streaming its output to `sink` as it is
   * rendered (so `cat` of a large file never sits in memory). `format`
   * "json" prints the data as one JSON document instead of debugfs's text;
   * "none" prints nothing (the caller uses the outcome's data).
   */
  execute(line: string, sink: OutputSink, format: OutputFormat = "text"): Outcome {
    let argv: string[];
    try {
      argv = splitLine(line);
    } catch (e) {
      const message = e instanceof ParseError ? e.message : String(e);
      sink.stderr(`debugfs: ${message}\n`);
      return outcomeOf(line, [], null, false, undefined, { code: "PARSE", message });
    }
    if (argv.length === 0) return outcomeOf(line, argv, null, true, undefined, null);
    const name = argv[0]!;
    const cmd = this.byName.get(name);
    if (cmd === undefined) {
      const message = `debugfs: Command not found ${name}`;
      sink.stderr(`${message}\n`);
      return outcomeOf(line, argv, null, false, undefined, { code: "NOT_FOUND", message });
    }
    this.sink = sink;
    this.failed = null;
    try {
      if (cmd.needsFs) this.requireFs(name);
      const data = cmd.run(this, argv);
      if (format === "json") sink.stdout(byteString(`${toJson(data, 2)}\n`));
      else if (format === "text") emit(cmd.render(data, this), sink);
      const error = this.failed === null ? null : { code: "COMMAND_FAILED", message: this.failed };
      return outcomeOf(line, argv, cmd.name, error === null, data, error, QUIT.has(cmd.name));
    } catch (e) {
      const err = describeFailure(name, e);
      sink.stderr(`${err.message}\n`);
      return outcomeOf(line, argv, cmd.name, false, undefined, err);
    } finally {
      this.sink = null;
    }
  }
}

function outcomeOf(
  line: string,
  argv: readonly string[],
  command: string | null,
  ok: boolean,
  data: unknown,
  error: { code: string; message: string } | null,
  quit = false,
): Outcome {
  return { line, argv, command, ok, data, error, quit };
}

function emit(rendered: Rendered, sink: OutputSink): void {
  if (typeof rendered === "string") {
    if (rendered !== "") sink.stdout(rendered);
    return;
  }
  for (const chunk of rendered) sink.stdout(chunk);
}

/**
 * The one stderr line for a failure, in debugfs's com_err shape
 * (`who: message`). An Ext4Error carries inode/block context in its message;
 * anything else unexpected is reported by class and message, never with a
 * stack trace.
 */
export function describeFailure(who: string, e: unknown): { code: string; message: string } {
  if (e instanceof CommandError) return { code: e.code, message: e.line };
  if (isExt4Error(e)) return { code: e.code, message: `${who}: ${e.message}` };
  if (e instanceof Error) {
    const code = "code" in e && typeof e.code === "string" ? e.code : "INTERNAL";
    return { code, message: `${who}: ${e.message}` };
  }
  return { code: "INTERNAL", message: `${who}: ${String(e)}` };
}

/** JSON text of command data: byte arrays become base64 strings, bigints decimal strings. */
export function toJson(data: unknown, indent?: number): string {
  return JSON.stringify(
    data ?? null,
    (_key, value: unknown) => {
      if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
      if (typeof value === "bigint") return value.toString();
      return value;
    },
    indent,
  );
}
