/**
 * The feature matrix of fixture images, built with the real mke2fs from the
 * generated tree and cached under `.fixtures/` (keyed by a version string, so
 * changing the generator rebuilds them). Building is atomic: a half-built
 * image is never picked up by a later run.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { buildTree, type TreeOptions } from "./tree.js";

const here = dirname(fileURLToPath(import.meta.url));
/** Repository root. */
export const repoRoot = resolve(here, "../../..");
const fixtures = join(repoRoot, ".fixtures");
/** Bump when the tree or the matrix changes. */
const VERSION = "v2";

/** One row of the feature matrix. */
export interface ImageSpec {
  name: string;
  type: "ext2" | "ext3" | "ext4";
  args: string[];
  sizeMiB: number;
}

/** The feature matrix every e2e suite runs over. */
export const MATRIX: readonly ImageSpec[] = [
  { name: "ext4", type: "ext4", args: [], sizeMiB: 96 },
  { name: "ext4-1k", type: "ext4", args: ["-b", "1024"], sizeMiB: 96 },
  { name: "ext4-no64bit", type: "ext4", args: ["-O", "^64bit"], sizeMiB: 96 },
  { name: "ext4-nocsum", type: "ext4", args: ["-O", "^metadata_csum"], sizeMiB: 96 },
  { name: "ext4-inline", type: "ext4", args: ["-O", "inline_data"], sizeMiB: 96 },
  { name: "ext3", type: "ext3", args: [], sizeMiB: 96 },
  { name: "ext2", type: "ext2", args: [], sizeMiB: 96 },
];

/** The tree every fixture image is populated from. */
export const TREE_OPTIONS: TreeOptions = { bigDirEntries: 20_000, largeFiles: true };

/** The fixed mke2fs.conf the fixtures are made with. */
export const MKE2FS_CONFIG = join(repoRoot, "e2e", "fixtures", "mke2fs.conf");

/** Path of the generated source tree, built on first use. */
export function sourceTree(): string {
  const dir = join(fixtures, `tree-${VERSION}`);
  if (!existsSync(dir)) {
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    buildTree(tmp, TREE_OPTIONS);
    renameSync(tmp, dir);
  }
  return dir;
}

/** Path of the (read-only, shared) image for `spec`, built on first use. Copy it before writing. */
export function image(spec: ImageSpec): string {
  const path = join(fixtures, `${spec.name}-${VERSION}.img`);
  if (!existsSync(path)) {
    const tree = sourceTree();
    const tmp = `${path}.tmp-${process.pid}`;
    rmSync(tmp, { force: true });
    execFileSync("truncate", ["-s", `${spec.sizeMiB}M`, tmp]);
    execFileSync(
      "mke2fs",
      [
        "-q",
        "-F",
        "-t",
        spec.type,
        "-U",
        "6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
        "-E",
        "hash_seed=0d1e2f30-4152-4637-8899-aabbccddeeff",
        "-L",
        spec.name,
        "-N",
        "32768",
        ...spec.args,
        "-d",
        tree,
        tmp,
      ],
      {
        stdio: ["ignore", "ignore", "pipe"],
        env: { ...process.env, MKE2FS_CONFIG, E2FSPROGS_FAKE_TIME: "1700000000" },
      },
    );
    renameSync(tmp, path);
  }
  return path;
}
