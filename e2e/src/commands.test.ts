/**
 * The installed commands, as a user runs them from PATH (scripts/setup.sh
 * puts wrappers in /usr/local/bin): real processes, real exit codes, and a
 * clear one-line error — never a stack trace — on bad input.
 */
import { execFileSync, spawnSync } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, MATRIX } from "./support/images.js";

const onPath = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, TZ: "UTC" } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const noStackTrace = (s: string) => expect(s).not.toMatch(/\n\s+at .*\(.*:\d+:\d+\)/);

describe("installed commands", () => {
  let dir: string;
  let img: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "ext4-cmds-"));
    img = image(MATRIX[0]!);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("are on PATH after set-up", () => {
    for (const cmd of ["ext4-debug", "ext4-check"]) {
      if (!onPath(cmd)) throw new Error(`${cmd} is not on PATH: run scripts/setup.sh as root`);
    }
  });

  it("ext4-debug -R answers like debugfs", () => {
    const ours = run("ext4-debug", ["-R", "ls -l /hard", img]);
    expect(ours.status).toBe(0);
    const theirs = execFileSync("debugfs", ["-R", "ls -l /hard", img], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      env: { ...process.env, TZ: "UTC" },
    });
    expect(ours.stdout).toBe(theirs);
  });

  it("ext4-debug exits non-zero when any command of a script fails", () => {
    const script = join(dir, "script");
    writeFileSync(script, "stat /hard/a\nstat /no/such/file\nstat /hard/b\n");
    const r = run("ext4-debug", ["-f", script, img]);
    expect(r.status).not.toBe(0);
    expect(r.stdout).toContain("Inode:");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    noStackTrace(r.stderr);
  });

  it("ext4-check says clean with exit 0, and --json carries the verdict", () => {
    const r = run("ext4-check", [img]);
    expect(r.status).toBe(0);
    const j = run("ext4-check", ["--json", img]);
    expect(j.status).toBe(0);
    expect(JSON.parse(j.stdout)).toMatchObject({ exitCode: 0 });
  });

  it("read a filesystem inside a larger image with --offset", () => {
    const big = join(dir, "partitioned.img");
    const offset = 1 << 20;
    const fd = openSync(big, "w");
    try {
      const data = readFileSync(img);
      writeSync(fd, data, 0, data.length, offset);
    } finally {
      closeSync(fd);
    }
    const d = run("ext4-debug", ["--offset", String(offset), "-R", "ls /hard", big]);
    expect(d.status).toBe(0);
    expect(d.stdout).toContain("a");
    expect(run("ext4-check", ["--offset", String(offset), big]).status).toBe(0);
    // Without the offset there is no filesystem at the start: a clear error.
    const bad = run("ext4-debug", ["-R", "ls /", big]);
    expect(bad.status).not.toBe(0);
    noStackTrace(bad.stderr);
  });

  it("a non-ext4 file gets a one-line error and a non-zero exit, never a stack trace", () => {
    const junk = join(dir, "junk.bin");
    writeFileSync(junk, Buffer.alloc(4 << 20, 0x5a));
    const d = run("ext4-debug", ["-R", "stats", junk]);
    expect(d.status).not.toBe(0);
    expect(d.stderr.trim().split("\n")).toHaveLength(1);
    noStackTrace(d.stderr);
    const c = run("ext4-check", [junk]);
    expect(c.status).toBe(8);
    noStackTrace(c.stderr);
  });

  it("a corrupted superblock is named in the error", () => {
    const broken = join(dir, "broken.img");
    copyFileSync(img, broken);
    // s_log_block_size (offset 24 of the superblock at byte 1024) = 40: nonsense.
    const fd = openSync(broken, "r+");
    try {
      writeSync(fd, Buffer.from([40, 0, 0, 0]), 0, 4, 1024 + 24);
    } finally {
      closeSync(fd);
    }
    const d = run("ext4-debug", ["-R", "stats", broken]);
    expect(d.status).not.toBe(0);
    expect(d.stderr.toLowerCase()).toMatch(/superblock|block.size|checksum/);
    noStackTrace(d.stderr);
    const c = run("ext4-check", [broken]);
    expect(c.status).toBe(8); // as e2fsck -fn: no usable superblock
    noStackTrace(c.stderr);
  });

  it("a journal the kernel left needing recovery: raw by default, replayed with --replay, recovered by -w", () => {
    // Committed transactions not yet checkpointed: a snapshot of a live kernel mount.
    const dirty = join(dir, "dirty.img");
    execFileSync("mke2fs", ["-q", "-F", "-t", "ext4", dirty, "32M"]);
    const mnt = join(dir, "kmnt");
    execFileSync("mkdir", ["-p", mnt]);
    execFileSync("mount", ["-o", "loop", dirty, mnt]);
    let snapshot: Buffer;
    try {
      execFileSync("sh", ["-c", `mkdir ${mnt}/fresh && echo hello > ${mnt}/fresh/f && sync`]);
      snapshot = readFileSync(dirty);
    } finally {
      execFileSync("umount", [mnt]);
    }
    writeFileSync(dirty, snapshot);
    // As debugfs: the image as it is on disk.
    const raw = run("ext4-debug", ["-R", "cat /fresh/f", dirty]);
    const theirs = spawnSync("debugfs", ["-R", "cat /fresh/f", dirty], { encoding: "utf8" });
    expect(raw.stdout).toBe(theirs.stdout);
    // --replay: the recovered filesystem, in memory; the image is not written.
    const rep = run("ext4-debug", ["--replay", "-R", "cat /fresh/f", dirty]);
    expect(rep.status, rep.stderr).toBe(0);
    expect(rep.stdout).toBe("hello\n");
    expect(rep.stderr).toMatch(/journal recovered in memory: [1-9]\d* transactions/);
    expect(readFileSync(dirty).equals(snapshot)).toBe(true);
    const chk = run("ext4-check", ["--replay", dirty]);
    expect(chk.status, chk.stdout).toBe(0);
    // -w recovers on the image first, then e2fsck finds it clean.
    const w = run("ext4-debug", ["-w", "-R", "mkdir /after", dirty]);
    expect(w.status, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/journal recovered on the image/);
    const fsck = spawnSync("e2fsck", ["-fn", dirty], { encoding: "utf8" });
    expect(fsck.status, fsck.stdout).toBe(0);
    expect(run("ext4-debug", ["-R", "cat /fresh/f", dirty]).stdout).toBe("hello\n");
  });
});
