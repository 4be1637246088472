import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  FUSE_ENTRY_OUT_SIZE,
  FUSE_EXT_GROUPS,
  fuse_access_in,
  fuse_attr,
  fuse_batch_forget_in,
  fuse_bmap_in,
  fuse_copy_file_range_in,
  fuse_create_in,
  fuse_dirent,
  fuse_entry_out_head,
  fuse_ext_header,
  fuse_fallocate_in,
  fuse_file_lock,
  fuse_flush_in,
  fuse_forget_in,
  fuse_forget_one,
  fuse_fsync_in,
  fuse_getattr_in,
  fuse_getxattr_in,
  fuse_init_in,
  fuse_init_out,
  fuse_interrupt_in,
  fuse_ioctl_in,
  fuse_ioctl_out,
  fuse_link_in,
  fuse_lk_in_head,
  fuse_lk_in_tail,
  fuse_lseek_in,
  fuse_mkdir_in,
  fuse_mknod_in,
  fuse_notify_retrieve_in,
  fuse_open_in,
  fuse_poll_in,
  fuse_read_in,
  fuse_release_in,
  fuse_removemapping_in,
  fuse_removemapping_one,
  fuse_rename_in,
  fuse_rename2_in,
  fuse_secctx,
  fuse_setattr_in,
  fuse_setupmapping_in,
  fuse_statx_in,
  fuse_syncfs_in,
  fuse_write_in,
  InitFlag,
  Opcode,
  type OpName,
} from "./abi.js";
import { FuseProtocolError } from "./errors.js";
import {
  DirentBuffer,
  DirentPlusBuffer,
  decodeRequest,
  encodeAttrOut,
  encodeCreateOut,
  encodeEntryOut,
  encodeInitOut,
  encodeIoctlOut,
  encodeStatxOut,
  type FuseRequest,
  OPS,
  type ProtocolState,
} from "./protocol.js";
import { request } from "./test-support/builder.js";

const plain: ProtocolState = { setxattrExt: false };
const ext: ProtocolState = { setxattrExt: true };
const text = (b: Uint8Array): string => Buffer.from(b).toString();

function decode<K extends OpName>(op: K, bytes: Uint8Array, state = plain): FuseRequest<K> {
  const r = decodeRequest(bytes, state);
  expect(r.op).toBe(op);
  return r as FuseRequest<K>;
}

const LOCK = { start: 10n, end: 0x7fffffffffffffffn, type: 1, pid: 42 };
const READ_IN = {
  fh: 7,
  offset: 2 ** 40,
  size: 131072,
  readFlags: 2,
  lockOwner: 2n ** 63n + 5n,
  flags: 0o100002,
};

