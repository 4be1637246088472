/**
 * Mapping between names, inodes and blocks: bmap, imap, icheck, ncheck,
 * filefrag.
 */
import {
  EXT4_BG_INODE_UNINIT,
  type Filesystem,
  type Inode,
  isExt4Error,
  iterateDirectory,
} from "@ext4/core";
import { CommandError, defineCommand, usageError } from "../command.js";
import { byteString, hex, padStart } from "../render/format.js";
import type { Shell } from "../shell/context.js";
import { getopt, hasOpt, parseCNumber, UsageError } from "../shell/parse.js";
import {
  fileTypeOfMode,
  getPathname,
  nameString,
  parseBlock,
  readInode,
  S_IFDIR,
  S_IFMT,
  wrapError,
} from "./common.js";
import { intLog10 } from "./extents.js";

/** bmap <file> logical_blk: the physical block, 0 for a hole. */
export const bmap = defineCommand<{
  inode: number;
  logical: number;
  physical: number;
  unwritten: boolean;
}>({
  name: "bmap",
  aliases: [],
  usage: "<file> logical_blk",
  help: "Calculate the logical->physical block mapping for an inode",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError(
      "",
      "Usage: bmap [-a] <file> logical_blk [physical_blk]",
      "USAGE",
    );
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), {});
    } catch (e) {
      if (e instanceof UsageError) throw usage;
      throw e;
    }
    // -a and a physical block would allocate or set: a read-only inspector does neither.
    if (r.operands.length !== 2) throw usage;
    const fs = shell.requireFs(who);
    const ino = shell.resolveInode(r.operands[0]!);
    const lblk = parseBlock(who, r.operands[1]!, "logical block");
    const inode = readInode(fs, ino, who);
    try {
      const [run] = fs.mapBlocks(inode, lblk, 1);
      if (run === undefined || run.kind === "hole") {
        return { inode: ino, logical: lblk, physical: 0, unwritten: false };
      }
      return { inode: ino, logical: lblk, physical: run.physical, unwritten: run.unwritten };
    } catch (e) {
      throw wrapError(who, e, `while mapping logical block ${lblk}`);
    }
  },
  render(d) {
    return `${d.physical}${d.unwritten ? " (uninit)" : ""}\n`;
  },
});

/** imap <file>: where the inode lives in the inode table. */
export const imap = defineCommand<{ inode: number; group: number; block: number; offset: number }>({
  name: "imap",
  aliases: [],
  usage: "<file>",
  help: "Calculate the location of an inode",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 2) throw usageError(who, `${who} <file>`);
    const fs = shell.requireFs(who);
    const ino = shell.resolveInode(argv[1]!);
    const sb = fs.superblock;
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const gd = fs.groups[group];
    if (gd === undefined || gd.inodeTable === 0) {
      throw new CommandError(who, `Inode table for group ${group} is missing`, "NO_INODE_TABLE");
    }
    const loc = fs.inodeLocation(ino);
    return { inode: ino, group, block: loc.block, offset: loc.offset };
  },
  render(d) {
    return `Inode ${d.inode} is part of block group ${d.group}\n\tlocated at block ${d.block}, offset 0x${hex(d.offset, 4)}\n`;
  },
});

/**
 * Every inode an inode scan (ext2fs_get_next_inode) returns with content:
 * groups marked INODE_UNINIT and the never-used tail of each table
 * (bg_itable_unused) read as zeros there, so they are skipped. An inode
 * that cannot be read is reported through `onError` and skipped.
 */
export function* scanInodes(
  fs: Filesystem,
  onError: (ino: number, e: unknown) => void,
): Generator<Inode> {
  const sb = fs.superblock;
  const lazy = sb.features.groupDescCsum;
  for (let g = 0; g < sb.groupCount; g++) {
    const gd = fs.groups[g];
    if (gd === undefined) continue;
    if (lazy && (gd.flags & EXT4_BG_INODE_UNINIT) !== 0) continue;
    const used = lazy ? sb.inodesPerGroup - gd.itableUnused : sb.inodesPerGroup;
    for (let i = 0; i < used; i++) {
      const ino = g * sb.inodesPerGroup + i + 1;
      if (ino > sb.inodesCount) return;
      let inode: Inode;
      try {
        inode = fs.readInode(ino);
      } catch (e) {
        if (!isExt4Error(e)) throw e;
        onError(ino, e);
        continue;
      }
      yield inode;
    }
  }
}

