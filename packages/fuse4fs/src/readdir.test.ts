/**
 * Directory listing: the htree cookie orders as (major, minor) hash does
 * (property), and on real mounts a reader that lists a directory in small
 * getdents64 chunks while entries are created and removed between the
 * chunks sees every entry that existed throughout exactly once, and no
 * entry twice — for htree, linear (no dir_index) and inline directories.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freshImage } from "../../core/src/test-support/rw.js";
import { hashCookie } from "./readdir.js";
import { expectClean, sh, shOk, withMount } from "./test-support/harness.js";

describe("hashCookie", () => {
  it("is below 2^53 and orders as (major, minor) at its precision", () => {
    const hash = fc.integer({ min: 0, max: 0xffffffff }).map((h) => h & (~1 >>> 0));
    fc.assert(
      fc.property(hash, fc.nat(0xffffffff), hash, fc.nat(0xffffffff), (a, am, b, bm) => {
        const ca = hashCookie(a >>> 0, am);
        const cb = hashCookie(b >>> 0, bm);
        expect(Number.isSafeInteger(ca) && ca > 2).toBe(true);
        if (a >>> 0 < b >>> 0) expect(ca).toBeLessThan(cb);
        if (a >>> 0 === b >>> 0 && am >>> 11 < bm >>> 11) expect(ca).toBeLessThan(cb);
      }),
    );
  });
});

/** Lists `dir` in 512-byte getdents64 chunks; between chunks removes and creates entries. */
const READER = String.raw`
import os, sys, ctypes
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]
per = int(sys.argv[2])
present = set(os.listdir(d))
fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
buf = ctypes.create_string_buffer(512)
seen = []
removed = set()
created = set()
step = 0
victims = sorted(present)
while True:
    n = libc.syscall(217, fd, buf, 512)
    if n < 0: raise OSError(ctypes.get_errno(), "getdents64")
    if n == 0: break
    off = 0
    while off < n:
        reclen = int.from_bytes(buf.raw[off + 16:off + 18], "little")
        name = buf.raw[off + 19:off + reclen].split(b"\0", 1)[0].decode()
        if name not in (".", ".."): seen.append(name)
        off += reclen
    # Change the directory between chunks: drop an entry from the far end, add new ones.
    if victims:
        v = victims.pop()
        os.unlink(os.path.join(d, v)); removed.add(v)
    for k in range(per):
        c = "new-%d-%d" % (step, k)
        open(os.path.join(d, c), "w").close(); created.add(c)
    step += 1
os.close(fd)
stable = present - removed
dups = sorted({x for x in seen if seen.count(x) > 1})
missing = sorted(stable - set(seen))
print(len(stable), len(missing), len(dups), step > 3, missing[:5], dups[:5])
`;

async function churnList(dirPath: string, perStep: number): Promise<string> {
  const r = await sh(`python3 -c '${READER}' ${dirPath} ${perStep}`, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

describe("readdir while the directory changes", () => {
  for (const [label, kind, count, perStep, extra] of [
    ["htree", "ext4", 2000, 2, []],
    ["linear (no dir_index)", "ext2", 400, 2, ["-O", "^dir_index"]],
    // One block of entries, then 40 more per chunk: the directory grows an index mid-listing.
    ["linear turning into an htree", "ext4", 60, 40, []],
    ["inline", "ext4-inline", 3, 2, []],
  ] as const) {
    it(`${label}: entries present throughout are listed once, none twice`, async () => {
      const image = freshImage(kind, 64 << 20, [...extra]);
      await withMount(image, [], async (_m, mp) => {
        await shOk(
          `mkdir ${mp}/d && cd ${mp}/d && i=0; while [ $i -lt ${count} ]; do : > "entry-with-a-longish-name-$i"; i=$((i+1)); done`,
          { timeoutMs: 120_000 },
        );
        const out = await churnList(`${mp}/d`, perStep);
        const stable = Number(out.split(" ")[0]);
        expect(stable).toBeGreaterThan(count / 2);
        expect(out).toBe(
          `${stable} 0 0 True [] []`.replace(" True", count > 10 ? " True" : " False"),
        );
        // The index flag (I) shows the directory was (or became) an htree.
        const flags = (await shOk(`lsattr -d ${mp}/d`)).split(" ")[0] ?? "";
        expect(flags.includes("I")).toBe(label.includes("htree"));
      });
      expectClean(image);
    }, 120_000);
  }
});
