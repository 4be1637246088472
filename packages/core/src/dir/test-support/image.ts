/**
 * Test-only: a minimal read-only {@link DirHost} over a raw ext2/3/4 image,
 * just enough to point the directory module at images made by mke2fs
 * (superblock fields, group descriptors, inodes, extent trees of any depth,
 * indirect maps, in-inode system.data). It trusts the image: fixtures come
 * from mke2fs. The core's Filesystem replaces it in production.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { crc32cRaw } from "../../crc.js";
import type { DirHost, DirInode } from "../host.js";

const COMPAT: Record<string, number> = { dir_index: 0x20, ext_attr: 0x8, has_journal: 0x4 };
const INCOMPAT: Record<string, number> = {
  filetype: 0x2,
  extents: 0x40,
  "64bit": 0x80,
  flex_bg: 0x200,
  csum_seed: 0x2000,
  largedir: 0x4000,
  inline_data: 0x8000,
  encrypt: 0x10000,
  casefold: 0x20000,
};
const RO_COMPAT: Record<string, number> = {
  metadata_csum: 0x400,
  dir_nlink: 0x20,
  huge_file: 0x8,
};

/** The extra inode fields tests print (debugfs `ls -l` columns). */
export interface ImageInode extends DirInode {
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
}

/** A DirHost over an image file, plus physical block mapping for htree_dump comparisons. */
export class ImageHost implements DirHost {
  readonly blockSize: number;
  readonly csumSeed: number;
  readonly hashSeed: readonly number[];
  readonly defHashVersion: number;
  readonly unsignedHash: boolean;
  private readonly fd: number;
  private readonly sb: DataView;
  private readonly inodeSize: number;
  private readonly inodesPerGroup: number;
  private readonly descSize: number;
  private readonly gdtBlock: number;
  private readonly compat: number;
  private readonly incompat: number;
  private readonly roCompat: number;
  /** Blocks read so far (tests use it to show a lookup is index-guided). */
  reads = 0;

  constructor(path: string) {
    this.fd = openSync(path, "r");
    const sbBytes = this.pread(1024, 1024);
    this.sb = new DataView(sbBytes.buffer, sbBytes.byteOffset, 1024);
    const sb = this.sb;
    if (sb.getUint16(0x38, true) !== 0xef53) throw new Error("not an ext2/3/4 image");
    this.blockSize = 1024 << sb.getUint32(0x18, true);
    this.inodesPerGroup = sb.getUint32(0x28, true);
    this.inodeSize = sb.getUint32(0x4c, true) === 0 ? 128 : sb.getUint16(0x58, true);
    this.compat = sb.getUint32(0x5c, true);
    this.incompat = sb.getUint32(0x60, true);
    this.roCompat = sb.getUint32(0x64, true);
    this.descSize = this.incompat & INCOMPAT["64bit"]! ? sb.getUint16(0xfe, true) : 32;
    this.gdtBlock = sb.getUint32(0x14, true) + 1;
    const uuid = sbBytes.slice(0x68, 0x78);
    this.csumSeed =
      this.incompat & INCOMPAT.csum_seed! ? sb.getUint32(0x270, true) : crc32cRaw(0xffffffff, uuid);
    this.hashSeed = [0, 1, 2, 3].map((i) => sb.getUint32(0xec + 4 * i, true));
    this.defHashVersion = sb.getUint8(0xfc);
    this.unsignedHash = (sb.getUint32(0x160, true) & 0x2) !== 0;
  }

  close(): void {
    closeSync(this.fd);
  }

  private pread(pos: number, len: number): Uint8Array {
    const b = new Uint8Array(len);
    readSync(this.fd, b, 0, len, pos);
    return b;
  }

  private block(n: number): Uint8Array {
    this.reads++;
    return this.pread(n * this.blockSize, this.blockSize);
  }

  hasFeature(name: string): boolean {
    const bit = (t: Record<string, number>, f: number) =>
      t[name] !== undefined && (f & t[name]!) !== 0;
    return (
      bit(COMPAT, this.compat) || bit(INCOMPAT, this.incompat) || bit(RO_COMPAT, this.roCompat)
    );
  }

  private rawInode(ino: number): DataView {
    const group = Math.floor((ino - 1) / this.inodesPerGroup);
    const index = (ino - 1) % this.inodesPerGroup;
    const descOff = this.gdtBlock * this.blockSize + group * this.descSize;
    const desc = new DataView(this.pread(descOff, this.descSize).buffer);
    let table = desc.getUint32(0x8, true);
    if (this.descSize >= 64) table += desc.getUint32(0x28, true) * 2 ** 32;
    const bytes = this.pread(table * this.blockSize + index * this.inodeSize, this.inodeSize);
    return new DataView(bytes.buffer);
  }

