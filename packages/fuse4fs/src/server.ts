/**
 * The FUSE request handlers of fuse4fs: every opcode is answered from the
 * core (`Filesystem`), which does every metadata change; file data moves
 * through the native fast path where a node's map is published (see
 * mapping.ts) and through the core otherwise.
 *
 * Node id = inode number, except FUSE's root 1 = ext4's root 2. The server
 * owns lookup counts (LOOKUP/CREATE/... add, FORGET subtracts), file and
 * directory handles, and each node's published mapping. Errors: the core's
 * Ext4Error kinds map to errnos in one place ({@link Fuse4fsServer.fail});
 * corruption is logged with its inode and block, recorded in the
 * superblock as the kernel does, and handled by errors=.
 */
import {
  type AclEntry,
  decodePosixAclXattr,
  EXT4_ERR,
  Ext4Error,
  encodePosixAclXattr,
  errnoOf,
  type Filesystem,
  type Inode,
  InodeFlags,
  isExt4Error,
  lookupEntry,
  type SetAttr,
  type Timestamp,
} from "@ext4/core";
import { IoError } from "@ext4/iocache";
import {
  DEFAULT_INIT_FLAGS,
  DirentBuffer,
  DirentPlusBuffer,
  type EntryReply,
  FATTR,
  FOPEN,
  FUSE_OPEN_KILL_SUIDGID,
  FUSE_SETXATTR_ACL_KILL_SGID,
  FUSE_WRITE_CACHE,
  FUSE_WRITE_KILL_SUIDGID,
  type FuseAttr,
  FuseErrno,
  type FuseHandlers,
  type FuseRequest,
  InitFlag,
  negotiateInit,
  type OpName,
  type RequestContext,
  type RequestHeader,
} from "@ext4/native-fuse";
import { aclChmod, aclUpdateMode } from "./acl.js";
import {
  decodeDev,
  dtOfFileType,
  dtOfMode,
  EMPTY_ATTR,
  EXT4_FL_USER_VISIBLE,
  FS_IOC,
  FUSE_ROOT,
  fuseAttr,
  inoOf,
  nodeOf,
  statxOf,
  xflagsOf,
} from "./attr.js";
import { MappingPublisher, type MappingSink } from "./mapping.js";
import type { AtimeMode, ErrorsBehavior } from "./options.js";
import { DirStream, type ListedEntry } from "./readdir.js";

/** How the server behaves (derived from the mount options). */
export interface ServerConfig {
  /** Serve read-only: every mutator answers EROFS. */
  readOnly: boolean;
  errors: ErrorsBehavior;
  atime: AtimeMode;
  acl: boolean;
  userXattr: boolean;
  fakeroot: boolean;
  statfs: "bsddf" | "minixdf";
  writebackCache: boolean;
  entryTimeout: number;
  attrTimeout: number;
  negativeTimeout: number;
  /** Publish block maps to the native fast path. */
  fastpath: boolean;
  /** Write everything through after every change. */
  sync: boolean;
  /** Log every request. */
  debug: boolean;
}

/** What the server needs from the FUSE session (FuseSession satisfies it). */
export interface SessionPort extends MappingSink {
  notifyInvalInode(nodeid: number, offset?: number, length?: number): Promise<number>;
  /** When native overwrites last changed the node's data (µs since the epoch, 0: not since the last call). */
  takeNativeWrite(nodeid: number): number;
  /** Whether the native side may answer the node's security.capability probes with ENODATA. */
  setCapabilityAbsent(nodeid: number, absent: boolean): void;
}

/** An open file. */
interface FileHandle {
  readonly node: number;
  readonly ino: number;
  readonly flags: number;
  /** The core holds the inode for this handle (acquire/release). */
  readonly acquired: boolean;
}

const O_ACCMODE = 3;
const O_RDONLY = 0;
const O_TRUNC = 0o1000;
const O_EXCL = 0o200;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_IXGRP = 0o010;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const NAME_MAX = 255;
const ACL_ACCESS = "system.posix_acl_access";
const ACL_DEFAULT = "system.posix_acl_default";

/** Operations that change the filesystem: a read-only server answers them EROFS. */
const MUTATORS: ReadonlySet<OpName> = new Set<OpName>([
  "SETATTR",
  "SYMLINK",
  "MKNOD",
  "MKDIR",
  "UNLINK",
  "RMDIR",
  "RENAME",
  "RENAME2",
  "LINK",
  "WRITE",
  "SETXATTR",
  "REMOVEXATTR",
  "CREATE",
  "TMPFILE",
  "FALLOCATE",
  "COPY_FILE_RANGE",
  "COPY_FILE_RANGE_64",
]);

const utf8 = new TextDecoder("utf-8", { fatal: false });

function errno(name: string, message?: string): FuseErrno {
  return new FuseErrno(name, message);
}

function checkName(name: Uint8Array): void {
  // The kernel passes names up to 1024 bytes (FUSE_NAME_MAX); ext4 stores 255.
  if (name.length > NAME_MAX) throw errno("ENAMETOOLONG");
}

/** File capabilities: what the kernel probes for before a write or chown drops them. */
const CAPABILITY = "security.capability";

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Serves one mounted filesystem. Create it, then hand {@link handlers} to FuseSession.serve. */
export class Fuse4fsServer {
  /** Lookup counts by node id (the kernel's references; FORGET drops them). */
  readonly lookups = new Map<number, number>();
  private readonly files = new Map<number, FileHandle>();
  private readonly dirs = new Map<number, DirStream>();
  /** Open file handles per node. */
  private readonly opens = new Map<number, number>();
  /** Change counters of directories (bumped by every namespace change made here). */
  private readonly dirVersions = new Map<number, number>();
  private nextFh = 1;
  private roNow: boolean;
  private publisher: MappingPublisher | null = null;
  private session: SessionPort | null = null;
  /**
   * Nodes published with native overwrites while the kernel keeps no
   * writeback cache: their mtime and ctime are ours to stamp ({@link settle}).
   */
  private readonly nativeWriters = new Set<number>();
  /** Nodes vouched to the native side as having no security.capability ({@link capsAbsent}). */
  private readonly noCaps = new Set<number>();
  /** Set by every change; cleared by {@link sync}. */
  dirty = false;
  /** Called when errors=panic meets corruption (the mount layer ends the process or the mount). */
  onPanic: (reason: string) => void = () => {};

  constructor(
    readonly fs: Filesystem,
    private readonly config: ServerConfig,
    private readonly deviceOffset: number,
    private readonly log: (line: string) => void,
  ) {
    this.roNow = config.readOnly || !fs.writable;
  }

