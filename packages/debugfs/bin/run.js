#!/usr/bin/env node
// ext4-debug: the oclif entry point. The command itself is dist/cli/command.js
// (built by `tsc -b`); see src/cli/command.ts.
//
// Start-up is most of the time of a short request (`-R pwd`), so this file
// does the least it can before the command runs:
// - Node's compile cache, so later runs skip parsing and compiling the ~200
//   modules (ours, the core's, oclif's); enabled before anything is imported
//   (only dynamic imports below), and never fatal;
// - a plain batch command line (`-R request IMAGE`, `-f script IMAGE`, see
//   src/cli/quick.ts) is run without loading oclif, whose modules and
//   configuration were about half the start-up, and from one bundled module
//   (dist/bundle/batch.mjs, scripts/bundle.mjs) when it is current;
// - otherwise the single command class is run directly (Command.run, oclif's
//   own entry for single-command CLIs) instead of `execute`, which would also
//   load the package root and its command router; only `--help` goes through
//   `execute`, which renders oclif's help.
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { constants, enableCompileCache, flushCompileCache } from "node:module";
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

/** $XDG_CACHE_HOME/ext4-toolkit/compile-cache (~/.cache when unset or relative, as XDG says). */
function cacheDir() {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
  return join(base, "ext4-toolkit", "compile-cache");
}

/**
 * Creates `dir` one component at a time. Not mkdirSync's `recursive`, nor
 * enableCompileCache's own creation: both loop forever where mkdir answers
 * ENOENT under an existing parent (a cache path inside /proc).
 */
function ensureDir(dir) {
  if (statSync(dir, { throwIfNoEntry: false })?.isDirectory()) return true;
  let path = "";
  for (const part of dir.split("/")) {
    if (part === "") continue;
    path += `/${part}`;
    try {
      mkdirSync(path, 0o700);
    } catch (e) {
      if (e.code !== "EEXIST") return false;
    }
  }
  return statSync(dir, { throwIfNoEntry: false })?.isDirectory() === true;
}

/**
 * True when dist/bundle/batch.mjs (scripts/bundle.mjs: the batch path in one
 * module, half the start-up of loading dist/ file by file) exists and is not
 * older than the compiled code it is made from: the `.tsbuildinfo` of each
 * package bundled, which dist/bundle/batch.json lists. After a bare `tsc -b`
 * (no bundle step) dist/ is newer and used. A second of slack: turbo
 * restores a cached build's files in no set order, within the same few
 * milliseconds.
 */
function bundleIsCurrent() {
  const at = (rel) => new URL(`../${rel}`, import.meta.url);
  const bundle = statSync(at("dist/bundle/batch.mjs"), { throwIfNoEntry: false })?.mtimeMs;
  if (bundle === undefined) return false;
  let built;
  try {
    built = JSON.parse(readFileSync(at("dist/bundle/batch.json"), "utf8"));
  } catch {
    return false;
  }
  return built.every((rel) => {
    const t = statSync(at(rel), { throwIfNoEntry: false })?.mtimeMs;
    return t !== undefined && t <= bundle + 1000;
  });
}

let cached = false;
try {
  const dir = cacheDir();
  if (ensureDir(dir)) {
    // A directory it cannot write only costs speed (status FAILED).
    const { status } = enableCompileCache(dir);
    const { ENABLED, ALREADY_ENABLED } = constants.compileCacheStatus;
    cached = status === ENABLED || status === ALREADY_ENABLED;
  }
} catch {
  // No usable cache directory: run uncached.
}

// A closed pipe (`ext4-debug -R 'cat /big' img | head`) ends the output quietly, as debugfs does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const argv = process.argv.slice(2);
const end = argv.indexOf("--");
if ((end < 0 ? argv : argv.slice(0, end)).includes("--help")) {
  const { execute } = await import("@oclif/core/execute");
  await execute({ dir: import.meta.url, args: argv });
} else {
  // A plain batch command line (-R/-f, see src/cli/quick.ts) runs without
  // loading oclif at all; anything else goes through the oclif command.
  const { parseQuick } = await import("../dist/cli/quick.js");
  const quick = parseQuick(argv, process.env);
  const [{ runCommandLine }, oclif] = await Promise.all([
    quick !== null && bundleIsCurrent()
      ? import("../dist/bundle/batch.mjs")
      : import("../dist/cli/run.js"),
    quick === null
      ? Promise.all([import("../dist/cli/command.js"), import("@oclif/core/flush")])
      : null,
  ]);
  if (cached) {
    try {
      // Written now rather than at exit: a request that ends in process.exit (EPIPE) still fills it.
      flushCompileCache();
    } catch {
      // A cache that cannot be written is only slower next time.
    }
  }
  try {
    if (oclif === null) {
      process.exitCode = await runCommandLine(quick);
    } else {
      const [{ default: Ext4Debug }, { flush }] = oclif;
      await Ext4Debug.run(argv, import.meta.url);
      await flush();
    }
  } catch (e) {
    // oclif's handler, loaded only when needed: a usage error is one message and exit
    // status 2, as under `execute`.
    const { handle } = await import("@oclif/core/handle");
    await handle(e instanceof Error ? e : new Error(String(e)));
  }
}
