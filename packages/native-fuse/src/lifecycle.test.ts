/**
 * Session lifecycle on real mounts: the end of a session (unmount from
 * outside, fusermount3 -u, requests in flight, a killed server) is reported
 * once and never crashes; mount failures are clear errors, never hangs.
 */
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { isFuseError } from "./errors.js";
import { FuseSession, unmount } from "./session.js";
import { type ChildServer, spawnTs, startChildServer } from "./test-support/child.js";
import {
  canMount,
  DISPATCH_MODES,
  type Mounted,
  mountMemFs,
  mountsUnder,
  teardown,
  tempLayout,
  useDispatch,
} from "./test-support/harness.js";
import { run, sh } from "./test-support/run.js";
import { childData } from "./test-support/server-child.js";

const mountable = canMount();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function cleanupChild(child: ChildServer | undefined, dir: string): Promise<void> {
  for (const mp of mountsUnder(dir)) await unmount(mp, { lazy: true }).catch(() => undefined);
  if (child !== undefined && child.proc.exitCode === null && child.proc.signalCode === null) {
    child.proc.kill("SIGKILL");
    await child.exited;
  }
  await run("rm", ["-rf", dir]);
}

describe.skipIf(!mountable).each(DISPATCH_MODES)("session end (dispatch: %s)", (mode) => {
  let m: Mounted | undefined;
  beforeAll(() => useDispatch(mode));
  afterEach(async () => {
    await teardown(m);
    m = undefined;
  });

  it("reports an unmount from outside (umount) exactly once", async () => {
    m = mountMemFs({ setup: (fs) => fs.writeFile("/x", Buffer.from("x")) });
    let ends = 0;
    m.session.ended.then(() => ends++);
    expect((await run("cat", [`${m.mp}/x`])).stdout.toString()).toBe("x");
    const u = await run("umount", [m.mp]);
    expect(u.code).toBe(0);
    const end = await m.session.ended;
    await sleep(50);
    expect(end).toEqual({ errno: 0, message: "connection closed" });
    expect(ends).toBe(1);
    expect(m.session.status).toBe("ended");
    // After the end, notifications answer ENODEV and replies are dropped quietly.
    expect(await m.session.notifyInvalInode(1)).toBe(19);
  });

  it("mounts through fusermount3 and reports `fusermount3 -u` from outside", async () => {
    m = mountMemFs({
      mount: { method: "fusermount" },
      setup: (fs) => fs.writeFile("/y", Buffer.from("yy")),
    });
    expect(m.session.method).toBe("fusermount");
    expect((await run("cat", [`${m.mp}/y`])).stdout.toString()).toBe("yy");
    const u = await run("fusermount3", ["-u", m.mp]);
    expect(u.code).toBe(0);
    expect((await m.session.ended).errno).toBe(0);
    expect(mountsUnder(m.mp)).toEqual([]);
  });

  it("survives an unmount while requests are in flight in JS", async () => {
    const data = childData().subarray(0, 300_000);
    m = mountMemFs({ fs: { fastPath: false }, setup: (fs) => fs.writeFile("/slow", data) });
    m.fs.delayMs = 300;
    const reader = sh(`sha256sum ${m.mp}/slow`);
    const stat = run("stat", ["-c", "%s", `${m.mp}/slow`]);
    await sleep(100);
    // Busy: a plain unmount is refused and the session goes on.
    const busy = await run("umount", [m.mp]);
    expect(busy.code).not.toBe(0);
    expect(busy.stderr).toMatch(/busy/);
    const lazy = await run("umount", ["-l", m.mp]);
    expect(lazy.code).toBe(0);
    const [r, s] = await Promise.all([reader, stat]);
    expect(r.stdout.toString().split(" ")[0]).toBe(createHash("sha256").update(data).digest("hex"));
    expect(s.stdout.toString()).toBe("300000\n");
    expect((await m.session.ended).errno).toBe(0);
    expect(m.logs).toEqual([]);
  });

  it("answers a request whose caller was killed without crashing (reply to a dead request)", async () => {
    m = mountMemFs({
      fs: { fastPath: false },
      setup: (fs) => fs.writeFile("/s", Buffer.from("s")),
    });
    m.fs.delayMs = 400;
    const cat = run("cat", [`${m.mp}/s`]);
    await sleep(150);
    await run("pkill", ["-KILL", "-f", `cat ${m.mp}/s`]);
    const r = await cat;
    expect(r.signal).toBe("SIGKILL");
    await sleep(500);
    m.fs.delayMs = 0;
    expect((await run("cat", [`${m.mp}/s`])).stdout.toString()).toBe("s");
    expect(m.session.status).toBe("serving");
  });
});

