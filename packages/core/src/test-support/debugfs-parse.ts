/**
 * Parsers for the debugfs output the reader tests compare against (`stat`,
 * `ex`, `blocks`, `ea_list`, `stats`, `logdump`). Test-only: strict enough to
 * fail loudly when the output format is not what they expect.
 */

/** Fields of `debugfs stat`. */
export interface StatOutput {
  ino: number;
  type: string;
  mode: number;
  flags: number;
  generation: number;
  version: number;
  uid: number;
  gid: number;
  project: number;
  size: number;
  fileAcl: number;
  links: number;
  blockcount: number;
  times: Record<string, { sec: number; extra: number | null }>;
  extraIsize: number | null;
  checksum: number | null;
  fastLink: string | null;
  device: { major: number; minor: number } | null;
}

function num(re: RegExp, text: string, radix = 10): number {
  const m = re.exec(text);
  if (m?.[1] === undefined) throw new Error(`no ${re} in debugfs output:\n${text}`);
  return Number.parseInt(m[1], radix);
}

/** Parses `debugfs -R "stat <ino>"`. */
export function parseStat(text: string): StatOutput {
  const times: StatOutput["times"] = {};
  for (const m of text.matchAll(
    /^\s*(ctime|atime|mtime|crtime|dtime): 0x([0-9a-f]+)(?::([0-9a-f]+))?/gm,
  )) {
    // OK to assert: the regex has these groups.
    times[m[1]!] = {
      sec: Number.parseInt(m[2]!, 16),
      extra: m[3] === undefined ? null : Number.parseInt(m[3], 16),
    };
  }
  const version = /Version: 0x([0-9a-f]+):([0-9a-f]+)/.exec(text);
  const extra = /Size of extra inode fields: (\d+)/.exec(text);
  const csum = /Inode checksum: 0x([0-9a-f]+)/.exec(text);
  const fast = /Fast link dest: "(.*)"/.exec(text);
  const dev = /Device major\/minor number: ([0-9a-f]+):([0-9a-f]+)/.exec(text);
  return {
    ino: num(/Inode: (\d+)/, text),
    type: /Type: (.+?)\s{2,}/.exec(text)?.[1] ?? "",
    mode: num(/Mode:\s+(\d+)/, text, 8),
    flags: num(/Flags: 0x([0-9a-f]+)/, text, 16),
    generation: num(/Generation: (\d+)/, text),
    version: version
      ? Number.parseInt(version[1]!, 16) * 2 ** 32 + Number.parseInt(version[2]!, 16)
      : 0,
    uid: num(/User:\s+(\d+)/, text),
    gid: num(/Group:\s+(\d+)/, text),
    project: num(/Project:\s+(\d+)/, text),
    size: num(/Size: (\d+)/, text),
    fileAcl: num(/File ACL: (\d+)/, text),
    links: num(/Links: (\d+)/, text),
    blockcount: num(/Blockcount: (\d+)/, text),
    times,
    extraIsize: extra ? Number(extra[1]) : null,
    checksum: csum ? Number.parseInt(csum[1]!, 16) : null,
    fastLink: fast ? fast[1]! : null,
    device: dev
      ? { major: Number.parseInt(dev[1]!, 16), minor: Number.parseInt(dev[2]!, 16) }
      : null,
  };
}

/** One row of `debugfs ex`. */
export interface ExRow {
  level: number;
  maxDepth: number;
  entry: number;
  entries: number;
  logicalStart: number;
  logicalEnd: number;
  physicalStart: number;
  physicalEnd: number | null;
  length: number;
  unwritten: boolean;
}

/** Parses `debugfs -R "ex <ino>"`. */
export function parseEx(text: string): ExRow[] {
  const rows: ExRow[] = [];
  const re =
    /^\s*(\d+)\/\s*(\d+)\s+(\d+)\/\s*(\d+)\s+(\d+) -\s*(\d+)\s+(\d+)(?: -\s*(\d+))?\s+(\d+)\s*(Uninit)?\s*$/;
  for (const line of text.split("\n")) {
    const m = re.exec(line);
    if (!m) continue;
    rows.push({
      level: Number(m[1]),
      maxDepth: Number(m[2]),
      entry: Number(m[3]),
      entries: Number(m[4]),
      logicalStart: Number(m[5]),
      logicalEnd: Number(m[6]),
      physicalStart: Number(m[7]),
      physicalEnd: m[8] === undefined ? null : Number(m[8]),
      length: Number(m[9]),
      unwritten: m[10] !== undefined,
    });
  }
  return rows;
}

