/**
 * A small example filesystem served through the TS front, for tests and the
 * bench: an in-memory tree whose file data lives in 4 KiB blocks of a
 * backing file. It keeps the session's mapping cache in step with its block
 * maps (invalidate before a change, upsert after), so the fast path can
 * serve READs and overwrites straight from the backing file.
 */
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  readSync,
  statSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { FATTR, FOPEN, FUSE_ROOT_ID, type OpName } from "../abi.js";
import type { FuseHandlers } from "../dispatch.js";
import { FuseErrno } from "../errors.js";
import {
  type AttrReply,
  DirentBuffer,
  DirentPlusBuffer,
  type EntryReply,
  type FuseAttr,
} from "../protocol.js";
import type { FuseSession, MappedRange } from "../session.js";

const BLOCK = 4096;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const XATTR_CREATE = 1;
const XATTR_REPLACE = 2;
const FALLOC_FL_KEEP_SIZE = 1;
const FALLOC_FL_PUNCH_HOLE = 2;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;

interface Time {
  sec: number;
  nsec: number;
}

/** One node of the tree. */
export interface MemNode {
  id: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  rdev: number;
  size: number;
  atime: Time;
  mtime: Time;
  ctime: Time;
  /** Directory entries (name → node id), insertion-ordered. */
  children?: Map<string, number>;
  parent: number;
  target?: Uint8Array;
  xattrs: Map<string, Uint8Array>;
  /** File block index → backing block, for regular files. */
  blocks: Map<number, number>;
  /** Blocks allocated by fallocate and never written (read as zeros). */
  unwritten: Set<number>;
  lookups: number;
}

/** Options of a {@link MemFs}. */
export interface MemFsOptions {
  /** Path of the backing file (created, truncated). */
  backingPath: string;
  /** Entry and attribute cache timeout in seconds. Default 1. */
  timeout?: number;
  /** Keep the session's mapping cache in step (fast path). Default true. */
  fastPath?: boolean;
  /** Also allow native overwrites of written blocks. Default true. */
  fastWrite?: boolean;
  /** Reply FOPEN_DIRECT_IO to OPEN (every read/write reaches the server). */
  directIo?: boolean;
}

function now(): Time {
  const ms = Date.now();
  return { sec: Math.floor(ms / 1000), nsec: (ms % 1000) * 1e6 };
}

function err(name: string): FuseErrno {
  return new FuseErrno(name);
}

const decoder = new TextDecoder();
function str(b: Uint8Array): string {
  return decoder.decode(b);
}

/** The example filesystem. */
export class MemFs {
  readonly nodes = new Map<number, MemNode>();
  /** How many times each handler ran. */
  readonly calls = new Map<OpName, number>();
  /** When set, READ handlers fail with EIO (proves the fast path served a read). */
  failReads = false;
  /** When set, WRITE handlers fail with EIO. */
  failWrites = false;
  /** Delay (ms) before async READ/GETATTR/LOOKUP replies (in-flight tests). */
  delayMs = 0;
  /** Largest WRITE payload seen (bytes). */
  maxWriteSeen = 0;
  /** Called with the name of every LOOKUP before it is answered. */
  onLookup: ((name: string) => void) | undefined;
  readonly backingFd: number;
  private readonly options: Required<Omit<MemFsOptions, "backingPath">>;
  private session: FuseSession | undefined;
  private nextId = FUSE_ROOT_ID + 1;
  private nextFh = 1;
  private nextBlock = 0;
  private readonly freeBlocks: number[] = [];

  constructor(options: MemFsOptions) {
    this.options = {
      timeout: options.timeout ?? 1,
      fastPath: options.fastPath ?? true,
      fastWrite: options.fastWrite ?? true,
      directIo: options.directIo ?? false,
    };
    this.backingFd = openSync(options.backingPath, "w+");
    const root = this.newNode(S_IFDIR | 0o755, FUSE_ROOT_ID);
    root.nlink = 2;
    root.lookups = 1;
  }

  /** Closes the backing file. */
  dispose(): void {
    closeSync(this.backingFd);
  }

  /** Connects the fast path: device = backing file, every file's map cached. */
  attach(session: FuseSession): void {
    this.session = session;
    if (!this.options.fastPath) return;
    session.setDevice(this.backingFd);
    for (const n of this.nodes.values()) if ((n.mode & S_IFMT) === S_IFREG) this.syncMapping(n);
  }

