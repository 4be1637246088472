/**
 * Final deletion of an inode (ext4_evict_inode, ext4_free_inode): every
 * block freed, the xattr block released, the inode taken off the orphan
 * list, i_dtime stamped, and the inode freed in its bitmap.
 */
import type { WorkInode, WriteEngine } from "./engine.js";
import { freeAllBlocks } from "./file.js";
import { orphanRemove } from "./orphan.js";
import { releaseXattrBlock } from "./xattr.js";

/**
 * Deletes `w` for good: its blocks and map blocks, its reference to the
 * xattr block, its orphan entry; then i_links_count 0, i_size 0, i_dtime
 * now, the inode written and freed. Throws Ext4Error (Corrupt when its
 * blocks or bitmap bit were not in use).
 */
export function deleteInode(e: WriteEngine, w: WorkInode): void {
  freeAllBlocks(e, w);
  releaseXattrBlock(e, w);
  orphanRemove(e, w);
  w.f.linksCount = 0;
  w.f.size = 0;
  w.blocks512 = 0;
  w.f.dtime = e.now().sec >>> 0;
  e.store(w);
  e.alloc.freeInode(w.ino, w.isDir());
  e.openCounts.delete(w.ino);
  e.mayInline.delete(w.ino);
}
