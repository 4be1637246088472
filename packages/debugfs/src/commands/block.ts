/**
 * Raw blocks and free space: block_dump (debugfs/zap.c) and freefrag
 * (misc/e2freefrag.c).
 */
import { EXT4_XATTR_MAGIC, viewOf, XATTR_ENTRY, XATTR_HEADER } from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import { byteHexdump, hex, padStart } from "../render/format.js";
import { getopt, hasOpt, optValue, UsageError } from "../shell/parse.js";
import { parseBlock, readInode, wrapError } from "./common.js";

/** The data of block_dump: the block's number and bytes, and whether to decode it as an xattr block. */
export interface BlockDumpData {
  readonly block: number;
  readonly bytes: Uint8Array;
  readonly xattr: boolean;
}

/** block_xattr_dump (debugfs/xattrs.c): an xattr block's header and raw entries. */
function blockXattrDump(buf: Uint8Array): string {
  const v = viewOf(buf);
  const h = (name: Parameters<typeof XATTR_HEADER.get>[1]): number => XATTR_HEADER.get(v, name);
  const magic = h("h_magic");
  let out = `magic = ${hex(magic, 8)}, length = ${buf.length}\n`;
  if (magic !== EXT4_XATTR_MAGIC) return out;
  out += `refcount = ${h("h_refcount")}, blocks = ${h("h_blocks")}\n`;
  out += `hash = ${hex(h("h_hash"), 8)}, checksum = ${hex(h("h_checksum"), 8)}\n`;
  const reserved = viewOf(XATTR_HEADER.bytesOf(v, "h_reserved"));
  out += `reserved: ${hex(reserved.u32(0), 8)} ${hex(reserved.u32(4), 8)} ${hex(reserved.u32(8), 8)}\n\n`;
  let off = XATTR_HEADER.size;
  const len = buf.length;
  const oct = (n: number): string => n.toString(8).padStart(4, "0");
  // Each step advances by at least the 16-byte entry header: the loop ends within len/16 steps.
  while (off < len) {
    if (off + 2 <= len && v.u16(off) === 0) {
      out += `last entry found at offset ${off} (${oct(off)})\n`;
      break;
    }
    if (off + XATTR_ENTRY.size >= len) {
      out += `xattr buffer overrun at ${off} (len = ${len})\n`;
      break;
    }
    const e = v.sub(off, XATTR_ENTRY.size);
    const nameLen = XATTR_ENTRY.get(e, "e_name_len");
    const valueOffs = XATTR_ENTRY.get(e, "e_value_offs");
    const valueInum = XATTR_ENTRY.get(e, "e_value_inum");
    const valueSize = XATTR_ENTRY.get(e, "e_value_size");
    out += `offset = ${off} (${oct(off)}), hash = ${XATTR_ENTRY.get(e, "e_hash")}, name_len = ${nameLen}, name_index = ${XATTR_ENTRY.get(e, "e_name_index")}\n`;
    out += `value_offset = ${valueOffs} (${oct(valueOffs)}), value_inum = ${valueInum}, value_size = ${valueSize}\n`;
    off += XATTR_ENTRY.size;
    out += "name = ";
    out += off + nameLen >= len ? "<runs off end>" : safePrint(buf.subarray(off, off + nameLen));
    out += "\n";
    if (valueSize !== 0) {
      out += "value = ";
      if (valueInum !== 0) out += `<ino ${valueInum}>`;
      else if (valueOffs >= len || valueOffs + valueSize > len) out += "<runs off end>";
      else {
        const value = buf.subarray(valueOffs, valueOffs + valueSize);
        if (mostlyPrintable(value)) out += safePrint(value);
        else out += `<hexdump>\n${byteHexdump(value)}`;
      }
      out += "\n";
    }
    out += "\n";
    off += (nameLen + 3) & ~3;
  }
  return out;
}

/** is_mostly_printable: at most three unprintable bytes. */
function mostlyPrintable(b: Uint8Array): boolean {
  let np = 0;
  for (const c of b) {
    if (!(c >= 0x20 && c < 0x7f) && ++np > 3) return false;
  }
  return true;
}

/** safe_print: M- and ^ notation, as `ls` prints names. */
function safePrint(b: Uint8Array): string {
  let s = "";
  for (let ch of b) {
    if (ch > 128) {
      s += "M-";
      ch -= 128;
    }
    if (ch < 32 || ch === 0x7f) {
      s += "^";
      ch ^= 0x40;
    }
    s += String.fromCharCode(ch);
  }
  return s;
}

