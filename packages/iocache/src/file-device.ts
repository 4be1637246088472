/**
 * A {@link BlockDevice} over an image file or a block device node, with
 * synchronous positioned I/O (pread/pwrite through node:fs). This is the one
 * module of the toolkit that touches node:fs for device data.
 */
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  writeSync,
} from "node:fs";
import { type BlockDevice, checkTransfer, closedError, IoError, readOnlyError } from "./device.js";

/** Options for {@link FileDevice.open}. */
export interface FileDeviceOptions {
  /** Open O_RDONLY: every write throws EROFS, and a file we may only read (0444, another owner) opens. */
  readOnly?: boolean;
  /**
   * Claim a block device exclusively (O_EXCL): the open fails with EBUSY
   * while the device is mounted or held by another exclusive opener, and
   * mounting it fails while we hold it (open(2), "O_EXCL ... block device").
   * Linux ignores O_EXCL without O_CREAT on a regular file, so an image file
   * gets no lock from this.
   */
  exclusive?: boolean;
}

/** The POSIX errno name of a node:fs failure, EIO when it carries none. */
function errnoName(e: unknown): string {
  if (typeof e === "object" && e !== null && "code" in e && typeof e.code === "string") {
    return e.code;
  }
  return "EIO";
}

function wrap(e: unknown, name: string, op: IoError["op"], offset?: number): IoError {
  if (e instanceof IoError) return e;
  const detail = e instanceof Error ? e.message : String(e);
  return new IoError(`${name}: ${op} failed: ${detail}`, errnoName(e), op, offset, { cause: e });
}

/**
 * The major and minor numbers of a device id as glibc's gnu_dev_major /
 * gnu_dev_minor decode them (Linux's 64-bit dev_t layout: 12 bits of major
 * and 20 of minor, split across the low and high halves).
 */
export function splitDevId(rdev: bigint): { major: number; minor: number } {
  const major = ((rdev & 0xfff00n) >> 8n) | ((rdev & 0xfffff00000000000n) >> 32n);
  const minor = (rdev & 0xffn) | ((rdev & 0xffffff00000n) >> 12n);
  return { major: Number(major), minor: Number(minor) };
}

/**
 * Size in bytes of the block device with id `rdev`. fstat reports 0 for a
 * block device and node has no BLKGETSIZE64 ioctl, so read sysfs: the `size`
 * attribute of /sys/dev/block/MAJ:MIN counts 512-byte sectors whatever the
 * logical block size (Documentation/ABI/stable/sysfs-block). Throws IoError.
 */
function blockDeviceSize(name: string, rdev: bigint): number {
  const { major, minor } = splitDevId(rdev);
  const attr = `/sys/dev/block/${major}:${minor}/size`;
  let text: string;
  try {
    text = readFileSync(attr, "utf8").trim();
  } catch (e) {
    throw wrap(e, `${name} (size from ${attr})`, "open");
  }
  if (!/^\d+$/.test(text)) {
    throw new IoError(`${name}: unexpected sector count "${text}" in ${attr}`, "EIO", "open");
  }
  const bytes = Number(text) * 512;
  if (!Number.isSafeInteger(bytes)) {
    throw new IoError(`${name}: size ${text} sectors is too large`, "EFBIG", "open");
  }
  return bytes;
}

/**
 * An image file or block device opened with node:fs. Reads and writes are
 * positioned (pread/pwrite), loop until the whole transfer is done, and throw
 * {@link IoError} rather than return short. The size is fixed at open.
 */
export class FileDevice implements BlockDevice {
  private closed = false;

  private constructor(
    /** The open file descriptor, for a native fast path that does its own pread/pwrite. */
    readonly fd: number,
    readonly name: string,
    readonly size: number,
    readonly readOnly: boolean,
    /** True when `name` is a block device node rather than a regular file. */
    readonly isBlockDevice: boolean,
  ) {}

  /**
   * Opens an image file or a block device. `readOnly` opens O_RDONLY,
   * `exclusive` claims a block device (see {@link FileDeviceOptions}). The size
   * is the file size, or for a block device its sysfs sector count × 512.
   * Throws IoError with the errno of the failure (ENOENT, EACCES, EISDIR, EBUSY, ...);
   * EINVAL for anything that is neither a regular file nor a block device.
   */
  static open(path: string, options: FileDeviceOptions = {}): FileDevice {
    const readOnly = options.readOnly ?? false;
    let flags = readOnly ? constants.O_RDONLY : constants.O_RDWR;
    if (options.exclusive === true) flags |= constants.O_EXCL;
    let fd: number;
    try {
      fd = openSync(path, flags);
    } catch (e) {
      throw wrap(e, path, "open");
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      if (st.isBlockDevice()) {
        return new FileDevice(fd, path, blockDeviceSize(path, st.rdev), readOnly, true);
      }
      if (!st.isFile()) {
        throw new IoError(`${path}: not a regular file or block device`, "EINVAL", "open");
      }
      if (st.size > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new IoError(`${path}: file too large`, "EFBIG", "open");
      }
      return new FileDevice(fd, path, Number(st.size), readOnly, false);
    } catch (e) {
      closeSync(fd);
      throw wrap(e, path, "open");
    }
  }

  /** Fills `dest` from `offset`. Throws IoError: EIO past the end or on a short read, EBADF after close. */
  read(offset: number, dest: Uint8Array): void {
    if (this.closed) throw closedError(this.name, "read");
    checkTransfer(this.name, this.size, "read", offset, dest.length);
    let done = 0;
    while (done < dest.length) {
      let n: number;
      try {
        n = readSync(this.fd, dest, done, dest.length - done, offset + done);
      } catch (e) {
        throw wrap(e, this.name, "read", offset + done);
      }
      if (n === 0) {
        // The file shrank under us since open: still a short read, still an error.
        throw new IoError(
          `${this.name}: unexpected end of file at ${offset + done}`,
          "EIO",
          "read",
          offset + done,
        );
      }
      done += n;
    }
  }

  /** Writes all of `src` at `offset`. Throws IoError: EROFS when read-only, ENOSPC past the end, EBADF after close. */
  write(offset: number, src: Uint8Array): void {
    if (this.closed) throw closedError(this.name, "write");
    if (this.readOnly) throw readOnlyError(this.name, offset);
    checkTransfer(this.name, this.size, "write", offset, src.length);
    let done = 0;
    while (done < src.length) {
      let n: number;
      try {
        n = writeSync(this.fd, src, done, src.length - done, offset + done);
      } catch (e) {
        throw wrap(e, this.name, "write", offset + done);
      }
      if (n === 0) {
        throw new IoError(`${this.name}: write made no progress`, "EIO", "write", offset + done);
      }
      done += n;
    }
  }

  /** fsync(2); a no-op on a read-only device (nothing of ours can be pending). Throws IoError. */
  flush(): void {
    if (this.closed) throw closedError(this.name, "flush");
    if (this.readOnly) return;
    try {
      fsyncSync(this.fd);
    } catch (e) {
      throw wrap(e, this.name, "flush");
    }
  }

  /** Closes the descriptor. Idempotent. Throws IoError if close(2) fails. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch (e) {
      throw wrap(e, this.name, "close");
    }
  }
}
