/**
 * Pass 2: every directory block (e2fsck's check_dir_block over the sorted
 * directory block list): record lengths and alignment, names, '.' and '..',
 * entries naming bad, unused or reserved inodes, file types, duplicates,
 * checksum tails, and the htree index (limits, counts, hash order, hash
 * ranges of the leaves, depth, unreferenced blocks). Counts the references
 * pass 4 compares with the link counts and records '..' and the first
 * parent of every directory for pass 3.
 */
import { crc32cRaw, isExt4Error, viewOf } from "@ext4/core";
import { BG_INODE_UNINIT, type CheckContext, F, IS } from "./context.js";
import { DX_HASH, dxHash } from "./hash.js";
import {
  decodeInode,
  deviceInodeOk,
  FL,
  fileAclBlock,
  fileTypeOf,
  type RawInode,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFSOCK,
  symlinkOk,
  typeOf,
  validType,
} from "./inode.js";
import { DX_COUNTLIMIT, DX_ROOT_INFO } from "./layout.js";
import { inlineBytes } from "./pass1.js";
import { type BlockVisitor, walkBlockMap, walkExtents } from "./walk.js";
import { checkIbodyXattrs, findSystemData } from "./xattr.js";

const ROOT_INO = 2;

/** Directory block kinds in an htree (e2fsck's DX_DIRBLOCK_*). */
const LEAF = 1;
const ROOT = 2;
const NODE = 3;
const FLAG_REFERENCED = 1;
const FLAG_DUP_REF = 2;
const FLAG_FIRST = 4;
const FLAG_LAST = 8;

interface DxBlock {
  type: number;
  flags: number;
  parent: number;
  minHash: number;
  maxHash: number;
  nodeMinHash: number;
  nodeMaxHash: number;
}

interface DxDir {
  ino: number;
  numBlocks: number;
  hashVersion: number;
  depth: number;
  blocks: DxBlock[];
}

/** The directory block list: parallel typed arrays, grown by doubling. */
class DirBlockList {
  dir = new Uint32Array(1024);
  lblk = new Float64Array(1024);
  pblk = new Float64Array(1024);
  length = 0;
  push(dir: number, lblk: number, pblk: number): void {
    if (this.length === this.dir.length) {
      const n = this.length * 2;
      const d = new Uint32Array(n);
      d.set(this.dir);
      const l = new Float64Array(n);
      l.set(this.lblk);
      const p = new Float64Array(n);
      p.set(this.pblk);
      this.dir = d;
      this.lblk = l;
      this.pblk = p;
    }
    this.dir[this.length] = dir;
    this.lblk[this.length] = lblk;
    this.pblk[this.length] = pblk;
    this.length++;
  }
}

/** Collects a directory's blocks as pass 1 would have listed them (holes below the last block included). */
function collectDirBlocks(ctx: CheckContext, inode: RawInode, list: DirBlockList): void {
  const map = new Map<number, number>();
  let last = -1;
  const v: BlockVisitor = {
    data(lblk, pblk, len) {
      // A directory's logical range is bounded by its size check in pass 1;
      // cap the run so a corrupt length cannot make this loop unbounded.
      const n = Math.min(len, 1 << 20);
      for (let k = 0; k < n; k++) {
        if (!map.has(lblk + k)) map.set(lblk + k, pblk + k);
      }
      if (lblk + n - 1 > last) last = lblk + n - 1;
    },
    meta() {},
  };
  if ((inode.flags & FL.EXTENTS) !== 0 && ctx.incompat(F.INCOMPAT_EXTENTS))
    walkExtents(ctx, inode, v, false);
  else walkBlockMap(ctx, inode, v, null);
  const end = Math.min(last, (1 << 21) - 1);
  // process_block lists block 0 of a block-mapped directory even when it is
  // unmapped (so '.' and '..' get checked); the extent scan does not.
  const extents = (inode.flags & FL.EXTENTS) !== 0 && ctx.incompat(F.INCOMPAT_EXTENTS);
  if (end < 0 && !extents) list.push(inode.ino, 0, 0);
  for (let l = 0; l <= end; l++) list.push(inode.ino, l, map.get(l) ?? 0);
}

