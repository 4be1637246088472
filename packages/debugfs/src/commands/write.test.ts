/**
 * The write commands through the Session (as -R / -f run them), judged by
 * the real tools: e2fsck -fn on what they leave, the real debugfs reading
 * it back, and — for the commands whose purpose is to break something —
 * the same command run by `debugfs -w` on a copy of the image.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliIo, runCli } from "../cli/main.js";
import { Session } from "../session.js";
import {
  buildTree,
  debugfsRequest,
  debugfsWrite,
  mkfs,
  scratchDir,
  type Tree,
  VARIANTS,
} from "../test-support/images.js";

process.env.TZ = "UTC";

let tree: Tree;
let copies = 0;
const templates = new Map<string, string>();

beforeAll(() => {
  tree = buildTree({ bigDirEntries: 20, devices: false });
});

/** A fresh copy of the populated image of variant `name`. */
function image(name: string): string {
  let tpl = templates.get(name);
  if (tpl === undefined) {
    // OK to assert: names come from VARIANTS.
    const v = VARIANTS.find((x) => x.name === name)!;
    tpl = mkfs({ type: v.type, args: v.args, from: tree.root, size: 24 << 20 });
    templates.set(name, tpl);
  }
  const path = join(scratchDir(), `write-${process.pid}-${copies++}.img`);
  copyFileSync(tpl, path);
  return path;
}

/** Runs `lines` in a writable session; returns each outcome. The image is closed (and flushed) after. */
function session(img: string, lines: readonly string[]) {
  const s = new Session({ hostCwd: scratchDir() });
  s.openImage(img, { writable: true });
  try {
    return lines.map((l) => s.run(l));
  } finally {
    s.closeImage("test");
  }
}

function fsck(img: string): { status: number; output: string } {
  try {
    return {
      status: 0,
      output: execFileSync("e2fsck", ["-fn", img], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      }),
    };
  } catch (e) {
    const err = e as { status?: number; stdout?: string };
    return { status: err.status ?? -1, output: err.stdout ?? "" };
  }
}

function expectClean(img: string): void {
  const r = fsck(img);
  expect(r.status, r.output).toBe(0);
}

const oracle = (img: string, req: string) => debugfsRequest(img, req).toString("latin1");

const host = (name: string, data: Buffer): string => {
  const p = join(scratchDir(), name);
  writeFileSync(p, data);
  return p;
};

describe("without -w", () => {
  it("every write command fails with one clear line and changes nothing", () => {
    const img = image("ext4");
    const before = execFileSync("sha256sum", [img], { encoding: "utf8" }).split(" ")[0];
    const s = new Session();
    s.openImage(img);
    try {
      for (const line of [
        "mkdir /x",
        "write /etc/hostname /x",
        "rm /small.txt",
        "rmdir /dir",
        "ln /small.txt /x",
        "unlink /small.txt",
        "symlink /x y",
        "mknod /x p",
        "copy_inode <12> <13>",
        "clri <12>",
        "kill_file <12>",
        "freei <12>",
        "seti <12>",
        "freeb 100",
        "setb 100",
        "expand_dir /dir",
        "punch /small.txt 0",
        "fallocate /small.txt 0 1",
        "sif /small.txt mode 0100600",
        "ssv mnt_count 3",
        "set_bg 0 flags 0",
        "ea_set /small.txt user.x y",
        "ea_rm /small.txt user.short",
        "dirty",
      ]) {
        const r = s.run(line);
        expect(r.ok, line).toBe(false);
        expect(r.error?.code, line).toBe("READ_ONLY");
        expect(r.stderr, line).toMatch(/^\S+: filesystem opened read-only; open it with -w/);
      }
      expect(s.run("params").text).toContain("Open mode: read-only");
    } finally {
      s.dispose();
    }
    expect(execFileSync("sha256sum", [img], { encoding: "utf8" }).split(" ")[0]).toBe(before);
  });
});

