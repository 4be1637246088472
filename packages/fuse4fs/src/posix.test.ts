/**
 * POSIX semantics on a real read-write mount, exercised from child
 * processes (root, and uid 1000 through `setpriv` with allow_other): kernel
 * permission checks with default_permissions and ACLs, sticky directories,
 * set-id clearing, rename edge cases, link counts, O_APPEND, sparse files,
 * xattrs and ACLs, device nodes, unlink while open, chattr +i/+a, and the
 * kernel's limits (ENAMETOOLONG, EFBIG, EMLINK). Every test ends with
 * `e2fsck -fn` clean.
 */

import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import {
  cleanup,
  debugfsOut,
  expectClean,
  kernelWalk,
  sh,
  shOk,
  tempDir,
  traversable,
  walk,
  withMount,
} from "./test-support/harness.js";

const USER = 1000;

/**
 * Mounts a fresh ext4 image with allow_other (plus `extra`), runs `fn`, walks
 * the tree before unmounting; afterwards e2fsck must find the image clean and
 * the kernel driver must read back the same tree.
 */
async function onFresh(
  extra: string[],
  fn: (mp: string) => Promise<void>,
  kind: "ext4" | "ext4-1k" = "ext4",
): Promise<void> {
  const image = freshImage(kind, 64 << 20);
  const seen = await withMount(image, ["allow_other", ...extra], async (_m, mp) => {
    // Not the mountpoint itself: a synchronous call on it from this thread deadlocks.
    traversable(dirname(mp));
    await shOk(`chmod 755 ${mp}`);
    await fn(mp);
    return walk(mp);
  });
  expectClean(image);
  expect(await kernelWalk(image)).toEqual(seen);
}

/** Runs `script(mp)` on a kernel ext4 loop mount of a fresh image; returns its stdout (it must succeed). */
async function onKernel(script: (mp: string) => string): Promise<string> {
  const image = freshImage("ext4", 64 << 20);
  const dir = tempDir("f4-kposix-");
  const mp = join(dir, "k");
  mkdirSync(mp);
  try {
    await shOk(`mount -o loop ${image} ${mp}`);
    try {
      return await shOk(script(mp));
    } finally {
      await sh(`umount ${mp}`);
    }
  } finally {
    await cleanup(dir);
  }
}

/** Runs a script and returns "code:stderr-first-line" style facts per line of `checks`. */
async function errnoOf(script: string, as?: number): Promise<string> {
  const r = await sh(script, as === undefined ? {} : { as });
  return r.code === 0 ? "ok" : (r.stderr.trim().split("\n").pop() ?? `exit ${r.code}`);
}

const py = (code: string): string => `python3 -c '${code.replace(/'/g, "'\\''")}'`;

