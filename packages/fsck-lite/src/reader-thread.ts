/**
 * The reader thread: reads the blocks the main thread is about to check
 * (inode table chunks in pass 1, directory block windows in pass 2) into a
 * ring of shared slots, with their checksums, on the machine's other core.
 * It only reads and computes: every judgement, every problem and its order
 * stay on the main thread (prefetch.ts), which takes over any job this
 * thread has not started, failed or got stuck on, so the result of a check
 * never depends on it.
 *
 * Protocol (all through SharedArrayBuffers, no messages while running): a
 * session is a list of jobs; each job has a state word that moves from OPEN
 * to WORKER (claimed here) to DONE or FAILED, or from OPEN to MAIN (the main
 * thread does it itself). Jobs are numbered on across sessions (a session
 * starts at `base`); job n fills slot n % slotCount, and only once the main
 * thread has consumed job n - slotCount. This file imports nothing but
 * Node, the native crc32c and ./csum.js, and uses only erasable TypeScript,
 * so it also runs from the sources.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import {
  isMainThread,
  type MessagePort,
  receiveMessageOnPort,
  workerData,
} from "node:worker_threads";
import { crc32c } from "@node-rs/crc32";
import { InodeCsum } from "./csum.js";

/** Job state: nobody has taken the job. */
export const OPEN = 0;
/** Job state: the reader thread is doing it. */
export const WORKER = 1;
/** Job state: the reader thread did it; its slot holds the bytes. */
export const DONE = 2;
/** Job state: the reader thread could not do it (the main thread will). */
export const FAILED = 3;
/** Job state: the main thread took it; the reader thread leaves it alone. */
export const MAIN = 4;

/** Control word: 1 when the thread runs, -1 when it could not start. */
export const C_READY = 0;
/** Control word: sessions the main thread has posted. */
export const C_MSG = 1;
/** Control word: jobs (counted over all sessions) the main thread is done with. */
export const C_CONSUMED = 2;
/** Control word: 1 asks the thread to leave now. */
export const C_STOP = 3;
/** Words in the control array. */
export const CTRL_WORDS = 4;

/** Job kind: an inode table chunk; a = first inode, b = records from the slot's start; result 1 when every checksum verifies. */
export const JOB_ITABLE = 1;
/** Job kind: directory block windows; a = first crc task, b = tasks. */
export const JOB_DIR = 2;
/**
 * Numbers per job in the job table (Float64: first read, reads, kind, a,
 * b). A job is one or more reads into its slot, then its kind's checksums.
 */
export const JOB_STRIDE = 5;
/** Numbers per read in the read table (Float64: first block, blocks, byte offset in the slot). */
export const READ_STRIDE = 3;
/** Numbers per crc task (Float64: byte offset of the block in the slot, seed). */
export const TASK_STRIDE = 2;

/** What the thread is started with (workerData). */
export interface ReaderSetup {
  kind: "ext4-check-reader";
  path: string;
  /** Byte offset of the filesystem in the file. */
  offset: number;
  /** The identity the file must have (st_dev, st_ino), as the main thread opened it. */
  dev: string;
  ino: string;
  slots: SharedArrayBuffer;
  slotBytes: number;
  slotCount: number;
  ctrl: SharedArrayBuffer;
  port: MessagePort;
}

/** The filesystem's geometry as the jobs need it. */
export interface ReaderGeometry {
  blockSize: number;
  /** Inode checksums: false without metadata_csum. */
  csum: boolean;
  csumSeed: number;
  inodeSize: number;
  /** Offsets of l_i_checksum_lo, i_checksum_hi, i_generation, i_extra_isize. */
  fields: { lo: number; hi: number; generation: number; extra: number };
}

/** One session (posted through the port). */
export interface ReaderSession {
  /** The number of this session's first job, counted over all sessions. */
  base: number;
  geometry: ReaderGeometry;
  jobs: Float64Array;
  reads: Float64Array;
  state: Int32Array;
  result: Int32Array;
  tasks: Float64Array;
  taskCrc: Uint32Array;
  count: number;
}

/** crc32c_le without inversion, as the kernel chains it (see the core's crc32cRaw). */
function crcRaw(seed: number, data: Uint8Array): number {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return ~crc32c(buf, ~seed >>> 0) >>> 0;
}

function readFully(fd: number, dest: Uint8Array, position: number): void {
  let done = 0;
  while (done < dest.length) {
    const n = readSync(fd, dest, done, dest.length - done, position + done);
    if (n === 0) throw new Error("short read");
    done += n;
  }
}

