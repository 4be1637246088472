/**
 * A fault-injecting {@link BlockDevice} for tests: failed reads and writes,
 * torn writes, failed flushes, and a simulated power cut that loses every
 * write not yet made durable by a flush.
 */
import { type BlockDevice, checkTransfer, IoError, readOnlyError } from "./device.js";

/** One transfer as seen by a fault predicate. */
export interface FaultIo {
  /** Byte offset on the device. */
  offset: number;
  /** Length in bytes. */
  length: number;
  /** 0-based index of this call among calls of the same kind (reads, writes or flushes) since the last resetCounters(). */
  call: number;
}

/**
 * How much of a write reaches the media: all of it, none, its first
 * `prefixBytes` bytes, or only the listed sector indices (0-based, of
 * `sectorSize` bytes within the write; a partial last sector counts as one).
 */
export type Landing =
  | "all"
  | "none"
  | { readonly prefixBytes: number }
  | { readonly sectors: readonly number[] };

/** A write issued since the last successful flush, as crash() sees it. */
export interface UnflushedWrite {
  /** Byte offset on the device. */
  readonly offset: number;
  /** The bytes that were written (what landed, for a torn write). */
  readonly data: Uint8Array;
}

/** Fault configuration; every field may also be changed later on the device. */
export interface FaultOptions {
  /** A read for which this returns true throws EIO and transfers nothing. */
  failRead?: (io: FaultIo) => boolean;
  /** A write for which this returns true throws EIO and writes nothing. */
  failWrite?: (io: FaultIo) => boolean;
  /** A flush for which this returns true throws EIO; the pending writes stay unflushed. */
  failFlush?: (call: number) => boolean;
  /**
   * A write for which this returns a Landing other than "all" lands only
   * partly and then throws EIO: the torn write of a failing disk.
   */
  tearWrite?: (io: FaultIo) => Landing | undefined;
  /** Sector size for sector-granular landings (default 512). */
  sectorSize?: number;
}

/** Predicate helper: true for a transfer that overlaps bytes `[start, end)`. */
export function overlaps(start: number, end: number): (io: FaultIo) => boolean {
  return (io) => io.offset < end && io.offset + io.length > start;
}

/** Predicate helper: true for the `n`th call (0-based) only. */
export function nthCall(n: number): (io: FaultIo) => boolean {
  return (io) => io.call === n;
}

interface LogEntry {
  offset: number;
  /** Device bytes before the write, for rolling it back. */
  before: Uint8Array;
  /** Bytes that landed. */
  after: Uint8Array;
}

/**
 * Wraps any device. Writes pass through to the inner device immediately (so
 * reads see them), and each one since the last successful flush is logged
 * with the bytes it replaced. crash() rolls the inner device back to its
 * durable state, optionally letting chosen unflushed writes land whole or
 * torn; durableImage() computes that state without changing anything.
 */
export class FaultDevice implements BlockDevice {
  /** See {@link FaultOptions.failRead}. */
  failRead: ((io: FaultIo) => boolean) | undefined;
  /** See {@link FaultOptions.failWrite}. */
  failWrite: ((io: FaultIo) => boolean) | undefined;
  /** See {@link FaultOptions.failFlush}. */
  failFlush: ((call: number) => boolean) | undefined;
  /** See {@link FaultOptions.tearWrite}. */
  tearWrite: ((io: FaultIo) => Landing | undefined) | undefined;
  /** Sector size for sector-granular landings. */
  readonly sectorSize: number;

  /** Read calls (including failed ones) since resetCounters(). */
  reads = 0;
  /** Write calls (including failed ones) since resetCounters(). */
  writes = 0;
  /** Flush calls (including failed ones) since resetCounters(). */
  flushes = 0;
  /** Every write call since resetCounters(), in order: offset and length. */
  writeLog: { offset: number; length: number }[] = [];

  private log: LogEntry[] = [];

  /** Throws RangeError for a sector size that is not a positive integer. */
  constructor(
    readonly inner: BlockDevice,
    options: FaultOptions = {},
  ) {
    this.failRead = options.failRead;
    this.failWrite = options.failWrite;
    this.failFlush = options.failFlush;
    this.tearWrite = options.tearWrite;
    this.sectorSize = options.sectorSize ?? 512;
    if (!Number.isSafeInteger(this.sectorSize) || this.sectorSize <= 0) {
      throw new RangeError(`sector size must be a positive integer, got ${this.sectorSize}`);
    }
  }

  /** The inner device's size. */
  get size(): number {
    return this.inner.size;
  }
  /** The inner device's read-only flag. */
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  /** "fault:" and the inner device's name. */
  get name(): string {
    return `fault:${this.inner.name}`;
  }

