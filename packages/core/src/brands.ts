/**
 * Branded integers: distinct types for numbers that must never be mixed up.
 * Each has one validating constructor; arithmetic on them yields plain numbers
 * that must be re-branded through the constructor.
 */
import { corrupt } from "./errors.js";

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** An inode number (1-based, as on disk). */
export type InodeNo = Brand<number, "InodeNo">;
/** A filesystem block number (physical, 0-based). */
export type FsBlockNo = Brand<number, "FsBlockNo">;
/** A logical block number within a file. */
export type FileBlockNo = Brand<number, "FileBlockNo">;
/** A block group number. */
export type GroupNo = Brand<number, "GroupNo">;

function checkUint(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

/** Brands `n` as an inode number. Throws RangeError unless n ≥ 1. */
export function inodeNo(n: number): InodeNo {
  checkUint(n, "inode number");
  if (n < 1) throw new RangeError("inode number 0 is never valid");
  return n as InodeNo;
}

/** Brands `n` as a physical block number. Throws RangeError if not a safe uint. */
export function fsBlockNo(n: number): FsBlockNo {
  checkUint(n, "block number");
  return n as FsBlockNo;
}

/** Brands `n` as a logical file block number. Throws RangeError if not a safe uint. */
export function fileBlockNo(n: number): FileBlockNo {
  checkUint(n, "file block number");
  return n as FileBlockNo;
}

/** Brands `n` as a block group number. Throws RangeError if not a safe uint. */
export function groupNo(n: number): GroupNo {
  checkUint(n, "group number");
  return n as GroupNo;
}

/**
 * Joins a `_lo`/`_hi` pair into one number. Every 64-bit quantity on disk goes
 * through here: JS numbers are exact only up to 2^53, so larger values are
 * refused as corruption rather than silently rounded.
 */
export function joinLoHi(lo: number, hi: number, loBits = 32): number {
  const value = hi * 2 ** loBits + lo;
  if (!Number.isSafeInteger(value)) {
    throw corrupt("VALUE_TOO_LARGE", `64-bit value ${hi}:${lo} exceeds 2^53`);
  }
  return value;
}

/** Splits a safe integer into its `_lo` (low `loBits`) and `_hi` parts. */
export function splitLoHi(value: number, loBits = 32): { lo: number; hi: number } {
  const unit = 2 ** loBits;
  return { lo: value % unit, hi: Math.floor(value / unit) };
}
