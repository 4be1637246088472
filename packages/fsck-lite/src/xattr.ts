/**
 * Extended attributes as pass 1 checks them: the in-inode area after
 * i_extra_isize (check_ea_in_inode) and the external block named by
 * i_file_acl (check_ext_attr), with e2fsck's region allocator to catch
 * overlapping entries and values.
 */
import { viewOf, xattrBlockChecksum } from "@ext4/core";
import type { CheckContext } from "./context.js";
import { type RawInode, xattrEntryHashes } from "./inode.js";
import { XATTR_ENTRY, XATTR_HEADER } from "./layout.js";

const XATTR_MAGIC = 0xea020000;
const entryLen = (nameLen: number) => (nameLen + 16 + 3) & ~3;
const valueSize = (size: number) => (size + 3) & ~3;

/** Byte ranges handed out once each; a second claim on any byte is a collision. */
class Regions {
  private readonly taken: Array<[number, number]> = [];
  constructor(private readonly size: number) {}
  /** Claims [start, start+len); true on a collision or a range outside the area. */
  allocate(start: number, len: number): boolean {
    if (start < 0 || len < 0 || start + len > this.size) return true;
    for (const [s, e] of this.taken) if (start < e && s < start + len) return true;
    this.taken.push([start, start + len]);
    return false;
  }
}

/** An in-inode xattr found while checking (used for inline data). */
export interface IbodyAttr {
  index: number;
  name: string;
  valueOffset: number;
  valueSize: number;
}

/**
 * check_ea_in_inode. Returns the attributes found (so inline data can find
 * system.data), or null when there is no in-inode xattr area.
 */
export function checkIbodyXattrs(
  ctx: CheckContext,
  ino: RawInode,
  report: boolean,
): IbodyAttr[] | null {
  const start = 128 + ino.extraIsize;
  if (ino.recordSize <= 128 || start + 4 > ino.recordSize) return null;
  // Most inodes have no in-inode xattrs: answer from the shared view before
  // making anything for this one.
  if (ino.view.u32(ino.base + start) !== XATTR_MAGIC) return null;
  const raw = ino.raw;
  const v = viewOf(raw, { inode: ino.ino });
  const first = start + 4;
  const storage = raw.length - first;
  const region = new Regions(storage);
  const attrs: IbodyAttr[] = [];
  let remain = storage;
  let off = first;
  const fail = (
    str: string,
    code: "XATTR_IBODY_CORRUPT" | "XATTR_HASH" = "XATTR_IBODY_CORRUPT",
    num?: number,
  ) => {
    if (report) ctx.report(code, { ino: ino.ino, str, ...(num === undefined ? {} : { num }) });
    return attrs;
  };
  for (let guard = 0; guard < 1024; guard++) {
    if (remain < 16 || off + 4 > raw.length || v.u32(off) === 0) break;
    if (off + 16 > raw.length) return fail("entry runs past the inode");
    const ev = v.sub(off, 16);
    const nameLen = XATTR_ENTRY.get(ev, "e_name_len");
    if (region.allocate(off - first, entryLen(nameLen))) return fail("allocation collision");
    remain -= 16;
    if (valueSize(nameLen) > remain) return fail(`name length ${nameLen}`);
    remain -= valueSize(nameLen);
    const vinum = XATTR_ENTRY.get(ev, "e_value_inum");
    const vsize = XATTR_ENTRY.get(ev, "e_value_size");
    const voffs = XATTR_ENTRY.get(ev, "e_value_offs");
    if (vinum === 0) {
      if (vsize > remain) return fail(`value size ${vsize}`);
      if (vsize > 0 && region.allocate(voffs, valueSize(vsize)))
        return fail("allocation collision");
      const name = raw.subarray(off + 16, off + 16 + nameLen);
      const value = raw.subarray(first + voffs, first + voffs + vsize);
      const hash = XATTR_ENTRY.get(ev, "e_hash");
      if (hash !== 0 && !xattrEntryHashes(name, value).includes(hash))
        return fail("", "XATTR_HASH", hash);
      remain -= vsize;
    }
    attrs.push({
      index: XATTR_ENTRY.get(ev, "e_name_index"),
      name: Buffer.from(raw.subarray(off + 16, off + 16 + nameLen)).toString("latin1"),
      valueOffset: first + voffs,
      valueSize: vsize,
    });
    off += entryLen(nameLen);
  }
  if (region.allocate(off - first, 4)) return fail("allocation collision");
  return attrs;
}