describe.each(["ext4", "ext4-1k", "ext4-inline", "ext3", "ext2"])(
  "write commands on %s",
  (name) => {
    it("make files, directories, links and nodes e2fsck accepts and debugfs reads back", () => {
      const img = image(name);
      const data = Buffer.concat([
        Buffer.from("head\n"),
        Buffer.alloc(300_000),
        Buffer.from("tail\n"),
      ]);
      const src = host(`src-${name}.bin`, data);
      const small = host(`small-${name}.txt`, Buffer.from("tiny\n"));
      const long = "t/".repeat(40);
      const out = session(img, [
        "mkdir /new",
        "mkdir new/sub",
        `write ${src} /new/big.bin`,
        `write small-${name}.txt /new/small.txt`,
        "cd /new",
        "symlink fast small.txt",
        `symlink slow ${long}`,
        "mknod fifo p",
        "mknod tty c 4 64",
        "mknod disk b 300 1000",
        'ea_set small.txt user.note "two\\nlines"',
        `ea_set -f ${small} big.bin user.file`,
        "ea_set small.txt user.gone x",
        "ea_rm small.txt user.gone",
        "rm /small.txt",
        "rm /dir/nested/deep.txt",
        "rmdir /dir/nested/../nested",
        "expand_dir /new/sub",
      ]);
      for (const r of out) expect(r.ok, `${r.line}: ${r.stderr}`).toBe(true);
      expect(out[2]!.text).toMatch(/^Allocated inode: \d+\n$/);
      expect(out[14]!.text).toBe("\n");
      expectClean(img);
      expect(debugfsRequest(img, "cat /new/big.bin").equals(data)).toBe(true);
      // debugfs's cat prints all 60 bytes of inline data: compare up to i_size.
      expect(oracle(img, "stat /new/small.txt")).toMatch(/Size: 5\b/);
      expect(oracle(img, "cat /new/small.txt").slice(0, 5)).toBe("tiny\n");
      // Whole zero blocks of the source stay holes.
      const blocks = oracle(img, "blocks /new/big.bin").trim().split(/\s+/);
      expect(blocks.length).toBeLessThan(300_000 / 1024);
      const ls = oracle(img, "ls -p /new");
      for (const n of ["sub", "big.bin", "small.txt", "fast", "slow", "fifo", "tty", "disk"]) {
        expect(ls).toContain(`/${n}/`);
      }
      expect(oracle(img, "stat /new/tty")).toContain("Device major/minor number: 04:64");
      expect(oracle(img, "stat /new/disk")).toContain(
        "(New-style) Device major/minor number: 300:1000",
      );
      expect(oracle(img, "stat /new/fast")).toContain('Fast link dest: "small.txt"');
      expect(oracle(img, "stat /new/slow")).toMatch(/Size: 80\b/);
      expect(oracle(img, "ea_get /new/small.txt user.note")).toBe(
        'user.note (9) = "two\\nlines"\n\n',
      );
      expect(oracle(img, "ea_get -V /new/big.bin user.file")).toBe("tiny\n\n");
      expect(oracle(img, "ea_list /new/small.txt")).not.toContain("user.gone");
      expect(oracle(img, "ls -p /")).not.toContain("/small.txt/");
      expect(oracle(img, "ls -p /dir")).not.toContain("/nested/");
    });

    it("refuses what debugfs gets wrong or cannot do, leaving the image clean", () => {
      const img = image(name);
      const out = session(img, [
        "mkdir /dir",
        "write /no/such/file /x",
        "write /etc/hostname /small.txt",
        "mknod /small.txt p",
        "mknod /m c 1",
        "mknod /m c 1 70000",
        "mknod /m q",
        "symlink /small.txt x",
        "rm /dir",
        "rmdir /dir",
        "rmdir /small.txt",
        "rm /nothing",
        "ln /small.txt /small.txt",
        "unlink /nothing",
        "ea_rm /small.txt user.nothing",
        "ea_set /small.txt",
        "mkdir /no/such/dir",
      ]);
      const lines = out.map((r) => r.stderr.trimEnd());
      for (const r of out) expect(r.ok, r.line).toBe(false);
      expect(lines).toEqual([
        "mkdir: Ext2 directory already exists",
        'write: No such file or directory while opening "/no/such/file" to copy',
        "write: Ext2 file already exists",
        "mknod: Ext2 file already exists",
        "mknod: Usage: mknod <name> [p| [c|b] <major> <minor>]",
        "mknod: Usage: mknod <name> [p| [c|b] <major> <minor>]",
        "mknod: Usage: mknod <name> [p| [c|b] <major> <minor>]",
        "symlink: Ext2 file already exists",
        "rm: file is a directory",
        "rmdir: directory not empty",
        "rmdir: file is not a directory",
        "rm: File not found by ext2_lookup while trying to resolve filename",
        "ln: Ext2 inode is not a directory",
        "unlink: File not found by ext2_lookup",
        expect.stringMatching(
          /^ea_rm: no attribute user\.nothing .*while removing extended attribute/,
        ),
        "ea_set: Usage: ea_set [-f infile] [-r] <file> <attr> [<value>]",
        "/no/such: File not found by ext2_lookup",
      ]);
      expectClean(img);
    });

    it("breaks what debugfs -w breaks, the same way", () => {
      const img = image(name);
      const theirs = join(scratchDir(), `theirs-${copies++}.img`);
      copyFileSync(img, theirs);
      const inode = (p: string) => Number(/Inode: (\d+)/.exec(oracle(img, `stat ${p}`))?.[1]);
      const medium = inode("/medium.bin");
      const small = inode("/small.txt");
      const deep = inode("/dir/nested/deep.txt");
      const free = Number(/Free blocks found: (\d+)/.exec(oracle(img, "ffb 1 500"))?.[1]);
      const blocks = oracle(img, `blocks <${medium}>`).trim().split(/\s+/).map(Number);
      const cmds = [
        "ln /small.txt /dir/alias",
        "unlink /name with spaces",
        `kill_file <${medium}>`,
        `clri <${deep}>`,
        `copy_inode <${small}> <${deep}>`,
        `freeb ${free - 0} 1`,
        `setb ${free}`,
        `freei <${small}>`,
        `sif <${small}> links_count 9`,
        "ssv max_mnt_count 7",
        "set_bg 0 itable_unused 3",
      ].map((c) => c.replace("unlink /name with spaces", 'unlink "/name with spaces"'));
      const ours = session(img, cmds);
      for (const r of ours) expect(r.ok, `${r.line}: ${r.stderr}`).toBe(true);
      debugfsWrite(theirs, cmds);
      for (const req of [
        `id <${small}>`,
        `id <${deep}>`,
        `testi <${medium}>`,
        `testi <${small}>`,
        `testb ${free} 2`,
        ...blocks.slice(0, 8).map((b) => `testb ${b}`),
        "ls -p /dir",
        "ls -p /",
      ]) {
        expect(oracle(img, req), req).toBe(oracle(theirs, req));
      }
      const groups = (i: string) =>
        execFileSync("dumpe2fs", [i], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] })
          .split("\n")
          .filter((l) => /free blocks, |unused inodes|Maximum mount count/.test(l))
          .join("\n");
      expect(groups(img)).toBe(groups(theirs));
      const p = fsck(img);
      expect(p.status).toBe(4);
      expect(p.output).toMatch(/Block bitmap differences/);
    });

    it("punch and fallocate change the block map, not the size", () => {
      const img = image(name);
      const out = session(img, [
        "punch /large.bin 2 5",
        "truncate /medium.bin 10",
        "fallocate /medium.bin 3 4",
        "stat /large.bin",
      ]);
      for (const r of out) expect(r.ok, `${r.line}: ${r.stderr}`).toBe(true);
      expect(oracle(img, "stat /large.bin")).toMatch(/Size: 300000\b/);
      expect(oracle(img, "bmap /large.bin 3").trim()).toBe("0");
      expect(oracle(img, "bmap /medium.bin 3").trim()).not.toBe("0");
      expectClean(img);
    });
  },
);

