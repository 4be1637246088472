/**
 * What `fuse4fs` does, as a library call: parse the command line, then
 * either mount in the foreground and serve until unmounted, or start a
 * detached copy of itself in the foreground and exit once that copy
 * reports the mount ready (Node cannot fork: a readiness pipe on fd 3
 * carries "log" lines for the user, then "ready" or the error).
 */
import { spawn } from "node:child_process";
import { closeSync, writeSync } from "node:fs";
import { MountError, type MountHandle, mountImage } from "../mount.js";
import { OptionError, parseCommandLine, parseOptions, usage } from "../options.js";

/** Exit statuses (mount(8)'s: 1 bad invocation, 32 mount failure). */
export const EXIT = { OK: 0, USAGE: 1, MOUNT: 32 } as const;

/** Where the CLI writes. */
export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

/** The environment variable naming the readiness descriptor of a detached server. */
const READY_ENV = "FUSE4FS_READY_FD";

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
};

function version(): string {
  return "fuse4fs 0.1.0 (ext4 userspace toolkit)";
}

/**
 * Starts a detached copy of this program with `-f` and the readiness pipe,
 * and resolves with the exit status to use: 0 once the copy says the mount
 * is ready, or the copy's own failure status (its message is printed).
 */
export function daemonize(argv: readonly string[], io: CliIo): Promise<number> {
  const script = process.argv[1];
  if (script === undefined) {
    io.stderr("fuse4fs: cannot find this program to start it in the background; use -f\n");
    return Promise.resolve(EXIT.MOUNT);
  }
  const child = spawn(process.execPath, [...process.execArgv, script, ...argv, "-f"], {
    detached: true,
    stdio: ["ignore", "ignore", "ignore", "pipe"],
    env: { ...process.env, [READY_ENV]: "3" },
  });
  return new Promise((resolve) => {
    let text = "";
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      if (code === 0) child.unref();
      const pipe = child.stdio[3];
      if (pipe !== null && pipe !== undefined)
        (pipe as NodeJS.ReadableStream & { destroy(): void }).destroy();
      resolve(code);
    };
    const pipe = child.stdio[3] as NodeJS.ReadableStream | null;
    pipe?.on("data", (d: Buffer) => {
      text += d.toString();
      for (let nl = text.indexOf("\n"); nl >= 0 && !done; nl = text.indexOf("\n")) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        if (line.startsWith("log ")) io.stderr(`${line.slice(4)}\n`);
        else if (line === "ready") finish(EXIT.OK);
        else {
          const m = /^error (\d+) (.*)$/.exec(line);
          io.stderr(`${m?.[2] ?? line}\n`);
          finish(m === null ? EXIT.MOUNT : Number(m[1]));
        }
      }
    });
    pipe?.on("error", () => undefined);
    child.on("exit", (code, signal) => {
      if (!done)
        io.stderr(`fuse4fs: the server exited before the mount was ready (${signal ?? code})\n`);
      finish(EXIT.MOUNT);
    });
    child.on("error", (e) => {
      io.stderr(`fuse4fs: cannot start the server: ${e.message}\n`);
      finish(EXIT.MOUNT);
    });
  });
}

/**
 * Runs `fuse4fs` with `argv` (without the program name) and resolves with
 * the exit status. In the foreground it resolves when the mount ends (an
 * unmount, SIGTERM or SIGINT: everything flushed, the image marked clean
 * and released). Never throws.
 */
export async function runFuse4fs(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  let cmd: ReturnType<typeof parseCommandLine>;
  let options: ReturnType<typeof parseOptions>;
  try {
    cmd = parseCommandLine(argv);
    if (cmd === "help") {
      io.stdout(`${usage()}\n`);
      return EXIT.OK;
    }
    if (cmd === "version") {
      io.stdout(`${version()}\n`);
      return EXIT.OK;
    }
    options = parseOptions(cmd.options);
  } catch (e) {
    if (e instanceof OptionError) {
      io.stderr(`fuse4fs: ${e.message}\n`);
      return EXIT.USAGE;
    }
    throw e;
  }
  if (cmd.debug) options.debug = true;
  const readyFd = process.env[READY_ENV];
  if (!cmd.foreground && readyFd === undefined) return daemonize(argv, io);
  let ready = readyFd === undefined ? null : Number(readyFd);
  const report = (line: string): void => {
    if (ready === null) return;
    // Synchronously: the process may exit right after reporting a failure.
    try {
      writeSync(ready, `${line}\n`);
      closeSync(ready);
    } catch {
      // The starter is gone: nobody to tell.
    }
    ready = null;
  };
  let handle: MountHandle;
  try {
    handle = await mountImage(cmd.image, cmd.mountpoint, options, {
      // Until the mount is ready, the starter in the foreground prints what the server says.
      log: (line) => {
        if (ready === null) {
          io.stderr(`${line}\n`);
          return;
        }
        try {
          writeSync(ready, `log ${line.replace(/\n/g, " ")}\n`);
        } catch {
          io.stderr(`${line}\n`);
        }
      },
      onPanic: (reason) => {
        io.stderr(`fuse4fs: errors=panic: ${reason}: stopping\n`);
        process.exit(EXIT.MOUNT);
      },
    });
  } catch (e) {
    const msg = e instanceof MountError ? e.message : e instanceof Error ? e.message : String(e);
    if (ready !== null) report(`error ${EXIT.MOUNT} fuse4fs: ${msg.replace(/\n/g, " ")}`);
    else io.stderr(`fuse4fs: ${msg}\n`);
    return EXIT.MOUNT;
  }
  report("ready");
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void handle.unmount();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("SIGHUP", () => undefined);
  const end = await handle.ended;
  process.off("SIGTERM", stop);
  process.off("SIGINT", stop);
  return end.closeError === null ? EXIT.OK : EXIT.MOUNT;
}

/** Runs the CLI on process.argv and exits with its status. */
export async function main(): Promise<void> {
  const code = await runFuse4fs(process.argv.slice(2));
  process.exit(code);
}
