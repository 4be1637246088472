/**
 * Test-only: the kernel as an oracle for directories. The image is mounted
 * on a loop device — read-only to list directories with readdir(3) (names
 * as raw bytes), read-write to let the kernel's ext4 change them — and the
 * mount is undone and its loop device detached even when a step fails.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "../../test-support/mkfs.js";

let serial = 0;

/** Loop devices backed by `image` (`losetup -j`). */
function loopsOf(image: string): string[] {
  const out = execFileSync("losetup", ["-j", image], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => l.split(":")[0] ?? "")
    .filter((d) => d.startsWith("/dev/loop"));
}

/** Mounts `image` (with `options`), runs `fn` on the mount point, and always unmounts and detaches. */
function withMount<T>(image: string, options: string, fn: (mnt: string) => T): T {
  const mnt = join(scratchDir(), `dirmnt-${process.pid}-${serial++}`);
  mkdirSync(mnt, { recursive: true });
  const before = new Set(loopsOf(image));
  let mounted = false;
  try {
    execFileSync("mount", ["-o", options, image, mnt], { stdio: ["ignore", "pipe", "pipe"] });
    mounted = true;
    return fn(mnt);
  } finally {
    try {
      if (mounted) execFileSync("umount", [mnt], { stdio: ["ignore", "pipe", "pipe"] });
    } finally {
      // mount -o loop sets autoclear; detach whatever this mount left behind anyway.
      for (const dev of loopsOf(image)) {
        if (!before.has(dev)) execFileSync("losetup", ["-d", dev], { stdio: "ignore" });
      }
      rmdirSync(mnt);
    }
  }
}

/**
 * The names (latin1 of the bytes, "." and ".." excluded) of each directory
 * in `paths` (relative to the root), as the kernel lists them.
 */
export function kernelListings(image: string, paths: readonly string[]): Map<string, string[]> {
  return withMount(image, "ro,loop", (mnt) => {
    const out = new Map<string, string[]>();
    for (const p of paths) {
      out.set(
        p,
        readdirSync(join(mnt, p), { encoding: "buffer" }).map((n) => n.toString("latin1")),
      );
    }
    return out;
  });
}

/** Mounts `image` read-write and lets `fn` change it through the kernel's ext4. */
export function kernelMutate(image: string, fn: (mnt: string) => void): void {
  withMount(image, "loop", fn);
}
