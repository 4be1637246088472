/**
 * Orphan cleanup (ext4_orphan_cleanup) at a read-write open, and the
 * deletion of inodes still open at unmount.
 */
import { corrupt } from "../errors.js";
import { inodesPerOrphanBlock } from "../format/orphan.js";
import { ByteView } from "../view.js";
import { deleteInode } from "./delete.js";
import type { WriteEngine } from "./engine.js";
import { setSize } from "./file.js";
import { orphanFileBlocks, orphanRemove } from "./orphan.js";

/**
 * ext4_orphan_cleanup: every orphan an earlier session left (list and
 * orphan file) is deleted when it has no links, or trimmed to its size and
 * taken off the list when it has.
 */
export function cleanupOrphans(e: WriteEngine): void {
  const inos: number[] = [];
  let cur = e.meta.sbGet("s_last_orphan");
  for (let n = 0; cur !== 0; n++) {
    if (n > e.geo.inodesCount)
      throw corrupt("ORPHAN_LOOP", "orphan list does not end", { inode: cur });
    inos.push(cur);
    cur = e.host.readInode(cur).dtime;
  }
  if (e.geo.features.has("orphan_file")) {
    const per = inodesPerOrphanBlock(e.blockSize);
    for (const b of orphanFileBlocks(e)) {
      const v = new ByteView(e.host.readBlock(b.physical, { inode: e.geo.orphanFileInum }).slice());
      for (let i = 0; i < per; i++) {
        const ino = v.u32(i * 4);
        if (ino !== 0) {
          e.orphanSlots.set(ino, { physical: b.physical, slot: i });
          inos.push(ino);
        }
      }
    }
  }
  for (const ino of inos) {
    const w = e.load(ino);
    if (w.f.linksCount === 0) {
      deleteInode(e, w);
    } else {
      orphanRemove(e, w);
      if (w.isReg() || w.isDir()) setSize(e, w, w.f.size, { reserved: true, nofail: true });
      e.store(w);
    }
  }
}

/** Deletes every inode still open after its last link went (unmount), and forgets the open counts. */
export function releaseAll(e: WriteEngine): void {
  for (const [ino, count] of [...e.openCounts]) {
    if (count <= 0) continue;
    const w = e.load(ino);
    if (w.f.linksCount === 0) deleteInode(e, w);
  }
  e.openCounts.clear();
}