describe.skipIf(!mountable)("session lifecycle", () => {
  let m: Mounted | undefined;
  afterEach(async () => {
    await teardown(m);
    m = undefined;
  });

  it("a killed server leaves a dead mount that a lazy unmount clears", async () => {
    const t = tempLayout("nf-kill-");
    let child: ChildServer | undefined;
    try {
      child = await startChildServer(t.mp, t.backing);
      expect((await run("cat", [join(t.mp, "hello")])).stdout.toString()).toBe(
        "hello from child\n",
      );
      child.proc.kill("SIGKILL");
      expect(await child.exited).toBe("SIGKILL");
      const dead = await run("ls", [t.mp]);
      expect(dead.code).not.toBe(0);
      expect(dead.stderr).toMatch(/Transport endpoint is not connected/);
      expect(mountsUnder(t.mp)).toEqual([t.mp]);
      await unmount(t.mp, { lazy: true });
      expect(mountsUnder(t.mp)).toEqual([]);
    } finally {
      await cleanupChild(child, t.dir);
    }
  });

  it("a served process exits by itself once its mount is unmounted (threads joined, loop released)", async () => {
    const t = tempLayout("nf-exit-");
    let child: ChildServer | undefined;
    try {
      child = await startChildServer(t.mp, t.backing);
      expect((await run("stat", ["-c", "%s", join(t.mp, "data.bin")])).stdout.toString()).toBe(
        "1048576\n",
      );
      expect((await run("fusermount3", ["-u", t.mp])).code).toBe(0);
      const code = await Promise.race([child.exited, sleep(10_000).then(() => "timeout")]);
      expect(code).toBe(0);
      expect(child.stdout()).toBe("ready\nended 0\n");
    } finally {
      await cleanupChild(child, t.dir);
    }
  });

  it("fails to mount with a clear error code: missing mountpoint, bad options", () => {
    const t = tempLayout("nf-fail-");
    try {
      const missing = join(t.dir, "nope");
      for (const method of ["mount", "fusermount"] as const) {
        let err: unknown;
        try {
          FuseSession.mount({ mountpoint: missing, method });
        } catch (e) {
          err = e;
        }
        expect(isFuseError(err, "ENOENT")).toBe(true);
      }
      expect(() => FuseSession.mount({ mountpoint: t.mp, fsname: "a,b" })).toThrow(
        /must not contain/,
      );
      expect(mountsUnder(t.dir)).toEqual([]);
    } finally {
      writeFileSync(join(t.dir, "done"), "");
      void run("rm", ["-rf", t.dir]);
    }
  });

  it("fails with ENOENT when /dev/fuse is missing, and with EPERM without privilege", async () => {
    const script = join(import.meta.dirname, "test-support", "mount-probe.ts");
    const t = tempLayout("nf-probe-");
    try {
      const noDev = await run("unshare", [
        "--mount",
        "sh",
        "-c",
        `mount -t tmpfs tmpfs /dev && exec "$0" --no-warnings --import "$1" "$2" "$3"`,
        process.execPath,
        join(import.meta.dirname, "test-support", "ts-hooks.ts"),
        script,
        t.mp,
      ]);
      expect(noDev.stdout.toString()).toBe("ENOENT\n");
      const probe = spawnTs(script, [t.mp, "mount"]);
      const out: Buffer[] = [];
      probe.stdout?.on("data", (d: Buffer) => out.push(d));
      await new Promise((r) => probe.on("exit", r));
      expect(Buffer.concat(out).toString()).toBe("mounted\n");
      const nobody = await run("setpriv", [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
        process.execPath,
        "--no-warnings",
        "--import",
        join(import.meta.dirname, "test-support", "ts-hooks.ts"),
        script,
        t.mp,
        "mount",
      ]);
      expect(nobody.stdout.toString()).toMatch(/^(EPERM|EACCES)\n$/);
    } finally {
      for (const mp of mountsUnder(t.dir)) await unmount(mp, { lazy: true }).catch(() => undefined);
      await run("rm", ["-rf", t.dir]);
    }
  });
});
