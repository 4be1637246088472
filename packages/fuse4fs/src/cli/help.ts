/**
 * oclif's help for `fuse4fs --help`: the usage text with every option on
 * one line (oclif's generated help would wrap them).
 */
import { Help } from "@oclif/core";
import { usage } from "../options.js";

/** Prints {@link usage}. */
export default class Fuse4fsHelp extends Help {
  /** Shows the whole usage, whatever command or topic was asked about. */
  override async showHelp(_argv: string[]): Promise<void> {
    this.log(usage());
  }
}
