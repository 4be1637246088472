/**
 * Mounting the example filesystem for a test, and taking every mount down
 * again whatever happened (normal unmount, then lazy unmount as the last
 * resort), so a failed test never leaves a mount behind.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuseHandlers } from "../dispatch.js";
import type { MountOptions } from "../mount-options.js";
import { FuseSession, fuseAvailable, type ServeOptions, unmount } from "../session.js";
import { MemFs, type MemFsOptions } from "./memfs.js";

/** A mounted example filesystem. */
export interface Mounted {
  /** Temp directory holding the mountpoint and the backing file. */
  dir: string;
  mp: string;
  fs: MemFs;
  session: FuseSession;
  /** Lines the session logged (malformed requests, handler failures). */
  logs: string[];
}

/** The dispatch modes every real-mount suite runs under ("inline" with 50 µs of polling). */
export const DISPATCH_MODES = ["threads", "inline"] as const;

let defaultDispatch: "threads" | "inline" = "threads";

/** Sets the dispatch mode {@link mountMemFs} uses unless told otherwise. */
export function useDispatch(mode: "threads" | "inline"): void {
  defaultDispatch = mode;
}

/** True when this machine can run real-mount tests; warns loudly when it cannot. */
export function canMount(): boolean {
  if (fuseAvailable()) return true;
  console.warn("\n*** /dev/fuse is missing: native-fuse mount tests are SKIPPED ***\n");
  return false;
}

/** Creates the temp directory layout `{dir}/mnt` + `{dir}/backing`. */
export function tempLayout(prefix = "nf-test-"): { dir: string; mp: string; backing: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const mp = join(dir, "mnt");
  mkdirSync(mp);
  return { dir, mp, backing: join(dir, "backing") };
}

/** Options of {@link mountMemFs}. */
export interface MountMemFsOptions {
  fs?: Omit<MemFsOptions, "backingPath">;
  serve?: ServeOptions;
  mount?: Partial<MountOptions>;
  /** Populates the tree before mounting. */
  setup?: (fs: MemFs) => void;
  /** Wraps the example filesystem's handlers (to observe or alter requests). */
  wrap?: (handlers: FuseHandlers) => FuseHandlers;
}

/** Mounts a fresh example filesystem and starts serving it. */
export function mountMemFs(options: MountMemFsOptions = {}): Mounted {
  const { dir, mp, backing } = tempLayout();
  const fs = new MemFs({ backingPath: backing, ...options.fs });
  options.setup?.(fs);
  let session: FuseSession;
  try {
    session = FuseSession.mount({
      mountpoint: mp,
      fsname: "memfs",
      subtype: "memfs",
      ...options.mount,
    });
  } catch (e) {
    fs.dispose();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const logs: string[] = [];
  const handlers = fs.handlers();
  session.serve(options.wrap?.(handlers) ?? handlers, {
    log: (l) => logs.push(l),
    dispatch: defaultDispatch,
    // Inline suites poll as fuse4fs does by default.
    spinMicros: defaultDispatch === "inline" ? 50 : 0,
    ...options.serve,
  });
  fs.attach(session);
  return { dir, mp, fs, session, logs };
}

/** Mountpoints currently mounted at or below `prefix` (from /proc/self/mountinfo). */
export function mountsUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (mp !== undefined && (mp === prefix || mp.startsWith(`${prefix}/`)))
      out.push(mp.replace(/\\040/g, " "));
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  return Promise.race([
    p,
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), ms).unref()),
  ]);
}

/**
 * Unmounts (normal, then lazy), waits for the session to end, releases the
 * filesystem and removes the temp directory. Never throws.
 */
export async function teardown(m: Mounted | undefined): Promise<void> {
  if (m === undefined) return;
  try {
    if (mountsUnder(m.mp).length > 0) {
      await m.session.unmount().catch(() => unmount(m.mp, { lazy: true }).catch(() => undefined));
    }
    if (m.session.status === "serving") {
      const r = await withTimeout(m.session.ended, 5000);
      if (r === "timeout") console.warn(`native-fuse test: session on ${m.mp} did not end`);
    }
  } finally {
    for (const left of mountsUnder(m.dir))
      await unmount(left, { lazy: true }).catch(() => undefined);
    m.fs.dispose();
    rmSync(m.dir, { recursive: true, force: true });
  }
}
