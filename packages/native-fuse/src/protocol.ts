/**
 * Typed decoding of every request a filesystem server handles on protocol
 * 7.45, and encoding of every reply. One table ({@link OPS}) says, per
 * opcode: its name, the minimum payload, whether the kernel expects a reply,
 * how to decode the payload and how to encode the handler's result. The
 * dispatcher (dispatch.ts) is the only user of the table at run time.
 */
import {
  FUSE_ATTR_OUT_SIZE,
  FUSE_COMPAT_INIT_IN_SIZE,
  FUSE_COMPAT_SETXATTR_IN_SIZE,
  FUSE_ENTRY_OUT_SIZE,
  FUSE_EXT_GROUPS,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_VERSION,
  FUSE_LK_IN_SIZE,
  FUSE_MAX_NR_SECCTX,
  FUSE_STATX_OUT_SIZE,
  fuse_access_in,
  fuse_attr,
  fuse_attr_out_head,
  fuse_batch_forget_in,
  fuse_bmap_in,
  fuse_bmap_out,
  fuse_copy_file_range_in,
  fuse_copy_file_range_out,
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
  fuse_getxattr_out,
  fuse_in_header,
  fuse_init_out,
  fuse_interrupt_in,
  fuse_ioctl_in,
  fuse_ioctl_out,
  fuse_kstatfs,
  fuse_link_in,
  fuse_lk_in_head,
  fuse_lk_in_tail,
  fuse_lseek_in,
  fuse_lseek_out,
  fuse_mkdir_in,
  fuse_mknod_in,
  fuse_notify_retrieve_in,
  fuse_open_in,
  fuse_open_out,
  fuse_poll_in,
  fuse_poll_out,
  fuse_read_in,
  fuse_release_in,
  fuse_removemapping_in,
  fuse_removemapping_one,
  fuse_rename_in,
  fuse_rename2_in,
  fuse_secctx,
  fuse_setattr_in,
  fuse_setupmapping_in,
  fuse_setxattr_in,
  fuse_statx_devs,
  fuse_statx_head,
  fuse_statx_in,
  fuse_statx_out_head,
  fuse_sx_time,
  fuse_write_in,
  fuse_write_out,
  InitFlag,
  Opcode,
  type OpName,
} from "./abi.js";
import { FuseProtocolError } from "./errors.js";

export type { OpName } from "./abi.js";

/** `fuse_in_header`, decoded. */
export type RequestHeader = ReturnType<typeof fuse_in_header.decode>;

/** A security context sent with create-like requests (FUSE_SECURITY_CTX). */
export interface SecurityContext {
  readonly name: string;
  readonly value: Uint8Array;
}

/** Request extensions (protocol 7.38+), present when `total_extlen` > 0. */
export interface RequestExtensions {
  secctx?: SecurityContext[];
  suppGroups?: number[];
}

type In<S extends { decode: (dv: DataView, off: number) => unknown }> = ReturnType<S["decode"]>;

/** A lock as in `struct fuse_file_lock` (start/end are 64-bit: end may be OFFSET_MAX). */
export type FileLock = In<typeof fuse_file_lock>;

/** The decoded arguments of each request, by opcode name. Names are raw bytes. */
export interface OpArgs {
  LOOKUP: { name: Uint8Array };
  FORGET: In<typeof fuse_forget_in>;
  GETATTR: In<typeof fuse_getattr_in>;
  SETATTR: In<typeof fuse_setattr_in>;
  READLINK: Record<never, never>;
  SYMLINK: { name: Uint8Array; target: Uint8Array };
  MKNOD: In<typeof fuse_mknod_in> & { name: Uint8Array };
  MKDIR: In<typeof fuse_mkdir_in> & { name: Uint8Array };
  UNLINK: { name: Uint8Array };
  RMDIR: { name: Uint8Array };
  RENAME: { newdir: number; name: Uint8Array; newName: Uint8Array };
  LINK: In<typeof fuse_link_in> & { name: Uint8Array };
  OPEN: In<typeof fuse_open_in>;
  READ: In<typeof fuse_read_in>;
  WRITE: In<typeof fuse_write_in> & { data: Uint8Array };
  STATFS: Record<never, never>;
  RELEASE: In<typeof fuse_release_in>;
  FSYNC: In<typeof fuse_fsync_in>;
  SETXATTR: {
    size: number;
    flags: number;
    setxattrFlags: number;
    name: Uint8Array;
    value: Uint8Array;
  };
  GETXATTR: { size: number; name: Uint8Array };
  LISTXATTR: { size: number };
  REMOVEXATTR: { name: Uint8Array };
  FLUSH: In<typeof fuse_flush_in>;
  INIT: { major: number; minor: number; maxReadahead: number; flags: bigint };
  OPENDIR: In<typeof fuse_open_in>;
  READDIR: In<typeof fuse_read_in>;
  RELEASEDIR: In<typeof fuse_release_in>;
  FSYNCDIR: In<typeof fuse_fsync_in>;
  GETLK: LkArgs;
  SETLK: LkArgs;
  SETLKW: LkArgs;
  ACCESS: { mask: number };
  CREATE: In<typeof fuse_create_in> & { name: Uint8Array };
  INTERRUPT: In<typeof fuse_interrupt_in>;
  BMAP: In<typeof fuse_bmap_in>;
  DESTROY: Record<never, never>;
  IOCTL: In<typeof fuse_ioctl_in> & { data: Uint8Array };
  POLL: In<typeof fuse_poll_in>;
  NOTIFY_REPLY: { offset: number; size: number; data: Uint8Array };
  BATCH_FORGET: { forgets: In<typeof fuse_forget_one>[] };
  FALLOCATE: In<typeof fuse_fallocate_in>;
  READDIRPLUS: In<typeof fuse_read_in>;
  RENAME2: { newdir: number; flags: number; name: Uint8Array; newName: Uint8Array };
  LSEEK: In<typeof fuse_lseek_in>;
  COPY_FILE_RANGE: In<typeof fuse_copy_file_range_in>;
  COPY_FILE_RANGE_64: In<typeof fuse_copy_file_range_in>;
  SETUPMAPPING: In<typeof fuse_setupmapping_in>;
  REMOVEMAPPING: { mappings: In<typeof fuse_removemapping_one>[] };
  SYNCFS: Record<never, never>;
  TMPFILE: In<typeof fuse_create_in> & { name: Uint8Array };
  STATX: In<typeof fuse_statx_in>;
}

