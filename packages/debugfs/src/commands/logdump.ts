/**
 * `logdump` (debugfs/logdump.c): walks the internal journal from s_start the
 * way debugfs does (magic and expected sequence only; checksums are not
 * judged), listing descriptor, commit and revoke blocks; -a dumps every
 * tag and revoke, -b follows one filesystem block (and its bitmap), -i one
 * inode's table block, -c adds hex dumps of logged blocks with -a.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  decodeDescriptorTags,
  decodeJournalHeader,
  decodeRevokeBlock,
  EXT4_GOOD_OLD_INODE_SIZE,
  INODE,
  type InodeField,
  InodeFlags,
  JBD2_COMMIT_BLOCK,
  JBD2_DESCRIPTOR_BLOCK,
  JBD2_REVOKE_BLOCK,
  JBD2_SUPERBLOCK_V1,
  JBD2_SUPERBLOCK_V2,
  type Journal,
  viewOf,
} from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import { hex } from "../render/format.js";
import { getopt, hasOpt, optValue, parseCNumber, UsageError } from "../shell/parse.js";
import { wrapError } from "./common.js";

/** The data of logdump: its text, built while walking (the walk and the report are one pass). */
export interface LogdumpData {
  readonly text: string;
  /** The output file written instead of stdout, or null. */
  readonly file: string | null;
}

function typeName(t: number): string {
  switch (t) {
    case JBD2_DESCRIPTOR_BLOCK:
      return "descriptor block";
    case JBD2_COMMIT_BLOCK:
      return "commit block";
    case JBD2_SUPERBLOCK_V1:
      return "V1 superblock";
    case JBD2_SUPERBLOCK_V2:
      return "V2 superblock";
    case JBD2_REVOKE_BLOCK:
      return "revoke table";
    default:
      return "unrecognised type";
  }
}

/** logdump.c do_hexdump: 16 bytes a line as four host-endian words, then the characters. */
function hexdumpWords(buf: Uint8Array): string {
  let out = "";
  const v = viewOf(buf);
  for (let i = 0; i + 16 <= buf.length; i += 16) {
    out += `    ${hex(i, 4)}:  `;
    for (let j = 0; j < 16; j += 4) out += `${hex(v.u32(i + j), 8)} `;
    for (let j = 0; j < 16; j++) {
      const c = buf[i + j]!;
      out += c < 0x20 || c >= 127 ? "." : String.fromCharCode(c);
    }
    out += "\n";
  }
  return out;
}

const USAGE = "Usage: logdump [-acs] [-b<block>] [-i<filespec>] [-f<journal_file>] [output_file]";