/** Runs pass 2. */
export function pass2(ctx: CheckContext, progress?: (done: number, total: number) => void): void {
  const list = new DirBlockList();
  const inlineDirs = new Map<number, Uint8Array>();
  const dx = new Map<number, DxDir>();
  // Directory block checksums are seeded per inode; compute each seed once.
  const seeds = new Map<number, number>();
  for (const ino of ctx.dblist) {
    const raw = ctx.readInode(ino);
    if (raw === null) continue;
    const inode = decodeInode(ino, raw);
    if ((inode.flags & FL.INLINE_DATA) !== 0 && ctx.incompat(F.INCOMPAT_INLINE_DATA)) {
      // libext2fs reads inline data through a checksum-verified inode read:
      // e2fsck sees no entries at all in an inline directory whose inode fails.
      if (ctx.badCsum?.test(ino) === true) continue;
      const sys = findSystemData(checkIbodyXattrs(ctx, inode, false));
      const data = inlineBytes(inode, sys);
      inlineDirs.set(ino, data);
      list.push(ino, 0, 0);
      if (data.length > 60) list.push(ino, 1, 0);
      continue;
    }
    collectDirBlocks(ctx, inode, list);
    if (ctx.csum) seeds.set(ino, ctx.inodeCsumSeed(ino, inode.generation));
  }
  // Every inode pass 1 kept as an htree gets its block table (e2fsck's
  // e2fsck_add_dx_dir), directories or not; blocks pass 2 never sees stay
  // unreferenced and are reported at the end.
  for (const [ino, numBlocks] of ctx.htreeDirs) {
    if (numBlocks <= 0 || numBlocks > 1 << 22) continue;
    const blocks: DxBlock[] = [];
    for (let k = 0; k < numBlocks; k++) {
      blocks.push({
        type: 0,
        flags: 0,
        parent: 0,
        minHash: 0,
        maxHash: 0,
        nodeMinHash: 0,
        nodeMaxHash: 0,
      });
    }
    dx.set(ino, { ino, numBlocks, hashVersion: 0, depth: 0, blocks });
  }
  // e2fsck sorts the list: every directory's block 0 first, then by physical block.
  const order = new Uint32Array(list.length);
  for (let k = 0; k < order.length; k++) order[k] = k;
  order.sort((a, b) => {
    const la = list.lblk[a] === 0 ? 0 : 1;
    const lb = list.lblk[b] === 0 ? 0 : 1;
    if (la !== lb) return la - lb;
    return (
      list.pblk[a]! - list.pblk[b]! || list.lblk[a]! - list.lblk[b]! || list.dir[a]! - list.dir[b]!
    );
  });
  // The root is its own parent.
  ctx.parent[ROOT_INO] = ROOT_INO;
  let prefetchedTo = -1;
  for (let k = 0; k < order.length; k++) {
    if ((k & 1023) === 0) progress?.(k, order.length);
    const idx = order[k]!;
    // The list is sorted by physical block, so the blocks ahead are mostly
    // close together: read them in one transfer instead of one by one.
    const here = list.pblk[idx]!;
    if (here > prefetchedTo && here !== 0) {
      // Only a dense run is worth it: at least every other block wanted.
      let end = here;
      let wanted = 1;
      for (let j = k + 1; j < order.length && j < k + 256; j++) {
        const p = list.pblk[order[j]!]!;
        if (p < here || p - here >= 256 || p - here + 1 > 2 * (wanted + 1)) break;
        end = Math.max(end, p);
        wanted++;
      }
      if (end > here + 1) ctx.cache.prefetch(here, end - here + 1);
      prefetchedTo = end;
    }
    const dir = list.dir[idx]!;
    const lblk = list.lblk[idx]!;
    const pblk = list.pblk[idx]!;
    const inline = inlineDirs.get(dir);
    if (inline !== undefined) {
      try {
        checkInlineBlock(ctx, dir, lblk, inline);
      } catch (e) {
        if (!isExt4Error(e)) throw e;
        ctx.report("STRUCTURE_2", { ino: dir, lblk, str: e.message });
      }
      continue;
    }
    if (pblk === 0) {
      ctx.report("DIR_HOLE", { ino: dir, lblk });
      continue;
    }
    try {
      checkDirBlock(ctx, dir, lblk, pblk, dx.get(dir) ?? null, seeds.get(dir) ?? 0);
    } catch (e) {
      if (!isExt4Error(e)) throw e;
      ctx.report("STRUCTURE_2", { ino: dir, lblk, str: e.message });
    }
    if (ctx.stopped) return;
  }
  for (const d of dx.values()) verifyHtree(ctx, d);
}