/** Arguments of GETLK/SETLK/SETLKW (`struct fuse_lk_in`). */
export interface LkArgs {
  fh: number;
  owner: bigint;
  lk: FileLock;
  lkFlags: number;
}

/** A decoded request of opcode `K`. */
export type FuseRequest<K extends OpName = OpName> = K extends OpName
  ? { op: K; header: RequestHeader; ext: RequestExtensions | undefined } & OpArgs[K]
  : never;

/** File attributes for replies (`struct fuse_attr`; times in seconds + nanoseconds). */
export interface FuseAttr {
  ino: number;
  size: number;
  blocks: number;
  atime: number;
  mtime: number;
  ctime: number;
  atimensec?: number;
  mtimensec?: number;
  ctimensec?: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  rdev?: number;
  blksize?: number;
  flags?: number;
}

/** Reply to LOOKUP, MKNOD, MKDIR, SYMLINK, LINK (`struct fuse_entry_out`). nodeid 0 = negative entry. */
export interface EntryReply {
  nodeid: number;
  generation?: number;
  /** Name cache timeout, seconds (fractions allowed). */
  entryValid: number;
  /** Attribute cache timeout, seconds. */
  attrValid: number;
  attr: FuseAttr;
}

/** Reply to GETATTR / SETATTR (`struct fuse_attr_out`). */
export interface AttrReply {
  attrValid: number;
  attr: FuseAttr;
}

/** Reply to OPEN / OPENDIR (`struct fuse_open_out`). */
export interface OpenReply {
  fh: number;
  /** FOPEN_* bits. */
  openFlags?: number;
  backingId?: number;
}

/** Reply to CREATE / TMPFILE: entry then open. */
export interface CreateReply {
  entry: EntryReply;
  open: OpenReply;
}

/** Reply to WRITE and COPY_FILE_RANGE (bytes done). */
export interface WriteReply {
  size: number;
}

/** Reply to STATFS (`struct fuse_kstatfs`). */
export interface StatfsReply {
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  bsize: number;
  namelen: number;
  frsize: number;
}

/**
 * Reply to GETXATTR / LISTXATTR: the value (list: NUL-terminated names), or
 * `{ size }` when the request's size is 0 (the caller asks how big).
 */
export type XattrReply = Uint8Array | { size: number };

/** Reply to INIT (`struct fuse_init_out`); flags is the 64-bit word. */
export interface InitReply {
  major?: number;
  minor?: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground?: number;
  congestionThreshold?: number;
  maxWrite: number;
  timeGran?: number;
  maxPages?: number;
  mapAlignment?: number;
  maxStackDepth?: number;
  requestTimeout?: number;
}

/** Reply to IOCTL (`struct fuse_ioctl_out` + output data). */
export interface IoctlReply {
  result: number;
  flags?: number;
  inIovs?: number;
  outIovs?: number;
  data?: Uint8Array;
}

/** A `struct fuse_sx_time`. */
export interface StatxTime {
  sec: number;
  nsec: number;
}

/** Reply to STATX (`struct fuse_statx_out`). */
export interface StatxReply {
  attrValid: number;
  flags?: number;
  stat: {
    mask: number;
    blksize: number;
    attributes?: bigint;
    nlink: number;
    uid: number;
    gid: number;
    mode: number;
    ino: number;
    size: number;
    blocks: number;
    attributesMask?: bigint;
    atime: StatxTime;
    btime?: StatxTime;
    ctime: StatxTime;
    mtime: StatxTime;
    rdevMajor?: number;
    rdevMinor?: number;
    devMajor?: number;
    devMinor?: number;
  };
}

