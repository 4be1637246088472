/**
 * The `ext4-check` command (oclif, single-command CLI). Thin: it parses
 * flags, calls {@link check}, renders the result and sets the fsck(8) exit
 * code (0 clean, 4 problems left, 8 operational error, 16 usage error).
 */
// The subpaths, not the package index: the index also loads help, ux and
// plugin machinery a check never uses, and start-up is part of every check.
import * as Args from "@oclif/core/args";
import { Command } from "@oclif/core/command";
import * as Flags from "@oclif/core/flags";
import { exitCodeForError, runCommand } from "./command.js";
import type { JsonReport } from "./render.js";

export { EXIT_OPERATIONAL, EXIT_USAGE, parseBytes, progressBar } from "./command.js";

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
      description:
        "replay a journal that needs recovery in memory and check the recovered filesystem (the image is not written)",
    }),
    progress: Flags.boolean({
      description: "force the progress bar (default: only when stderr is a terminal)",
      allowNo: true,
    }),
  };

  /** Runs the check; returns the JSON report (printed by oclif with --json). */
  async run(): Promise<JsonReport> {
    const { args, flags } = await this.parse(CheckCommand);
    return runCommand(
      args.image,
      {
        offset: flags.offset,
        quiet: flags.quiet,
        keepGoing: flags["keep-going"],
        replay: flags.replay,
        progress: flags.progress,
        json: this.jsonEnabled(),
      },
      {
        stdout: (t) => process.stdout.write(t),
        stderr: (t) => process.stderr.write(t),
        warn: (line) => this.logToStderr(line),
        tty: process.stderr,
      },
    );
  }

  /** Flag and argument errors exit 16 (fsck's usage error) instead of oclif's 2. */
  protected override async catch(
    err: Error & { exitCode?: number; oclif?: { exit?: number } },
  ): Promise<void> {
    if (err.oclif?.exit === 0) return;
    process.stderr.write(`ext4-check: ${err.message}\n`);
    process.exitCode = exitCodeForError(err);
  }
}
