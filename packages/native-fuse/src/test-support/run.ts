/**
 * Runs a command in a child process without blocking the JS thread (a
 * synchronous file operation on a mount served by this thread deadlocks).
 */
import { execFile } from "node:child_process";

/** Outcome of {@link run}: exit code (or -1 on a signal/timeout) and output. */
export interface RunResult {
  code: number;
  signal: string | null;
  stdout: Buffer;
  stderr: string;
}

/** Runs `cmd args` asynchronously; never rejects. Default timeout 20 s. */
export function run(
  cmd: string,
  args: readonly string[],
  options: { timeoutMs?: number; input?: Uint8Array } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        encoding: "buffer",
        timeout: options.timeoutMs ?? 20_000,
        maxBuffer: 256 << 20,
        killSignal: "SIGKILL",
      },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: unknown; signal?: string | null }) | null;
        const code = e === null ? 0 : typeof e.code === "number" ? e.code : -1;
        resolve({ code, signal: e?.signal ?? null, stdout, stderr: stderr.toString() });
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Runs a shell snippet (`sh -c`). */
export function sh(script: string, options: { timeoutMs?: number } = {}): Promise<RunResult> {
  return run("sh", ["-c", script], options);
}
