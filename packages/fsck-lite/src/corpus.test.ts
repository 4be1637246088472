/**
 * The corruption corpus against the real e2fsck: every case is a small
 * image broken in one known way (corpus/cases.ts); the expected verdict and
 * the passes that report problems come from running `e2fsck -fn` on it now,
 * never from a written answer. ext4-check must agree on clean-or-not for
 * every case and on the set of passes for at least 90% of them. Every
 * fourth case is also checked with the reader thread doing all the reads it
 * can (prefetch.ts; starting a thread per check makes all of them slow),
 * and must give exactly the same result.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BuiltCase, buildCorpus } from "../corpus/build.ts";
import { check } from "./index.js";

/** One clock for both runs of a case ("in the future" checks read it). */
const NOW = Math.floor(Date.now() / 1000);
let dir = "";
let clean: BuiltCase[] = [];
let cases: BuiltCase[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ext4-check-corpus-"));
  ({ clean, cases } = buildCorpus(dir));
}, 600_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

describe("corruption corpus", () => {
  it("has at least 150 cases covering every pass", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150);
    const passes = new Set(cases.flatMap((c) => c.expected.passes));
    for (const p of [0, 1, 2, 3, 4, 5]) expect(passes.has(p)).toBe(true);
  });

  it("finds every unbroken image clean, as e2fsck does", () => {
    expect(clean.length).toBe(7);
    for (const c of clean) {
      expect(c.expected.status).toBe(0);
      const r = check(c.image);
      expect({ name: c.name, problems: r.problems.filter((p) => p.severity !== "info") }).toEqual({
        name: c.name,
        problems: [],
      });
      expect(r.verdict).toBe("clean");
      // The summary line agrees with e2fsck's, number for number.
      const e2 = c.expected.output.split("\n").find((l) => / files \(/.test(l)) ?? "";
      const m = /(\d+)\/(\d+) files .*?, (\d+)\/(\d+) blocks/.exec(e2);
      expect(m).not.toBeNull();
      expect([
        r.summary.inodesUsed,
        r.summary.inodesCount,
        r.summary.blocksUsed,
        r.summary.blocksCount,
      ]).toEqual(m!.slice(1, 5).map(Number));
    }
  });

  it("agrees with e2fsck -fn on clean-or-not for every case and on the passes for at least 90%", () => {
    const verdictDisagree: string[] = [];
    const passDisagree: string[] = [];
    const threadDiffers: string[] = [];
    let slowest = 0;
    for (const [n, c] of cases.entries()) {
      const t0 = performance.now();
      const r = check(c.image, { now: NOW });
      slowest = Math.max(slowest, performance.now() - t0);
      if (n % 4 === 0) {
        const threaded = check(c.image, { now: NOW, readerThread: "all" });
        if (JSON.stringify(threaded) !== JSON.stringify(r)) threadDiffers.push(c.name);
      }
      const ours = r.summary.passesWithProblems;
      const theirs = c.expected.passes;
      const line = `${c.name} (${c.what}): e2fsck exit ${c.expected.status} passes [${theirs}], ext4-check exit ${r.exitCode} passes [${ours}]`;
      if ((r.verdict === "clean") !== c.expected.clean) verdictDisagree.push(line);
      if (ours.join(",") !== theirs.join(",")) passDisagree.push(line);
    }
    const agree = (100 * (cases.length - passDisagree.length)) / cases.length;
    console.log(
      `corpus: ${cases.length} cases; verdict agreement ${cases.length - verdictDisagree.length}/${cases.length}; ` +
        `pass agreement ${agree.toFixed(1)}%; slowest check ${slowest.toFixed(0)} ms\n` +
        `disagreements on passes:\n  ${passDisagree.join("\n  ")}`,
    );
    expect(verdictDisagree).toEqual([]);
    expect(agree).toBeGreaterThanOrEqual(90);
    expect(threadDiffers).toEqual([]);
  }, 300_000);
});