  /** True while mutators answer EROFS (a read-only mount, or after errors=remount-ro). */
  get readOnly(): boolean {
    return this.roNow;
  }

  /** Connects the session (notifications, fast path). Call before serving. */
  attach(
    session: SessionPort,
    fastpath: boolean,
    rawWrite: ((deviceOffset: number, data: Uint8Array) => void) | null = null,
  ): void {
    this.session = session;
    this.publisher = fastpath
      ? new MappingPublisher(
          this.fs,
          session,
          this.deviceOffset,
          rawWrite,
          !this.config.writebackCache,
        )
      : null;
  }

  /** Open handles (files and directories), for tests and shutdown. */
  get openHandles(): number {
    return this.files.size + this.dirs.size;
  }

  /** Writes everything the core holds to the image (a no-op when read-only). Throws Ext4Error (Io). */
  sync(): undefined {
    this.settleAll();
    if (this.fs.writable) this.fs.sync();
    this.dirty = false;
  }

  /**
   * Makes every change so far durable at the least cost: one journal
   * commit (a crash then replays it), or a full sync without a journal.
   * What fsync, syncfs and the periodic commit do. Throws
   * Ext4Error (Io).
   */
  commit(): undefined {
    this.settleAll();
    if (this.fs.writable) this.fs.commit();
    this.dirty = false;
  }

  // ---- errors ----

  /** Turns anything a handler threw into the errno to answer with (the one place). */
  private fail(e: unknown, op: string, ino: number): never {
    if (e instanceof FuseErrno) throw e;
    if (e instanceof Ext4Error) {
      if (e.kind === "Corrupt" || e.kind === "BadChecksum" || e.kind === "Io")
        this.corruption(e, op, ino);
      throw errno(errnoOf[e.kind], e.message);
    }
    if (e instanceof IoError) {
      this.log(`fuse4fs: ${op} (inode ${ino}): I/O error: ${e.message}`);
      throw errno("EIO");
    }
    const code = (e as { code?: unknown } | null)?.code;
    this.log(
      `fuse4fs: ${op} (inode ${ino}) failed unexpectedly, answering EIO: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}${typeof code === "string" ? ` [${code}]` : ""}`,
    );
    throw errno("EIO");
  }

  /**
   * Corruption (or a device error) met while serving: one log line naming
   * inode and block, the error recorded in the superblock (read-write
   * mounts; ext4_handle_error's save_error_info), then errors=.
   */
  private corruption(e: Ext4Error, op: string, ino: number): void {
    const inode = e.context.inode ?? ino;
    const block = e.context.block ?? 0;
    // The message names what the core knew; otherwise say which inode the operation was on.
    const where = e.context.inode === undefined ? ` (inode ${inode}, block ${block})` : "";
    this.log(
      `fuse4fs: ${op}: ${e.kind === "Io" ? "I/O error" : "corruption"} [${e.code}] ${e.message}${where}`,
    );
    if (this.fs.writable) {
      try {
        this.fs.recordError({
          time: nowSeconds(),
          ino: inode,
          block,
          func: `fuse4fs_${op.toLowerCase()}`,
          line: 0,
          errcode: EXT4_ERR[errnoOf[e.kind]] ?? 1,
        });
      } catch (err) {
        this.log(`fuse4fs: could not record the error in the superblock: ${String(err)}`);
      }
    }
    if (this.config.errors === "remount-ro" && !this.roNow) {
      this.log("fuse4fs: errors=remount-ro: the filesystem is now read-only");
      try {
        this.sync();
      } catch {
        // The device failed: nothing more can be written anyway.
      }
      this.roNow = true;
    } else if (this.config.errors === "panic") {
      this.roNow = true;
      this.onPanic(`${op}: ${e.message}`);
    }
  }

  // ---- helpers ----

  private timeouts(): { entryValid: number; attrValid: number } {
    return { entryValid: this.config.entryTimeout, attrValid: this.config.attrTimeout };
  }

  private attr(inode: Inode): FuseAttr {
    return fuseAttr(inode, this.fs.blockSize);
  }

  /**
   * The live inode behind node `nodeid`. A freed inode the kernel still
   * names, or the bad-blocks inode, is corruption. Throws Ext4Error.
   */
  private inodeOf(nodeid: number): Inode {
    const ino = inoOf(nodeid);
    if (this.nativeWriters.size !== 0) this.settle(nodeid);
    const inode = this.fs.readInode(ino);
    if (inode.fields.mode === 0 && inode.linksCount === 0 && this.opens.get(nodeid) === undefined) {
      throw errno("ENOENT");
    }
    return inode;
  }

  /** The inode a directory entry points at, checked as ext4_lookup does. Throws Ext4Error (Corrupt). */
  private entryInode(dir: number, ino: number): Inode {
    // Inode 1 is the bad-blocks list and cannot be named (its node id would be FUSE's root).
    if (ino < 2 && ino !== 0) {
      throw new Ext4Error(
        "Corrupt",
        "DIRENT_BAD_INODE",
        `directory entry names reserved inode ${ino}`,
        { inode: dir },
      );
    }
    if (this.nativeWriters.size !== 0) this.settle(nodeOf(ino));
    const inode = this.fs.readInode(ino);
    if (!inode.isInUse() || (inode.fields.mode & S_IFMT) === 0) {
      throw new Ext4Error(
        "Corrupt",
        "DIRENT_DELETED_INODE",
        `directory entry names deleted inode ${ino}`,
        {
          inode: dir,
        },
      );
    }
    return inode;
  }

  private ref(nodeid: number, n = 1): void {
    this.lookups.set(nodeid, (this.lookups.get(nodeid) ?? 0) + n);
  }

  private entry(inode: Inode): EntryReply {
    const nodeid = nodeOf(inode.ino);
    this.ref(nodeid);
    return { nodeid, generation: inode.generation, ...this.timeouts(), attr: this.attr(inode) };
  }

  private bumpDir(ino: number): void {
    this.dirVersions.set(ino, (this.dirVersions.get(ino) ?? 0) + 1);
  }

  private changed(): void {
    this.dirty = true;
    // -o sync: every change home before the call returns (not only in the journal),
    // so any reader of the image, debugfs included, sees it at once.
    if (this.config.sync) this.sync();
  }

  /** The caller may use root-reserved blocks (root, s_def_resuid/resgid, or fakeroot). */
  private reserved(h: RequestHeader, owner?: number): boolean {
    if (this.config.fakeroot) return true;
    return this.fs.mayUseReserved(owner ?? h.uid, [h.gid]);
  }