/** The system.data attribute (inline data) of an inode, from its in-inode attributes. */
export function findSystemData(attrs: IbodyAttr[] | null): IbodyAttr | null {
  return attrs?.find((a) => a.index === 7 && a.name === "data") ?? null;
}

/** Per-block reference tracking across pass 1 (e2fsck's refcount and refcount_extra). */
export interface XattrBlockRefs {
  /** h_refcount - references seen so far; reported when non-zero at the end of pass 1. */
  remaining: Map<number, { refcount: number; seen: number; badHeader: boolean }>;
}

/**
 * check_ext_attr: validates the xattr block of an inode the first time it
 * is seen and counts references. Returns true when the block counts toward
 * the inode's i_blocks (e2fsck counts it even after reporting problems).
 */
export function checkXattrBlock(
  ctx: CheckContext,
  ino: RawInode,
  blk: number,
  refs: XattrBlockRefs,
): boolean {
  const known = refs.remaining.get(blk);
  if (known !== undefined) {
    known.seen++;
    return true;
  }
  const buf = ctx.readBlock(blk);
  if (buf === null) return false;
  const bytes = buf.slice();
  const v = viewOf(bytes, { block: blk });
  const bs = ctx.g.blockSize;
  const magic = XATTR_HEADER.get(v, "h_magic");
  let failedCsum = false;
  if (ctx.csum && magic === XATTR_MAGIC) {
    failedCsum =
      XATTR_HEADER.get(v, "h_checksum") !== xattrBlockChecksum(ctx.g.csumSeed, blk, bytes);
  }
  const report = (code: Parameters<CheckContext["report"]>[0], str?: string) =>
    ctx.report(code, { ino: ino.ino, blk, ...(str === undefined ? {} : { str }) });
  if (magic !== XATTR_MAGIC) report("XATTR_BLOCK_BAD");
  if (XATTR_HEADER.get(v, "h_blocks") !== 1) report("XATTR_BLOCK_CORRUPT", "h_blocks is not 1");
  const region = new Regions(bs);
  region.allocate(0, 32);
  let off = 32;
  let problem = false;
  for (let guard = 0; guard < bs / 16 && off + 4 <= bs && v.u32(off) !== 0; guard++) {
    if (off + 16 > bs) {
      report("XATTR_BLOCK_CORRUPT", "entry runs past the block");
      problem = true;
      break;
    }
    const ev = v.sub(off, 16);
    const nameLen = XATTR_ENTRY.get(ev, "e_name_len");
    if (region.allocate(off, entryLen(nameLen))) {
      report("XATTR_BLOCK_CORRUPT", "allocation collision");
      problem = true;
      break;
    }
    if (XATTR_ENTRY.get(ev, "e_name_index") === 0) {
      report("XATTR_BLOCK_CORRUPT", "invalid name");
      problem = true;
      break;
    }
    if (XATTR_ENTRY.get(ev, "e_value_inum") === 0) {
      const voffs = XATTR_ENTRY.get(ev, "e_value_offs");
      const vsize = XATTR_ENTRY.get(ev, "e_value_size");
      if (voffs + vsize > bs) {
        report("XATTR_BLOCK_CORRUPT", "invalid value");
        problem = true;
        break;
      }
      if (vsize > 0 && region.allocate(voffs, valueSize(vsize))) {
        report("XATTR_BLOCK_CORRUPT", "allocation collision");
        problem = true;
      }
      const hash = XATTR_ENTRY.get(ev, "e_hash");
      const name = bytes.subarray(off + 16, off + 16 + nameLen);
      if (!xattrEntryHashes(name, bytes.subarray(voffs, voffs + vsize)).includes(hash)) {
        ctx.report("XATTR_HASH", { ino: ino.ino, num: hash });
        problem = true;
      }
    }
    off += entryLen(nameLen);
  }
  if (!problem && region.allocate(off, 4)) {
    report("XATTR_BLOCK_CORRUPT", "allocation collision");
    problem = true;
  }
  if (failedCsum && !problem && magic === XATTR_MAGIC) report("XATTR_BLOCK_CSUM");
  refs.remaining.set(blk, {
    refcount: XATTR_HEADER.get(v, "h_refcount"),
    seen: 1,
    badHeader: magic !== XATTR_MAGIC,
  });
  return true;
}