/** Parses `debugfs -R "blocks <ino>"`: the block numbers in order. */
export function parseBlocks(text: string): number[] {
  return text
    .trim()
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** One attribute of `debugfs ea_list`: value when printed (text or hex), else null. */
export interface EaListEntry {
  name: string;
  length: number;
  value: Uint8Array | null;
}

/** Parses `debugfs -R "ea_list <ino>"`. */
export function parseEaList(text: string): EaListEntry[] {
  const out: EaListEntry[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s{2}(\S+) \((\d+)\)(?: = (.*))?$/.exec(line);
    if (!m) continue;
    let value: Uint8Array | null = null;
    const v = m[3];
    if (v !== undefined) {
      if (v.startsWith('"')) value = new TextEncoder().encode(v.slice(1, v.lastIndexOf('"')));
      else value = Uint8Array.from(v.trim().split(/\s+/), (h) => Number.parseInt(h, 16));
    }
    out.push({ name: m[1]!, length: Number(m[2]), value });
  }
  return out;
}

/** `debugfs stats`: header key/values and per-group lines. */
export interface StatsOutput {
  header: Map<string, string>;
  groups: Array<{
    group: number;
    blockBitmap: number;
    inodeBitmap: number;
    inodeTable: number;
    freeBlocks: number;
    freeInodes: number;
    dirs: number;
    unused: number | null;
    flags: string[];
    checksum: number | null;
  }>;
}

/** Parses `debugfs -R stats` (or `dumpe2fs -h` for the header). */
export function parseStats(text: string): StatsOutput {
  const header = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z][^:]*):\s*(.*)$/.exec(line);
    if (m && !line.startsWith(" ")) header.set(m[1]!.trim(), m[2]!.trim());
  }
  const groups: StatsOutput["groups"] = [];
  const re =
    /Group\s+(\d+): block bitmap at (\d+), inode bitmap at (\d+), inode table at (\d+)\n\s+(\d+) free (?:blocks?|clusters?), (\d+) free inodes?, (\d+) used director(?:y|ies)(?:, (\d+) unused inodes?)?(?:\n\s+\[([^\]]*)\])?/g;
  for (const m of text.matchAll(re)) {
    const bracket = m[9] ?? "";
    const csum = /Checksum 0x([0-9a-f]+)/.exec(bracket);
    groups.push({
      group: Number(m[1]),
      blockBitmap: Number(m[2]),
      inodeBitmap: Number(m[3]),
      inodeTable: Number(m[4]),
      freeBlocks: Number(m[5]),
      freeInodes: Number(m[6]),
      dirs: Number(m[7]),
      unused: m[8] === undefined ? null : Number(m[8]),
      flags: bracket
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "" && !s.startsWith("Checksum")),
      checksum: csum ? Number.parseInt(csum[1]!, 16) : null,
    });
  }
  return { header, groups };
}

/** One line of `debugfs logdump` (with -a for tags and revokes). */
export type LogdumpEvent =
  | { kind: "block"; sequence: number; type: number; block: number }
  | { kind: "tag"; fsBlock: number; journalBlock: number; flags: number }
  | { kind: "revoke"; fsBlock: number }
  | { kind: "end"; block: number; reason: string };

/** Parses `debugfs -R "logdump -a"` into events in order. */
export function parseLogdump(text: string): LogdumpEvent[] {
  const out: LogdumpEvent[] = [];
  for (const line of text.split("\n")) {
    let m = /^Found expected sequence (\d+), type (\d+) \(.*\) at block (\d+)/.exec(line);
    if (m) {
      out.push({ kind: "block", sequence: Number(m[1]), type: Number(m[2]), block: Number(m[3]) });
      continue;
    }
    m = /^\s+FS block (\d+) logged at journal block (\d+) \(flags 0x([0-9a-f]+)\)/.exec(line);
    if (m) {
      out.push({
        kind: "tag",
        fsBlock: Number(m[1]),
        journalBlock: Number(m[2]),
        flags: Number.parseInt(m[3]!, 16),
      });
      continue;
    }
    m = /^\s+Revoke FS block (\d+)/.exec(line);
    if (m) {
      out.push({ kind: "revoke", fsBlock: Number(m[1]) });
      continue;
    }
    m = /^No magic number at block (\d+): end of journal/.exec(line);
    if (m) {
      out.push({ kind: "end", block: Number(m[1]), reason: "no-magic" });
      continue;
    }
    m = /^Found sequence (\d+) \(not (\d+)\) at block (\d+): end of journal/.exec(line);
    if (m) out.push({ kind: "end", block: Number(m[3]), reason: "sequence" });
  }
  return out;
}