interface EntryScan {
  dir: number;
  lblk: number;
  dxBlock: DxBlock | null;
  dxDir: DxDir | null;
  names: Set<string>;
}

/** check_dir_block for one block of a block-mapped directory. */
function checkDirBlock(
  ctx: CheckContext,
  dir: number,
  lblk: number,
  pblk: number,
  dxDir: DxDir | null,
  seed: number,
): void {
  const bs = ctx.g.blockSize;
  const buf0 = ctx.readBlock(pblk);
  if (buf0 === null) return;
  const buf = buf0.slice();
  const v = viewOf(buf, { inode: dir, block: pblk });
  let dxBlock: DxBlock | null = null;
  let isLeaf = true;
  if (dxDir !== null) {
    if (lblk >= dxDir.numBlocks) {
      ctx.report("HTREE_BAD_BLOCK", { ino: dir, lblk });
    } else {
      dxBlock = dxDir.blocks[lblk]!;
      dxBlock.type = LEAF;
      dxBlock.minHash = 0xffffffff;
      dxBlock.maxHash = 0;
      const recLen0 = v.u16(4);
      const limitAt8 = v.u16(8);
      if (lblk === 0) {
        const info = v.sub(24, 8);
        dxBlock.type = ROOT;
        dxBlock.flags |= FLAG_FIRST | FLAG_LAST;
        const levels = DX_ROOT_INFO.get(info, "indirect_levels");
        if (
          DX_ROOT_INFO.get(info, "reserved_zero") !== 0 ||
          DX_ROOT_INFO.get(info, "info_length") < 8 ||
          levels >= (ctx.incompat(F.INCOMPAT_LARGEDIR) ? 3 : 2)
        ) {
          ctx.report("HTREE_ROOT_INVALID", { ino: dir });
        }
        let hv = DX_ROOT_INFO.get(info, "hash_version");
        if (hv <= DX_HASH.TEA && ctx.g.unsignedHash) hv += 3;
        dxDir.hashVersion = hv;
        dxDir.depth = levels + 1;
      } else if (
        v.u32(0) === 0 &&
        recLen0 === bs &&
        v.u8(6) === 0 &&
        limitAt8 === Math.floor((bs - (8 + (ctx.csum ? 8 : 0))) / 8)
      ) {
        dxBlock.type = NODE;
      }
      isLeaf = dxBlock.type === LEAF;
    }
  }

  // Checksums: ext2fs_read_dir_block4 verifies a leaf tail or an htree
  // node's dx_tail; check_dir_block then decides how much of the block the
  // entries may use and which checksum problem to report.
  let failedCsum = false;
  let deCsumSize = ctx.csum ? 12 : 0;
  if (ctx.csum) {
    const tail = direntTail(buf, bs);
    // ext2fs_dir_block_csum_verify re-reads the directory's inode for its
    // seed: when that inode fails its own checksum, every block fails.
    const inodeBad = ctx.badCsum?.test(dir) === true;
    if (tail === "ok")
      failedCsum = inodeBad || crc32cRaw(seed, buf.subarray(0, bs - 12)) !== v.u32(bs - 4);
    else {
      const dxc = dxCountLimit(buf, bs);
      failedCsum = dxc === null ? true : inodeBad || !dxCsumOk(buf, bs, dxc, seed);
    }
    if (isLeaf && failedCsum && tail === "nospace") {
      deCsumSize = 0;
      ctx.report("DIR_NO_CSUM", { ino: dir, lblk, num: 0 });
      failedCsum = false;
    }
    if (!isLeaf) deCsumSize = 0;
  }
  const maxLen = bs - deCsumSize;

  const scan: EntryScan = { dir, lblk, dxBlock, dxDir, names: new Set() };
  let offset = 0;
  let dotState = lblk === 0 ? 0 : 2;
  const minLen = 12;
  let corrupted = false;
  for (let guard = 0; offset < maxLen && guard < bs; guard++) {
    const recLen = maxLen - offset < 8 ? 12 : v.u16(offset + 4);
    const nameLen = maxLen - offset < 8 ? 0 : v.u8(offset + 6);
    if (
      offset + recLen > maxLen ||
      recLen < minLen ||
      recLen % 4 !== 0 ||
      ((nameLen + 8 + 3) & ~3) > recLen
    ) {
      ctx.report("DIR_CORRUPTED", { ino: dir, lblk, num: offset });
      corrupted = true;
      break;
    }
    const inum = v.u32(offset);
    const name = buf.subarray(offset + 8, offset + 8 + nameLen);
    const fileType = v.u8(offset + 7);
    checkEntry(ctx, scan, dotState, inum, name, fileType, buf, offset);
    offset += recLen;
    dotState++;
  }
  if (corrupted) return;
  if (dxBlock !== null && (dxBlock.type === ROOT || dxBlock.type === NODE)) {
    parseIntNode(ctx, dxDir!, lblk, buf, failedCsum);
  } else if (isLeaf && failedCsum) {
    ctx.report("DIR_CSUM", { ino: dir, lblk });
  }
}

