/**
 * Test support: source trees, images made from them by the real mke2fs
 * (through the core's test helper; @ext4/core does not export test
 * support), and the real debugfs as the oracle, always with TZ=UTC.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mkfs, scratchDir } from "../../../core/src/test-support/mkfs.js";

export { mkfs, scratchDir };

let treeCounter = 0;

/** A feature variant of the differential matrix. */
export interface Variant {
  readonly name: string;
  readonly type: "ext2" | "ext3" | "ext4";
  readonly args: string[];
}

/** The feature matrix the differential tests run over. */
export const VARIANTS: readonly Variant[] = [
  { name: "ext4", type: "ext4", args: [] },
  { name: "ext4-1k", type: "ext4", args: ["-b", "1024"] },
  { name: "ext4-no64bit", type: "ext4", args: ["-O", "^64bit"] },
  { name: "ext4-nocsum", type: "ext4", args: ["-O", "^metadata_csum"] },
  { name: "ext4-inline", type: "ext4", args: ["-O", "inline_data"] },
  { name: "ext3", type: "ext3", args: [] },
  { name: "ext2", type: "ext2", args: [] },
  { name: "ext2-128", type: "ext2", args: ["-I", "128"] },
];

/** A file of the source tree and what it should contain. */
export interface TreeFile {
  readonly path: string;
  readonly data: Buffer;
}

/** What {@link buildTree} made. */
export interface Tree {
  readonly root: string;
  /** Regular files with their contents. */
  readonly files: readonly TreeFile[];
  /** Every path below the root (files, directories, links, specials), relative. */
  readonly paths: readonly string[];
  /** The directory large enough to get an htree index after e2fsck -D. */
  readonly bigDir: string;
}