/** What a handler returns for each opcode (undefined: an empty success reply). */
export interface OpReplies {
  LOOKUP: EntryReply;
  FORGET: undefined;
  GETATTR: AttrReply;
  SETATTR: AttrReply;
  READLINK: Uint8Array;
  SYMLINK: EntryReply;
  MKNOD: EntryReply;
  MKDIR: EntryReply;
  UNLINK: undefined;
  RMDIR: undefined;
  RENAME: undefined;
  LINK: EntryReply;
  OPEN: OpenReply;
  READ: Uint8Array | readonly Uint8Array[];
  WRITE: WriteReply;
  STATFS: StatfsReply;
  RELEASE: undefined;
  FSYNC: undefined;
  SETXATTR: undefined;
  GETXATTR: XattrReply;
  LISTXATTR: XattrReply;
  REMOVEXATTR: undefined;
  FLUSH: undefined;
  INIT: InitReply;
  OPENDIR: OpenReply;
  READDIR: Uint8Array;
  RELEASEDIR: undefined;
  FSYNCDIR: undefined;
  GETLK: FileLock;
  SETLK: undefined;
  SETLKW: undefined;
  ACCESS: undefined;
  CREATE: CreateReply;
  INTERRUPT: undefined;
  BMAP: { block: number };
  DESTROY: undefined;
  IOCTL: IoctlReply;
  POLL: { revents: number };
  NOTIFY_REPLY: undefined;
  BATCH_FORGET: undefined;
  FALLOCATE: undefined;
  READDIRPLUS: Uint8Array;
  RENAME2: undefined;
  LSEEK: { offset: number };
  COPY_FILE_RANGE: WriteReply;
  COPY_FILE_RANGE_64: WriteReply;
  SETUPMAPPING: undefined;
  REMOVEMAPPING: undefined;
  SYNCFS: undefined;
  TMPFILE: CreateReply;
  STATX: StatxReply;
}

/** Encoded reply payload: one buffer or pieces written with one writev. */
export type ReplyData = Uint8Array | readonly Uint8Array[];

/** Negotiated state that changes how requests decode. */
export interface ProtocolState {
  /** FUSE_SETXATTR_EXT negotiated: setxattr_in is 16 bytes, not 8. */
  setxattrExt: boolean;
}

/** The payload of one request after the header, extensions cut off. */
export interface Payload {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
}

/** One row of the dispatch table. */
export interface OpSpec<K extends OpName> {
  readonly name: K;
  readonly opcode: number;
  /** Smallest payload the kernel can send for this opcode. */
  readonly minIn: number;
  /** The kernel expects no reply (FORGET, BATCH_FORGET, INTERRUPT, NOTIFY_REPLY). */
  readonly noReply: boolean;
  readonly decode: (p: Payload, state: ProtocolState) => OpArgs[K];
  /** Encodes the handler's result; absent for void replies. */
  readonly encode?: (r: OpReplies[K], req: FuseRequest<K>) => ReplyData;
}

// ---------------------------------------------------------------------------
// Decoding helpers

/** Reads a NUL-terminated name at `off`; throws FuseProtocolError without a NUL. */
function cstring(p: Payload, off: number, what: string): { value: Uint8Array; next: number } {
  const end = p.bytes.indexOf(0, off);
  if (off > p.bytes.length || end < 0) {
    throw new FuseProtocolError("NAME_NOT_TERMINATED", `${what} is not NUL-terminated`);
  }
  return { value: p.bytes.subarray(off, end), next: end + 1 };
}

function nameAt(p: Payload, off: number): Uint8Array {
  return cstring(p, off, "name").value;
}

function rest(p: Payload, off: number, len: number, what: string): Uint8Array {
  if (off + len > p.bytes.length) {
    throw new FuseProtocolError(
      "SHORT_PAYLOAD",
      `${what}: ${len} bytes announced, ${p.bytes.length - off} present`,
    );
  }
  return p.bytes.subarray(off, off + len);
}

function decodeLk(p: Payload): LkArgs {
  const head = fuse_lk_in_head.decode(p.dv, 0);
  const lk = fuse_file_lock.decode(p.dv, fuse_lk_in_head.size);
  const tail = fuse_lk_in_tail.decode(p.dv, fuse_lk_in_head.size + fuse_file_lock.size);
  return { fh: head.fh, owner: head.owner, lk, lkFlags: tail.lkFlags };
}

function decodeTwoNames(p: Payload, off: number): { name: Uint8Array; newName: Uint8Array } {
  const a = cstring(p, off, "old name");
  const b = cstring(p, a.next, "new name");
  return { name: a.value, newName: b.value };
}

// ---------------------------------------------------------------------------
// Encoding helpers

function alloc(n: number): { bytes: Uint8Array; dv: DataView } {
  const bytes = new Uint8Array(n);
  return { bytes, dv: new DataView(bytes.buffer) };
}

function splitTime(seconds: number): { sec: number; nsec: number } {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) return { sec: 0, nsec: 0 };
  const sec = Math.floor(seconds);
  const nsec = Math.min(999_999_999, Math.round((seconds - sec) * 1e9));
  return { sec, nsec };
}

function writeEntry(e: EntryReply, dv: DataView, off: number): void {
  const ev = splitTime(e.entryValid);
  const av = splitTime(e.attrValid);
  fuse_entry_out_head.encode(
    {
      nodeid: e.nodeid,
      generation: e.generation ?? 0,
      entryValid: ev.sec,
      attrValid: av.sec,
      entryValidNsec: ev.nsec,
      attrValidNsec: av.nsec,
    },
    dv,
    off,
  );
  fuse_attr.encode(e.attr, dv, off + fuse_entry_out_head.size);
}

/** Encodes `struct fuse_entry_out`. Throws RangeError for out-of-range fields. */
export function encodeEntryOut(e: EntryReply): Uint8Array {
  const { bytes, dv } = alloc(FUSE_ENTRY_OUT_SIZE);
  writeEntry(e, dv, 0);
  return bytes;
}

