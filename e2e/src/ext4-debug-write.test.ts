/**
 * `ext4-debug -w` as a user runs it (bin/run.js, a real process) over the
 * feature matrix, judged by the real tools: a script that builds things
 * (files, directories, links, nodes, xattrs, preallocation, removals) must
 * leave an image `e2fsck -fn` passes and the real debugfs reads back as
 * written; a script of the commands that break things on purpose (sif,
 * ssv, set_bg, freeb/setb, freei/seti, clri, kill_file, copy_inode, ln,
 * unlink) must leave exactly what `debugfs -w` leaves when it runs the same
 * script on a copy of the same image.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { image, MATRIX, repoRoot } from "./support/images.js";
import { e2fsckN } from "./support/oracle.js";

const BIN = join(repoRoot, "packages/debugfs/bin/run.js");
let dir: string;
let copies = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ext4-debug-write-"));
  // bin/run.js runs the built dist/.
  execFileSync(
    process.execPath,
    [
      join(repoRoot, "node_modules/typescript/bin/tsc"),
      "-b",
      join(repoRoot, "packages/debugfs/tsconfig.json"),
    ],
    { stdio: "inherit" },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A private, sparse copy of a fixture image. */
function copyOf(src: string): string {
  const path = join(dir, `img-${copies++}.img`);
  execFileSync("cp", ["--sparse=always", src, path]);
  return path;
}

