/**
 * Populated fixture images for the reader tests, built with the real tools:
 * a host directory tree (sparse and fragmented files, a big file, symlinks
 * of every kind, a device node, a subdirectory) copied in by `mke2fs -d`,
 * then xattrs, a POSIX ACL and unwritten extents added with `debugfs -w`.
 * Images are built once per test process and memoised by kind.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { debugfsScript, mkfs, scratchDir } from "./mkfs.js";

/** The fixture variants: mke2fs type and options. */
export const FIXTURE_KINDS = {
  ext4: { type: "ext4", args: ["-b", "4096"], size: 144 << 20 },
  "ext4-1k": { type: "ext4", args: ["-b", "1024"], size: 48 << 20 },
  "ext4-no64": { type: "ext4", args: ["-b", "4096", "-O", "^64bit"], size: 144 << 20 },
  "ext4-nocsum": {
    type: "ext4",
    args: ["-b", "1024", "-O", "^metadata_csum,uninit_bg"],
    size: 48 << 20,
  },
  "ext4-inline": { type: "ext4", args: ["-b", "4096", "-O", "inline_data"], size: 144 << 20 },
  "ext4-bigalloc": {
    type: "ext4",
    args: ["-b", "1024", "-O", "bigalloc", "-C", "16384"],
    size: 160 << 20,
  },
  ext3: { type: "ext3", args: ["-b", "1024"], size: 48 << 20 },
  ext2: { type: "ext2", args: ["-b", "1024"], size: 48 << 20 },
} as const;

/** A fixture kind. */
export type FixtureKind = keyof typeof FIXTURE_KINDS;

/** Deterministic pseudo-random bytes (xorshift), so fixtures do not depend on /dev/urandom. */
export function pseudoRandom(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Paths of the interesting files in every fixture (absolute inside the image). */
export const FIXTURE_FILES = {
  small: "/small.txt",
  medium: "/medium.txt",
  empty: "/empty",
  big: "/big.bin",
  sparse: "/sparse.bin",
  frag: "/frag.bin",
  far: "/far.bin",
  shortLink: "/short-link",
  longLink: "/long-link",
  dir: "/sub",
  inner: "/sub/inner.txt",
  fifo: "/fifo",
  device: "/null-dev",
} as const;

let tree: string | undefined;

/** The host directory copied into every fixture (built once). */
export function fixtureTree(): string {
  if (tree !== undefined) return tree;
  const dir = join(scratchDir(), "tree");
  mkdirSync(join(dir, "sub"), { recursive: true });
  writeFileSync(join(dir, "small.txt"), "hello world\n");
  writeFileSync(join(dir, "medium.txt"), "m".repeat(100));
  writeFileSync(join(dir, "empty"), "");
  writeFileSync(join(dir, "big.bin"), pseudoRandom(1 << 20, 7));
  writeFileSync(join(dir, "sub", "inner.txt"), "inner file\n");
  // A sparse file: 16 KiB written every 96 KiB in a 4 MiB file.
  const sparse = openSync(join(dir, "sparse.bin"), "w");
  for (let i = 0; i < 40; i++) writeSync(sparse, pseudoRandom(16384, 100 + i), 0, 16384, i * 98304);
  writeSync(sparse, new Uint8Array([1]), 0, 1, (4 << 20) - 1);
  closeSync(sparse);
  // 400 fragments of 4 KiB with 4 KiB holes: a depth-2 extent tree with 1 KiB blocks.
  const frag = openSync(join(dir, "frag.bin"), "w");
  for (let i = 0; i < 400; i++) writeSync(frag, pseudoRandom(4096, 1000 + i), 0, 4096, i * 8192);
  closeSync(frag);
  // 4 KiB at 80 MiB: reaches the triple-indirect block with 1 KiB blocks.
  const far = openSync(join(dir, "far.bin"), "w");
  writeSync(far, pseudoRandom(4096, 5), 0, 4096, 80 << 20);
  closeSync(far);
  symlinkSync("small.txt", join(dir, "short-link"));
  symlinkSync(`${"d".repeat(90)}/${"e".repeat(40)}/target`, join(dir, "long-link"));
  execFileSync("mkfifo", [join(dir, "fifo")]);
  execFileSync("mknod", [join(dir, "null-dev"), "c", "1", "3"]);
  tree = dir;
  return dir;
}

const built = new Map<FixtureKind, string>();

/** The VFS-format ACL (posix_acl_xattr v2) debugfs's ea_set converts to ext4's disk form. */
function aclXattr(): Uint8Array {
  const entries: Array<[number, number, number]> = [
    [0x01, 6, 0xffffffff],
    [0x02, 4, 1000],
    [0x04, 4, 0xffffffff],
    [0x08, 5, 2000],
    [0x10, 5, 0xffffffff],
    [0x20, 4, 0xffffffff],
  ];
  const out = new Uint8Array(4 + entries.length * 8);
  const v = new DataView(out.buffer);
  v.setUint32(0, 2, true);
  entries.forEach(([tag, perm, id], i) => {
    v.setUint16(4 + i * 8, tag, true);
    v.setUint16(6 + i * 8, perm, true);
    v.setUint32(8 + i * 8, id, true);
  });
  return out;
}

/**
 * The fixture image of `kind` (built on first use): the tree above, plus
 * user./trusted. xattrs (one too big for the inode, so an xattr block), an
 * access ACL on /sub, and (extent kinds) an unwritten extent in sparse.bin.
 */
export function fixture(kind: FixtureKind): string {
  const have = built.get(kind);
  if (have !== undefined) return have;
  const spec = FIXTURE_KINDS[kind];
  const image = mkfs({
    type: spec.type,
    args: [...spec.args],
    from: fixtureTree(),
    size: spec.size,
  });
  const big = join(scratchDir(), "xattr-big.txt");
  writeFileSync(big, "v".repeat(700));
  const acl = join(scratchDir(), "acl.bin");
  writeFileSync(acl, aclXattr());
  const cmds = [
    "ea_set /small.txt user.comment hello",
    "ea_set /small.txt trusted.num 0123456789",
    `ea_set -f ${big} /small.txt user.big`,
    "ea_set /big.bin user.a 1",
    `ea_set -f ${acl} /sub system.posix_acl_access`,
  ];
  if (kind !== "ext2" && kind !== "ext3") cmds.push("fallocate /sparse.bin 20 27");
  debugfsScript(image, cmds);
  built.set(kind, image);
  return image;
}
