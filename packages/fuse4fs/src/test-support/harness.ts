/**
 * Test support for real mounts: images made by mke2fs (the core's
 * test-support), a mount served by this process and always taken down
 * again (normal unmount, then lazy), commands run in child processes
 * (a synchronous file operation from the thread serving the mount
 * deadlocks), and a tree walker run against any mounted directory.
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { unmount } from "@ext4/native-fuse";
import { e2fsck } from "../../../core/src/test-support/mkfs.js";
import { type MountHandle, mountImage } from "../mount.js";
import { parseOptions } from "../options.js";

/** Outcome of a child process. */
export interface RunResult {
  code: number;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` without blocking this thread; never rejects. */
export function run(
  cmd: string,
  args: readonly string[],
  options: {
    timeoutMs?: number;
    input?: string | Uint8Array;
    env?: NodeJS.ProcessEnv;
    cwd?: string;
  } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      {
        encoding: "buffer",
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 256 << 20,
        killSignal: "SIGKILL",
        ...(options.env === undefined ? {} : { env: options.env }),
        ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      },
      (error, stdout, stderr) => {
        const e = error as (Error & { code?: unknown; signal?: string | null }) | null;
        const code = e === null ? 0 : typeof e.code === "number" ? e.code : -1;
        resolve({
          code,
          signal: e?.signal ?? null,
          stdout: stdout.toString(),
          stderr: stderr.toString(),
        });
      },
    );
    // A child that exits without reading its input must not crash the test with EPIPE.
    child.stdin?.on("error", () => undefined);
    child.stdin?.end(options.input ?? "");
  });
}

/** Runs a shell script in a child (`sh -c`), as root or, with `as`, as that uid/gid without groups. */
export function sh(
  script: string,
  options: { as?: number; timeoutMs?: number } = {},
): Promise<RunResult> {
  if (options.as !== undefined) {
    return run(
      "setpriv",
      [`--reuid=${options.as}`, `--regid=${options.as}`, "--clear-groups", "sh", "-c", script],
      options,
    );
  }
  return run("sh", ["-c", script], options);
}

/** Like {@link sh} but throws with the output unless the script exits 0. */
export async function shOk(
  script: string,
  options: { as?: number; timeoutMs?: number } = {},
): Promise<string> {
  const r = await sh(script, options);
  if (r.code !== 0)
    throw new Error(
      `script failed (${r.code} ${r.signal ?? ""}):\n${script}\n${r.stdout}${r.stderr}`,
    );
  return r.stdout;
}

/** A temp directory for one test, removed (after lazily unmounting anything left) by {@link cleanup}. */
export function tempDir(prefix = "f4-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Mountpoints at or below `prefix`, deepest first. */
export function mountsUnder(prefix: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const mp = line.split(" ")[4];
    if (mp !== undefined && (mp === prefix || mp.startsWith(`${prefix}/`)))
      out.push(mp.replace(/\\040/g, " "));
  }
  return out.sort((a, b) => b.length - a.length);
}

/** Lazily unmounts whatever is left below `dir`, then removes it. Never throws. */
export async function cleanup(dir: string): Promise<void> {
  for (const mp of mountsUnder(dir)) {
    await unmount(mp, { lazy: true }).catch(() => run("umount", ["-l", mp]));
  }
  rmSync(dir, { recursive: true, force: true });
}

/**
 * Lets other users reach `path`: every directory from the run's temp root
 * down to it gets the search bit for others (mkdtemp makes them 0700).
 */
export function traversable(path: string): void {
  const root = tmpdir();
  let p = path;
  const dirs: string[] = [];
  while (p.startsWith(root) && p.length >= root.length) {
    dirs.push(p);
    if (p === root) break;
    p = dirname(p);
  }
  for (const d of dirs) chmodSync(d, statSync(d).mode | 0o011);
}

/** Log lines a mount produced. */
export type Logs = string[];

/**
 * Mounts `image` (options as `-o` strings) on a fresh mountpoint, runs `fn`,
 * and always unmounts (lazily as the last resort) and removes the
 * mountpoint. Resolves with `fn`'s result and the log lines.
 */
export async function withMount<T>(
  image: string,
  options: readonly string[],
  fn: (m: MountHandle, mp: string, logs: Logs) => Promise<T>,
): Promise<T> {
  const dir = tempDir("f4-mnt-");
  const mp = join(dir, "mnt");
  mkdirSync(mp);
  const logs: Logs = [];
  let m: MountHandle | undefined;
  try {
    m = await mountImage(image, mp, parseOptions(options), { log: (l) => logs.push(l) });
    const r = await fn(m, mp, logs);
    const end = await m.unmount();
    m = undefined;
    if (end.closeError !== null) throw end.closeError;
    return r;
  } catch (e) {
    if (logs.length > 0) (e as Error).message += `\nserver log:\n${logs.join("\n")}`;
    throw e;
  } finally {
    if (m !== undefined) {
      const left = m;
      await Promise.race([
        left.unmount({ lazy: true }),
        new Promise((r) => setTimeout(r, 10_000).unref()),
      ]);
    }
    await cleanup(dir);
  }
}

/** Throws with e2fsck's output unless `e2fsck -fn` finds the image clean. */
export function expectClean(image: string): void {
  const r = e2fsck(image);
  if (r.status !== 0) throw new Error(`e2fsck -fn exit ${r.status}:\n${r.output}`);
}

/** One node of a walked tree (what differential tests compare). */
export interface TreeNode {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  size: number;
  sha256?: string;
  target?: string;
  rdev?: number;
  xattrs: Record<string, string>;
}

const WALK = `
import os, sys, json, stat, hashlib
root = sys.argv[1]
out = {}
def kind(m):
    for f, k in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"), (stat.S_ISCHR, "chr"), (stat.S_ISBLK, "blk"), (stat.S_ISFIFO, "fifo")):
        if f(m): return k
    return "sock"
def visit(path, rel):
    st = os.lstat(path)
    n = {"type": kind(st.st_mode), "mode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid,
         "nlink": st.st_nlink, "size": st.st_size, "xattrs": {}}
    if n["type"] == "file":
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b: break
                h.update(b)
        n["sha256"] = h.hexdigest()
    if n["type"] == "symlink": n["target"] = os.fsencode(os.readlink(path)).hex()
    if n["type"] in ("chr", "blk"): n["rdev"] = st.st_rdev
    if n["type"] != "symlink":
        for x in sorted(os.listxattr(path, follow_symlinks=False)):
            n["xattrs"][x] = os.getxattr(path, x, follow_symlinks=False).hex()
    out[rel] = n
    if n["type"] == "dir":
        for name in sorted(os.listdir(path)):
            if rel == "/" and name == "lost+found": continue
            visit(os.path.join(path, name), rel.rstrip("/") + "/" + name)
visit(root, "/")
print(json.dumps(out))
`;

/** Walks the tree at `dir` in a child process: every node's type, mode, owner, links, size, contents hash, xattrs. */
export async function walk(dir: string): Promise<Record<string, TreeNode>> {
  const r = await run("python3", ["-c", WALK, dir], { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`walk of ${dir} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, TreeNode>;
}

let kernelMounts = 0;

/**
 * Mounts `image` read-only with the kernel driver (`mount -o ro,loop`),
 * walks it, and always unmounts (the loop device goes with it).
 */
export async function kernelWalk(image: string): Promise<Record<string, TreeNode>> {
  const dir = tempDir("f4-kmnt-");
  const mp = join(dir, `k${kernelMounts++}`);
  mkdirSync(mp);
  try {
    const m = await run("mount", ["-o", "ro,loop", image, mp]);
    if (m.code !== 0) throw new Error(`kernel mount of ${image} failed: ${m.stderr}`);
    return await walk(mp);
  } finally {
    await run("umount", [mp]);
    await cleanup(dir);
  }
}

/** Runs `debugfs -R cmd image` (the image must not be mounted by this process in a way that blocks). */
export function debugfsOut(image: string, cmd: string): string {
  return execFileSync("debugfs", ["-R", cmd, image], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
}