describe("ext4-debug -w", () => {
  async function cli(args: {
    image: string;
    request?: string;
    script?: string;
    writable?: boolean;
  }) {
    let stdout = "";
    let stderr = "";
    const io: CliIo = {
      stdout: (c) => {
        stdout += typeof c === "string" ? c : Buffer.from(c).toString("latin1");
      },
      stderr: (t) => {
        stderr += t;
      },
      readStdin: () => "",
    };
    const status = await runCli(args, io);
    return { status, stdout, stderr };
  }

  it("writes, marks the image clean at exit, and exits 1 when any command failed", async () => {
    const img = image("ext4");
    const script = join(scratchDir(), "script.txt");
    writeFileSync(script, "mkdir /a\nmkdir /a\nsymlink /a/l target\n");
    const r = await cli({ image: img, script, writable: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe("mkdir: Ext2 directory already exists\n");
    expect(r.stdout).toBe("debugfs: mkdir /a\ndebugfs: mkdir /a\ndebugfs: symlink /a/l target\n");
    const h = execFileSync("dumpe2fs", ["-h", img], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    expect(h).toMatch(/Filesystem state: +clean/);
    expectClean(img);
    expect(oracle(img, "stat /a/l")).toContain('Fast link dest: "target"');
  });

  it("dirty leaves the image not clean; dirty -clean marks it clean", async () => {
    const img = image("ext4");
    const state = () =>
      /Filesystem state: +(.*)/.exec(
        execFileSync("dumpe2fs", ["-h", img], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "ignore"],
        }),
      )?.[1];
    expect((await cli({ image: img, request: "dirty", writable: true })).status).toBe(0);
    expect(state()).toBe("not clean");
    expect((await cli({ image: img, request: "dirty -clean", writable: true })).status).toBe(0);
    expect(state()).toBe("clean");
    const bad = await cli({ image: img, request: "dirty -x", writable: true });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("dirty: Usage: dirty [-clean]\n");
  });

  it("open -w in the shell; params says read-write", () => {
    const img = image("ext2");
    const s = new Session();
    try {
      expect(s.run(`open -w ${img}`).ok).toBe(true);
      expect(s.run("params").text).toBe(`Open mode: read-write\nFilesystem in use: ${img}\n`);
      expect(s.run("mkdir /from-shell").ok).toBe(true);
      expect(s.run("close").ok).toBe(true);
    } finally {
      s.dispose();
    }
    expectClean(img);
    expect(oracle(img, "ls -p /")).toContain("/from-shell/");
  });

  it("a -w open that cannot write says why, and write commands say it again", () => {
    const img = mkfs({ size: 64 << 20, args: ["-O", "quota"] });
    const warnings: string[] = [];
    const s = new Session({ onWarning: (l) => warnings.push(l) });
    try {
      s.openImage(img, { writable: true });
      expect(warnings.join("")).toMatch(/opened read-only: .*quota/);
      const r = s.run("mkdir /x");
      expect(r.ok).toBe(false);
      expect(r.stderr).toMatch(/^mkdir: filesystem opened read-only: .*quota/);
    } finally {
      s.dispose();
    }
  });
});