/** logdump [-ac] [-b block] [-i filespec] [output_file]. */
export const logdump = defineCommand<LogdumpData>({
  name: "logdump",
  aliases: [],
  usage: "[-ac] [-b<block>] [-i<filespec>] [output_file]",
  help: "Dump the contents of the journal",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), {
        a: "flag",
        b: "value",
        c: "flag",
        i: "value",
        f: "value",
        s: "flag",
        O: "flag",
        S: "flag",
        n: "value",
      });
    } catch (e) {
      if (e instanceof UsageError) throw new CommandError(who, USAGE, "USAGE");
      throw e;
    }
    if (r.operands.length > 1) throw new CommandError(who, USAGE, "USAGE");
    if (optValue(r, "f") !== undefined || hasOpt(r, "s")) {
      throw new CommandError(
        who,
        "external journal files (-f) and the superblock backup (-s) are not supported",
        "NOT_SUPPORTED",
      );
    }
    const fs = shell.requireFs(who);
    const sb = fs.superblock;
    const dumpAll = hasOpt(r, "a");
    const dumpContents = hasOpt(r, "c");
    let dumpDescriptors = true;
    let blockToDump: number | null = null;
    let bitmapToDump: number | null = null;
    let inodeToDump: number | null = null;
    let inodeBlock: number | null = null;
    let inodeOffset = 0;
    let out = "";
    const b = optValue(r, "b");
    if (b !== undefined) {
      const n = parseCNumber(b);
      if (n === null) throw new CommandError(who, `Bad block number - ${b}`, "BAD_NUMBER");
      blockToDump = n;
      dumpDescriptors = false;
      const g = Math.floor((n - sb.firstDataBlock) / sb.blocksPerGroup);
      bitmapToDump = fs.groups[g]?.blockBitmap ?? null;
    }
    const i = optValue(r, "i");
    if (i !== undefined) {
      const ino = shell.resolveInode(i);
      inodeToDump = ino;
      dumpDescriptors = false;
      const loc = fs.inodeLocation(ino);
      inodeBlock = loc.block;
      inodeOffset = loc.offset;
      out += `Inode ${ino} is at group ${loc.group}, block ${loc.block}, offset ${loc.offset}\n`;
    }
    let journal: Journal | null;
    try {
      journal = fs.journal();
    } catch (e) {
      throw wrapError(who, e, "while opening the journal");
    }
    if (journal === null) throw new CommandError(who, "filesystem has no journal", "NO_JOURNAL");
    const jsb = journal.superblock;
    let blocknr = jsb.start;
    let transaction = jsb.sequence >>> 0;
    out += `Journal starts at block ${blocknr}, transaction ${transaction}\n`;
    const wrap = (n: number): number => (n >= jsb.last ? n - (jsb.last - jsb.first) : n);
    const metadata = (logBlock: number, fsBlock: number, flags: number): void => {
      if (
        !(dumpAll || fsBlock === blockToDump || fsBlock === inodeBlock || fsBlock === bitmapToDump)
      )
        return;
      out += `  FS block ${fsBlock} logged at ${dumpAll ? "" : `sequence ${transaction}, `}journal block ${logBlock} (flags 0x${hex(flags)})\n`;
      if (
        !(dumpContents && dumpAll) &&
        fsBlock !== blockToDump &&
        fsBlock !== bitmapToDump &&
        fsBlock !== inodeBlock
      ) {
        return;
      }
      const data = journal.readBlock(logBlock);
      if (fsBlock === bitmapToDump && blockToDump !== null) {
        const bit = Math.floor(
          ((blockToDump - sb.firstDataBlock) % sb.blocksPerGroup) / sb.clusterRatio,
        );
        const set = ((data[bit >>> 3] ?? 0) >> (bit & 7)) & 1;
        out += `    (block bitmap for block ${blockToDump}: block is ${set ? "SET" : "CLEAR"})\n`;
      }
      if (fsBlock === inodeBlock && inodeToDump !== null) {
        out += `    (inode block for inode ${inodeToDump}):\n`;
        const raw = data.subarray(inodeOffset, inodeOffset + sb.inodeSize);
        out += loggedInode(raw);
      }
      if (dumpContents) out += hexdumpWords(data);
    };
    if (blocknr !== 0) {
      // Every block of the log at most once per pass: the walk cannot run away on a crafted journal.
      for (let steps = 0; steps <= jsb.maxLen; steps++) {
        let buf: Uint8Array;
        try {
          buf = journal.readBlock(blocknr);
        } catch (e) {
          shell.fail(wrapError(who, e, "while reading journal").line);
          break;
        }
        const header = decodeJournalHeader(buf);
        if (header === null) {
          out += `No magic number at block ${blocknr}: end of journal.\n`;
          break;
        }
        if (header.sequence !== transaction) {
          out += `Found sequence ${header.sequence} (not ${transaction}) at block ${blocknr}: end of journal.\n`;
          break;
        }
        if (dumpDescriptors) {
          out += `Found expected sequence ${header.sequence}, type ${header.blocktype} (${typeName(header.blocktype)}) at block ${blocknr}\n`;
        }
        if (header.blocktype === JBD2_DESCRIPTOR_BLOCK) {
          if (dumpAll)
            out += `Dumping descriptor block, sequence ${transaction}, at block ${blocknr}:\n`;
          blocknr = wrap(blocknr + 1);
          for (const tag of decodeDescriptorTags(buf, jsb)) {
            metadata(blocknr, tag.fsBlock % 2 ** 32, tag.flags);
            blocknr = wrap(blocknr + 1);
          }
          continue;
        }
        if (header.blocktype === JBD2_COMMIT_BLOCK) {
          transaction = (transaction + 1) >>> 0;
          blocknr = wrap(blocknr + 1);
          continue;
        }
        if (header.blocktype === JBD2_REVOKE_BLOCK) {
          if (dumpAll)
            out += `Dumping revoke block, sequence ${transaction}, at block ${blocknr}:\n`;
          try {
            for (const rb of decodeRevokeBlock(buf, jsb, { offset: blocknr })) {
              if (dumpAll) out += `  Revoke FS block ${rb}\n`;
              else if (rb === blockToDump)
                out += `  Revoke FS block ${rb} at block ${blocknr}, sequence ${transaction}\n`;
            }
          } catch (e) {
            shell.fail(wrapError(who, e, `while reading revoke block ${blocknr}`).line);
          }
          blocknr = wrap(blocknr + 1);
          continue;
        }
        out += `Unexpected block type ${header.blocktype} at block ${blocknr}.\n`;
        break;
      }
    }
    const outFile = r.operands[0];
    if (outFile !== undefined) {
      const path = resolve(shell.hostCwd, outFile);
      try {
        writeFileSync(path, Buffer.from(out, "latin1"));
      } catch (e) {
        throw new CommandError(
          who,
          `${e instanceof Error ? e.message : String(e)} while opening ${outFile} for logdump`,
          "WRITE_FAILED",
        );
      }
      return { text: out, file: path };
    }
    return { text: out, file: null };
  },
  render(d) {
    return d.file === null ? d.text : "";
  },
});

