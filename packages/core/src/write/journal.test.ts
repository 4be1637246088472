import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FaultDevice, MemoryDevice } from "@ext4/iocache";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readDirectory } from "../dir/read.js";
import { isExt4Error } from "../errors.js";
import { Filesystem } from "../fs.js";
import { debugfs, dumpe2fs, scratchDir } from "../test-support/mkfs.js";
import { expectFsckClean, freshImage, openWritable, type WriteKind } from "../test-support/rw.js";

/** Kinds with a journal, and a 1 MiB (1,024-block minimum) or 4 MiB log to make it wrap. */
const JOURNALED: ReadonlyArray<readonly [WriteKind, string[]]> = [
  ["ext4", ["-J", "size=4"]],
  ["ext4-1k", ["-J", "size=1"]],
  ["ext4-no64", ["-J", "size=4"]],
  ["ext4-nocsum", ["-J", "size=1"]],
  ["ext4-inline", ["-J", "size=4"]],
  ["ext3", ["-J", "size=1"]],
];

const OWNER = { mode: 0o644, uid: 0, gid: 0 } as const;

/** path → type, mode, size, links, content hash, xattrs: what must survive a crash exactly. */
function treeOf(fs: Filesystem): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (ino: number, path: string, depth: number): void => {
    const inode = fs.readInode(ino);
    const xattrs = fs
      .listXattrs(inode)
      .map((x) => `${x.name}=${Buffer.from(x.value).toString("hex")}`)
      .sort()
      .join(",");
    let body = "";
    if (inode.isRegular()) {
      body = createHash("sha1")
        .update(fs.readFile(inode, 0, inode.size))
        .digest("hex");
    }
    out.set(path, `${inode.mode.toString(8)} ${inode.size} ${inode.linksCount} ${body} ${xattrs}`);
    if (!inode.isDirectory() || depth > 8) return;
    for (const e of readDirectory(fs, inode)) {
      if (e.nameText === "." || e.nameText === "..") continue;
      walk(e.ino, `${path}/${e.nameText}`, depth + 1);
    }
  };
  walk(2, "", 0);
  return out;
}

/** `e2fsck -fy` (the recovery e2fsprogs does), then `-fn` must be clean. */
function recoverWithE2fsck(image: string): void {
  try {
    execFileSync("e2fsck", ["-fy", image], { stdio: "pipe" });
  } catch (e) {
    const status = (e as { status?: number }).status;
    // 1: errors corrected (the recovery itself counts), 2 likewise with a reboot advised.
    if (status !== 1 && status !== 2) throw e;
  }
  expectFsckClean(image);
}

function writeImage(bytes: Uint8Array, tag: string): string {
  const path = join(
    scratchDir(),
    `journal-${process.pid}-${tag}-${Math.random().toString(36).slice(2)}.img`,
  );
  writeFileSync(path, bytes);
  return path;
}

