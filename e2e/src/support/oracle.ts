/**
 * The reference tools as oracles: run many debugfs commands in one process
 * (`debugfs -f script`) and split the output per command, so a differential
 * test over thousands of commands costs one debugfs start per image.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs `commands` through `debugfs -f` on `image` and returns each command's stdout. */
export function debugfsBatch(image: string, commands: readonly string[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), "ext4-oracle-"));
  try {
    const script = join(dir, "script");
    writeFileSync(script, `${commands.join("\n")}\n`);
    const out = execFileSync("debugfs", ["-f", script, image], {
      encoding: "latin1",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 1 << 30,
      env: { ...process.env, TZ: "UTC", DEBUGFS_PAGER: "__none__", PAGER: "__none__" },
    });
    // debugfs echoes "debugfs: <command>" before each command's output.
    const parts = out.split(/^debugfs: .*\n/m);
    parts.shift(); // the banner before the first command
    if (parts.length !== commands.length) {
      throw new Error(
        `debugfs -f returned ${parts.length} outputs for ${commands.length} commands`,
      );
    }
    return parts;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `e2fsck -fn` exit status and output. */
export function e2fsckN(image: string): { status: number; output: string } {
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