/** icheck <block>...: the inode owning each block. */
export const icheck = defineCommand<{ blocks: Array<{ block: number; inode: number | null }> }>({
  name: "icheck",
  aliases: [],
  usage: "<block number> ...",
  help: "Do block->inode translation",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length < 2) throw usageError(who, "icheck <block number> ...");
    const fs = shell.requireFs(who);
    const wanted = argv.slice(1).map((a) => parseBlock(who, a));
    const owner: Array<number | null> = wanted.map(() => null);
    let left = wanted.length;
    const claim = (block: number, length: number, ino: number): void => {
      for (let i = 0; i < wanted.length; i++) {
        const w = wanted[i]!;
        if (owner[i] === null && w >= block && w < block + length) {
          owner[i] = ino;
          left--;
        }
      }
    };
    const onError = (ino: number, e: unknown): void => {
      shell.fail(wrapError("icheck", e, `while reading inode ${ino}`).line);
    };
    for (const inode of scanInodes(fs, onError)) {
      if (left === 0) break;
      if (inode.linksCount === 0) continue;
      if (inode.fileAcl !== 0) claim(inode.fileAcl, 1, inode.ino);
      if (left === 0) break;
      if (inode.dtime !== 0) continue;
      let list: ReturnType<Filesystem["blockList"]>;
      try {
        list = fs.blockList(inode);
      } catch (e) {
        shell.fail(wrapError("icheck", e, "while calling ext2fs_block_iterate").line);
        continue;
      }
      for (const e of list) {
        if (e.kind === "metadata") claim(e.physical, 1, inode.ino);
        else claim(e.physical, e.length, inode.ino);
      }
    }
    return { blocks: wanted.map((block, i) => ({ block, inode: owner[i] ?? null })) };
  },
  render(d) {
    let out = "Block\tInode number\n";
    for (const b of d.blocks) {
      out += b.inode === null ? `${b.block}\t<block not found>\n` : `${b.block}\t${b.inode}\n`;
    }
    return out;
  },
});

/** One name found by ncheck. */
export interface NcheckHit {
  readonly inode: number;
  /** The directory holding the entry. */
  readonly directory: number;
  /** The directory's path (ext2fs_get_pathname), or null if it could not be computed. */
  readonly parent: string | null;
  /** The entry name (byte string). */
  readonly name: string;
  /** With -c: the entry's file type disagrees with the inode's mode. */
  readonly badFileType: boolean;
}

/** ncheck [-c] <inode>...: the names of inodes, by scanning every directory. */
export const ncheck = defineCommand<{ hits: NcheckHit[] }>({
  name: "ncheck",
  aliases: [],
  usage: "[-c] <inode number> ...",
  help: "Do inode->name translation",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { c: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw usageError(who, "ncheck [-c] <inode number> ...");
      throw e;
    }
    if (r.operands.length < 1) throw usageError(who, "ncheck [-c] <inode number> ...");
    const fs = shell.requireFs(who);
    const checkType = hasOpt(r, "c");
    const wanted = new Set<number>();
    for (const a of r.operands) {
      const n = parseCNumber(a);
      if (n === null || n < 1 || n > fs.superblock.inodesCount) {
        throw new CommandError(who, `Invalid inode number - '${a}'`, "BAD_INODE");
      }
      wanted.add(n);
    }
    const hits: NcheckHit[] = [];
    const onError = (ino: number, e: unknown): void => {
      shell.fail(wrapError("ncheck", e, `while reading inode ${ino}`).line);
    };
    for (const dir of scanInodes(fs, onError)) {
      if (dir.linksCount === 0 || dir.dtime !== 0 || (dir.mode & S_IFMT) !== S_IFDIR) continue;
      let parent: string | null | undefined;
      let position = 0;
      try {
        for (const e of iterateDirectory(fs, dir)) {
          position++;
          // ncheck_proc skips the first two entries ("." and "..").
          if (position <= 2 || !wanted.has(e.ino)) continue;
          if (parent === undefined) {
            try {
              parent = getPathname(fs, dir.ino);
            } catch (err) {
              shell.fail(
                wrapError("ncheck", err, `while calling ext2fs_get_pathname for inode #${dir.ino}`)
                  .line,
              );
              parent = null;
            }
          }
          let badFileType = false;
          if (checkType && e.fileTypeRaw !== 0) {
            try {
              badFileType = e.fileTypeRaw !== fileTypeOfMode(fs.readInode(e.ino).mode);
            } catch (err) {
              shell.fail(wrapError("ncheck", err, `while reading inode ${e.ino}`).line);
            }
          }
          hits.push({
            inode: e.ino,
            directory: dir.ino,
            parent,
            name: nameString(e.name),
            badFileType,
          });
        }
      } catch (e) {
        shell.fail(wrapError("ncheck", e, "while calling ext2_dir_iterate").line);
      }
    }
    return { hits };
  },
  render(d) {
    let out = "Inode\tPathname\n";
    for (const h of d.hits) {
      out +=
        h.parent !== null
          ? `${h.inode}\t${h.parent}/${h.name}`
          : `${h.inode}\t<${h.directory}>/${h.name}`;
      if (h.badFileType) out += "  <--- BAD FILETYPE";
      out += "\n";
    }
    return out;
  },
});

/** One line of a verbose filefrag report. */
export interface FragExtent {
  readonly logical: number;
  readonly physical: number;
  /** The physical block the previous extent would have continued to, when logically contiguous. */
  readonly expected: number | null;
  readonly length: number;
}

/** filefrag's report on one inode. */
export interface FragReport {
  readonly name: string;
  readonly inode: number;
  readonly isDir: boolean;
  readonly blocks: number;
  readonly size: number;
  readonly logicalWidth: number;
  readonly extents: readonly FragExtent[];
}

