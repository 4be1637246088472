/**
 * One temp directory per test run. Every test's `os.tmpdir()` lands inside it
 * (TMPDIR is inherited by the workers), and teardown removes it whether tests
 * passed or failed — worker processes are killed by the runner, so their own
 * exit hooks cannot be trusted to clean up. Before removing anything it lazily
 * unmounts whatever a failed test left mounted below the directory, so a
 * stuck FUSE or loop mount never outlives the run.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";

function mountsUnder(dir: string): string[] {
  const lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  return lines
    .map((l) => l.split(" ")[4] ?? "")
    .map((p) =>
      p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
    )
    .filter((p) => p === dir || p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

export default function setup(): () => void {
  // Each package's config names this setup too, so a run from a package folder
  // cleans up as well; inside a run of the whole repo, the outer directory does.
  if (basename(tmpdir()).startsWith("ext4-run-")) return () => {};
  const dir = mkdtempSync(join(tmpdir(), "ext4-run-"));
  process.env.TMPDIR = dir;
  return () => {
    for (const mp of mountsUnder(dir)) {
      console.warn(`test teardown: lazily unmounting a mount left behind at ${mp}`);
      try {
        execFileSync("umount", ["-l", mp], { stdio: "ignore" });
      } catch {
        // Not root, or already gone: fusermount3 handles a user's FUSE mount.
        try {
          execFileSync("fusermount3", ["-uz", mp], { stdio: "ignore" });
        } catch {}
      }
    }
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      console.warn(`test teardown: could not remove ${dir}: ${String(e)}`);
    }
  };
}