  private isRoot(h: RequestHeader): boolean {
    return this.config.fakeroot || h.uid === 0;
  }

  /**
   * Withdraws a node's fast-path mapping before its block map or data change
   * through the core, recording which bytes change (`touched`, for the next
   * publish; "all" when unsure).
   */
  private unmap(nodeid: number, touched?: { offset: number; length: number } | "all"): void {
    const p = this.publisher;
    if (p === null) return;
    if (touched !== undefined) p.touch(nodeid, touched);
    p.invalidate(nodeid);
  }

  /** The bytes a size change from `from` to `to` touches: from the block holding the lower end. */
  private sizeRange(from: number, to: number): { offset: number; length: number } {
    const bs = this.fs.blockSize;
    const lo = Math.floor(Math.min(from, to) / bs) * bs;
    return { offset: lo, length: Math.max(from, to) - lo + bs };
  }

  private fastWrite(inode: Inode): boolean {
    // Native writes change no metadata: the kernel's writeback cache owns mtime,
    // or, without it, settle() stamps it from the native side's record.
    return !this.roNow && (inode.flags & (InodeFlags.IMMUTABLE | InodeFlags.APPEND)) === 0;
  }

  /**
   * Stamps mtime and ctime of a node whose data native overwrites changed
   * since the last look (what ext4's write path does at each write). Runs
   * before the node's inode is read for any request, and for every such
   * node before a commit or sync.
   */
  private settle(nodeid: number): void {
    const session = this.session;
    if (session === null || !this.nativeWriters.has(nodeid)) return;
    const us = session.takeNativeWrite(nodeid);
    if ((this.opens.get(nodeid) ?? 0) === 0) this.nativeWriters.delete(nodeid);
    if (us !== 0) this.stampWrite(nodeid, { sec: Math.floor(us / 1e6), nsec: (us % 1e6) * 1000 });
  }

  /** mtime and ctime after a write that bypassed the core (native, or {@link MappingPublisher.overwrite}). */
  private stampWrite(nodeid: number, t: Timestamp | "now"): void {
    if (this.roNow || this.config.writebackCache) return;
    try {
      this.fs.setattr(inoOf(nodeid), t === "now" ? { mtime: t } : { mtime: t, ctime: t });
      this.changed();
    } catch (e) {
      // Flags changed since (immutable): the write happened before; nothing to stamp.
      if (!isExt4Error(e)) throw e;
    }
  }

  private settleAll(): void {
    for (const nodeid of [...this.nativeWriters]) this.settle(nodeid);
  }

  /**
   * Tells the native side whether node `nodeid` is known to have no
   * security.capability, so the kernel's probe for it (before the first
   * write to each file, and at chown) needs no trip into JS. Vouched for new
   * inodes and after a probe found none; withdrawn before that attribute is
   * set or removed, and when the kernel forgets the node.
   */
  private capsAbsent(nodeid: number, absent: boolean): void {
    const session = this.session;
    if (session === null || absent === this.noCaps.has(nodeid)) return;
    if (absent) this.noCaps.add(nodeid);
    else this.noCaps.delete(nodeid);
    session.setCapabilityAbsent(nodeid, absent);
  }

  /** Publishes a node's map for native reads (and overwrites) when it has open handles. */
  private publish(nodeid: number, inode: Inode): void {
    const p = this.publisher;
    if (p === null || p.has(nodeid) || (this.opens.get(nodeid) ?? 0) === 0) return;
    try {
      const fast = this.fastWrite(inode);
      p.publish(nodeid, inode, fast);
      // Their native writes are recorded (see MappingPublisher): settle() stamps them.
      if (fast && !this.config.writebackCache) this.nativeWriters.add(nodeid);
    } catch (e) {
      // A map that cannot be walked is served by JS (which reports the corruption).
      if (!isExt4Error(e)) throw e;
    }
  }

  /** relatime/strictatime/noatime as the kernel's atime_needs_update and relatime_need_update decide. */
  private touchAtime(nodeid: number, inode: Inode): void {
    if (this.roNow || this.config.atime === "noatime") return;
    if ((inode.flags & (InodeFlags.NOATIME | InodeFlags.IMMUTABLE)) !== 0) return;
    const now = nowSeconds();
    const a = inode.atime;
    const older = (x: Timestamp): boolean => a.sec < x.sec || (a.sec === x.sec && a.nsec <= x.nsec);
    if (
      this.config.atime === "relatime" &&
      !older(inode.mtime) &&
      !older(inode.ctime) &&
      now - a.sec < 86400
    ) {
      return;
    }
    try {
      // An access-time update leaves ctime alone (touch_atime), unlike setattr.
      this.fs.setattr(inode.ino, { atime: "now", ctime: inode.ctime });
      this.dirty = true;
      void this.session?.notifyInvalInode(nodeid, -1, 0);
    } catch (e) {
      if (!isExt4Error(e) || e.kind === "Corrupt" || e.kind === "BadChecksum") throw e;
    }
  }

  // ---- the handler table ----

