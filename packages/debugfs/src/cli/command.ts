/**
 * The oclif command of `ext4-debug` (a single-command CLI): it parses the
 * flags and hands over to {@link runCli}; everything else lives in the
 * library.
 */
// Subpath imports: the package root also loads semver for a Node version check, and the command router.
import * as Args from "@oclif/core/args";
import { Command } from "@oclif/core/command";
import * as Flags from "@oclif/core/flags";
import { runCommandLine } from "./run.js";

/** `ext4-debug [IMAGE] [-w] [-R request] [-f script] [--json] [--offset BYTES] [-c]`. */
export default class Ext4Debug extends Command {
  static override description =
    "Inspect an ext2/3/4 image the way debugfs does; with -w, change it too (write, mkdir, rm, link, " +
    "set_inode_field, set_super_value, freeb, ... as debugfs -w does), without mounting it. " +
    "Read-only unless -w is given. With no -R or -f, starts an interactive shell.";
  static override enableJsonFlag = true;
  static override strict = true;
  static override args = {
    // ignoreStdin: oclif would otherwise read piped stdin into a missing IMAGE (stdin is for -f - and the shell).
    image: Args.string({
      description: "image file or block device to open",
      required: false,
      ignoreStdin: true,
    }),
  };
  static override flags = {
    request: Flags.string({ char: "R", description: "run this one request and exit" }),
    script: Flags.string({
      char: "f",
      description: "run the requests in this file ('-' for stdin) and exit",
    }),
    offset: Flags.string({
      description: "byte offset of the filesystem inside the image (decimal, 0x hex or 0 octal)",
    }),
    catastrophic: Flags.boolean({
      char: "c",
      description: "catastrophic mode: do not read the allocation bitmaps (implies read-only)",
    }),
    writable: Flags.boolean({
      char: "w",
      description:
        "open the image read-write so the write commands work; it is marked clean again at exit",
    }),
    replay: Flags.boolean({
      description:
        "show a journal that needs recovery as replayed, in memory (the image is not written; -w always recovers it on the image)",
    }),
  };
  static override examples = [
    "<%= config.bin %> disk.img",
    "<%= config.bin %> -R 'stat /etc/passwd' disk.img",
    "<%= config.bin %> -f commands.txt --json disk.img",
    "<%= config.bin %> -w -R 'write ./motd /etc/motd' disk.img",
  ];

  /** Parses flags and runs; sets the process exit status. Returns nothing (output is already written). */
  async run(): Promise<void> {
    const { args, flags } = await this.parse(Ext4Debug);
    process.exitCode = await runCommandLine({
      json: this.jsonEnabled(),
      catastrophic: flags.catastrophic,
      writable: flags.writable,
      replay: flags.replay,
      ...(args.image === undefined ? {} : { image: args.image }),
      ...(flags.request === undefined ? {} : { request: flags.request }),
      ...(flags.script === undefined ? {} : { script: flags.script }),
      ...(flags.offset === undefined ? {} : { offset: flags.offset }),
    });
  }
}