/** Encodes `struct fuse_attr_out`. Throws RangeError for out-of-range fields. */
export function encodeAttrOut(r: AttrReply): Uint8Array {
  const { bytes, dv } = alloc(FUSE_ATTR_OUT_SIZE);
  const av = splitTime(r.attrValid);
  fuse_attr_out_head.encode({ attrValid: av.sec, attrValidNsec: av.nsec }, dv, 0);
  fuse_attr.encode(r.attr, dv, fuse_attr_out_head.size);
  return bytes;
}

/** Encodes `struct fuse_open_out`. */
export function encodeOpenOut(r: OpenReply): Uint8Array {
  return fuse_open_out.toBytes({
    fh: r.fh,
    openFlags: r.openFlags ?? 0,
    backingId: r.backingId ?? 0,
  });
}

/** Encodes CREATE/TMPFILE's reply: `fuse_entry_out` then `fuse_open_out`. */
export function encodeCreateOut(r: CreateReply): Uint8Array {
  const out = new Uint8Array(FUSE_ENTRY_OUT_SIZE + fuse_open_out.size);
  writeEntry(r.entry, new DataView(out.buffer), 0);
  out.set(encodeOpenOut(r.open), FUSE_ENTRY_OUT_SIZE);
  return out;
}

/** Encodes `struct fuse_write_out`. */
export function encodeWriteOut(r: WriteReply): Uint8Array {
  return fuse_write_out.toBytes({ size: r.size });
}

/** Encodes `struct fuse_statfs_out`. */
export function encodeStatfsOut(r: StatfsReply): Uint8Array {
  return fuse_kstatfs.toBytes(r);
}

/** Encodes `struct fuse_getxattr_out` (the size-only answer of GETXATTR/LISTXATTR). */
export function encodeGetxattrOut(size: number): Uint8Array {
  return fuse_getxattr_out.toBytes({ size });
}

/** Encodes `struct fuse_lk_out`. */
export function encodeLkOut(lk: FileLock): Uint8Array {
  return fuse_file_lock.toBytes(lk);
}

/** Encodes `struct fuse_bmap_out`. */
export function encodeBmapOut(block: number): Uint8Array {
  return fuse_bmap_out.toBytes({ block });
}

/** Encodes `struct fuse_poll_out`. */
export function encodePollOut(revents: number): Uint8Array {
  return fuse_poll_out.toBytes({ revents });
}

/** Encodes `struct fuse_lseek_out`. */
export function encodeLseekOut(offset: number): Uint8Array {
  return fuse_lseek_out.toBytes({ offset });
}

/** Encodes `struct fuse_copy_file_range_out` (COPY_FILE_RANGE_64). */
export function encodeCopyFileRangeOut(bytesCopied: number): Uint8Array {
  return fuse_copy_file_range_out.toBytes({ bytesCopied });
}

/** Encodes `struct fuse_ioctl_out`, followed by the output data if any. */
export function encodeIoctlOut(r: IoctlReply): ReplyData {
  const head = fuse_ioctl_out.toBytes({
    result: r.result,
    flags: r.flags ?? 0,
    inIovs: r.inIovs ?? 0,
    outIovs: r.outIovs ?? 0,
  });
  return r.data === undefined || r.data.length === 0 ? head : [head, r.data];
}

/** Encodes `struct fuse_statx_out`. Throws RangeError for out-of-range fields. */
export function encodeStatxOut(r: StatxReply): Uint8Array {
  const { bytes, dv } = alloc(FUSE_STATX_OUT_SIZE);
  const av = splitTime(r.attrValid);
  fuse_statx_out_head.encode(
    { attrValid: av.sec, attrValidNsec: av.nsec, flags: r.flags ?? 0 },
    dv,
    0,
  );
  const base = fuse_statx_out_head.size;
  const s = r.stat;
  fuse_statx_head.encode(
    {
      mask: s.mask,
      blksize: s.blksize,
      attributes: s.attributes ?? 0n,
      nlink: s.nlink,
      uid: s.uid,
      gid: s.gid,
      mode: s.mode,
      ino: s.ino,
      size: s.size,
      blocks: s.blocks,
      attributesMask: s.attributesMask ?? 0n,
    },
    dv,
    base,
  );
  let off = base + fuse_statx_head.size;
  for (const t of [s.atime, s.btime ?? { sec: 0, nsec: 0 }, s.ctime, s.mtime]) {
    fuse_sx_time.encode({ tvSec: t.sec, tvNsec: t.nsec }, dv, off);
    off += fuse_sx_time.size;
  }
  fuse_statx_devs.encode(
    {
      rdevMajor: s.rdevMajor ?? 0,
      rdevMinor: s.rdevMinor ?? 0,
      devMajor: s.devMajor ?? 0,
      devMinor: s.devMinor ?? 0,
    },
    dv,
    off,
  );
  return bytes;
}

