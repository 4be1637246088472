import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";

// The suites below lean on the real reference tools; if set-up missed one,
// say so here once instead of failing obscurely in every suite.
describe("toolchain", () => {
  it("runs on Node 24 or newer", () => {
    const major = Number(process.versions.node.split(".")[0]);
    expect(major).toBeGreaterThanOrEqual(24);
  });

  it.each(["mke2fs", "e2fsck", "debugfs", "fusermount3", "fio", "fuse2fs"])(
    "has %s installed",
    (tool) => {
      const out = execFileSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
      expect(out.trim()).toMatch(new RegExp(`/${tool}$`));
    },
  );
});
