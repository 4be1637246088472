import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { type CliIo, type CliOptions, runCli } from "./cli/main.js";
import { Session } from "./session.js";
import { buildTree, mkfs, scratchDir, type Tree } from "./test-support/images.js";

process.env.TZ = "UTC";

let tree: Tree;
let image: string;

beforeAll(() => {
  tree = buildTree({ bigDirEntries: 10, devices: false });
  image = mkfs({ from: tree.root });
});

/** Runs the CLI in-process and collects what it prints. */
async function cli(
  options: CliOptions,
  stdin = "",
): Promise<{ status: number; stdout: string; stderr: string }> {
  const out: Buffer[] = [];
  let stderr = "";
  const io: CliIo = {
    stdout: (c) => out.push(typeof c === "string" ? Buffer.from(c, "latin1") : Buffer.from(c)),
    stderr: (t) => {
      stderr += t;
    },
    readStdin: () => stdin,
  };
  const status = await runCli(options, io);
  return { status, stdout: Buffer.concat(out).toString("utf8"), stderr };
}

describe("Session dispatch", () => {
  it("answers a blank line with nothing", () => {
    const s = new Session();
    const r = s.run("   ");
    expect(r).toMatchObject({ ok: true, command: null, text: "", stderr: "" });
  });

  it("reports an unknown command the way ss does", () => {
    const r = new Session().run("bogus arg");
    expect(r.ok).toBe(false);
    expect(r.error?.code).toBe("NOT_FOUND");
    expect(r.stderr).toBe("debugfs: Command not found bogus\n");
  });

  it("reports an unbalanced quote", () => {
    const r = new Session().run('stat "/x');
    expect(r.ok).toBe(false);
    expect(r.stderr).toBe("debugfs: Unbalanced quotes in command line\n");
  });

  it("needs an open filesystem for filesystem commands", () => {
    const r = new Session().run("stat /");
    expect(r.ok).toBe(false);
    expect(r.stderr).toBe("stat: Filesystem not open\n");
  });

  it("answers fs-less commands without an image", () => {
    const s = new Session();
    expect(s.run("params").text).toBe("Filesystem in use: --none--\n");
    const help = s.run("help");
    expect(help.ok).toBe(true);
    expect(help.text).toContain("show_inode_info, stat    Show inode information");
    expect(help.text).toContain("list_directory, ls       List directory");
    expect(s.run("lr").text).toBe(help.text);
    expect(s.run("q").quit).toBe(true);
  });

  it("resolves aliases to the canonical command", () => {
    const s = new Session();
    s.openImage(image);
    try {
      expect(s.run("stat /").command).toBe("show_inode_info");
      expect(s.run("show_inode_info /").text).toBe(s.run("stat /").text);
      expect(s.run("ex /large.bin").command).toBe("dump_extents");
    } finally {
      s.dispose();
    }
  });

  it("prints usage errors in debugfs's shape", () => {
    const s = new Session();
    s.openImage(image);
    try {
      const r = s.run("stat");
      expect(r.ok).toBe(false);
      expect(r.error?.code).toBe("USAGE");
      expect(r.stderr).toBe("stat: Usage: stat <file>\n");
      expect(s.run("ls -z").stderr).toBe("Usage: ls [-c] [-d] [-l] [-p] [-r] file\n");
    } finally {
      s.dispose();
    }
  });

  it("takes <N> and paths, relative to the current directory", () => {
    const s = new Session();
    s.openImage(image);
    try {
      expect(s.run("stat <2>").text).toBe(s.run("stat /").text);
      expect(s.run("cd /dir").ok).toBe(true);
      expect(s.run("pwd").text).toMatch(
        /^\[pwd\] {3}INODE: +\d+ {2}PATH: \/dir\n\[root\] {2}INODE: +2 {2}PATH: \/\n$/,
      );
      expect(s.run("stat nested/deep.txt").text).toBe(s.run("stat /dir/nested/deep.txt").text);
      expect(s.run("stat ../small.txt").text).toBe(s.run("stat /small.txt").text);
      const missing = s.run("stat nope");
      expect(missing.ok).toBe(false);
      expect(missing.stderr).toBe("nope: File not found by ext2_lookup\n");
      const notDir = s.run("cd /small.txt");
      expect(notDir.stderr).toBe("/small.txt: Ext2 inode is not a directory\n");
    } finally {
      s.dispose();
    }
  });

  it("opens and closes images as commands, one at a time", () => {
    const s = new Session();
    expect(s.run(`open ${image}`).ok).toBe(true);
    expect(s.run("params").text).toBe(`Open mode: read-only\nFilesystem in use: ${image}\n`);
    const again = s.run(`open ${image}`);
    expect(again.ok).toBe(false);
    expect(again.stderr).toBe(`open: Filesystem ${image} is still open.  Close it first.\n`);
    expect(s.run("close").ok).toBe(true);
    expect(s.run("close").stderr).toBe("close: Filesystem not open\n");
  });

  it("keeps output and failure apart: ls of a file prints the newline, then fails", () => {
    const s = new Session();
    s.openImage(image);
    try {
      const r = s.run("ls /small.txt");
      expect(r.ok).toBe(false);
      expect(r.text).toBe("\n");
      expect(r.stderr).toBe("/small.txt: Ext2 inode is not a directory\n");
    } finally {
      s.dispose();
    }
  });

  it("streams cat output in chunks of bytes", () => {
    const s = new Session();
    s.openImage(image);
    try {
      const chunks: Array<string | Uint8Array> = [];
      const r = s.execute("cat /large.bin", { stdout: (c) => chunks.push(c), stderr: () => {} });
      expect(r.ok).toBe(true);
      const all = Buffer.concat(
        chunks.map((c) => (typeof c === "string" ? Buffer.from(c, "latin1") : Buffer.from(c))),
      );
      expect(all.equals(tree.files.find((f) => f.path === "large.bin")!.data)).toBe(true);
    } finally {
      s.dispose();
    }
  });
});