describe("journaled writes", () => {
  it("a clean unmount leaves an empty log, no needs_recovery and a clean image", () => {
    const image = freshImage("ext4", 32 << 20);
    const fs = openWritable(image);
    const root = 2;
    const dir = fs.mkdir(root, "d", { ...OWNER, mode: 0o755 });
    const f = fs.create(dir.ino, "f", OWNER);
    fs.writeFile(f.ino, 0, new Uint8Array(100_000).fill(7));
    const during = dumpe2fs(image, true);
    expect(during).toMatch(/needs_recovery/);
    fs.commit();
    const stats = fs.journalStats();
    expect(stats?.commits).toBeGreaterThan(0);
    expect(stats?.loggedBlocks).toBeGreaterThan(0);
    // The live log holds real transactions that debugfs reads.
    const log = debugfs(image, "logdump");
    expect(log).toMatch(/Found expected sequence \d+, type 1 \(descriptor block\)/);
    expect(log).toMatch(/Found expected sequence \d+, type 2 \(commit block\)/);
    fs.close();
    const after = dumpe2fs(image, true);
    expect(after).not.toMatch(/needs_recovery/);
    expect(after).toMatch(/Journal start:\s+0\b/);
    expectFsckClean(image);
  });

  it("a crash after a commit is recovered by e2fsck, the kernel and this toolkit alike", () => {
    const image = freshImage("ext4-1k", 32 << 20, ["-J", "size=1"]);
    const dev = new FaultDevice(new MemoryDevice(new Uint8Array(readFileSync(image))));
    const fs = Filesystem.open(dev, { writable: true });
    const d = fs.mkdir(2, "keep", { ...OWNER, mode: 0o755 });
    for (let i = 0; i < 40; i++) {
      const f = fs.create(d.ino, `f${i}`, OWNER);
      fs.writeFile(f.ino, 0, new Uint8Array(3000 + i).fill(i));
    }
    fs.setXattr(d.ino, "user.k", new TextEncoder().encode("v"));
    fs.commit();
    const expected = treeOf(fs);
    // Changes after the commit are lost by the crash: the tree is the committed one.
    const g = fs.mkdir(2, "lost", { ...OWNER, mode: 0o755 });
    fs.create(g.ino, "x", OWNER);
    fs.unlink(d.ino, "f3");
    const crashed = dev.durableImage();
    expect(crashed.length).toBeGreaterThan(0);

    // e2fsck's own recovery.
    const a = writeImage(crashed, "e2fsck");
    expect(dumpe2fs(a, true)).toMatch(/needs_recovery/);
    recoverWithE2fsck(a);
    const viaE2fsck = Filesystem.open(
      new MemoryDevice(new Uint8Array(readFileSync(a)), { readOnly: true }),
    );
    expect(treeOf(viaE2fsck)).toEqual(expected);

    // Ours, in memory, read-only: the image is not written.
    const ro = new MemoryDevice(crashed.slice(), { readOnly: true });
    const mem = Filesystem.open(ro);
    expect(mem.recovery?.inMemory).toBe(true);
    expect(mem.recovery?.transactions).toBeGreaterThan(0);
    expect(mem.needsRecovery).toBe(false);
    expect(treeOf(mem)).toEqual(expected);
    expect(Buffer.compare(ro.bytes, crashed)).toBe(0);

    // Ours, on the device: then e2fsck finds nothing at all.
    const b = writeImage(crashed, "ours");
    const rw = openWritable(b);
    expect(rw.recovery?.inMemory).toBe(false);
    expect(treeOf(rw)).toEqual(expected);
    rw.close();
    expectFsckClean(b);

    // The kernel recovers it too (a read-write loop mount replays the journal).
    const c = writeImage(crashed, "kernel");
    const mnt = join(scratchDir(), `mnt-${process.pid}`);
    execFileSync("mkdir", ["-p", mnt]);
    execFileSync("mount", ["-o", "loop", c, mnt]);
    try {
      expect(readFileSync(join(mnt, "keep", "f3")).length).toBe(3003);
      expect(() => readFileSync(join(mnt, "lost", "x"))).toThrow();
    } finally {
      execFileSync("umount", [mnt]);
    }
    expectFsckClean(c);
  });

  it("reads a journal the kernel left behind, in memory, and replays it like e2fsck", () => {
    const image = freshImage("ext4", 32 << 20);
    const mnt = join(scratchDir(), `kmnt-${process.pid}`);
    execFileSync("mkdir", ["-p", mnt]);
    execFileSync("mount", ["-o", "loop", image, mnt]);
    let snapshot: Uint8Array;
    try {
      execFileSync("sh", [
        "-c",
        `mkdir -p ${mnt}/a/b && for i in $(seq 1 200); do echo "file $i" > ${mnt}/a/b/f$i; done && rm ${mnt}/a/b/f7 && sync`,
      ]);
      // The image as it is now: transactions committed, the journal not yet checkpointed.
      snapshot = new Uint8Array(readFileSync(image));
    } finally {
      execFileSync("umount", [mnt]);
    }
    const path = writeImage(snapshot, "kernel-left");
    const header = dumpe2fs(path, true);
    expect(header).toMatch(/needs_recovery/);
    const ref = writeImage(snapshot, "kernel-ref");
    recoverWithE2fsck(ref);
    const want = treeOf(
      Filesystem.open(new MemoryDevice(new Uint8Array(readFileSync(ref)), { readOnly: true })),
    );
    expect(want.get("/a/b/f200")).toBeDefined();
    expect(want.has("/a/b/f7")).toBe(false);
    const mem = Filesystem.open(new MemoryDevice(snapshot.slice(), { readOnly: true }));
    expect(mem.recovery?.transactions).toBeGreaterThan(0);
    expect(treeOf(mem)).toEqual(want);
    // Read-write: replayed on the device; every block outside the superblock
    // and the journal then matches e2fsck's recovery.
    const rw = openWritable(path);
    expect(treeOf(rw)).toEqual(want);
    rw.close();
    expectFsckClean(path);
  });

  it("wraps around the log, checkpointing when it fills, and still recovers", () => {
    const image = freshImage("ext4-1k", 32 << 20, ["-J", "size=1"]);
    const mem = new MemoryDevice(new Uint8Array(readFileSync(image)));
    const dev = new FaultDevice(mem);
    const fs = Filesystem.open(dev, { writable: true });
    const d = fs.mkdir(2, "w", { ...OWNER, mode: 0o755 });
    for (let i = 0; i < 400; i++) {
      const f = fs.create(d.ino, `n${i}`, OWNER);
      fs.writeFile(f.ino, 0, new Uint8Array(1500).fill(i & 0xff));
      if (i % 3 === 2) fs.unlink(d.ino, `n${i - 1}`);
      fs.commit();
    }
    const stats = fs.journalStats();
    // 400 commits of several blocks each through a 1,024-block log.
    expect(stats?.commits).toBe(400);
    expect(stats?.checkpoints).toBeGreaterThan(2);
    expect(stats?.unjournaled).toBe(0);
    const expected = treeOf(fs);
    const crashed = dev.durableImage();
    const a = writeImage(crashed, "wrap-e2fsck");
    recoverWithE2fsck(a);
    expect(
      treeOf(
        Filesystem.open(new MemoryDevice(new Uint8Array(readFileSync(a)), { readOnly: true })),
      ),
    ).toEqual(expected);
    const mine = new MemoryDevice(crashed.slice());
    const rw = Filesystem.open(mine, { writable: true });
    expect(treeOf(rw)).toEqual(expected);
    rw.close();
    expectFsckClean(writeImage(mine.bytes, "wrap-ours"));
    fs.close();
    expectFsckClean(writeImage(mem.bytes, "wrap-uncut"));
  });

  it("a damaged log never crashes or hangs recovery: Ext4Error or a consistent open", () => {
    const image = freshImage("ext4-1k", 16 << 20, ["-J", "size=1"]);
    const dev = new FaultDevice(new MemoryDevice(new Uint8Array(readFileSync(image))));
    const fs = Filesystem.open(dev, { writable: true });
    const d = fs.mkdir(2, "z", { ...OWNER, mode: 0o755 });
    for (let i = 0; i < 30; i++) {
      fs.create(d.ino, `c${i}`, OWNER);
      if (i % 5 === 4) fs.commit();
    }
    const crashed = dev.durableImage();
    const probe = Filesystem.open(new MemoryDevice(crashed.slice(), { readOnly: true }), {
      journal: "ignore",
    });
    const j = probe.journal();
    expect(j?.isEmpty).toBe(false);
    const jsb = j!.superblock;
    // The log area's physical blocks (the journal inode is contiguous on a fresh image).
    const first = j!.physicalBlock(jsb.first);
    const logBytes = 64 * 1024;
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.nat(logBytes - 1), bit: fc.nat(7) }), {
          minLength: 1,
          maxLength: 12,
        }),
        fc.boolean(),
        (flips, writable) => {
          const bytes = crashed.slice();
          for (const f of flips) bytes[first * 1024 + f.at]! ^= 1 << f.bit;
          try {
            const opened = Filesystem.open(new MemoryDevice(bytes, { readOnly: !writable }), {
              writable,
            });
            // Whatever replayed must still read as a filesystem or fail typed.
            try {
              treeOf(opened);
            } catch (e) {
              if (!isExt4Error(e)) throw e;
            }
            if (writable) opened.close();
          } catch (e) {
            if (!isExt4Error(e)) throw e;
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refuses a writable open that ignores a journal needing recovery", () => {
    const image = freshImage("ext4", 32 << 20);
    const dev = new FaultDevice(new MemoryDevice(new Uint8Array(readFileSync(image))));
    const fs = Filesystem.open(dev, { writable: true });
    fs.mkdir(2, "x", { ...OWNER, mode: 0o755 });
    fs.commit();
    const crashed = dev.durableImage();
    try {
      Filesystem.open(new MemoryDevice(crashed.slice()), { writable: true, journal: "ignore" });
      expect.unreachable();
    } catch (e) {
      expect(isExt4Error(e, "ReadOnly") && e.code).toBe("JOURNAL_NEEDS_RECOVERY");
    }
    const raw = Filesystem.open(new MemoryDevice(crashed.slice(), { readOnly: true }), {
      journal: "ignore",
    });
    expect(raw.needsRecovery).toBe(true);
    expect(raw.recovery).toBeNull();
  });
});

