/**
 * Test-only fixture images for the directory tests, made by the real tools:
 * a host tree copied in by `mke2fs -d`, indexed by `e2fsck -fyD`, grown with
 * `debugfs -w` (which inserts through the htree, so a 20,000-entry directory
 * takes a fraction of a second instead of mke2fs's quadratic linear
 * inserts), and given deleted entries by `debugfs rm`. Every image must pass
 * `e2fsck -fn` before a test uses it.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { e2fsck, mkfs, scratchDir } from "../../test-support/mkfs.js";
import { debugfsScript } from "./oracle.js";

const enc = new TextEncoder();
let serial = 0;
const created: string[] = [];

/** Deletes every image this module built (call from afterAll: the scratch directory outlives workers). */
export function removeFixtures(): void {
  for (const p of created.splice(0)) rmSync(p, { force: true });
}

/** Names with awkward bytes: every single byte but NUL, '/' and '.', and assorted multi-byte ones. */
export function oddNames(): Uint8Array[] {
  const names: Uint8Array[] = [];
  for (let c = 1; c < 256; c++) if (c !== 0x2f && c !== 0x2e) names.push(Uint8Array.of(c));
  for (const s of [
    "...",
    " lead",
    "trail ",
    'quo"te',
    "back\\slash",
    "tab\tx",
    "new\nline",
    "caf\u00e9-utf8",
    "\u65e5\u672c\u8a9e",
    "n".repeat(255),
    "m".repeat(254),
    "-dash",
    "#hash",
  ]) {
    names.push(enc.encode(s));
  }
  names.push(Uint8Array.of(0xff, 0xfe, 0x80, 0x7f));
  return names;
}

/** Options of {@link buildImage}. */
export interface ImageSpec {
  readonly type?: "ext2" | "ext3" | "ext4";
  /** Extra mke2fs arguments. */
  readonly args?: readonly string[];
  readonly size?: number;
  /** Entries in /huge (first 200 via mke2fs -d, the rest through debugfs after indexing). */
  readonly huge?: number;
  /** Run e2fsck -fyD after populating (builds htree indexes where dir_index is on). */
  readonly index?: boolean;
  /** Set EXT2_FLAGS_UNSIGNED_HASH before indexing. */
  readonly unsignedHash?: boolean;
  /** Skip /odd (e.g. for ext2 without filetype, where it adds nothing new). */
  readonly noOdd?: boolean;
  /** Run e2fsck -fyD once more at the end, so the htrees are e2fsck's compact rebuild. */
  readonly reindexAfter?: boolean;
}

/** The directories every fixture has, and what the tests expect of them. */
export const TREE = {
  hugePrefix: "entry_with_a_longish_name_",
  deletedKept: ["f0", "f1", "f2", "f4", "f5", "f6", "f8", "f9"],
  deletedRemoved: ["f3", "f7"],
} as const;

function hostTree(spec: ImageSpec): string {
  const root = join(scratchDir(), `tree-${process.pid}-${serial++}`);
  const mk = (p: string) => mkdirSync(join(root, p), { recursive: true });
  mk("small");
  mk("empty");
  mk("deep/a/b/c/d/e");
  mk("links");
  mk("deleted");
  mk("huge");
  writeFileSync(join(root, "small/one"), "1");
  writeFileSync(join(root, "small/two"), "22");
  writeFileSync(join(root, "deep/a/b/c/d/e/leaf.txt"), "leaf");
  for (let i = 0; i < 10; i++) writeFileSync(join(root, `deleted/f${i}`), String(i));
  symlinkSync("../deep/a", join(root, "links/rel"));
  symlinkSync("/deep/a/b", join(root, "links/abs"));
  symlinkSync("loop2", join(root, "links/loop1"));
  symlinkSync("loop1", join(root, "links/loop2"));
  symlinkSync("nowhere", join(root, "links/dangling"));
  symlinkSync("../links/rel/b/c", join(root, "links/chain0"));
  symlinkSync("chain0/d", join(root, "links/chain1"));
  symlinkSync(`/${"deep/".repeat(1)}a/b/c/d/e/leaf.txt`, join(root, "links/tofile"));
  // A long target forces a block symlink rather than a fast one.
  symlinkSync(`../deep/a/${"./".repeat(40)}b`, join(root, "links/longtarget"));
  if (!(spec.noOdd ?? false)) {
    mk("odd");
    for (const n of oddNames())
      writeFileSync(Buffer.concat([Buffer.from(join(root, "odd/")), n]), "");
  }
  const huge = Math.min(spec.huge ?? 0, 200);
  for (let i = 1; i <= huge; i++) {
    writeFileSync(join(root, `huge/${TREE.hugePrefix}${String(i).padStart(6, "0")}`), "");
  }
  return root;
}

