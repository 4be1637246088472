/**
 * Allocation bitmaps: testb, testi, find_free_block (ffb), find_free_inode
 * (ffi), as libext2fs answers them from the bitmaps it read at open.
 */
import type { Filesystem } from "@ext4/core";
import { CommandError, defineCommand, usageError } from "../command.js";
import type { Shell } from "../shell/context.js";
import { blockArgs, wrapError } from "./common.js";

/**
 * debugfs's CHECK_FS_BITMAPS: in catastrophic mode the bitmaps were never
 * read. Throws CommandError `who: Filesystem bitmaps not loaded`.
 */
export function requireBitmaps(shell: Shell, who: string): Filesystem {
  const fs = shell.requireFs(who);
  if (shell.image?.catastrophic === true) {
    throw new CommandError(who, "Filesystem bitmaps not loaded", "NO_BITMAPS");
  }
  return fs;
}

/** Whether `block` is marked in the block bitmap (blocks are checked to be inside the filesystem first). */
function blockInUse(fs: Filesystem, who: string, block: number): boolean {
  try {
    return fs.isBlockInUse(block);
  } catch (e) {
    throw wrapError(who, e, `while reading the block bitmap for block ${block}`);
  }
}

/** testb <block> [count]. */
export const testb = defineCommand<{ blocks: Array<{ block: number; inUse: boolean }> }>({
  name: "testb",
  aliases: [],
  usage: "<block> [count]",
  help: "Test a block's in-use flag",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const { block, count } = blockArgs(argv);
    const fs = requireBitmaps(shell, who);
    const total = fs.superblock.blocksCount;
    const out: Array<{ block: number; inUse: boolean }> = [];
    // The count comes from the user; the answer is one line per block, so cap what we hold.
    const n = Math.min(count, 1 << 24);
    for (let b = block; b < block + n; b++) {
      if (b >= total || b < fs.superblock.firstDataBlock) {
        shell.fail(
          `Illegal block number passed to ext2fs_test_block_bitmap #${b} for block bitmap for ${shell.image?.path ?? ""}`,
        );
        out.push({ block: b, inUse: false });
        continue;
      }
      out.push({ block: b, inUse: blockInUse(fs, who, b) });
    }
    return { blocks: out };
  },
  render(d) {
    return d.blocks
      .map((b) => `Block ${b.block} ${b.inUse ? "marked in use" : "not in use"}\n`)
      .join("");
  },
});

/** testi <file>. */
export const testi = defineCommand<{ inode: number; inUse: boolean }>({
  name: "testi",
  aliases: [],
  usage: "<file>",
  help: "Test an inode's in-use flag",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw usageError(who, `${who} <file>`);
    const fs = requireBitmaps(shell, who);
    const ino = shell.resolveInode(argv[1]!);
    try {
      return { inode: ino, inUse: fs.isInodeInUse(ino) };
    } catch (e) {
      throw wrapError(who, e, `while reading the inode bitmap for inode ${ino}`);
    }
  },
  render(d) {
    return `Inode ${d.inode} is ${d.inUse ? "marked in use" : "not in use"}\n`;
  },
});

/** Finds the first clear bit of the block bitmap in [from, to], or null (ext2fs_find_first_zero_block_bitmap2). */
export function firstFreeBlock(fs: Filesystem, from: number, to: number): number | null {
  const sb = fs.superblock;
  const ratio = sb.clusterRatio;
  let b = from;
  while (b <= to) {
    const rel = b - sb.firstDataBlock;
    const group = Math.floor(rel / sb.blocksPerGroup);
    const groupStart = sb.firstDataBlock + group * sb.blocksPerGroup;
    const groupEnd = Math.min(groupStart + sb.blocksPerGroup, sb.blocksCount) - 1;
    const bitmap = fs.readBlockBitmap(group).bitmap;
    const last = Math.min(groupEnd, to);
    for (let x = b; x <= last; x++) {
      const bit = Math.floor((x - groupStart) / ratio);
      if (bit < bitmap.length && !bitmap.get(bit)) return x;
    }
    b = last + 1;
  }
  return null;
}

