/**
 * Test support: build real images with e2fsprogs' mke2fs (the oracle makes
 * the fixtures; nothing is hand-assembled). Images live in a per-process temp
 * directory that is removed at exit.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let root: string | undefined;

/** A temp directory for this test process, removed when the process exits. */
export function scratchDir(): string {
  if (root === undefined) {
    const dir = mkdtempSync(join(tmpdir(), "ext4-test-"));
    root = dir;
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  }
  return root;
}

let counter = 0;

/** Options for {@link mkfs}; `args` are passed to mke2fs verbatim. */
export interface MkfsOptions {
  /** Image size in bytes (default 16 MiB). */
  size?: number;
  /** `-t` type: ext2, ext3 or ext4 (default ext4). */
  type?: "ext2" | "ext3" | "ext4";
  /** Extra mke2fs arguments, e.g. ["-b", "1024", "-O", "^metadata_csum"]. */
  args?: string[];
  /** Populate from this host directory (`mke2fs -d`). */
  from?: string;
}

/**
 * Creates an image with mke2fs and returns its path. Fixed UUID and hash
 * seed keep images reproducible.
 */
export function mkfs(opts: MkfsOptions = {}): string {
  const path = join(scratchDir(), `img-${process.pid}-${counter++}.img`);
  const size = opts.size ?? 16 * 1024 * 1024;
  execFileSync("truncate", ["-s", String(size), path]);
  const args = [
    "-q",
    "-F",
    "-t",
    opts.type ?? "ext4",
    "-U",
    "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
    "-E",
    "hash_seed=0d1e2f30-4152-4637-8899-aabbccddeeff",
    ...(opts.args ?? []),
  ];
  if (opts.from !== undefined) args.push("-d", opts.from);
  args.push(path);
  execFileSync("mke2fs", args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, E2FSPROGS_FAKE_TIME: "1700000000" },
  });
  return path;
}

/** Runs `debugfs -R cmd image` and returns stdout (the oracle's answer). */
export function debugfs(image: string, cmd: string): string {
  return execFileSync("debugfs", ["-R", cmd, image], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
}

/** Runs `e2fsck -fn` and returns its exit status and output. */
export function e2fsck(image: string): { status: number; output: string } {
  try {
    const output = execFileSync("e2fsck", ["-fn", image], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { status: 0, output };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { status: err.status ?? -1, output: `${err.stdout ?? ""}${err.stderr ?? ""}` };
  }
}

/** Runs `debugfs -R cmd image` and returns stdout as bytes (for `cat`, `dump`). */
export function debugfsBytes(image: string, cmd: string): Buffer {
  return execFileSync("debugfs", ["-R", cmd, image], {
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
}

/**
 * Runs debugfs commands against `image` from a script file (`debugfs -f`),
 * read-write unless `write` is false, and returns stdout.
 */
export function debugfsScript(image: string, commands: readonly string[], write = true): string {
  const script = join(scratchDir(), `cmds-${process.pid}-${counter++}.txt`);
  writeFileSync(script, `${commands.join("\n")}\n`);
  return execFileSync("debugfs", [...(write ? ["-w"] : []), "-f", script, image], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
}

/** The inode number of `path` in `image`, as debugfs resolves it. Throws if debugfs cannot find it. */
export function inodeOf(image: string, path: string): number {
  const m = /Inode: (\d+)/.exec(debugfs(image, `stat ${path}`));
  if (m?.[1] === undefined) throw new Error(`debugfs cannot find ${path} in ${image}`);
  return Number(m[1]);
}

/** Runs `dumpe2fs` (header only with `headerOnly`) and returns stdout. */
export function dumpe2fs(image: string, headerOnly = false): string {
  return execFileSync("dumpe2fs", [...(headerOnly ? ["-h"] : []), image], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
}

/** Reads `length` bytes at `offset` of a (possibly large, sparse) image file. */
export function readAt(image: string, offset: number, length: number): Uint8Array {
  const fd = openSync(image, "r");
  try {
    const out = new Uint8Array(length);
    readSync(fd, out, 0, length, offset);
    return out;
  } finally {
    closeSync(fd);
  }
}
