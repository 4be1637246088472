import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { Session } from "../session.js";
import { buildTree, mkfs, scratchDir, type Tree } from "../test-support/images.js";
import { safeName } from "./dump.js";

let tree: Tree;
let image: string;
const outs: string[] = [];
let outCounter = 0;
const isRoot = process.getuid?.() === 0;

beforeAll(() => {
  tree = buildTree({ bigDirEntries: 30 });
  // A set-uid program and a sticky directory: restored only with -p -S.
  writeFileSync(join(tree.root, "setuid-prog"), "#!/bin/sh\n");
  chmodSync(join(tree.root, "setuid-prog"), 0o4755);
  mkdirSync(join(tree.root, "sticky"));
  chmodSync(join(tree.root, "sticky"), 0o1777);
  execFileSync("touch", [
    "-h",
    "-d",
    "@1400000000",
    join(tree.root, "setuid-prog"),
    join(tree.root, "sticky"),
    tree.root,
  ]);
  image = mkfs({ from: tree.root, size: 32 * 1024 * 1024 });
});

afterEach(() => {
  for (const o of outs.splice(0)) rmSync(o, { recursive: true, force: true });
});

function outDir(): string {
  const d = join(scratchDir(), `rdump-${process.pid}-${outCounter++}`);
  mkdirSync(d);
  outs.push(d);
  return d;
}

/** getfattr's view of a path's attributes (names and hex values), "" when none. */
function xattrsOf(path: string): string {
  const out = execFileSync(
    "getfattr",
    ["-h", "-d", "-m", "-", "-e", "hex", "--absolute-names", path],
    {
      encoding: "utf8",
    },
  );
  return out
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("# file:"))
    .sort()
    .join("\n");
}

function withSession<T>(fn: (s: Session) => T): T {
  const s = new Session();
  s.openImage(image);
  try {
    return fn(s);
  } finally {
    s.dispose();
  }
}

