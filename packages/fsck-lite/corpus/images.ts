/**
 * The clean base images of the corruption corpus: one small image per row of
 * the feature matrix, populated from a generated tree with `mke2fs -d` and
 * then re-indexed with `e2fsck -fyD` (which turns the big directory into an
 * htree). Every case copies one of these and breaks it in one known way.
 */
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  openSync,
  rmSync,
  symlinkSync,
  writeSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { debugfsWrite, run, runE2fsck } from "./tools.ts";

const here = dirname(fileURLToPath(import.meta.url));

/** One row of the feature matrix. */
export interface Profile {
  readonly name: ProfileName;
  readonly type: "ext2" | "ext3" | "ext4";
  readonly blockSize: 1024 | 4096;
  /** Extra mke2fs arguments. */
  readonly args: readonly string[];
  readonly sizeMiB: number;
  /** Blocks per group: small groups give several groups in a small image. */
  readonly blocksPerGroup: number;
  readonly inodes: number;
  readonly extents: boolean;
  readonly metadataCsum: boolean;
  readonly journal: boolean;
  readonly inline: boolean;
}

/** Names of the feature-matrix rows. */
export type ProfileName =
  | "ext4"
  | "ext4-1k"
  | "ext4-no64"
  | "ext4-nocsum"
  | "ext4-inline"
  | "ext3"
  | "ext2";

const ext4 = { type: "ext4", extents: true, journal: true, inline: false } as const;

/** The feature matrix (the task's list: default ext4, -b 1024, ^64bit, ^metadata_csum, inline_data, ext3, ext2). */
export const PROFILES: Readonly<Record<ProfileName, Profile>> = {
  ext4: {
    ...ext4,
    name: "ext4",
    blockSize: 4096,
    args: [],
    sizeMiB: 16,
    blocksPerGroup: 1024,
    inodes: 1024,
    metadataCsum: true,
  },
  "ext4-1k": {
    ...ext4,
    name: "ext4-1k",
    blockSize: 1024,
    args: [],
    sizeMiB: 8,
    blocksPerGroup: 2048,
    inodes: 1024,
    metadataCsum: true,
  },
  "ext4-no64": {
    ...ext4,
    name: "ext4-no64",
    blockSize: 4096,
    args: ["-O", "^64bit"],
    sizeMiB: 16,
    blocksPerGroup: 1024,
    inodes: 1024,
    metadataCsum: true,
  },
  "ext4-nocsum": {
    ...ext4,
    name: "ext4-nocsum",
    blockSize: 4096,
    args: ["-O", "^metadata_csum,uninit_bg"],
    sizeMiB: 16,
    blocksPerGroup: 1024,
    inodes: 1024,
    metadataCsum: false,
  },
  "ext4-inline": {
    ...ext4,
    name: "ext4-inline",
    blockSize: 4096,
    args: ["-O", "inline_data"],
    sizeMiB: 16,
    blocksPerGroup: 1024,
    inodes: 1024,
    metadataCsum: true,
    inline: true,
  },
  ext3: {
    name: "ext3",
    type: "ext3",
    blockSize: 4096,
    args: [],
    sizeMiB: 16,
    blocksPerGroup: 1024,
    inodes: 1024,
    extents: false,
    metadataCsum: false,
    journal: true,
    inline: false,
  },
  ext2: {
    name: "ext2",
    type: "ext2",
    blockSize: 1024,
    args: [],
    sizeMiB: 8,
    blocksPerGroup: 2048,
    inodes: 1024,
    extents: false,
    metadataCsum: false,
    journal: false,
    inline: false,
  },
};

/** Deterministic bytes (mulberry32) so every run builds the same images. */
function bytes(seed: number, n: number): Buffer {
  let a = seed >>> 0;
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    b[i] = (t ^ (t >>> 14)) & 0xff;
  }
  return b;
}

function writeFile(
  path: string,
  chunks: ReadonlyArray<[offset: number, data: Buffer]>,
  size?: number,
): void {
  const fd = openSync(path, "w");
  try {
    for (const [at, data] of chunks) writeSync(fd, data, 0, data.length, at);
  } finally {
    closeSync(fd);
  }
  if (size !== undefined) run("truncate", ["-s", String(size), path]);
}

/**
 * Builds the source tree: small, block-sized, multi-block and sparse files
 * (the sparse one has 40 extents: an extent tree of depth 1), fast and slow
 * symlinks, hard links, nested and empty directories, a 400-entry directory
 * (an htree after `e2fsck -D`), a fifo, a device node, in-inode and
 * block xattrs.
 */
