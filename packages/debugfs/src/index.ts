/**
 * ext4-debug as a library: a {@link Session} runs debugfs-style command
 * lines against an image and returns each command's data with its text; the
 * CLI (`bin/run.js`) is a thin layer over {@link runCli}.
 */
export {
  type CliIo,
  type CliOptions,
  EXIT_FAILED,
  EXIT_OK,
  runCli,
  runScript,
} from "./cli/main.js";
export {
  type CommandDef,
  CommandError,
  defineCommand,
  type Rendered,
  usageError,
} from "./command.js";
export { COMMANDS } from "./commands/index.js";
export {
  type CollectedOutcome,
  describeFailure,
  type Outcome,
  type OutputFormat,
  type OutputSink,
  Session,
  type SessionOptions,
  toJson,
} from "./session.js";
export type { OpenImage, OpenOptions, Shell } from "./shell/context.js";
export { getopt, ParseError, quoteWord, splitLine, UsageError } from "./shell/parse.js";