/**
 * __get_dirent_tail: walks the entries to the last 12 bytes. "ok" when a
 * valid tail sits there, "corrupt" when the walk breaks, "nospace" when the
 * entries run over where the tail should be or the tail is malformed.
 */
function direntTail(buf: Uint8Array, bs: number): "ok" | "corrupt" | "nospace" {
  const v = viewOf(buf);
  const top = bs - 12;
  let off = 0;
  for (let guard = 0; off < top && guard < bs; guard++) {
    const rl = v.u16(off + 4);
    if (rl < 8 || rl % 4 !== 0) return "corrupt";
    off += rl;
  }
  if (off > bs) return "corrupt";
  if (off !== top) return "nospace";
  const ok =
    v.u32(top) === 0 && v.u16(top + 4) === 12 && v.u8(top + 6) === 0 && v.u8(top + 7) === 0xde;
  return ok ? "ok" : "nospace";
}

/** __get_dx_countlimit: the offset of the count/limit header of an htree block, or null. */
function dxCountLimit(buf: Uint8Array, bs: number): number | null {
  const v = viewOf(buf);
  const rl = v.u16(4);
  let countOffset: number;
  if (rl === bs && v.u8(6) === 0) countOffset = 8;
  else if (rl === 12) {
    const rl2 = v.u16(12 + 4);
    if (rl2 !== bs - 12 || v.u8(12 + 6) !== 2) return null;
    if (v.u32(24) !== 0 || v.u8(29) !== 8) return null;
    countOffset = 32;
  } else return null;
  const max = Math.floor((bs - countOffset) / 8);
  if (v.u16(countOffset) > max || v.u16(countOffset + 2) > max) return null;
  return countOffset;
}

/** ext2fs_dx_csum_verify. */
function dxCsumOk(buf: Uint8Array, bs: number, countOffset: number, seed: number): boolean {
  const v = viewOf(buf);
  const limit = v.u16(countOffset);
  const count = v.u16(countOffset + 2);
  if (countOffset + limit * 8 > bs - 8) return false;
  const tail = countOffset + limit * 8;
  let c = crc32cRaw(seed, buf.subarray(0, countOffset + count * 8));
  c = crc32cRaw(c, buf.subarray(tail, tail + 4));
  c = crc32cRaw(c, new Uint8Array(4));
  return c === v.u32(tail + 4);
}

/** The inline directory's two "blocks": i_block (parent + entries) and the system.data value. */
function checkInlineBlock(ctx: CheckContext, dir: number, lblk: number, data: Uint8Array): void {
  const scan: EntryScan = { dir, lblk, dxBlock: null, dxDir: null, names: new Set() };
  const v = viewOf(data);
  if (lblk === 0) {
    // '.' is implicit; '..' is the first four bytes.
    checkEntry(ctx, scan, 0, dir, Uint8Array.of(0x2e), 2, null, 0);
    checkEntry(ctx, scan, 1, v.u32(0), Uint8Array.of(0x2e, 0x2e), 2, null, 0);
  }
  const start = lblk === 0 ? 4 : 60;
  const end = lblk === 0 ? 60 : data.length;
  let offset = start;
  for (let guard = 0; offset < end && guard < 1024; guard++) {
    const left = end - offset;
    const recLen = left < 8 ? 12 : v.u16(offset + 4);
    const nameLen = left < 8 ? 0 : v.u8(offset + 6);
    if (
      offset + recLen > end ||
      recLen < 8 ||
      recLen % 4 !== 0 ||
      ((nameLen + 8 + 3) & ~3) > recLen
    ) {
      ctx.report("DIR_CORRUPTED", { ino: dir, lblk, num: offset - start });
      return;
    }
    checkEntry(
      ctx,
      scan,
      2,
      v.u32(offset),
      data.subarray(offset + 8, offset + 8 + nameLen),
      v.u8(offset + 7),
      null,
      offset,
    );
    offset += recLen;
  }
}

