/**
 * The data fast path on real mounts: READs and pure overwrites of mapped
 * ranges are served by native threads from the backing file without any
 * call into JS (proved by counters and by JS handlers that would fail),
 * holes and unwritten ranges read as zeros, reads stop at the declared size,
 * and invalidation takes effect and waits for native I/O in flight.
 */
import { createHash, randomBytes } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { unmount } from "./session.js";
import { type ChildServer, startChildServer } from "./test-support/child.js";
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
const sha = (d: Uint8Array): string => createHash("sha256").update(d).digest("hex");

describe.skipIf(!mountable).each(DISPATCH_MODES)("fast path (dispatch: %s)", (mode) => {
  beforeAll(() => useDispatch(mode));
  let m: Mounted | undefined;
  afterEach(async () => {
    await teardown(m);
    m = undefined;
  });

  it("serves reads of mapped ranges without JS (buffered and O_DIRECT)", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 1234);
    m = mountMemFs({ setup: (fs) => fs.writeFile("/f", data) });
    m.fs.failReads = true;
    const f = `${m.mp}/f`;
    const direct = await sh(`dd if=${f} bs=1M iflag=direct status=none | sha256sum`);
    const buffered = await run("sha256sum", [f]);
    expect(direct.stdout.toString().split(" ")[0]).toBe(sha(data));
    expect(buffered.stdout.toString().split(" ")[0]).toBe(sha(data));
    const st = m.session.stats();
    expect(m.fs.calls.get("READ") ?? 0).toBe(0);
    expect(st.fastReads).toBeGreaterThanOrEqual(4);
    expect(st.fastReadBytes).toBeGreaterThanOrEqual(2 * data.length);
    expect(st.device).toBe(true);
  });

  it("sends every READ to JS when the fast path is off", async () => {
    const data = randomBytes(600_000);
    m = mountMemFs({ fs: { fastPath: false }, setup: (fs) => fs.writeFile("/f", data) });
    const r = await sh(`dd if=${m.mp}/f bs=1M iflag=direct status=none | sha256sum`);
    expect(r.stdout.toString().split(" ")[0]).toBe(sha(data));
    const st = m.session.stats();
    expect(st.fastReads).toBe(0);
    expect(m.fs.calls.get("READ") ?? 0).toBeGreaterThan(0);
    // The JS thread's time on forwarded requests is counted in inline dispatch only.
    if (mode === "inline") expect(st.jsNanos).toBeGreaterThan(0);
    else expect(st.jsNanos).toBe(0);
  });

  it("reads holes and unwritten ranges as zeros, natively", async () => {
    m = mountMemFs({
      setup: (fs) => {
        const n = fs.writeFile("/sparse", Buffer.from("head"));
        fs.allocate(n, 8192, 1 << 20, false);
        fs.writeFile("/holes", Buffer.alloc(0));
      },
    });
    const holes = m.fs.resolve("/holes");
    // Extending by truncate leaves a hole the mapping declares as such.
    await run("truncate", ["-s", "500000", `${m.mp}/holes`]);
    expect(m.session.mapping(holes.id)?.ranges.map((r) => r.kind)).toEqual(["hole"]);
    expect(m.session.mapping(m.fs.resolve("/sparse").id)?.ranges.map((r) => r.kind)).toEqual([
      "written",
      "hole",
      "unwritten",
    ]);
    m.fs.failReads = true;
    const r = await sh(
      `dd if=${m.mp}/sparse bs=1M iflag=direct status=none | od -An -c | head -1; ` +
        `dd if=${m.mp}/sparse bs=1M iflag=direct status=none | tr -d '\\000' | wc -c; ` +
        `dd if=${m.mp}/holes bs=1M iflag=direct status=none | tr -d '\\000' | wc -c; stat -c %s ${m.mp}/sparse`,
    );
    const lines = r.stdout.toString().split("\n");
    expect(lines[0]).toMatch(/^\s+h\s+e\s+a\s+d\s+\\0/);
    expect(lines.slice(1, 4)).toEqual(["4", "0", String(8192 + (1 << 20))]);
    expect(m.fs.calls.get("READ") ?? 0).toBe(0);
    expect(m.session.stats().fastReads).toBeGreaterThan(0);
  });

  it("cuts reads at the declared size and answers reads past it with no data", async () => {
    const data = randomBytes(10_000);
    m = mountMemFs({ setup: (fs) => fs.writeFile("/f", data) });
    m.fs.failReads = true;
    const r = await sh(
      `dd if=${m.mp}/f bs=64k iflag=direct status=none | wc -c; ` +
        `dd if=${m.mp}/f bs=4096 skip=5 iflag=direct status=none | wc -c`,
    );
    expect(r.stdout.toString()).toBe("10000\n0\n");
    expect(m.fs.calls.get("READ") ?? 0).toBe(0);
  });

  it("serves overwrites of written ranges natively; growing writes go to JS", async () => {
    const data = randomBytes(1 << 20);
    const patch = randomBytes(256 * 1024);
    m = mountMemFs({ setup: (fs) => fs.writeFile("/f", data) });
    const { dir } = m;
    const src = join(dir, "patch");
    await run("dd", [`of=${src}`, "status=none"], { input: patch });
    m.fs.failWrites = true;
    const w = await run("dd", [
      `if=${src}`,
      `of=${m.mp}/f`,
      "bs=64k",
      "seek=2",
      "conv=notrunc",
      "oflag=direct",
      "status=none",
    ]);
    expect(w.code).toBe(0);
    expect(m.fs.calls.get("WRITE") ?? 0).toBe(0);
    // A reader thread counts a write after its reply reached the kernel: the
    // last one may still be counting when dd has already exited.
    const session = m.session;
    for (let i = 0; i < 200 && session.stats().fastWriteBytes < patch.length; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const st = session.stats();
    expect(st.fastWrites).toBeGreaterThanOrEqual(1);
    expect(st.fastWriteBytes).toBe(patch.length);
    const expected = Buffer.from(data);
    expected.set(patch, 128 * 1024);
    expect(sha(m.fs.readFile("/f"))).toBe(sha(expected));
    // Past the end: allocation and a new size, which only the filesystem can do.
    m.fs.failWrites = false;
    const grow = await run("dd", [
      `if=${src}`,
      `of=${m.mp}/f`,
      "bs=64k",
      "seek=16",
      "conv=notrunc",
      "oflag=direct",
      "status=none",
    ]);
    expect(grow.code).toBe(0);
    expect(m.fs.calls.get("WRITE") ?? 0).toBeGreaterThan(0);
    expect(m.fs.resolve("/f").size).toBe((1 << 20) + patch.length);
    expect(m.session.mapping(m.fs.resolve("/f").id)?.size).toBe((1 << 20) + patch.length);
  });

  it("sends writes into unwritten or unmapped ranges to JS, and after that reads natively again", async () => {
    m = mountMemFs({
      setup: (fs) => {
        const n = fs.writeFile("/u", Buffer.alloc(0));
        fs.allocate(n, 0, 65536, false);
      },
    });
    const w = await sh(
      `printf 'XYZ' | dd of=${m.mp}/u bs=3 seek=1000 conv=notrunc status=none oflag=direct`,
    );
    expect(w.code).toBe(0);
    expect(m.fs.calls.get("WRITE") ?? 0).toBeGreaterThan(0);
    const id = m.fs.resolve("/u").id;
    expect(m.session.mapping(id)?.ranges.map((r) => r.kind)).toEqual(["written", "unwritten"]);
    m.fs.failReads = true;
    const r = await sh(`dd if=${m.mp}/u bs=4096 count=1 iflag=direct status=none | tr -d '\\000'`);
    expect(r.stdout.toString()).toBe("XYZ");
  });

  it("invalidation takes effect: a remapped node reads the new bytes, a forgotten one goes to JS", async () => {
    const a = Buffer.alloc(65536, 0x41);
    const b = Buffer.alloc(65536, 0x42);
    m = mountMemFs({
      setup: (fs) => {
        fs.writeFile("/a", a);
        fs.writeFile("/b", b);
      },
    });
    const { session, fs } = m;
    const na = fs.resolve("/a");
    const nb = fs.resolve("/b");
    const bRange = session.mapping(nb.id)?.ranges[0];
    expect(bRange?.kind).toBe("written");
    fs.failReads = true;
    const first = await sh(`dd if=${m.mp}/a bs=64k iflag=direct status=none | head -c 3`);
    expect(first.stdout.toString()).toBe("AAA");
    // Point /a at /b's blocks: native reads must follow at once.
    session.invalidateMapping(na.id, { offset: 0, length: 65536 });
    if (bRange?.kind === "written") {
      session.upsertMapping(na.id, 65536, [
        { offset: 0, length: 65536, kind: "written", deviceOffset: bRange.deviceOffset },
      ]);
    }
    const second = await sh(`dd if=${m.mp}/a bs=64k iflag=direct status=none | head -c 3`);
    expect(second.stdout.toString()).toBe("BBB");
    // Forget /a entirely: the READ now reaches JS, which is set to fail.
    session.invalidateMapping(na.id);
    expect(session.mapping(na.id)).toBeUndefined();
    const third = await sh(`dd if=${m.mp}/a bs=64k iflag=direct status=none`);
    expect(third.code).not.toBe(0);
    expect(third.stderr).toMatch(/Input\/output error/);
    fs.failReads = false;
    const fourth = await sh(`dd if=${m.mp}/a bs=64k iflag=direct status=none | head -c 3`);
    expect(fourth.stdout.toString()).toBe("AAA");
    expect(fs.calls.get("READ") ?? 0).toBeGreaterThanOrEqual(2);
  });

  it("invalidation waits for native I/O in flight on the node", async () => {
    // The device is a file on a second mount whose server (a child process)
    // answers READ after 600 ms, so a fast-path read stays in flight that long.
    const slow = tempLayout("nf-slow-");
    let child: ChildServer | undefined;
    let devFd: number | undefined;
    try {
      child = await startChildServer(slow.mp, slow.backing, ["--delay", "600", "--no-fast"]);
      const dev = join(slow.mp, "data.bin");
      devFd = openSync(dev, "r");
      m = mountMemFs({ setup: (fs) => fs.writeFile("/f", Buffer.alloc(65536)) });
      const id = m.fs.resolve("/f").id;
      m.session.setDevice(devFd);
      m.session.upsertMapping(id, 65536, [
        { offset: 0, length: 65536, kind: "written", deviceOffset: 0 },
      ]);
      m.fs.failReads = true;
      const reader = sh(`dd if=${m.mp}/f bs=64k iflag=direct status=none | sha256sum`);
      await new Promise((r) => setTimeout(r, 250));
      const t0 = performance.now();
      m.session.invalidateMapping(id);
      const waited = performance.now() - t0;
      const out = await reader;
      expect(waited).toBeGreaterThan(150);
      expect(out.stdout.toString().split(" ")[0]).toBe(sha(childData().subarray(0, 65536)));
      expect(m.session.stats().fastReads).toBe(1);
    } finally {
      if (devFd !== undefined) closeSync(devFd);
      await teardown(m);
      m = undefined;
      await unmount(slow.mp).catch(() => unmount(slow.mp, { lazy: true }).catch(() => undefined));
      if (child !== undefined) await child.exited;
      for (const left of mountsUnder(slow.dir))
        await unmount(left, { lazy: true }).catch(() => undefined);
      await run("rm", ["-rf", slow.dir]);
    }
  });

  it("serves reads and overwrites through an O_DIRECT device (aligned buffers)", async () => {
    const data = randomBytes(2 * 1024 * 1024);
    const patch = randomBytes(128 * 1024);
    m = mountMemFs({ setup: (fs) => fs.writeFile("/f", data) });
    // The same backing file opened O_RDWR | O_DIRECT (0o40000 on x86-64).
    const direct = openSync(join(m.dir, "backing"), 0o2 | 0o40000);
    try {
      m.session.setDevice(direct);
    } finally {
      closeSync(direct);
    }
    m.fs.syncMapping(m.fs.resolve("/f"));
    m.fs.failReads = true;
    m.fs.failWrites = true;
    const src = join(m.dir, "patch");
    await run("dd", [`of=${src}`, "status=none"], { input: patch });
    const w = await run("dd", [
      `if=${src}`,
      `of=${m.mp}/f`,
      "bs=128k",
      "seek=3",
      "conv=notrunc",
      "oflag=direct",
      "status=none",
    ]);
    expect(w.code).toBe(0);
    const r = await sh(`dd if=${m.mp}/f bs=1M iflag=direct status=none | sha256sum`);
    const expected = Buffer.from(data);
    expected.set(patch, 3 * 128 * 1024);
    expect(r.stdout.toString().split(" ")[0]).toBe(sha(expected));
    expect(m.fs.calls.get("READ") ?? 0).toBe(0);
    expect(m.fs.calls.get("WRITE") ?? 0).toBe(0);
    expect(m.session.stats().fastWrites).toBe(1);
  });
});
