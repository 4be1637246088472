/**
 * The plain batch command lines of `ext4-debug` (`-R request IMAGE`,
 * `-f script IMAGE`, with -w, -c, --json, --replay, --offset), read without
 * oclif. Loading oclif and its configuration was about half the start-up
 * of a short request; bin/run.js asks this module first and hands
 * everything it does not accept to oclif, so oclif stays the definition of
 * the command line (help, usage errors, every other spelling).
 */

/** A command line as the oclif command parses it (see command.ts). */
export interface CommandLine {
  readonly image?: string;
  readonly request?: string;
  readonly script?: string;
  /** --offset as written (parsed by runCommandLine, which reports a bad one). */
  readonly offset?: string;
  readonly json: boolean;
  readonly catastrophic: boolean;
  readonly writable: boolean;
  readonly replay: boolean;
}

const BOOLEAN = new Map<string, "json" | "catastrophic" | "writable" | "replay">([
  ["--json", "json"],
  ["-c", "catastrophic"],
  ["-w", "writable"],
  ["--replay", "replay"],
]);
const VALUED = new Map<string, "request" | "script" | "offset">([
  ["-R", "request"],
  ["-f", "script"],
  ["--offset", "offset"],
]);

/**
 * Parses `argv` when it is a plain batch invocation: each flag spelled as
 * above and given once, values as separate words (not starting with '-',
 * except `-f -` for stdin), at most one non-empty image, and -R or -f
 * present. Returns null for anything else, and whenever the environment
 * holds a variable oclif reads (EXT4_DEBUG_*, DEBUG): oclif then decides.
 */
export function parseQuick(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CommandLine | null {
  if (env.DEBUG !== undefined) return null;
  for (const k of Object.keys(env)) if (k.startsWith("EXT4_DEBUG_")) return null;
  const seen = new Set<string>();
  const values: { request?: string; script?: string; offset?: string } = {};
  const flags = { json: false, catastrophic: false, writable: false, replay: false };
  let image: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    // OK to assert: i < argv.length.
    const a = argv[i]!;
    const bool = BOOLEAN.get(a);
    const valued = VALUED.get(a);
    if (bool !== undefined || valued !== undefined) {
      if (seen.has(a)) return null;
      seen.add(a);
    }
    if (bool !== undefined) {
      flags[bool] = true;
    } else if (valued !== undefined) {
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith("-") && !(a === "-f" && v === "-"))) return null;
      values[valued] = v;
      i++;
    } else {
      if (a === "" || a.startsWith("-") || image !== undefined) return null;
      image = a;
    }
  }
  if (values.request === undefined && values.script === undefined) return null;
  return { ...values, ...(image === undefined ? {} : { image }), ...flags };
}
