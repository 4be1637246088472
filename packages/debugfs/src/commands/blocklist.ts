/**
 * Block lists in libext2fs iteration order: the BLOCKS section of `stat`
 * for block-mapped inodes (debugfs.c dump_blocks / list_blocks_proc) and the
 * `blocks` command (print_blocks_proc).
 */
import type { BlockListEntry, Filesystem, Inode } from "@ext4/core";
import { defineCommand } from "../command.js";
import type { Shell } from "../shell/context.js";
import { oneInodeArg, readInode, wrapError } from "./common.js";

/** A block list, and the error that cut the walk short, if any. */
export interface BlockListData {
  readonly entries: readonly BlockListEntry[];
  readonly error: string | null;
}

/**
 * Every block of an inode's map (tree or indirect blocks first, then the
 * data under them). A map that cannot be read is reported through
 * `shell.fail` and gives what was read before the failure (nothing).
 */
export function blockListData(
  shell: Shell,
  fs: Filesystem,
  inode: Inode,
  who: string,
): BlockListData {
  try {
    return { entries: fs.blockList(inode), error: null };
  } catch (e) {
    const err = wrapError(who, e, `while iterating over the blocks of inode ${inode.ino}`);
    shell.fail(err.line);
    return { entries: [], error: err.message };
  }
}

const META_NAMES = ["", "IND", "DIND", "TIND"];

/**
 * dump_blocks: `BLOCKS:` then ranges `(lblk[-lblk]):pblk[-pblk]` (a range
 * grows while both numbers advance by one), `(IND):`/`(DIND):`/`(TIND):`
 * entries for indirect blocks, then `TOTAL: n` counting every block, then
 * an empty line.
 */
export function renderBlockList(d: BlockListData): string {
  const parts: string[] = [];
  let total = 0;
  let range: { lf: number; ll: number; pf: number; pl: number } | null = null;
  const finish = (): void => {
    if (range === null) return;
    parts.push(
      range.lf === range.ll
        ? `(${range.lf}):${range.pf}`
        : `(${range.lf}-${range.ll}):${range.pf}-${range.pl}`,
    );
    range = null;
  };
  for (const e of d.entries) {
    if (e.kind === "metadata") {
      total++;
      finish();
      // Extent tree blocks are listed by `stat` only for block-mapped inodes; name them like libext2fs's -1.
      parts.push(`(${META_NAMES[e.level] ?? "IND"}):${e.physical}`);
      continue;
    }
    total += e.length;
    if (range !== null && range.ll + 1 === e.logical && range.pl + 1 === e.physical) {
      range.ll = e.logical + e.length - 1;
      range.pl = e.physical + e.length - 1;
    } else {
      finish();
      range = {
        lf: e.logical,
        ll: e.logical + e.length - 1,
        pf: e.physical,
        pl: e.physical + e.length - 1,
      };
    }
  }
  finish();
  let out = `BLOCKS:\n${parts.join(", ")}`;
  if (total > 0) out += `\nTOTAL: ${total}\n`;
  return `${out}\n`;
}

/** Every block number of the map, one by one, in iteration order. */
function* blockNumbers(entries: readonly BlockListEntry[]): Generator<number> {
  for (const e of entries) {
    if (e.kind === "metadata") yield e.physical;
    else for (let i = 0; i < e.length; i++) yield e.physical + i;
  }
}

/** blocks <file>: every block of the inode, data and map blocks, in iteration order. */
export const blocks = defineCommand<{ inode: number; blocks: BlockListEntry[] }>({
  name: "blocks",
  aliases: [],
  usage: "<file>",
  help: "Dump blocks used by an inode ",
  needsFs: true,
  run(shell, argv) {
    const ino = oneInodeArg(shell, argv);
    const fs = shell.requireFs(argv[0]!);
    const inode = readInode(fs, ino, argv[0]!);
    return { inode: ino, blocks: blockListData(shell, fs, inode, argv[0]!).entries.slice() };
  },
  *render(d) {
    let line = "";
    for (const b of blockNumbers(d.blocks)) {
      line += `${b} `;
      if (line.length >= 65536) {
        yield line;
        line = "";
      }
    }
    yield `${line}\n`;
  },
});
