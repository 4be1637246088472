import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  fuse_attr_out_head,
  fuse_forget_in,
  fuse_getattr_in,
  fuse_init_in,
  fuse_init_out,
  fuse_interrupt_in,
  fuse_read_in,
  fuse_write_in,
  InitFlag,
  Opcode,
} from "./abi.js";
import { DEFAULT_INIT_FLAGS, Dispatcher, type FuseHandlers, negotiateInit } from "./dispatch.js";
import { ERRNO, errnoOfError, FuseErrno } from "./errors.js";
import type { FuseRequest, ReplyData } from "./protocol.js";
import { request } from "./test-support/builder.js";

interface Reply {
  channel: number;
  unique: number;
  errno: number;
  data: Uint8Array | undefined;
}

function flat(d: ReplyData | undefined): Uint8Array | undefined {
  if (d === undefined || d instanceof Uint8Array) return d;
  return Buffer.concat(d.map((p) => Buffer.from(p)));
}

const attr = {
  ino: 1,
  size: 0,
  blocks: 0,
  atime: 0,
  mtime: 0,
  ctime: 0,
  mode: 0o40755,
  nlink: 2,
  uid: 0,
  gid: 0,
};
const KERNEL_FLAGS = 0x73fffffbn | (0x7ffn << 32n);

function initRequest(unique = 1, flags = KERNEL_FLAGS, minor = 45): Uint8Array {
  return request("INIT", { unique })
    .struct(fuse_init_in, {
      major: 7,
      minor,
      maxReadahead: 131072,
      flags: Number(flags & 0xffffffffn),
      flags2: Number(flags >> 32n),
    })
    .build();
}

function setup(handlers: FuseHandlers, opts: ConstructorParameters<typeof Dispatcher>[2] = {}) {
  const replies: Reply[] = [];
  const logs: string[] = [];
  const d = new Dispatcher(
    handlers,
    (channel, unique, errno, data) => replies.push({ channel, unique, errno, data: flat(data) }),
    {
      log: (l) => logs.push(l),
      ...opts,
    },
  );
  return { d, replies, logs };
}

function dataOf(r: Reply | undefined): DataView {
  if (r?.data === undefined) throw new Error("reply without data");
  return new DataView(r.data.buffer, r.data.byteOffset, r.data.byteLength);
}

const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