/**
 * A logged copy of an inode, summarised (the live inode's `stat` has the
 * full story), and its direct/indirect block pointers as logdump.c lists
 * them for block-mapped inodes.
 */
function loggedInode(raw: Uint8Array): string {
  if (raw.length < EXT4_GOOD_OLD_INODE_SIZE) return "    (inode outside the logged block)\n";
  const v = viewOf(raw, {}).sub(0, EXT4_GOOD_OLD_INODE_SIZE);
  const g = (name: InodeField): number => INODE.get(v, name);
  const mode = g("i_mode");
  const flags = g("i_flags");
  let out = `    Mode:  0${(mode & 0o7777).toString(8).padStart(3, "0")}   Type bits: 0${(mode >>> 12).toString(8)}   Flags: 0x${hex(flags)}\n`;
  out += `    Links: ${g("i_links_count")}   Size: ${INODE.getLoHi(v, "i_size_lo", "i_size_high")}\n`;
  out += `    ctime: 0x${hex(g("i_ctime"), 8)}   mtime: 0x${hex(g("i_mtime"), 8)}\n`;
  let blocks = "    Blocks:  ";
  if ((flags & InodeFlags.EXTENTS) === 0) {
    const iBlock = viewOf(INODE.bytesOf(v, "i_block"));
    const ib = (k: number): number => iBlock.u32(k * 4);
    let start = -1;
    let first = 0;
    let prev = 0;
    const show = (end: number): void => {
      if (start >= 0 && first !== 0) blocks += `(${start}+${end - start}): ${first} `;
    };
    let k = 0;
    for (; k < 12; k++) {
      const t = ib(k);
      if (start >= 0 && t === prev + 1) {
        prev = t;
        continue;
      }
      show(k);
      start = k;
      first = prev = t;
    }
    show(k);
    for (const [name, idx] of [
      ["IND", 12],
      ["DIND", 13],
      ["TIND", 14],
    ] as const) {
      if (ib(idx) !== 0) blocks += `(${name}): ${ib(idx)} `;
    }
  }
  return `${out}${blocks}\n`;
}