/** One request per opcode, built like the kernel builds it, and what it must decode to. */
const CASES: {
  [K in OpName]: {
    build: () => Uint8Array;
    check: (r: FuseRequest<K>) => void;
    state?: ProtocolState;
  };
} = {
  LOOKUP: {
    build: () => request("LOOKUP").cstr("name").build(),
    check: (r) => expect(text(r.name)).toBe("name"),
  },
  FORGET: {
    build: () => request("FORGET", { nodeid: 9 }).struct(fuse_forget_in, { nlookup: 3 }).build(),
    check: (r) => expect([r.header.nodeid, r.nlookup]).toEqual([9, 3]),
  },
  GETATTR: {
    build: () => request("GETATTR").struct(fuse_getattr_in, { getattrFlags: 1, fh: 5 }).build(),
    check: (r) => expect([r.getattrFlags, r.fh]).toEqual([1, 5]),
  },
  SETATTR: {
    build: () =>
      request("SETATTR")
        .struct(fuse_setattr_in, {
          valid: 0x39,
          size: 12345,
          atime: -100,
          mtimensec: 999,
          mode: 0o644,
          uid: 7,
          gid: 8,
          lockOwner: 3n,
        })
        .build(),
    check: (r) => {
      expect([r.valid, r.size, r.atime, r.mtimensec, r.mode, r.uid, r.gid]).toEqual([
        0x39, 12345, -100, 999, 0o644, 7, 8,
      ]);
      expect(r.lockOwner).toBe(3n);
    },
  },
  READLINK: {
    build: () => request("READLINK").build(),
    check: (r) => expect(r.op).toBe("READLINK"),
  },
  SYMLINK: {
    build: () => request("SYMLINK").cstr("link").cstr("../target").build(),
    check: (r) => expect([text(r.name), text(r.target)]).toEqual(["link", "../target"]),
  },
  MKNOD: {
    build: () =>
      request("MKNOD")
        .struct(fuse_mknod_in, { mode: 0o10644, rdev: 0x0801, umask: 0o22 })
        .cstr("fifo")
        .build(),
    check: (r) =>
      expect([r.mode, r.rdev, r.umask, text(r.name)]).toEqual([0o10644, 0x0801, 0o22, "fifo"]),
  },
  MKDIR: {
    build: () =>
      request("MKDIR").struct(fuse_mkdir_in, { mode: 0o755, umask: 0o22 }).cstr("d").build(),
    check: (r) => expect([r.mode, r.umask, text(r.name)]).toEqual([0o755, 0o22, "d"]),
  },
  UNLINK: {
    build: () => request("UNLINK").cstr("u").build(),
    check: (r) => expect(text(r.name)).toBe("u"),
  },
  RMDIR: {
    build: () => request("RMDIR").cstr("r").build(),
    check: (r) => expect(text(r.name)).toBe("r"),
  },
  RENAME: {
    build: () =>
      request("RENAME").struct(fuse_rename_in, { newdir: 77 }).cstr("old").cstr("new").build(),
    check: (r) => expect([r.newdir, text(r.name), text(r.newName)]).toEqual([77, "old", "new"]),
  },
  LINK: {
    build: () => request("LINK").struct(fuse_link_in, { oldnodeid: 12 }).cstr("hard").build(),
    check: (r) => expect([r.oldnodeid, text(r.name)]).toEqual([12, "hard"]),
  },
  OPEN: {
    build: () => request("OPEN").struct(fuse_open_in, { flags: 0o1101, openFlags: 1 }).build(),
    check: (r) => expect([r.flags, r.openFlags]).toEqual([0o1101, 1]),
  },
  READ: {
    build: () => request("READ").struct(fuse_read_in, READ_IN).build(),
    check: (r) =>
      expect({ ...r, op: undefined, header: undefined, ext: undefined }).toMatchObject(READ_IN),
  },
  WRITE: {
    build: () =>
      request("WRITE")
        .struct(fuse_write_in, { fh: 1, offset: 4096, size: 5, writeFlags: 4 })
        .bytes(Buffer.from("hello"))
        .build(),
    check: (r) =>
      expect([r.offset, r.size, r.writeFlags, text(r.data)]).toEqual([4096, 5, 4, "hello"]),
  },
  STATFS: {
    build: () => request("STATFS").build(),
    check: (r) => expect(r.header.opcode).toBe(Opcode.STATFS),
  },
  RELEASE: {
    build: () =>
      request("RELEASE")
        .struct(fuse_release_in, { fh: 3, flags: 2, releaseFlags: 1, lockOwner: 9n })
        .build(),
    check: (r) => expect([r.fh, r.flags, r.releaseFlags, r.lockOwner]).toEqual([3, 2, 1, 9n]),
  },
  FSYNC: {
    build: () => request("FSYNC").struct(fuse_fsync_in, { fh: 4, fsyncFlags: 1 }).build(),
    check: (r) => expect([r.fh, r.fsyncFlags]).toEqual([4, 1]),
  },
  SETXATTR: {
    state: ext,
    build: () =>
      request("SETXATTR")
        .bytes(new Uint8Array([3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]))
        .cstr("user.k")
        .bytes(Buffer.from("v\0w"))
        .build(),
    check: (r) =>
      expect([r.size, r.flags, r.setxattrFlags, text(r.name), [...r.value]]).toEqual([
        3,
        1,
        1,
        "user.k",
        [118, 0, 119],
      ]),
  },
  GETXATTR: {
    build: () => request("GETXATTR").struct(fuse_getxattr_in, { size: 64 }).cstr("user.x").build(),
    check: (r) => expect([r.size, text(r.name)]).toEqual([64, "user.x"]),
  },
  LISTXATTR: {
    build: () => request("LISTXATTR").struct(fuse_getxattr_in, { size: 0 }).build(),
    check: (r) => expect(r.size).toBe(0),
  },
  REMOVEXATTR: {
    build: () => request("REMOVEXATTR").cstr("user.y").build(),
    check: (r) => expect(text(r.name)).toBe("user.y"),
  },
  FLUSH: {
    build: () =>
      request("FLUSH")
        .struct(fuse_flush_in, { fh: 6, lockOwner: 2n ** 64n - 1n })
        .build(),
    check: (r) => expect([r.fh, r.lockOwner]).toEqual([6, 2n ** 64n - 1n]),
  },
  INIT: {
    build: () =>
      request("INIT")
        .struct(fuse_init_in, {
          major: 7,
          minor: 45,
          maxReadahead: 131072,
          flags: 0x73fffffb,
          flags2: 0x7ff,
        })
        .build(),
    check: (r) => {
      expect([r.major, r.minor, r.maxReadahead]).toEqual([7, 45, 131072]);
      expect(r.flags).toBe(0x73fffffbn | (0x7ffn << 32n));
      expect(r.flags & InitFlag.SECURITY_CTX).toBe(InitFlag.SECURITY_CTX);
    },
  },
  OPENDIR: {
    build: () => request("OPENDIR").struct(fuse_open_in, { flags: 0o200000 }).build(),
    check: (r) => expect(r.flags).toBe(0o200000),
  },
  READDIR: {
    build: () => request("READDIR").struct(fuse_read_in, { fh: 2, offset: 3, size: 4096 }).build(),
    check: (r) => expect([r.fh, r.offset, r.size]).toEqual([2, 3, 4096]),
  },
  RELEASEDIR: {
    build: () => request("RELEASEDIR").struct(fuse_release_in, { fh: 2 }).build(),
    check: (r) => expect(r.fh).toBe(2),
  },
  FSYNCDIR: {
    build: () => request("FSYNCDIR").struct(fuse_fsync_in, { fh: 2, fsyncFlags: 0 }).build(),
    check: (r) => expect(r.fh).toBe(2),
  },
  GETLK: {
    build: () =>
      request("GETLK")
        .struct(fuse_lk_in_head, { fh: 1, owner: 99n })
        .struct(fuse_file_lock, LOCK)
        .struct(fuse_lk_in_tail, { lkFlags: 1 })
        .build(),
    check: (r) => expect([r.fh, r.owner, r.lk, r.lkFlags]).toEqual([1, 99n, LOCK, 1]),
  },
  SETLK: {
    build: () =>
      request("SETLK")
        .struct(fuse_lk_in_head, { fh: 1 })
        .struct(fuse_file_lock, LOCK)
        .struct(fuse_lk_in_tail, {})
        .build(),
    check: (r) => expect(r.lk).toEqual(LOCK),
  },
  SETLKW: {
    build: () =>
      request("SETLKW")
        .struct(fuse_lk_in_head, { fh: 1 })
        .struct(fuse_file_lock, LOCK)
        .struct(fuse_lk_in_tail, {})
        .build(),
    check: (r) => expect(r.lk.end).toBe(0x7fffffffffffffffn),
  },
  ACCESS: {
    build: () => request("ACCESS").struct(fuse_access_in, { mask: 4 }).build(),
    check: (r) => expect(r.mask).toBe(4),
  },
  CREATE: {
    build: () =>
      request("CREATE")
        .struct(fuse_create_in, { flags: 0o101, mode: 0o100644, umask: 0o22, openFlags: 1 })
        .cstr("new")
        .build(),
    check: (r) =>
      expect([r.flags, r.mode, r.umask, r.openFlags, text(r.name)]).toEqual([
        0o101,
        0o100644,
        0o22,
        1,
        "new",
      ]),
  },
  INTERRUPT: {
    build: () =>
      request("INTERRUPT", { unique: 9 }).struct(fuse_interrupt_in, { unique: 8 }).build(),
    check: (r) => expect([r.header.unique, r.unique]).toEqual([9, 8]),
  },
  BMAP: {
    build: () => request("BMAP").struct(fuse_bmap_in, { block: 17, blocksize: 4096 }).build(),
    check: (r) => expect([r.block, r.blocksize]).toEqual([17, 4096]),
  },
  DESTROY: { build: () => request("DESTROY").build(), check: (r) => expect(r.op).toBe("DESTROY") },
  IOCTL: {
    build: () =>
      request("IOCTL")
        .struct(fuse_ioctl_in, {
          fh: 1,
          flags: 16,
          cmd: 0x8008661f,
          arg: 0x7ffe0000n,
          inSize: 2,
          outSize: 8,
        })
        .bytes(new Uint8Array([1, 2]))
        .build(),
    check: (r) =>
      expect([r.cmd, r.arg, r.inSize, r.outSize, [...r.data]]).toEqual([
        0x8008661f,
        0x7ffe0000n,
        2,
        8,
        [1, 2],
      ]),
  },
  POLL: {
    build: () =>
      request("POLL")
        .struct(fuse_poll_in, { fh: 1, kh: 2n ** 40n, flags: 1, events: 5 })
        .build(),
    check: (r) => expect([r.kh, r.flags, r.events]).toEqual([2n ** 40n, 1, 5]),
  },
  NOTIFY_REPLY: {
    build: () =>
      request("NOTIFY_REPLY")
        .struct(fuse_notify_retrieve_in, { offset: 4096, size: 3 })
        .bytes(Buffer.from("abc"))
        .build(),
    check: (r) => expect([r.offset, r.size, text(r.data)]).toEqual([4096, 3, "abc"]),
  },
  BATCH_FORGET: {
    build: () =>
      request("BATCH_FORGET")
        .struct(fuse_batch_forget_in, { count: 2 })
        .struct(fuse_forget_one, { nodeid: 5, nlookup: 1 })
        .struct(fuse_forget_one, { nodeid: 6, nlookup: 2 })
        .build(),
    check: (r) =>
      expect(r.forgets).toEqual([
        { nodeid: 5, nlookup: 1 },
        { nodeid: 6, nlookup: 2 },
      ]),
  },
  FALLOCATE: {
    build: () =>
      request("FALLOCATE")
        .struct(fuse_fallocate_in, { fh: 1, offset: 8192, length: 1 << 20, mode: 3 })
        .build(),
    check: (r) => expect([r.offset, r.length, r.mode]).toEqual([8192, 1 << 20, 3]),
  },
  READDIRPLUS: {
    build: () =>
      request("READDIRPLUS").struct(fuse_read_in, { fh: 2, offset: 0, size: 4096 }).build(),
    check: (r) => expect(r.size).toBe(4096),
  },
  RENAME2: {
    build: () =>
      request("RENAME2")
        .struct(fuse_rename2_in, { newdir: 3, flags: 2 })
        .cstr("a")
        .cstr("b")
        .build(),
    check: (r) =>
      expect([r.newdir, r.flags, text(r.name), text(r.newName)]).toEqual([3, 2, "a", "b"]),
  },
  LSEEK: {
    build: () => request("LSEEK").struct(fuse_lseek_in, { fh: 1, offset: 100, whence: 3 }).build(),
    check: (r) => expect([r.offset, r.whence]).toEqual([100, 3]),
  },
  COPY_FILE_RANGE: {
    build: () => {
      const b = request("COPY_FILE_RANGE")
        .struct(fuse_copy_file_range_in, {
          fhIn: 1,
          offIn: 2,
          nodeidOut: 3,
          fhOut: 4,
          offOut: 5,
          flags: 0n,
        })
        .build();
      // len = 2^63 - 1 (copy "everything"): clamped, not refused.
      new DataView(b.buffer).setBigUint64(40 + 40, 2n ** 63n - 1n, true);
      return b;
    },
    check: (r) =>
      expect([r.fhIn, r.offIn, r.nodeidOut, r.fhOut, r.offOut, r.len]).toEqual([
        1,
        2,
        3,
        4,
        5,
        Number.MAX_SAFE_INTEGER,
      ]),
  },
  COPY_FILE_RANGE_64: {
    build: () =>
      request("COPY_FILE_RANGE_64")
        .struct(fuse_copy_file_range_in, { len: 1 << 30 })
        .build(),
    check: (r) => expect(r.len).toBe(1 << 30),
  },
  SETUPMAPPING: {
    build: () =>
      request("SETUPMAPPING")
        .struct(fuse_setupmapping_in, { fh: 1, foffset: 2, len: 3, flags: 1n, moffset: 4 })
        .build(),
    check: (r) => expect([r.foffset, r.len, r.flags, r.moffset]).toEqual([2, 3, 1n, 4]),
  },
  REMOVEMAPPING: {
    build: () =>
      request("REMOVEMAPPING")
        .struct(fuse_removemapping_in, { count: 1 })
        .struct(fuse_removemapping_one, { moffset: 8, len: 9 })
        .build(),
    check: (r) => expect(r.mappings).toEqual([{ moffset: 8, len: 9 }]),
  },
  SYNCFS: {
    build: () => request("SYNCFS").struct(fuse_syncfs_in, {}).build(),
    check: (r) => expect(r.op).toBe("SYNCFS"),
  },
  TMPFILE: {
    build: () =>
      request("TMPFILE")
        .struct(fuse_create_in, { flags: 0o20200002, mode: 0o100600 })
        .cstr("/")
        .build(),
    check: (r) => expect([r.mode, text(r.name)]).toEqual([0o100600, "/"]),
  },
  STATX: {
    build: () =>
      request("STATX")
        .struct(fuse_statx_in, { getattrFlags: 1, fh: 3, sxFlags: 0x800, sxMask: 0xfff })
        .build(),
    check: (r) => expect([r.getattrFlags, r.fh, r.sxFlags, r.sxMask]).toEqual([1, 3, 0x800, 0xfff]),
  },
};

