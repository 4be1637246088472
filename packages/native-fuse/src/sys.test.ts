/**
 * flock(2) locks between two open file descriptions, and dropping
 * privileges for good (in a child process: it cannot be undone).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { isFuseError } from "./errors.js";
import { capabilities, dropPrivileges, flock, funlock, noNewPrivs } from "./sys.js";
import { spawnTs } from "./test-support/child.js";

const DROP_CHILD = fileURLToPath(new URL("./test-support/drop-child.ts", import.meta.url));

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe("flock", () => {
  it("excludes a second open file description until released", () => {
    const dir = mkdtempSync(join(tmpdir(), "nf-sys-"));
    const path = join(dir, "f");
    writeFileSync(path, "");
    const a = openSync(path, "r");
    const b = openSync(path, "r");
    try {
      flock(a);
      expect(
        isFuseError(
          thrown(() => flock(b)),
          "EAGAIN",
        ),
      ).toBe(true);
      // Shared locks conflict with the exclusive one too.
      expect(
        isFuseError(
          thrown(() => flock(b, { shared: true })),
          "EAGAIN",
        ),
      ).toBe(true);
      funlock(a);
      flock(b, { shared: true });
      flock(a, { shared: true });
      expect(
        isFuseError(
          thrown(() => flock(a)),
          "EAGAIN",
        ),
      ).toBe(true);
    } finally {
      closeSync(a);
      closeSync(b);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reports bad descriptors", () => {
    expect(
      isFuseError(
        thrown(() => flock(123456)),
        "EBADF",
      ),
    ).toBe(true);
    expect(
      isFuseError(
        thrown(() => flock(-1)),
        "ERR_FUSE_ARGUMENT",
      ),
    ).toBe(true);
  });
});

describe("dropPrivileges", () => {
  it("refuses uid 0 and bad ids without changing anything", () => {
    expect(
      isFuseError(
        thrown(() => dropPrivileges({ uid: 0, gid: 0 })),
        "ERR_FUSE_ARGUMENT",
      ),
    ).toBe(true);
    expect(
      isFuseError(
        thrown(() => dropPrivileges({ uid: -1, gid: 0 })),
        "ERR_FUSE_ARGUMENT",
      ),
    ).toBe(true);
    expect(noNewPrivs()).toBe(false);
  });

  it("leaves a process with the new ids, no groups, no capabilities and no_new_privs", async () => {
    if (process.getuid?.() !== 0) {
      console.warn("\n*** not root: dropPrivileges test SKIPPED ***\n");
      return;
    }
    expect(capabilities().effective).not.toBe(0n);
    const dir = mkdtempSync(join(tmpdir(), "nf-drop-"));
    const probe = join(dir, "root-only");
    writeFileSync(probe, "");
    try {
      const child = spawnTs(DROP_CHILD, ["65534", "65534", probe]);
      let out = "";
      let err = "";
      child.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
      });
      child.stderr?.on("data", (d: Buffer) => {
        err += d.toString();
      });
      const code = await new Promise<number | null>((r) => child.on("exit", r));
      expect(err).toBe("");
      expect(code).toBe(0);
      expect(JSON.parse(out)).toEqual({
        uid: 65534,
        gid: 65534,
        // Node always lists the effective gid among the groups; nothing else may stay.
        groups: [65534],
        noNewPrivs: true,
        effective: "0",
        permitted: "0",
        probeWrite: "EACCES",
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