  /**
   * The handlers, each wrapped so that errors become errnos in one place,
   * mutators answer EROFS while read-only, and with debug every request
   * and its outcome is logged.
   */
  handlers(): FuseHandlers {
    const table: FuseHandlers = {
      INIT: (r) => this.init(r),
      DESTROY: () => undefined,
      LOOKUP: (r) => this.lookup(r),
      FORGET: (r) => this.forget(r.header.nodeid, r.nlookup),
      BATCH_FORGET: (r) => {
        for (const f of r.forgets) this.forget(f.nodeid, f.nlookup);
        return undefined;
      },
      GETATTR: (r) => ({
        attrValid: this.config.attrTimeout,
        attr: this.attr(this.inodeOf(r.header.nodeid)),
      }),
      STATX: (r) =>
        statxOf(this.inodeOf(r.header.nodeid), this.fs.blockSize, this.config.attrTimeout),
      READLINK: (r) => this.fs.readLinkBytes(this.inodeOf(r.header.nodeid)),
      OPEN: (r) => this.open(r),
      READ: (r) => this.read(r),
      RELEASE: (r) => this.release(r.fh),
      // No FLUSH handler: its ENOSYS makes the kernel stop sending FLUSH at every close
      // (fc->no_flush); dirty pages are still written back before close returns.
      FSYNC: () => this.commit(),
      FSYNCDIR: () => this.commit(),
      SYNCFS: () => this.commit(),
      OPENDIR: (r) => this.opendir(r),
      READDIR: (r) => this.readdir(r, false),
      READDIRPLUS: (r) => this.readdir(r, true),
      RELEASEDIR: (r) => {
        this.dirs.delete(r.fh);
        return undefined;
      },
      STATFS: () => this.statfs(),
      ACCESS: (r) => this.access(r),
      GETXATTR: (r) => this.getxattr(r),
      LISTXATTR: (r) => this.listxattr(r),
      LSEEK: (r) => this.lseek(r),
      IOCTL: (r) => this.ioctl(r),
      SETATTR: (r) => this.setattr(r),
      SYMLINK: (r) => this.symlink(r),
      MKNOD: (r) => this.mknod(r),
      MKDIR: (r) => this.mkdir(r),
      UNLINK: (r) => this.unlink(r),
      RMDIR: (r) => this.rmdir(r),
      RENAME: (r) => this.rename(r.header, r.name, r.newdir, r.newName, 0),
      RENAME2: (r) => this.rename(r.header, r.name, r.newdir, r.newName, r.flags),
      LINK: (r) => this.link(r),
      CREATE: (r) => this.create(r),
      TMPFILE: (r) => this.tmpfile(r),
      WRITE: (r) => this.write(r),
      SETXATTR: (r) => this.setxattr(r),
      REMOVEXATTR: (r) => this.removexattr(r),
      FALLOCATE: (r) => this.fallocate(r),
      COPY_FILE_RANGE: (r) => this.copyFileRange(r),
      COPY_FILE_RANGE_64: (r) => this.copyFileRange(r),
    };
    const wrapped: Record<string, unknown> = {};
    for (const [name, h] of Object.entries(table) as Array<
      [OpName, (r: FuseRequest, c: RequestContext) => unknown]
    >) {
      const mutator = MUTATORS.has(name);
      wrapped[name] = (req: FuseRequest, ctx: RequestContext): unknown => {
        const ino = inoOf(req.header.nodeid);
        if (this.config.debug)
          this.log(
            `fuse4fs: -> ${name} node ${req.header.nodeid} uid ${req.header.uid}${describe(req)}`,
          );
        try {
          if (mutator && this.roNow) throw errno("EROFS");
          const r = h(req, ctx);
          if (this.config.debug) this.log(`fuse4fs: <- ${name} ok`);
          return r;
        } catch (e) {
          try {
            this.fail(e, name, ino);
          } catch (f) {
            if (this.config.debug) this.log(`fuse4fs: <- ${name} ${(f as FuseErrno).errno}`);
            throw f;
          }
        }
      };
    }
    return wrapped as FuseHandlers;
  }

  private init(r: FuseRequest<"INIT">) {
    // HANDLE_KILLPRIV_V2: set-id bits are cleared here (WRITE, SETATTR and OPEN carry
    // a KILL_SUIDGID flag), which lets the kernel set SB_NOSEC and stop asking for
    // security.capability before every write (a JS round trip in front of each fast write).
    let flags =
      DEFAULT_INIT_FLAGS |
      InitFlag.HAS_IOCTL_DIR |
      InitFlag.CACHE_SYMLINKS |
      InitFlag.EXPORT_SUPPORT |
      InitFlag.HANDLE_KILLPRIV_V2;
    if (this.config.writebackCache && !this.roNow) flags |= InitFlag.WRITEBACK_CACHE;
    // With POSIX_ACL the kernel checks ACLs and leaves the mode/ACL coupling to us; with
    // DONT_MASK it sends the mode unmasked and the umask beside it, so that a default
    // ACL can replace the umask (posix_acl_create).
    if (this.config.acl) flags |= InitFlag.POSIX_ACL | InitFlag.DONT_MASK;
    const inodeSize = this.fs.superblock.inodeSize;
    return negotiateInit(
      r,
      {
        flags,
        maxWrite: 1 << 20,
        // Enough background requests for queued async reads (fio iodepth 16 and more).
        maxBackground: 64,
        congestionThreshold: 48,
        // 128-byte inodes keep whole seconds only.
        timeGran: inodeSize > 128 ? 1 : 1_000_000_000,
      },
      1 << 20,
    );
  }

  private lookup(r: FuseRequest<"LOOKUP">): EntryReply {
    checkName(r.name);
    const dir = this.inodeOf(r.header.nodeid);
    if (!dir.isDirectory()) throw errno("ENOTDIR");
    const found = lookupEntry(this.fs, dir, r.name);
    if (found === null) {
      return { nodeid: 0, entryValid: this.config.negativeTimeout, attrValid: 0, attr: EMPTY_ATTR };
    }
    return this.entry(this.entryInode(dir.ino, found.ino));
  }

  private forget(nodeid: number, n: number): undefined {
    const left = (this.lookups.get(nodeid) ?? 0) - n;
    if (left > 0) {
      this.lookups.set(nodeid, left);
      return;
    }
    this.lookups.delete(nodeid);
    this.capsAbsent(nodeid, false);
    if ((this.opens.get(nodeid) ?? 0) === 0) this.dirVersions.delete(inoOf(nodeid));
  }

  // ---- files ----

  /** A file handle; `held`: the core already holds the inode for it (createTmpfile). */
  private newHandle(nodeid: number, inode: Inode, flags: number, held = false): number {
    let acquired = held;
    if (!held && this.fs.writable && inode.isRegular()) {
      this.fs.acquire(inode.ino);
      acquired = true;
    }
    const fh = this.nextFh++;
    this.files.set(fh, { node: nodeid, ino: inode.ino, flags, acquired });
    this.opens.set(nodeid, (this.opens.get(nodeid) ?? 0) + 1);
    return fh;
  }

  private openFlags(inode: Inode): number {
    // The kernel is the only writer's cache: file pages stay valid across opens.
    return inode.isRegular() ? FOPEN.KEEP_CACHE : 0;
  }

  private open(r: FuseRequest<"OPEN">) {
    const nodeid = r.header.nodeid;
    let inode = this.inodeOf(nodeid);
    const writing = (r.flags & O_ACCMODE) !== O_RDONLY;
    if ((writing || (r.flags & O_TRUNC) !== 0) && this.roNow) throw errno("EROFS");
    if (inode.isDirectory()) throw errno("EISDIR");
    if ((r.flags & O_TRUNC) !== 0 && inode.isRegular()) {
      // FUSE_ATOMIC_O_TRUNC: the truncate is ours (and with it, FUSE_OPEN_KILL_SUIDGID).
      this.unmap(nodeid, this.sizeRange(inode.size, 0));
      inode = this.fs.setattr(inode.ino, { size: 0, reserved: this.reserved(r.header) });
      if ((r.openFlags & FUSE_OPEN_KILL_SUIDGID) !== 0) inode = this.killSuidgid(inode);
      this.changed();
    }
    const fh = this.newHandle(nodeid, inode, r.flags);
    if ((r.flags & O_ACCMODE) !== 1) this.touchAtime(nodeid, inode);
    this.publish(nodeid, inode);
    return { fh, openFlags: this.openFlags(inode) };
  }

