/**
 * The process entry of `ext4-check` (bin/run.js calls {@link main}). A
 * check is usually over in well under a second, so start-up is a large
 * part of it; this entry keeps it short: Node's compile cache is turned on
 * before anything big is loaded, the plain invocations are parsed here and
 * run without loading oclif (about 40 ms and 10 MiB of start-up), and the
 * others run the oclif command class directly instead of through oclif's
 * `execute`, which discovers commands and plugins a single-command CLI
 * does not have. Only `--help` and `--version`, oclif's own, go through
 * `execute`.
 */
import { existsSync, mkdirSync, statSync } from "node:fs";
import module from "node:module";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

/**
 * Where compiled code is kept between runs: `$XDG_CACHE_HOME` (else
 * `~/.cache`) + `/ext4-toolkit/compile-cache`. Never throws.
 */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base =
    env.XDG_CACHE_HOME !== undefined && env.XDG_CACHE_HOME !== ""
      ? env.XDG_CACHE_HOME
      : join(homedir(), ".cache");
  return join(base, "ext4-toolkit", "compile-cache");
}

/**
 * Turns on Node's module compile cache in `dir` (module.enableCompileCache,
 * Node 22.1+). Returns whether it is on. Never throws: a cache that cannot
 * be written, or a Node without one, only costs start-up time.
 */
export function enableCompileCache(dir: string = compileCacheDir()): boolean {
  try {
    if (!ensureDir(dir)) return false;
    const r = module.enableCompileCache?.(dir);
    const ok = module.constants?.compileCacheStatus;
    return (
      r !== undefined &&
      ok !== undefined &&
      (r.status === ok.ENABLED || r.status === ok.ALREADY_ENABLED)
    );
  } catch {
    return false;
  }
}

/**
 * Creates `dir` and its missing parents one level at a time; true when it
 * is a directory at the end. Node's recursive mkdir (and so
 * enableCompileCache, which uses it) never returns under /proc, where
 * mkdir fails with ENOENT; this stops at the first failure instead.
 */
function ensureDir(dir: string): boolean {
  const missing: string[] = [];
  let at = resolve(dir);
  for (let guard = 0; guard < 64 && !existsSync(at); guard++) {
    missing.push(at);
    const up = dirname(at);
    if (up === at) return false;
    at = up;
  }
  try {
    for (const d of missing.reverse()) mkdirSync(d);
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The start-up fast path: runs the plain invocations (see parseFastArgs)
 * without loading oclif, printing and exiting exactly as the oclif command
 * does for them. Resolves to false, having done nothing, for any other
 * argv. Never rejects.
 */
export async function runFast(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<boolean> {
  const command = await import("./command.js");
  const fast = command.parseFastArgs(argv, env);
  if (fast === null) return false;
  try {
    command.runCommand(fast.image, fast.flags, {
      stdout: (t) => process.stdout.write(t),
      stderr: (t) => process.stderr.write(t),
      warn: (line) => process.stderr.write(`${line}\n`),
      tty: process.stderr,
    });
  } catch (e) {
    // What the oclif command's catch does with an exception it did not expect.
    const err = e instanceof Error ? e : new Error(String(e));
    process.stderr.write(`ext4-check: ${err.message}\n`);
    process.exitCode = command.exitCodeForError(err);
  }
  return true;
}

/**
 * Runs `ext4-check` with `argv` (without node and the script) and resolves
 * when it is done, with process.exitCode set to the fsck(8) status. The
 * plain invocations run without loading oclif at all ({@link runFast});
 * everything else (help, --json, errors in the arguments) goes through the
 * oclif command. Rejects only with what oclif throws for a broken
 * installation.
 */
export async function main(argv: string[]): Promise<void> {
  enableCompileCache();
  if (await runFast(argv)) return;
  const root = import.meta.url;
  if (argv.some((a) => a === "--help" || a === "--version")) {
    // oclif's own flags, answered by its generic entry.
    const { execute } = await import("@oclif/core");
    await execute({ args: argv, dir: root });
    return;
  }
  const { default: CheckCommand } = await import("./cli.js");
  await CheckCommand.run(argv, root);
}