export function buildTree(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "dir1", "sub", "deep"), { recursive: true });
  mkdirSync(join(dir, "empty-dir"));
  mkdirSync(join(dir, "big-dir"));
  writeFile(join(dir, "hello.txt"), [[0, Buffer.from("hello, world\n")]]);
  writeFile(join(dir, "empty"), []);
  writeFile(join(dir, "one-block"), [[0, bytes(1, 4096)]]);
  writeFile(join(dir, "medium"), [[0, bytes(2, 100 * 1024)]]);
  writeFile(join(dir, "large"), [[0, bytes(3, 1200 * 1024)]]);
  const sparse: Array<[number, Buffer]> = [];
  for (let i = 0; i < 40; i++) sparse.push([i * 16384, bytes(100 + i, 4096)]);
  writeFile(join(dir, "sparse"), sparse);
  writeFile(join(dir, "dir1", "a.txt"), [[0, Buffer.from("file a\n")]]);
  writeFile(join(dir, "dir1", "b.bin"), [[0, bytes(4, 9000)]]);
  writeFile(join(dir, "dir1", "sub", "c.txt"), [[0, Buffer.from("file c\n")]]);
  writeFile(join(dir, "dir1", "sub", "deep", "d.txt"), [[0, Buffer.from("file d\n")]]);
  writeFile(join(dir, "hardlink-a"), [[0, Buffer.from("linked\n")]]);
  linkSync(join(dir, "hardlink-a"), join(dir, "dir1", "hardlink-b"));
  symlinkSync("hello.txt", join(dir, "fast-link"));
  symlinkSync(`${"long-target-component/".repeat(5)}end`, join(dir, "slow-link"));
  for (let i = 0; i < 400; i++) {
    writeFile(
      join(dir, "big-dir", `entry-${String(i).padStart(4, "0")}-${bytes(i, 4).toString("hex")}`),
      [[0, Buffer.from(`${i}\n`)]],
    );
  }
  writeFile(join(dir, "xattr-small"), [[0, Buffer.from("x\n")]]);
  run("setfattr", ["-n", "user.tag", "-v", "small", join(dir, "xattr-small")]);
  writeFile(join(dir, "xattr-big"), [[0, Buffer.from("y\n")]]);
  run("setfattr", [
    "-n",
    "user.blob",
    "-v",
    `0s${bytes(9, 600).toString("base64")}`,
    join(dir, "xattr-big"),
  ]);
  run("mkfifo", [join(dir, "fifo")]);
  run("mknod", [join(dir, "null-dev"), "c", "1", "3"]);
  chmodSync(join(dir, "dir1", "sub"), 0o750);
}

/** Fixed UUID and hash seed: the same images on every run. */
const UUID = "4c1d2e3f-5a6b-4c7d-8e9f-a0b1c2d3e4f5";
const HASH_SEED = "11223344-5566-4778-899a-abbccddeeff0";

/**
 * Makes the clean base image of `profile` in `dir` from `tree` and returns
 * its path. Throws if e2fsck does not find the result clean: a base image
 * must never carry a defect of its own.
 */
export function makeBase(profile: Profile, tree: string, dir: string): string {
  const path = join(dir, `base-${profile.name}.img`);
  rmSync(path, { force: true });
  run("truncate", ["-s", `${profile.sizeMiB}M`, path]);
  run(
    "mke2fs",
    [
      "-q",
      "-F",
      "-t",
      profile.type,
      "-b",
      String(profile.blockSize),
      "-g",
      String(profile.blocksPerGroup),
      "-N",
      String(profile.inodes),
      "-U",
      UUID,
      "-E",
      `hash_seed=${HASH_SEED}`,
      "-L",
      profile.name,
      ...profile.args,
      "-d",
      tree,
      path,
    ],
    { ...process.env, MKE2FS_CONFIG: join(here, "mke2fs.conf"), E2FSPROGS_FAKE_TIME: "1700000000" },
  );
  // e2fsck -D rebuilds every directory, turning big-dir into an htree; it
  // exits 1 ("fixed") for that, which is expected here.
  try {
    run("e2fsck", ["-fyD", path], { ...process.env, E2FSPROGS_FAKE_TIME: "1700000000" });
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status !== 1) throw e;
  }
  // A second, empty directory made after the htree pass (a linear one).
  debugfsWrite(path, ["mkdir /dir2"]);
  const check = runE2fsck(path);
  if (!check.clean) {
    throw new Error(`base image ${profile.name} is not clean:\n${check.output}`);
  }
  return path;
}

/** Copies a base image to `dest` for one case. */
export function copyImage(base: string, dest: string): void {
  if (!existsSync(base)) throw new Error(`missing base image ${base}`);
  copyFileSync(base, dest);
}
