/**
 * Hashed directories: htree_dump (debugfs/htree.c), dx_hash, dirsearch.
 */
import {
  dirCsumSeed,
  dxCsum,
  dxEntryStruct,
  dxHash,
  dxTailStruct,
  type Filesystem,
  type HtreeChild,
  type HtreeIndexNode,
  htreeInfo,
  type Inode,
  InodeFlags,
  lookupEntry,
  viewOf,
} from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import { byteString, hex } from "../render/format.js";
import type { Shell } from "../shell/context.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import { nameString, oneInodeArg, readInode, S_IFDIR, S_IFMT, wrapError } from "./common.js";
import { hashByName } from "./features.js";

/** A record of a leaf block as htree_dump prints it. */
export interface HtreeRecord {
  readonly inode: number;
  readonly hash: number;
  readonly minorHash: number;
  readonly recLen: number;
  /** The name up to its first NUL, as a byte string. */
  readonly name: string;
}

/** A leaf block of the dump. */
export interface HtreeLeafData {
  readonly kind: "leaf";
  readonly lblk: number;
  readonly pblk: number;
  /** Null when the block could not be read (its checksum fails); the reason went to stderr. */
  readonly records: readonly HtreeRecord[] | null;
  /** det_checksum of the block's tail, when it has one. */
  readonly tailChecksum: number | null;
  /** The leaf has a malformed record where the listing stopped. */
  readonly corrupted: boolean;
}

/** An index block (the root or an interior node) of the dump. */
export interface HtreeNodeData {
  readonly kind: "index";
  readonly lblk: number;
  readonly count: number;
  readonly limit: number;
  /** dx_tail when one fits after `limit` entries: the stored and the computed checksum. */
  readonly checksum: { readonly stored: number; readonly computed: number } | null;
  readonly entries: ReadonlyArray<{ readonly hash: number; readonly block: number }>;
  readonly children: readonly HtreeChildData[];
}

/** A child that could not be reached (the reason went to stderr). */
export interface HtreeUnreadableData {
  readonly kind: "unreadable";
  readonly lblk: number;
  readonly error: string;
}

/** Anything an index entry leads to. */
export type HtreeChildData = HtreeNodeData | HtreeLeafData | HtreeUnreadableData;

/** The data of `htree_dump`. */
export interface HtreeData {
  readonly inode: number;
  readonly reservedZero: number;
  readonly hashVersion: number;
  readonly infoLength: number;
  readonly indirectLevels: number;
  readonly flags: number;
  readonly root: HtreeNodeData;
}

function physOf(fs: Filesystem, inode: Inode, lblk: number): number {
  const [run] = fs.mapBlocks(inode, lblk, 1);
  return run === undefined || run.kind === "hole" ? 0 : run.physical;
}

function nodeData(
  shell: Shell,
  fs: Filesystem,
  dir: Inode,
  node: HtreeIndexNode,
  isRoot: boolean,
  infoLength: number,
): HtreeNodeData {
  let checksum: HtreeNodeData["checksum"] = null;
  const bs = fs.blockSize;
  // htree_dump_int_node: a tail is there when exactly 8 bytes remain after `limit` entries.
  const header = isRoot && infoLength === 8 ? 32 : 8;
  if (fs.superblock.features.metadataCsum && bs - node.limit * 8 - header === 8) {
    const block = fs.readFileBlock(dir, node.lblk);
    if (block !== null) {
      const tail = viewOf(block).sub(
        node.countOffset + node.limit * dxEntryStruct.size,
        dxTailStruct.size,
      );
      const stored = dxTailStruct.get(tail, "dt_checksum");
      const c = dxCsum(
        dirCsumSeed(fs.csumSeed, dir.ino, dir.generation),
        block,
        bs,
        node.countOffset,
      );
      checksum = { stored, computed: c === null ? 0xffffffff : c.computed };
    }
  }
  return {
    kind: "index",
    lblk: node.lblk,
    count: node.count,
    limit: node.limit,
    checksum,
    entries: node.entries.map((e) => ({ hash: e.hash, block: e.block })),
    children: node.children.map((c) => childData(shell, fs, dir, c, infoLength)),
  };
}