  private read(r: FuseRequest<"READ">): Uint8Array {
    const nodeid = r.header.nodeid;
    const inode = this.inodeOf(nodeid);
    if (inode.isDirectory()) throw errno("EISDIR");
    const data = this.fs.readFile(inode, r.offset, r.size);
    if (this.config.atime === "strictatime") this.touchAtime(nodeid, inode);
    this.publish(nodeid, inode);
    return data;
  }

  private release(fh: number): undefined {
    const h = this.files.get(fh);
    if (h === undefined) return;
    this.files.delete(fh);
    const left = (this.opens.get(h.node) ?? 1) - 1;
    if (left > 0) this.opens.set(h.node, left);
    else {
      this.opens.delete(h.node);
      // The last close may delete an unlinked inode (its blocks freed): withdraw the map first.
      this.unmap(h.node);
      this.settle(h.node);
    }
    if (h.acquired) {
      this.fs.release(h.ino);
      this.changed();
    }
  }

  private write(r: FuseRequest<"WRITE">) {
    const nodeid = r.header.nodeid;
    // An overwrite inside the published map (one the native side passed on, e.g.
    // while it was being republished) changes no metadata: write it as native would,
    // keeping the mapping; withdrawing it would send the writes after it here too.
    if (
      (r.writeFlags & FUSE_WRITE_KILL_SUIDGID) === 0 &&
      this.publisher?.overwrite(nodeid, r.offset, r.data)
    ) {
      this.stampWrite(nodeid, "now");
      return { size: r.data.length };
    }
    const before = this.inodeOf(nodeid);
    // The old tail block is zeroed past the old size when the write starts beyond it.
    const from = Math.min(
      r.offset,
      Math.floor(before.size / this.fs.blockSize) * this.fs.blockSize,
    );
    this.unmap(nodeid, { offset: from, length: r.offset + r.data.length - from });
    // Writes from the kernel's page cache carry the flusher's credentials, not the
    // writer's: the owner stands in for the root-reserved blocks check.
    const cached = (r.writeFlags & FUSE_WRITE_CACHE) !== 0;
    const res = this.fs.writeFile(before.ino, r.offset, r.data, {
      reserved: this.reserved(r.header, cached ? before.uid : undefined),
    });
    let inode = res.inode;
    if ((r.writeFlags & FUSE_WRITE_KILL_SUIDGID) !== 0) inode = this.killSuidgid(inode);
    this.changed();
    // Overwrites within the file get their map back for native I/O; appends do not
    // pay a map walk per write (the next JS read publishes it).
    if (r.offset + r.data.length <= before.size) this.publish(nodeid, inode);
    return { size: res.written };
  }

  /**
   * Clears set-user-id, and set-group-id with group execute (HANDLE_KILLPRIV_V2 on
   * WRITE and OPEN). Their replies carry no attributes, so the kernel's cached mode
   * is invalidated.
   */
  private killSuidgid(inode: Inode): Inode {
    const m = inode.mode;
    let next = m & ~S_ISUID;
    if ((m & S_IXGRP) !== 0) next &= ~S_ISGID;
    if (next === m) return inode;
    const after = this.fs.setattr(inode.ino, { mode: next & 0o7777 });
    void this.session?.notifyInvalInode(nodeOf(inode.ino), -1, 0);
    return after;
  }

  private create(r: FuseRequest<"CREATE">) {
    checkName(r.name);
    const parent = inoOf(r.header.nodeid);
    let inode: Inode;
    let created = false;
    try {
      inode = this.fs.create(parent, r.name, {
        mode: r.mode & 0o7777,
        uid: r.header.uid,
        gid: r.header.gid,
        umask: this.config.acl ? r.umask : 0,
        reserved: this.reserved(r.header),
      });
      created = true;
      this.bumpDir(parent);
    } catch (e) {
      // The kernel sends CREATE for a name it believes absent; without O_EXCL an
      // existing file is simply opened (open(2) with O_CREAT).
      if (!(isExt4Error(e, "Exists") && (r.flags & O_EXCL) === 0)) throw e;
      const found = lookupEntry(this.fs, this.fs.readInode(parent), r.name);
      if (found === null) throw e;
      inode = this.entryInode(parent, found.ino);
      if (inode.isDirectory()) throw errno("EISDIR");
      if ((r.flags & O_TRUNC) !== 0 && inode.isRegular()) {
        this.unmap(nodeOf(inode.ino), this.sizeRange(inode.size, 0));
        inode = this.fs.setattr(inode.ino, { size: 0, reserved: this.reserved(r.header) });
        if ((r.openFlags & FUSE_OPEN_KILL_SUIDGID) !== 0) inode = this.killSuidgid(inode);
      }
    }
    this.changed();
    const entry = this.entry(inode);
    if (created) this.capsAbsent(entry.nodeid, true);
    const fh = this.newHandle(entry.nodeid, inode, r.flags);
    this.publish(entry.nodeid, inode);
    return { entry, open: { fh, openFlags: this.openFlags(inode) } };
  }

  private tmpfile(r: FuseRequest<"TMPFILE">) {
    // ext4_tmpfile: no name, no link, on the orphan list; linkat may name it once.
    const inode = this.fs.createTmpfile(inoOf(r.header.nodeid), {
      mode: r.mode & 0o7777,
      uid: r.header.uid,
      gid: r.header.gid,
      umask: this.config.acl ? r.umask : 0,
      reserved: this.reserved(r.header),
    });
    this.changed();
    const entry = this.entry(inode);
    this.capsAbsent(entry.nodeid, true);
    const fh = this.newHandle(entry.nodeid, inode, r.flags, true);
    return { entry, open: { fh, openFlags: this.openFlags(inode) } };
  }

  // ---- directories ----

  private opendir(r: FuseRequest<"OPENDIR">) {
    const inode = this.inodeOf(r.header.nodeid);
    if (!inode.isDirectory()) throw errno("ENOTDIR");
    const fh = this.nextFh++;
    this.dirs.set(fh, new DirStream(this.fs, inode.ino));
    this.touchAtime(r.header.nodeid, inode);
    // The kernel may cache the listing: every change goes through it and invalidates it.
    return { fh, openFlags: FOPEN.CACHE_DIR | FOPEN.KEEP_CACHE };
  }