describe("permissions (default_permissions, allow_other, another user)", () => {
  it("mode bits, ownership and ACLs are enforced by the kernel", async () => {
    await onFresh([], async (mp) => {
      await shOk(
        `cd ${mp} && echo secret > secret && chmod 600 secret && echo open > open && chmod 644 open &&
         mkdir rootdir && mkdir userdir && chown ${USER}:${USER} userdir &&
         echo acl > viaacl && chmod 600 viaacl && setfacl -m u:${USER}:r viaacl`,
      );
      expect(await errnoOf(`cat ${mp}/secret`, USER)).toMatch(/Permission denied/);
      expect((await sh(`cat ${mp}/open`, { as: USER })).stdout).toBe("open\n");
      expect(await errnoOf(`echo x >> ${mp}/open`, USER)).toMatch(/Permission denied/);
      expect(await errnoOf(`touch ${mp}/rootdir/f`, USER)).toMatch(/Permission denied/);
      expect(
        await errnoOf(`touch ${mp}/userdir/f && mkdir ${mp}/userdir/d && rm ${mp}/userdir/f`, USER),
      ).toBe("ok");
      expect((await sh(`cat ${mp}/viaacl`, { as: USER })).stdout).toBe("acl\n");
      expect(await errnoOf(`chmod 777 ${mp}/open`, USER)).toMatch(/Operation not permitted/);
      expect(await errnoOf(`chown 0 ${mp}/userdir/d`, USER)).toMatch(/Operation not permitted/);
      // The ACL follows chmod (posix_acl_chmod): the mask becomes the group bits.
      await shOk(`chmod 640 ${mp}/viaacl`);
      expect(await shOk(`getfacl -cp ${mp}/viaacl`)).toContain("mask::r--");
      await shOk(`chmod 600 ${mp}/viaacl`);
      expect(await errnoOf(`cat ${mp}/viaacl`, USER)).toMatch(/Permission denied/);
      // An ACL the mode bits express entirely is not stored (posix_acl_update_mode).
      await shOk(`setfacl -b ${mp}/viaacl && setfacl -m u::rwx,g::r-x,o::r-- ${mp}/viaacl`);
      expect(await shOk(`stat -c %a ${mp}/viaacl; getfattr -m - -d ${mp}/viaacl`)).toBe("754\n");
    });
  }, 60_000);

  it("sticky directories keep other users' files", async () => {
    await onFresh([], async (mp) => {
      await shOk(`mkdir -m 1777 ${mp}/tmp && touch ${mp}/tmp/roots && chmod 666 ${mp}/tmp/roots`);
      await shOk(`touch ${mp}/tmp/mine`, { as: USER });
      expect(await errnoOf(`rm -f ${mp}/tmp/roots`, USER)).toMatch(/Operation not permitted/);
      expect(await errnoOf(`mv ${mp}/tmp/roots ${mp}/tmp/x`, USER)).toMatch(
        /Operation not permitted/,
      );
      expect(await errnoOf(`rm ${mp}/tmp/mine`, USER)).toBe("ok");
      expect(await shOk(`ls ${mp}/tmp`)).toBe("roots\n");
    });
  }, 60_000);

  it("set-id bits are cleared by writes of others and by chown", async () => {
    await onFresh([], async (mp) => {
      await shOk(
        `cd ${mp} && echo x > s && chown ${USER}:${USER} s && chmod 6777 s && echo y > t && chmod 4755 t && chmod 2775 . &&
         mkdir sg && chmod 2777 sg`,
      );
      await shOk(`echo more >> ${mp}/s`, { as: 2000 });
      expect(await shOk(`stat -c %a ${mp}/s`)).toBe("777\n");
      await shOk(`chown ${USER} ${mp}/t`);
      expect(await shOk(`stat -c %a ${mp}/t`)).toBe("755\n");
      // A setgid directory hands its group, and setgid to subdirectories.
      await shOk(`chgrp 100 ${mp}/sg && mkdir ${mp}/sg/sub && touch ${mp}/sg/f`, {});
      expect(await shOk(`stat -c '%a %g' ${mp}/sg/sub ${mp}/sg/f`)).toBe("2755 100\n644 100\n");
    });
  }, 60_000);
});

describe("namespace", () => {
  it("rename edge cases, NOREPLACE and EXCHANGE, link counts: as the kernel driver does", async () => {
    const script = (mp: string): string =>
      `cd ${mp} && mkdir -p a/sub b e full/x && echo 1 > f && echo 2 > g && ln f f2 && ${py(`
import os, ctypes, errno
libc = ctypes.CDLL(None, use_errno=True)
def r2(a, b, flags):
    if libc.renameat2(-100, a.encode(), -100, b.encode(), flags) != 0:
        return errno.errorcode[ctypes.get_errno()]
    return "ok"
def rn(a, b):
    try:
        os.rename(a, b); return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print(rn("f", "f2"), rn("a", "a/sub/in"), rn("f", "a"), rn("a", "g"), rn("b", "full"), rn("b", "e"))
print(r2("g", "f", 1), r2("g", "f", 2), open("f").read().strip(), open("g").read().strip())
print(r2("a", "g", 2), os.path.isdir("g"), os.path.isfile("a"))
print(r2("nope", "f", 2), r2("g", "g", 0), rn(".", "x"), r2("a", "f2", 4 | 1))
for n in sorted(os.listdir(".")):
    print(n, os.lstat(n).st_nlink, oct(os.lstat(n).st_mode))
print(".", os.lstat(".").st_nlink)
`)}`;
    const kernel = await onKernel(script);
    let ours = "";
    await onFresh([], async (mp) => {
      ours = await shOk(script(mp));
    });
    expect(ours).toBe(kernel);
    expect(ours.split("\n").slice(0, 4)).toEqual([
      "ok EINVAL EISDIR ENOTDIR ENOTEMPTY ok",
      "EEXIST ok 2 1",
      "ok True True",
      "ENOENT ok EBUSY EEXIST",
    ]);
  }, 60_000);

  it("names over 255 bytes are ENAMETOOLONG everywhere and record no error", async () => {
    const long = "n".repeat(256);
    await onFresh([], async (mp) => {
      await shOk(`touch ${mp}/ok && mkdir ${mp}/d`);
      for (const cmd of [
        `stat ${mp}/${long}`,
        `touch ${mp}/${long}`,
        `mkdir ${mp}/${long}`,
        `ln -s x ${mp}/${long}`,
        `ln ${mp}/ok ${mp}/${long}`,
        `mv ${mp}/ok ${mp}/${long}`,
        `mknod ${mp}/${long} p`,
        `rm ${mp}/${long}`,
        `rmdir ${mp}/${long}`,
      ]) {
        expect(`${cmd.split(" ")[0]}: ${await errnoOf(cmd)}`).toMatch(/File name too long/);
      }
    });
  }, 60_000);
});

