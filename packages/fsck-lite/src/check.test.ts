/**
 * The library API: read-only behaviour, --offset, operational errors,
 * renderers, quiet mode, keep-going, the problem cap. Images come from
 * mke2fs and are broken with debugfs; e2fsck is the oracle where a verdict
 * is asserted.
 */
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MemoryDevice } from "@ext4/iocache";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildTree, makeBase, PROFILES } from "../corpus/images.ts";
import { debugfsWrite, runE2fsck } from "../corpus/tools.ts";
import { check, renderHuman, renderJson, summaryLine, toJson } from "./index.js";

let dir = "";
let base = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ext4-check-api-"));
  buildTree(join(dir, "tree"));
  base = makeBase(PROFILES.ext4, join(dir, "tree"), dir);
}, 120_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

function copy(name: string): string {
  const p = join(dir, name);
  const fd = openSync(p, "w");
  writeSync(fd, readFileSync(base));
  closeSync(fd);
  return p;
}

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");

describe("check()", () => {
  it("finds a clean image clean and never writes to a broken one", () => {
    expect(check(base).verdict).toBe("clean");
    const img = copy("broken.img");
    debugfsWrite(img, ["sif /hello.txt links_count 7", "freeb 1000", "unlink /dir1/sub"]);
    const before = sha(img);
    const r = check(img);
    expect(sha(img)).toBe(before);
    expect(r.verdict).toBe("errors");
    expect(r.exitCode).toBe(4);
    expect(runE2fsck(img).status).toBe(4);
    expect(r.summary.passesWithProblems).toEqual(runE2fsck(img).passes);
  });

  it("checks a filesystem at a byte offset inside a larger image", () => {
    const img = join(dir, "partitioned.img");
    const fs = readFileSync(base);
    const fd = openSync(img, "w");
    writeSync(fd, new Uint8Array(1 << 20), 0, 1 << 20, 0);
    writeSync(fd, fs, 0, fs.length, 1 << 20);
    closeSync(fd);
    expect(check(img, { offset: 1 << 20 }).verdict).toBe("clean");
    expect(check(img).problems[0]?.code).toBe("SB_BAD_MAGIC");
    expect(check(img, { offset: 1 << 30 }).verdict).toBe("operational-error");
    expect(() => check(img, { offset: -1 })).toThrow(RangeError);
  });

  it("reports an image it cannot open as an operational error (exit 8)", () => {
    const r = check(join(dir, "does-not-exist.img"));
    expect(r).toMatchObject({
      verdict: "operational-error",
      exitCode: 8,
      error: { code: "ENOENT" },
    });
    expect(renderHuman(r)).toMatch(/cannot check/);
  });

  it("accepts a device and renders the same problems as text and JSON", () => {
    const img = copy("render.img");
    debugfsWrite(img, ["sif /one-block links_count 5"]);
    const r = check(new MemoryDevice(new Uint8Array(readFileSync(img)), { readOnly: true }), {
      name: "IMG",
    });
    expect(r.problems.map((p) => p.code)).toEqual(["BAD_REF_COUNT"]);
    const text = renderHuman(r);
    expect(text).toMatch(/^Pass 1: Checking inodes, blocks, and sizes$/m);
    expect(text).toMatch(
      /^Pass 4: Checking reference counts\nInode \d+ ref count is 5, should be 1 \[BAD_REF_COUNT\]$/m,
    );
    expect(text).toMatch(/^IMG: 434\/1024 files \([\d.]+% non-contiguous\), \d+\/4096 blocks$/m);
    expect(summaryLine(r)).toBe(text.trim().split("\n").at(-1));
    const json = JSON.parse(renderJson(r));
    expect(json).toMatchObject({
      version: 1,
      verdict: "errors",
      exitCode: 4,
      summary: { name: "IMG", passesWithProblems: [4] },
    });
    expect(json.problems[0]).toMatchObject({
      code: "BAD_REF_COUNT",
      pass: 4,
      severity: "error",
      inode: r.problems[0]!.context.ino,
    });
    expect(toJson(r).problems[0]?.message).toBe(r.problems[0]?.message);
    expect(renderHuman(r, { quiet: true })).toBe(
      `IMG: ${text.split("\n").find((l) => l.includes("BAD_REF_COUNT"))}\n`,
    );
    expect(renderHuman(check(base), { quiet: true })).toBe("");
  });

  it("stops where e2fsck -n stops unless told to keep going, and caps the problems kept", () => {
    const img = copy("zeroed-dir.img");
    const blk = /\(0\):(\d+)/.exec(debugfsWrite(img, ["stat /dir1"]).replace(/\n/g, " "))?.[1];
    expect(blk).toBeDefined();
    const fd = openSync(img, "r+");
    writeSync(fd, new Uint8Array(4096), 0, 4096, Number(blk) * 4096);
    closeSync(fd);
    const r = check(img);
    expect(r.problems.map((p) => p.code)).toContain("DIR_CORRUPTED");
    expect(r.summary.passesRun).toEqual([0, 1, 2]);
    expect(runE2fsck(img).passes).toEqual([2]);
    const all = check(img, { keepGoing: true });
    expect(all.summary.passesRun).toEqual([0, 1, 2, 3, 4, 5]);
    const capped = check(img, { keepGoing: true, maxProblems: 2 });
    expect(capped.problems.length).toBe(3);
    expect(capped.problems.at(-1)?.code).toBe("CHECK_LIMIT");
    expect(capped.summary.dropped).toBeGreaterThan(0);
  });

  it("reports progress per pass", () => {
    const seen = new Set<number>();
    check(base, { progress: (p) => seen.add(p.pass) });
    expect([...seen].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
