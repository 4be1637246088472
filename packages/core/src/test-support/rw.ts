/**
 * Test support for the write path: writable images made by mke2fs, the
 * e2fsck oracle as an assertion, and the kernel oracle — the image mounted
 * read-only on a loop device and walked by a small Python script (stat,
 * contents hash, symlink targets, xattrs), always unmounted and detached.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { FileDevice } from "@ext4/iocache";
import { Filesystem, type OpenOptions } from "../fs.js";
import { e2fsck, type MkfsOptions, mkfs, scratchDir } from "./mkfs.js";

/** The feature sets every write-path suite runs against. */
export const WRITE_MATRIX = {
  ext4: { type: "ext4", args: ["-b", "4096"] },
  "ext4-1k": { type: "ext4", args: ["-b", "1024"] },
  "ext4-no64": { type: "ext4", args: ["-b", "4096", "-O", "^64bit"] },
  "ext4-nocsum": { type: "ext4", args: ["-b", "1024", "-O", "^metadata_csum,uninit_bg"] },
  "ext4-inline": { type: "ext4", args: ["-b", "4096", "-O", "inline_data"] },
  ext3: { type: "ext3", args: ["-b", "1024"] },
  ext2: { type: "ext2", args: ["-b", "1024"] },
} as const satisfies Record<string, MkfsOptions>;

/** A feature set of {@link WRITE_MATRIX}. */
export type WriteKind = keyof typeof WRITE_MATRIX;

const templates = new Map<string, string>();
let copies = 0;

/**
 * A fresh image of `kind` (`size` bytes, extra mke2fs args), copied from a
 * template made once per process, so each test starts from mke2fs's output.
 */
export function freshImage(kind: WriteKind, size = 32 << 20, extra: string[] = []): string {
  const key = `${kind}:${size}:${extra.join(" ")}`;
  let tpl = templates.get(key);
  if (tpl === undefined) {
    const spec = WRITE_MATRIX[kind];
    tpl = mkfs({ type: spec.type, args: [...spec.args, ...extra], size });
    templates.set(key, tpl);
  }
  const path = join(scratchDir(), `rw-${process.pid}-${copies++}.img`);
  copyFileSync(tpl, path);
  return path;
}

/** Opens `image` writable with a fixed clock unless one is given. */
export function openWritable(image: string, options: OpenOptions = {}): Filesystem {
  return Filesystem.open(FileDevice.open(image), { writable: true, ...options });
}

/** Opens `image` read-only. */
export function openReadOnly(image: string): Filesystem {
  return Filesystem.open(FileDevice.open(image, { readOnly: true }));
}

/** Throws with e2fsck's output unless `e2fsck -fn` finds nothing. */
export function expectFsckClean(image: string): void {
  const r = e2fsck(image);
  if (r.status !== 0) throw new Error(`e2fsck -fn exit ${r.status}:\n${r.output}`);
}

/** One node of a tree as the kernel shows it. */
export interface KernelNode {
  readonly type: "file" | "dir" | "symlink" | "chr" | "blk" | "fifo" | "sock";
  readonly ino: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly size: number;
  /** sha256 of the contents (regular files). */
  readonly sha256?: string;
  readonly target?: string;
  readonly rdev?: number;
  /** Names → hex values. */
  readonly xattrs: Record<string, string>;
  readonly mtimeNs: string;
  readonly atimeNs: string;
  readonly ctimeNs: string;
}

const WALK = `
import os, sys, json, stat, hashlib
root = sys.argv[1]
out = {}
def kind(m):
    if stat.S_ISREG(m): return "file"
    if stat.S_ISDIR(m): return "dir"
    if stat.S_ISLNK(m): return "symlink"
    if stat.S_ISCHR(m): return "chr"
    if stat.S_ISBLK(m): return "blk"
    if stat.S_ISFIFO(m): return "fifo"
    return "sock"
def visit(path, rel):
    st = os.lstat(path)
    n = {"type": kind(st.st_mode), "ino": st.st_ino, "mode": st.st_mode & 0o7777, "uid": st.st_uid,
         "gid": st.st_gid, "nlink": st.st_nlink, "size": st.st_size, "xattrs": {},
         "mtimeNs": str(st.st_mtime_ns), "atimeNs": str(st.st_atime_ns), "ctimeNs": str(st.st_ctime_ns)}
    if n["type"] == "file":
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while True:
                b = f.read(1 << 20)
                if not b: break
                h.update(b)
        n["sha256"] = h.hexdigest()
    if n["type"] == "symlink":
        n["target"] = os.fsencode(os.readlink(path)).hex()
    if n["type"] in ("chr", "blk"):
        n["rdev"] = st.st_rdev
    if n["type"] != "symlink":
        for x in os.listxattr(path, follow_symlinks=False):
            n["xattrs"][x] = os.getxattr(path, x, follow_symlinks=False).hex()
    out[rel] = n
    if n["type"] == "dir":
        for name in sorted(os.listdir(path)):
            visit(os.path.join(path, name), rel.rstrip("/") + "/" + name)
visit(root, "/")
sf = os.statvfs(root)
print(json.dumps({"tree": out, "statfs": {"bsize": sf.f_bsize, "blocks": sf.f_blocks, "bfree": sf.f_bfree,
  "bavail": sf.f_bavail, "files": sf.f_files, "ffree": sf.f_ffree, "namemax": sf.f_namemax}}))
`;

/** What {@link kernelView} returns. */
export interface KernelView {
  readonly tree: Record<string, KernelNode>;
  readonly statfs: {
    bsize: number;
    blocks: number;
    bfree: number;
    bavail: number;
    files: number;
    ffree: number;
    namemax: number;
  };
}

let mounts = 0;

/**
 * Mounts `image` read-only on a loop device (`mount -o ro,loop`), walks the
 * whole tree, and unmounts — even when the walk fails. lost+found is kept
 * (callers skip it).
 */
export function kernelView(image: string): KernelView {
  const mnt = join(scratchDir(), `kmnt-${process.pid}-${mounts++}`);
  mkdirSync(mnt, { recursive: true });
  let mounted = false;
  try {
    execFileSync("mount", ["-o", "ro,loop", image, mnt], { stdio: ["ignore", "pipe", "pipe"] });
    mounted = true;
    const json = execFileSync("python3", ["-c", WALK, mnt], {
      encoding: "utf8",
      maxBuffer: 1 << 30,
      stdio: ["ignore", "pipe", "pipe"],
    });
    return JSON.parse(json) as KernelView;
  } finally {
    if (mounted) execFileSync("umount", [mnt], { stdio: ["ignore", "pipe", "pipe"] });
    rmdirSync(mnt);
  }
}

/** sha256 hex of bytes (compare with {@link KernelNode.sha256}). */
export function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

/** A deterministic clock that advances 1 ms + 1 ns per call, for reproducible timestamps. */
export function steppingClock(startSec = 1_700_000_000): () => { sec: number; nsec: number } {
  let n = 0;
  return () => {
    n += 1_000_001;
    return { sec: startSec + Math.floor(n / 1e9), nsec: n % 1e9 };
  };
}