describe("file data", () => {
  it("O_APPEND from two writers, sparse files, EFBIG past the size limit", async () => {
    await onFresh([], async (mp) => {
      const r = await sh(
        `cd ${mp} && ${py(`
import os, errno
a = os.open("log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
b = os.open("log", os.O_WRONLY | os.O_APPEND)
for i in range(200):
    os.write(a if i % 2 else b, b"%03d\\n" % i)
os.close(a); os.close(b)
print(sorted(open("log").read().split()) == ["%03d" % i for i in range(200)])
fd = os.open("sparse", os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, b"x", 1 << 30)
os.fsync(fd)
st = os.fstat(fd)
print(st.st_size, st.st_blocks <= 16, os.lseek(fd, 0, os.SEEK_DATA), os.lseek(fd, 0, os.SEEK_HOLE))
try:
    os.ftruncate(fd, 1 << 45)
    print("no EFBIG")
except OSError as e:
    print(errno.errorcode[e.errno])
os.close(fd)
# Buffered writes past the limit fail only at writeback (the kernel caches them);
# direct writes reach the server at once and get EFBIG.
import mmap
buf = mmap.mmap(-1, 4096)
fd = os.open("direct", os.O_CREAT | os.O_RDWR | os.O_DIRECT, 0o644)
try:
    os.pwrite(fd, buf, 1 << 44)
    print("no EFBIG")
except OSError as e:
    print(errno.errorcode[e.errno])
os.close(fd)
`)}`,
      );
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`True\n${(1 << 30) + 1} True ${1 << 30} 0\nEFBIG\nEFBIG\n`);
    });
  }, 60_000);

  it("unlink while open keeps the data until the last close; the blocks come back", async () => {
    await onFresh([], async (mp) => {
      const free0 = await shOk(`stat -f -c %f ${mp}`);
      const r = await sh(
        `cd ${mp} && ${py(`
import os
fd = os.open("doomed", os.O_CREAT | os.O_RDWR, 0o644)
os.write(fd, b"z" * (4 << 20))
os.unlink("doomed")
os.write(fd, b"tail")
os.fsync(fd)
print(os.path.exists("doomed"), os.fstat(fd).st_nlink, len(os.pread(fd, 8 << 20, 0)))
os.close(fd)
`)}`,
      );
      expect(r.stdout).toBe(`False 0 ${(4 << 20) + 4}\n`);
      await shOk(`sync -f ${mp}`);
      expect(await shOk(`stat -f -c %f ${mp}`)).toBe(free0);
    });
  }, 60_000);
});

