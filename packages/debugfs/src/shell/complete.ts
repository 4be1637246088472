/**
 * Tab completion of paths inside the image: the directory part of the word
 * is resolved like any path argument, and the entries of that directory
 * whose names start with the last part are offered (directories with a
 * trailing slash).
 */
import { type Filesystem, isExt4Error, iterateDirectory, resolvePath } from "@ext4/core";

// A completion never walks more than this many entries (huge directories stay responsive).
const MAX_SCAN = 100_000;

/**
 * Completions of `word` as a path from `cwd`/`root`: each candidate is the
 * whole word completed (`dir/na` → `dir/name`, `dir/sub/`). Returns [] when
 * the directory part does not resolve. Throws only non-Ext4Error failures.
 */
export function completePath(fs: Filesystem, cwd: number, root: number, word: string): string[] {
  const slash = word.lastIndexOf("/");
  const dirPart = slash < 0 ? "" : word.slice(0, slash + 1);
  const prefix = slash < 0 ? word : word.slice(slash + 1);
  try {
    const dir =
      dirPart === ""
        ? fs.readInode(cwd)
        : resolvePath(fs, dirPart, { cwd, root, followFinal: true, maxSymlinks: 8 }).inode;
    const prefixBytes = Buffer.from(prefix, "utf8");
    const out: string[] = [];
    let scanned = 0;
    for (const e of iterateDirectory(fs, dir, { includeDots: false })) {
      if (++scanned > MAX_SCAN) break;
      if (!Buffer.from(e.name).subarray(0, prefixBytes.length).equals(prefixBytes)) continue;
      if (e.name.length < prefixBytes.length) continue;
      const isDir = e.fileType === 2 || (e.fileType === 0 && fs.readInode(e.ino).isDirectory());
      out.push(`${dirPart}${e.nameText}${isDir ? "/" : ""}`);
    }
    return out.sort();
  } catch (e) {
    if (isExt4Error(e)) return [];
    throw e;
  }
}