/** ext4-debug, spawned, with a scratch HOME so nothing touches the real one. */
function ext4Debug(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: "latin1",
    env: { ...process.env, TZ: "UTC", HOME: dir, XDG_CACHE_HOME: join(dir, "cache") },
    timeout: 120_000,
    maxBuffer: 1 << 28,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The real debugfs, read-only, one request (TZ=UTC). */
function debugfs(img: string, request: string): string {
  return execFileSync("debugfs", ["-R", request, img], {
    encoding: "latin1",
    stdio: ["ignore", "pipe", "ignore"],
    env: { ...process.env, TZ: "UTC" },
    maxBuffer: 1 << 28,
  });
}

function debugfsBytes(img: string, request: string): Buffer {
  return execFileSync("debugfs", ["-R", request, img], {
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
}

function dumpe2fs(img: string, header = false): string {
  return execFileSync("dumpe2fs", [...(header ? ["-h"] : []), img], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
    maxBuffer: 1 << 28,
  });
}

const inodeOf = (img: string, path: string): number =>
  Number(/Inode: (\d+)/.exec(debugfs(img, `stat ${path}`))?.[1]);

const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

/** A script file with one command per line. */
function script(lines: readonly string[]): string {
  const path = join(dir, `script-${copies++}.txt`);
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}

const SPECS = MATRIX.filter((s) =>
  ["ext4", "ext4-1k", "ext4-no64bit", "ext4-nocsum", "ext4-inline", "ext3", "ext2"].includes(
    s.name,
  ),
);

describe.each(SPECS)("ext4-debug -w on $name", (spec) => {
  it("builds files, directories, links, nodes and xattrs that e2fsck passes and debugfs reads back", () => {
    const img = copyOf(image(spec));
    const bs = Number(/Block size: +(\d+)/.exec(dumpe2fs(img, true))?.[1]);
    const data = Buffer.concat([
      Buffer.from("head of the file\n"),
      Buffer.alloc(200_000),
      createHash("sha512").update(spec.name).digest(),
      Buffer.alloc(40_000, 0x5a),
    ]);
    const dataPath = join(dir, `data-${spec.name}.bin`);
    writeFileSync(dataPath, data);
    const smallPath = join(dir, `small-${spec.name}.txt`);
    writeFileSync(smallPath, "small and plain\n");
    const holesPath = join(dir, `holes-${spec.name}.bin`);
    writeFileSync(holesPath, Buffer.alloc(16 * bs));
    const blobPath = join(dir, `blob-${spec.name}`);
    writeFileSync(blobPath, Buffer.from([0, 1, 2, 250, 251, 252]));
    const slow = `${"long/".repeat(16)}target`;
    const hardLinks = Number(/Links: (\d+)/.exec(debugfs(img, "stat /hard/b"))?.[1]);
    const r = ext4Debug([
      "-w",
      "-f",
      script([
        "mkdir /w",
        "mkdir /w/sub",
        `write ${dataPath} /w/data.bin`,
        `write ${smallPath} /w/small.txt`,
        `write ${holesPath} /w/holes.bin`,
        "cd /w",
        "symlink fast small.txt",
        `symlink slow ${slow}`,
        "mknod fifo p",
        "mknod chr c 1 3",
        "mknod blk b 8 1",
        "ea_set small.txt user.color blue",
        `ea_set -f ${blobPath} data.bin user.blob`,
        "ln small.txt sub/hard",
        "sif small.txt links_count 2",
        "fallocate holes.bin 0 7",
        "punch data.bin 1 2",
        "rm /files/f5-511",
        "rm /hard/a",
        "rmdir /files/sticky",
        "expand_dir sub",
        "ssv volume_name written",
      ]),
      img,
    ]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/debugfs: write .*\nAllocated inode: \d+\n/);
    const fsck = e2fsckN(img);
    expect(fsck.status, fsck.output).toBe(0);

    const expected = Buffer.from(data);
    expected.fill(0, bs, 3 * bs);
    expect(debugfsBytes(img, "cat /w/data.bin").equals(expected)).toBe(true);
    expect(debugfs(img, "stat /w/holes.bin")).toMatch(/Size: 16384\b|Size: 65536\b|Size: 32768\b/);
    const ls = debugfs(img, "ls -p /w");
    const small = inodeOf(img, "/w/small.txt");
    expect(ls).toContain(`/${small}/100644/0/0/small.txt/16/`);
    for (const n of ["sub", "data.bin", "holes.bin", "fast", "slow", "fifo", "chr", "blk"]) {
      expect(ls).toContain(`/${n}/`);
    }
    expect(debugfs(img, "ls -p /w/sub")).toContain(`/${small}/100644/0/0/hard/16/`);
    expect(debugfs(img, "stat /w/small.txt")).toMatch(/Links: 2 /);
    expect(debugfs(img, "stat /w/chr")).toContain("Device major/minor number: 01:03");
    expect(debugfs(img, "stat /w/blk")).toContain("Device major/minor number: 08:01");
    expect(debugfs(img, "stat /w/fast")).toContain('Fast link dest: "small.txt"');
    expect(debugfs(img, "cat /w/slow").startsWith(slow)).toBe(true);
    expect(debugfs(img, "ea_get /w/small.txt user.color")).toBe('user.color (4) = "blue"\n\n');
    expect(debugfsBytes(img, "ea_get -V /w/data.bin user.blob").subarray(0, 6)).toEqual(
      Buffer.from([0, 1, 2, 250, 251, 252]),
    );
    const holes = debugfs(img, "blocks /w/holes.bin").trim().split(/\s+/);
    expect(holes).toHaveLength(8);
    expect(debugfs(img, "ls -p /files")).not.toMatch(/\/f5-511\/|\/sticky\//);
    expect(debugfs(img, "ls -p /hard")).not.toContain("/a/");
    expect(debugfs(img, "stat /hard/b")).toContain(`Links: ${hardLinks - 1} `);
    const header = dumpe2fs(img, true);
    expect(header).toMatch(/Filesystem volume name: +written/);
    expect(header).toMatch(/Filesystem state: +clean/);
  });

  it("breaks what debugfs -w breaks, byte for byte", () => {
    const ours = copyOf(image(spec));
    const theirs = copyOf(image(spec));
    const ino = (p: string) => inodeOf(ours, p);
    const bitmapBlock = (p: string) => Number(debugfs(ours, `blocks ${p}`).trim().split(/\s+/)[0]);
    const freeBlock = Number(/Free blocks found: (\d+)/.exec(debugfs(ours, "ffb 1 3000"))?.[1]);
    const freeInode = Number(/Free inode found: (\d+)/.exec(debugfs(ours, "ffi"))?.[1]);
    const files = {
      f1: ino("/files/f1-1"),
      f2: ino("/files/f2-59"),
      f3: ino("/files/f3-60"),
      f4: ino("/files/f4-61"),
      f6: ino("/files/f6-1023"),
      f7: ino("/files/f7-1024"),
      f8: ino("/files/f8-1025"),
    };
    const f12 = bitmapBlock("/files/f12-12288");
    const killed = debugfs(ours, "blocks /files/f6-1023").trim().split(/\s+/).map(Number);
    const cmds = [
      "sif /files/f1-1 links_count 5",
      "sif /files/f1-1 mtime 20200102030405",
      "sif /files/f2-59 uid 0x12345",
      "sif /files/f2-59 generation 77",
      "ssv max_mnt_count 20",
      "ssv errors 3",
      "set_bg 0 itable_unused 0",
      "set_bg 0 checksum calc",
      `freeb ${f12} 2`,
      `setb ${freeBlock} 3`,
      `freei <${files.f3}>`,
      `seti <${freeInode}>`,
      "clri /files/f4-61",
      "kill_file /files/f6-1023",
      "copy_inode /files/f7-1024 /files/f8-1025",
      "unlink /hard/b",
      "ln /files/f9-4095 /deep/alias",
    ];
    const r = ext4Debug(["-w", "-f", script(cmds), ours]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    execFileSync("debugfs", ["-w", "-f", script(cmds), theirs], { stdio: "ignore" });

    const same = (request: string) =>
      expect(debugfs(ours, request), request).toBe(debugfs(theirs, request));
    for (const i of [files.f1, files.f2, files.f4, files.f8]) same(`id <${i}>`);
    same(`testb ${f12} 2`);
    same(`testb ${freeBlock} 3`);
    for (const b of killed) same(`testb ${b}`);
    for (const i of [files.f3, freeInode, files.f6]) same(`testi <${i}>`);
    same("ls -p /hard");
    same("ls -p /deep");
    const groups = (img: string) =>
      dumpe2fs(img)
        .split("\n")
        .filter((l) => /^Group \d|free blocks, |^(Maximum mount count|Errors behavior):/.test(l))
        .join("\n");
    expect(groups(ours)).toBe(groups(theirs));
    // The same damage, reported the same way.
    const damage = (img: string) => {
      const f = e2fsckN(img);
      return { status: f.status, output: f.output.replaceAll(img, "IMAGE") };
    };
    const a = damage(ours);
    expect(a.status).toBe(4);
    expect(a.output).toMatch(/Block bitmap differences/);
    expect(a.output).toMatch(/Inode bitmap differences/);
    expect(a).toEqual(damage(theirs));
  });
});

describe("ext4-debug -w, the command line", () => {
  it("refuses to write without -w, with one line and exit 1, and leaves the image as it was", () => {
    const img = copyOf(image(MATRIX[0]!));
    const before = sha(img);
    const r = ext4Debug(["-R", "mkdir /x", img]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(
      "mkdir: filesystem opened read-only; open it with -w (or `open -w`) to change it\n",
    );
    expect(sha(img)).toBe(before);
  });

  it("prints a write command's data with --json, and a failure as a JSON error", () => {
    const img = copyOf(image(MATRIX[0]!));
    const ok = ext4Debug(["-w", "--json", "-R", "mknod /pipe p", img]);
    expect(ok.status).toBe(0);
    const data = JSON.parse(ok.stdout) as { inode: number };
    expect(debugfs(img, `stat <${data.inode}>`)).toContain("Type: FIFO");
    const bad = ext4Debug(["-w", "--json", "-R", "mkdir /files", img]);
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({
      error: { code: "EXISTS", message: "mkdir: Ext2 directory already exists" },
    });
    expect(e2fsckN(img).status).toBe(0);
  });

  it("ends a -f script with status 1 when a command failed, keeping what the others did", () => {
    const img = copyOf(image(MATRIX[0]!));
    const r = ext4Debug([
      "-w",
      "-f",
      script(["mkdir /one", "rmdir /files", "mkdir /two", "freeb 0"]),
      img,
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("rmdir: directory not empty\nfreeb: Invalid block number 0\n");
    expect(debugfs(img, "ls -p /")).toMatch(/\/one\/[\s\S]*\/two\//);
    expect(e2fsckN(img).status).toBe(0);
  });
});
