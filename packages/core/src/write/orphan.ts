/**
 * Orphans (fs/ext4/orphan.c): inodes whose last link is gone while they are
 * still open. They are kept in the orphan file when that feature is on (a
 * free slot in one of its blocks, block checksum updated) and otherwise on
 * the s_last_orphan list linked through i_dtime; deleted at their last
 * release, at unmount, or — when an earlier session died — at the next
 * read-write open (ext4_orphan_cleanup), which also trims blocks past EOF
 * of orphans that still have links.
 */
import { corrupt } from "../errors.js";
import { inodeCsumSeed } from "../format/inode.js";
import {
  EXT4_ORPHAN_BLOCK_MAGIC,
  inodesPerOrphanBlock,
  ORPHAN_BLOCK_TAIL,
  orphanBlockChecksum,
} from "../format/orphan.js";
import { ByteView } from "../view.js";
import type { WorkInode, WriteEngine } from "./engine.js";

/** The orphan file's blocks (logical and physical), in order. Throws Corrupt ORPHAN_FILE_HOLE. */
export function orphanFileBlocks(e: WriteEngine): Array<{ lblk: number; physical: number }> {
  const sb = e.geo;
  const inode = e.host.readInode(sb.orphanFileInum);
  const n = Math.floor(inode.size / sb.blockSize);
  const out: Array<{ lblk: number; physical: number }> = [];
  if (n === 0) return out;
  for (const run of e.host.mapBlocks(inode, 0, n)) {
    if (run.kind === "hole" || run.unwritten) {
      throw corrupt("ORPHAN_FILE_HOLE", `orphan file block ${run.logical} is not written`, {
        inode: sb.orphanFileInum,
      });
    }
    for (let i = 0; i < run.length; i++)
      out.push({ lblk: run.logical + i, physical: run.physical + i });
  }
  return out;
}

/** Writes slot `slot` of orphan block `physical` and the block's checksum. */
function setSlot(e: WriteEngine, physical: number, slot: number, ino: number): void {
  const sb = e.geo;
  e.alloc.checkFileBlocks(physical, 1, { inode: sb.orphanFileInum });
  // Read the orphan file's inode first: nothing may touch the cache between
  // taking the block for write and declaring it dirty.
  const seed = sb.features.metadataCsum
    ? inodeCsumSeed(sb.csumSeed, sb.orphanFileInum, e.host.readInode(sb.orphanFileInum).generation)
    : null;
  const buf = e.blockForWrite(physical, { inode: sb.orphanFileInum });
  const v = new ByteView(buf, { inode: sb.orphanFileInum, block: physical });
  v.setU32(slot * 4, ino);
  if (seed !== null) {
    const tail = v.sub(buf.length - ORPHAN_BLOCK_TAIL.size, ORPHAN_BLOCK_TAIL.size);
    ORPHAN_BLOCK_TAIL.set(tail, "ob_checksum", orphanBlockChecksum(seed, physical, buf));
  }
  e.dirty(physical);
}

/** Finds `ino` in the orphan file: its block and slot, or null. */
function findSlot(e: WriteEngine, want: number): { physical: number; slot: number } | null {
  const per = inodesPerOrphanBlock(e.blockSize);
  for (const b of orphanFileBlocks(e)) {
    const v = new ByteView(e.host.readBlock(b.physical, { inode: e.geo.orphanFileInum }));
    if (v.u32(e.blockSize - ORPHAN_BLOCK_TAIL.size) !== EXT4_ORPHAN_BLOCK_MAGIC) continue;
    for (let i = 0; i < per; i++)
      if (v.u32(i * 4) === want) return { physical: b.physical, slot: i };
  }
  return null;
}

/**
 * Puts `w` on the orphan list (ext4_orphan_add): a free orphan file slot
 * when the feature is on, else the head of the s_last_orphan chain with
 * i_dtime pointing at the old head (changing `w`, which the caller stores).
 */
export function orphanAdd(e: WriteEngine, w: WorkInode): void {
  if (e.orphanSlots.has(w.ino)) return;
  const sb = e.geo;
  if (sb.features.has("orphan_file")) {
    const slot = findSlot(e, 0);
    if (slot !== null) {
      setSlot(e, slot.physical, slot.slot, w.ino);
      e.orphanSlots.set(w.ino, slot);
      return;
    }
    // The orphan file is full: the kernel falls back to the list.
  }
  if (onList(e, w.ino)) return;
  w.f.dtime = e.meta.sbGet("s_last_orphan");
  e.meta.sbSet("s_last_orphan", w.ino);
}

/** True when `ino` is on the s_last_orphan chain (a walk bounded by the inode count). */
function onList(e: WriteEngine, ino: number): boolean {
  let cur = e.meta.sbGet("s_last_orphan");
  for (let n = 0; cur !== 0 && n <= e.geo.inodesCount; n++) {
    if (cur === ino) return true;
    cur = e.host.readInode(cur).dtime;
  }
  return false;
}

/**
 * Takes `w` off the orphan file or the s_last_orphan chain
 * (ext4_orphan_del): the predecessor's i_dtime (or s_last_orphan) skips it
 * and its own i_dtime is cleared. A no-op when it is on neither. Throws
 * Corrupt (ORPHAN_LOOP) for a chain longer than the inode count.
 */
export function orphanRemove(e: WriteEngine, w: WorkInode): void {
  const slot =
    e.orphanSlots.get(w.ino) ?? (e.geo.features.has("orphan_file") ? findSlot(e, w.ino) : null);
  if (slot !== null) {
    setSlot(e, slot.physical, slot.slot, 0);
    e.orphanSlots.delete(w.ino);
    return;
  }
  let prev = 0;
  let cur = e.meta.sbGet("s_last_orphan");
  for (let n = 0; cur !== 0; n++) {
    if (n > e.geo.inodesCount)
      throw corrupt("ORPHAN_LOOP", "orphan list does not end", { inode: cur });
    const next = cur === w.ino ? w.f.dtime : e.host.readInode(cur).dtime;
    if (cur === w.ino) {
      if (prev === 0) e.meta.sbSet("s_last_orphan", next);
      else {
        const p = e.load(prev);
        p.f.dtime = next;
        e.store(p);
      }
      w.f.dtime = 0;
      return;
    }
    prev = cur;
    cur = next;
  }
}