/** find_free_block / ffb [count [goal]]. */
export const ffb = defineCommand<{ blocks: number[] }>({
  name: "find_free_block",
  aliases: ["ffb"],
  usage: "[count [goal]]",
  help: "Find free block(s)",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length > 3 || (argv.length === 2 && argv[1]!.startsWith("?"))) {
      throw new CommandError(who, "Usage: find_free_block [count [goal]]", "USAGE");
    }
    const fs = requireBitmaps(shell, who);
    const sb = fs.superblock;
    const count = argv.length > 1 ? cInt(argv[1]!) : 1;
    if (count === null) throw new CommandError(who, `Bad count - ${argv[1]}`, "BAD_NUMBER");
    let goal = sb.firstDataBlock;
    if (argv.length > 2) {
      const g = cInt(argv[2]!);
      // debugfs's message names argv[1] here; keep the behaviour, not the typo.
      if (g === null) throw new CommandError(who, `Bad goal - ${argv[2]}`, "BAD_NUMBER");
      goal = g;
    }
    const found: number[] = [];
    let free = goal - 1;
    let firstFree: number | null = null;
    // ffb finds without allocating, so it can return at most every free block once before wrapping.
    for (let left = Math.min(count, sb.blocksCount); left > 0; left--) {
      let g = free + 1;
      if (g <= 0 || g >= sb.blocksCount) g = sb.firstDataBlock;
      let next: number | null;
      try {
        next = firstFreeBlock(fs, g, sb.blocksCount - 1);
        if (next === null && g !== sb.firstDataBlock)
          next = firstFreeBlock(fs, sb.firstDataBlock, g - 1);
      } catch (e) {
        throw wrapError(who, e, "while reading the block bitmap");
      }
      if (next === null) {
        shell.fail("ext2fs_new_block: Could not allocate block in ext2 filesystem");
        break;
      }
      if (firstFree !== null && next === firstFree) break;
      firstFree ??= next;
      found.push(next);
      free = next;
    }
    return { blocks: found };
  },
  render(d) {
    return `Free blocks found: ${d.blocks.map((b) => `${b} `).join("")}\n`;
  },
});

/** strtol(s, &end, 0) requiring the whole string; negative values allowed. */
function cInt(s: string): number | null {
  const m = /^\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (m === null) return null;
  const d = m[2]!;
  const v = /^0[xX]/.test(d)
    ? Number.parseInt(d.slice(2), 16)
    : d.length > 1 && d.startsWith("0")
      ? Number.parseInt(d.slice(1), 8)
      : Number(d);
  return m[1] === "-" ? -v : v;
}

/** find_free_inode / ffi [dir [mode]]: ext2fs_new_inode's search from the directory's group. */
export const ffi = defineCommand<{ inode: number }>({
  name: "find_free_inode",
  aliases: ["ffi"],
  usage: "[dir [mode]]",
  help: "Find free inode(s)",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length > 3 || (argv.length > 1 && argv[1]!.startsWith("?"))) {
      throw new CommandError(who, "Usage: find_free_inode [dir [mode]]", "USAGE");
    }
    const fs = requireBitmaps(shell, who);
    const sb = fs.superblock;
    let dir = shell.root;
    if (argv.length > 1) {
      const d = cInt(argv[1]!);
      if (d === null) throw new CommandError(who, `Bad dir - ${argv[1]}`, "BAD_NUMBER");
      dir = d;
    }
    if (argv.length > 2 && cInt(argv[2]!) === null) {
      throw new CommandError(who, `Bad mode - ${argv[2]}`, "BAD_NUMBER");
    }
    const ipg = sb.inodesPerGroup;
    const firstIno = sb.firstIno;
    let start = 0;
    if (dir > 0) start = Math.floor((dir - 1) / ipg) * ipg + 1;
    if (start < firstIno) start = firstIno;
    const fail = (): CommandError =>
      new CommandError(
        "ext2fs_new_inode",
        "Could not allocate inode in ext2 filesystem",
        "NO_INODE",
      );
    if (start > sb.inodesCount) throw fail();
    let i = start;
    const bitmaps = new Map<number, ReturnType<typeof fs.readInodeBitmap>["bitmap"]>();
    const inodeUsed = (x: number): boolean => {
      const g = Math.floor((x - 1) / ipg);
      let bm = bitmaps.get(g);
      if (bm === undefined) {
        bm = fs.readInodeBitmap(g).bitmap;
        bitmaps.set(g, bm);
      }
      return bm.get((x - 1) % ipg);
    };
    try {
      // Each pass covers the rest of one group; at most groupCount + 1 passes come back to start.
      for (let pass = 0; pass <= sb.groupCount + 1; pass++) {
        const inGroup = (i - 1) % ipg;
        let upto = i + (ipg - inGroup);
        if (i < start && upto >= start) upto = start - 1;
        if (upto > sb.inodesCount) upto = sb.inodesCount;
        for (let x = i; x <= upto; x++) if (!inodeUsed(x)) return { inode: x };
        i = upto + 1;
        if (i > sb.inodesCount) i = firstIno;
        if (i === start) break;
      }
    } catch (e) {
      throw wrapError(who, e, "while reading the inode bitmap");
    }
    throw fail();
  },
  render(d) {
    return `Free inode found: ${d.inode}\n`;
  },
});