describe("attributes", () => {
  it("chattr +i and +a: what they forbid, and only root may set them", async () => {
    await onFresh([], async (mp) => {
      await shOk(
        `cd ${mp} && echo i > imm && echo a > app && chattr +i imm && chattr +a app && chmod 666 imm app && true`,
      ).catch(async () => shOk(`cd ${mp} && chmod 666 imm app; chattr +i imm && chattr +a app`));
      expect(await shOk(`lsattr ${mp}/imm ${mp}/app`)).toMatch(
        /^----i-+e-+ .*imm\n-----a-+e-+ .*app\n$/,
      );
      for (const cmd of [
        `echo x > ${mp}/imm`,
        `rm ${mp}/imm`,
        `mv ${mp}/imm ${mp}/imm2`,
        `chmod 600 ${mp}/imm`,
        `ln ${mp}/imm ${mp}/imm3`,
        `setfattr -n user.x -v 1 ${mp}/imm`,
        `truncate -s 0 ${mp}/app`,
        `echo x > ${mp}/app`,
        `rm ${mp}/app`,
      ]) {
        expect(`${cmd}: ${await errnoOf(cmd)}`).toMatch(/Operation not permitted/);
      }
      expect(await errnoOf(`echo more >> ${mp}/app`)).toBe("ok");
      expect(await shOk(`cat ${mp}/app`)).toBe("a\nmore\n");
      await shOk(`touch ${mp}/userfile && chown ${USER} ${mp}/userfile`);
      expect(await errnoOf(`chattr +i ${mp}/userfile`, USER)).toMatch(/Operation not permitted/);
      expect(await errnoOf(`chattr +d ${mp}/userfile`, USER)).toBe("ok");
      await shOk(`chattr -i ${mp}/imm && chattr -a ${mp}/app && rm ${mp}/imm ${mp}/app`);
    });
  }, 60_000);

  it("xattrs: create/replace flags, listing, removal, user.* refused with nouser_xattr", async () => {
    await onFresh([], async (mp) => {
      const r = await sh(
        `cd ${mp} && touch f && ${py(`
import os, errno
def t(f):
    try:
        f(); return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print(t(lambda: os.setxattr("f", "user.a", b"1", os.XATTR_REPLACE)), t(lambda: os.setxattr("f", "user.a", b"1", os.XATTR_CREATE)),
      t(lambda: os.setxattr("f", "user.a", b"2", os.XATTR_CREATE)), t(lambda: os.setxattr("f", "user.a", b"22", os.XATTR_REPLACE)),
      os.getxattr("f", "user.a"), sorted(os.listxattr("f")), t(lambda: os.removexattr("f", "user.a")),
      t(lambda: os.removexattr("f", "user.a")), t(lambda: os.getxattr("f", "user.none")), t(lambda: os.setxattr("f", "bogus.x", b"1")))
`)}`,
      );
      expect(r.stdout).toBe("ENODATA ok EEXIST ok b'22' ['user.a'] ok ENODATA ENODATA ENOTSUP\n");
    });
    await onFresh(["nouser_xattr"], async (mp) => {
      expect(await errnoOf(`touch ${mp}/f && setfattr -n user.a -v 1 ${mp}/f`)).toMatch(
        /not supported/,
      );
    });
  }, 60_000);

  it("device nodes work only with -o dev; fifos work", async () => {
    await onFresh([], async (mp) => {
      await shOk(`mknod ${mp}/null c 1 3 && mkfifo ${mp}/fifo`);
      expect(await shOk(`stat -c '%F %t:%T' ${mp}/null`)).toBe("character special file 1:3\n");
      expect(await errnoOf(`echo x > ${mp}/null`)).toMatch(/Permission denied/);
      expect(await shOk(`(echo through > ${mp}/fifo &) ; cat ${mp}/fifo`)).toBe("through\n");
    });
    await onFresh(["dev"], async (mp) => {
      await shOk(`mknod ${mp}/null c 1 3`);
      expect(await errnoOf(`echo x > ${mp}/null && head -c 1 ${mp}/null`)).toBe("ok");
    });
  }, 60_000);

  it("EMLINK past 65000 hard links", async () => {
    await onFresh([], async (mp) => {
      const r = await sh(
        `cd ${mp} && ${py(`
import os, errno
open("target", "w").close()
os.mkdir("links")
n = 1
try:
    while n < 70000:
        os.link("target", "links/%d" % n); n += 1
    print("no EMLINK")
except OSError as e:
    print(errno.errorcode[e.errno], n, os.stat("target").st_nlink)
`)}`,
        { timeoutMs: 240_000 },
      );
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe("EMLINK 65000 65000\n");
      await shOk(`rm -r ${mp}/links`, { timeoutMs: 120_000 });
    });
  }, 300_000);
});