  /** Zeroes the call counters and the write log (not the unflushed-write log). */
  resetCounters(): void {
    this.reads = 0;
    this.writes = 0;
    this.flushes = 0;
    this.writeLog = [];
  }

  /** Reads through, unless failRead says EIO. Throws IoError. */
  read(offset: number, dest: Uint8Array): void {
    const io = { offset, length: dest.length, call: this.reads++ };
    if (this.failRead?.(io)) {
      throw new IoError(`${this.name}: injected read error at ${offset}`, "EIO", "read", offset);
    }
    this.inner.read(offset, dest);
  }

  /**
   * Writes through and logs the write as unflushed, unless failWrite says
   * EIO (nothing written) or tearWrite tears it (part written, then EIO).
   * Throws IoError.
   */
  write(offset: number, src: Uint8Array): void {
    const io = { offset, length: src.length, call: this.writes++ };
    this.writeLog.push({ offset, length: src.length });
    // Checked here, not left to the inner device, because apply() reads the
    // old bytes first and would report a write past the end as a read error.
    if (this.readOnly) throw readOnlyError(this.name, offset);
    checkTransfer(this.name, this.size, "write", offset, src.length);
    if (this.failWrite?.(io)) {
      throw new IoError(`${this.name}: injected write error at ${offset}`, "EIO", "write", offset);
    }
    const landing = this.tearWrite?.(io) ?? "all";
    if (landing === "all") {
      this.apply(offset, src);
      return;
    }
    for (const [at, len] of this.pieces(src.length, landing)) {
      this.apply(offset + at, src.subarray(at, at + len));
    }
    throw new IoError(`${this.name}: injected torn write at ${offset}`, "EIO", "write", offset);
  }

  /**
   * Flushes the inner device and forgets the unflushed-write log (those
   * writes are now durable), unless failFlush says EIO. Throws IoError.
   */
  flush(): void {
    const call = this.flushes++;
    if (this.failFlush?.(call)) {
      throw new IoError(`${this.name}: injected flush error`, "EIO", "flush");
    }
    this.inner.flush();
    this.log = [];
  }

  /** Closes the inner device. Throws IoError from it. */
  close(): void {
    this.inner.close();
  }

  /** The writes since the last successful flush, oldest first (copies). */
  unflushedWrites(): UnflushedWrite[] {
    return this.log.map((e) => ({ offset: e.offset, data: e.after.slice() }));
  }

  /**
   * Simulates a power cut: every write since the last successful flush is
   * lost, except that `keep` may let some land whole or torn (in issue
   * order). The inner device is left holding the resulting image and the
   * unflushed log is emptied; the device stays usable, as after a reboot.
   * Throws IoError from the inner device.
   */
  crash(keep?: (write: UnflushedWrite, index: number) => Landing): void {
    const log = this.log;
    this.log = [];
    for (let i = log.length - 1; i >= 0; i--) {
      const e = log[i]!;
      this.inner.write(e.offset, e.before);
    }
    if (keep === undefined) return;
    log.forEach((e, i) => {
      const landing = keep({ offset: e.offset, data: e.after }, i);
      for (const [at, len] of this.pieces(e.after.length, landing)) {
        this.inner.write(e.offset + at, e.after.subarray(at, at + len));
      }
    });
  }

  /**
   * The whole device as it would read after crash() with no `keep`: the
   * current contents with every unflushed write rolled back. Changes nothing.
   * Throws IoError from the inner device.
   */
  durableImage(): Uint8Array {
    const image = new Uint8Array(this.inner.size);
    this.inner.read(0, image);
    for (let i = this.log.length - 1; i >= 0; i--) {
      const e = this.log[i]!;
      image.set(e.before, e.offset);
    }
    return image;
  }

  /** Writes to the inner device, logging what it replaces. */
  private apply(offset: number, bytes: Uint8Array): void {
    const before = new Uint8Array(bytes.length);
    this.inner.read(offset, before);
    this.inner.write(offset, bytes);
    this.log.push({ offset, before, after: bytes.slice() });
  }

  /** The [offset, length] pieces of a `length`-byte write that a landing lets through. */
  private pieces(length: number, landing: Landing): [number, number][] {
    if (landing === "all") return length > 0 ? [[0, length]] : [];
    if (landing === "none") return [];
    if ("prefixBytes" in landing) {
      const n = Math.max(0, Math.min(length, Math.floor(landing.prefixBytes)));
      return n > 0 ? [[0, n]] : [];
    }
    const ss = this.sectorSize;
    const out: [number, number][] = [];
    const seen = new Set<number>();
    for (const s of landing.sectors) {
      if (!Number.isSafeInteger(s) || s < 0 || s * ss >= length || seen.has(s)) continue;
      seen.add(s);
      out.push([s * ss, Math.min(ss, length - s * ss)]);
    }
    return out.sort((a, b) => a[0] - b[0]);
  }
}