function nameString(name: Uint8Array): string {
  return Buffer.from(name).toString("latin1");
}

/** The per-entry checks of check_dir_block, in e2fsck's order. */
function checkEntry(
  ctx: CheckContext,
  scan: EntryScan,
  dotState: number,
  inum: number,
  name: Uint8Array,
  fileType: number,
  _buf: Uint8Array | null,
  _offset: number,
): void {
  const dir = scan.dir;
  const entry = nameString(name);
  const where = { ino: dir, entry, str: `<${dir}>` };
  const isDot = name.length === 1 && name[0] === 0x2e;
  const isDotDot = name.length === 2 && name[0] === 0x2e && name[1] === 0x2e;
  if (dotState === 0) {
    if (inum === 0 || !isDot) ctx.report("DIR_MISSING_DOT", { ...where, num: inum });
    if (inum !== dir) ctx.report("DIR_BAD_DOT_INODE", { ino: dir });
  } else if (dotState === 1) {
    if (inum === 0 || !isDotDot) {
      ctx.report("DIR_MISSING_DOTDOT", { ...where, num: inum });
    } else {
      ctx.dotdot[dir] = inum;
    }
  } else if (inum === dir) {
    ctx.report("DIRENT_LINK_DOT", where);
    return;
  }
  if (inum === 0) return;

  if ((inum !== ROOT_INO && inum < ctx.g.firstIno) || inum > ctx.g.inodesCount) {
    ctx.report("DIRENT_BAD_INODE", { ...where, num: inum });
    return;
  }
  let problem: "DIRENT_DUP_DOT" | "DIRENT_LINK_ROOT" | "DIRENT_ZERO_NAME" | null = null;
  if (dotState > 1 && (isDot || isDotDot)) problem = "DIRENT_DUP_DOT";
  else if (dotState > 1 && inum === ROOT_INO) problem = "DIRENT_LINK_ROOT";
  else if (dotState > 1 && name.length === 0) problem = "DIRENT_ZERO_NAME";
  if (problem !== null) ctx.report(problem, where);
  if (dotState > 1 && name.some((c) => c === 0x2f || c === 0)) ctx.report("DIRENT_BAD_NAME", where);

  const st = ctx.istate[inum]!;
  if ((st & IS.BAD) !== 0) processBadInode(ctx, inum, where);

  const grp = ctx.inodeGroup(inum);
  const firstUnused =
    grp * ctx.g.inodesPerGroup + 1 + ctx.g.inodesPerGroup - ctx.gdItableUnused[grp]!;
  // e2fsck would clear the flags and restart; with -n it goes on and also
  // reports the entry as naming an unused inode.
  if (ctx.gdtCsum && (ctx.gdFlags[grp]! & BG_INODE_UNINIT) !== 0) {
    ctx.report("DIRENT_UNINIT_INODE", { ...where, num: inum, group: grp });
  } else if (ctx.gdtCsum && inum >= firstUnused) {
    ctx.report("DIRENT_UNUSED_AREA", { ...where, num: inum, group: grp });
  }
  if ((st & IS.USED) === 0) {
    ctx.report("DIRENT_UNUSED_INODE", { ...where, num: inum });
    return;
  }

  // check_filetype
  if (ctx.incompat(F.INCOMPAT_FILETYPE)) {
    let shouldBe: number;
    if ((st & IS.DIR) !== 0) shouldBe = 2;
    else if ((st & IS.REG) !== 0) shouldBe = 1;
    else if ((st & IS.BAD) !== 0) shouldBe = 0;
    else {
      const raw = ctx.readInode(inum);
      shouldBe = raw === null ? 0 : fileTypeOf(viewOf(raw).u16(0));
    }
    if (fileType !== shouldBe && fileType !== 0)
      ctx.report("DIRENT_FILETYPE", { ...where, num: fileType, num2: shouldBe });
  } else if (fileType !== 0) {
    ctx.report("DIRENT_FILETYPE_SET", where);
  }

  if (scan.dxBlock !== null && scan.dxDir !== null) {
    // An unknown hash version leaves e2fsck's hash at 0.
    const h = dxHash(name, scan.dxDir.hashVersion, ctx.g.hashSeed) ?? 0;
    if (h < scan.dxBlock.minHash) scan.dxBlock.minHash = h;
    if (h > scan.dxBlock.maxHash) scan.dxBlock.maxHash = h;
  }

  if (dotState > 1 && (st & IS.DIR) !== 0) {
    if (ctx.parent[inum] !== 0) ctx.report("DIRENT_LINK_DIR", { ...where, num: inum });
    else ctx.parent[inum] = dir;
  }

  if (scan.names.has(entry)) {
    ctx.report("DIRENT_DUPLICATE", where);
    ctx.dupNameDirs.add(dir);
  } else scan.names.add(entry);

  if (dir === ROOT_INO && entry === "lost+found") ctx.lostFound = inum;
  if (ctx.refCount[inum]! < 0xffffffff) ctx.refCount[inum]!++;
  ctx.istate[inum] = st | IS.REACHED;
}

