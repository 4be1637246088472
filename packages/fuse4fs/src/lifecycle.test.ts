/**
 * The server's life from the outside, through the CLI in child processes:
 * background start (exit 0 only once mounted), foreground with SIGTERM,
 * mount(8) and fstab through mount.fuse3, option and image errors before
 * anything is mounted, refusing an image that is locked or mounted by the
 * kernel, read-only opening of a read-only image, superblock state while
 * mounted and after, journal and feature refusals, and `kill -9` of the
 * server: the mountpoint is recoverable and the next mount works.
 */
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import { MountError, mountImage } from "./mount.js";
import { parseOptions } from "./options.js";
import { installWrapper, mountOf, runCli, spawnCli, waitFor } from "./test-support/cli-run.js";
import {
  cleanup,
  debugfsOut,
  expectClean,
  run,
  sh,
  shOk,
  tempDir,
  withMount,
} from "./test-support/harness.js";

let dir: string;
let mp: string;

beforeEach(() => {
  dir = tempDir("f4-life-");
  mp = join(dir, "mnt");
  mkdirSync(mp);
});

afterEach(async () => {
  await cleanup(dir);
});

function header(image: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of debugfsOut(image, "stats").split("\n")) {
    const m = /^([A-Za-z][A-Za-z #]+?):\s+(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined && !(m[1] in out)) out[m[1]] = m[2].trim();
  }
  return out;
}

describe("background and foreground", () => {
  it("starts in the background, exits 0 once mounted; unmounting flushes, marks clean, releases", async () => {
    const image = freshImage("ext4", 32 << 20);
    const before = header(image);
    const r = await runCli([image, mp]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Ready means mounted: no waiting needed.
    expect(mountOf(mp)).toMatchObject({ fstype: "fuse.fuse4fs", source: image });
    // Readahead raised on the mount's bdi (FUSE keeps 128 KiB whatever INIT says).
    const bdi = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .find((l) => l.split(" ")[4] === mp)
      ?.split(" ")[2];
    expect(readFileSync(`/sys/class/bdi/${bdi}/read_ahead_kb`, "utf8").trim()).toBe("4096");
    await shOk(`echo persisted > ${mp}/file && mkdir ${mp}/dir`);
    const during = header(image);
    // As the kernel: a journaled filesystem stays "clean" while mounted and
    // says needs_recovery instead (the journal may hold what is not home yet).
    expect(during["Filesystem state"]).toBe("clean");
    expect(during["Filesystem features"]).toMatch(/needs_recovery/);
    expect(Number(during["Mount count"])).toBe(Number(before["Mount count"]) + 1);
    expect(during["Last mounted on"]).toBe(mp);
    await shOk(`umount ${mp}`);
    // The server exits after the unmount; its lock goes with it.
    expect(
      await waitFor(() => !(header(image)["Filesystem features"] ?? "").includes("needs_recovery")),
    ).toBe(true);
    expectClean(image);
    expect(debugfsOut(image, "cat /file")).toBe("persisted\n");
    // Mount and write times are this session's (s_mtime at mount, s_wtime at the last write).
    const after = header(image);
    const t = (k: string): number => Date.parse(after[k] ?? "") / 1000;
    expect(Math.abs(t("Last mount time") - Date.now() / 1000)).toBeLessThan(120);
    expect(t("Last write time")).toBeGreaterThanOrEqual(t("Last mount time"));
    await withMount(image, [], async () => undefined);
  }, 60_000);

  it("in the foreground, SIGTERM unmounts, flushes and exits 0", async () => {
    const image = freshImage("ext4", 32 << 20);
    const s = spawnCli([image, mp, "-f", "-o", "subtype=,fsname=mydisk"]);
    try {
      expect(await waitFor(() => mountOf(mp) !== null)).toBe(true);
      // An empty subtype shows plain "fuse"; fsname is the source.
      expect(mountOf(mp)).toMatchObject({ fstype: "fuse", source: "mydisk" });
      await shOk(`seq 1 10000 > ${mp}/numbers`);
      s.proc.kill("SIGTERM");
      expect(await s.exited).toBe(0);
      expect(mountOf(mp)).toBeNull();
    } finally {
      s.proc.kill("SIGKILL");
    }
    expectClean(image);
    expect(header(image)["Filesystem state"]).toBe("clean");
    expect(debugfsOut(image, "cat /numbers").split("\n").length).toBe(10001);
  }, 60_000);

  it("-d logs every request to stderr", async () => {
    const image = freshImage("ext4", 32 << 20);
    const s = spawnCli([image, mp, "-d"]);
    try {
      expect(await waitFor(() => mountOf(mp) !== null)).toBe(true);
      await shOk(`ls ${mp} && cat ${mp}/missing 2>/dev/null || true`);
      await shOk(`umount ${mp}`);
      expect(await s.exited).toBe(0);
    } finally {
      s.proc.kill("SIGKILL");
    }
    expect(s.stderr()).toMatch(/-> INIT/);
    expect(s.stderr()).toMatch(/-> LOOKUP node 1 uid 0 name="missing"/);
    expect(s.stderr()).toMatch(/-> READDIRPLUS|-> READDIR/);
  }, 60_000);
});

describe("mount(8), fstab and mount.fuse3", () => {
  it("mount -t fuse.fuse4fs and an fstab line run fuse4fs from the helper's PATH", async () => {
    const image = freshImage("ext4", 32 << 20);
    const bin = join(dir, "bin");
    mkdirSync(bin);
    installWrapper(bin);
    const fstab = join(dir, "fstab");
    writeFileSync(fstab, `${image} ${mp} fuse.fuse4fs ro,defaults,nofail,x-test=1 0 0\n`);
    // mount(8) hands helpers no PATH: mount.fuse3's sh finds fuse4fs in /usr/local/bin.
    // A private mount namespace puts the wrapper there without touching the host.
    const script = `
      set -e
      mount --bind '${bin}' /usr/local/bin
      released() { i=0; while ! flock -n '${image}' true; do i=$((i+1)); [ $i -lt 400 ] || exit 9; sleep 0.05; done; }
      mount -t fuse.fuse4fs '${image}' '${mp}' -o noatime
      grep -q " ${mp} .* - fuse.fuse4fs ${image} " /proc/self/mountinfo
      echo via-mount > '${mp}/via-mount'
      umount '${mp}'
      released
      mount -T '${fstab}' '${mp}'
      grep " ${mp} " /proc/self/mountinfo | cut -d' ' -f6
      cat '${mp}/via-mount'
      umount '${mp}'
      released
    `;
    const r = await run("unshare", ["-m", "--propagation", "private", "sh", "-c", script]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      "ro,nosuid,nodev,relatime\nvia-mount\n".replace(
        "ro,nosuid,nodev,relatime",
        r.stdout.split("\n")[0] ?? "",
      ),
    );
    expect(r.stdout.split("\n")[0]).toMatch(/^ro,/);
    expect(r.stdout.split("\n")[1]).toBe("via-mount");
    expectClean(image);
    expect(header(image)["Filesystem state"]).toBe("clean");
  }, 60_000);
});

describe("refusals before anything is mounted", () => {
  it("option errors: one line, exit 1, nothing mounted", async () => {
    const image = freshImage("ext4", 32 << 20);
    for (const args of [
      [image, mp, "-o", "nonsense"],
      [image, mp, "-o", "errors=maybe"],
      [image],
      [image, mp, "-x"],
    ]) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr.trim().split("\n").length, r.stderr).toBe(1);
      expect(r.stderr).toMatch(/^fuse4fs: /);
      expect(mountOf(mp)).toBeNull();
    }
  }, 60_000);

  it("an image that is not ext2/3/4, or a missing one: exit 32 with the reason", async () => {
    const bad = join(dir, "zeros.img");
    writeFileSync(bad, Buffer.alloc(1 << 20));
    const r = await runCli([bad, mp, "-f"]);
    expect(r.code).toBe(32);
    expect(r.stderr).toMatch(/not a usable ext2\/3\/4 filesystem/);
    const m = await runCli([join(dir, "missing.img"), mp]);
    expect(m.code).toBe(32);
    expect(m.stderr).toMatch(/cannot open/);
    expect(mountOf(mp)).toBeNull();
  }, 60_000);

  it("a second mount of the same image is refused, in the library and the CLI; so is a locked image", async () => {
    const image = freshImage("ext4", 32 << 20);
    await withMount(image, [], async (_m, first) => {
      let err: unknown;
      try {
        await mountImage(image, mp, parseOptions([]));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MountError);
      expect((err as MountError).code).toBe("MOUNTED");
      expect((err as MountError).message).toContain(`already mounted on ${first}`);
      const r = await runCli([image, mp, "-o", "ro"]);
      expect(r.code).toBe(32);
      expect(r.stderr).toContain(`already mounted on ${first}`);
    });
    // Another program holding the image's lock (not a mount): refused by the lock.
    const { spawn } = await import("node:child_process");
    const holder = spawn("flock", ["-x", image, "sleep", "30"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await runCli([image, mp]);
      expect(r.code).toBe(32);
      expect(r.stderr).toMatch(/is in use: another program .* holds its lock/);
    } finally {
      holder.kill("SIGKILL");
    }
    expect(mountOf(mp)).toBeNull();
  }, 60_000);

  it("an image the kernel has mounted (through a loop device) is refused", async () => {
    const image = freshImage("ext4", 32 << 20);
    const k = join(dir, "k");
    mkdirSync(k);
    await shOk(`mount -o ro,loop ${image} ${k}`);
    try {
      const r = await runCli([image, mp]);
      expect(r.code).toBe(32);
      expect(r.stderr).toMatch(new RegExp(`already mounted on ${k}`));
    } finally {
      await sh(`umount ${k}`);
    }
    expect(mountOf(mp)).toBeNull();
  }, 60_000);

  it("a read-only image mounts with -o ro (opened read-only); read-write is refused with a hint", async () => {
    const image = freshImage("ext4", 32 << 20);
    chmodSync(image, 0o444);
    const bin = join(dir, "bin");
    mkdirSync(bin);
    const fuse4fs = installWrapper(bin);
    // Root may open a 0444 file read-write: a read-only bind mount (in a private
    // namespace) makes any write open fail, so a mount can only work read-only.
    const ro = join(dir, "ro");
    mkdirSync(ro);
    const img = join(ro, basename(image));
    const script = `
      mount --bind '${dirname(image)}' '${ro}' && mount -o remount,bind,ro '${ro}' || exit 7
      '${fuse4fs}' '${img}' '${mp}'; echo "rw=$?"
      '${fuse4fs}' '${img}' '${mp}' -o ro; echo "ro=$?"
      ls '${mp}'
      umount '${mp}'
      i=0; while ! flock -n '${img}' true; do i=$((i+1)); [ $i -lt 400 ] || exit 9; sleep 0.05; done
    `;
    const r = await run("unshare", ["-m", "--propagation", "private", "sh", "-c", script]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe("rw=32\nro=0\nlost+found\n");
    expect(r.stderr).toMatch(
      /^fuse4fs: cannot open .*read-only file system.*\(mount it with -o ro\)\n$/i,
    );
  }, 60_000);

  it("refuses unsupported incompat features; recovers a journal (in memory when ro, not with norecovery)", async () => {
    const odd = freshImage("ext4", 32 << 20);
    await shOk(`debugfs -w -R 'feature dirdata' ${odd}`);
    const r = await runCli([odd, mp]);
    expect(r.code).toBe(32);
    expect(r.stderr).toMatch(/does not support.*dirdata/);
    // A journal holding one committed transaction that writes block 5000 (free).
    const dirty = freshImage("ext3", 32 << 20);
    const data = join(dirname(dirty), `${basename(dirty)}.blk`);
    writeFileSync(data, Buffer.alloc(1024, 0x5a));
    await shOk(`debugfs -w -f - ${dirty} <<'EOF'\njo\njw -b 5000 ${data}\njc\nEOF`);
    expect(header(dirty)["Filesystem features"]).toMatch(/needs_recovery/);
    const block = (): string =>
      execFileSync("dd", [
        `if=${dirty}`,
        "bs=1024",
        "skip=5000",
        "count=1",
        "status=none",
      ]).toString("hex");
    const zero = "00".repeat(1024);
    expect(block()).toBe(zero);
    // norecovery: the image as it is on disk, read-only.
    const n = await runCli([dirty, mp, "-o", "ro,norecovery"]);
    expect(n.code).toBe(0);
    expect(mountOf(mp)?.options).toMatch(/^ro,/);
    await shOk(`umount ${mp}`);
    expect(await waitFor(() => mountOf(mp) === null)).toBe(true);
    // ro: recovered in memory, the image untouched.
    const ro = await runCli([dirty, mp, "-o", "ro"]);
    expect(ro.code).toBe(0);
    expect(ro.stderr).toMatch(/journal recovered in memory .*1 transactions, 1 blocks/);
    await shOk(`umount ${mp}`);
    expect(await waitFor(() => mountOf(mp) === null)).toBe(true);
    expect(header(dirty)["Filesystem features"]).toMatch(/needs_recovery/);
    expect(block()).toBe(zero);
    // rw: recovered on the image, then clean.
    const rw = await runCli([dirty, mp]);
    expect(rw.code).toBe(0);
    expect(rw.stderr).toMatch(/journal recovered on the image: 1 transactions, 1 blocks/);
    await shOk(`umount ${mp}`);
    expect(
      await waitFor(() => !(header(dirty)["Filesystem features"] ?? "").includes("needs_recovery")),
    ).toBe(true);
    expect(block()).toBe("5a".repeat(1024));
    expectClean(dirty);
  }, 60_000);
});

describe("kill -9", () => {
  it("leaves a recoverable mountpoint; the next mount works and finishes the orphan list", async () => {
    const image = freshImage("ext4", 64 << 20);
    const s = spawnCli([image, mp, "-f"]);
    let holder: ReturnType<typeof spawnCli>["proc"] | null = null;
    try {
      expect(await waitFor(() => mountOf(mp) !== null)).toBe(true);
      await shOk(
        `seq 1 50000 > ${mp}/synced && sync -f ${mp}/synced && mkdir ${mp}/d && echo x > ${mp}/d/f && sync -f ${mp}`,
      );
      // A file unlinked while open: on the orphan list when the server dies.
      const { spawn } = await import("node:child_process");
      holder = spawn(
        "python3",
        [
          "-c",
          `import os,time\nfd=os.open('${mp}/orphan', os.O_CREAT|os.O_RDWR)\nos.write(fd, b'o'*100000)\nos.unlink('${mp}/orphan')\nos.fsync(fd)\nprint('held', flush=True)\ntime.sleep(60)`,
        ],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      await new Promise<void>((r) => holder?.stdout?.once("data", () => r()));
      s.proc.kill("SIGKILL");
      expect(await s.exited).toBe("SIGKILL");
    } finally {
      s.proc.kill("SIGKILL");
      holder?.kill("SIGKILL");
    }
    const dead = await sh(`ls ${mp}`);
    expect(dead.stderr).toMatch(/Transport endpoint is not connected/);
    await shOk(`umount -l ${mp}`);
    expect(mountOf(mp)).toBeNull();
    // The journal holds what the fsyncs committed: the image needs recovery.
    expect(header(image)["Filesystem features"]).toMatch(/needs_recovery/);
    // e2fsck recovers it (on a copy) and then finds nothing wrong.
    const copy = `${image}.e2fsck`;
    copyFileSync(image, copy);
    const fix = await run("e2fsck", ["-fy", copy]);
    expect(fix.code, fix.stdout).toBeLessThanOrEqual(1);
    expectClean(copy);
    expect(debugfsOut(copy, "cat /d/f")).toBe("x\n");
    // So does the kernel (a read-write loop mount replays the journal).
    const kcopy = `${image}.kernel`;
    copyFileSync(image, kcopy);
    const kmp = `${mp}.k`;
    mkdirSync(kmp, { recursive: true });
    await shOk(`mount -o loop ${kcopy} ${kmp}`);
    try {
      expect((await shOk(`wc -l < ${kmp}/synced; cat ${kmp}/d/f`)).trim()).toBe("50000\nx");
    } finally {
      await shOk(`umount ${kmp}`);
    }
    expectClean(kcopy);
    // And so does fuse4fs: replay, then the orphan list finished at mount.
    await withMount(image, [], async (_m, mp2) => {
      expect((await shOk(`wc -l < ${mp2}/synced; cat ${mp2}/d/f`)).trim()).toBe("50000\nx");
    });
    expect(debugfsOut(image, "stats")).not.toMatch(/First orphan inode:\s+[1-9]/);
    expectClean(image);
  }, 90_000);

  it("in the middle of a heavy workload: every recovery ends consistent with all fsync'ed data", async () => {
    const image = freshImage("ext4", 128 << 20);
    const s = spawnCli([image, mp, "-f"]);
    try {
      expect(await waitFor(() => mountOf(mp) !== null)).toBe(true);
      // Something fsync'ed that must survive, then churn that is cut short.
      await shOk(
        `mkdir ${mp}/kept && head -c 3000000 /dev/zero | tr '\\0' k > ${mp}/kept/big && sync -f ${mp}/kept/big`,
      );
      const churn = spawn(
        "sh",
        [
          "-c",
          `i=0; while [ $i -lt 100000 ]; do i=$((i+1)); d=${mp}/w$((i % 7)); mkdir -p $d; ` +
            `head -c $(( (i * 7919) % 40000 )) /dev/urandom > $d/f$i; ` +
            `[ $((i % 3)) -eq 0 ] && rm -f $d/f$((i - 2)); ` +
            `[ $((i % 5)) -eq 0 ] && mv $d/f$((i - 1)) ${mp}/w$(((i + 1) % 7))/m$i 2>/dev/null; ` +
            `[ $((i % 50)) -eq 0 ] && sync -f ${mp}; done`,
        ],
        { stdio: "ignore" },
      );
      // Let it run through several commits (fsyncs and the 5 s timer), then kill the server.
      await new Promise((r) => setTimeout(r, 6500));
      s.proc.kill("SIGKILL");
      expect(await s.exited).toBe("SIGKILL");
      churn.kill("SIGKILL");
    } finally {
      s.proc.kill("SIGKILL");
    }
    await run("umount", ["-l", mp]);
    expect(await waitFor(() => mountOf(mp) === null)).toBe(true);
    for (const who of ["e2fsck", "fuse4fs"] as const) {
      const copy = `${image}.${who}`;
      copyFileSync(image, copy);
      if (who === "e2fsck") {
        const fix = await run("e2fsck", ["-fy", copy]);
        expect(fix.code, fix.stdout).toBeLessThanOrEqual(1);
      } else {
        await withMount(copy, [], async (_m, mp2) => {
          expect((await shOk(`wc -c < ${mp2}/kept/big`)).trim()).toBe("3000000");
          // The churn's committed part is there too (it synced every 50 files).
          expect(Number((await shOk(`find ${mp2} -name 'f*' | wc -l`)).trim())).toBeGreaterThan(20);
        });
      }
      expectClean(copy);
      expect(debugfsOut(copy, "stat /kept/big")).toMatch(/Size: 3000000/);
    }
  }, 120_000);
});
