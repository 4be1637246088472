/**
 * Test-only: running debugfs as the oracle. Scripts go through `debugfs -f`
 * so one process answers a whole batch; output is decoded as latin1 so every
 * byte of a name survives.
 */
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "../../test-support/mkfs.js";

let n = 0;

/**
 * Runs debugfs on a script of raw-byte lines (optionally against an image,
 * opened read-write with `write`); returns stdout as latin1.
 */
export function debugfsScript(lines: readonly Uint8Array[], image?: string, write = false): string {
  const path = join(scratchDir(), `dbg-${process.pid}-${n++}.txt`);
  const nl = new Uint8Array([10]);
  writeFileSync(path, Buffer.concat(lines.flatMap((l) => [l, nl])));
  const args = write ? ["-w", "-f", path] : ["-f", path];
  if (image !== undefined) args.push(image);
  try {
    return execFileSync("debugfs", args, {
      encoding: "latin1",
      stdio: ["ignore", "pipe", "ignore"],
      maxBuffer: 1 << 28,
      env: { ...process.env, TZ: "UTC" },
    });
  } finally {
    rmSync(path, { force: true });
  }
}

/** Runs one debugfs request against an image; stdout as latin1. */
export function debugfsRaw(image: string, cmd: string): string {
  return execFileSync("debugfs", ["-R", cmd, image], {
    encoding: "latin1",
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
    env: { ...process.env, TZ: "UTC" },
  });
}

/** A debugfs argument quoting arbitrary bytes (no NUL or newline): "..." with inner quotes doubled. */
export function quoteArg(bytes: Uint8Array): Uint8Array {
  const out: number[] = [0x22];
  for (const b of bytes) {
    if (b === 0x22) out.push(0x22);
    out.push(b);
  }
  out.push(0x22);
  return Uint8Array.from(out);
}