describe("request decoding", () => {
  it("covers every opcode of protocol 7.45 in the table", () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(Opcode).sort());
    expect(Object.keys(OPS).sort()).toEqual(Object.keys(Opcode).sort());
    for (const [name, spec] of Object.entries(OPS))
      expect(spec.opcode).toBe(Opcode[name as OpName]);
    const noReply = Object.values(OPS)
      .filter((s) => s.noReply)
      .map((s) => s.name)
      .sort();
    expect(noReply).toEqual(["BATCH_FORGET", "FORGET", "INTERRUPT", "NOTIFY_REPLY"]);
  });

  for (const op of Object.keys(CASES) as OpName[]) {
    it(`decodes ${op}`, () => {
      const c = CASES[op] as {
        build: () => Uint8Array;
        check: (r: FuseRequest) => void;
        state?: ProtocolState;
      };
      const bytes = c.build();
      const r = decode(op, bytes, c.state ?? plain);
      expect(r.header.len).toBe(bytes.length);
      c.check(r);
      // Every byte short of the minimum is refused with EIO, not misread.
      const min = OPS[op].minIn;
      if (min > 0) {
        const short = request(op)
          .bytes(bytes.subarray(40, 40 + min - 1))
          .build();
        expect(() => decodeRequest(short, c.state ?? plain)).toThrow(FuseProtocolError);
      }
    });
  }

  it("reads the 8-byte setxattr_in unless FUSE_SETXATTR_EXT was negotiated", () => {
    const b = request("SETXATTR")
      .bytes(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0]))
      .cstr("user.a")
      .bytes(Buffer.from("hi"))
      .build();
    const r = decode("SETXATTR", b, plain);
    expect([r.size, r.setxattrFlags, text(r.name), text(r.value)]).toEqual([2, 0, "user.a", "hi"]);
  });

  it("ignores flags2 without FUSE_INIT_EXT and accepts the 16-byte compat init_in", () => {
    const b = request("INIT")
      .bytes(fuse_init_in.toBytes({ major: 7, minor: 31, flags: 1, flags2: 5 }).subarray(0, 16))
      .build();
    const r = decode("INIT", b);
    expect(r.flags).toBe(1n);
  });

  it("decodes security-context and supplementary-group extensions", () => {
    const name = Buffer.from("security.selinux\0");
    const value = Buffer.from("ctx\0");
    const secBody = new Uint8Array(8 + 8 + name.length + value.length);
    const sdv = new DataView(secBody.buffer);
    fuse_ext_header.encode({ size: secBody.length, type: 1 }, sdv, 0);
    fuse_secctx.encode({ size: value.length }, sdv, 8);
    secBody.set(name, 16);
    secBody.set(value, 16 + name.length);
    const groups = new Uint8Array(8 + 4 + 8);
    const gdv = new DataView(groups.buffer);
    fuse_ext_header.encode({ size: groups.length, type: FUSE_EXT_GROUPS }, gdv, 0);
    gdv.setUint32(8, 2, true);
    gdv.setUint32(12, 100, true);
    gdv.setUint32(16, 200, true);
    const b = request("MKDIR")
      .struct(fuse_mkdir_in, { mode: 0o755 })
      .cstr("d")
      .ext(secBody)
      .ext(groups)
      .build();
    const r = decode("MKDIR", b);
    expect(text(r.name)).toBe("d");
    expect(r.ext?.secctx?.map((s) => [s.name, text(s.value)])).toEqual([
      ["security.selinux", "ctx\0"],
    ]);
    expect(r.ext?.suppGroups).toEqual([100, 200]);
  });

  it("refuses malformed requests with a protocol error carrying the errno", () => {
    const errnoOf = (b: Uint8Array): string => {
      try {
        decodeRequest(b, plain);
        return "ok";
      } catch (e) {
        expect(e).toBeInstanceOf(FuseProtocolError);
        return (e as FuseProtocolError).errno;
      }
    };
    expect(errnoOf(request(4242).build())).toBe("ENOSYS");
    expect(errnoOf(request("LOOKUP").cstr("x").len(99).build())).toBe("EIO");
    expect(errnoOf(request("LOOKUP").bytes(Buffer.from("noterm")).build())).toBe("EIO");
    expect(
      errnoOf(
        request("WRITE").struct(fuse_write_in, { size: 100 }).bytes(new Uint8Array(10)).build(),
      ),
    ).toBe("EIO");
    expect(
      errnoOf(request("BATCH_FORGET").struct(fuse_batch_forget_in, { count: 0xffffffff }).build()),
    ).toBe("EIO");
    expect(errnoOf(new Uint8Array(20))).toBe("EIO");
    const huge = request("READ").struct(fuse_read_in, {}).build();
    new DataView(huge.buffer).setBigUint64(48, 2n ** 62n, true);
    expect(errnoOf(huge)).toBe("EOVERFLOW");
  });

  it("never throws anything but FuseProtocolError on arbitrary bytes", () => {
    const opcodes = Object.values(Opcode);
    fc.assert(
      fc.property(
        fc.constantFrom(...opcodes),
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(3),
        (opcode, body, extUnits) => {
          const b = request(opcode).bytes(body).build();
          new DataView(b.buffer).setUint16(36, extUnits, true);
          try {
            decodeRequest(b, plain);
          } catch (e) {
            expect(e).toBeInstanceOf(FuseProtocolError);
          }
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("reply encoding", () => {
  const attr = {
    ino: 5,
    size: 2 ** 40,
    blocks: 8,
    atime: -1,
    mtime: 2,
    ctime: 3,
    mtimensec: 4,
    mode: 0o100644,
    nlink: 1,
    uid: 1000,
    gid: 1000,
  };

  it("entry_out: node, generation, timeouts split into seconds and nanoseconds, attr", () => {
    const b = encodeEntryOut({ nodeid: 5, generation: 2, entryValid: 1.5, attrValid: 0, attr });
    expect(b.length).toBe(FUSE_ENTRY_OUT_SIZE);
    const dv = new DataView(b.buffer);
    expect(fuse_entry_out_head.decode(dv, 0)).toEqual({
      nodeid: 5,
      generation: 2,
      entryValid: 1,
      attrValid: 0,
      entryValidNsec: 500_000_000,
      attrValidNsec: 0,
    });
    expect(fuse_attr.decode(dv, 40)).toMatchObject({
      ...attr,
      atimensec: 0,
      rdev: 0,
      blksize: 0,
      flags: 0,
    });
  });

  it("attr_out, create (entry then open), ioctl with data, statx, init", () => {
    const a = encodeAttrOut({ attrValid: 2, attr });
    expect(a.length).toBe(104);
    expect(new DataView(a.buffer).getBigUint64(0, true)).toBe(2n);
    const c = encodeCreateOut({
      entry: { nodeid: 9, entryValid: 1, attrValid: 1, attr },
      open: { fh: 77, openFlags: 1 },
    });
    expect(c.length).toBe(144);
    expect(new DataView(c.buffer).getBigUint64(128, true)).toBe(77n);
    const io = encodeIoctlOut({ result: -1, data: new Uint8Array([1, 2, 3]) });
    expect(Array.isArray(io) && io.length === 2).toBe(true);
    const sx = encodeStatxOut({
      attrValid: 1,
      stat: {
        mask: 0xfff,
        blksize: 4096,
        nlink: 1,
        uid: 0,
        gid: 0,
        mode: 0o100644,
        ino: 5,
        size: 10,
        blocks: 8,
        atime: { sec: 1, nsec: 2 },
        ctime: { sec: 3, nsec: 4 },
        mtime: { sec: 5, nsec: 6 },
      },
    });
    expect(sx.length).toBe(288);
    const sdv = new DataView(sx.buffer);
    expect(sdv.getUint16(32 + 28, true)).toBe(0o100644);
    expect(sdv.getBigInt64(32 + 64, true)).toBe(1n);
    expect(sdv.getBigInt64(32 + 64 + 48, true)).toBe(5n);
    const init = encodeInitOut({
      maxReadahead: 1 << 17,
      flags: InitFlag.ASYNC_READ | InitFlag.INIT_EXT | InitFlag.SECURITY_CTX,
      maxWrite: 1 << 20,
      maxPages: 256,
    });
    const d = fuse_init_out.decode(new DataView(init.buffer), 0);
    expect(d).toMatchObject({
      major: 7,
      minor: 45,
      flags: 1 | (1 << 30),
      flags2: 1,
      maxWrite: 1 << 20,
      maxPages: 256,
      timeGran: 1,
    });
    expect(fuse_ioctl_out.size).toBe(16);
  });

  it("directory buffers align records to 8 bytes and never exceed the kernel's size", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 40 }), { maxLength: 50 }),
        fc.integer({ min: 24, max: 2000 }),
        (names, cap) => {
          const d = new DirentBuffer(cap);
          const p = new DirentPlusBuffer(cap);
          let added = 0;
          // Like a READDIR handler: stop at the first entry that does not fit.
          for (const [i, name] of names.entries()) {
            if (!d.add({ ino: i + 1, off: i + 1, type: 8, name })) break;
            added++;
          }
          for (const [i, name] of names.entries()) {
            if (
              !p.add(
                { ino: i + 1, off: i + 1, type: 8, name },
                { nodeid: i + 1, entryValid: 1, attrValid: 1, attr },
              )
            )
              break;
          }
          expect(d.length).toBeLessThanOrEqual(cap);
          expect(p.length).toBeLessThanOrEqual(cap);
          // Walk the records back.
          const bytes = d.bytes();
          const dv = new DataView(bytes.buffer, bytes.byteOffset);
          let off = 0;
          let seen = 0;
          while (off < bytes.length) {
            const e = fuse_dirent.decode(dv, off);
            expect(e.off).toBe(seen + 1);
            off += Math.ceil((24 + e.namelen) / 8) * 8;
            seen++;
          }
          expect(seen).toBe(added);
        },
      ),
    );
  });
});
