/**
 * The oclif command of `fuse4fs` (a single-command CLI). FUSE helpers
 * (mount.fuse3) call it with fuse-style arguments (`IMAGE MOUNTPOINT -o
 * opts -f -d`), which {@link runFuse4fs} parses exactly like libfuse, so
 * the command hands its raw arguments over unparsed.
 */
import { Command } from "@oclif/core";
import { usage } from "../options.js";
import { EXIT, runFuse4fs } from "./main.js";

/** `fuse4fs IMAGE MOUNTPOINT [-o OPTIONS] [-f] [-d]`. */
export default class Fuse4fs extends Command {
  static override description = usage();
  static override strict = false;
  // fuse-style flags (-o, -f, -d) are parsed by runFuse4fs, not by oclif.
  static override flags = {};
  static override args = {};

  /** Runs the mount and sets the exit status. */
  async run(): Promise<void> {
    // fuse-style arguments are parsed by runFuse4fs (oclif would refuse -o).
    this.parsed = true;
    const code = await runFuse4fs(this.argv);
    process.exitCode = code;
    if (code !== EXIT.OK) this.exit(code);
  }
}