  private newNode(mode: number, parent: number): MemNode {
    const id = this.nodes.size === 0 ? FUSE_ROOT_ID : this.nextId++;
    const t = now();
    const n: MemNode = {
      id,
      mode,
      uid: 0,
      gid: 0,
      nlink: 1,
      rdev: 0,
      size: 0,
      atime: t,
      mtime: t,
      ctime: t,
      parent,
      xattrs: new Map(),
      blocks: new Map(),
      unwritten: new Set(),
      lookups: 0,
    };
    if ((mode & S_IFMT) === S_IFDIR) n.children = new Map();
    this.nodes.set(id, n);
    return n;
  }

  node(id: number): MemNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw err("ENOENT");
    return n;
  }

  private dir(id: number): MemNode & { children: Map<string, number> } {
    const n = this.node(id);
    if (n.children === undefined) throw err("ENOTDIR");
    return n as MemNode & { children: Map<string, number> };
  }

  /** Resolves an absolute path inside the tree. */
  resolve(path: string): MemNode {
    let n = this.node(FUSE_ROOT_ID);
    for (const part of path.split("/").filter((p) => p.length > 0)) {
      const child = this.dir(n.id).children.get(part);
      if (child === undefined) throw err("ENOENT");
      n = this.node(child);
    }
    return n;
  }

  // ------------------------------------------------------------------
  // Direct API (setup without the mount)

  /** Creates directories along `path`. */
  mkdirp(path: string): MemNode {
    let n = this.node(FUSE_ROOT_ID);
    for (const part of path.split("/").filter((p) => p.length > 0)) {
      const d = this.dir(n.id);
      const child = d.children.get(part);
      if (child !== undefined) {
        n = this.node(child);
        continue;
      }
      const c = this.newNode(S_IFDIR | 0o755, d.id);
      c.nlink = 2;
      d.nlink++;
      d.children.set(part, c.id);
      n = c;
    }
    return n;
  }

  /** Creates (or replaces the data of) a regular file. */
  writeFile(path: string, data: Uint8Array, mode = 0o644): MemNode {
    const parts = path.split("/").filter((p) => p.length > 0);
    const name = parts.pop();
    if (name === undefined) throw err("EINVAL");
    const parent = this.dir(this.mkdirp(parts.join("/")).id);
    let n: MemNode;
    const existing = parent.children.get(name);
    if (existing === undefined) {
      n = this.newNode(S_IFREG | mode, parent.id);
      parent.children.set(name, n.id);
    } else {
      n = this.node(existing);
      this.truncate(n, 0);
    }
    this.writeData(n, 0, data);
    return n;
  }

  /** Creates a symlink. */
  symlink(path: string, target: string): MemNode {
    const parts = path.split("/").filter((p) => p.length > 0);
    const name = parts.pop() ?? "";
    const parent = this.dir(this.mkdirp(parts.join("/")).id);
    const n = this.newNode(S_IFLNK | 0o777, parent.id);
    n.target = Buffer.from(target);
    n.size = n.target.length;
    parent.children.set(name, n.id);
    return n;
  }

  /** Copies a host directory tree in (regular files, directories, symlinks). */
  importTree(hostDir: string, into = "/"): void {
    for (const ent of readdirSync(hostDir, { withFileTypes: true })) {
      const host = join(hostDir, ent.name);
      const path = join(into, ent.name);
      if (ent.isDirectory()) {
        this.mkdirp(path);
        this.importTree(host, path);
      } else if (ent.isSymbolicLink()) {
        this.symlink(path, readlinkSync(host));
      } else if (ent.isFile()) {
        this.writeFile(path, readFileSync(host), statSync(host).mode & 0o7777);
      }
    }
  }

  /** Reads a file's bytes straight from the backing store. */
  readFile(path: string): Uint8Array {
    const n = this.resolve(path);
    return this.readData(n, 0, n.size);
  }

  /** fallocate(mode 0 or KEEP_SIZE): allocates unwritten blocks over the range. */
  allocate(n: MemNode, offset: number, length: number, keepSize: boolean): void {
    this.changeMap(n, () => {
      const first = Math.floor(offset / BLOCK);
      const last = Math.floor((offset + length - 1) / BLOCK);
      for (let b = first; b <= last; b++) {
        if (!n.blocks.has(b)) {
          n.blocks.set(b, this.allocBlock());
          n.unwritten.add(b);
        }
      }
      if (!keepSize && offset + length > n.size) n.size = offset + length;
    });
  }

  // ------------------------------------------------------------------
  // Data

  private allocBlock(): number {
    return this.freeBlocks.pop() ?? this.nextBlock++;
  }

  /** Runs a change of `n`'s block map or size with the fast path kept coherent. */
  private changeMap(n: MemNode, change: () => void): void {
    const fast = this.session !== undefined && this.options.fastPath;
    if (fast) this.session?.invalidateMapping(n.id);
    try {
      change();
    } finally {
      if (fast) this.syncMapping(n);
    }
  }

  /** Uploads `n`'s block map (coalesced) and size to the session. */
  syncMapping(n: MemNode): void {
    const s = this.session;
    if (s === undefined || !this.options.fastPath) return;
    const ranges: MappedRange[] = [];
    const nblocks = Math.ceil(n.size / BLOCK);
    for (let b = 0; b < nblocks; b++) {
      const phys = n.blocks.get(b);
      const prev = ranges[ranges.length - 1];
      if (phys === undefined) {
        if (prev?.kind === "hole") prev.length += BLOCK;
        else ranges.push({ offset: b * BLOCK, length: BLOCK, kind: "hole" });
      } else if (n.unwritten.has(b)) {
        if (prev?.kind === "unwritten") prev.length += BLOCK;
        else ranges.push({ offset: b * BLOCK, length: BLOCK, kind: "unwritten" });
      } else if (prev?.kind === "written" && prev.deviceOffset + prev.length === phys * BLOCK) {
        prev.length += BLOCK;
      } else {
        ranges.push({
          offset: b * BLOCK,
          length: BLOCK,
          kind: "written",
          deviceOffset: phys * BLOCK,
        });
      }
    }
    s.upsertMapping(n.id, n.size, ranges, { fastWrite: this.options.fastWrite });
  }

  readData(n: MemNode, offset: number, size: number): Uint8Array {
    const end = Math.min(n.size, offset + size);
    if (end <= offset) return new Uint8Array(0);
    const out = Buffer.alloc(end - offset);
    let pos = offset;
    while (pos < end) {
      const b = Math.floor(pos / BLOCK);
      const inBlock = pos % BLOCK;
      const take = Math.min(BLOCK - inBlock, end - pos);
      const phys = n.blocks.get(b);
      if (phys !== undefined && !n.unwritten.has(b)) {
        readSync(this.backingFd, out, pos - offset, take, phys * BLOCK + inBlock);
      }
      pos += take;
    }
    return out;
  }

  private writeData(n: MemNode, offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    const needsMap = (): boolean => {
      for (let b = Math.floor(offset / BLOCK); b * BLOCK < end; b++) {
        if (!n.blocks.has(b) || n.unwritten.has(b)) return true;
      }
      return end > n.size;
    };
    const write = (): void => {
      let pos = offset;
      while (pos < end) {
        const b = Math.floor(pos / BLOCK);
        const inBlock = pos % BLOCK;
        const take = Math.min(BLOCK - inBlock, end - pos);
        let phys = n.blocks.get(b);
        if (phys === undefined || n.unwritten.has(b)) {
          if (phys === undefined) {
            phys = this.allocBlock();
            n.blocks.set(b, phys);
          }
          n.unwritten.delete(b);
          // A fresh or unwritten block reads as zeros outside what is written now.
          writeSync(this.backingFd, Buffer.alloc(BLOCK), 0, BLOCK, phys * BLOCK);
        }
        writeSync(this.backingFd, data, pos - offset, take, phys * BLOCK + inBlock);
        pos += take;
      }
      if (end > n.size) n.size = end;
    };
    if (needsMap()) this.changeMap(n, write);
    else write();
    const t = now();
    n.mtime = t;
    n.ctime = t;
  }

  private truncate(n: MemNode, size: number): void {
    this.changeMap(n, () => {
      const keep = Math.ceil(size / BLOCK);
      for (const [b, phys] of [...n.blocks]) {
        if (b >= keep) {
          n.blocks.delete(b);
          n.unwritten.delete(b);
          this.freeBlocks.push(phys);
        }
      }
      const tail = size % BLOCK;
      const last = n.blocks.get(Math.floor(size / BLOCK));
      if (tail !== 0 && last !== undefined && !n.unwritten.has(Math.floor(size / BLOCK))) {
        // Bytes past the new size must read as zeros if the file grows again.
        writeSync(this.backingFd, Buffer.alloc(BLOCK - tail), 0, BLOCK - tail, last * BLOCK + tail);
      }
      n.size = size;
    });
  }

  private release(n: MemNode): void {
    // Free a node once no name and no kernel reference remain.
    if (n.nlink > 0 || n.lookups > 0 || n.id === FUSE_ROOT_ID) return;
    this.session?.invalidateMapping(n.id);
    for (const phys of n.blocks.values()) this.freeBlocks.push(phys);
    this.nodes.delete(n.id);
  }

  // ------------------------------------------------------------------
  // FUSE handlers

  attr(n: MemNode): FuseAttr {
    return {
      ino: n.id,
      size: n.size,
      blocks: n.blocks.size * (BLOCK / 512),
      atime: n.atime.sec,
      atimensec: n.atime.nsec,
      mtime: n.mtime.sec,
      mtimensec: n.mtime.nsec,
      ctime: n.ctime.sec,
      ctimensec: n.ctime.nsec,
      mode: n.mode,
      nlink: n.nlink,
      uid: n.uid,
      gid: n.gid,
      rdev: n.rdev,
      blksize: BLOCK,
    };
  }

  private entry(n: MemNode): EntryReply {
    n.lookups++;
    return {
      nodeid: n.id,
      generation: 1,
      entryValid: this.options.timeout,
      attrValid: this.options.timeout,
      attr: this.attr(n),
    };
  }

  private attrReply(n: MemNode): AttrReply {
    return { attrValid: this.options.timeout, attr: this.attr(n) };
  }

  private forget(id: number, count: number): void {
    const n = this.nodes.get(id);
    if (n === undefined) return;
    n.lookups = Math.max(0, n.lookups - count);
    this.release(n);
  }

  private link(parent: number, name: Uint8Array, n: MemNode): void {
    const d = this.dir(parent);
    const key = str(name);
    if (d.children.has(key)) throw err("EEXIST");
    d.children.set(key, n.id);
    n.parent = d.id;
    const t = now();
    d.mtime = t;
    d.ctime = t;
  }

  private create(
    parent: number,
    name: Uint8Array,
    mode: number,
    uid: number,
    gid: number,
  ): MemNode {
    const d = this.dir(parent);
    if (d.children.has(str(name))) throw err("EEXIST");
    const n = this.newNode(mode, parent);
    n.uid = uid;
    n.gid = gid;
    this.link(parent, name, n);
    if ((mode & S_IFMT) === S_IFDIR) {
      n.nlink = 2;
      d.nlink++;
    }
    if ((mode & S_IFMT) === S_IFREG) this.syncMapping(n);
    return n;
  }

  private remove(parent: number, name: Uint8Array, wantDir: boolean): void {
    const d = this.dir(parent);
    const key = str(name);
    const id = d.children.get(key);
    if (id === undefined) throw err("ENOENT");
    const n = this.node(id);
    const isDir = (n.mode & S_IFMT) === S_IFDIR;
    if (wantDir && !isDir) throw err("ENOTDIR");
    if (!wantDir && isDir) throw err("EISDIR");
    if (isDir && (n.children?.size ?? 0) > 0) throw err("ENOTEMPTY");
    d.children.delete(key);
    n.nlink = isDir ? 0 : n.nlink - 1;
    if (isDir) d.nlink--;
    const t = now();
    d.mtime = t;
    d.ctime = t;
    n.ctime = t;
    this.release(n);
  }

  private count(op: OpName): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
  }

  private delayed<T>(value: () => T): T | Promise<T> {
    if (this.delayMs <= 0) return value();
    return new Promise((resolve, reject) => {
      setTimeout(() => {
        try {
          resolve(value());
        } catch (e) {
          reject(e);
        }
      }, this.delayMs);
    });
  }

  /** The handler table to pass to {@link FuseSession.serve}. */
  handlers(): FuseHandlers {
    const h: FuseHandlers = {
      LOOKUP: (req) => {
        this.count("LOOKUP");
        this.onLookup?.(str(req.name));
        return this.delayed(() => {
          const id = this.dir(req.header.nodeid).children.get(str(req.name));
          if (id === undefined) throw err("ENOENT");
          return this.entry(this.node(id));
        });
      },
      FORGET: (req) => {
        this.count("FORGET");
        this.forget(req.header.nodeid, req.nlookup);
      },
      BATCH_FORGET: (req) => {
        this.count("BATCH_FORGET");
        for (const f of req.forgets) this.forget(f.nodeid, f.nlookup);
      },
      GETATTR: (req) => {
        this.count("GETATTR");
        return this.delayed(() => this.attrReply(this.node(req.header.nodeid)));
      },
      SETATTR: (req) => {
        this.count("SETATTR");
        const n = this.node(req.header.nodeid);
        const t = now();
        if (req.valid & FATTR.MODE) n.mode = (n.mode & S_IFMT) | (req.mode & 0o7777);
        if (req.valid & FATTR.UID) n.uid = req.uid;
        if (req.valid & FATTR.GID) n.gid = req.gid;
        if (req.valid & FATTR.SIZE) {
          if ((n.mode & S_IFMT) !== S_IFREG) throw err("EINVAL");
          this.truncate(n, req.size);
          n.mtime = t;
        }
        if (req.valid & FATTR.ATIME) n.atime = { sec: req.atime, nsec: req.atimensec };
        if (req.valid & FATTR.ATIME_NOW) n.atime = t;
        if (req.valid & FATTR.MTIME) n.mtime = { sec: req.mtime, nsec: req.mtimensec };
        if (req.valid & FATTR.MTIME_NOW) n.mtime = t;
        n.ctime = req.valid & FATTR.CTIME ? { sec: req.ctime, nsec: req.ctimensec } : t;
        return this.attrReply(n);
      },
      READLINK: (req) => {
        this.count("READLINK");
        const n = this.node(req.header.nodeid);
        if (n.target === undefined) throw err("EINVAL");
        return n.target;
      },
      SYMLINK: (req) => {
        this.count("SYMLINK");
        const n = this.create(
          req.header.nodeid,
          req.name,
          S_IFLNK | 0o777,
          req.header.uid,
          req.header.gid,
        );
        n.target = req.target.slice();
        n.size = n.target.length;
        return this.entry(n);
      },
      MKNOD: (req) => {
        this.count("MKNOD");
        const n = this.create(
          req.header.nodeid,
          req.name,
          req.mode & ~req.umask,
          req.header.uid,
          req.header.gid,
        );
        n.rdev = req.rdev;
        return this.entry(n);
      },
      MKDIR: (req) => {
        this.count("MKDIR");
        const mode = S_IFDIR | (req.mode & ~req.umask & 0o7777);
        return this.entry(
          this.create(req.header.nodeid, req.name, mode, req.header.uid, req.header.gid),
        );
      },
      UNLINK: (req) => {
        this.count("UNLINK");
        this.remove(req.header.nodeid, req.name, false);
      },
      RMDIR: (req) => {
        this.count("RMDIR");
        this.remove(req.header.nodeid, req.name, true);
      },
      RENAME: (req) => {
        this.count("RENAME");
        this.rename(req.header.nodeid, req.name, req.newdir, req.newName, 0);
      },
      RENAME2: (req) => {
        this.count("RENAME2");
        this.rename(req.header.nodeid, req.name, req.newdir, req.newName, req.flags);
      },
      LINK: (req) => {
        this.count("LINK");
        const n = this.node(req.oldnodeid);
        if ((n.mode & S_IFMT) === S_IFDIR) throw err("EPERM");
        this.link(req.header.nodeid, req.name, n);
        n.nlink++;
        n.ctime = now();
        return this.entry(n);
      },
      OPEN: (req) => {
        this.count("OPEN");
        const n = this.node(req.header.nodeid);
        // ATOMIC_O_TRUNC: O_TRUNC arrives with OPEN instead of a SETATTR.
        if (req.flags & 0o1000 && (n.mode & S_IFMT) === S_IFREG) this.truncate(n, 0);
        return { fh: this.nextFh++, openFlags: this.options.directIo ? FOPEN.DIRECT_IO : 0 };
      },
      READ: (req) => {
        this.count("READ");
        if (this.failReads) throw err("EIO");
        return this.delayed(() =>
          this.readData(this.node(req.header.nodeid), req.offset, req.size),
        );
      },
      WRITE: (req) => {
        this.count("WRITE");
        this.maxWriteSeen = Math.max(this.maxWriteSeen, req.data.length);
        if (this.failWrites) throw err("EIO");
        const n = this.node(req.header.nodeid);
        this.writeData(n, req.offset, req.data);
        return { size: req.data.length };
      },
      STATFS: () => {
        this.count("STATFS");
        const used = this.nextBlock - this.freeBlocks.length;
        return {
          blocks: 1 << 20,
          bfree: (1 << 20) - used,
          bavail: (1 << 20) - used,
          files: 1 << 20,
          ffree: (1 << 20) - this.nodes.size,
          bsize: BLOCK,
          namelen: 255,
          frsize: BLOCK,
        };
      },
      RELEASE: () => {
        this.count("RELEASE");
      },
      FLUSH: () => {
        this.count("FLUSH");
      },
      FSYNC: () => {
        this.count("FSYNC");
      },
      OPENDIR: (req) => {
        this.count("OPENDIR");
        this.dir(req.header.nodeid);
        return { fh: this.nextFh++ };
      },
      READDIR: (req) => {
        this.count("READDIR");
        const buf = new DirentBuffer(req.size);
        for (const e of this.listing(req.header.nodeid, req.offset)) {
          if (
            !buf.add({
              ino: e.node.id,
              off: e.off,
              type: (e.node.mode & S_IFMT) >> 12,
              name: e.name,
            })
          )
            break;
        }
        return buf.bytes();
      },
      READDIRPLUS: (req) => {
        this.count("READDIRPLUS");
        const buf = new DirentPlusBuffer(req.size);
        for (const e of this.listing(req.header.nodeid, req.offset)) {
          const dirent = {
            ino: e.node.id,
            off: e.off,
            type: (e.node.mode & S_IFMT) >> 12,
            name: e.name,
          };
          // The kernel ignores "." and ".." (fuse_direntplus_link): no lookup is taken for them.
          const dots = e.name.length <= 2 && e.name.every((c) => c === 0x2e);
          const ent: EntryReply = dots
            ? { nodeid: 0, entryValid: 0, attrValid: 0, attr: this.attr(e.node) }
            : {
                nodeid: e.node.id,
                generation: 1,
                entryValid: this.options.timeout,
                attrValid: this.options.timeout,
                attr: this.attr(e.node),
              };
          if (!buf.add(dirent, ent)) break;
          if (!dots) e.node.lookups++;
        }
        return buf.bytes();
      },
      RELEASEDIR: () => {
        this.count("RELEASEDIR");
      },
      FSYNCDIR: () => {
        this.count("FSYNCDIR");
      },
      SETXATTR: (req) => {
        this.count("SETXATTR");
        const n = this.node(req.header.nodeid);
        const key = str(req.name);
        if (req.flags & XATTR_CREATE && n.xattrs.has(key)) throw err("EEXIST");
        if (req.flags & XATTR_REPLACE && !n.xattrs.has(key)) throw err("ENODATA");
        n.xattrs.set(key, req.value.slice());
        n.ctime = now();
      },
      GETXATTR: (req) => {
        this.count("GETXATTR");
        const v = this.node(req.header.nodeid).xattrs.get(str(req.name));
        if (v === undefined) throw err("ENODATA");
        return v;
      },
      LISTXATTR: (req) => {
        this.count("LISTXATTR");
        const names = [...this.node(req.header.nodeid).xattrs.keys()].map((k) => `${k}\0`).join("");
        return Buffer.from(names);
      },
      REMOVEXATTR: (req) => {
        this.count("REMOVEXATTR");
        const n = this.node(req.header.nodeid);
        if (!n.xattrs.delete(str(req.name))) throw err("ENODATA");
        n.ctime = now();
      },
      ACCESS: () => {
        this.count("ACCESS");
      },
      CREATE: (req) => {
        this.count("CREATE");
        const mode = S_IFREG | (req.mode & ~req.umask & 0o7777);
        const n = this.create(req.header.nodeid, req.name, mode, req.header.uid, req.header.gid);
        return {
          entry: this.entry(n),
          open: { fh: this.nextFh++, openFlags: this.options.directIo ? FOPEN.DIRECT_IO : 0 },
        };
      },
      FALLOCATE: (req) => {
        this.count("FALLOCATE");
        const n = this.node(req.header.nodeid);
        if (req.mode === 0 || req.mode === FALLOC_FL_KEEP_SIZE) {
          this.allocate(n, req.offset, req.length, req.mode === FALLOC_FL_KEEP_SIZE);
          return;
        }
        if (req.mode === (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)) {
          this.punch(n, req.offset, req.length);
          return;
        }
        throw err("EOPNOTSUPP");
      },
      LSEEK: (req) => {
        this.count("LSEEK");
        const n = this.node(req.header.nodeid);
        if (req.whence !== SEEK_DATA && req.whence !== SEEK_HOLE) throw err("EINVAL");
        if (req.offset >= n.size) throw err("ENXIO");
        for (let pos = req.offset; pos < n.size; pos = (Math.floor(pos / BLOCK) + 1) * BLOCK) {
          const data = n.blocks.has(Math.floor(pos / BLOCK));
          if (data === (req.whence === SEEK_DATA)) return { offset: pos };
        }
        if (req.whence === SEEK_HOLE) return { offset: n.size };
        throw err("ENXIO");
      },
    };
    return h;
  }

  private punch(n: MemNode, offset: number, length: number): void {
    this.changeMap(n, () => {
      const end = Math.min(offset + length, n.size);
      for (let b = Math.ceil(offset / BLOCK); (b + 1) * BLOCK <= end; b++) {
        const phys = n.blocks.get(b);
        if (phys !== undefined) {
          n.blocks.delete(b);
          n.unwritten.delete(b);
          this.freeBlocks.push(phys);
        }
      }
      // Partial blocks at the edges are zeroed in place.
      const zero = (from: number, to: number): void => {
        const phys = n.blocks.get(Math.floor(from / BLOCK));
        if (phys !== undefined && to > from && !n.unwritten.has(Math.floor(from / BLOCK))) {
          writeSync(
            this.backingFd,
            Buffer.alloc(to - from),
            0,
            to - from,
            phys * BLOCK + (from % BLOCK),
          );
        }
      };
      zero(offset, Math.min(end, Math.ceil(offset / BLOCK) * BLOCK));
      if (end > offset) zero(Math.max(offset, Math.floor(end / BLOCK) * BLOCK), end);
    });
  }

  private listing(
    dirId: number,
    offset: number,
  ): { name: Uint8Array; off: number; node: MemNode }[] {
    const d = this.dir(dirId);
    const all: { name: Uint8Array; node: MemNode }[] = [
      { name: Buffer.from("."), node: d },
      { name: Buffer.from(".."), node: this.nodes.get(d.parent) ?? d },
    ];
    for (const [name, id] of d.children) {
      const n = this.nodes.get(id);
      if (n !== undefined) all.push({ name: Buffer.from(name), node: n });
    }
    return all.slice(offset).map((e, i) => ({ ...e, off: offset + i + 1 }));
  }

  private rename(
    parent: number,
    name: Uint8Array,
    newParent: number,
    newName: Uint8Array,
    flags: number,
  ): void {
    const from = this.dir(parent);
    const to = this.dir(newParent);
    const key = str(name);
    const newKey = str(newName);
    const id = from.children.get(key);
    if (id === undefined) throw err("ENOENT");
    const n = this.node(id);
    const targetId = to.children.get(newKey);
    if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) throw err("EINVAL");
    if (flags & RENAME_NOREPLACE && targetId !== undefined) throw err("EEXIST");
    if (flags & RENAME_EXCHANGE) {
      if (targetId === undefined) throw err("ENOENT");
      const t = this.node(targetId);
      from.children.set(key, targetId);
      to.children.set(newKey, id);
      t.parent = from.id;
      n.parent = to.id;
      return;
    }
    if (targetId === id) return;
    if (targetId !== undefined) {
      const t = this.node(targetId);
      const tDir = (t.mode & S_IFMT) === S_IFDIR;
      const nDir = (n.mode & S_IFMT) === S_IFDIR;
      if (tDir !== nDir) throw err(tDir ? "EISDIR" : "ENOTDIR");
      this.remove(newParent, newName, tDir);
    }
    from.children.delete(key);
    to.children.set(newKey, id);
    if ((n.mode & S_IFMT) === S_IFDIR && from.id !== to.id) {
      from.nlink--;
      to.nlink++;
    }
    n.parent = to.id;
    const t = now();
    from.mtime = t;
    to.mtime = t;
    n.ctime = t;
  }
}
