/**
 * A parsed command line run against the process: the part of the oclif
 * command after parsing, shared with bin/run.js's path that skips oclif
 * for plain batch command lines (see quick.ts).
 */
import { readFileSync } from "node:fs";
import { parseCNumber } from "../shell/parse.js";
import { type CliOptions, runCli } from "./main.js";
import type { CommandLine } from "./quick.js";

/**
 * Runs `ext4-debug` for a parsed command line with the process's streams
 * and returns the exit status (1 for a bad --offset, said on stderr).
 */
export async function runCommandLine(line: CommandLine): Promise<number> {
  const options: CliOptions = {
    json: line.json,
    catastrophic: line.catastrophic,
    writable: line.writable,
    replay: line.replay,
  };
  if (line.image !== undefined) options.image = line.image;
  if (line.request !== undefined) options.request = line.request;
  if (line.script !== undefined) options.script = line.script;
  if (line.offset !== undefined) {
    const offset = parseCNumber(line.offset);
    if (offset === null) {
      process.stderr.write(`ext4-debug: Bad offset - ${line.offset}\n`);
      return 1;
    }
    options.offset = offset;
  }
  return await runCli(options, {
    stdout: (c: string | Uint8Array) =>
      process.stdout.write(typeof c === "string" ? Buffer.from(c, "latin1") : c),
    stderr: (t) => process.stderr.write(t),
    readStdin: () => readFileSync(0, "utf8"),
  });
}
