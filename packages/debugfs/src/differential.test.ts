/**
 * Differential tests: the same debugfs script is run by the real debugfs
 * (e2fsprogs 1.47, TZ=UTC) and by ext4-debug over images made by mke2fs -d
 * across the feature matrix; every command's stdout must be identical.
 *
 * Normalisations, each because the two tools must differ:
 * - `cat` of an inline-data file: debugfs 1.47 prints the whole 60-byte
 *   inline area instead of i_size bytes (a libext2fs bug); there `cat` is
 *   compared with the source file instead.
 * - `blocks` and `bmap` of inodes without a block map (fast symlinks,
 *   device nodes, fifos): libext2fs walks their i_block as if it held
 *   block numbers and prints whatever the bytes say; ext4-debug reports
 *   that there is no map. Not compared.
 * - `supported_features` is not in the script: it lists what each tool
 *   supports, which differs by design.
 * Nothing else is normalised: no banner appears on stdout (debugfs prints
 * it on stderr).
 */
import { writeFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { runScript } from "./cli/main.js";
import { Session } from "./session.js";
import { quoteWord } from "./shell/parse.js";
import {
  buildTree,
  debugfsScript,
  makeImage,
  splitScriptOutput,
  type Tree,
  VARIANTS,
  writeJournalTransactions,
} from "./test-support/images.js";

process.env.TZ = "UTC";

/** Inodes whose i_block is not a block map. */
const NOT_MAPPED = ["/fast-link", "/fifo", "/char-dev", "/block-dev"];

/** Runs a script through ext4-debug's -f path and returns stdout as a latin1 string. */
function ours(image: string, script: string): string {
  const session = new Session();
  const chunks: Buffer[] = [];
  try {
    session.openImage(image);
    const scriptFile = `${image}.script`;
    writeFileSync(scriptFile, script);
    runScript(
      session,
      scriptFile,
      {
        stdout: (c) =>
          chunks.push(typeof c === "string" ? Buffer.from(c, "latin1") : Buffer.from(c)),
        stderr: () => {},
        readStdin: () => "",
      },
      false,
    );
  } finally {
    session.dispose();
  }
  return Buffer.concat(chunks).toString("latin1");
}

/** Block numbers the oracle reports for a file (icheck inputs). */
function blocksOf(out: string): number[] {
  return out
    .trim()
    .split(/\s+/)
    .filter((s) => s !== "")
    .map(Number);
}

function commandsFor(tree: Tree): string[] {
  const q = (p: string): string => quoteWord(`/${p}`);
  const cmds = [
    "stats",
    "stats -h",
    "ls /",
    "ls -l /",
    "ls -p /",
    "ls -d -l /",
    "ls -c -l /big",
    "ls /big",
    "ls -l /dir",
    "stat /",
    "htree /big",
    "htree /dir",
    "dirsearch /big entry-with-a-longish-name-123",
    "dirsearch / small.txt",
    "dirsearch /big no-such-name",
    "testb 1 300",
    "testi <11>",
    "ffb 20",
    "ffb 3 5000",
    "ffi",
    "ffi 20",
    "freefrag",
    "freefrag -c 64",
    "logdump",
    "logdump -a",
    "logdump -a -c",
    "logdump -b 301",
    "logdump -b 300",
    `ncheck ${Array.from({ length: 40 }, (_, i) => i + 1).join(" ")}`,
    "ncheck -c 12 13 14",
    "pwd",
    "cd /dir/nested",
    "pwd",
    "ls -l",
    "stat deep.txt",
    "cd /",
    "filefrag -r",
    "filefrag -dv /",
    "dx_hash -h half_md4 -s 0d1e2f30-4152-4637-8899-aabbccddeeff entry-with-a-longish-name-7",
    "dx_hash -h tea hello",
    "dx_hash hello",
    "bd 1",
    "bd -f /small.txt 0",
    "imap <2>",
    "imap /big",
  ];
  for (const p of tree.paths) {
    cmds.push(
      `stat ${q(p)}`,
      `ex ${q(p)}`,
      `blocks ${q(p)}`,
      `ea_list ${q(p)}`,
      `filefrag -v ${q(p)}`,
      `imap ${q(p)}`,
      `testi ${q(p)}`,
      `bmap ${q(p)} 0`,
    );
  }
  cmds.push("bmap /sparse.bin 1", "bmap /sparse.bin 5000", "bmap /large.bin 20");
  cmds.push(
    "ex -n /fragmented.bin",
    "ex -l /fragmented.bin",
    "bmap /fragmented.bin 40",
    "bmap /fragmented.bin 41",
  );
  cmds.push(
    "ea_get /small.txt user.short",
    "ea_get -x /small.txt user.binary",
    "ea_get -C /small.txt user.binary",
  );
  cmds.push("ea_get -V /medium.bin user.big", "ea_get /large.bin system.posix_acl_access");
  cmds.push("ea_get /small.txt user.absent");
  return cmds;
}

describe.each(VARIANTS)("differential against debugfs: $name", (variant) => {
  let tree: Tree;
  let image: string;
  beforeAll(() => {
    tree = buildTree();
    image = makeImage(variant, tree);
    if (variant.type !== "ext2") writeJournalTransactions(image);
  });

  it("every command prints what debugfs prints", () => {
    const cmds = commandsFor(tree);
    // icheck of blocks the oracle names (data, map and xattr blocks), plus free and metadata blocks.
    const probe = [
      ...cmds,
      "blocks /large.bin",
      "blocks /sparse.bin",
      "blocks /big",
      "stat /medium.bin",
    ];
    const pre = splitScriptOutput(debugfsScript(image, `${probe.join("\n")}\n`), probe);
    const blockList = [
      ...blocksOf(pre.get("blocks /large.bin") ?? "").slice(0, 3),
      ...blocksOf(pre.get("blocks /sparse.bin") ?? ""),
      ...blocksOf(pre.get("blocks /big") ?? "").slice(0, 2),
    ];
    const acl = /File ACL: (\d+)/.exec(pre.get("stat /medium.bin") ?? "")?.[1];
    if (acl !== undefined && acl !== "0") {
      blockList.push(Number(acl));
      cmds.push(`bd -x ${acl}`, `bd ${acl}`);
    }
    blockList.push(1, 2, 30000);
    cmds.push(`icheck ${blockList.join(" ")}`);
    for (const b of blockList.slice(0, 4)) cmds.push(`testb ${b}`, `icheck ${b}`);

    const script = `${cmds.join("\n")}\n`;
    const expected = splitScriptOutput(debugfsScript(image, script), cmds);
    const actual = splitScriptOutput(ours(image, script), cmds);
    const inline = variant.args.includes("inline_data");
    let compared = 0;
    const failures: string[] = [];
    for (const c of cmds) {
      if (inline && c.startsWith("cat ")) continue;
      if (NOT_MAPPED.some((p) => c === `blocks ${p}` || c === `bmap ${p} 0`)) continue;
      if (actual.get(c) !== expected.get(c)) failures.push(c);
      expect.soft(actual.get(c), c).toBe(expected.get(c));
      compared++;
    }
    expect(failures).toEqual([]);
    expect(compared).toBeGreaterThan(100);
  });

  it("cat gives every file's contents byte for byte", () => {
    const session = new Session();
    try {
      session.openImage(image);
      for (const f of tree.files) {
        const out = session.run(`cat ${quoteWord(`/${f.path}`)}`);
        expect(out.ok, f.path).toBe(true);
        expect(Buffer.from(out.stdout).equals(f.data), f.path).toBe(true);
      }
    } finally {
      session.dispose();
    }
  });
});

describe("differential against debugfs: a two-level htree", () => {
  it("htree_dump, ls and dirsearch agree on a directory with index nodes", () => {
    const tree = buildTree({ bigDirEntries: 4000, devices: false });
    for (const args of [
      ["-b", "1024"],
      ["-b", "1024", "-O", "^metadata_csum"],
    ]) {
      const image = makeImage({ name: "htree2", type: "ext4", args }, tree);
      const cmds = [
        "htree /big",
        "ls -l /big",
        "ls /big",
        "ls -c /big",
        "stat /big",
        "ex /big",
        "blocks /big",
        "filefrag -v /big",
        "dirsearch /big entry-with-a-longish-name-3999",
        "dirsearch /big entry-with-a-longish-name-0",
        "ncheck 100 2000 3000",
      ];
      const script = `${cmds.join("\n")}\n`;
      const expected = splitScriptOutput(debugfsScript(image, script), cmds);
      const actual = splitScriptOutput(ours(image, script), cmds);
      expect(expected.get("htree /big")).toMatch(/Indirect levels: 1/);
      for (const c of cmds) expect(actual.get(c), `${args.join(" ")}: ${c}`).toBe(expected.get(c));
    }
  }, 120_000);
});
