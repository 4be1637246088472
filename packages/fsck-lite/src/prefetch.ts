/**
 * The main thread's side of the reader thread (reader-thread.ts): starts
 * it, hands it the jobs of a pass and takes their bytes and checksums back
 * in order. The main thread never depends on it: a job the thread has not
 * claimed yet, or failed, or that takes too long, the main thread does
 * itself with its own reads (and its own I/O error reports), so a check
 * gives the same result with or without it. It only saves time when the
 * machine has a core to spare.
 */
import { fstatSync } from "node:fs";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import {
  C_CONSUMED,
  C_MSG,
  C_READY,
  C_STOP,
  CTRL_WORDS,
  DONE,
  FAILED,
  JOB_STRIDE,
  MAIN,
  OPEN,
  READ_STRIDE,
  type ReaderGeometry,
  type ReaderSession,
  type ReaderSetup,
  TASK_STRIDE,
} from "./reader-thread.js";

export {
  JOB_DIR,
  JOB_ITABLE,
  JOB_STRIDE,
  READ_STRIDE,
  type ReaderGeometry,
  TASK_STRIDE,
} from "./reader-thread.js";

/** Bytes per slot: the largest single read (pass 1 reads inode tables in 1 MiB chunks). */
export const SLOT_BYTES = 1 << 20;
/** Slots in the ring: how far the thread may read ahead of the checks. */
const SLOT_COUNT = 4;
/** How long the main thread waits on one job the thread claimed before doing everything itself. */
const STUCK_MS = 2000;

/** The reader thread of one check. */
export class Prefetcher {
  private readonly ctrl: Int32Array;
  private readonly slots: Uint8Array;
  private readonly port: MessagePort;
  private closed = false;
  /** Jobs posted so far, over all sessions. */
  private posted = 0;
  /** Set when the thread got stuck or died: every later job is the main thread's. */
  abandoned = false;
  /** Wait for the thread to do every job rather than doing the ones it has not reached (tests). */
  preferThread = false;
  /** Jobs whose bytes came from the thread (tests, tuning). */
  jobsFromThread = 0;
  /** The session posted last. */
  private current: Session | null = null;

  private constructor(
    private readonly worker: Worker,
    ctrl: SharedArrayBuffer,
    slots: SharedArrayBuffer,
    port: MessagePort,
  ) {
    this.ctrl = new Int32Array(ctrl);
    this.slots = new Uint8Array(slots);
    this.port = port;
  }

  /**
   * Starts a reader thread on the file at `path` (already open as `fd` on
   * the main thread, whose identity it checks), the filesystem `offset`
   * bytes in. Returns null when a thread cannot be started; never throws.
   */
  static start(path: string, fd: number, offset: number): Prefetcher | null {
    try {
      const st = fstatSync(fd, { bigint: true });
      const ctrl = new SharedArrayBuffer(CTRL_WORDS * 4);
      const slots = new SharedArrayBuffer(SLOT_BYTES * SLOT_COUNT);
      const { port1, port2 } = new MessageChannel();
      const setup: ReaderSetup = {
        kind: "ext4-check-reader",
        path,
        offset,
        dev: String(st.dev),
        ino: String(st.ino),
        slots,
        slotBytes: SLOT_BYTES,
        slotCount: SLOT_COUNT,
        ctrl,
        port: port2,
      };
      // Run from the sources (tests), the thread needs the .js -> .ts mapping
      // the test runner gives the main thread.
      const fromSource = import.meta.url.endsWith(".ts");
      const worker = new Worker(
        new URL(fromSource ? "./reader-thread.ts" : "./reader-thread.js", import.meta.url),
        {
          workerData: setup,
          transferList: [port2],
          execArgv: fromSource
            ? ["--import", new URL("./test-support/ts-hooks.ts", import.meta.url).href]
            : [],
          // Small heaps: the thread allocates almost nothing.
          resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 4 },
        },
      );
      // A thread that dies only stops helping; the main thread never waits on it unboundedly.
      worker.on("error", () => {});
      worker.unref();
      port1.unref();
      return new Prefetcher(worker, ctrl, slots, port1);
    } catch {
      return null;
    }
  }

  /**
   * Posts a session of `count` jobs (`jobs`, JOB_STRIDE numbers each), their
   * `readCount` reads (`reads`, READ_STRIDE numbers each) and `taskCount`
   * crc tasks (`tasks`, TASK_STRIDE numbers each), all filled in by the
   * caller, on a filesystem of `geometry`. Every job of the sessions before
   * counts as consumed. Returns its handle; never throws.
   */
  session(
    geometry: ReaderGeometry,
    jobs: Float64Array,
    count: number,
    reads: Float64Array,
    readCount: number,
    tasks: Float64Array,
    taskCount: number,
  ): Session {
    const s: ReaderSession = {
      base: this.posted,
      geometry,
      jobs: shared(Float64Array, count * JOB_STRIDE, jobs),
      reads: shared(Float64Array, readCount * READ_STRIDE, reads),
      state: shared(Int32Array, count),
      result: shared(Int32Array, count),
      tasks: shared(Float64Array, taskCount * TASK_STRIDE, tasks),
      taskCrc: shared(Uint32Array, taskCount),
      count,
    };
    this.posted += count;
    // The caller is done with the sessions before: what the thread has not
    // started of them it must not do, and every slot is free.
    this.current?.finish();
    this.consumed(s.base);
    if (!this.closed && !this.abandoned) {
      try {
        this.port.postMessage(s);
        Atomics.add(this.ctrl, C_MSG, 1);
        Atomics.notify(this.ctrl, C_MSG);
      } catch {
        this.abandoned = true;
      }
    }
    this.current = new Session(this, s);
    return this.current;
  }

  /** The slot bytes of job `n` (counted over all sessions). */
  slot(n: number, bytes: number): Uint8Array {
    const base = (n % SLOT_COUNT) * SLOT_BYTES;
    return this.slots.subarray(base, base + bytes);
  }

  /** Marks every job before `n` (counted over all sessions) consumed: their slots may be refilled. */
  consumed(n: number): void {
    Atomics.store(this.ctrl, C_CONSUMED, n);
    Atomics.notify(this.ctrl, C_CONSUMED);
  }

  /** Stops the thread. Never throws. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, C_STOP, 1);
    Atomics.notify(this.ctrl, C_MSG);
    Atomics.notify(this.ctrl, C_CONSUMED);
    this.port.close();
    void this.worker.terminate().catch(() => {});
  }

  /** Whether the thread is up (1), failed to start (-1) or still starting (0). */
  get ready(): number {
    return Atomics.load(this.ctrl, C_READY);
  }
}