/** Encodes `struct fuse_init_out` (64 bytes: the full 7.45 layout). */
export function encodeInitOut(r: InitReply): Uint8Array {
  return fuse_init_out.toBytes({
    major: r.major ?? FUSE_KERNEL_VERSION,
    minor: r.minor ?? FUSE_KERNEL_MINOR_VERSION,
    maxReadahead: r.maxReadahead,
    flags: Number(r.flags & 0xffffffffn),
    maxBackground: r.maxBackground ?? 0,
    congestionThreshold: r.congestionThreshold ?? 0,
    maxWrite: r.maxWrite,
    timeGran: r.timeGran ?? 1,
    maxPages: r.maxPages ?? 0,
    mapAlignment: r.mapAlignment ?? 0,
    flags2: Number((r.flags >> 32n) & 0xffffffffn),
    maxStackDepth: r.maxStackDepth ?? 0,
    requestTimeout: r.requestTimeout ?? 0,
  });
}

function align8(n: number): number {
  return (n + 7) & ~7;
}

/** One directory entry for {@link DirentBuffer}. */
export interface Dirent {
  ino: number;
  /** Cookie the kernel passes back as the offset of the next READDIR. */
  off: number;
  /** DT_* type (mode >> 12). */
  type: number;
  name: Uint8Array;
}

/**
 * Builds a READDIR reply (`struct fuse_dirent` records, 8-byte aligned) that
 * never exceeds the size the kernel asked for.
 */
export class DirentBuffer {
  readonly capacity: number;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.buf = new Uint8Array(capacity);
    this.dv = new DataView(this.buf.buffer);
  }

  /** Appends an entry; false (and nothing written) when it does not fit. */
  add(d: Dirent): boolean {
    const len = align8(fuse_dirent.size + d.name.length);
    if (this.used + len > this.capacity) return false;
    fuse_dirent.encode(
      { ino: d.ino, off: d.off, namelen: d.name.length, type: d.type },
      this.dv,
      this.used,
    );
    this.buf.set(d.name, this.used + fuse_dirent.size);
    this.used += len;
    return true;
  }

  /** Entries added so far. */
  get length(): number {
    return this.used;
  }

  /** The reply payload. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.used);
  }
}

/**
 * Builds a READDIRPLUS reply: per entry a `fuse_entry_out` then a
 * `fuse_dirent`, 8-byte aligned, within the kernel's size. An entry with
 * `entry.nodeid` 0 tells the kernel not to create a dentry for it (".." etc.).
 */
export class DirentPlusBuffer {
  readonly capacity: number;
  private readonly buf: Uint8Array;
  private readonly dv: DataView;
  private used = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.buf = new Uint8Array(capacity);
    this.dv = new DataView(this.buf.buffer);
  }

  /** Appends an entry; false (and nothing written) when it does not fit. */
  add(d: Dirent, entry: EntryReply): boolean {
    const len = align8(FUSE_ENTRY_OUT_SIZE + fuse_dirent.size + d.name.length);
    if (this.used + len > this.capacity) return false;
    writeEntry(entry, this.dv, this.used);
    const at = this.used + FUSE_ENTRY_OUT_SIZE;
    fuse_dirent.encode(
      { ino: d.ino, off: d.off, namelen: d.name.length, type: d.type },
      this.dv,
      at,
    );
    this.buf.set(d.name, at + fuse_dirent.size);
    this.used += len;
    return true;
  }

  get length(): number {
    return this.used;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.used);
  }
}

/** Decodes the request extensions at the end of a payload (`struct fuse_ext_header` chain). */
export function decodeExtensions(ext: Uint8Array): RequestExtensions {
  const dv = new DataView(ext.buffer, ext.byteOffset, ext.byteLength);
  const out: RequestExtensions = {};
  let off = 0;
  // Each extension is at least its 8-byte header, so this loop is bounded by ext.length / 8.
  while (off + fuse_ext_header.size <= ext.length) {
    const h = fuse_ext_header.decode(dv, off);
    if (h.size < fuse_ext_header.size || off + h.size > ext.length) {
      throw new FuseProtocolError("BAD_EXTENSION", `extension of size ${h.size} at ${off}`);
    }
    const body = new DataView(ext.buffer, ext.byteOffset + off, h.size);
    if (h.type <= FUSE_MAX_NR_SECCTX) {
      out.secctx = decodeSecctx(body, h.type);
    } else if (h.type === FUSE_EXT_GROUPS) {
      if (h.size < 12) throw new FuseProtocolError("BAD_EXTENSION", "short supplementary groups");
      const nr = body.getUint32(8, true);
      if (12 + nr * 4 > h.size) {
        throw new FuseProtocolError("BAD_EXTENSION", `${nr} groups in ${h.size} bytes`);
      }
      const groups: number[] = [];
      for (let i = 0; i < nr; i++) groups.push(body.getUint32(12 + i * 4, true));
      out.suppGroups = groups;
    }
    // Unknown types are skipped: the header gives their size.
    off += align8(h.size);
  }
  return out;
}

function decodeSecctx(body: DataView, count: number): SecurityContext[] {
  const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  const out: SecurityContext[] = [];
  let off = fuse_ext_header.size;
  for (let i = 0; i < count; i++) {
    const c = fuse_secctx.decode(body, off);
    off += fuse_secctx.size;
    const end = bytes.indexOf(0, off);
    if (end < 0)
      throw new FuseProtocolError("BAD_EXTENSION", "security context name not terminated");
    const name = new TextDecoder().decode(bytes.subarray(off, end));
    off = end + 1;
    if (off + c.size > bytes.length) {
      throw new FuseProtocolError("BAD_EXTENSION", "security context value past its extension");
    }
    out.push({ name, value: bytes.subarray(off, off + c.size) });
    off += c.size;
  }
  return out;
}

