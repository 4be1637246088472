/**
 * ServeOptions.transientWrites: large WRITE requests reach the handler as a
 * view of one buffer the session reuses (no fresh copy per request); the
 * data must still arrive intact, and a handler that detaches the buffer
 * only sends the session back to copying.
 */
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FuseHandlers } from "./dispatch.js";
import { canMount, type Mounted, mountMemFs, teardown } from "./test-support/harness.js";
import { run } from "./test-support/run.js";

const mountable = canMount();

/** Records the ArrayBuffer and length of every WRITE's data; `detachAt` transfers the nth one. */
function observeWrites(seen: { buffer: ArrayBufferLike; length: number }[], detachAt = -1) {
  return (h: FuseHandlers): FuseHandlers => ({
    ...h,
    WRITE: (req, ctx) => {
      seen.push({ buffer: req.data.buffer, length: req.data.length });
      const reply = h.WRITE?.(req, ctx);
      if (seen.length - 1 === detachAt) {
        // Transferring an ArrayBuffer detaches it (its length becomes 0).
        const buffer = req.data.buffer as ArrayBuffer;
        structuredClone(buffer, { transfer: [buffer] });
        expect(buffer.byteLength).toBe(0);
      }
      return reply as never;
    },
  });
}

describe.skipIf(!mountable)("transientWrites (dispatch: inline)", () => {
  let m: Mounted | undefined;
  afterEach(async () => {
    await teardown(m);
    m = undefined;
  });

  async function writeAndCheck(mp: string, dir: string, data: Buffer): Promise<void> {
    const src = join(dir, "src.bin");
    writeFileSync(src, data);
    const dd = await run("dd", [`if=${src}`, `of=${mp}/f`, "bs=1M", "status=none"]);
    expect(dd.code, dd.stderr.toString()).toBe(0);
    const sum = await run("sha256sum", [`${mp}/f`]);
    expect(sum.stdout.toString().split(" ")[0]).toBe(
      createHash("sha256").update(data).digest("hex"),
    );
  }

  it("hands large writes over in one reused buffer, small ones as copies, the bytes intact", async () => {
    const seen: { buffer: ArrayBufferLike; length: number }[] = [];
    m = mountMemFs({
      serve: { dispatch: "inline", spinMicros: 50, transientWrites: true },
      wrap: observeWrites(seen),
    });
    const data = randomBytes(8 * 1024 * 1024 + 12_345);
    await writeAndCheck(m.mp, m.dir, data);
    const big = seen.filter((w) => w.length >= 64 * 1024);
    expect(big.length).toBeGreaterThanOrEqual(8);
    // Every large write came in the same buffer; the short tail write in a copy of its own.
    expect(new Set(big.map((w) => w.buffer)).size).toBe(1);
    const small = seen.filter((w) => w.length < 64 * 1024);
    expect(small.length).toBeGreaterThan(0);
    for (const w of small) expect(w.buffer).not.toBe(big[0]?.buffer);
  });

  it("copies as usual when off, and after a handler detaches the buffer", async () => {
    const off: { buffer: ArrayBufferLike; length: number }[] = [];
    m = mountMemFs({ serve: { dispatch: "inline", spinMicros: 50 }, wrap: observeWrites(off) });
    await writeAndCheck(m.mp, m.dir, randomBytes(4 * 1024 * 1024));
    expect(new Set(off.map((w) => w.buffer)).size).toBe(off.length);
    await teardown(m);

    const seen: { buffer: ArrayBufferLike; length: number }[] = [];
    m = mountMemFs({
      serve: { dispatch: "inline", spinMicros: 50, transientWrites: true },
      wrap: observeWrites(seen, 1),
    });
    const data = randomBytes(6 * 1024 * 1024);
    await writeAndCheck(m.mp, m.dir, data);
    expect(seen.length).toBeGreaterThanOrEqual(6);
    // Writes after the detached one each got a copy of their own, and were written intact.
    const after = seen.slice(2);
    expect(new Set(after.map((w) => w.buffer)).size).toBe(after.length);
  });
});