function shared<T extends Float64Array | Int32Array | Uint32Array>(
  Kind: { new (b: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number },
  length: number,
  init?: Float64Array,
): T {
  const out = new Kind(new SharedArrayBuffer(Math.max(1, length) * Kind.BYTES_PER_ELEMENT));
  if (init !== undefined) (out as Float64Array).set(init.subarray(0, length));
  return out;
}

/** One pass's jobs, taken in order. */
export class Session {
  constructor(
    private readonly owner: Prefetcher,
    private readonly s: ReaderSession,
  ) {}

  /**
   * Job `j`'s slot (SLOT_BYTES, its reads where the job put them) when the
   * reader thread has done it, else null: the caller then does the job
   * itself (the thread will not touch it). Waits
   * only for a job the thread has started, and at most STUCK_MS before
   * giving up on the thread. Never throws.
   */
  take(j: number): Uint8Array | null {
    const { state } = this.s;
    if (j < 0 || j >= this.s.count) return null;
    const deadline = performance.now() + STUCK_MS;
    for (;;) {
      const st = Atomics.load(state, j);
      if (st === DONE) {
        this.owner.jobsFromThread++;
        return this.owner.slot(this.s.base + j, SLOT_BYTES);
      }
      if (st === FAILED || st === MAIN) return null;
      const waitForThread =
        st === OPEN && this.owner.preferThread && this.owner.ready >= 0 && !this.owner.abandoned;
      if (!waitForThread && (st === OPEN || this.owner.abandoned)) {
        if (Atomics.compareExchange(state, j, OPEN, MAIN) === OPEN) return null;
        if (this.owner.abandoned) return null;
        continue;
      }
      // WORKER: the thread is reading it now (or OPEN, and the thread is wanted for it).
      if (performance.now() > deadline) {
        this.owner.abandoned = true;
        this.owner.close();
        return null;
      }
      Atomics.wait(state, j, st, 50);
    }
  }

  /** The reader thread's result word for job `j` (meaningful only when take(j) returned bytes). */
  result(j: number): number {
    return this.s.result[j] ?? 0;
  }

  /** The crc the reader thread computed for task `t` (meaningful only when its job's bytes came from it). */
  taskCrc(t: number): number {
    return this.s.taskCrc[t] ?? 0;
  }

  /** The caller is done with every job before `j` of this session. */
  release(j: number): void {
    this.owner.consumed(this.s.base + Math.min(j, this.s.count));
  }

  /** The caller is done with every job of this session: the thread skips those it has not started. */
  finish(): void {
    const { state } = this.s;
    for (let j = 0; j < this.s.count; j++) Atomics.compareExchange(state, j, OPEN, MAIN);
    this.release(this.s.count);
  }
}