describe("Dispatcher", () => {
  it("accepts only INIT before the handshake, then negotiates from TS", () => {
    const { d, replies, logs } = setup({ GETATTR: () => ({ attrValid: 1, attr }) });
    d.handle(0, request("GETATTR", { unique: 4 }).struct(fuse_getattr_in, {}).build());
    expect(replies.pop()).toMatchObject({ unique: 4, errno: ERRNO.EIO });
    expect(logs[0]).toMatch(/before INIT/);
    d.handle(1, initRequest(2));
    const r = replies.pop();
    expect(r).toMatchObject({ channel: 1, unique: 2, errno: 0 });
    const out = fuse_init_out.decode(dataOf(r), 0);
    expect(out).toMatchObject({
      major: 7,
      minor: 45,
      maxWrite: 1 << 20,
      maxPages: 256,
      timeGran: 1,
      maxReadahead: 131072,
    });
    const flags = BigInt(out.flags) | (BigInt(out.flags2) << 32n);
    expect(flags).toBe(DEFAULT_INIT_FLAGS & KERNEL_FLAGS);
    expect(d.init?.maxWrite).toBe(1 << 20);
    // A second INIT is refused.
    d.handle(0, initRequest(6));
    expect(replies.pop()).toMatchObject({ unique: 6, errno: ERRNO.EIO });
    d.handle(0, request("GETATTR", { unique: 8 }).struct(fuse_getattr_in, {}).build());
    expect(replies.pop()).toMatchObject({ unique: 8, errno: 0 });
  });

  it("clamps max_write to the session's buffers and keeps only flags the kernel offers", () => {
    const wanted =
      InitFlag.WRITEBACK_CACHE | InitFlag.POSIX_ACL | InitFlag.PASSTHROUGH | InitFlag.MAX_PAGES;
    const { d, replies } = setup(
      {},
      { maxWrite: 256 * 1024, init: { flags: wanted, maxWrite: 4 << 20 } },
    );
    d.handle(0, initRequest(2, InitFlag.WRITEBACK_CACHE | InitFlag.MAX_PAGES | InitFlag.INIT_EXT));
    const out = fuse_init_out.decode(dataOf(replies[0]), 0);
    expect(out.maxWrite).toBe(256 * 1024);
    expect(out.maxPages).toBe(64);
    expect(BigInt(out.flags)).toBe(
      InitFlag.WRITEBACK_CACHE | InitFlag.MAX_PAGES | InitFlag.INIT_EXT,
    );
    // A custom INIT handler's reply is clamped the same way.
    const c = setup(
      { INIT: (req) => ({ ...negotiateInit(req, {}, 1 << 30), maxWrite: 1 << 30 }) },
      { maxWrite: 1 << 20 },
    );
    c.d.handle(0, initRequest());
    expect(fuse_init_out.decode(dataOf(c.replies[0]), 0).maxWrite).toBe(1 << 20);
  });

  it("answers ENOSYS for unknown opcodes and missing handlers, EIO for short payloads", () => {
    const { d, replies, logs } = setup({});
    d.handle(0, initRequest());
    d.handle(0, request(4000, { unique: 10 }).build());
    d.handle(0, request("MKDIR", { unique: 12 }).cstr("x").build());
    d.handle(0, request("LOOKUP", { unique: 14 }).cstr("x").build());
    d.handle(0, request("READ", { unique: 16 }).bytes(new Uint8Array(39)).build());
    d.handle(0, request("LOOKUP", { unique: 18 }).cstr("x").len(100).build());
    expect(replies.slice(1).map((r) => [r.unique, r.errno])).toEqual([
      [10, ERRNO.ENOSYS],
      [12, ERRNO.EIO],
      [14, ERRNO.ENOSYS],
      [16, ERRNO.EIO],
      [18, ERRNO.EIO],
    ]);
    expect(logs.filter((l) => l.startsWith("malformed")).length).toBe(4);
  });

  it("turns thrown errors into errnos in one place; unexpected ones are EIO and logged", async () => {
    const { d, replies, logs } = setup({
      LOOKUP: (req) => {
        const n = Buffer.from(req.name).toString();
        if (n === "errno") throw new FuseErrno("ENOENT");
        if (n === "core") throw Object.assign(new Error("corrupt"), { errno: "EUCLEAN" });
        if (n === "node") throw Object.assign(new Error("x"), { code: "EACCES" });
        if (n === "async") return Promise.reject(new FuseErrno("ENAMETOOLONG"));
        throw new TypeError("bug");
      },
    });
    d.handle(0, initRequest());
    for (const [i, n] of ["errno", "core", "node", "async", "bug"].entries()) {
      d.handle(
        0,
        request("LOOKUP", { unique: 100 + i * 2 })
          .cstr(n)
          .build(),
      );
    }
    await tick();
    const byUnique = Object.fromEntries(replies.slice(1).map((r) => [r.unique, r.errno]));
    expect(byUnique).toEqual({
      100: ERRNO.ENOENT,
      102: ERRNO.EUCLEAN,
      104: ERRNO.EACCES,
      106: ERRNO.ENAMETOOLONG,
      108: ERRNO.EIO,
    });
    expect(logs.some((l) => l.includes("TypeError: bug"))).toBe(true);
  });

  it("replies to async handlers whenever they finish, on the request's channel", async () => {
    const { d, replies } = setup({
      READ: async (req) => {
        await new Promise((r) => setTimeout(r, 20 - req.offset));
        return [Buffer.from("ab"), Buffer.from(String(req.offset))];
      },
    });
    d.handle(0, initRequest());
    d.handle(
      3,
      request("READ", { unique: 20 }).struct(fuse_read_in, { offset: 0, size: 10 }).build(),
    );
    d.handle(
      5,
      request("READ", { unique: 22 }).struct(fuse_read_in, { offset: 15, size: 10 }).build(),
    );
    expect(d.inFlight).toBe(2);
    await new Promise((r) => setTimeout(r, 40));
    expect(
      replies.slice(1).map((r) => [r.channel, r.unique, Buffer.from(r.data ?? []).toString()]),
    ).toEqual([
      [5, 22, "ab15"],
      [3, 20, "ab0"],
    ]);
    expect(d.inFlight).toBe(0);
  });

  it("never replies to FORGET, BATCH_FORGET, INTERRUPT, NOTIFY_REPLY, even when they fail", () => {
    const seen: string[] = [];
    const { d, replies } = setup({
      FORGET: (r) => {
        seen.push(`forget ${r.nlookup}`);
        throw new Error("ignored");
      },
    });
    d.handle(0, initRequest());
    d.handle(0, request("FORGET", { unique: 30 }).struct(fuse_forget_in, { nlookup: 2 }).build());
    d.handle(0, request("FORGET", { unique: 31 }).build());
    d.handle(
      0,
      request("INTERRUPT", { unique: 33 }).struct(fuse_interrupt_in, { unique: 1 }).build(),
    );
    d.handle(0, request("BATCH_FORGET", { unique: 35 }).bytes(new Uint8Array(8)).build());
    expect(seen).toEqual(["forget 2"]);
    expect(replies.length).toBe(1);
  });

  it("aborts the signal of an async request the kernel interrupts", async () => {
    let aborted = false;
    const { d, replies } = setup({
      GETATTR: (_req, ctx) =>
        new Promise((_resolve, reject) => {
          ctx.signal.addEventListener("abort", () => {
            aborted = true;
            reject(new FuseErrno("EINTR"));
          });
        }),
    });
    d.handle(0, initRequest());
    d.handle(2, request("GETATTR", { unique: 40 }).struct(fuse_getattr_in, {}).build());
    d.handle(
      1,
      request("INTERRUPT", { unique: 41 }).struct(fuse_interrupt_in, { unique: 40 }).build(),
    );
    await tick();
    expect(aborted).toBe(true);
    expect(replies.pop()).toMatchObject({ channel: 2, unique: 40, errno: ERRNO.EINTR });
  });

  it("encodes replies: attr_out for GETATTR, write_out for WRITE, ERANGE for a too-small xattr buffer", () => {
    const { d, replies } = setup({
      GETATTR: () => ({ attrValid: 2.25, attr }),
      WRITE: (req: FuseRequest<"WRITE">) => ({ size: req.data.length }),
      GETXATTR: () => Buffer.from("0123456789"),
    });
    d.handle(0, initRequest());
    d.handle(0, request("GETATTR", { unique: 50 }).struct(fuse_getattr_in, {}).build());
    expect(fuse_attr_out_head.decode(dataOf(replies.pop()), 0)).toEqual({
      attrValid: 2,
      attrValidNsec: 250_000_000,
    });
    d.handle(
      0,
      request("WRITE", { unique: 52 })
        .struct(fuse_write_in, { size: 3 })
        .bytes(Buffer.from("xyz"))
        .build(),
    );
    expect([...(replies.pop()?.data ?? [])]).toEqual([3, 0, 0, 0, 0, 0, 0, 0]);
    d.handle(
      0,
      request("GETXATTR", { unique: 54 })
        .bytes(new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0]))
        .cstr("user.a")
        .build(),
    );
    expect(replies.pop()).toMatchObject({ unique: 54, errno: ERRNO.ERANGE });
    d.handle(
      0,
      request("GETXATTR", { unique: 56 }).bytes(new Uint8Array(8)).cstr("user.a").build(),
    );
    expect([...(replies.pop()?.data ?? [])]).toEqual([10, 0, 0, 0, 0, 0, 0, 0]);
  });

  it("survives arbitrary bytes: at most one reply, never a throw", () => {
    const { d, replies } = setup({
      LOOKUP: () => ({ nodeid: 2, entryValid: 1, attrValid: 1, attr }),
    });
    d.handle(0, initRequest());
    fc.assert(
      fc.property(
        fc.constantFrom(...Object.values(Opcode), 0, 999),
        fc.uint8Array({ maxLength: 200 }),
        (opcode, body) => {
          const before = replies.length;
          d.handle(0, request(opcode, { unique: 1000 }).bytes(body).build());
          expect(replies.length - before).toBeLessThanOrEqual(1);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("errnoOfError", () => {
  it("maps FuseErrno, errno-name objects and Node system errors; anything else is unexpected EIO", () => {
    expect(errnoOfError(new FuseErrno("ENOTDIR"))).toEqual({
      errno: ERRNO.ENOTDIR,
      unexpected: false,
    });
    expect(errnoOfError({ errno: "ENOSPC" })).toEqual({ errno: ERRNO.ENOSPC, unexpected: false });
    expect(errnoOfError(Object.assign(new Error(), { code: "EEXIST" }))).toEqual({
      errno: ERRNO.EEXIST,
      unexpected: false,
    });
    expect(errnoOfError(new Error("?"))).toEqual({ errno: ERRNO.EIO, unexpected: true });
    expect(errnoOfError("string")).toEqual({ errno: ERRNO.EIO, unexpected: true });
    expect(() => new FuseErrno("ENOTANERRNO")).toThrow(/unknown errno/);
  });
});

describe("errno table", () => {
  it("agrees with Node's table wherever Node has the name, and knows EUCLEAN", async () => {
    const { constants } = await import("node:os");
    for (const [name, n] of Object.entries(constants.errno))
      expect(`${name}=${ERRNO[name]}`).toBe(`${name}=${n}`);
    expect(ERRNO.EUCLEAN).toBe(117);
    expect(ERRNO.EBADMSG).toBe(74);
  });
});
