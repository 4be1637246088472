/**
 * The reader thread, run for real: what it reads is the file's bytes, its
 * checksums are the core's, a job it cannot do is handed back, and a
 * thread that cannot start (another file behind the path) leaves every job
 * to the caller. The check as a whole gives the same result with and
 * without it (the corpus test runs every case both ways).
 */
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32cRaw, INODE, setInodeChecksum } from "@ext4/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  JOB_DIR,
  JOB_ITABLE,
  JOB_STRIDE,
  Prefetcher,
  READ_STRIDE,
  type ReaderGeometry,
  TASK_STRIDE,
} from "./prefetch.js";

const BS = 4096;
let dir = "";
let path = "";
let other = "";
let bytes = new Uint8Array(0);

const geometry: ReaderGeometry = {
  blockSize: BS,
  csum: true,
  csumSeed: 0x5eed,
  inodeSize: 256,
  fields: {
    lo: INODE.offsetOf("l_i_checksum_lo"),
    hi: INODE.offsetOf("i_checksum_hi"),
    generation: INODE.offsetOf("i_generation"),
    extra: INODE.offsetOf("i_extra_isize"),
  },
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "ext4-check-prefetch-"));
  path = join(dir, "image");
  other = join(dir, "other");
  // 64 blocks of noise; blocks 0-3 hold 64 signed inodes (1..64), block 2's 3rd one damaged later.
  bytes = new Uint8Array(64 * BS);
  for (let k = 0; k < bytes.length; k++) bytes[k] = (k * 2654435761) >>> 24;
  for (let i = 0; i < 64; i++) {
    const rec = bytes.subarray(i * 256, (i + 1) * 256);
    rec[128] = 32;
    rec[129] = 0;
    setInodeChecksum(geometry.csumSeed, i + 1, rec, 256);
  }
  bytes[8192 + 2 * 256 + 40] = bytes[8192 + 2 * 256 + 40]! ^ 1;
  writeFileSync(path, bytes);
  writeFileSync(other, bytes);
});

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** Jobs, reads and tasks tables from plain lists. */
function tables(
  jobs: number[][],
  reads: number[][],
  tasks: number[][],
): [Float64Array, number, Float64Array, number, Float64Array, number] {
  return [
    Float64Array.from(jobs.flat()),
    jobs.length,
    Float64Array.from(reads.flat()),
    reads.length,
    Float64Array.from(tasks.flat()),
    tasks.length,
  ];
}

describe("the reader thread", () => {
  it("reads the file's blocks into its slots with the core's checksums, and hands back what it cannot read", () => {
    const fd = openSync(path, "r");
    const reader = Prefetcher.start(path, fd, 0);
    expect(reader).not.toBeNull();
    try {
      reader!.preferThread = true;
      expect([JOB_STRIDE, READ_STRIDE, TASK_STRIDE]).toEqual([5, 3, 2]);
      // Pass 1 style: inode table chunks; the first verifies, the second holds the damaged inode.
      const s1 = reader!.session(
        geometry,
        ...tables(
          [
            [0, 1, JOB_ITABLE, 1, 32],
            [1, 1, JOB_ITABLE, 33, 32],
          ],
          [
            [0, 2, 0],
            [2, 2, 0],
          ],
          [],
        ),
      );
      const c0 = s1.take(0);
      expect(c0?.subarray(0, 2 * BS)).toEqual(bytes.subarray(0, 2 * BS));
      expect(s1.result(0)).toBe(1);
      s1.release(1);
      expect(s1.take(1)?.subarray(0, 2 * BS)).toEqual(bytes.subarray(2 * BS, 4 * BS));
      expect(s1.result(1)).toBe(0);
      s1.finish();
      // Pass 2 style: several windows per job, a crc per block; the last job reads past the end.
      const s2 = reader!.session(
        geometry,
        ...tables(
          [
            [0, 2, JOB_DIR, 0, 3],
            [2, 1, JOB_DIR, 3, 1],
            [3, 1, JOB_DIR, 4, 0],
          ],
          [
            [10, 2, 0],
            [40, 1, 2 * BS],
            [63, 1, 0],
            [63, 2, 0],
          ],
          [
            [0, 1],
            [BS, 2],
            [2 * BS, 3],
            [0, 4],
          ],
        ),
      );
      const w = s2.take(0);
      expect(w?.subarray(0, 2 * BS)).toEqual(bytes.subarray(10 * BS, 12 * BS));
      expect(w?.subarray(2 * BS, 3 * BS)).toEqual(bytes.subarray(40 * BS, 41 * BS));
      const blocks = [10, 11, 40];
      for (let t = 0; t < 3; t++) {
        const b = bytes.subarray(blocks[t]! * BS, blocks[t]! * BS + BS - 12);
        expect(s2.taskCrc(t)).toBe(crc32cRaw(t + 1, b));
      }
      s2.release(1);
      expect(s2.take(1)?.subarray(0, BS)).toEqual(bytes.subarray(63 * BS));
      expect(s2.taskCrc(3)).toBe(crc32cRaw(4, bytes.subarray(63 * BS, 64 * BS - 12)));
      s2.release(2);
      expect(s2.take(2)).toBeNull();
      s2.finish();
      expect(reader!.jobsFromThread).toBe(4);
    } finally {
      reader!.close();
      closeSync(fd);
    }
  });

  it("does not start on another file than the one checked, and leaves every job to the caller", () => {
    const fd = openSync(other, "r");
    const reader = Prefetcher.start(path, fd, 0);
    try {
      reader!.preferThread = true;
      const s = reader!.session(geometry, ...tables([[0, 1, JOB_DIR, 0, 0]], [[0, 1, 0]], []));
      expect(s.take(0)).toBeNull();
      expect(reader!.ready).toBe(-1);
      expect(reader!.jobsFromThread).toBe(0);
    } finally {
      reader!.close();
      closeSync(fd);
    }
  });
});