function childData(
  shell: Shell,
  fs: Filesystem,
  dir: Inode,
  c: HtreeChild,
  infoLength: number,
): HtreeChildData {
  if (c.kind === "index") return nodeData(shell, fs, dir, c, false, infoLength);
  if (c.kind === "unreadable") {
    const err = wrapError("htree_dump_int_block", c.error, `while reading logical block ${c.lblk}`);
    shell.fail(err.line);
    return { kind: "unreadable", lblk: c.lblk, error: err.message };
  }
  const pblk = physOf(fs, dir, c.lblk);
  if (fs.superblock.features.metadataCsum) {
    // ext2fs_read_dir_block4 refuses a leaf whose tail checksum is missing or wrong.
    const tail = c.tail;
    if (tail === null || tail.stored !== tail.computed) {
      shell.fail(
        `htree_dump_leaf_node: Directory block checksum does not match directory block while reading block ${c.lblk} (${pblk})`,
      );
      return {
        kind: "leaf",
        lblk: c.lblk,
        pblk,
        records: null,
        tailChecksum: null,
        corrupted: false,
      };
    }
  }
  const records = c.entries.map((r) => {
    const nul = r.name.indexOf(0);
    return {
      inode: r.inode,
      hash: r.hash ?? 0,
      minorHash: r.minorHash ?? 0,
      recLen: r.recLen,
      name: nameString(nul < 0 ? r.name : r.name.subarray(0, nul)),
    };
  });
  return {
    kind: "leaf",
    lblk: c.lblk,
    pblk,
    records,
    tailChecksum: c.tail?.stored ?? null,
    corrupted: c.error !== null,
  };
}

function renderNode(n: HtreeNodeData): string {
  let out = `Number of entries (count): ${n.count}\nNumber of entries (limit): ${n.limit}\n`;
  if (n.checksum !== null) {
    out += `Checksum: 0x${hex(n.checksum.stored, 8)}`;
    if (n.checksum.stored !== n.checksum.computed)
      out += ` --- EXPECTED: 0x${hex(n.checksum.computed, 8)}`;
    out += "\n";
  }
  n.entries.forEach((e, i) => {
    out += `Entry #${i}: Hash 0x${hex(e.hash, 8)}${e.hash & 1 ? " (**)" : ""}, block ${e.block}\n`;
  });
  out += "\n";
  n.entries.forEach((e, i) => {
    out += `Entry #${i}: Hash 0x${hex(e.hash, 8)}, block ${e.block}\n`;
    const c = n.children[i];
    if (c === undefined) return;
    if (c.kind === "index") out += renderNode(c);
    else if (c.kind === "leaf") out += renderLeaf(c);
  });
  return `${out}---------------------\n`;
}

function renderLeaf(l: HtreeLeafData): string {
  let out = `Reading directory block ${l.lblk}, phys ${l.pblk}\n`;
  if (l.records === null) return out;
  let col = 0;
  const put = (tmp: string): void => {
    if (col + tmp.length > 80) {
      out += "\n";
      col = 0;
    }
    out += tmp;
    col += tmp.length;
  };
  for (const r of l.records) {
    put(`${r.inode} 0x${hex(r.hash, 8)}-${hex(r.minorHash, 8)} (${r.recLen}) ${r.name}   `);
  }
  if (l.tailChecksum !== null) put(`leaf block checksum: 0x${hex(l.tailChecksum, 8)}  `);
  if (l.corrupted) out += `Corrupted directory block (${l.lblk})!\n`;
  return `${out}\n`;
}

/** htree_dump / htree <dir>: the hash tree of an indexed directory. */
export const htree = defineCommand<HtreeData>({
  name: "htree_dump",
  aliases: ["htree"],
  usage: "<file>",
  help: "Dump a hash-indexed directory",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    const ino = oneInodeArg(shell, argv);
    const fs = shell.requireFs(who);
    const dir = readInode(fs, ino, argv[1]!);
    if ((dir.mode & S_IFMT) !== S_IFDIR)
      throw new CommandError(who, "Not a directory", "NOT_A_DIRECTORY");
    if ((dir.flags & InodeFlags.INDEX) === 0) {
      throw new CommandError(who, "Not a hash-indexed directory", "NOT_INDEXED");
    }
    let info: ReturnType<typeof htreeInfo>;
    try {
      info = htreeInfo(fs, dir);
    } catch (e) {
      throw wrapError(who, e, "Error reading root node");
    }
    const r = info.rootInfo;
    return {
      inode: ino,
      reservedZero: r.reservedZero,
      hashVersion: r.hashVersion,
      infoLength: r.infoLength,
      indirectLevels: r.indirectLevels,
      flags: r.unusedFlags,
      root: nodeData(shell, fs, dir, info.root, true, r.infoLength),
    };
  },
  render(d) {
    let out = "Root node dump:\n";
    out += `\t Reserved zero: ${d.reservedZero}\n`;
    out += `\t Hash Version: ${d.hashVersion}\n`;
    out += `\t Info length: ${d.infoLength}\n`;
    out += `\t Indirect levels: ${d.indirectLevels}\n`;
    out += `\t Flags: ${d.flags === 0 ? "0" : `0x${hex(d.flags)}`}\n`;
    return out + renderNode(d.root);
  },
});

