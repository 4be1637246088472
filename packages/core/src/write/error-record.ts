/**
 * The error record the kernel keeps in the superblock (ext4_handle_error /
 * __save_error_info): EXT4_ERROR_FS in s_state, s_error_count, the first
 * error (set once) and the last one, each with time, inode, block,
 * function, line and an EXT4_ERR_* code. Kept in the superblock bytes the
 * engine writes, so the journaled copies and the home copy agree.
 */
import { EXT4_ERROR_FS, type RawSuperblock } from "../format/superblock.js";
import type { MetaState } from "./meta.js";

/** One error to record (the kernel's __save_error_info arguments). */
export interface ErrorRecord {
  /** Seconds since the epoch. */
  readonly time: number;
  readonly ino: number;
  readonly block: number;
  /** The function that met the error (at most 32 bytes are kept). */
  readonly func: string;
  readonly line: number;
  /** EXT4_ERR_* code ({@link EXT4_ERR}). */
  readonly errcode: number;
}

/** ext4_errno_to_code: the EXT4_ERR_* number recorded for an errno name. */
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

/** `s` as a NUL-padded field of `n` bytes (truncated to fit, as the kernel's strncpy). */
export function cStringField(s: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(new TextEncoder().encode(s).subarray(0, n));
  return out;
}

/**
 * Records `e` in the superblock bytes of `meta` as __save_error_info does:
 * EXT4_ERROR_FS set, the count raised, s_first_error_* written only when
 * no first error is recorded yet, s_last_error_* always.
 */
export function saveErrorInfo(meta: MetaState, e: ErrorRecord): void {
  const raw: Partial<RawSuperblock> = {
    s_state: meta.sbGet("s_state") | EXT4_ERROR_FS,
    s_error_count: (meta.sbGet("s_error_count") + 1) >>> 0,
  };
  const fields = (which: "first" | "last"): Partial<RawSuperblock> => ({
    [`s_${which}_error_time`]: e.time % 2 ** 32,
    [`s_${which}_error_time_hi`]: Math.floor(e.time / 2 ** 32) & 0xff,
    [`s_${which}_error_ino`]: e.ino,
    [`s_${which}_error_block`]: e.block,
    [`s_${which}_error_func`]: cStringField(e.func, 32),
    [`s_${which}_error_line`]: e.line,
    [`s_${which}_error_errcode`]: e.errcode,
  });
  if (meta.sbGet("s_first_error_time") === 0 && meta.sbGet("s_first_error_time_hi") === 0) {
    Object.assign(raw, fields("first"));
  }
  Object.assign(raw, fields("last"));
  meta.sbSetRaw(raw);
}