/** block_dump / bdump / bd [-x] [-f file] block. */
export const blockDump = defineCommand<BlockDumpData>({
  name: "block_dump",
  aliases: ["bdump", "bd"],
  usage: "[-x] [-f inode] block_num",
  help: "Dump contents of a block",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError("", "Usage: block_dump [-x] [-f inode] block_num", "USAGE");
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { f: "value", x: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw usage;
      throw e;
    }
    if (r.operands.length !== 1) throw usage;
    const fs = shell.requireFs(who);
    let block = parseBlock(who, r.operands[0]!, "block");
    const file = optValue(r, "f");
    if (file !== undefined) {
      const ino = shell.resolveInode(file);
      const inode = readInode(fs, ino, who);
      try {
        const [run] = fs.mapBlocks(inode, block, 1);
        // ext2fs_bmap2 answers 0 for a hole, and debugfs then dumps block 0.
        block = run === undefined || run.kind === "hole" ? 0 : run.physical;
      } catch (e) {
        throw wrapError(who, e, `while mapping logical block ${block}`);
      }
    }
    try {
      return { block, bytes: fs.readBlock(block).slice(), xattr: hasOpt(r, "x") };
    } catch (e) {
      throw wrapError(who, e, `while reading block ${block}`);
    }
  },
  render(d) {
    return d.xattr ? blockXattrDump(d.bytes) : byteHexdump(d.bytes);
  },
});

/** One histogram bucket of freefrag. */
export interface FreefragBucket {
  /** Lower bound of the range and its unit letter (K, M, G, ...). */
  readonly start: number;
  readonly end: number | null;
  readonly unit: string;
  readonly extents: number;
  readonly blocks: number;
}

/** The data of freefrag. */
export interface FreefragData {
  readonly device: string;
  readonly blockSize: number;
  readonly totalBlocks: number;
  readonly freeBlocks: number;
  readonly chunk: {
    readonly bytes: number;
    readonly blocks: number;
    readonly total: number;
    readonly free: number;
  } | null;
  /** Smallest, largest and average free extent in KiB. */
  readonly minKb: number;
  readonly maxKb: number;
  readonly avgKb: number;
  readonly extents: number;
  readonly histogram: readonly FreefragBucket[];
}

const MAX_HIST = 32;
const DEFAULT_CHUNKSIZE = 1024 * 1024;

const log2 = (n: number): number => {
  let l = 0;
  for (let a = Math.floor(n / 2); a > 0; a = Math.floor(a / 2)) l++;
  return l;
};

/**
 * printf("%.Nf") as glibc rounds: the exact binary value to nearest, ties to
 * even (JavaScript's toFixed rounds ties up).
 */
export function cFixed(x: number, digits: number): string {
  const s = x.toFixed(digits);
  const scaled = x * 10 ** digits;
  const floor = Math.floor(scaled);
  if (scaled - floor === 0.5 && floor % 2 === 0 && Number.isSafeInteger(floor)) {
    return (floor / 10 ** digits).toFixed(digits);
  }
  return s;
}

