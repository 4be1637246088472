/** The oclif command, run in-process: flags, output and fsck(8) exit codes. */
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTree, makeBase, PROFILES } from "../corpus/images.ts";
import { debugfsWrite } from "../corpus/tools.ts";
import CheckCommand, { parseBytes, progressBar } from "./cli.js";

let dir = "";
let clean = "";
let broken = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ext4-check-cli-"));
  buildTree(join(dir, "tree"));
  clean = makeBase(PROFILES.ext2, join(dir, "tree"), dir);
  broken = join(dir, "broken.img");
  rmSync(broken, { force: true });
  copyFileSync(clean, broken);
  debugfsWrite(broken, ["freei /one-block"]);
}, 120_000);

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  process.exitCode = 0;
  vi.restoreAllMocks();
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => {
    out += `${a.join(" ")}\n`;
  });
  vi.spyOn(console, "error").mockImplementation((...a: unknown[]) => {
    err += `${a.join(" ")}\n`;
  });
  process.exitCode = 0;
  await CheckCommand.run(argv, import.meta.url);
  const code = Number(process.exitCode ?? 0);
  vi.restoreAllMocks();
  return { code, out, err };
}

describe("ext4-check command", () => {
  it("exits 0 on a clean image and prints the summary", async () => {
    const r = await run([clean]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^ext2: 434\/1024 files/m);
  });

  it("exits 4 with problems, prints only problems with -p, and JSON with --json", async () => {
    expect((await run([broken])).code).toBe(4);
    const quiet = await run(["-p", broken]);
    expect(quiet.code).toBe(4);
    expect(
      quiet.out
        .trim()
        .split("\n")
        .every((l) => l.startsWith("ext2: ")),
    ).toBe(true);
    const json = await run(["--json", broken]);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.out)).toMatchObject({
      verdict: "errors",
      exitCode: 4,
      summary: { passesWithProblems: [5] },
    });
  });

  it("exits 8 for an unreadable image and for --replay, 16 for usage errors", async () => {
    expect((await run([join(dir, "missing.img")])).code).toBe(8);
    const replay = await run(["--replay", clean]);
    expect(replay.code).toBe(8);
    expect(replay.err).toMatch(/replay is not available yet/);
    expect((await run([])).code).toBe(16);
    expect((await run(["--no-such-flag", clean])).code).toBe(16);
    expect((await run(["--offset", "12x", clean])).code).toBe(16);
  });

  it("honours --offset", async () => {
    expect((await run(["--offset", "0", clean])).code).toBe(0);
    // No filesystem starts 1 KiB in: no usable superblock, exit 8 as e2fsck -fn.
    expect((await run(["--offset", "1K", clean])).code).toBe(8);
  });
});

describe("helpers", () => {
  it("parses byte counts with suffixes", () => {
    expect([
      parseBytes("512"),
      parseBytes("1K"),
      parseBytes("2m"),
      parseBytes("3s"),
      parseBytes("1G"),
    ]).toEqual([512, 1024, 2 * 1024 * 1024, 1536, 1024 ** 3]);
    expect(() => parseBytes("-1")).toThrow(RangeError);
    expect(() => parseBytes("1.5K")).toThrow(RangeError);
  });

  it("draws and clears a progress bar", () => {
    let out = "";
    const write = (s: string) => {
      out += s;
      return true;
    };
    const stream = { write } as unknown as NodeJS.WriteStream;
    const bar = progressBar(stream);
    bar.update({ pass: 1, done: 1, total: 2 });
    expect(out).toMatch(/Pass 1: \[#{15} {15}\] 50%/);
    bar.done();
    expect(out.endsWith("\r")).toBe(true);
  });
});
