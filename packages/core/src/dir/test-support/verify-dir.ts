/**
 * Test-only: a strict structural check of a whole directory, independent of
 * the write code: every block parses with the kernel's entry checks and
 * carries a valid checksum (dirent tail or dx_tail with metadata_csum),
 * i_size is a whole number of blocks, "." and ".." come first, no name is
 * stored twice, and for an htree: root and node checks (limits, 1 ≤ count ≤
 * limit), hashes non-decreasing in every index block and inside the range
 * of the parent entry, every block below i_size reached exactly once (as an
 * index node or as a leaf), all leaves at the depth indirect_levels says,
 * and every name in a leaf inside the leaf's hash range: at least the
 * index hash (bit 0 cleared), below the next leaf's, or equal to it when
 * that leaf carries the continuation bit.
 */
import { type DirContext, dirContext } from "../context.js";
import { checkDxNode, checkDxRoot, decodeDxNode, decodeDxRoot, verifyDxChecksum } from "../dx.js";
import { type RawDirEntry, scanDirEntries, verifyDirBlockChecksum } from "../entry.js";
import { effectiveHashVersion, kernelDxHash } from "../hash.js";
import type { DirHost } from "../host.js";
import { checkOptions, parseOptions } from "../htree.js";
import { inlineDirLayout } from "../inline.js";

/** A stored live entry. */
export interface StoredEntry {
  readonly ino: number;
  readonly fileTypeRaw: number;
}

/** What the check found. */
export interface VerifiedDir {
  readonly kind: "inline" | "linear" | "htree";
  /** Names (latin1 of the bytes) → entry, without "." and "..". */
  readonly entries: Map<string, StoredEntry>;
  readonly parent: number;
  /** Index levels (indirect_levels + 1) of an htree, else 0. */
  readonly levels: number;
  /** Blocks below i_size (0 for inline). */
  readonly blocks: number;
  /** Index entries with the continuation bit. */
  readonly continued: number;
}

/** latin1 key of a name. */
export const key = (name: Uint8Array): string => Buffer.from(name).toString("latin1");

function fail(msg: string): never {
  throw new Error(`directory check: ${msg}`);
}

function records(bytes: Uint8Array, d: DirContext, lblk: number | null, blockSize?: number) {
  const out: RawDirEntry[] = [];
  const opts = parseOptions(d, lblk === null ? d.errorContext : { ...d.errorContext, block: lblk });
  scanDirEntries(bytes, blockSize === undefined ? opts : { ...opts, blockSize }, (e) => {
    out.push({ ...e, name: e.name.slice() });
    return false;
  });
  return out;
}

function addLive(out: Map<string, StoredEntry>, rs: readonly RawDirEntry[]): void {
  for (const r of rs) {
    if (r.inode === 0) continue;
    const k = key(r.name);
    if (k === "." || k === "..") fail(`"${k}" stored as an ordinary entry`);
    if (out.has(k)) fail(`name ${JSON.stringify(k)} stored twice`);
    out.set(k, { ino: r.inode, fileTypeRaw: r.fileTypeRaw });
  }
}