describe("rdump", () => {
  it("reproduces the tree mke2fs -d was given: contents, modes, owners, times, xattrs, links", () => {
    const out = outDir();
    const r = withSession((s) => s.run(`rdump / ${out}`));
    // Device nodes are left out without -p -S: a warning, not a failure.
    expect(r.ok, r.stderr).toBe(true);
    expect(r.stderr).toContain("device node not created (needs -p -S)");
    expect(r.data).toMatchObject({
      target: out,
      skipped: [{ reason: expect.any(String) }, { reason: expect.any(String) }],
    });
    const atimes = withSession((s) => {
      const m = new Map<string, number>();
      for (const p of tree.paths) {
        const d = s.run(`stat "/${p.replaceAll('"', '""')}"`).data as {
          atime: { seconds: number };
        };
        m.set(p, d.atime.seconds);
      }
      return m;
    });
    const all = [...tree.paths, "setuid-prog", "sticky"].filter(
      (p) => p !== "char-dev" && p !== "block-dev",
    );
    // Every stat before any content is read: reading updates access times.
    const stats = new Map(
      all.map((p) => [p, { src: lstatSync(join(tree.root, p)), dst: lstatSync(join(out, p)) }]),
    );
    for (const p of all) {
      const { src, dst } = stats.get(p)!;
      expect(dst.mode & 0o170000, p).toBe(src.mode & 0o170000);
      expect(dst.mode & 0o777, p).toBe(src.mode & 0o777);
      // Without -S no set-uid, set-gid or sticky bit comes out of an untrusted image.
      expect(dst.mode & 0o7000, p).toBe(0);
      if (isRoot) {
        expect(dst.uid, p).toBe(src.uid);
        expect(dst.gid, p).toBe(src.gid);
      }
      expect(Math.floor(dst.mtimeMs / 1000), p).toBe(Math.floor(src.mtimeMs / 1000));
      if (atimes.has(p) && !src.isSymbolicLink()) {
        expect(Math.floor(dst.atimeMs / 1000), p).toBe(atimes.get(p));
      }
      if (src.isSymbolicLink())
        expect(readlinkSync(join(out, p)), p).toBe(readlinkSync(join(tree.root, p)));
      if (src.isFile()) {
        expect(readFileSync(join(out, p)).equals(readFileSync(join(tree.root, p))), p).toBe(true);
        expect(xattrsOf(join(out, p)), p).toBe(xattrsOf(join(tree.root, p)));
      }
      if (src.isDirectory()) expect(xattrsOf(join(out, p)), p).toBe(xattrsOf(join(tree.root, p)));
    }
    // Hard links stay hard links; the sparse file stays sparse.
    expect(lstatSync(join(out, "hard-link")).ino).toBe(lstatSync(join(out, "medium.bin")).ino);
    expect(lstatSync(join(out, "sparse.bin")).blocks * 512).toBeLessThan(1 << 20);
    // The top directory takes the root inode's mode and times (mke2fs made the root itself).
    const root = withSession((s) => s.run("stat /").data) as {
      mode: number;
      mtime: { seconds: number };
    };
    expect(Math.floor(lstatSync(out).mtimeMs / 1000)).toBe(root.mtime.seconds);
    expect(lstatSync(out).mode & 0o777).toBe(root.mode & 0o777);
  });

  it("gives every entry its own mode and owner whatever creation would give it", () => {
    // rdump creates files with their final mode and skips the chown when creation already got
    // them right; a umask, a default ACL or a set-gid target each change what creation gives.
    const out = outDir();
    execFileSync("setfacl", ["-d", "-m", "u::rwx,g::r-x,o::---", out]);
    if (isRoot) {
      chownSync(out, 0, 4321);
      chmodSync(out, 0o2775);
    }
    const umask = process.umask(0o027);
    let r: ReturnType<Session["run"]>;
    try {
      r = withSession((s) => s.run(`rdump / ${out}`));
    } finally {
      process.umask(umask);
    }
    expect(r.ok, r.stderr).toBe(true);
    // Every entry of the source (tree.paths leaves out most of the big directory).
    const all = readdirSync(tree.root, { recursive: true, encoding: "utf8" }).filter(
      (p) => p !== "char-dev" && p !== "block-dev",
    );
    expect(all.length).toBeGreaterThan(tree.paths.length);
    for (const p of all) {
      const src = lstatSync(join(tree.root, p));
      const dst = lstatSync(join(out, p));
      if (!src.isSymbolicLink()) expect(dst.mode & 0o7777, p).toBe(src.mode & 0o777);
      if (isRoot) {
        expect(dst.uid, p).toBe(src.uid);
        expect(dst.gid, p).toBe(src.gid);
      }
      if (src.isFile())
        expect(readFileSync(join(out, p)).equals(readFileSync(join(tree.root, p))), p).toBe(true);
    }
  });

  it("comes back to each directory after the subdirectories in it, across directory blocks", () => {
    // Subdirectories between files, over many 1 KiB directory blocks, nested three deep: the
    // walk keeps only the top directory's iterator and resumes the others by position.
    const src = join(scratchDir(), `wide-${process.pid}-${outCounter}`);
    mkdirSync(src);
    outs.push(src);
    for (let i = 0; i < 90; i++) {
      const name = `an-entry-with-a-name-long-enough-to-fill-blocks-${String(i).padStart(3, "0")}`;
      if (i % 3 === 0) {
        mkdirSync(join(src, name, "sub"), { recursive: true });
        writeFileSync(join(src, name, "inner"), `inner ${i}\n`);
        writeFileSync(join(src, name, "sub", "leaf"), `leaf ${i}\n`);
      } else {
        writeFileSync(join(src, name), `file ${i}\n`);
      }
    }
    const img = mkfs({ from: src, args: ["-b", "1024"] });
    const out = outDir();
    const s = new Session();
    s.openImage(img);
    try {
      // The directory spans several blocks, so resuming crosses block boundaries.
      expect((s.run("stat /").data as { size: number }).size).toBeGreaterThan(4 * 1024);
      const r = s.run(`rdump / ${out}`);
      expect(r.ok, r.stderr).toBe(true);
    } finally {
      s.dispose();
    }
    const list = (root: string): string[] =>
      readdirSync(root, { recursive: true, encoding: "utf8" })
        .filter((p) => p !== "lost+found")
        .sort();
    expect(list(out)).toEqual(list(src));
    for (const p of list(src)) {
      if (lstatSync(join(src, p)).isFile())
        expect(readFileSync(join(out, p), "utf8"), p).toBe(readFileSync(join(src, p), "utf8"));
    }
  });

  it("restores set-uid/sticky bits and device nodes only with -p -S", () => {
    const out = outDir();
    const r = withSession((s) => s.run(`rdump -p -S / ${out}`));
    expect(r.ok, r.stderr).toBe(true);
    expect(lstatSync(join(out, "setuid-prog")).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(out, "sticky")).mode & 0o7777).toBe(0o1777);
    if (isRoot) {
      const dev = lstatSync(join(out, "block-dev"));
      expect(dev.isBlockDevice()).toBe(true);
      expect(dev.rdev).toBe(lstatSync(join(tree.root, "block-dev")).rdev);
      expect(lstatSync(join(out, "char-dev")).isCharacterDevice()).toBe(true);
    }
    expect(withSession((s) => s.run(`rdump -S / ${outDir()}`)).stderr).toBe("rdump: -S needs -p\n");
  });

  it("dumps a named directory under its own name, and refuses a non-directory target", () => {
    const out = outDir();
    withSession((s) => {
      expect(s.run(`rdump /dir ${out}`).ok).toBe(true);
      expect(readFileSync(join(out, "dir/nested/deep.txt"), "utf8")).toBe("deep\n");
      const bad = s.run(`rdump /dir ${join(out, "dir/nested/deep.txt")}`);
      expect(bad.ok).toBe(false);
      expect(bad.stderr).toMatch(/is not a directory/);
    });
  });

  it("never writes over what is already there", () => {
    const out = outDir();
    writeFileSync(join(out, "small.txt"), "mine\n");
    const r = withSession((s) => s.run(`rdump / ${out}`));
    expect(r.ok).toBe(false);
    expect(readFileSync(join(out, "small.txt"), "utf8")).toBe("mine\n");
  });
});