function run(setup: ReaderSetup): void {
  const ctrl = new Int32Array(setup.ctrl);
  const slots = new Uint8Array(setup.slots);
  let fd = -1;
  try {
    fd = openSync(setup.path, "r");
    const st = fstatSync(fd, { bigint: true });
    // The same file the main thread checks, not whatever the path names now.
    if (String(st.dev) !== setup.dev || String(st.ino) !== setup.ino)
      throw new Error("file changed");
  } catch {
    if (fd >= 0) closeSync(fd);
    Atomics.store(ctrl, C_READY, -1);
    Atomics.notify(ctrl, C_READY);
    return;
  }
  Atomics.store(ctrl, C_READY, 1);
  Atomics.notify(ctrl, C_READY);
  let sessions = 0;
  try {
    while (Atomics.load(ctrl, C_STOP) === 0) {
      const posted = Atomics.load(ctrl, C_MSG);
      if (posted === sessions) {
        Atomics.wait(ctrl, C_MSG, posted, 1000);
        continue;
      }
      const msg = receiveMessageOnPort(setup.port);
      if (msg === undefined) {
        Atomics.wait(ctrl, C_MSG, posted, 10);
        continue;
      }
      sessions++;
      session(setup, ctrl, slots, fd, msg.message as ReaderSession);
    }
  } finally {
    closeSync(fd);
  }
}

let csumTables: InodeCsum | null = null;

function session(
  setup: ReaderSetup,
  ctrl: Int32Array,
  slots: Uint8Array,
  fd: number,
  s: ReaderSession,
): void {
  const { slotBytes, slotCount } = setup;
  const g = s.geometry;
  const bs = g.blockSize;
  let inodes: InodeCsum | null = null;
  if (g.csum) {
    if (csumTables?.recordSize !== g.inodeSize) {
      const f = g.fields;
      csumTables = new InodeCsum(g.inodeSize, f.lo, f.hi, f.generation, f.extra);
    }
    inodes = csumTables;
  }
  for (let j = 0; j < s.count; j++) {
    const n = s.base + j;
    // Slot reuse: job n overwrites job n - slotCount, which must be consumed.
    for (;;) {
      if (Atomics.load(ctrl, C_STOP) !== 0) return;
      const consumed = Atomics.load(ctrl, C_CONSUMED);
      if (n - consumed < slotCount) break;
      Atomics.wait(ctrl, C_CONSUMED, consumed, 100);
    }
    if (Atomics.compareExchange(s.state, j, OPEN, WORKER) !== OPEN) continue;
    let state = DONE;
    try {
      // OK to assert: the tables hold their strides' numbers for every job, read and task.
      const firstRead = s.jobs[j * JOB_STRIDE]!;
      const reads = s.jobs[j * JOB_STRIDE + 1]!;
      const kind = s.jobs[j * JOB_STRIDE + 2]!;
      const a = s.jobs[j * JOB_STRIDE + 3]!;
      const b = s.jobs[j * JOB_STRIDE + 4]!;
      const slot = slots.subarray((n % slotCount) * slotBytes, ((n % slotCount) + 1) * slotBytes);
      for (let r = firstRead; r < firstRead + reads; r++) {
        const first = s.reads[r * READ_STRIDE]!;
        const blocks = s.reads[r * READ_STRIDE + 1]!;
        const at = s.reads[r * READ_STRIDE + 2]!;
        if (at < 0 || at + blocks * bs > slotBytes) throw new Error("read past the slot");
        readFully(fd, slot.subarray(at, at + blocks * bs), setup.offset + first * bs);
      }
      if (kind === JOB_ITABLE) {
        if (b * g.inodeSize > slotBytes) throw new Error("records past the slot");
        s.result[j] = inodes?.verifyRun(g.csumSeed, a, slot, 0, b, crcRaw) === true ? 1 : 0;
      } else if (kind === JOB_DIR) {
        for (let t = a; t < a + b; t++) {
          const at = s.tasks[t * TASK_STRIDE]!;
          const seed = s.tasks[t * TASK_STRIDE + 1]!;
          if (at < 0 || at + bs > slotBytes) throw new Error("block past the slot");
          // The leaf checksum covers the block up to its 12-byte tail.
          s.taskCrc[t] = crcRaw(seed, slot.subarray(at, at + bs - 12));
        }
      }
    } catch {
      state = FAILED;
    }
    Atomics.store(s.state, j, state);
    Atomics.notify(s.state, j);
  }
}

const data = workerData as ReaderSetup | undefined;
if (!isMainThread && data?.kind === "ext4-check-reader") run(data);
