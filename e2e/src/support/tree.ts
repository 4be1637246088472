/**
 * A generated source tree for fixture images: deep paths, a huge directory,
 * sparse and multi-extent files, short and long symlinks, hard links, xattrs,
 * fifos, device nodes, odd owners, modes and times. Deterministic: the same
 * options always produce the same tree.
 */
import { execFileSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  closeSync,
  linkSync,
  lutimesSync,
  mkdirSync,
  openSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** What to put in the tree. */
export interface TreeOptions {
  /** Entries in the big directory (`/big`). */
  bigDirEntries: number;
  /** Include a 5 MiB file fragmented into many extents and a sparse file with a far tail. */
  largeFiles: boolean;
}

/** A tiny deterministic PRNG (mulberry32) so trees are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function bytesOf(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) >>> 0;
  return b;
}

function writeFile(path: string, data: Buffer, at = 0): void {
  const fd = openSync(path, "w");
  try {
    writeSync(fd, data, 0, data.length, at);
  } finally {
    closeSync(fd);
  }
}

const T0 = 1_700_000_000;

/** Builds the tree under `root` (which must exist and be empty). Requires root for chown/mknod. */
export function buildTree(root: string, opts: TreeOptions): void {
  const rand = rng(42);

  // Plain files of assorted sizes, including block-boundary cases.
  mkdirSync(join(root, "files"));
  const sizes = [
    0, 1, 59, 60, 61, 511, 1023, 1024, 1025, 4095, 4096, 4097, 12_288, 65_537, 300_000,
  ];
  for (const [i, size] of sizes.entries()) {
    const p = join(root, "files", `f${i}-${size}`);
    writeFile(p, bytesOf(rand, size));
    chmodSync(p, [0o644, 0o600, 0o755, 0o640, 0o444][i % 5]!);
    chownSync(p, (i * 37) % 3000, (i * 11) % 2000);
    utimesSync(p, T0 + i * 3601, T0 + i * 7207);
  }
  // Far-future and pre-1970 times (post-2038 needs the extra epoch bits).
  writeFile(join(root, "files", "y2040"), Buffer.from("future\n"));
  utimesSync(join(root, "files", "y2040"), 2_208_988_800, 2_208_988_800);
  writeFile(join(root, "files", "y1960"), Buffer.from("past\n"));
  utimesSync(join(root, "files", "y1960"), -315_619_200, -315_619_200);
  // Special mode bits: the image keeps them; rdump must only restore them when asked.
  writeFile(join(root, "files", "setuid"), Buffer.from("#!/bin/sh\n"));
  chmodSync(join(root, "files", "setuid"), 0o4755);
  writeFile(join(root, "files", "setgid"), Buffer.from("#!/bin/sh\n"));
  chmodSync(join(root, "files", "setgid"), 0o2755);
  mkdirSync(join(root, "files", "sticky"));
  chmodSync(join(root, "files", "sticky"), 0o1777);

  // Sparse files: holes at the start, middle and end.
  mkdirSync(join(root, "sparse"));
  writeFile(join(root, "sparse", "tail"), Buffer.from("end"), 10 * 1024 * 1024);
  {
    const fd = openSync(join(root, "sparse", "islands"), "w");
    for (let k = 0; k < 8; k++) writeSync(fd, bytesOf(rand, 5000), 0, 5000, k * 200_000 + 7);
    closeSync(fd);
  }

  // Deep paths.
  let deep = join(root, "deep");
  for (let d = 0; d < 40; d++) {
    deep = join(deep, `level-${d}`);
  }
  mkdirSync(deep, { recursive: true });
  writeFile(join(deep, "bottom.txt"), Buffer.from("bottom of the well\n"));

  // Symlinks: fast (< 60 bytes), block (≥ 60), dangling, to a directory, a loop.
  mkdirSync(join(root, "links"));
  symlinkSync("../files/f1-1", join(root, "links", "short"));
  symlinkSync(`../${"x".repeat(70)}/${"y".repeat(100)}`, join(root, "links", "long"));
  symlinkSync(`/${"z".repeat(300)}`, join(root, "links", "longer"));
  symlinkSync("nowhere", join(root, "links", "dangling"));
  symlinkSync("../deep", join(root, "links", "todir"));
  symlinkSync("loop-b", join(root, "links", "loop-a"));
  symlinkSync("loop-a", join(root, "links", "loop-b"));
  lutimesSync(join(root, "links", "short"), T0, T0);

  // Hard links across directories.
  mkdirSync(join(root, "hard"));
  writeFile(join(root, "hard", "a"), Buffer.from("linked\n"));
  linkSync(join(root, "hard", "a"), join(root, "hard", "b"));
  linkSync(join(root, "hard", "a"), join(root, "files", "hard-c"));

  // Special files.
  mkdirSync(join(root, "special"));
  execFileSync("mkfifo", [join(root, "special", "fifo")]);
  execFileSync("mknod", [join(root, "special", "null"), "c", "1", "3"]);
  execFileSync("mknod", [join(root, "special", "loop9"), "b", "7", "9"]);
  execFileSync("mknod", [join(root, "special", "bigdev"), "c", "300", "70000"]);

  // Extended attributes (user., trusted., security.) and POSIX ACLs.
  mkdirSync(join(root, "xattr"));
  const x = join(root, "xattr", "small");
  writeFile(x, Buffer.from("has xattrs\n"));
  execFileSync("setfattr", ["-n", "user.colour", "-v", "blue", x]);
  execFileSync("setfattr", ["-n", "trusted.secret", "-v", "0x00ff10", x]);
  execFileSync("setfattr", ["-n", "security.label", "-v", "system_u:object_r", x]);
  const big = join(root, "xattr", "big");
  writeFile(big, Buffer.from("big xattr\n"));
  execFileSync("setfattr", ["-n", "user.big", "-v", `0x${"ab".repeat(450)}`, big]);
  const acl = join(root, "xattr", "acl");
  writeFile(acl, Buffer.from("acl\n"));
  execFileSync("setfacl", ["-m", "u:1234:rw,g:567:r,m::rw", acl]);
  mkdirSync(join(root, "xattr", "acldir"));
  execFileSync("setfacl", ["-d", "-m", "u:1234:rwx", join(root, "xattr", "acldir")]);

  // Odd names.
  mkdirSync(join(root, "names"));
  for (const n of [
    "sp ace",
    "ünïcödé",
    "tab\there",
    "x".repeat(255),
    "-dash",
    "a.b.c",
    "%percent",
  ]) {
    writeFile(join(root, "names", n), Buffer.from(n));
  }

  // The huge directory (htree; two levels with 1 KiB blocks).
  mkdirSync(join(root, "big"));
  for (let i = 0; i < opts.bigDirEntries; i++) {
    const p = join(
      root,
      "big",
      `entry-${i.toString().padStart(6, "0")}-${(i * 2_654_435_761) % 1_000_003}`,
    );
    closeSync(openSync(p, "w"));
  }

  if (opts.largeFiles) {
    // A file written in interleaved pieces so mke2fs -d lays it out in many extents is
    // not guaranteed; a 5 MiB file with a hole every 64 KiB is: each island is an extent.
    const fd = openSync(join(root, "files", "fragmented"), "w");
    for (let k = 0; k < 80; k++) writeSync(fd, bytesOf(rand, 32_768), 0, 32_768, k * 65_536);
    closeSync(fd);
  }
  utimesSync(root, T0, T0);
}