describe("dump", () => {
  it("writes the contents; -p adds mode, owner and times", () => {
    const out = outDir();
    withSession((s) => {
      expect(s.run(`dump /dir/mode-0600 ${join(out, "plain")}`).ok).toBe(true);
      expect(readFileSync(join(out, "plain"), "utf8")).toBe("private\n");
      expect(s.run(`dump -p /dir/mode-0600 ${join(out, "kept")}`).ok).toBe(true);
      const st = lstatSync(join(out, "kept"));
      expect(st.mode & 0o7777).toBe(0o600);
      if (isRoot) expect(st.uid).toBe(1000);
      expect(Math.floor(st.mtimeMs / 1000)).toBe(1_500_000_000);
      expect(s.run(`dump -p /setuid-prog ${join(out, "suid")}`).ok).toBe(true);
      expect(lstatSync(join(out, "suid")).mode & 0o7777).toBe(0o755);
      expect(s.run(`dump -p -S /setuid-prog ${join(out, "suid2")}`).ok).toBe(true);
      expect(lstatSync(join(out, "suid2")).mode & 0o7777).toBe(0o4755);
      expect(s.run("dump /small.txt").stderr).toBe(
        "dump: Usage: dump_inode [-p [-S]] <file> <output_file>\n",
      );
    });
  });
});

describe("safeName", () => {
  it("refuses names that could leave the target directory", () => {
    const b = (s: string): Uint8Array => Buffer.from(s, "latin1");
    expect(safeName(b("ok name"))).toBe("ok name");
    for (const bad of ["", ".", "..", "a/b", "/", "a\0b", "\xff\xfe"])
      expect(safeName(b(bad)), bad).toBeNull();
  });
});
