/**
 * Starting {@link ./server-child.ts} as a separate Node process and waiting
 * until it serves its mount.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const HOOKS = fileURLToPath(new URL("./ts-hooks.ts", import.meta.url));
const SERVER = fileURLToPath(new URL("./server-child.ts", import.meta.url));

/** A running child server. */
export interface ChildServer {
  proc: ChildProcess;
  /** Everything it printed on stdout so far. */
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) when it exits. */
  exited: Promise<number | string>;
}

/** Runs a TS file of this package in a fresh `node` (types stripped by Node). */
export function spawnTs(file: string, args: readonly string[]): ChildProcess {
  return spawn(process.execPath, ["--no-warnings", "--import", HOOKS, file, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Starts a child server on `mp` and waits (up to 20 s) for "ready". */
export function startChildServer(
  mp: string,
  backing: string,
  extra: readonly string[] = [],
): Promise<ChildServer> {
  const proc = spawnTs(SERVER, [mp, backing, ...extra]);
  let out = "";
  let err = "";
  proc.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr?.on("data", (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    proc.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`child server did not start: ${err}`));
    }, 20_000);
    const check = (): void => {
      if (out.includes("ready\n")) {
        clearTimeout(timer);
        resolve({ proc, stdout: () => out, stderr: () => err, exited });
      }
    };
    proc.stdout?.on("data", check);
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited (${code}) before ready: ${err}`));
    });
  });
}