type CrashOp =
  | { t: "create"; dir: number; name: number; size: number }
  | { t: "write"; file: number; offset: number; size: number }
  | { t: "mkdir"; dir: number; name: number }
  | { t: "unlink"; dir: number; name: number }
  | { t: "rename"; from: number; name: number; to: number; name2: number }
  | { t: "truncate"; file: number; size: number }
  | { t: "xattr"; file: number; size: number }
  | { t: "commit" }
  | { t: "sync" };

const crashOp: fc.Arbitrary<CrashOp> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("create" as const),
      dir: fc.nat(5),
      name: fc.nat(30),
      size: fc.nat(40_000),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant("write" as const),
      file: fc.nat(40),
      offset: fc.nat(200_000),
      size: fc.nat(20_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("mkdir" as const), dir: fc.nat(5), name: fc.nat(30) }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant("unlink" as const), dir: fc.nat(5), name: fc.nat(30) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("rename" as const),
      from: fc.nat(5),
      name: fc.nat(30),
      to: fc.nat(5),
      name2: fc.nat(30),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("truncate" as const),
      file: fc.nat(40),
      size: fc.nat(100_000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("xattr" as const),
      file: fc.nat(40),
      size: fc.nat(3000),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ t: "commit" as const }) },
  { weight: 1, arbitrary: fc.constant({ t: "sync" as const }) },
);

