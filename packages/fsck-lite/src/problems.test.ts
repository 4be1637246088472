/** The problem table is well formed: every row renders, placeholders are known, codes are stable keys. */
import { describe, expect, it } from "vitest";
import { formatMessage, makeProblem, PROBLEMS, type ProblemCode } from "./problems.js";

const FIELDS = new Set([
  "ino",
  "blk",
  "blk2",
  "lblk",
  "group",
  "num",
  "num2",
  "entry",
  "dir",
  "str",
]);

describe("problem table", () => {
  it("has a pass, severity and only known placeholders in every row", () => {
    for (const [code, def] of Object.entries(PROBLEMS)) {
      expect(code).toMatch(/^[A-Z0-9_]+$/);
      expect([0, 1, 2, 3, 4, 5]).toContain(def.pass);
      expect(["error", "warning", "info"]).toContain(def.severity);
      for (const m of def.messageTemplate.matchAll(/\{(\w+)\}/g))
        expect(FIELDS.has(m[1]!)).toBe(true);
      expect(def.messageTemplate.length).toBeGreaterThan(5);
    }
  });

  it("renders a problem from its context", () => {
    const p = makeProblem("BAD_REF_COUNT", { ino: 12, num: 1, num2: 2 });
    expect(p).toMatchObject({ code: "BAD_REF_COUNT", pass: 4, severity: "error", fixable: true });
    expect(p.message).toBe("inode 12 ref count is 1, should be 2");
    expect(formatMessage("{ino} {blk}", { ino: 3 })).toBe("3 ?");
    const codes = Object.keys(PROBLEMS) as ProblemCode[];
    expect(new Set(codes).size).toBe(codes.length);
  });
});
