/**
 * Contained service mode (DESIGN.md): with -o runas=USER the server opens
 * the image and /dev/fuse as root, then serves as USER with no
 * capabilities in any thread and no_new_privs, touching only the
 * descriptors it already holds. The mount works normally; unmounting (by
 * the administrator) still flushes and marks the image clean. The systemd
 * unit template that runs it this way is checked for what it must contain.
 */
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import { mountOf, spawnCli, waitFor } from "./test-support/cli-run.js";
import { cleanup, debugfsOut, expectClean, run, shOk, tempDir } from "./test-support/harness.js";

let dir: string;

beforeEach(() => {
  dir = tempDir("f4-contained-");
});

afterEach(async () => {
  await cleanup(dir);
});

function field(status: string, name: string): string {
  return new RegExp(`^${name}:\\s+(.*)$`, "m").exec(status)?.[1]?.trim() ?? "";
}

describe("runas", () => {
  it("serves as the user, with no capabilities and no_new_privs in every thread", async () => {
    const image = freshImage("ext4", 32 << 20);
    const mp = join(dir, "mnt");
    mkdirSync(mp);
    const s = spawnCli([image, mp, "-f", "-o", "runas=65534:65534"]);
    try {
      expect(await waitFor(() => mountOf(mp) !== null)).toBe(true);
      await shOk(`mkdir ${mp}/d && seq 1 20000 > ${mp}/d/f && cat ${mp}/d/f | wc -l`);
      const pid = s.proc.pid ?? 0;
      const tasks = readdirSync(`/proc/${pid}/task`);
      expect(tasks.length).toBeGreaterThan(1);
      for (const t of tasks) {
        const st = readFileSync(`/proc/${pid}/task/${t}/status`, "utf8");
        expect(field(st, "Uid"), t).toBe("65534\t65534\t65534\t65534");
        expect(field(st, "Gid"), t).toBe("65534\t65534\t65534\t65534");
        expect(field(st, "CapEff"), t).toBe("0000000000000000");
        expect(field(st, "CapPrm"), t).toBe("0000000000000000");
        expect(field(st, "CapAmb"), t).toBe("0000000000000000");
      }
      // Bounding set and no_new_privs: on the threads that did the drop and those started after it.
      const main = readFileSync(`/proc/${pid}/status`, "utf8");
      expect(field(main, "CapBnd")).toBe("0000000000000000");
      expect(field(main, "NoNewPrivs")).toBe("1");
      await shOk(`umount ${mp}`);
      expect(await s.exited).toBe(0);
    } finally {
      s.proc.kill("SIGKILL");
    }
    expectClean(image);
    expect(debugfsOut(image, "stats")).toMatch(/Filesystem state:\s+clean\n/);
    expect(debugfsOut(image, "cat /d/f").split("\n").length).toBe(20001);
  }, 60_000);

  it("refuses root and unknown users before mounting", async () => {
    const image = freshImage("ext4", 32 << 20);
    const mp = join(dir, "mnt");
    mkdirSync(mp);
    for (const who of ["0", "no-such-user-here"]) {
      const s = spawnCli([image, mp, "-f", "-o", `runas=${who}`]);
      expect(await s.exited).toBe(32);
      expect(s.stderr()).toMatch(/runas: /);
      expect(mountOf(mp)).toBeNull();
    }
  }, 60_000);
});

describe("systemd unit", () => {
  it("runs fuse4fs in the foreground as an unprivileged user and unmounts on stop", async () => {
    const unit = readFileSync(
      fileURLToPath(new URL("../systemd/fuse4fs@.service", import.meta.url)),
      "utf8",
    );
    expect(unit).toMatch(/^ExecStart=.*fuse4fs -f .*runas=/m);
    expect(unit).toMatch(/^ExecStop=.*umount/m);
    expect(unit).toMatch(/^NoNewPrivileges=yes$/m);
    expect(unit).toMatch(/^CapabilityBoundingSet=/m);
    const v = await run("systemd-analyze", [
      "verify",
      "--man=no",
      fileURLToPath(new URL("../systemd/fuse4fs@.service", import.meta.url)),
    ]);
    // systemd-analyze may be missing in containers; when present the template must verify.
    if (v.code !== -1 && !/not found|No such file/.test(v.stderr)) {
      expect(v.stderr).not.toMatch(/Unknown (key|section)|Failed to parse/);
    }
  });
});