/** Checks directory `ino` of `host` and returns its entries. Throws Error (or Ext4Error) on any violation. */
export function verifyDirectory(host: DirHost, ino: number): VerifiedDir {
  const dir = host.readInode(ino);
  const d = dirContext(host, dir);
  const entries = new Map<string, StoredEntry>();
  if (d.inline) {
    const data = dir.inlineData();
    if (data === null) fail("inline directory without data");
    if (dir.size !== data.length) fail(`inline i_size ${dir.size} != ${data.length}`);
    const layout = inlineDirLayout(data);
    for (const r of layout.regions) addLive(entries, records(r.bytes, d, null, 4096));
    return { kind: "inline", entries, parent: layout.parent, levels: 0, blocks: 0, continued: 0 };
  }
  const bs = d.blockSize;
  if (d.size % bs !== 0 || d.size === 0)
    fail(`i_size ${d.size} is not a positive multiple of ${bs}`);
  const n = d.blockCount;
  const block = (lblk: number): Uint8Array => {
    const b = host.readFileBlock(dir, lblk);
    if (b === null) fail(`hole at block ${lblk}`);
    return b.slice();
  };
  const leafCheck = (lblk: number, b: Uint8Array): RawDirEntry[] => {
    if (d.metadataCsum) verifyDirBlockChecksum(d.inodeSeed(), b, bs, { block: lblk });
    const rs = records(b, d, lblk);
    // With metadata_csum the chain ends with the 12-byte tail, which is not an entry.
    return d.metadataCsum ? rs.slice(0, -1) : rs;
  };
  const b0 = block(0);
  const first = records(b0, d, 0);
  const [dot, dotdot] = first;
  if (dot === undefined || key(dot.name) !== "." || dot.inode !== ino) fail("no '.' first");
  if (dotdot === undefined || key(dotdot.name) !== ".." || dotdot.inode === 0) {
    fail("no '..' second");
  }
  if (!d.indexed) {
    addLive(entries, leafCheck(0, b0).slice(2));
    for (let lblk = 1; lblk < n; lblk++) addLive(entries, leafCheck(lblk, block(lblk)));
    return { kind: "linear", entries, parent: dotdot.inode, levels: 0, blocks: n, continued: 0 };
  }

  const opts = checkOptions(d);
  if (d.metadataCsum) verifyDxChecksum(d.inodeSeed(), b0, bs);
  const root = decodeDxRoot(b0);
  checkDxRoot(root, opts);
  const version = effectiveHashVersion(root.hashVersion, host.unsignedHash);
  const seen = new Set<number>([0]);
  let continued = 0;
  const visit = (lblk: number): Uint8Array => {
    if (lblk <= 0 || lblk >= n) fail(`index points at block ${lblk} outside 1..${n - 1}`);
    if (seen.has(lblk)) fail(`block ${lblk} reached twice`);
    seen.add(lblk);
    return block(lblk);
  };
  // lo/hi: the hash range of this subtree; hiCont: the entry after it continues hi.
  const walk = (
    es: readonly { hash: number; block: number }[],
    depth: number,
    lo: number,
    hi: number,
    hiCont: boolean,
  ): void => {
    for (let j = 0; j < es.length; j++) {
      const e = es[j]!;
      const h = j === 0 ? lo : e.hash;
      if (j > 0 && (e.hash < es[j - 1]!.hash || e.hash < lo || e.hash > hi)) {
        fail(`index hash 0x${e.hash.toString(16)} out of order at depth ${depth}`);
      }
      if (j > 0 && e.hash & 1) continued++;
      const next = es[j + 1];
      const nHi = next === undefined ? hi : next.hash;
      const nCont = next === undefined ? hiCont : (next.hash & 1) === 1;
      const b = visit(e.block);
      if (depth < root.indirectLevels) {
        if (d.metadataCsum) verifyDxChecksum(d.inodeSeed(), b, bs, { block: e.block });
        const node = decodeDxNode(b);
        checkDxNode(node, e.block, opts);
        walk(node.entries, depth + 1, h, nHi, nCont);
        continue;
      }
      const rs = leafCheck(e.block, b);
      const min = (h & ~1) >>> 0;
      const max = nHi >= 2 ** 32 ? 2 ** 32 : (nHi & ~1) >>> 0;
      for (const r of rs) {
        if (r.inode === 0) continue;
        const hash = kernelDxHash(version, r.name, host.hashSeed).hash;
        const ok = hash >= min && (hash < max || (hash === max && nCont));
        if (!ok) {
          fail(
            `hash 0x${hash.toString(16)} of ${JSON.stringify(key(r.name))} outside leaf ${e.block} range [0x${min.toString(16)}, 0x${max.toString(16)}${nCont ? "]" : ")"}`,
          );
        }
      }
      addLive(entries, rs);
    }
  };
  walk(root.entries, 0, 0, 2 ** 32, false);
  if (seen.size !== n) fail(`${n - seen.size} blocks not reached from the index`);
  return {
    kind: "htree",
    entries,
    parent: dotdot.inode,
    levels: root.indirectLevels + 1,
    blocks: n,
    continued,
  };
}