/**
 * e2fsck_process_bad_inode: reports what pass 1 found wrong with an inode
 * once a directory entry leads to it (so the message can name the entry).
 */
export function processBadInode(
  ctx: CheckContext,
  ino: number,
  where: { ino: number; entry: string; str: string },
): void {
  const raw = ctx.readInode(ino);
  if (raw === null) return;
  const inode = decodeInode(ino, raw);
  const c = { ino, str: where.entry === "" ? `<${ino}>` : where.entry };
  const acl = fileAclBlock(ctx, inode);
  if (acl !== 0 && !ctx.compat(F.COMPAT_EXT_ATTR))
    ctx.report("XATTR_BLOCK_INVALID_REF", { ...c, blk: acl });
  const mode = typeOf(inode.mode);
  if (!validType(inode.mode)) ctx.report("INODE_BAD_MODE", { ...c, num: inode.mode });
  else if (
    (mode === S_IFCHR || mode === S_IFBLK || mode === S_IFIFO || mode === S_IFSOCK) &&
    !deviceInodeOk(inode)
  ) {
    ctx.report("INODE_BAD_DEVICE", c);
  } else if (mode === S_IFLNK) {
    const sys =
      (inode.flags & FL.INLINE_DATA) !== 0
        ? findSystemData(checkIbodyXattrs(ctx, inode, false))
        : null;
    if (
      !symlinkOk(ctx, inode, (inode.flags & FL.INLINE_DATA) !== 0 ? inlineBytes(inode, sys) : null)
    ) {
      ctx.report("SYMLINK_INVALID", c);
    }
  }
  if (inode.faddr !== 0) ctx.report("INODE_FADDR", { ...c, num: inode.faddr });
  if (!ctx.roCompat(F.RO_HUGE_FILE) && inode.blocksHi !== 0)
    ctx.report("INODE_BLOCKS_HIGH", { ...c, num: inode.blocksHi });
  if (!ctx.incompat(F.INCOMPAT_64BIT) && inode.fileAclHigh !== 0)
    ctx.report("INODE_FILE_ACL_HIGH", { ...c, num: inode.fileAclHigh });
  if (acl !== 0 && (acl < ctx.g.firstDataBlock || acl >= ctx.g.blocksCount))
    ctx.report("XATTR_BLOCK_INVALID_REF", { ...c, blk: acl });
  if (inode.sizeHigh !== 0 && !ctx.incompat(F.INCOMPAT_LARGEDIR) && mode === S_IFDIR) {
    ctx.report("INODE_DIR_SIZE_HIGH", { ...c, num: inode.sizeHigh });
  }
}

