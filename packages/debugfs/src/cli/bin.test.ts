/**
 * The real executable, spawned: bin/run.js through oclif. It runs the built
 * dist/, so the package (and its references) is built first.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { buildTree, mkfs, scratchDir } from "../test-support/images.js";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(pkg, "bin/run.js");
let image: string;

function run(
  args: string[],
  input?: string,
  env: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: "utf8",
    input,
    // A scratch HOME: nothing a test runs may touch the real ~/.ext4_debug_history (or ~/.cache).
    env: { ...process.env, TZ: "UTC", HOME: scratchDir(), XDG_CACHE_HOME: "", ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  execFileSync(
    process.execPath,
    [join(pkg, "../../node_modules/typescript/bin/tsc"), "-b", join(pkg, "tsconfig.json")],
    {
      stdio: "inherit",
    },
  );
  image = mkfs({ from: buildTree({ bigDirEntries: 5, devices: false }).root });
}, 120_000);

describe("bin/run.js", () => {
  it("runs a request and matches debugfs", () => {
    const r = run(["-R", "stat /small.txt", image]);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe("");
    const oracle = execFileSync("debugfs", ["-R", "stat /small.txt", image], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, TZ: "UTC" },
    });
    expect(r.stdout).toBe(oracle);
  });

  it("reads a script from stdin and exits 1 when a request failed", () => {
    const r = run(["-f", "-", image], "pwd\nstat /missing\n");
    expect(r.status).toBe(1);
    expect(r.stdout).toContain("debugfs: pwd\n[pwd]");
    expect(r.stderr).toBe("/missing: File not found by ext2_lookup\n");
  });

  it("opens a read-only image owned by someone else", () => {
    const ro = join(scratchDir(), "readonly.img");
    copyFileSync(image, ro);
    chmodSync(ro, 0o444);
    if (process.getuid?.() === 0) execFileSync("chown", ["65534:65534", ro]);
    const r = run(["-R", "ls /", ro]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("small.txt");
  });

  it("a file that is not ext2/3/4 gives one line naming the problem, no stack trace, exit 1", () => {
    const junk = join(scratchDir(), "not-ext4.img");
    writeFileSync(junk, Buffer.alloc(4 << 20, 0x5a));
    const r = run(["-R", "stats", junk]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/magic/i);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a corrupted image names what is wrong and where", () => {
    const bad = join(scratchDir(), "corrupt.img");
    copyFileSync(image, bad);
    // Overwrite the root inode's extent header magic: reading the root directory must fail cleanly.
    const loc = execFileSync("debugfs", ["-R", "imap <2>", bad], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(loc);
    expect(m).not.toBeNull();
    const stats = execFileSync("debugfs", ["-R", "stats -h", bad], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const blockSize = Number(/Block size: +(\d+)/.exec(stats)?.[1]);
    const offset = Number(m![1]) * blockSize + Number.parseInt(m![2]!, 16) + 40;
    execFileSync(
      "dd",
      [`of=${bad}`, "bs=1", `seek=${offset}`, "count=2", "conv=notrunc", "status=none"],
      {
        input: Buffer.from([0xde, 0xad]),
      },
    );
    const r = run(["-R", "ls /", bad]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/inode 2/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("--help is oclif's help; an unknown flag is oclif's usage error (exit 2), no stack trace", () => {
    const help = run(["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/USAGE\n\s+\$ ext4-debug/);
    expect(help.stdout).toContain("--request=<value>");
    const bad = run(["--bogus", image]);
    expect(bad.status).toBe(2);
    expect(bad.stdout).toBe("");
    expect(bad.stderr).toContain("Nonexistent flag: --bogus");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
  });

  it("the build leaves a batch bundle at least as new as the compiled code it is made from", () => {
    // bin/run.js runs -R/-f lines from dist/bundle/batch.mjs only when it is current
    // (bundleIsCurrent); the package build (tsc -b, then scripts/bundle.mjs) must make it so.
    const bundle = statSync(join(pkg, "dist/bundle/batch.mjs")).mtimeMs;
    const built: string[] = JSON.parse(readFileSync(join(pkg, "dist/bundle/batch.json"), "utf8"));
    // The manifest names every workspace package the bundle holds code of.
    expect(built).toEqual([
      "../core/dist/.tsbuildinfo",
      "../iocache/dist/.tsbuildinfo",
      "dist/.tsbuildinfo",
    ]);
    for (const rel of built) {
      // bin/run.js allows a second (the order turbo restores a cached build's files in).
      expect(statSync(join(pkg, rel)).mtimeMs, rel).toBeLessThanOrEqual(bundle + 1000);
    }
  });

  it("keeps a compile cache under XDG_CACHE_HOME, and runs without one where it cannot be made", () => {
    const xdg = join(scratchDir(), "xdg-cache");
    const cached = run(["-R", "pwd", image], undefined, { XDG_CACHE_HOME: xdg });
    expect(cached.status).toBe(0);
    const dir = join(xdg, "ext4-toolkit/compile-cache");
    // One subdirectory per node version, holding the compiled modules.
    const [version] = readdirSync(dir);
    expect(version).toBeDefined();
    // bin/run.js, quick.js and the batch bundle (or, without a current bundle, dist/'s modules).
    expect(readdirSync(join(dir, version!)).length).toBeGreaterThanOrEqual(3);
    expect(run(["-R", "pwd", image], undefined, { XDG_CACHE_HOME: xdg }).stdout).toBe(
      cached.stdout,
    );
    // /proc refuses mkdir with ENOENT (node's own recursive mkdir loops forever there), a
    // regular file cannot hold a directory: both only mean no cache.
    const file = join(scratchDir(), "a-file");
    writeFileSync(file, "");
    for (const where of ["/proc/ext4-debug-test", file]) {
      const r = run(["-R", "pwd", image], undefined, { XDG_CACHE_HOME: where });
      expect(r.status, where).toBe(0);
      expect(r.stdout, where).toBe(cached.stdout);
      expect(r.stderr, where).toBe("");
    }
  });

  it("a missing image exits 1 with one line", () => {
    const r = run(["-R", "stats", "/no/such/image"]);
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("bin/run.js interactive", () => {
  it("reads commands from a pipe until quit, printing the prompt", () => {
    const r = run([image], "ls /dir\nquit\nstat /\n");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("debugfs:  ");
    expect(r.stdout).toContain("nested");
    // Nothing after quit runs, and piped input is not history.
    expect(r.stdout).not.toContain("Inode: 2 ");
    expect(existsSync(join(scratchDir(), ".ext4_debug_history"))).toBe(false);
  });
});