// ---------------------------------------------------------------------------
// The table

function op<K extends OpName>(
  name: K,
  minIn: number,
  decode: OpSpec<K>["decode"],
  encode?: OpSpec<K>["encode"],
  noReply = false,
): OpSpec<K> {
  const spec: OpSpec<K> = { name, opcode: Opcode[name], minIn, noReply, decode };
  return encode === undefined ? spec : { ...spec, encode };
}

const none = (): Record<never, never> => ({});
const entry = (r: EntryReply) => encodeEntryOut(r);
const attrOut = (r: AttrReply) => encodeAttrOut(r);
const openOut = (r: OpenReply) => encodeOpenOut(r);

function xattrOut(r: XattrReply, req: { size: number }): ReplyData {
  if (r instanceof Uint8Array) {
    if (req.size === 0) return encodeGetxattrOut(r.length);
    // The kernel's buffer is req.size bytes; a longer value is ERANGE (xattr(7)).
    if (r.length > req.size)
      throw new FuseProtocolError("XATTR_RANGE", "value too large", "ERANGE");
    return r;
  }
  return encodeGetxattrOut(r.size);
}

/** Every opcode a filesystem server handles on 7.45, in opcode order. */
export const OPS: { readonly [K in OpName]: OpSpec<K> } = {
  LOOKUP: op("LOOKUP", 2, (p) => ({ name: nameAt(p, 0) }), entry),
  FORGET: op("FORGET", fuse_forget_in.size, (p) => fuse_forget_in.decode(p.dv, 0), undefined, true),
  GETATTR: op("GETATTR", fuse_getattr_in.size, (p) => fuse_getattr_in.decode(p.dv, 0), attrOut),
  SETATTR: op("SETATTR", fuse_setattr_in.size, (p) => fuse_setattr_in.decode(p.dv, 0), attrOut),
  READLINK: op("READLINK", 0, none, (r) => r),
  SYMLINK: op(
    "SYMLINK",
    4,
    (p) => {
      // fuse_symlink(): the new entry's name first, then the link target.
      const a = cstring(p, 0, "name");
      const b = cstring(p, a.next, "link target");
      return { name: a.value, target: b.value };
    },
    entry,
  ),
  MKNOD: op(
    "MKNOD",
    fuse_mknod_in.size + 2,
    (p) => ({ ...fuse_mknod_in.decode(p.dv, 0), name: nameAt(p, fuse_mknod_in.size) }),
    entry,
  ),
  MKDIR: op(
    "MKDIR",
    fuse_mkdir_in.size + 2,
    (p) => ({ ...fuse_mkdir_in.decode(p.dv, 0), name: nameAt(p, fuse_mkdir_in.size) }),
    entry,
  ),
  UNLINK: op("UNLINK", 2, (p) => ({ name: nameAt(p, 0) })),
  RMDIR: op("RMDIR", 2, (p) => ({ name: nameAt(p, 0) })),
  RENAME: op("RENAME", fuse_rename_in.size + 4, (p) => ({
    newdir: fuse_rename_in.decode(p.dv, 0).newdir,
    ...decodeTwoNames(p, fuse_rename_in.size),
  })),
  LINK: op(
    "LINK",
    fuse_link_in.size + 2,
    (p) => ({ ...fuse_link_in.decode(p.dv, 0), name: nameAt(p, fuse_link_in.size) }),
    entry,
  ),
  OPEN: op("OPEN", fuse_open_in.size, (p) => fuse_open_in.decode(p.dv, 0), openOut),
  READ: op(
    "READ",
    fuse_read_in.size,
    (p) => fuse_read_in.decode(p.dv, 0),
    (r) => r,
  ),
  WRITE: op(
    "WRITE",
    fuse_write_in.size,
    (p) => {
      const w = fuse_write_in.decode(p.dv, 0);
      return { ...w, data: rest(p, fuse_write_in.size, w.size, "write data") };
    },
    (r) => encodeWriteOut(r),
  ),
  STATFS: op("STATFS", 0, none, (r) => encodeStatfsOut(r)),
  RELEASE: op("RELEASE", fuse_release_in.size, (p) => fuse_release_in.decode(p.dv, 0)),
  FSYNC: op("FSYNC", fuse_fsync_in.size, (p) => fuse_fsync_in.decode(p.dv, 0)),
  SETXATTR: op("SETXATTR", FUSE_COMPAT_SETXATTR_IN_SIZE + 2, (p, state) => {
    // Without FUSE_SETXATTR_EXT the kernel sends the 8-byte compat struct.
    const headLen = state.setxattrExt ? fuse_setxattr_in.size : FUSE_COMPAT_SETXATTR_IN_SIZE;
    if (p.bytes.length < headLen) {
      throw new FuseProtocolError("SHORT_PAYLOAD", "setxattr_in truncated");
    }
    const size = p.dv.getUint32(0, true);
    const flags = p.dv.getUint32(4, true);
    const setxattrFlags = state.setxattrExt ? p.dv.getUint32(8, true) : 0;
    const n = cstring(p, headLen, "xattr name");
    return {
      size,
      flags,
      setxattrFlags,
      name: n.value,
      value: rest(p, n.next, size, "xattr value"),
    };
  }),
  GETXATTR: op(
    "GETXATTR",
    fuse_getxattr_in.size + 2,
    (p) => ({
      size: fuse_getxattr_in.decode(p.dv, 0).size,
      name: nameAt(p, fuse_getxattr_in.size),
    }),
    xattrOut,
  ),
  LISTXATTR: op(
    "LISTXATTR",
    fuse_getxattr_in.size,
    (p) => ({ size: fuse_getxattr_in.decode(p.dv, 0).size }),
    xattrOut,
  ),
  REMOVEXATTR: op("REMOVEXATTR", 2, (p) => ({ name: nameAt(p, 0) })),
  FLUSH: op("FLUSH", fuse_flush_in.size, (p) => fuse_flush_in.decode(p.dv, 0)),
  INIT: op(
    "INIT",
    FUSE_COMPAT_INIT_IN_SIZE,
    (p) => {
      const major = p.dv.getUint32(0, true);
      const minor = p.dv.getUint32(4, true);
      const maxReadahead = p.dv.getUint32(8, true);
      const lo = p.dv.getUint32(12, true);
      let flags = BigInt(lo);
      // flags2 exists (7.36+) only when the kernel says so with FUSE_INIT_EXT.
      if ((flags & InitFlag.INIT_EXT) !== 0n && p.bytes.length >= 20) {
        flags |= BigInt(p.dv.getUint32(16, true)) << 32n;
      }
      return { major, minor, maxReadahead, flags };
    },
    (r) => encodeInitOut(r),
  ),
  OPENDIR: op("OPENDIR", fuse_open_in.size, (p) => fuse_open_in.decode(p.dv, 0), openOut),
  READDIR: op(
    "READDIR",
    fuse_read_in.size,
    (p) => fuse_read_in.decode(p.dv, 0),
    (r) => r,
  ),
  RELEASEDIR: op("RELEASEDIR", fuse_release_in.size, (p) => fuse_release_in.decode(p.dv, 0)),
  FSYNCDIR: op("FSYNCDIR", fuse_fsync_in.size, (p) => fuse_fsync_in.decode(p.dv, 0)),
  GETLK: op("GETLK", FUSE_LK_IN_SIZE, decodeLk, (r) => encodeLkOut(r)),
  SETLK: op("SETLK", FUSE_LK_IN_SIZE, decodeLk),
  SETLKW: op("SETLKW", FUSE_LK_IN_SIZE, decodeLk),
  ACCESS: op("ACCESS", fuse_access_in.size, (p) => ({ mask: fuse_access_in.decode(p.dv, 0).mask })),
  CREATE: op(
    "CREATE",
    fuse_create_in.size + 2,
    (p) => ({ ...fuse_create_in.decode(p.dv, 0), name: nameAt(p, fuse_create_in.size) }),
    (r) => encodeCreateOut(r),
  ),
  INTERRUPT: op(
    "INTERRUPT",
    fuse_interrupt_in.size,
    (p) => fuse_interrupt_in.decode(p.dv, 0),
    undefined,
    true,
  ),
  BMAP: op(
    "BMAP",
    fuse_bmap_in.size,
    (p) => fuse_bmap_in.decode(p.dv, 0),
    (r) => encodeBmapOut(r.block),
  ),
  DESTROY: op("DESTROY", 0, none),
  IOCTL: op(
    "IOCTL",
    fuse_ioctl_in.size,
    (p) => {
      const io = fuse_ioctl_in.decode(p.dv, 0);
      return { ...io, data: rest(p, fuse_ioctl_in.size, io.inSize, "ioctl input") };
    },
    (r) => encodeIoctlOut(r),
  ),
  POLL: op(
    "POLL",
    fuse_poll_in.size,
    (p) => fuse_poll_in.decode(p.dv, 0),
    (r) => encodePollOut(r.revents),
  ),
  NOTIFY_REPLY: op(
    "NOTIFY_REPLY",
    fuse_notify_retrieve_in.size,
    (p) => {
      const r = fuse_notify_retrieve_in.decode(p.dv, 0);
      return {
        offset: r.offset,
        size: r.size,
        data: rest(p, fuse_notify_retrieve_in.size, r.size, "retrieve data"),
      };
    },
    undefined,
    true,
  ),
  BATCH_FORGET: op(
    "BATCH_FORGET",
    fuse_batch_forget_in.size,
    (p) => {
      const { count } = fuse_batch_forget_in.decode(p.dv, 0);
      // Never trust the count: it must fit in the payload.
      if (fuse_batch_forget_in.size + count * fuse_forget_one.size > p.bytes.length) {
        throw new FuseProtocolError("SHORT_PAYLOAD", `batch forget of ${count} does not fit`);
      }
      const forgets = [];
      for (let i = 0; i < count; i++) {
        forgets.push(
          fuse_forget_one.decode(p.dv, fuse_batch_forget_in.size + i * fuse_forget_one.size),
        );
      }
      return { forgets };
    },
    undefined,
    true,
  ),
  FALLOCATE: op("FALLOCATE", fuse_fallocate_in.size, (p) => fuse_fallocate_in.decode(p.dv, 0)),
  READDIRPLUS: op(
    "READDIRPLUS",
    fuse_read_in.size,
    (p) => fuse_read_in.decode(p.dv, 0),
    (r) => r,
  ),
  RENAME2: op("RENAME2", fuse_rename2_in.size + 4, (p) => {
    const r = fuse_rename2_in.decode(p.dv, 0);
    return { newdir: r.newdir, flags: r.flags, ...decodeTwoNames(p, fuse_rename2_in.size) };
  }),
  LSEEK: op(
    "LSEEK",
    fuse_lseek_in.size,
    (p) => fuse_lseek_in.decode(p.dv, 0),
    (r) => encodeLseekOut(r.offset),
  ),
  COPY_FILE_RANGE: op(
    "COPY_FILE_RANGE",
    fuse_copy_file_range_in.size,
    (p) => fuse_copy_file_range_in.decode(p.dv, 0),
    // The old opcode answers with fuse_write_out, whose size is 32 bits.
    (r) => encodeWriteOut({ size: Math.min(r.size, 0xffffffff) }),
  ),
  COPY_FILE_RANGE_64: op(
    "COPY_FILE_RANGE_64",
    fuse_copy_file_range_in.size,
    (p) => fuse_copy_file_range_in.decode(p.dv, 0),
    (r) => encodeCopyFileRangeOut(r.size),
  ),
  SETUPMAPPING: op("SETUPMAPPING", fuse_setupmapping_in.size, (p) =>
    fuse_setupmapping_in.decode(p.dv, 0),
  ),
  REMOVEMAPPING: op("REMOVEMAPPING", fuse_removemapping_in.size, (p) => {
    const { count } = fuse_removemapping_in.decode(p.dv, 0);
    if (fuse_removemapping_in.size + count * fuse_removemapping_one.size > p.bytes.length) {
      throw new FuseProtocolError("SHORT_PAYLOAD", `removemapping of ${count} does not fit`);
    }
    const mappings = [];
    for (let i = 0; i < count; i++) {
      mappings.push(
        fuse_removemapping_one.decode(
          p.dv,
          fuse_removemapping_in.size + i * fuse_removemapping_one.size,
        ),
      );
    }
    return { mappings };
  }),
  SYNCFS: op("SYNCFS", 8, none),
  TMPFILE: op(
    "TMPFILE",
    fuse_create_in.size + 2,
    (p) => ({ ...fuse_create_in.decode(p.dv, 0), name: nameAt(p, fuse_create_in.size) }),
    (r) => encodeCreateOut(r),
  ),
  STATX: op(
    "STATX",
    fuse_statx_in.size,
    (p) => fuse_statx_in.decode(p.dv, 0),
    (r) => encodeStatxOut(r),
  ),
};

