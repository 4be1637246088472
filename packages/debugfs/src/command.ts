/**
 * The shape of a shell command and of its failures. Every command is a row
 * of the command table: it parses its own words, computes plain data with
 * library calls (`run`), and turns that data into debugfs's text (`render`);
 * `--json` prints the data instead of the text.
 */
import type { Shell } from "./shell/context.js";

/**
 * What `render` produces: text, or a sequence of chunks for large or binary
 * output (`cat`) so that nothing has to hold a whole file in memory. Text is
 * a "byte string": every character is one byte (Latin-1), so bytes from the
 * image (names, symlink targets, xattr values) reach stdout unchanged, as
 * debugfs writes them.
 */
export type Rendered = string | Iterable<string | Uint8Array>;

/** One row of the command table. */
export interface CommandDef<D = unknown> {
  /** The debugfs request name (the first name debugfs lists). */
  readonly name: string;
  /** Other names, as debugfs's request table lists them. */
  readonly aliases: readonly string[];
  /** Usage line (without the command name). */
  readonly usage: string;
  /** One line of help, as `help` lists it. */
  readonly help: string;
  /** Whether the command needs an open filesystem (checked before `run`, as debugfs's check_fs_open). */
  readonly needsFs: boolean;
  /**
   * Runs the command; `argv[0]` is the name it was called by. Returns plain,
   * JSON-serialisable data. Throws {@link CommandError} (or an Ext4Error,
   * which the session reports in debugfs's shape).
   */
  run(shell: Shell, argv: readonly string[]): D;
  /** debugfs's text for `data`. Never throws for data `run` returned. */
  render(data: D, shell: Shell): Rendered;
}

/**
 * Declares a command with its data type checked between `run` and `render`
 * (the table itself holds them as `CommandDef<unknown>`).
 */
export function defineCommand<D>(def: CommandDef<D>): CommandDef<unknown> {
  return def as unknown as CommandDef<unknown>;
}

/**
 * A command failed. `who` and `message` print as debugfs's com_err does,
 * `who: message` on one line (who is usually the command name or the path
 * that could not be resolved); `code` is a stable key for `--json`.
 */
export class CommandError extends Error {
  override readonly name = "CommandError";
  constructor(
    readonly who: string,
    message: string,
    readonly code = "COMMAND_FAILED",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The one stderr line: `who: message`. */
  get line(): string {
    return this.who === "" ? this.message : `${this.who}: ${this.message}`;
  }
}

/** A usage error: `who: Usage: <usage>` (debugfs's common_args_process). */
export function usageError(who: string, usage: string): CommandError {
  return new CommandError(who, `Usage: ${usage}`, "USAGE");
}