  private readdir(
    r: FuseRequest<"READDIR"> | FuseRequest<"READDIRPLUS">,
    plus: boolean,
  ): Uint8Array {
    const ino = inoOf(r.header.nodeid);
    let stream = this.dirs.get(r.fh);
    if (stream === undefined) {
      // A handle the kernel made without OPENDIR (or after a restart): list statelessly.
      stream = new DirStream(this.fs, ino);
    }
    const version = this.dirVersions.get(ino) ?? 0;
    if (!plus) {
      const buf = new DirentBuffer(r.size);
      stream.read(r.offset, version, (e) =>
        buf.add({ ino: e.ino, off: e.off, type: dtOfFileType(e.fileType), name: e.name }),
      );
      return buf.bytes();
    }
    const buf = new DirentPlusBuffer(r.size);
    stream.read(r.offset, version, (e) => this.addPlus(buf, ino, e));
    return buf.bytes();
  }

  /** Appends a READDIRPLUS entry; the kernel takes a lookup reference for every entry with a node id. */
  private addPlus(buf: DirentPlusBuffer, dir: number, e: ListedEntry): boolean {
    const dot = e.name.length <= 2 && e.name.every((c) => c === 0x2e);
    let inode: Inode | null = null;
    if (!dot) {
      try {
        inode = this.entryInode(dir, e.ino);
      } catch (err) {
        // The entry goes without attributes; a LOOKUP of it reports the problem.
        if (!isExt4Error(err)) throw err;
      }
    }
    if (inode === null) {
      return buf.add(
        { ino: e.ino, off: e.off, type: dtOfFileType(e.fileType), name: e.name },
        { nodeid: 0, entryValid: 0, attrValid: 0, attr: EMPTY_ATTR },
      );
    }
    const nodeid = nodeOf(inode.ino);
    const ok = buf.add(
      { ino: inode.ino, off: e.off, type: dtOfMode(inode.mode), name: e.name },
      { nodeid, generation: inode.generation, ...this.timeouts(), attr: this.attr(inode) },
    );
    if (ok) this.ref(nodeid);
    return ok;
  }

  // ---- attributes ----

  private statfs() {
    const s = this.fs.statfs();
    return {
      blocks: this.config.statfs === "minixdf" ? this.fs.superblock.blocksCount : s.blocks,
      bfree: s.bfree,
      bavail: s.bavail,
      files: s.files,
      ffree: s.ffree,
      bsize: s.bsize,
      namelen: s.namelen,
      frsize: s.frsize,
    };
  }

  private access(r: FuseRequest<"ACCESS">): undefined {
    const inode = this.inodeOf(r.header.nodeid);
    const mask = r.mask & 7;
    if (mask === 0) return;
    if ((mask & 2) !== 0 && this.roNow) throw errno("EROFS");
    if (this.isRoot(r.header)) {
      // Root may execute only what someone may execute (or any directory).
      if ((mask & 1) !== 0 && !inode.isDirectory() && (inode.mode & 0o111) === 0)
        throw errno("EACCES");
      return;
    }
    const m = inode.mode;
    const bits =
      r.header.uid === inode.uid ? (m >> 6) & 7 : r.header.gid === inode.gid ? (m >> 3) & 7 : m & 7;
    if ((bits & mask) !== mask) throw errno("EACCES");
  }

  private setattr(r: FuseRequest<"SETATTR">) {
    const nodeid = r.header.nodeid;
    const v = r.valid;
    let inode = this.inodeOf(nodeid);
    // With the writeback cache the kernel writes an unlinked inode's times back as
    // it evicts it (after UNLINK, before FORGET). The inode is freed (and its number
    // may be reused): nothing may be written to it.
    if (!inode.isDirectory() && inode.linksCount === 0 && (this.opens.get(nodeid) ?? 0) === 0) {
      throw errno("ENOENT");
    }
    const changes: { -readonly [K in keyof SetAttr]: SetAttr[K] } = {};
    let mode: number | undefined;
    if ((v & FATTR.MODE) !== 0) mode = r.mode & 0o7777;
    // FATTR_KILL_SUIDGID (HANDLE_KILLPRIV_V2): sent with truncate and chown by a caller
    // without CAP_FSETID; set-group-id goes only with group execute, as the VFS does.
    if ((v & FATTR.KILL_SUIDGID) !== 0 && !inode.isDirectory()) {
      let m = mode ?? inode.mode & 0o7777;
      m &= ~S_ISUID;
      if ((m & S_IXGRP) !== 0) m &= ~S_ISGID;
      mode = m;
    }
    if (mode !== undefined) changes.mode = mode;
    if ((v & FATTR.UID) !== 0) changes.uid = r.uid;
    if ((v & FATTR.GID) !== 0) changes.gid = r.gid;
    if ((v & FATTR.SIZE) !== 0) {
      if (inode.isDirectory()) throw errno("EISDIR");
      changes.size = r.size;
      changes.reserved = this.reserved(r.header);
    }
    if ((v & FATTR.ATIME_NOW) !== 0) changes.atime = "now";
    else if ((v & FATTR.ATIME) !== 0) changes.atime = { sec: r.atime, nsec: r.atimensec };
    if ((v & FATTR.MTIME_NOW) !== 0) changes.mtime = "now";
    else if ((v & FATTR.MTIME) !== 0) changes.mtime = { sec: r.mtime, nsec: r.mtimensec };
    if ((v & FATTR.CTIME) !== 0) changes.ctime = { sec: r.ctime, nsec: r.ctimensec };
    if (Object.keys(changes).length > 0) {
      if (changes.size !== undefined) this.unmap(nodeid, this.sizeRange(inode.size, changes.size));
      inode = this.fs.setattr(inode.ino, changes);
      if (mode !== undefined && this.config.acl) this.chmodAcl(inode);
      this.changed();
      if (changes.size !== undefined) this.publish(nodeid, inode);
    }
    return { attrValid: this.config.attrTimeout, attr: this.attr(this.fs.readInode(inode.ino)) };
  }

  /** posix_acl_chmod: an access ACL follows a mode change. */
  private chmodAcl(inode: Inode): void {
    if (inode.isSymlink()) return;
    const acl = this.fs.getPosixAcl(inode, "access");
    if (acl === null) return;
    this.fs.setPosixAcl(inode.ino, "access", aclChmod(acl, inode.mode));
  }