describe("fallocate, copy_file_range, O_TMPFILE", () => {
  it("give what the kernel driver gives (sizes, contents, data/hole layout)", async () => {
    const script = (mp: string): string =>
      `cd ${mp} && ${py(`
import os, hashlib, errno
def layout(path, holes=True):
    fd = os.open(path, os.O_RDONLY)
    size = os.fstat(fd).st_size
    out, pos = [], 0
    while holes and pos < size:
        try:
            d = os.lseek(fd, pos, os.SEEK_DATA)
        except OSError:
            break
        h = os.lseek(fd, d, os.SEEK_HOLE)
        out.append((d, h)); pos = h
    data = os.pread(fd, size, 0)
    # Cached pages over unwritten extents count as data for the kernel driver's
    # SEEK_DATA: drop them so both sides answer from the block map alone.
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    return size, out, hashlib.sha256(data).hexdigest()[:16]
fd = os.open("f", os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(fd, b"A" * 65536, 0)
os.posix_fallocate(fd, 65536, 1 << 20)
os.fsync(fd)
print("alloc", layout("f"))
libc = __import__("ctypes").CDLL(None, use_errno=True)
def falloc(mode, off, ln):
    r = libc.fallocate(fd, mode, __import__("ctypes").c_long(off), __import__("ctypes").c_long(ln))
    return "ok" if r == 0 else errno.errorcode[__import__("ctypes").get_errno()]
print(falloc(0x01 | 0x02, 4096, 8192), layout("f"))
print(falloc(0x10, 20000, 30000), layout("f"))
print(falloc(0x01, 2 << 20, 1 << 20), layout("f"), os.fstat(fd).st_size)
os.close(fd)
src = os.open("src", os.O_CREAT | os.O_RDWR, 0o644)
os.pwrite(src, bytes(range(256)) * 1024, 0)
os.pwrite(src, b"end", 1 << 20)
dst = os.open("dst", os.O_CREAT | os.O_RDWR, 0o644)
n = os.copy_file_range(src, dst, 300000, 1000, 5000)
# Contents only: the kernel copies the source's holes as zeros, the core keeps them holes.
print("copied", n, layout("dst", holes=False))
os.close(src); os.close(dst)
t = os.open(".", os.O_TMPFILE | os.O_RDWR, 0o600)
os.write(t, b"temporary")
print("tmpfile", os.pread(t, 100, 0), os.fstat(t).st_nlink, sorted(os.listdir(".")))
os.close(t)
# linkat(fd, "", AT_FDCWD, name, AT_EMPTY_PATH) of an O_TMPFILE descriptor names it;
# with O_EXCL it cannot be linked.
def linkfd(fd, name):
    if libc.linkat(fd, b"", -100, name.encode(), 0x1000) != 0:
        raise OSError(__import__("ctypes").get_errno(), name)
t = os.open(".", os.O_TMPFILE | os.O_RDWR, 0o640)
os.write(t, b"linked later")
linkfd(t, "fromtmp")
print("linked", os.fstat(t).st_nlink, open("fromtmp", "rb").read(), oct(os.stat("fromtmp").st_mode), sorted(os.listdir(".")))
os.close(t)
t = os.open(".", os.O_TMPFILE | os.O_RDWR | os.O_EXCL, 0o600)
try:
    linkfd(t, "never")
    print("excl linked")
except OSError as e:
    print("excl", errno.errorcode[e.errno])
os.close(t)
`)}`;
    const kernel = await onKernel(script);
    let ours = "";
    await onFresh([], async (mp) => {
      ours = await shOk(script(mp));
    });
    expect(ours).toBe(kernel);
    // FALLOC_FL_COLLAPSE_RANGE and INSERT_RANGE are not in the core: EOPNOTSUPP, nothing changed.
    await onFresh([], async (mp) => {
      expect(
        await errnoOf(`fallocate -l 64k ${mp}/c && fallocate -c -o 0 -l 4096 ${mp}/c`),
      ).toMatch(/not supported/i);
      expect(await shOk(`stat -c %s ${mp}/c`)).toBe("65536\n");
    });
  }, 60_000);
});

describe("-o sync", () => {
  it("has every change on the image before the call returns", async () => {
    const image = freshImage("ext4", 32 << 20);
    await withMount(image, ["sync"], async (_m, mp) => {
      await shOk(`mkdir ${mp}/d && echo written-through > ${mp}/d/f`);
      // Read the image behind the mount's back: debugfs sees what was written.
      expect(debugfsOut(image, "cat /d/f")).toBe("written-through\n");
    });
    expectClean(image);
  }, 60_000);
});

describe("read-only mounts", () => {
  it("answer EROFS to every change", async () => {
    const image = freshImage("ext4", 32 << 20);
    await withMount(image, [], async (_m, mp) => {
      await shOk(`mkdir ${mp}/d && echo x > ${mp}/f`);
    });
    await withMount(image, ["ro"], async (_m, mp) => {
      for (const cmd of [
        `touch ${mp}/new`,
        `mkdir ${mp}/new`,
        `rm ${mp}/f`,
        `rmdir ${mp}/d`,
        `mv ${mp}/f ${mp}/g`,
        `echo y >> ${mp}/f`,
        `chmod 600 ${mp}/f`,
        `setfattr -n user.a -v 1 ${mp}/f`,
        `ln -s a ${mp}/l`,
        `truncate -s 0 ${mp}/f`,
      ]) {
        expect(`${cmd}: ${await errnoOf(cmd)}`).toMatch(/Read-only file system/);
      }
      expect(await shOk(`cat ${mp}/f`)).toBe("x\n");
    });
    expectClean(image);
  }, 60_000);
});
