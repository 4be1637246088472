/**
 * A pass-through device that owns the superblock fields the core leaves to
 * the mounter: s_last_mounted, and the error record the kernel keeps
 * (ext4_handle_error / save_error_info: EXT4_ERROR_FS in s_state,
 * s_error_count, s_first_error_* and s_last_error_*). Every write that
 * covers the superblock is patched on its way to the device, so whatever
 * the core writes later keeps these fields; {@link recordError} also
 * rewrites the superblock at once, as the kernel commits it on an error.
 */

import {
  ByteView,
  EXT4_ERROR_FS,
  encodeRawSuperblock,
  SUPERBLOCK,
  SUPERBLOCK_OFFSET,
  SUPERBLOCK_SIZE,
  setSuperblockChecksum,
} from "@ext4/core";
import type { BlockDevice } from "@ext4/iocache";

/** RO_COMPAT_METADATA_CSUM: the superblock carries a crc32c. */
const RO_COMPAT_METADATA_CSUM = 0x400;

/** One error to record (the kernel's __save_error_info arguments). */
export interface ErrorRecord {
  /** Seconds since the epoch. */
  time: number;
  ino: number;
  block: number;
  /** The function that met the error (at most 32 bytes are kept). */
  func: string;
  line: number;
  /** EXT4_ERR_* code (ext4_errno_to_code). */
  errcode: number;
}

/** ext4_errno_to_code: the errno names the kernel records, by EXT4_ERR_* number. */
export const EXT4_ERR: Readonly<Record<string, number>> = {
  EIO: 2,
  ENOMEM: 3,
  EBADMSG: 4, // EFSBADCRC
  EUCLEAN: 5, // EFSCORRUPTED
  ENOSPC: 6,
  ENOKEY: 7,
  EROFS: 8,
  EFBIG: 9,
  EEXIST: 10,
  ERANGE: 11,
  EOVERFLOW: 12,
  EBUSY: 13,
  ENOTDIR: 14,
  ENOTEMPTY: 15,
  ESHUTDOWN: 16,
  EFAULT: 17,
};

function cstr(s: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(new TextEncoder().encode(s).subarray(0, n));
  return out;
}

/** The device of a mounted image: everything passes through, the superblock gets our fields. */
export class SuperblockOverlay implements BlockDevice {
  private lastMounted: Uint8Array | null = null;
  private errorCount = 0;
  private first: ErrorRecord | null = null;
  private last: ErrorRecord | null = null;
  private baseErrorCount: number | null = null;

  constructor(readonly inner: BlockDevice) {}

  get size(): number {
    return this.inner.size;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  get name(): string {
    return this.inner.name;
  }

  /** Errors recorded through this overlay since the mount. */
  get errorsRecorded(): number {
    return this.errorCount;
  }

  /** Sets s_last_mounted (the mountpoint path, at most 64 bytes kept) for every later superblock write. */
  setLastMounted(path: string): void {
    this.lastMounted = cstr(path, 64);
  }

  read(offset: number, dest: Uint8Array): void {
    this.inner.read(offset, dest);
  }

  write(offset: number, src: Uint8Array): void {
    const end = offset + src.length;
    const sbEnd = SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE;
    if (offset <= SUPERBLOCK_OFFSET && end >= sbEnd && this.hasChanges()) {
      const copy = src.slice();
      this.patch(copy.subarray(SUPERBLOCK_OFFSET - offset, sbEnd - offset));
      this.inner.write(offset, copy);
      return;
    }
    this.inner.write(offset, src);
  }

  flush(): void {
    this.inner.flush();
  }

  close(): void {
    this.inner.close();
  }

  /**
   * Records an error as the kernel does (first error kept, last error
   * replaced, the count raised, EXT4_ERROR_FS set) and rewrites the
   * superblock on the device at once, then flushes it. Throws IoError.
   */
  recordError(e: ErrorRecord): void {
    this.errorCount++;
    if (this.first === null) this.first = e;
    this.last = e;
    if (this.inner.readOnly) return;
    const sb = new Uint8Array(SUPERBLOCK_SIZE);
    this.inner.read(SUPERBLOCK_OFFSET, sb);
    this.patch(sb);
    this.inner.write(SUPERBLOCK_OFFSET, sb);
    this.inner.flush();
  }

  private hasChanges(): boolean {
    return this.lastMounted !== null || this.errorCount > 0;
  }

  /** Applies our fields to the 1024 superblock bytes `sb` and refreshes the checksum. */
  private patch(sb: Uint8Array): void {
    const v = new ByteView(sb);
    const raw: Record<string, number | Uint8Array> = {};
    if (this.lastMounted !== null) raw.s_last_mounted = this.lastMounted;
    if (this.errorCount > 0) {
      const d = SUPERBLOCK.decode(v) as Record<string, number | Uint8Array | undefined>;
      const num = (k: string): number => {
        const x = d[k];
        return typeof x === "number" ? x : 0;
      };
      // The count on disk before this mount, so rewriting never counts an error twice.
      this.baseErrorCount ??= num("s_error_count");
      raw.s_state = num("s_state") | EXT4_ERROR_FS;
      raw.s_error_count = (this.baseErrorCount + this.errorCount) >>> 0;
      const f = this.first;
      // s_first_error_* is set once: keep an older first error already on disk.
      if (f !== null && num("s_first_error_time") === 0 && num("s_first_error_time_hi") === 0) {
        Object.assign(raw, {
          s_first_error_time: f.time % 2 ** 32,
          s_first_error_time_hi: Math.floor(f.time / 2 ** 32) & 0xff,
          s_first_error_ino: f.ino,
          s_first_error_block: f.block,
          s_first_error_func: cstr(f.func, 32),
          s_first_error_line: f.line,
          s_first_error_errcode: f.errcode,
        });
      }
      const l = this.last;
      if (l !== null) {
        Object.assign(raw, {
          s_last_error_time: l.time % 2 ** 32,
          s_last_error_time_hi: Math.floor(l.time / 2 ** 32) & 0xff,
          s_last_error_ino: l.ino,
          s_last_error_block: l.block,
          s_last_error_func: cstr(l.func, 32),
          s_last_error_line: l.line,
          s_last_error_errcode: l.errcode,
        });
      }
    }
    encodeRawSuperblock(v, raw as Parameters<typeof encodeRawSuperblock>[1]);
    const roCompat = v.u32(SUPERBLOCK.offsetOf("s_feature_ro_compat"));
    if ((roCompat & RO_COMPAT_METADATA_CSUM) !== 0) setSuperblockChecksum(sb);
  }
}