/** Builds a fixture image and returns its path; throws if e2fsck -fn does not pass it. */
export function buildImage(spec: ImageSpec): string {
  const tree = hostTree(spec);
  let image: string;
  try {
    image = mkfs({
      type: spec.type ?? "ext4",
      size: spec.size ?? 64 << 20,
      args: ["-N", "25000", ...(spec.args ?? [])],
      from: tree,
    });
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  created.push(image);
  if (spec.unsignedHash ?? false) debugfsScript([enc.encode("ssv flags 2")], image, true);
  if (spec.index ?? false) fsckFix(image);
  const lines: Uint8Array[] = [enc.encode("cd /huge")];
  for (let i = 201; i <= (spec.huge ?? 0); i++) {
    lines.push(enc.encode(`mknod ${TREE.hugePrefix}${String(i).padStart(6, "0")} p`));
  }
  lines.push(enc.encode("cd /deleted"));
  for (const n of TREE.deletedRemoved) lines.push(enc.encode(`rm ${n}`));
  debugfsScript(lines, image, true);
  if (spec.reindexAfter ?? false) fsckFix(image);
  const check = e2fsck(image);
  if (check.status !== 0) throw new Error(`fixture fails e2fsck -fn:\n${check.output}`);
  return image;
}

/** e2fsck -fyD: rebuilds and indexes directories; exit status 1 (fixed) is expected. */
function fsckFix(image: string): void {
  try {
    execFileSync("e2fsck", ["-fyD", image], { stdio: "ignore" });
  } catch (e) {
    const status = (e as { status?: number }).status;
    if (status !== 1) throw e;
  }
}

/**
 * An inline_data image whose directories were filled by the kernel through
 * a loop mount (the kernel, unlike libext2fs, continues inline directories
 * into the system.data xattr): /spill (entries in i_block and system.data),
 * /holes (the same with some entries removed again), /grown (converted to
 * a block directory). Needs root; the mount is undone even when a step fails.
 */
export function kernelInlineImage(): string {
  const image = mkfs({
    type: "ext4",
    size: 16 << 20,
    args: ["-b", "4096", "-O", "inline_data", "-I", "256"],
  });
  created.push(image);
  const mnt = join(scratchDir(), `mnt-${process.pid}-${serial++}`);
  mkdirSync(mnt);
  execFileSync("mount", ["-o", "loop", image, mnt]);
  try {
    for (const d of ["spill", "holes", "grown"]) mkdirSync(join(mnt, d));
    for (let i = 1; i <= 6; i++) writeFileSync(join(mnt, `spill/name_${i}`), "");
    for (let i = 1; i <= 7; i++) writeFileSync(join(mnt, `holes/e-${i}`), "");
    for (const i of [2, 5, 6]) rmSync(join(mnt, `holes/e-${i}`));
    for (let i = 1; i <= 60; i++) writeFileSync(join(mnt, `grown/file-number-${i}`), "");
  } finally {
    execFileSync("umount", [mnt]);
    rmSync(mnt, { recursive: true, force: true });
  }
  const check = e2fsck(image);
  if (check.status !== 0) throw new Error(`kernel fixture fails e2fsck -fn:\n${check.output}`);
  return image;
}