  private setxattr(r: FuseRequest<"SETXATTR">): undefined {
    const nodeid = r.header.nodeid;
    const name = utf8.decode(r.name);
    this.checkXattrName(name);
    const inode = this.inodeOf(nodeid);
    if (name === CAPABILITY) this.capsAbsent(nodeid, false);
    if (name === ACL_ACCESS) {
      // posix_acl_update_mode: the mode follows the ACL, which goes when the mode says it all.
      let entries: AclEntry[];
      try {
        entries = decodePosixAclXattr(r.value, { inode: inode.ino });
      } catch {
        throw errno("EINVAL");
      }
      const killSgid = (r.setxattrFlags & FUSE_SETXATTR_ACL_KILL_SGID) !== 0;
      const u = aclUpdateMode(inode.mode, entries, killSgid);
      if (u.acl === null) this.fs.setPosixAcl(inode.ino, "access", null);
      else
        this.fs.setXattr(
          inode.ino,
          name,
          encodePosixAclXattr(u.acl),
          r.flags & (XATTR_CREATE | XATTR_REPLACE),
        );
      if ((u.mode & 0o7777) !== (inode.mode & 0o7777))
        this.fs.setattr(inode.ino, { mode: u.mode & 0o7777 });
    } else {
      this.fs.setXattr(inode.ino, name, r.value, r.flags & (XATTR_CREATE | XATTR_REPLACE), {
        reserved: this.reserved(r.header),
      });
    }
    this.changed();
  }

  private checkXattrName(name: string): void {
    if (!this.config.userXattr && name.startsWith("user.")) throw errno("EOPNOTSUPP");
    if (!this.config.acl && (name === ACL_ACCESS || name === ACL_DEFAULT))
      throw errno("EOPNOTSUPP");
  }

  private getxattr(r: FuseRequest<"GETXATTR">) {
    const name = utf8.decode(r.name);
    this.checkXattrName(name);
    let value: Uint8Array;
    try {
      value = this.fs.readXattr(inoOf(r.header.nodeid), name);
    } catch (e) {
      if (name === CAPABILITY && isExt4Error(e, "NoData")) this.capsAbsent(r.header.nodeid, true);
      throw e;
    }
    return r.size === 0 ? { size: value.length } : value;
  }

  private listxattr(r: FuseRequest<"LISTXATTR">) {
    const names = this.fs
      .listXattrNames(inoOf(r.header.nodeid))
      .filter(
        (n) =>
          (this.config.userXattr || !n.startsWith("user.")) &&
          (this.config.acl || !n.startsWith("system.posix_acl_")),
      );
    const bytes = new TextEncoder().encode(names.map((n) => `${n}\0`).join(""));
    if (r.size === 0) return { size: bytes.length };
    if (bytes.length > r.size) throw errno("ERANGE");
    return bytes;
  }

  private removexattr(r: FuseRequest<"REMOVEXATTR">): undefined {
    const name = utf8.decode(r.name);
    this.checkXattrName(name);
    if (name === CAPABILITY) this.capsAbsent(r.header.nodeid, false);
    this.fs.removeXattr(inoOf(r.header.nodeid), name);
    this.changed();
  }

  // ---- namespace ----

  private nodeOpts(h: RequestHeader, mode: number, umask: number) {
    return {
      mode: mode & 0o7777,
      uid: h.uid,
      gid: h.gid,
      umask: this.config.acl ? umask : 0,
      reserved: this.reserved(h),
    };
  }

  private symlink(r: FuseRequest<"SYMLINK">): EntryReply {
    checkName(r.name);
    const parent = inoOf(r.header.nodeid);
    const inode = this.fs.symlink(parent, r.name, r.target, {
      uid: r.header.uid,
      gid: r.header.gid,
      reserved: this.reserved(r.header),
    });
    this.bumpDir(parent);
    this.changed();
    return this.entry(inode);
  }

  private mknod(r: FuseRequest<"MKNOD">): EntryReply {
    checkName(r.name);
    const parent = inoOf(r.header.nodeid);
    const type = r.mode & S_IFMT;
    const dev = type === 0o020000 || type === 0o060000 ? decodeDev(r.rdev) : null;
    const opts = this.nodeOpts(r.header, r.mode, r.umask);
    const inode = this.fs.mknod(
      parent,
      r.name,
      type === 0 ? S_IFREG | opts.mode : r.mode,
      dev,
      opts,
    );
    this.bumpDir(parent);
    this.changed();
    const entry = this.entry(inode);
    this.capsAbsent(entry.nodeid, true);
    return entry;
  }

  private mkdir(r: FuseRequest<"MKDIR">): EntryReply {
    checkName(r.name);
    const parent = inoOf(r.header.nodeid);
    const inode = this.fs.mkdir(parent, r.name, this.nodeOpts(r.header, r.mode, r.umask));
    this.bumpDir(parent);
    this.changed();
    return this.entry(inode);
  }

  private unlink(r: FuseRequest<"UNLINK">): undefined {
    checkName(r.name);
    const parent = inoOf(r.header.nodeid);
    // No mapping to withdraw: only open nodes have one, and an open inode that loses
    // its last link stays on the orphan list with its blocks until the last release.
    this.fs.unlink(parent, r.name);
    this.bumpDir(parent);
    this.changed();
  }

  private rmdir(r: FuseRequest<"RMDIR">): undefined {
    checkName(r.name);
    const parent = inoOf(r.header.nodeid);
    // Open listings of the removed directory must see it change (it is empty now).
    const victim =
      this.dirs.size > 0 ? lookupEntry(this.fs, this.fs.readInode(parent), r.name) : null;
    this.fs.rmdir(parent, r.name);
    this.bumpDir(parent);
    if (victim !== null) this.bumpDir(victim.ino);
    this.changed();
  }

  private rename(
    h: RequestHeader,
    name: Uint8Array,
    newdir: number,
    newName: Uint8Array,
    flags: number,
  ): undefined {
    checkName(name);
    checkName(newName);
    const from = inoOf(h.nodeid);
    const to = inoOf(newdir);
    // A replaced file that is open keeps its blocks (orphan list); one that is not has no mapping.
    this.fs.rename(from, name, to, newName, flags);
    this.bumpDir(from);
    this.bumpDir(to);
    this.changed();
  }

  private link(r: FuseRequest<"LINK">): EntryReply {
    checkName(r.name);
    const parent = inoOf(r.header.nodeid);
    const inode = this.fs.link(inoOf(r.oldnodeid), parent, r.name);
    this.bumpDir(parent);
    this.changed();
    return this.entry(inode);
  }

  // ---- data layout ----

