/**
 * Directory blocks for the directory module (DirWriteHost.growDirectory):
 * a new zeroed block mapped at a logical block, as ext4_append does.
 */
import { corrupt, fsError } from "../errors.js";
import type { Inode } from "../inode.js";
import { fileMap } from "./blockmap.js";
import type { WriteEngine } from "./engine.js";

/**
 * Maps a new zeroed block at `lblk` of directory `ino` (near the block
 * before it, else the inode's group), grows i_size to cover it and returns
 * the re-read inode. Without large_dir a directory stops at 2 GiB (e2fsck's
 * limit). Throws NotADirectory, InvalidArgument (inline directory), Corrupt
 * (DIR_BLOCK_ALREADY_MAPPED), FileTooBig, NoSpace.
 */
export function growDir(e: WriteEngine, ino: number, lblk: number): Inode {
  const w = e.load(ino);
  const ctx = { inode: ino };
  if (!w.isDir()) throw fsError("NotADirectory", "NOT_A_DIRECTORY", "not a directory", ctx);
  if (w.hasInline()) throw fsError("InvalidArgument", "INLINE_NO_BLOCKS", "inline directory", ctx);
  const sb = e.geo;
  const limit = sb.features.has("large_dir") ? 2 ** 32 - 1 : 2 ** (21 - sb.logBlockSize);
  if (!(Number.isSafeInteger(lblk) && lblk >= 0) || lblk + 1 > limit) {
    throw fsError("FileTooBig", "DIR_TOO_BIG", `directory block ${lblk} past the limit`, ctx);
  }
  const map = fileMap(e, w, e.policy);
  const [run] = map.map(lblk, 1);
  if (run !== undefined && run.kind === "mapped") {
    throw corrupt("DIR_BLOCK_ALREADY_MAPPED", `directory block ${lblk} is already mapped`, ctx);
  }
  const goal = map.goalFor(lblk) ?? e.alloc.inodeGoal(ino, false);
  const r = e.alloc.allocBlocks(goal, 1, e.policy);
  try {
    map.insert(lblk, r.start, 1, false);
  } catch (err) {
    e.alloc.freeBlocks(r.start, 1, ctx);
    throw err;
  }
  w.blocks512 += sb.blockSize / 512;
  e.zeroBlock(r.start);
  w.f.size = Math.max(w.f.size, (lblk + 1) * sb.blockSize);
  return e.store(w);
}