/** The table indexed by opcode number. */
export const OPS_BY_OPCODE: ReadonlyMap<number, OpSpec<OpName>> = new Map(
  Object.values(OPS).map((s) => [s.opcode, s as unknown as OpSpec<OpName>]),
);

/** Decodes `fuse_in_header` at the start of `bytes`. Throws FuseProtocolError when short. */
export function decodeHeader(bytes: Uint8Array): RequestHeader {
  return fuse_in_header.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
}

/**
 * Decodes a whole request (header, extensions, arguments) with the table.
 * Throws FuseProtocolError for an unknown opcode (errno ENOSYS), a length
 * mismatch or a short or malformed payload (EIO).
 */
export function decodeRequest(bytes: Uint8Array, state: ProtocolState): FuseRequest {
  const header = decodeHeader(bytes);
  if (header.len !== bytes.length) {
    throw new FuseProtocolError(
      "LENGTH_MISMATCH",
      `header says ${header.len} bytes, got ${bytes.length}`,
    );
  }
  const spec = OPS_BY_OPCODE.get(header.opcode);
  if (spec === undefined) {
    throw new FuseProtocolError("UNKNOWN_OPCODE", `unknown opcode ${header.opcode}`, "ENOSYS");
  }
  const bodyLen = bytes.length - fuse_in_header.size;
  const extLen = header.totalExtlen * 8;
  if (extLen > bodyLen) {
    throw new FuseProtocolError(
      "BAD_EXTENSION",
      `${extLen} bytes of extensions in a ${bodyLen}-byte payload`,
    );
  }
  const argLen = bodyLen - extLen;
  if (argLen < spec.minIn) {
    throw new FuseProtocolError(
      "SHORT_PAYLOAD",
      `${spec.name} needs at least ${spec.minIn} bytes, got ${argLen}`,
    );
  }
  const start = bytes.byteOffset + fuse_in_header.size;
  const payload: Payload = {
    bytes: bytes.subarray(fuse_in_header.size, fuse_in_header.size + argLen),
    dv: new DataView(bytes.buffer, start, argLen),
  };
  const ext =
    extLen > 0 ? decodeExtensions(bytes.subarray(fuse_in_header.size + argLen)) : undefined;
  const args = spec.decode(payload, state);
  return { op: spec.name, header, ext, ...args } as FuseRequest;
}

/** Encodes the result of a handler for `req` (undefined for void replies). */
export function encodeReply<K extends OpName>(
  req: FuseRequest<K>,
  result: OpReplies[K],
): ReplyData | undefined {
  const spec = OPS[req.op] as unknown as OpSpec<K>;
  return spec.encode === undefined ? undefined : spec.encode(result, req);
}
