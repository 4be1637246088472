/** The oclif command, run in-process: flags, output and fsck(8) exit codes. */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { buildTree, makeBase, PROFILES } from "../corpus/images.ts";
import { debugfsWrite } from "../corpus/tools.ts";
import CheckCommand, { parseBytes, progressBar } from "./cli.js";
import { parseFastArgs } from "./command.js";
import { compileCacheDir, enableCompileCache, runFast } from "./main.js";

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

/** Runs `fn` with stdout, stderr and the console captured; returns the exit code and the output. */
async function captured(
  fn: () => Promise<unknown>,
): Promise<{ code: number; out: string; err: string }> {
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
  try {
    await fn();
  } finally {
    vi.restoreAllMocks();
  }
  return { code: Number(process.exitCode ?? 0), out, err };
}

/** The oclif command, in-process. */
const run = (argv: string[]) => captured(() => CheckCommand.run(argv, import.meta.url));

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

  it("exits 8 for an unreadable image, 16 for usage errors", async () => {
    expect((await run([join(dir, "missing.img")])).code).toBe(8);
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

describe("start-up fast path", () => {
  it("takes only the plain invocations", () => {
    const img = "disk.img";
    expect(parseFastArgs([img])).toEqual({
      image: img,
      flags: { quiet: false, keepGoing: false, replay: false, json: false },
    });
    expect(parseFastArgs(["-p", "--offset=1K", "--keep-going", "--no-progress", img])).toEqual({
      image: img,
      flags: {
        quiet: true,
        keepGoing: true,
        replay: false,
        json: false,
        offset: "1K",
        progress: false,
      },
    });
    expect(parseFastArgs(["--offset", "2s", img])?.flags.offset).toBe("2s");
    for (const argv of [
      [],
      [img, img],
      ["--json", img],
      ["--replay", img],
      ["--help"],
      ["--version"],
      ["-p", "-p", img],
      ["--quiet", "-p", img],
      ["--progress", "--no-progress", img],
      ["--offset", "12x", img],
      ["--offset", img],
      ["--offset=-1", img],
      ["--no-such-flag", img],
      ["-", img],
      ["", img],
      ["--", img],
    ]) {
      expect(parseFastArgs(argv), argv.join(" ")).toBeNull();
    }
    expect(parseFastArgs([img], { EXT4_CHECK_CONTENT_TYPE: "json" })).toBeNull();
  });

  it("prints and exits exactly as the oclif command does", async () => {
    for (const argv of [
      [clean],
      [broken],
      ["-p", broken],
      ["--quiet", clean],
      ["--offset", "0", clean],
      ["--offset=0", broken],
      ["--keep-going", broken],
      ["--no-progress", broken],
      [join(dir, "missing.img")],
      ["--offset", "1K", clean],
    ]) {
      const viaOclif = await run(argv);
      let took = false;
      const fast = await captured(async () => {
        took = await runFast(argv, {});
      });
      expect(took, argv.join(" ")).toBe(true);
      expect(fast, argv.join(" ")).toEqual(viaOclif);
    }
    expect(await runFast(["--json", clean], {})).toBe(false);
  });

  it("keeps compiled code under ~/.cache/ext4-toolkit, and an unwritable cache is no error", () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: "/x/cache" })).toBe(
      "/x/cache/ext4-toolkit/compile-cache",
    );
    expect(compileCacheDir({})).toMatch(/\.cache\/ext4-toolkit\/compile-cache$/);
    // Neither hangs (Node's own recursive mkdir never returns under /proc) nor throws.
    expect(enableCompileCache("/proc/ext4-check-cannot-write-here/cache")).toBe(false);
    expect(enableCompileCache("/dev/null/ext4-toolkit")).toBe(false);
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

describe("--replay", () => {
  it("checks what journal recovery leaves, in memory, without writing the image", async () => {
    // A journal the kernel left behind: transactions committed, not yet checkpointed.
    const image = join(dir, "dirty.img");
    const mnt = join(dir, "mnt");
    execFileSync("mke2fs", ["-q", "-F", "-t", "ext4", image, "32M"]);
    mkdirSync(mnt, { recursive: true });
    execFileSync("mount", ["-o", "loop", image, mnt]);
    let snapshot: Buffer;
    try {
      execFileSync("sh", [
        "-c",
        `mkdir -p ${mnt}/a && for i in $(seq 1 300); do echo $i > ${mnt}/a/f$i; done && sync`,
      ]);
      snapshot = readFileSync(image);
    } finally {
      execFileSync("umount", [mnt]);
    }
    writeFileSync(image, snapshot);
    const plain = await run([image]);
    expect(plain.out).toMatch(/journal needs recovery/i);
    const replayed = await run(["--replay", image]);
    expect(replayed.code, replayed.out + replayed.err).toBe(0);
    expect(replayed.out).toMatch(/journal recovered in memory: [1-9]\d* transactions/);
    expect(replayed.out).not.toMatch(/journal needs recovery/i);
    expect(readFileSync(image).equals(snapshot)).toBe(true);
    // Nothing to recover: the same as without --replay.
    expect((await run(["--replay", clean])).code).toBe(0);
  }, 60_000);
});
