/**
 * Real mounts of the example filesystem: every file operation runs in a
 * child process (a synchronous call from this thread, which serves the
 * mount, would deadlock) and is checked against what the tree holds.
 */
import { createHash, randomBytes } from "node:crypto";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { InitFlag } from "./abi.js";
import { DEFAULT_INIT_FLAGS } from "./dispatch.js";
import {
  canMount,
  DISPATCH_MODES,
  type Mounted,
  mountMemFs,
  mountsUnder,
  teardown,
  useDispatch,
} from "./test-support/harness.js";
import { run, sh } from "./test-support/run.js";

const mountable = canMount();

describe.skipIf(!mountable).each(DISPATCH_MODES)(
  "real mount of the example filesystem (dispatch: %s)",
  (mode) => {
    beforeAll(() => useDispatch(mode));
    let m: Mounted | undefined;
    afterEach(async () => {
      await teardown(m);
      m = undefined;
    });

    it("negotiates INIT from TS and shows up in /proc/mounts with fsname and subtype", async () => {
      m = mountMemFs({ setup: (fs) => fs.writeFile("/a.txt", Buffer.from("hello\n")) });
      const r = await run("cat", [`${m.mp}/a.txt`]);
      expect(r.stdout.toString()).toBe("hello\n");
      const n = m.session.negotiated;
      expect(n?.major).toBe(7);
      expect(n?.minor).toBe(45);
      expect(n?.maxWrite).toBe(1 << 20);
      // Everything we asked for that the kernel offers; INIT_EXT always on 7.45.
      expect(n !== undefined && (n.flags & InitFlag.INIT_EXT) !== 0n).toBe(true);
      expect(n !== undefined && (n.flags & ~DEFAULT_INIT_FLAGS) === 0n).toBe(true);
      const mounts = await run("grep", [m.mp, "/proc/mounts"]);
      expect(mounts.stdout.toString()).toMatch(/^memfs \S+ fuse\.memfs /);
    });

    it("lists directories, stats files and reads them (ls, stat, cat)", async () => {
      const data = randomBytes(300_000);
      m = mountMemFs({
        setup: (fs) => {
          fs.writeFile("/dir/big.bin", data);
          fs.writeFile("/dir/small", Buffer.from("x"));
          fs.mkdirp("/dir/sub/deeper");
        },
      });
      const ls = await run("ls", ["-1a", `${m.mp}/dir`]);
      expect(ls.stdout.toString().split("\n").filter(Boolean).sort()).toEqual([
        ".",
        "..",
        "big.bin",
        "small",
        "sub",
      ]);
      const st = await run("stat", ["-c", "%s %F %h", `${m.mp}/dir/big.bin`, `${m.mp}/dir/sub`]);
      expect(st.stdout.toString()).toBe("300000 regular file 1\n0 directory 3\n");
      const sum = await run("sha256sum", [`${m.mp}/dir/big.bin`]);
      expect(sum.stdout.toString().split(" ")[0]).toBe(
        createHash("sha256").update(data).digest("hex"),
      );
      const find = await run("find", [m.mp, "-mindepth", "1"]);
      expect(find.stdout.toString().split("\n").filter(Boolean).length).toBe(5);
    });

    it("writes, appends, truncates and reads back through the kernel", async () => {
      m = mountMemFs();
      const mp = m.mp;
      const r = await sh(
        `set -e; printf 'abc' > ${mp}/f; printf 'def' >> ${mp}/f; cat ${mp}/f; echo; ` +
          `truncate -s 2 ${mp}/f; cat ${mp}/f; echo; truncate -s 5000 ${mp}/f; stat -c %s ${mp}/f; ` +
          `dd if=/dev/urandom of=${mp}/g bs=64k count=20 status=none; stat -c %s ${mp}/g`,
      );
      expect(r.stderr).toBe("");
      expect(r.stdout.toString()).toBe("abcdef\nab\n5000\n1310720\n");
      const f = m.fs.readFile("/f");
      expect(Buffer.from(f.subarray(0, 2)).toString()).toBe("ab");
      expect(f.subarray(2).every((b) => b === 0)).toBe(true);
      const host = await run("sha256sum", [`${mp}/g`]);
      expect(host.stdout.toString().split(" ")[0]).toBe(
        createHash("sha256").update(m.fs.readFile("/g")).digest("hex"),
      );
    });

    it("with the writeback cache: 1 MiB writes, buffered overwrites served natively, data on disk after fsync", async () => {
      const first = randomBytes(4 << 20);
      const patch = randomBytes(64 * 1024);
      m = mountMemFs({ serve: { init: { flags: DEFAULT_INIT_FLAGS | InitFlag.WRITEBACK_CACHE } } });
      const src = `${m.dir}/first`;
      const psrc = `${m.dir}/patch`;
      await run("dd", [`of=${src}`, "status=none"], { input: first });
      await run("dd", [`of=${psrc}`, "status=none"], { input: patch });
      const mp = m.mp;
      const w = await sh(
        `dd if=${src} of=${mp}/f bs=1M oflag=direct status=none && dd if=${psrc} of=${mp}/f bs=64k seek=3 conv=notrunc,fsync status=none`,
      );
      expect(w.stderr).toBe("");
      expect(((m.session.negotiated?.flags ?? 0n) & InitFlag.WRITEBACK_CACHE) !== 0n).toBe(true);
      expect(m.fs.maxWriteSeen).toBe(1 << 20);
      const expected = Buffer.from(first);
      expected.set(patch, 3 * 64 * 1024);
      expect(createHash("sha256").update(m.fs.readFile("/f")).digest("hex")).toBe(
        createHash("sha256").update(expected).digest("hex"),
      );
      // The buffered overwrite went to disk through the fast path, not JS.
      expect(m.session.stats().fastWriteBytes).toBeGreaterThanOrEqual(patch.length);
    });

    it("mkdir, rename, unlink, rmdir, hard links", async () => {
      m = mountMemFs({ setup: (fs) => fs.writeFile("/a", Buffer.from("A")) });
      const mp = m.mp;
      const r = await sh(
        `set -e; mkdir -p ${mp}/d1/d2; mv ${mp}/a ${mp}/d1/d2/b; ln ${mp}/d1/d2/b ${mp}/c; ` +
          `stat -c %h ${mp}/c; mv ${mp}/d1 ${mp}/e; cat ${mp}/e/d2/b; rm ${mp}/c; stat -c %h ${mp}/e/d2/b; ` +
          `rm ${mp}/e/d2/b; rmdir ${mp}/e/d2 ${mp}/e; ls -A ${mp} | wc -l; ` +
          `mkdir ${mp}/x; touch ${mp}/x/y; rmdir ${mp}/x 2>&1 || true`,
      );
      expect(r.stdout.toString()).toMatch(
        /^2\nA1\n0\nrmdir: failed to remove .*Directory not empty\n$/,
      );
      expect(() => m?.fs.resolve("/a")).toThrow();
      expect(m.fs.resolve("/x/y").nlink).toBe(1);
    });

    it("renameat2 NOREPLACE and EXCHANGE reach the filesystem as RENAME2", async () => {
      m = mountMemFs({
        setup: (fs) => {
          fs.writeFile("/p", Buffer.from("P"));
          fs.writeFile("/q", Buffer.from("Q"));
        },
      });
      const py = `import ctypes,os,sys
libc=ctypes.CDLL(None,use_errno=True)
def r2(a,b,f):
    rc=libc.renameat2(-100,a.encode(),-100,b.encode(),f)
    return 0 if rc==0 else ctypes.get_errno()
print(r2(sys.argv[1]+'/p',sys.argv[1]+'/q',1), r2(sys.argv[1]+'/p',sys.argv[1]+'/q',2))`;
      const r = await run("python3", ["-c", py, m.mp]);
      expect(r.stdout.toString().trim()).toBe("17 0");
      expect(Buffer.from(m.fs.readFile("/p")).toString()).toBe("Q");
      expect(Buffer.from(m.fs.readFile("/q")).toString()).toBe("P");
      // NOREPLACE over a cached dentry is refused by the kernel itself; EXCHANGE must reach us.
      expect(m.fs.calls.get("RENAME2")).toBeGreaterThanOrEqual(1);
    });

    it("symlinks: create, readlink, follow", async () => {
      m = mountMemFs({
        setup: (fs) => {
          fs.writeFile("/target", Buffer.from("T!"));
          fs.symlink("/pre", "target");
        },
      });
      const mp = m.mp;
      const r = await sh(
        `set -e; readlink ${mp}/pre; cat ${mp}/pre; ln -s nowhere/x ${mp}/dangling; readlink ${mp}/dangling; stat -c %F ${mp}/dangling`,
      );
      expect(r.stdout.toString()).toBe("target\nT!nowhere/x\nsymbolic link\n");
      expect(Buffer.from(m.fs.resolve("/dangling").target ?? []).toString()).toBe("nowhere/x");
    });

    it("extended attributes: set, get, list, remove, create/replace flags", async () => {
      m = mountMemFs({ setup: (fs) => fs.writeFile("/f", Buffer.from("f")) });
      const f = `${m.mp}/f`;
      const big = "v".repeat(3000);
      const r = await sh(
        `set -e; setfattr -n user.one -v hello ${f}; setfattr -n user.two -v ${big} ${f}; ` +
          `getfattr --only-values -n user.one ${f}; echo; getfattr -d ${f} | grep -c user; ` +
          `setfattr -x user.one ${f}; getfattr -n user.one ${f} 2>&1 || true`,
      );
      expect(r.stdout.toString()).toMatch(/^hello\n2\n.*No such attribute\n$/);
      expect(Buffer.from(m.fs.resolve("/f").xattrs.get("user.two") ?? []).toString()).toBe(big);
      const py = `import os,sys,errno
p=sys.argv[1]
try: os.setxattr(p,'user.two',b'x',os.XATTR_CREATE)
except OSError as e: print(errno.errorcode[e.errno])
try: os.setxattr(p,'user.nope',b'x',os.XATTR_REPLACE)
except OSError as e: print(errno.errorcode[e.errno])
try: os.getxattr(p,'user.two', follow_symlinks=True); print(len(os.getxattr(p,'user.two')))
except OSError as e: print(errno.errorcode[e.errno])`;
      const p = await run("python3", ["-c", py, f]);
      expect(p.stdout.toString()).toBe("EEXIST\nENODATA\n3000\n");
    });

    it("serves concurrent readers in child processes with the right bytes", async () => {
      const files = Array.from({ length: 6 }, (_, i) => randomBytes(200_000 + i * 70_000));
      m = mountMemFs({
        fs: { fastPath: false },
        serve: { threads: 4 },
        setup: (fs) => {
          for (const [i, d] of files.entries()) fs.writeFile(`/c/${i}`, d);
        },
      });
      const mp = m.mp;
      const runs = files.map((_, i) => run("sha256sum", [`${mp}/c/${i}`]));
      const results = await Promise.all(
        runs.concat(runs.map((_, i) => run("md5sum", [`${mp}/c/${i}`]))),
      );
      files.forEach((d, i) => {
        expect(results[i]?.stdout.toString().split(" ")[0]).toBe(
          createHash("sha256").update(d).digest("hex"),
        );
        expect(results[i + files.length]?.stdout.toString().split(" ")[0]).toBe(
          createHash("md5").update(d).digest("hex"),
        );
      });
      expect(m.session.stats().fastReads).toBe(0);
      expect(m.fs.calls.get("READ") ?? 0).toBeGreaterThan(0);
    });

    it("statfs reaches the filesystem (df)", async () => {
      m = mountMemFs();
      const r = await run("stat", ["-f", "-c", "%S %l", m.mp]);
      expect(r.stdout.toString()).toBe("4096 255\n");
    });

    it("unmounts cleanly: the session ends once and no mount is left", async () => {
      m = mountMemFs();
      await run("ls", [m.mp]);
      await m.session.unmount();
      const end = await m.session.ended;
      expect(end.errno).toBe(0);
      expect(m.session.status).toBe("ended");
      expect(mountsUnder(m.mp)).toEqual([]);
    });
  },
);
