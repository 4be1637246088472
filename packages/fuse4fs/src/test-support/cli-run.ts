/**
 * Running the fuse4fs CLI from sources in a child process (background and
 * foreground servers, mount helpers), and waiting for mounts to appear or
 * go away.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type RunResult, run } from "./harness.js";

const HOOKS = fileURLToPath(
  new URL("../../../native-fuse/src/test-support/ts-hooks.ts", import.meta.url),
);
const CLI = fileURLToPath(new URL("./cli.ts", import.meta.url));

/** The node arguments that run the CLI from its TypeScript sources. */
export const CLI_ARGV: readonly string[] = [
  "--no-warnings",
  "--experimental-transform-types",
  "--conditions=source",
  "--import",
  HOOKS,
  CLI,
];

/** Runs `fuse4fs args` to completion (a background mount returns once ready). */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run(process.execPath, [...CLI_ARGV, ...args], {
    timeoutMs: options.timeoutMs ?? 60_000,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
}

/** Starts `fuse4fs args` (foreground, usually with -f) and returns the process; stderr is collected. */
export function spawnCli(args: readonly string[]): {
  proc: ChildProcess;
  stderr: () => string;
  exited: Promise<number | string>;
} {
  const proc = spawn(process.execPath, [...CLI_ARGV, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let err = "";
  proc.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | string>((resolve) =>
    proc.on("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return { proc, stderr: () => err, exited };
}

/** Writes an executable `fuse4fs` into `dir` that runs the CLI from sources (for PATH lookups by mount.fuse3). */
export function installWrapper(dir: string): string {
  const path = join(dir, "fuse4fs");
  const args = [process.execPath, ...CLI_ARGV].map((a) => `'${a}'`).join(" ");
  writeFileSync(path, `#!/bin/sh\nexec ${args} "$@"\n`);
  chmodSync(path, 0o755);
  return path;
}

/** The mountinfo line of `mp`, if mounted: fstype and source. */
export function mountOf(mp: string): { fstype: string; source: string; options: string } | null {
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    if (f[4] !== mp) continue;
    const sep = f.indexOf("-");
    return { fstype: f[sep + 1] ?? "", source: f[sep + 2] ?? "", options: f[5] ?? "" };
  }
  return null;
}

/** Polls `cond` every 50 ms until true or `ms` passes; resolves with the last answer. */
export async function waitFor(cond: () => boolean, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return cond();
}
