/**
 * Thin wrappers around the real e2fsprogs tools (the oracle of the corpus)
 * and parsers for the bits of their output the corpus needs. This module is
 * plain erasable TypeScript so `node corpus/cli.ts` runs it without a build.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, openSync, readSync, writeSync } from "node:fs";

/** Runs `debugfs -w -f -` with `cmds` on `image`; returns its output (stdout + stderr). */
export function debugfsWrite(image: string, cmds: readonly string[]): string {
  const r = spawnSync("debugfs", ["-w", "-f", "-", image], {
    input: `${cmds.join("\n")}\n`,
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`debugfs -w failed (${r.status}): ${r.stderr}`);
  return `${r.stdout}${r.stderr}`;
}

/** Runs `debugfs -R cmd image` read-only; returns stdout. */
export function debugfsRead(image: string, cmd: string): string {
  const r = spawnSync("debugfs", ["-R", cmd, image], { encoding: "utf8", maxBuffer: 1 << 26 });
  return r.stdout ?? "";
}

/** The result of one `e2fsck -fn` run, parsed. */
export interface E2fsckResult {
  /** Exit status (fsck(8) bits: 0 clean, 4 errors left, 8 operational error). */
  status: number;
  /** True when e2fsck exited 0. */
  clean: boolean;
  /** Passes (0 = before pass 1, 1B..1E count as 1) that printed at least one problem line. */
  passes: number[];
  /** The problem lines per pass. */
  lines: Record<number, string[]>;
  /** The whole output (stdout + stderr). */
  output: string;
}

/** Runs `e2fsck -fn` on `image` (never writes) and parses which passes reported problems. */
export function runE2fsck(image: string, timeoutMs = 60_000): E2fsckResult {
  const r = spawnSync("e2fsck", ["-fn", image], {
    encoding: "utf8",
    maxBuffer: 1 << 28,
    timeout: timeoutMs,
  });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`;
  const status = r.status ?? -1;
  return { status, clean: status === 0, ...parseE2fsckOutput(output), output };
}

// Lines e2fsck prints that are not findings: its banner, pass headers, the
// closing summary and the closing warning.
const NOT_A_PROBLEM: readonly RegExp[] = [
  /^e2fsck \d+\.\d+/,
  /^\s*$/,
  /: \d+\/\d+ files \([\d.]+% non-contiguous\), \d+\/\d+ blocks$/,
  /\*{10} WARNING: Filesystem still has errors \*{10}/,
  /^\s*Using EXT2FS Library/,
];

/**
 * Splits e2fsck output into problem lines per pass: everything before
 * "Pass 1:" is pass 0 (superblock, descriptors, journal); "Pass 1B".."1E"
 * belong to pass 1.
 */
export function parseE2fsckOutput(output: string): {
  passes: number[];
  lines: Record<number, string[]>;
} {
  const lines: Record<number, string[]> = {};
  let pass = 0;
  for (const line of output.split("\n")) {
    const header = /^Pass (\d)[A-E]?: /.exec(line);
    if (header) {
      pass = Number(header[1]);
      continue;
    }
    if (NOT_A_PROBLEM.some((re) => re.test(line))) continue;
    let bucket = lines[pass];
    if (bucket === undefined) {
      bucket = [];
      lines[pass] = bucket;
    }
    bucket.push(line);
  }
  const passes = Object.keys(lines)
    .map(Number)
    .sort((a, b) => a - b);
  return { passes, lines };
}

/** The inode number of `path` in `image` (debugfs `stat`), or throws. */
export function inodeOf(image: string, path: string): number {
  const out = debugfsRead(image, `stat ${path}`);
  const m = /Inode: (\d+)/.exec(out);
  if (!m) throw new Error(`no inode for ${path} in ${image}`);
  return Number(m[1]);
}

/** Byte offset of inode `ino`'s on-disk record (debugfs `imap`). */
export function inodeOffset(image: string, ino: number, blockSize: number): number {
  const out = debugfsRead(image, `imap <${ino}>`);
  const m = /located at block (\d+), offset (0x[0-9a-f]+)/.exec(out);
  if (!m) throw new Error(`imap failed for inode ${ino}: ${out}`);
  return Number(m[1]) * blockSize + Number(m[2]);
}

/** The block map of a file as debugfs `stat` prints it. */
export interface BlockMap {
  /** Data blocks in logical order: [logical, physical]. */
  data: Array<[number, number]>;
  /** Mapping blocks: extent tree blocks (ETB0, ETB1...) and IND/DIND/TIND blocks. */
  meta: Array<{ kind: string; block: number }>;
}

/** Parses the EXTENTS:/BLOCKS: section of `debugfs -R "stat PATH"`. */
export function blockMap(image: string, path: string): BlockMap {
  const out = debugfsRead(image, `stat ${path}`);
  const idx = out.search(/^(EXTENTS|BLOCKS):$/m);
  const map: BlockMap = { data: [], meta: [] };
  if (idx < 0) return map;
  const body = out.slice(idx).split("\n").slice(1).join(" ");
  for (const m of body.matchAll(/\(([^)]+)\):(\d+)(?:-(\d+))?/g)) {
    const what = m[1] ?? "";
    const start = Number(m[2]);
    const end = m[3] === undefined ? start : Number(m[3]);
    const range = /^(\d+)(?:-(\d+))?$/.exec(what);
    if (range) {
      const l0 = Number(range[1]);
      for (let i = 0; start + i <= end; i++) map.data.push([l0 + i, start + i]);
    } else {
      map.meta.push({ kind: what, block: start });
    }
  }
  return map;
}

/** The directory blocks and htree of `path`, as `debugfs htree` reports the root's entries. */
export function htreeLeaves(image: string, path: string): number[] {
  const out = debugfsRead(image, `htree ${path}`);
  return [...out.matchAll(/^Entry #\d+: Hash 0x[0-9a-f]+, block (\d+)$/gm)].map((m) =>
    Number(m[1]),
  );
}

/** Reads `length` bytes at `offset` of a file. */
export function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, "r");
  try {
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, offset);
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` at `offset` of a file (a dd-style raw corruption). */
export function writeAt(path: string, offset: number, data: Uint8Array): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** The version line of the e2fsprogs in use (part of the corpus cache key). */
export function e2fsprogsVersion(): string {
  const r = spawnSync("e2fsck", ["-V"], { encoding: "utf8" });
  return (r.stderr ?? "").split("\n")[0] ?? "unknown";
}

/** Runs a command, throwing with its stderr on failure. */
export function run(cmd: string, args: readonly string[], env?: NodeJS.ProcessEnv): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env: env ?? process.env });
}