  readInode(ino: number): ImageInode {
    const v = this.rawInode(ino);
    const iblock = new Uint8Array(v.buffer.slice(0x28, 0x28 + 60));
    const flags = v.getUint32(0x20, true);
    const extra = this.inodeSize > 128 ? v.getUint16(0x80, true) : 0;
    const bytes = new Uint8Array(v.buffer);
    const self = this;
    return {
      ino,
      mode: v.getUint16(0, true),
      size: v.getUint32(0x4, true) + v.getUint32(0x6c, true) * 2 ** 32,
      flags,
      generation: v.getUint32(0x64, true),
      linksCount: v.getUint16(0x1a, true),
      uid: v.getUint16(0x2, true) | (v.getUint16(0x78, true) << 16),
      gid: v.getUint16(0x18, true) | (v.getUint16(0x7a, true) << 16),
      mtime: v.getInt32(0x10, true),
      inlineData(): Uint8Array | null {
        if ((flags & 0x10000000) === 0) return null;
        const ea = self.ibodyXattr(bytes, extra, 7, "data") ?? new Uint8Array(0);
        const out = new Uint8Array(60 + ea.length);
        out.set(iblock);
        out.set(ea, 60);
        return out;
      },
      // Carried for the block map below.
      ...{ iblock, blocksLo: v.getUint32(0x1c, true) },
    } as ImageInode;
  }

  /** The value of an in-inode xattr (index, name), or null. */
  private ibodyXattr(
    bytes: Uint8Array,
    extra: number,
    index: number,
    name: string,
  ): Uint8Array | null {
    const start = 128 + extra;
    if (start + 4 > bytes.length) return null;
    const v = new DataView(bytes.buffer, bytes.byteOffset);
    if (v.getUint32(start, true) !== 0xea020000) return null;
    const first = start + 4;
    let off = first;
    while (off + 16 <= bytes.length && v.getUint32(off, true) !== 0) {
      const nameLen = v.getUint8(off);
      const nameIndex = v.getUint8(off + 1);
      const valueOffs = v.getUint16(off + 2, true);
      const valueSize = v.getUint32(off + 8, true);
      const n = new TextDecoder().decode(bytes.subarray(off + 16, off + 16 + nameLen));
      if (nameIndex === index && n === name) {
        return bytes.slice(first + valueOffs, first + valueOffs + valueSize);
      }
      off += (nameLen + 16 + 3) & ~3;
    }
    return null;
  }

  /** Physical block of logical block `lblk`, or null for a hole (unwritten extents count as mapped here). */
  bmap(inode: DirInode, lblk: number): { pblk: number; unwritten: boolean } | null {
    const ext = inode as unknown as { iblock: Uint8Array; flags: number };
    if (ext.flags & 0x80000) return this.extentMap(ext.iblock, lblk, 0);
    return this.indirectMap(ext.iblock, lblk);
  }

  private extentMap(
    node: Uint8Array,
    lblk: number,
    depthSeen: number,
  ): { pblk: number; unwritten: boolean } | null {
    const v = new DataView(node.buffer, node.byteOffset, node.length);
    if (v.getUint16(0, true) !== 0xf30a || depthSeen > 5) throw new Error("bad extent header");
    const entries = v.getUint16(2, true);
    const depth = v.getUint16(6, true);
    if (depth === 0) {
      for (let i = 0; i < entries; i++) {
        const o = 12 + i * 12;
        const first = v.getUint32(o, true);
        let len = v.getUint16(o + 4, true);
        const unwritten = len > 32768;
        if (unwritten) len -= 32768;
        const start = v.getUint16(o + 6, true) * 2 ** 32 + v.getUint32(o + 8, true);
        if (lblk >= first && lblk < first + len) return { pblk: start + lblk - first, unwritten };
      }
      return null;
    }
    let child = -1;
    for (let i = 0; i < entries; i++) {
      const o = 12 + i * 12;
      if (v.getUint32(o, true) <= lblk)
        child = v.getUint32(o + 4, true) + v.getUint16(o + 8, true) * 2 ** 32;
    }
    return child < 0 ? null : this.extentMap(this.block(child), lblk, depthSeen + 1);
  }

  private indirectMap(
    iblock: Uint8Array,
    lblk: number,
  ): { pblk: number; unwritten: boolean } | null {
    const per = this.blockSize / 4;
    const word = (b: Uint8Array, i: number) =>
      new DataView(b.buffer, b.byteOffset).getUint32(i * 4, true);
    const walk = (blk: number, idx: number[]): number => {
      let cur = blk;
      for (const i of idx) {
        if (cur === 0) return 0;
        cur = word(this.block(cur), i);
      }
      return cur;
    };
    let p: number;
    if (lblk < 12) p = word(iblock, lblk);
    else if (lblk < 12 + per) p = walk(word(iblock, 12), [lblk - 12]);
    else if (lblk < 12 + per + per * per) {
      const r = lblk - 12 - per;
      p = walk(word(iblock, 13), [Math.floor(r / per), r % per]);
    } else {
      const r = lblk - 12 - per - per * per;
      p = walk(word(iblock, 14), [Math.floor(r / (per * per)), Math.floor(r / per) % per, r % per]);
    }
    return p === 0 ? null : { pblk: p, unwritten: false };
  }

  readFileBlock(inode: DirInode, lblk: number): Uint8Array | null {
    const m = this.bmap(inode, lblk);
    if (m === null || m.unwritten) return null;
    return this.block(m.pblk);
  }

  readLink(inode: DirInode): string {
    const ext = inode as unknown as { iblock: Uint8Array; blocksLo: number };
    const data = inode.inlineData();
    let bytes: Uint8Array;
    if (data !== null) bytes = data.subarray(0, inode.size);
    else if (inode.size < 60 && ext.blocksLo === 0) bytes = ext.iblock.subarray(0, inode.size);
    else bytes = (this.readFileBlock(inode, 0) ?? new Uint8Array(0)).subarray(0, inode.size);
    return new TextDecoder().decode(bytes);
  }
}