/** The data of `filefrag`. */
export interface FilefragData {
  readonly verbose: boolean;
  readonly physicalWidth: number;
  readonly reports: readonly FragReport[];
}

function fragReport(shell: Shell, fs: Filesystem, inode: Inode, name: string): FragReport {
  const bs = fs.blockSize;
  const extents: FragExtent[] = [];
  let cur: { logical: number; physical: number; length: number; expected: number | null } | null =
    null;
  try {
    for (const e of fs.blockList(inode)) {
      if (e.kind === "metadata") continue;
      // filefrag_blocks_proc sees blocks one by one; a run is blocks that continue both numbers.
      if (
        cur !== null &&
        e.logical === cur.logical + cur.length &&
        e.physical === cur.physical + cur.length
      ) {
        cur.length += e.length;
        continue;
      }
      if (cur !== null) extents.push(cur);
      const expected: number | null =
        cur !== null && e.logical === cur.logical + cur.length ? cur.physical + cur.length : null;
      cur = { logical: e.logical, physical: e.physical, length: e.length, expected };
    }
  } catch (e) {
    shell.fail(wrapError("ext2fs_block_iterate3", e).line);
  }
  if (cur !== null) extents.push(cur);
  // ext2fs_inode_i_blocks is in 512-byte units unless huge_file counts fs blocks.
  const hugeUnits = fs.superblock.features.has("huge_file") && inode.fields.blocksUnitIsFsBlock;
  const blocks = hugeUnits ? inode.fields.blocksRaw : Math.floor(inode.blocks512 / (bs / 512));
  return {
    name,
    inode: inode.ino,
    isDir: inode.isDirectory(),
    blocks,
    size: inode.size,
    logicalWidth: Math.max(7, intLog10(Math.ceil(inode.size / bs)) + 1),
    extents,
  };
}

/** filefrag [-dvr] [file]: how many contiguous pieces files are in. */
export const filefrag = defineCommand<FilefragData>({
  name: "filefrag",
  aliases: [],
  usage: "[-dvr] file",
  help: "Report fragmentation information for an inode",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError("", "Usage: filefrag [-dvr] file", "USAGE");
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { d: "flag", v: "flag", r: "flag" });
    } catch (e) {
      if (e instanceof UsageError) throw usage;
      throw e;
    }
    if (r.operands.length > 1) throw usage;
    const fs = shell.requireFs(who);
    const spec = r.operands[0];
    const ino = spec === undefined ? shell.cwd : shell.resolveInode(spec);
    const top = readInode(fs, ino, who);
    const reports: FragReport[] = [];
    const data = {
      verbose: hasOpt(r, "v"),
      physicalWidth: Math.max(8, intLog10(fs.superblock.blocksCount) + 1),
      reports,
    };
    const topName = spec === undefined ? "." : byteString(spec);
    if (!top.isDirectory() || hasOpt(r, "d")) {
      reports.push(fragReport(shell, fs, top, topName));
      return data;
    }
    // dir_iterate: a breadth-first walk, subdirectories queued when -r.
    const queue: Array<{ ino: number; name: string }> = [{ ino, name: topName }];
    const seen = new Set<number>([ino]);
    while (queue.length > 0) {
      const d = queue.shift()!;
      try {
        for (const e of iterateDirectory(fs, fs.readInode(d.ino))) {
          const name = nameString(e.name);
          if (name === "." || name === "..") continue;
          const path = `${d.name}/${name}`;
          let inode: Inode;
          try {
            inode = fs.readInode(e.ino);
          } catch (err) {
            shell.fail(wrapError(path, err, `while reading inode ${e.ino}`).line);
            continue;
          }
          reports.push(fragReport(shell, fs, inode, path));
          // A directory reached twice (a corrupt image) is reported but not walked again.
          if (hasOpt(r, "r") && inode.isDirectory() && !seen.has(e.ino)) {
            seen.add(e.ino);
            queue.push({ ino: e.ino, name: path });
          }
        }
      } catch (err) {
        shell.fail(wrapError("ext2fs_dir_iterate2", err).line);
      }
    }
    return data;
  },
  render(d) {
    let out = "";
    const pw = d.physicalWidth;
    for (const rep of d.reports) {
      const lw = rep.logicalWidth;
      if (d.verbose) {
        out += `\n${rep.name} has ${rep.blocks} block(s), i_size is ${rep.size}\n`;
        out += `${padStart("ext", 4)} ${padStart("logical", lw)} ${padStart("physical", pw)} ${padStart("expected", pw)} ${padStart("length", lw)}\n`;
        rep.extents.forEach((x, i) => {
          out += `${padStart(i, 4)} ${padStart(x.logical, lw)} ${padStart(x.physical, pw)} ${padStart(x.expected ?? "", pw)} ${padStart(x.length, lw)}\n`;
        });
      }
      out += `${rep.name}: ${rep.extents.length} contiguous extents${rep.isDir ? " (dir)" : ""}\n`;
    }
    return `${out}\n`;
  },
});
