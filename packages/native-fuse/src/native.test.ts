/**
 * The Rust unit tests (mapping cache; the reader loop against a socketpair
 * standing in for /dev/fuse: malformed requests, forwarding, fast path),
 * run through cargo so that `vitest` covers the native code too, plus the
 * addon's argument checking from JS.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isFuseError } from "./errors.js";
import { native } from "./native.js";
import { FuseSession } from "./session.js";

const root = fileURLToPath(new URL("..", import.meta.url));

function cargoAvailable(): Promise<boolean> {
  return new Promise((resolve) => execFile("cargo", ["--version"], (e) => resolve(e === null)));
}

describe("native addon", () => {
  it("passes its Rust unit tests", async () => {
    if (!(await cargoAvailable())) {
      console.warn("\n*** cargo not found: native-fuse Rust unit tests SKIPPED ***\n");
      return;
    }
    const out = await new Promise<{ code: number; text: string }>((resolve) =>
      execFile(
        "cargo",
        ["test", "--release", "--quiet"],
        { cwd: root, timeout: 600_000 },
        (e, stdout, stderr) => resolve({ code: e === null ? 0 : 1, text: `${stdout}${stderr}` }),
      ),
    );
    expect(out.text).toMatch(/test result: ok\. [1-9]\d* passed; 0 failed/);
    expect(out.code).toBe(0);
  }, 600_000);

  it("refuses bad arguments with ERR_FUSE_ARGUMENT instead of crashing", () => {
    const b = native();
    const calls: (() => unknown)[] = [
      () => b.reply({} as never, 0, 0, 0),
      () => b.stats(42 as never),
      () => b.unmount("/x", false, false, "not a function" as never),
      () => b.mountKernel(1 as never, "", "", false, ""),
    ];
    for (const call of calls) {
      let err: unknown;
      try {
        call();
      } catch (e) {
        err = e;
      }
      expect((err as { code?: string }).code).toBe("ERR_FUSE_ARGUMENT");
    }
  });

  it("reports a missing mountpoint as ENOENT with errno", () => {
    let err: unknown;
    try {
      FuseSession.mount({ mountpoint: "/nonexistent/native-fuse-test", method: "mount" });
    } catch (e) {
      err = e;
    }
    expect(isFuseError(err, "ENOENT")).toBe(true);
    expect((err as { errno?: number }).errno).toBe(2);
  });
});
