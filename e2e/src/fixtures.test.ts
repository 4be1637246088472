import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { image, MATRIX } from "./support/images.js";

// The fixtures themselves must be what we claim: clean images with the features asked for.
describe.each(MATRIX)("fixture $name", (spec) => {
  it("is clean under e2fsck -fn and has the requested features", () => {
    const path = image(spec);
    execFileSync("e2fsck", ["-fn", path], { stdio: "ignore" });
    const features = execFileSync("dumpe2fs", ["-h", path], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const line = features.split("\n").find((l) => l.startsWith("Filesystem features:")) ?? "";
    for (const arg of spec.args.filter((a) => a.startsWith("^") || /^[a-z_]+$/.test(a))) {
      if (arg.startsWith("^")) expect(line).not.toContain(` ${arg.slice(1)}`);
      else expect(line).toContain(arg);
    }
    if (spec.type !== "ext2") expect(line).toContain("has_journal");
    else expect(line).not.toContain("has_journal");
  });
});