/** freefrag / e2freefrag [-c chunk_kb]: free space fragmentation from the block bitmap. */
export const freefrag = defineCommand<FreefragData>({
  name: "freefrag",
  aliases: ["e2freefrag"],
  usage: "[-c chunksize in kb]",
  help: "Report free space fragmentation",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError(
      "",
      `usage: ${who} [-c chunksize in kb] [-h] device_name`,
      "USAGE",
    );
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { c: "value", h: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw usage;
      throw e;
    }
    if (hasOpt(r, "h")) throw usage;
    // e2freefrag reads the block bitmap itself, so it works in catastrophic mode too.
    const fs = shell.requireFs(who);
    const sb = fs.superblock;
    let chunkBytes = 0;
    const c = optValue(r, "c");
    if (c !== undefined) {
      const n = parseBlock(who, c, "chunk size");
      if ((n & (n - 1)) !== 0 || n === 0) {
        throw new CommandError(who, "chunk size must be a power of 2.", "USAGE");
      }
      chunkBytes = n * 1024;
      if (chunkBytes < sb.blockSize) {
        throw new CommandError(
          who,
          "chunksize must be greater than or equal to filesystem blocksize.",
          "USAGE",
        );
      }
    }
    const bsBits = log2(sb.blockSize);
    const chunkBits = log2(chunkBytes !== 0 ? chunkBytes : DEFAULT_CHUNKSIZE);
    const blksInChunk = (chunkBytes !== 0 ? chunkBytes : DEFAULT_CHUNKSIZE) / sb.blockSize;
    const total = sb.blocksCount;
    const chunks = Math.floor((total + blksInChunk) / 2 ** (chunkBits - bsBits));
    const fc = new Array<number>(MAX_HIST).fill(0);
    const fb = new Array<number>(MAX_HIST).fill(0);
    let min = Number.POSITIVE_INFINITY;
    let max = 0;
    let sum = 0;
    let real = 0;
    let freeChunks = 0;
    const update = (size: number): void => {
      const idx = Math.min(log2(size) + 1, MAX_HIST - 1);
      fc[idx]!++;
      fb[idx]! += size;
      if (size > max) max = size;
      if (size < min) min = size;
      sum += size;
      real++;
    };
    // The group bitmaps, read once each as the scan reaches them.
    let bitmapGroup = -1;
    let bitmap: ReturnType<typeof fs.readBlockBitmap>["bitmap"] | null = null;
    const used = (b: number): boolean => {
      if (b < sb.firstDataBlock) return true;
      const rel = b - sb.firstDataBlock;
      const g = Math.floor(rel / sb.blocksPerGroup);
      if (g !== bitmapGroup) {
        bitmap = fs.readBlockBitmap(g).bitmap;
        bitmapGroup = g;
      }
      const bit = Math.floor((rel % sb.blocksPerGroup) / sb.clusterRatio);
      return bitmap === null || bit >= bitmap.length || bitmap.get(bit);
    };
    let last = 0;
    let start = 0;
    try {
      for (let n = 0; n < chunks; n++) {
        const num = start + blksInChunk > total ? total - start : blksInChunk;
        let chunkFree = 0;
        for (let blk = 0; blk < num; blk++, start++) {
          // e2freefrag starts the first chunk at s_first_data_block (and counts it short).
          if (n === 0 && blk === 0) {
            blk = sb.firstDataBlock;
            start = blk;
          }
          const u = used(start);
          if (!u) {
            last++;
            chunkFree++;
          }
          if (u && last !== 0) {
            update(last);
            last = 0;
          }
        }
        if (chunkFree === blksInChunk) freeChunks++;
      }
      if (last !== 0) update(last);
    } catch (e) {
      throw wrapError(shell.image?.path ?? who, e, "while reading block bitmap");
    }
    const scale = sb.blockSize / 1024;
    const histogram: FreefragBucket[] = [];
    const units = "KMGTPEZY";
    let unitIdx = 0;
    let unitsBits = 10;
    let s = 0;
    for (let i = 0; i < MAX_HIST; i++) {
      const shift = i + bsBits - unitsBits;
      const end = shift >= 0 ? 2 ** shift : 0;
      if (fc[i] !== 0) {
        histogram.push({
          start: s,
          end: i === MAX_HIST - 1 ? null : end,
          unit: units[unitIdx] ?? "?",
          extents: fc[i]!,
          blocks: fb[i]!,
        });
      }
      s = end;
      if (s === 1024) {
        s = 1;
        unitsBits += 10;
        unitIdx++;
      }
    }
    return {
      device: shell.image?.path ?? "",
      blockSize: sb.blockSize,
      totalBlocks: total,
      freeBlocks: sb.freeBlocksCount,
      chunk:
        chunkBytes !== 0
          ? {
              bytes: chunkBytes,
              blocks: blksInChunk,
              total: Math.floor((total + blksInChunk) / 2 ** (chunkBits - bsBits)),
              free: freeChunks,
            }
          : null,
      minKb: real !== 0 ? min * scale : 0,
      maxKb: real !== 0 ? max * scale : 0,
      avgKb: real !== 0 ? Math.floor(sum / real) * scale : 0,
      extents: real,
      histogram,
    };
  },
  render(d) {
    let out = `Device: ${d.device}\nBlocksize: ${d.blockSize} bytes\n`;
    out += `Total blocks: ${d.totalBlocks}\nFree blocks: ${d.freeBlocks} (${cFixed((d.freeBlocks * 100) / d.totalBlocks, 1)}%)\n`;
    if (d.chunk !== null) {
      out += `\nChunksize: ${d.chunk.bytes} bytes (${d.chunk.blocks} blocks)\n`;
      out += `Total chunks: ${d.chunk.total}\nFree chunks: ${d.chunk.free} (${cFixed((d.chunk.free * 100) / d.chunk.total, 1)}%)\n`;
    }
    out += `\nMin. free extent: ${d.minKb} KB \nMax. free extent: ${d.maxKb} KB\nAvg. free extent: ${d.avgKb} KB\n`;
    out += `Num. free extent: ${d.extents}\n`;
    out += "\nHISTOGRAM OF FREE EXTENT SIZES:\n";
    out += `Extent Size Range :  ${padStart("Free extents", 12)}  ${padStart("Free Blocks", 12)}  ${padStart("Percent", 7)}\n`;
    for (const b of d.histogram) {
      const endStr = b.end === null ? "max " : `${padStart(b.end, 5)}${b.unit}-`;
      out += `${padStart(b.start, 5)}${b.unit}...${padStart(endStr, 7)}  :  ${padStart(b.extents, 12)}  ${padStart(b.blocks, 12)}  ${padStart(cFixed((b.blocks * 100) / d.freeBlocks, 2), 6)}%\n`;
    }
    return out;
  },
});