/**
 * Runs `ops` on a fault device with a small cache; after the last commit
 * the device "loses power" (every write since the last flush dropped).
 * Recovery by this toolkit and by e2fsck must both give exactly the tree
 * as it was at that commit, and a clean e2fsck.
 */
function crashRun(kind: WriteKind, extra: string[], ops: readonly CrashOp[], seed: number): void {
  const image = freshImage(kind, 48 << 20, extra);
  const mem = new MemoryDevice(new Uint8Array(readFileSync(image)));
  // A run's four images go once it passes (a soak makes thousands); a failing one's stay.
  rmSync(image);
  const dev = new FaultDevice(mem);
  let r = seed >>> 0;
  const fs = Filesystem.open(dev, {
    writable: true,
    cacheBytes: 256 << 10,
    random: () => {
      r = (Math.imul(r, 1_103_515_245) + 12_345) >>> 0;
      return r / 2 ** 32;
    },
  });
  const dirs = [2];
  const files: number[] = [];
  let committed = treeOf(fs);
  const quiet = (f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (!isExt4Error(e)) throw e;
    }
  };
  for (const o of ops) {
    const dir = dirs[("dir" in o ? o.dir : 0) % dirs.length] ?? 2;
    switch (o.t) {
      case "create":
        quiet(() => {
          const f = fs.create(dir, `f${o.name}`, OWNER);
          files.push(f.ino);
          if (o.size > 0) fs.writeFile(f.ino, 0, new Uint8Array(o.size).fill(o.name + 1));
        });
        break;
      case "write": {
        const f = files[o.file % Math.max(1, files.length)];
        if (f !== undefined)
          quiet(() => fs.writeFile(f, o.offset, new Uint8Array(o.size).fill(o.offset & 0xff)));
        break;
      }
      case "mkdir":
        quiet(() => dirs.push(fs.mkdir(dir, `d${o.name}`, { ...OWNER, mode: 0o755 }).ino));
        break;
      case "unlink":
        quiet(() => fs.unlink(dir, `f${o.name}`));
        break;
      case "rename": {
        const to = dirs[o.to % dirs.length] ?? 2;
        quiet(() => fs.rename(dir, `f${o.name}`, to, `f${o.name2}`));
        break;
      }
      case "truncate": {
        const f = files[o.file % Math.max(1, files.length)];
        if (f !== undefined) quiet(() => fs.truncate(f, o.size));
        break;
      }
      case "xattr": {
        const f = files[o.file % Math.max(1, files.length)];
        if (f !== undefined) quiet(() => fs.setXattr(f, "user.x", new Uint8Array(o.size).fill(3)));
        break;
      }
      case "commit":
        fs.commit();
        committed = treeOf(fs);
        break;
      case "sync":
        fs.sync();
        committed = treeOf(fs);
        break;
    }
  }
  const crashed = dev.durableImage();
  // Without the power cut, the same run unmounts clean.
  const final = treeOf(fs);
  fs.close();
  const uncut = writeImage(mem.bytes, "uncut");
  expectFsckClean(uncut);
  expect(final.size).toBeGreaterThan(0);
  const ourDev = new MemoryDevice(crashed.slice());
  const ours = Filesystem.open(ourDev, { writable: true });
  try {
    expect(treeOf(ours)).toEqual(committed);
  } finally {
    ours.close();
  }
  const oursImage = writeImage(ourDev.bytes, "ours");
  expectFsckClean(oursImage);
  const theirs = writeImage(crashed, "theirs");
  recoverWithE2fsck(theirs);
  const back = Filesystem.open(
    new MemoryDevice(new Uint8Array(readFileSync(theirs)), { readOnly: true }),
  );
  expect(treeOf(back)).toEqual(committed);
  for (const p of [uncut, oursImage, theirs]) rmSync(p);
}

describe.each(JOURNALED)("a power cut on %s %j", (kind, extra) => {
  it("recovers exactly the last committed state, by this toolkit and by e2fsck", () => {
    const replay = process.env.EXT4_JOURNAL_CASE;
    if (replay !== undefined) {
      // A counterexample printed by an earlier run, as a JSON file: [ops, seed].
      const [ops, seed] = JSON.parse(readFileSync(replay, "utf8")) as [CrashOp[], number];
      crashRun(kind, extra, ops, seed);
      return;
    }
    fc.assert(
      fc.property(fc.array(crashOp, { minLength: 20, maxLength: 120 }), fc.nat(), (ops, seed) => {
        crashRun(kind, extra, ops, seed);
      }),
      { numRuns: Number(process.env.EXT4_JOURNAL_RUNS ?? 6), endOnFailure: true },
    );
  }, 300_000);
});