/** Deterministic pseudo-random bytes (a tiny LCG: reproducible across runs). */
export function bytes(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

/**
 * Builds a source tree covering what the commands must handle: empty,
 * small, multi-block and sparse files (past the 12 direct blocks), fast and
 * slow symlinks, a fifo, device nodes, hard links, user xattrs in the inode
 * and in a block, a POSIX ACL, names with spaces, UTF-8 and control
 * characters, nested directories and a directory big enough to be indexed.
 * Times are fixed so images are reproducible.
 */
export function buildTree(options: { bigDirEntries?: number; devices?: boolean } = {}): Tree {
  const root = join(scratchDir(), `tree-${process.pid}-${treeCounter++}`);
  mkdirSync(root);
  const files: TreeFile[] = [];
  const paths: string[] = [];
  const file = (rel: string, data: Buffer): void => {
    writeFileSync(join(root, rel), data);
    files.push({ path: rel, data });
    paths.push(rel);
  };
  const dir = (rel: string): void => {
    mkdirSync(join(root, rel));
    paths.push(rel);
  };
  file("empty", Buffer.alloc(0));
  file("small.txt", Buffer.from("hello, ext4\n"));
  file("name with spaces", Buffer.from("spaces\n"));
  file("ünïcödé.txt", Buffer.from("utf-8 name\n"));
  file("ctl\u0001name", Buffer.from("control character in the name\n"));
  file("medium.bin", bytes(50_000, 1));
  file("large.bin", bytes(300_000, 2));
  // A sparse file: data, a hole past the indirect blocks' reach on 1 KiB blocks, data.
  const sparse = join(root, "sparse.bin");
  writeFileSync(sparse, Buffer.from("start\n"));
  execFileSync("truncate", ["-s", String(5 * 1024 * 1024), sparse]);
  writeFileSync(sparse, Buffer.from("end\n"), { flag: "a" });
  files.push({
    path: "sparse.bin",
    data: Buffer.concat([
      Buffer.from("start\n"),
      Buffer.alloc(5 * 1024 * 1024 - 6),
      Buffer.from("end\n"),
    ]),
  });
  paths.push("sparse.bin");
  // Twenty data runs separated by holes: more extents than i_block holds (an extent tree of depth 1).
  const runs: Buffer[] = [];
  for (let i = 0; i < 20; i++) runs.push(bytes(4096, 100 + i), Buffer.alloc(12288));
  const fragmented = Buffer.concat(runs).subarray(0, 20 * 16384 - 12288);
  writeFileSync(join(root, "fragmented.bin"), fragmented);
  // Punch the zero runs out so the source (and so the image) has holes there.
  execFileSync("fallocate", ["--dig-holes", join(root, "fragmented.bin")]);
  files.push({ path: "fragmented.bin", data: fragmented });
  paths.push("fragmented.bin");
  symlinkSync("small.txt", join(root, "fast-link"));
  paths.push("fast-link");
  symlinkSync(`${"long/".repeat(20)}target`, join(root, "slow-link"));
  paths.push("slow-link");
  execFileSync("mkfifo", [join(root, "fifo")]);
  paths.push("fifo");
  if (options.devices ?? true) {
    execFileSync("mknod", [join(root, "char-dev"), "c", "1", "3"]);
    execFileSync("mknod", [join(root, "block-dev"), "b", "300", "70000"]);
    paths.push("char-dev", "block-dev");
  }
  execFileSync("ln", [join(root, "medium.bin"), join(root, "hard-link")]);
  files.push({ path: "hard-link", data: bytes(50_000, 1) });
  paths.push("hard-link");
  execFileSync("setfattr", ["-n", "user.short", "-v", "hello", join(root, "small.txt")]);
  execFileSync("setfattr", ["-n", "user.binary", "-v", "0x00ff10", join(root, "small.txt")]);
  execFileSync("setfattr", ["-n", "user.big", "-v", "x".repeat(300), join(root, "medium.bin")]);
  execFileSync("setfacl", ["-m", "u:1234:rw", join(root, "large.bin")]);
  dir("dir");
  dir("dir/nested");
  file("dir/nested/deep.txt", Buffer.from("deep\n"));
  file("dir/mode-0600", Buffer.from("private\n"));
  execFileSync("chmod", ["0600", join(root, "dir/mode-0600")]);
  execFileSync("chown", ["1000:1000", join(root, "dir/mode-0600")]);
  const bigDir = "big";
  dir(bigDir);
  const n = options.bigDirEntries ?? 400;
  for (let i = 0; i < n; i++) {
    writeFileSync(join(root, bigDir, `entry-with-a-longish-name-${i}`), "");
  }
  // Fixed times: mke2fs -d copies them, and rdump must give them back.
  for (const rel of [...paths].reverse()) {
    if (rel === "fast-link" || rel === "slow-link") continue;
    utimesSync(join(root, rel), 1_600_000_000, 1_500_000_000);
  }
  utimesSync(root, 1_600_000_000, 1_500_000_000);
  return { root, files, paths, bigDir };
}

/**
 * An image of `variant` populated from `tree`, with its directories indexed
 * by `e2fsck -fyD` (mke2fs -d writes linear directories) where dir_index is
 * on. 32 MiB.
 */
export function makeImage(variant: Variant, tree: Tree): string {
  const img = mkfs({
    type: variant.type,
    args: variant.args,
    from: tree.root,
    size: 32 * 1024 * 1024,
  });
  try {
    execFileSync("e2fsck", ["-fyD", img], { stdio: "ignore" });
  } catch (e) {
    // e2fsck exits 1 after optimising directories: that is the point of running it.
    const status = (e as { status?: number }).status;
    if (status !== 1) throw e;
  }
  return img;
}

/**
 * Writes two transactions into the image's journal with debugfs's own
 * journal writer (a descriptor with three blocks and a commit, then a
 * revoke and a commit), so logdump has a log to walk. Only for images with
 * a journal.
 */
export function writeJournalTransactions(image: string): void {
  execFileSync("debugfs", ["-w", "-f", "-", image], {
    input: "jo\njw -b 300,301,302 /dev/zero\njw -r 300\njc\n",
    stdio: ["pipe", "ignore", "ignore"],
  });
}

/** Runs the real debugfs (TZ=UTC) with a script and returns stdout. */
export function debugfsScript(image: string, script: string): string {
  return execFileSync("debugfs", ["-f", "-", image], {
    input: Buffer.from(script, "utf8"),
    encoding: "latin1",
    stdio: ["pipe", "pipe", "ignore"],
    env: { ...process.env, TZ: "UTC" },
    maxBuffer: 1 << 28,
  });
}

/** Runs the real debugfs (TZ=UTC) with one request and returns stdout as bytes. */
export function debugfsRequest(image: string, request: string): Buffer {
  return execFileSync("debugfs", ["-R", request, image], {
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, TZ: "UTC" },
    maxBuffer: 1 << 28,
  });
}

/**
 * Splits `debugfs -f` output into each command's stdout: every command is
 * announced by a `debugfs: <command>` line.
 */
export function splitScriptOutput(out: string, commands: readonly string[]): Map<string, string> {
  const result = new Map<string, string>();
  let pos = 0;
  for (let i = 0; i < commands.length; i++) {
    const marker = latin1Line(commands[i]!);
    const start = out.indexOf(marker, pos);
    if (start < 0) throw new Error(`no output marker for ${commands[i]}`);
    const bodyStart = start + marker.length;
    const next =
      i + 1 < commands.length ? out.indexOf(latin1Line(commands[i + 1]!), bodyStart) : out.length;
    result.set(commands[i]!, out.slice(bodyStart, next < 0 ? out.length : next));
    pos = bodyStart;
  }
  return result;
}

/** The `debugfs: <command>` echo line as it appears in latin1-decoded output. */
function latin1Line(command: string): string {
  return Buffer.from(`debugfs: ${command}\n`, "utf8").toString("latin1");
}

/**
 * Runs the real debugfs read-write (`debugfs -w -f -`, TZ=UTC) with one
 * command per line and returns stdout and stderr, for comparing a write
 * command with what debugfs -w does on a copy of the same image.
 */
export function debugfsWrite(
  image: string,
  commands: readonly string[],
): {
  stdout: string;
  stderr: string;
} {
  const r = spawnSync("debugfs", ["-w", "-f", "-", image], {
    input: `${commands.join("\n")}\n`,
    encoding: "latin1",
    env: { ...process.env, TZ: "UTC" },
    maxBuffer: 1 << 28,
  });
  return { stdout: r.stdout, stderr: r.stderr };
}
