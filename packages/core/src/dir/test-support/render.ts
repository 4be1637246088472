/**
 * Test-only: renders the directory API's results the way debugfs 1.47
 * prints them (`ls` with -l/-d/-c/-p, `htree_dump`, `dirsearch`), to prove
 * the API carries everything those commands need. Output is a latin1
 * string so name bytes survive; dates are UTC (run debugfs with TZ=UTC).
 */
import type { DirInode } from "../host.js";
import type { HtreeChild, HtreeIndexNode, HtreeInfo } from "../htree.js";
import type { DirListing, RawListEntry } from "../raw.js";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const latin1 = (b: Uint8Array): string => Buffer.from(b).toString("latin1");
const hex8 = (n: number): string => (n >>> 0).toString(16).padStart(8, "0");
const pad = (s: string | number, w: number): string => String(s).padStart(w, " ");

/** The extra inode fields `ls -l`/`-p` print. */
export interface LsInode extends DirInode {
  readonly uid: number;
  readonly gid: number;
  readonly mtime: number;
}

/** debugfs `print_filename`: control bytes, DEL and above, and backslash as \xNN. */
export function escapeName(name: Uint8Array): string {
  let s = "";
  for (const c of name)
    s +=
      c < 32 || c >= 127 || c === 0x5c
        ? `\\x${c.toString(16).padStart(2, "0")}`
        : String.fromCharCode(c);
  return s;
}

function date(mtime: number): string {
  const d = new Date(mtime * 1000);
  return `${pad(d.getUTCDate(), 2)}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ${String(d.getUTCHours()).padStart(2, "0")}:${String(d.getUTCMinutes()).padStart(2, "0")}`;
}

/** Which `ls` variant to render. */
export type LsMode = "short" | "long" | "parse";

/** Renders a raw listing as debugfs `ls` (plus -l or -p) prints it. */
export function renderLs(
  listing: DirListing,
  mode: LsMode,
  inode: (ino: number) => LsInode,
): string {
  let out = "";
  let col = 0;
  const zero = { mode: 0, uid: 0, gid: 0, size: 0, mtime: 0 };
  const line = (e: RawListEntry): void => {
    const deleted = e.kind === "deleted";
    const [lbr, rbr] = deleted ? ["<", ">"] : [" ", " "];
    const ino = deleted ? 0 : e.inode;
    const i = ino !== 0 ? inode(ino) : zero;
    if (mode === "parse") {
      const uid = i.uid & 0xffff;
      const gid = i.gid & 0xffff;
      out += `/${ino}/${i.mode.toString(8).padStart(6, "0")}/${uid}/${gid}/${latin1(e.name)}/`;
      out += (i.mode & 0o170000) === 0o040000 ? "/" : `${i.size}/`;
      out += "\n";
    } else if (mode === "long") {
      const ds = ino !== 0 ? date(i.mtime) : " ".repeat(17);
      out += `${lbr}${pad(ino, 6)}${rbr} ${pad(i.mode.toString(8), 6)} `;
      if (e.kind === "checksum") {
        out += `(dirblock checksum: 0x${hex8(e.checksum ?? 0)})\n`;
        return;
      }
      out += `(${e.fileTypeRaw})  ${pad(i.uid, 5)}  ${pad(i.gid, 5)}   ${pad(i.size, 5)} ${ds} ${escapeName(e.name)}\n`;
    } else {
      if (e.kind === "checksum") {
        const tmp = `${lbr}${e.inode}${rbr} (dirblock checksum: 0x${hex8(e.checksum ?? 0)})   `;
        if (col + tmp.length > 80) {
          out += "\n";
          col = 0;
        }
        out += tmp;
        col += tmp.length;
        return;
      }
      const tmp = `${lbr}${e.inode}${rbr} (${e.recLenRaw}) `;
      const name = escapeName(e.name);
      const len = tmp.length + 3 + name.length;
      if (col + len > 80) {
        out += "\n";
        col = 0;
      }
      out += `${tmp}${name}   `;
      col += len;
    }
  };
  for (const b of listing.blocks) for (const e of b.entries) line(e);
  return `${out}\n`;
}

/** Renders an htree dump as debugfs `htree_dump` prints it; `phys` maps logical to physical blocks. */
export function renderHtree(
  info: HtreeInfo,
  blockSize: number,
  metadataCsum: boolean,
  phys: (lblk: number) => number,
): string {
  const r = info.rootInfo;
  let out = "Root node dump:\n";
  out += `\t Reserved zero: ${r.reservedZero}\n\t Hash Version: ${r.hashVersion}\n\t Info length: ${r.infoLength}\n`;
  out += `\t Indirect levels: ${r.indirectLevels}\n\t Flags: ${r.unusedFlags}\n`;
  const node = (n: HtreeIndexNode): void => {
    out += `Number of entries (count): ${n.count}\nNumber of entries (limit): ${n.limit}\n`;
    if (metadataCsum && blockSize - n.countOffset - n.limit * 8 === 8) {
      out += `Checksum: 0x${hex8(n.checksum?.stored ?? 0)}\n`;
    }
    n.entries.forEach((e, i) => {
      out += `Entry #${i}: Hash 0x${hex8(e.hash)}${e.hash & 1 ? " (**)" : ""}, block ${e.block}\n`;
    });
    out += "\n";
    n.entries.forEach((e, i) => {
      out += `Entry #${i}: Hash 0x${hex8(e.hash)}, block ${e.block}\n`;
      // OK to assert: the dump has one child per entry.
      child(n.children[i]!);
    });
    out += "---------------------\n";
  };
  const child = (c: HtreeChild): void => {
    if (c.kind === "index") {
      node(c);
      return;
    }
    if (c.kind === "unreadable") throw c.error;
    out += `Reading directory block ${c.lblk}, phys ${phys(c.lblk)}\n`;
    let col = 0;
    const emit = (tmp: string, width: number) => {
      if (col + width > 80) {
        out += "\n";
        col = 0;
      }
      out += tmp;
      col += width;
    };
    for (const e of c.entries) {
      const tmp = `${e.inode} 0x${hex8(e.hash ?? 0)}-${hex8(e.minorHash ?? 0)} (${e.recLen}) ${latin1(e.name)}   `;
      emit(tmp, tmp.length);
    }
    if (c.tail !== null && c.tail.stored !== null) {
      // debugfs wraps by strlen of the whole item, trailing spaces included.
      const tmp = `leaf block checksum: 0x${hex8(c.tail.stored)}  `;
      emit(tmp, tmp.length);
    }
    out += "\n";
  };
  node(info.root);
  return out;
}