/** parse_int_node: an htree root or interior node's entries. */
function parseIntNode(
  ctx: CheckContext,
  d: DxDir,
  lblk: number,
  buf: Uint8Array,
  failedCsum: boolean,
): void {
  const v = viewOf(buf);
  const bs = ctx.g.blockSize;
  let entOff: number;
  if (lblk === 0) {
    const infoLength = v.u8(24 + 5);
    entOff = 24 + infoLength;
    if (failedCsum) ctx.report("HTREE_ROOT_CSUM", { ino: d.ino });
  } else {
    entOff = 8;
    if (failedCsum) ctx.report("HTREE_NODE_CSUM", { ino: d.ino, lblk });
  }
  if (entOff + 8 > bs) {
    ctx.report("HTREE_BAD_LIMIT", { ino: d.ino, lblk, num: 0 });
    return;
  }
  const cl = v.sub(entOff, 8);
  const limit = DX_COUNTLIMIT.get(cl, "limit");
  let count = DX_COUNTLIMIT.get(cl, "count");
  const expect = Math.floor((bs - ((ctx.csum ? 8 : 0) + entOff)) / 8);
  if (limit !== expect) ctx.report("HTREE_BAD_LIMIT", { ino: d.ino, lblk, num: limit });
  if (count > expect) {
    ctx.report("HTREE_BAD_COUNT", { ino: d.ino, lblk, num: count });
    count = expect;
  }
  let minHash = 0xffffffff;
  let maxHash = 0;
  let hash = 0;
  for (let k = 0; k < count; k++) {
    const prev = hash;
    const e = entOff + 8 * k;
    if (e + 8 > bs) break;
    hash = k === 0 ? 0 : (v.u32(e) & ~1) >>> 0;
    const blk = v.u32(e + 4) & 0x0fffffff;
    if (blk >= d.numBlocks) {
      ctx.report("HTREE_BAD_BLOCK", { ino: d.ino, lblk: blk });
      continue;
    }
    if (hash < prev) ctx.report("HTREE_HASH_ORDER", { ino: d.ino, lblk });
    const b = d.blocks[blk]!;
    if ((b.flags & FLAG_REFERENCED) !== 0) b.flags |= FLAG_DUP_REF;
    else {
      b.flags |= FLAG_REFERENCED;
      b.parent = lblk;
    }
    if (hash < minHash) minHash = hash;
    if (hash > maxHash) maxHash = hash;
    b.nodeMinHash = hash;
    if (k + 1 < count && e + 12 <= bs) b.nodeMaxHash = (v.u32(e + 8) & ~1) >>> 0;
    else {
      b.nodeMaxHash = 0xfffffffe;
      b.flags |= FLAG_LAST;
    }
    if (k === 0) b.flags |= FLAG_FIRST;
  }
  const self = d.blocks[lblk]!;
  self.minHash = minHash;
  self.maxHash = maxHash;
}

/** The per-directory htree verdict at the end of pass 2. */
function verifyHtree(ctx: CheckContext, d: DxDir): void {
  const root = d.blocks[0];
  if (root === undefined) return;
  root.flags |= FLAG_REFERENCED;
  let bad = 0;
  for (let b = 0; b < d.numBlocks; b++) {
    const x = d.blocks[b]!;
    if ((x.flags & FLAG_FIRST) === 0 && x.minHash < x.nodeMinHash) {
      ctx.report("HTREE_MIN_HASH", { ino: d.ino, lblk: b });
      bad++;
    }
    if (x.type === LEAF) {
      let depth = 0;
      let cur = b;
      for (let hops = 0; cur !== 0 && hops < 8; hops++) {
        cur = d.blocks[cur]!.parent;
        depth++;
      }
      if (depth !== d.depth) {
        ctx.report("HTREE_BAD_DEPTH", { ino: d.ino, lblk: b, num: d.depth });
        bad++;
      }
    }
    if (b !== 0 && x.maxHash > x.nodeMaxHash) {
      ctx.report("HTREE_MAX_HASH", { ino: d.ino, lblk: b });
      bad++;
    }
    if ((x.flags & FLAG_REFERENCED) === 0) {
      ctx.report("HTREE_NOT_REFERENCED", { ino: d.ino, lblk: b });
      bad++;
    } else if ((x.flags & FLAG_DUP_REF) !== 0) {
      ctx.report("HTREE_DUP_REF", { ino: d.ino, lblk: b });
      bad++;
    }
  }
  if (bad > 0) ctx.report("HTREE_INVALID", { ino: d.ino, str: `<${d.ino}>` });
}
