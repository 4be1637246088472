/**
 * Extent trees as debugfs shows them: the compact EXTENTS list of `stat`
 * and the table of `dump_extents` / `ex` (debugfs.c dump_extents).
 */
import { type ExtentRow, extentRows, type Filesystem, type Inode } from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import { padStart } from "../render/format.js";
import type { Shell } from "../shell/context.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import { readInode, wrapError } from "./common.js";

/** An extent listing: the rows, and the error that cut the walk short, if any. */
export interface ExtentListData {
  readonly rows: readonly ExtentRow[];
  readonly error: string | null;
}

/**
 * The extent rows of an extent-mapped inode. A tree that cannot be read is
 * reported through `shell.fail` and gives no rows (debugfs stops at the
 * first error the same way).
 */
export function extentListData(
  shell: Shell,
  fs: Filesystem,
  inode: Inode,
  who: string,
): ExtentListData {
  try {
    const tree = fs.extentTree(inode);
    return { rows: tree === null ? [] : extentRows(tree, inode.size, fs.blockSize), error: null };
  } catch (e) {
    const err = wrapError(who, e, `while reading the extent tree of inode ${inode.ino}`);
    shell.fail(err.line);
    return { rows: [], error: err.message };
  }
}

/** The EXTENTS list `stat` prints (leaf and index entries, no table). */
export function renderExtentList(d: ExtentListData): string {
  if (d.error !== null) return "";
  const parts: string[] = [];
  for (const r of d.rows) {
    if (!r.leaf) {
      parts.push(`(ETB${r.level}):${r.physical}`);
      continue;
    }
    if (r.length === 0) continue;
    const u = r.unwritten ? "[u]" : "";
    parts.push(
      r.length === 1
        ? `(${r.logical}${u}):${r.physical}`
        : `(${r.logical}-${r.logical + r.length - 1}${u}):${r.physical}-${r.physical + r.length - 1}`,
    );
  }
  return `EXTENTS:\n${parts.join(", ")}${parts.length > 0 ? "\n" : ""}`;
}

/** int_log10 of debugfs.c: the number of decimal digits minus one. */
export function intLog10(n: number): number {
  let l = 0;
  for (let a = Math.floor(n / 10); a > 0; a = Math.floor(a / 10)) l++;
  return l;
}

/** Data of `dump_extents`. */
export interface DumpExtentsData {
  readonly inode: number;
  readonly logicalWidth: number;
  readonly physicalWidth: number;
  readonly showLeaves: boolean;
  readonly showNodes: boolean;
  readonly rows: readonly ExtentRow[];
}

/** dump_extents / extents / ex [-n] [-l] <file>: the extent tree as a table. */
export const dumpExtents = defineCommand<DumpExtentsData>({
  name: "dump_extents",
  aliases: ["extents", "ex"],
  usage: "[-n] [-l] file",
  help: "Dump extents information ",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { n: "flag", l: "flag" });
    } catch (e) {
      if (e instanceof UsageError)
        throw new CommandError("", "Usage: dump_extents [-n] [-l] file", "USAGE");
      throw e;
    }
    if (r.operands.length !== 1) {
      throw new CommandError("", "Usage: dump_extents [-n] [-l] file", "USAGE");
    }
    let showNodes = hasOpt(r, "n");
    let showLeaves = hasOpt(r, "l");
    if (!showNodes && !showLeaves) showNodes = showLeaves = true;
    const fs = shell.requireFs(who);
    const spec = r.operands[0]!;
    const ino = shell.resolveInode(spec);
    const inode = readInode(fs, ino, who);
    if (!inode.usesExtents()) {
      throw new CommandError(spec, "does not uses extent block maps", "NO_EXTENTS");
    }
    const logicalWidth = Math.max(5, intLog10(Math.ceil(inode.size / fs.blockSize)) + 1);
    const physicalWidth = Math.max(5, intLog10(fs.superblock.blocksCount) + 1);
    let rows: ExtentRow[];
    try {
      const tree = fs.extentTree(inode);
      rows = tree === null ? [] : extentRows(tree, inode.size, fs.blockSize);
    } catch (e) {
      throw wrapError(who, e, `while reading the extent tree of inode ${ino}`);
    }
    return { inode: ino, logicalWidth, physicalWidth, showLeaves, showNodes, rows };
  },
  render(d) {
    const lw = d.logicalWidth;
    const pw = d.physicalWidth;
    let out = `Level Entries ${padStart("Logical", lw * 2 + 3)} ${padStart("Physical", pw * 2 + 3)} Length Flags\n`;
    for (const r of d.rows) {
      if (r.leaf ? !d.showLeaves : !d.showNodes) continue;
      const head = `${padStart(r.level, 2)}/${padStart(r.maxDepth, 2)} ${padStart(r.entry, 3)}/${padStart(r.entries, 3)} ${padStart(r.logical, lw)} - ${padStart(r.logical + ((r.length - 1) >>> 0), lw)} `;
      if (!r.leaf) {
        out += `${head}${padStart(r.physical, pw)}${" ".repeat(pw + 3)} ${padStart(r.length, 6)}\n`;
      } else {
        out += `${head}${padStart(r.physical, pw)} - ${padStart(r.physical + ((r.length - 1) >>> 0), pw)} ${padStart(r.length, 6)} ${r.unwritten ? "Uninit" : ""}\n`;
      }
    }
    return out;
  },
});