/** Parses a UUID the way uuid_parse does into the four little-endian words ext2fs_dirhash takes. */
function parseSeed(text: string): number[] | null {
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(text)) {
    return null;
  }
  const b = Buffer.from(text.replaceAll("-", ""), "hex");
  return [0, 4, 8, 12].map((o) => b.readUInt32LE(o));
}

/** dx_hash / hash [-h alg] [-s seed] [-c] [-e encoding] name. */
export const dxHashCmd = defineCommand<{
  name: string;
  version: number;
  hash: number;
  minorHash: number;
}>({
  name: "dx_hash",
  aliases: ["hash"],
  usage: "[-h hash_alg] [-s hash_seed] [-c] [-e encoding] filename",
  help: "Calculate the directory hash of a filename",
  needsFs: false,
  run(_shell, argv) {
    const who = argv[0]!;
    const usage = new CommandError(
      who,
      "usage: dx_hash [-h hash_alg] [-s hash_seed] [-c] [-e encoding] filename",
      "USAGE",
    );
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { h: "value", s: "value", c: "flag", e: "value" });
    } catch (e) {
      if (e instanceof UsageError) throw usage;
      throw e;
    }
    if (r.operands.length !== 1) throw usage;
    let version = 0;
    let seed: number[] = [0, 0, 0, 0];
    let encoding: string | null = null;
    for (const o of r.opts) {
      if (o.opt === "h") {
        const v = hashByName(o.value);
        // e2p_string2hash failed: debugfs falls back to atoi.
        version = v >= 0 ? v : Number.parseInt(o.value, 10) || 0;
      } else if (o.opt === "s") {
        const s = parseSeed(o.value);
        if (s === null) throw new CommandError("", `Invalid UUID format: ${o.value}`, "BAD_UUID");
        seed = s;
      } else if (o.opt === "e") {
        if (o.value !== "utf8" && o.value !== "utf8-12.1") {
          throw new CommandError("", `Invalid encoding: ${o.value}`, "BAD_ENCODING");
        }
        encoding = o.value;
      }
    }
    const name = r.operands[0]!;
    let bytes = Buffer.from(name, "utf8");
    if (encoding !== null && hasOpt(r, "c")) {
      // utf8 casefolding of ASCII is lowercasing; other characters need the Unicode tables.
      if (bytes.some((b) => b >= 0x80)) {
        throw new CommandError(
          who,
          "casefolding non-ASCII names is not supported",
          "NOT_SUPPORTED",
        );
      }
      bytes = Buffer.from(name.toLowerCase(), "utf8");
    }
    try {
      const h = dxHash(version, bytes, seed);
      return { name, version, hash: h.hash, minorHash: h.minorHash };
    } catch (e) {
      throw new CommandError(
        who,
        "Directory hash unsupported while calculating hash",
        "HASH_UNSUPPORTED",
        {
          cause: e,
        },
      );
    }
  },
  render(d) {
    return `Hash of ${byteString(d.name)} is 0x${hex(d.hash)} (minor 0x${hex(d.minorHash)})\n`;
  },
});

/** dirsearch <dir> <name>: scans every block of a directory for a name. */
export const dirsearch = defineCommand<{
  directory: number;
  name: string;
  found: { lblk: number | null; pblk: number | null; offset: number } | null;
}>({
  name: "dirsearch",
  aliases: [],
  usage: "dir filename",
  help: "Search a directory for a particular filename",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    if (argv.length !== 3) throw new CommandError("", "Usage: dirsearch dir filename", "USAGE");
    const fs = shell.requireFs(who);
    const ino = shell.resolveInode(argv[1]!);
    const dir = readInode(fs, ino, who);
    const name = argv[2]!;
    if ((dir.mode & S_IFMT) !== S_IFDIR) return { directory: ino, name, found: null };
    try {
      const r = lookupEntry(fs, dir, name, { method: "linear", verifyChecksums: false });
      if (r === null) return { directory: ino, name, found: null };
      const pblk = r.lblk === null ? null : physOf(fs, dir, r.lblk);
      return { directory: ino, name, found: { lblk: r.lblk, pblk, offset: r.offset } };
    } catch (e) {
      throw wrapError("search_dir_block", e, "while searching the directory");
    }
  },
  render(d) {
    const f = d.found;
    if (f === null) return "";
    if (f.lblk === null)
      return `Entry found in inline data, offset ${f.offset}\noffset ${f.offset}\n`;
    return `Entry found at logical block ${f.lblk}, phys ${f.pblk}, offset ${f.offset}\noffset ${f.offset}\n`;
  },
});