describe("runCli", () => {
  it("-R runs one request: exit 0 on success", async () => {
    const r = await cli({ image, request: "stat /small.txt" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Inode: \d+ {3}Type: regular/);
    expect(r.stderr).toBe("");
  });

  it("-R exits 1 when the request fails, with one stderr line", async () => {
    const r = await cli({ image, request: "stat /nope" });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe("/nope: File not found by ext2_lookup\n");
    expect((await cli({ image, request: "bogus" })).status).toBe(1);
  });

  it("--json prints the command's data", async () => {
    const r = await cli({ image, request: "stat /small.txt", json: true });
    expect(r.status).toBe(0);
    const data = JSON.parse(r.stdout);
    expect(data).toMatchObject({ type: "regular", size: 12, links: 1 });
    expect(data.xattrs.map((x: { name: string }) => x.name).sort()).toEqual([
      "user.binary",
      "user.short",
    ]);
    const ls = JSON.parse((await cli({ image, request: "ls -l /dir", json: true })).stdout);
    expect(ls.entries.map((e: { name: string }) => e.name).sort()).toEqual([
      ".",
      "..",
      "mode-0600",
      "nested",
    ]);
    const bad = await cli({ image, request: "stat /nope", json: true });
    expect(bad.status).toBe(1);
    expect(JSON.parse(bad.stdout)).toEqual({
      error: { code: "PATH_NOT_FOUND", message: "/nope: File not found by ext2_lookup" },
    });
  });

  it("-f echoes each request like debugfs and exits 1 if any failed", async () => {
    const script = join(scratchDir(), "script.txt");
    writeFileSync(script, "# a comment\nstat /empty\n\nbogus\npwd\n");
    const r = await cli({ image, script });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^# a comment\ndebugfs: stat \/empty\nInode: /);
    expect(r.stdout).toContain("\ndebugfs: \ndebugfs: bogus\ndebugfs: pwd\n[pwd]");
    expect(r.stderr).toBe("debugfs: Command not found bogus\n");
    // As in debugfs, quit does not end a script.
    writeFileSync(script, "stat /empty\nquit\npwd\n");
    const q = await cli({ image, script });
    expect(q.status).toBe(0);
    expect(q.stdout).toContain("debugfs: quit\ndebugfs: pwd\n[pwd]");
  });

  it("-f - reads the script from stdin; --json prints one record per request", async () => {
    const r = await cli({ image, script: "-", json: true }, "testi <2>\nstat /nope\n");
    expect(r.status).toBe(1);
    const lines = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toEqual([
      { line: "testi <2>", command: "testi", ok: true, data: { inode: 2, inUse: true } },
      {
        line: "stat /nope",
        command: "show_inode_info",
        ok: false,
        error: { code: "PATH_NOT_FOUND", message: "/nope: File not found by ext2_lookup" },
      },
    ]);
  });

  it("a missing image or a file that is not ext2/3/4 fails with one line", async () => {
    const missing = await cli({ image: "/nonexistent/img", request: "stats" });
    expect(missing.status).toBe(1);
    expect(missing.stderr.split("\n")).toHaveLength(2);
    expect(missing.stderr).toBe("/nonexistent/img: No such file or directory (ENOENT)\n");
    const junk = join(scratchDir(), "junk.img");
    writeFileSync(junk, Buffer.alloc(1 << 20, 0x41));
    const r = await cli({ image: junk, request: "stats" });
    expect(r.status).toBe(1);
    expect(r.stderr.split("\n")).toHaveLength(2);
    expect(r.stderr).toContain("magic");
  });

  it("-c (catastrophic mode) says so and refuses only what needs the bitmaps", async () => {
    const r = await cli({ image, request: "testb 1", catastrophic: true });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe(
      `${image}: catastrophic mode - not reading inode or group bitmaps\ntestb: Filesystem bitmaps not loaded\n`,
    );
    const ok = await cli({ image, request: "stat /small.txt", catastrophic: true });
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^Inode: /);
  });

  it("--offset opens a filesystem inside a larger image", async () => {
    const { execFileSync } = await import("node:child_process");
    const big = join(scratchDir(), "partitioned.img");
    execFileSync("sh", [
      "-c",
      `dd if=/dev/zero bs=1024 count=64 of=${big} 2>/dev/null && cat ${image} >> ${big}`,
    ]);
    const inner = await cli({ image, request: "stat /small.txt" });
    const r = await cli({ image: big, request: "stat /small.txt", offset: 65536 });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(inner.stdout);
    expect((await cli({ image: big, request: "stats", offset: 1 << 40 })).status).toBe(1);
  });
});
