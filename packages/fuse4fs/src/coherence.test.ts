/**
 * The fast path and the core must agree on every byte: a random mix of
 * overwrites (native pwrite), extending and hole-filling writes (core),
 * truncates, punched holes, reopened descriptors and O_DIRECT reads runs
 * against an in-memory model of the file; every read must match the model,
 * and after unmounting the kernel driver must read the same bytes.
 * F4_SEED and F4_STEPS run the ext4 case longer by hand.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import { expectClean, kernelWalk, run, withMount } from "./test-support/harness.js";

const MODEL = `
import os, sys, random, mmap, hashlib, ctypes
libc = ctypes.CDLL(None, use_errno=True)
path, seed, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)
model = bytearray()
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
bad = 0
def check(fd2, off, n, direct):
    global bad
    want = bytes(model[off:off + n])
    if direct:
        buf = mmap.mmap(-1, n)
        got = buf[:os.preadv(fd2, [buf], off)]
    else:
        got = os.pread(fd2, n, off)
    if got != want:
        bad += 1
for step in range(steps):
    op = rnd.random()
    size = len(model)
    if op < 0.45 and size > 0:
        off = rnd.randrange(0, size)
        n = rnd.randrange(1, min(65536, size - off) + 1)
        data = bytes([rnd.randrange(256)]) * n
        os.pwrite(fd, data, off)
        model[off:off + n] = data
    elif op < 0.65:
        off = rnd.randrange(0, size + 200000)
        n = rnd.randrange(1, 100000)
        data = bytes([rnd.randrange(256)]) * n
        os.pwrite(fd, data, off)
        if off > size: model.extend(bytes(off - size))
        model[off:off + n] = data
    elif op < 0.72:
        n = rnd.randrange(0, size + 50000)
        os.ftruncate(fd, n)
        if n < size: del model[n:]
        else: model.extend(bytes(n - size))
    elif op < 0.78 and size > 8192:
        off = rnd.randrange(0, size - 4096)
        n = rnd.randrange(1, min(100000, size - off))
        if libc.fallocate(fd, 3, ctypes.c_long(off), ctypes.c_long(n)) == 0:
            model[off:off + n] = bytes(n)
    elif op < 0.82:
        os.fsync(fd)
        # Drop the kernel's cached pages: later buffered reads come from the server.
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        fd = os.open(path, os.O_RDWR)
    else:
        if size == 0: continue
        off = rnd.randrange(0, size)
        n = rnd.randrange(1, 131072)
        direct = rnd.random() < 0.3
        if direct:
            os.fsync(fd)
            off &= ~4095
            n = ((n + 4095) // 4096) * 4096
            fd2 = os.open(path, os.O_RDONLY | os.O_DIRECT)
            check(fd2, off, n, True)
            os.close(fd2)
        else:
            check(fd, off, n, False)
os.fsync(fd)
check(fd, 0, len(model) + 10, False)
os.close(fd)
print(bad, len(model), hashlib.sha256(model).hexdigest())
`;

describe("fast path and core stay coherent", () => {
  for (const [kind, seed] of [
    ["ext4", Number(process.env.F4_SEED ?? 1)],
    ["ext4-1k", 2],
    ["ext4-inline", 3],
  ] as const) {
    it(`${kind}: random writes, truncates, punches and reads match a model`, async () => {
      const image = freshImage(kind, 64 << 20);
      const result = await withMount(image, [], async (m, mp) => {
        const r = await run(
          "python3",
          ["-c", MODEL, `${mp}/file`, String(seed), process.env.F4_STEPS ?? "1500"],
          { timeoutMs: 180_000 },
        );
        expect(r.stderr).toBe("");
        // Both paths were used: native writes and reads, and writes through the core.
        const st = m.session.stats();
        expect(st.fastWrites).toBeGreaterThan(0);
        expect(st.fastReads).toBeGreaterThan(0);
        return r.stdout.trim().split(" ");
      });
      const [bad, size, hash] = result;
      expect(bad).toBe("0");
      expectClean(image);
      const k = await kernelWalk(image);
      expect(k["/file"]?.size).toBe(Number(size));
      expect(k["/file"]?.sha256).toBe(hash);
    }, 240_000);
  }
});

const STAMPS = `
import os, sys, time
path = sys.argv[1]
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"a" * (1 << 20))
os.fsync(fd)
os.close(fd)
fd = os.open(path, os.O_RDWR)
before = os.stat(path)
time.sleep(0.05)
os.pwrite(fd, b"b" * 4096, 8192)
mid = os.stat(path)
time.sleep(0.05)
os.pwrite(fd, b"c" * 4096, 0)
os.close(fd)
after = os.stat(path)
print(before.st_mtime_ns, mid.st_mtime_ns, mid.st_ctime_ns, after.st_mtime_ns, after.st_ctime_ns)
`;

describe("native overwrites stamp mtime and ctime", () => {
  for (const options of [[], ["writeback_cache"]]) {
    it(`as ext4 does at each write (${options.join(",") || "default options"})`, async () => {
      const image = freshImage("ext4", 32 << 20);
      await withMount(image, options, async (m, mp) => {
        const fast = m.session.stats().fastWrites;
        const r = await run("python3", ["-c", STAMPS, `${mp}/file`], { timeoutMs: 60_000 });
        expect(r.stderr).toBe("");
        const [before, midM, midC, afterM, afterC] = r.stdout.trim().split(" ").map(BigInt);
        // The overwrites went native (the file was mapped when reopened)...
        expect(m.session.stats().fastWrites).toBeGreaterThan(fast);
        // ...and each one moved both times forward, visible at the next stat.
        expect(midM).toBeGreaterThan(before as bigint);
        expect(midC).toBe(midM);
        expect(afterM).toBeGreaterThan(midM as bigint);
        expect(afterC).toBe(afterM);
      });
      expectClean(image);
    }, 60_000);
  }
});

const CAPS = `
import os, sys, struct, errno
path = sys.argv[1]
def caps():
    try:
        return len(os.getxattr(path, "security.capability"))
    except OSError as e:
        assert e.errno == errno.ENODATA, e
        return 0
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o755)
os.write(fd, b"new file: the kernel's capability probe is answered natively")
# A v2 file capability (cap_net_raw, effective), then a write: the kernel drops it.
os.setxattr(path, "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0))
had = caps()
os.pwrite(fd, b"changed", 0)
after_write = caps()
os.setxattr(path, "security.capability", struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0))
os.fchown(fd, 0, 0)
after_chown = caps()
os.close(fd)
print(had, after_write, after_chown)
`;

describe("file capabilities", () => {
  it("are dropped by a write and a chown, while probes of files without them stay native", async () => {
    const image = freshImage("ext4", 32 << 20);
    await withMount(image, [], async (m, mp) => {
      const before = m.session.stats().xattrAnswers;
      const r = await run("python3", ["-c", CAPS, `${mp}/file`], { timeoutMs: 60_000 });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe("20 0 0");
      expect(m.session.stats().xattrAnswers).toBeGreaterThan(before);
    });
    expectClean(image);
  }, 60_000);
});

const MMAP = `
import os, sys, mmap, hashlib, time
path = sys.argv[1]
size = 3 << 20
fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
os.ftruncate(fd, size)
with mmap.mmap(fd, size, mmap.MAP_SHARED) as m:
    for i in range(0, size, 4096):
        m[i:i + 8] = b"%08d" % (i // 4096)
    m.flush()
os.fsync(fd)
t0 = os.fstat(fd).st_mtime_ns
time.sleep(0.05)
# Again, now that the blocks exist: these writebacks are overwrites (native).
with mmap.mmap(fd, size, mmap.MAP_SHARED) as m:
    for i in range(0, size, 8192):
        m[i + 100:i + 104] = b"XYZW"
    m.flush()
os.fsync(fd)
t1 = os.fstat(fd).st_mtime_ns
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
data = os.pread(fd, size, 0)
os.close(fd)
print(int(t1 > t0), hashlib.sha256(data).hexdigest())
`;

describe("shared writable mappings", () => {
  it("write back through the server, native overwrites included, and move mtime", async () => {
    const image = freshImage("ext4", 32 << 20);
    const want = Buffer.alloc(3 << 20);
    for (let i = 0; i < want.length; i += 4096) want.write(String(i / 4096).padStart(8, "0"), i);
    for (let i = 0; i < want.length; i += 8192) want.write("XYZW", i + 100);
    const hash = createHash("sha256").update(want).digest("hex");
    await withMount(image, [], async (_m, mp) => {
      const r = await run("python3", ["-c", MMAP, `${mp}/file`], { timeoutMs: 60_000 });
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(`1 ${hash}`);
    });
    expectClean(image);
    const k = await kernelWalk(image);
    expect(k["/file"]?.sha256).toBe(hash);
  }, 60_000);
});
