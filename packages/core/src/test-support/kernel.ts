/**
 * Images written by the kernel's ext4 driver: mounted on a loop device,
 * modified with ordinary system calls and tools, then copied twice while
 * still mounted — once after `sync` (the journal holds committed
 * transactions not yet checkpointed: needs_recovery) and once frozen with
 * `fsfreeze` (everything checkpointed, an open-unlinked file on the orphan
 * list). The loop device and mount are always released.
 */
import { execFileSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { pseudoRandom } from "./fixtures.js";
import { mkfs, scratchDir } from "./mkfs.js";

/** What the kernel fixture contains. */
export interface KernelImages {
  /** Copied after sync: the journal holds transactions (needs_recovery). */
  readonly journaled: string;
  /** Copied while frozen: checkpointed, with an orphan. */
  readonly frozen: string;
  /** The inode number of the open-unlinked file. */
  readonly orphanIno: number;
}

const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

let images: KernelImages | undefined;

/** Builds (once) the kernel-written images. Throws if loop mounting is impossible here. */
export function kernelImages(): KernelImages {
  if (images !== undefined) return images;
  const image = mkfs({ args: ["-b", "4096", "-O", "orphan_file,ea_inode"], size: 64 << 20 });
  const mnt = join(scratchDir(), `mnt-${process.pid}`);
  mkdirSync(mnt, { recursive: true });
  const loop = run("losetup", ["--find", "--show", image]).trim();
  let mounted = false;
  let fd: number | undefined;
  try {
    run("mount", ["-t", "ext4", loop, mnt]);
    mounted = true;
    const data = join(mnt, "data.bin");
    writeFileSync(data, pseudoRandom(300_000, 42));
    run("touch", ["-d", "@2200000000.123456789", data]);
    const old = join(mnt, "old.txt");
    writeFileSync(old, "from before 1970\n");
    run("touch", ["-d", "@-100.5", old]);
    const prealloc = join(mnt, "prealloc.bin");
    run("fallocate", ["-l", "1M", prealloc]);
    const attrs = join(mnt, "attrs.txt");
    writeFileSync(attrs, "xattrs\n");
    run("python3", [
      "-c",
      `import os
os.setxattr(${JSON.stringify(attrs)}, "user.one", b"1")
os.setxattr(${JSON.stringify(attrs)}, "user.big", b"b" * 1500)
os.setxattr(${JSON.stringify(attrs)}, "trusted.two", b"second value")
os.setxattr(${JSON.stringify(attrs)}, "user.huge", bytes(range(256)) * 40)`,
    ]);
    // 4 KiB at 3 TiB: logical blocks past 2^29, offsets past 2^32 × 512.
    const huge = openSync(join(mnt, "huge.bin"), "w");
    try {
      writeSync(huge, pseudoRandom(4096, 3), 0, 4096, 3 * 2 ** 40);
    } finally {
      closeSync(huge);
    }
    const orphan = join(mnt, "orphan.bin");
    fd = openSync(orphan, "w");
    writeSync(fd, pseudoRandom(10_000, 9));
    const orphanIno = Number(run("stat", ["-c", "%i", orphan]).trim());
    unlinkSync(orphan);
    for (let i = 0; i < 20; i++) writeFileSync(join(mnt, `f${i}`), `file ${i}\n`);
    run("sync", []);
    const journaled = join(scratchDir(), `kernel-journaled-${process.pid}.img`);
    copyFileSync(image, journaled);
    run("fsfreeze", ["-f", mnt]);
    const frozen = join(scratchDir(), `kernel-frozen-${process.pid}.img`);
    try {
      copyFileSync(image, frozen);
    } finally {
      run("fsfreeze", ["-u", mnt]);
    }
    images = { journaled, frozen, orphanIno };
    return images;
  } finally {
    if (fd !== undefined) closeSync(fd);
    if (mounted) run("umount", [mnt]);
    run("losetup", ["-d", loop]);
  }
}
