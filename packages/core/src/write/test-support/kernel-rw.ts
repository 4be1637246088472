/**
 * Images the kernel writes for the write-path tests: mounted read-write on
 * a loop device, changed by a Python script (so a file can be held open),
 * and copied while frozen (checkpointed, no recovery needed). The loop
 * device and mount are always released.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmdirSync } from "node:fs";
import { join } from "node:path";
import { mkfs, scratchDir } from "../../test-support/mkfs.js";

const run = (cmd: string, args: string[]): string =>
  execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

let n = 0;

/**
 * A filesystem with orphan_file whose frozen copy holds an open-unlinked
 * file in the orphan file (orphan_present set). Returns the copy.
 */
export function kernelOrphanImage(): string {
  const image = mkfs({ size: 32 << 20, args: ["-O", "orphan_file"] });
  const mnt = join(scratchDir(), `kmnt-rw-${process.pid}-${n++}`);
  mkdirSync(mnt, { recursive: true });
  const out = join(scratchDir(), `korphan-${process.pid}-${n++}.img`);
  run("mount", ["-o", "loop", image, mnt]);
  try {
    // Hold a file open while it is unlinked, freeze, copy, then let it go.
    const script = `
import os, sys, subprocess
p = os.path.join(${JSON.stringify(mnt)}, "held")
fd = os.open(p, os.O_CREAT | os.O_RDWR)
os.write(fd, b"x" * 100000)
os.fsync(fd)
os.unlink(p)
subprocess.run(["fsfreeze", "-f", ${JSON.stringify(mnt)}], check=True)
try:
    subprocess.run(["cp", ${JSON.stringify(image)}, ${JSON.stringify(out)}], check=True)
finally:
    subprocess.run(["fsfreeze", "-u", ${JSON.stringify(mnt)}], check=True)
os.close(fd)
`;
    run("python3", ["-c", script]);
  } finally {
    run("umount", [mnt]);
    rmdirSync(mnt);
  }
  return out;
}