  private lseek(r: FuseRequest<"LSEEK">) {
    const ino = inoOf(r.header.nodeid);
    if (r.whence === SEEK_DATA) return { offset: this.fs.seekData(ino, r.offset) };
    if (r.whence === SEEK_HOLE) return { offset: this.fs.seekHole(ino, r.offset) };
    throw errno("EINVAL");
  }

  private fallocate(r: FuseRequest<"FALLOCATE">): undefined {
    const nodeid = r.header.nodeid;
    const inode = this.inodeOf(nodeid);
    // Zeroing and punching touch partial blocks at both ends; a size change the tail.
    const bs = this.fs.blockSize;
    const lo = Math.floor(Math.min(r.offset, inode.size) / bs) * bs;
    this.unmap(nodeid, { offset: lo, length: Math.max(r.offset + r.length, inode.size) - lo + bs });
    const after = this.fs.fallocate(inode.ino, r.mode, r.offset, r.length, {
      reserved: this.reserved(r.header),
    });
    this.changed();
    this.publish(nodeid, after);
  }

  private copyFileRange(r: FuseRequest<"COPY_FILE_RANGE"> | FuseRequest<"COPY_FILE_RANGE_64">) {
    if (r.flags !== 0n) throw errno("EINVAL");
    const src = inoOf(r.header.nodeid);
    const dstNode = r.nodeidOut;
    this.unmap(dstNode, "all");
    const n = this.fs.copyRange(src, r.offIn, inoOf(dstNode), r.offOut, r.len, {
      reserved: this.reserved(r.header),
    });
    this.changed();
    return { size: n };
  }

  private ioctl(r: FuseRequest<"IOCTL">) {
    const nodeid = r.header.nodeid;
    const inode = this.inodeOf(nodeid);
    const out = (bytes: Uint8Array) => ({
      result: 0,
      data: bytes.subarray(0, Math.min(bytes.length, r.outSize)),
    });
    switch (r.cmd >>> 0) {
      case FS_IOC.GETFLAGS: {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setUint32(0, (inode.flags & EXT4_FL_USER_VISIBLE) >>> 0, true);
        return out(b);
      }
      case FS_IOC.SETFLAGS: {
        if (this.roNow) throw errno("EROFS");
        if (r.data.length < 4) throw errno("EINVAL");
        const flags = new DataView(r.data.buffer, r.data.byteOffset, 4).getUint32(0, true);
        // CAP_LINUX_IMMUTABLE for immutable/append-only changes (the VFS checks too).
        const special = InodeFlags.IMMUTABLE | InodeFlags.APPEND;
        if (((flags ^ inode.flags) & special) !== 0 && !this.isRoot(r.header)) throw errno("EPERM");
        if (r.header.uid !== inode.uid && !this.isRoot(r.header)) throw errno("EPERM");
        this.unmap(nodeid, "all");
        const after = this.fs.setFlags(inode.ino, flags);
        this.changed();
        this.publish(nodeid, after);
        return { result: 0 };
      }
      case FS_IOC.FSGETXATTR: {
        // struct fsxattr: fsx_xflags, fsx_extsize, fsx_nextents, fsx_projid, fsx_cowextsize, pad.
        const b = new Uint8Array(28);
        const dv = new DataView(b.buffer);
        dv.setUint32(0, xflagsOf(inode.flags), true);
        dv.setUint32(12, inode.fields.projid ?? 0, true);
        return out(b);
      }
      case FS_IOC.FIEMAP:
        return this.fiemap(inode, r.data, r.outSize);
      default:
        throw errno("ENOTTY");
    }
  }

  /**
   * FS_IOC_FIEMAP for the extents that fit the caller's buffer. (The VFS
   * answers FIEMAP on FUSE files itself, so this is reached only by callers
   * speaking FUSE_IOCTL directly, e.g. CUSE-style unrestricted ioctls.)
   */
  private fiemap(inode: Inode, input: Uint8Array, outSize: number) {
    if (input.length < 32) throw errno("EINVAL");
    const dv = new DataView(input.buffer, input.byteOffset, input.length);
    const start = Number(dv.getBigUint64(0, true));
    const length = Number(dv.getBigUint64(8, true));
    const want = dv.getUint32(24, true);
    const bs = this.fs.blockSize;
    const first = Math.floor(start / bs);
    const endByte = Math.min(inode.size, start + length);
    const count = Math.max(0, Math.ceil(endByte / bs) - first);
    const runs =
      inode.hasInlineData() || !inode.isRegular() || count === 0
        ? []
        : this.fs.mapBlocks(inode, first, count).filter((x) => x.kind === "mapped");
    const room = Math.max(0, Math.floor((outSize - 32) / 56));
    const n = want === 0 ? 0 : Math.min(runs.length, want, room);
    const outBytes = new Uint8Array(32 + n * 56);
    const o = new DataView(outBytes.buffer);
    o.setBigUint64(0, BigInt(start), true);
    o.setBigUint64(8, BigInt(length), true);
    o.setUint32(16, dv.getUint32(16, true), true);
    o.setUint32(20, want === 0 ? runs.length : n, true);
    o.setUint32(24, want, true);
    for (let i = 0; i < n; i++) {
      // OK to assert: i < n ≤ runs.length, and only mapped runs were kept.
      const run = runs[i]! as {
        logical: number;
        physical: number;
        length: number;
        unwritten: boolean;
      };
      const at = 32 + i * 56;
      o.setBigUint64(at, BigInt(run.logical * bs), true);
      o.setBigUint64(at + 8, BigInt(run.physical * bs), true);
      o.setBigUint64(at + 16, BigInt(run.length * bs), true);
      let fl = run.unwritten ? 0x800 : 0; // FIEMAP_EXTENT_UNWRITTEN
      if (i === runs.length - 1) fl |= 0x1; // FIEMAP_EXTENT_LAST
      o.setUint32(at + 40, fl, true);
    }
    return { result: 0, data: outBytes.subarray(0, Math.min(outBytes.length, outSize)) };
  }
}

function describe(req: FuseRequest): string {
  const r = req as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const k of ["name", "newName", "target"]) {
    const v = r[k];
    if (v instanceof Uint8Array) parts.push(`${k}=${JSON.stringify(utf8.decode(v))}`);
  }
  for (const k of [
    "fh",
    "offset",
    "size",
    "flags",
    "writeFlags",
    "openFlags",
    "mode",
    "valid",
    "newdir",
  ]) {
    const v = r[k];
    if (typeof v === "number") parts.push(`${k}=${v}`);
  }
  return parts.length === 0 ? "" : ` ${parts.join(" ")}`;
}

/** The root's node id, re-exported for callers that build requests. */
export { FUSE_ROOT };
