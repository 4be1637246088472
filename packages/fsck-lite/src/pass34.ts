/**
 * Pass 3 (directory connectivity: every directory reachable from the root,
 * '..' agreeing with the parent) and pass 4 (reference counts: i_links_count
 * against the entries pass 2 found; inodes in use that nothing names).
 */
import { viewOf } from "@ext4/core";
import { Bitmap } from "./bitmap.js";
import { type CheckContext, IS } from "./context.js";
import { decodeInode, FL, S_IFDIR, S_IFREG, typeOf } from "./inode.js";
import { processBadInode } from "./pass2.js";

const ROOT_INO = 2;
const LINK_MAX = 65000;

/** Runs pass 3. Returns false when e2fsck would abort (no usable root). */
export function pass3(ctx: CheckContext): boolean {
  const rootState = ctx.istate[ROOT_INO]!;
  if ((rootState & IS.USED) === 0) {
    ctx.report("NO_ROOT");
    return false;
  }
  if ((rootState & IS.DIR) === 0) {
    ctx.report("ROOT_NOT_DIR_ABORT");
    return false;
  }
  const done = new Bitmap(ctx.g.inodesCount + 1);
  done.set(ROOT_INO);
  const dirs = [...ctx.dirs].sort((a, b) => a - b);
  for (const dir of dirs) {
    if ((ctx.istate[dir]! & IS.DIR) === 0) continue;
    checkDirectory(ctx, dir, done);
  }
  checkLostFound(ctx);
  // e2fsck -n still runs pass 3A over the directories marked for rebuilding
  // in pass 2, where duplicate names are reported again.
  for (const dir of [...ctx.dupNameDirs].sort((a, b) => a - b))
    ctx.report("DIR_NON_UNIQUE", { ino: dir });
  return true;
}

/** e2fsck's check_directory: follow parents until a checked directory; no parent means unconnected. */
function checkDirectory(ctx: CheckContext, dir: number, done: Bitmap): void {
  let ino = dir;
  let loopPass = false;
  let loopDetect: Bitmap | null = null;
  let depth = 0;
  for (let guard = 0; guard < 4 * ctx.g.inodesCount + 8; guard++) {
    if (done.set(ino)) break;
    const parent = ctx.parent(ino);
    if (parent === 0 || (loopPass && loopDetect!.test(parent))) {
      ctx.report("UNCONNECTED_DIR", { ino, str: `<${parent === 0 ? ctx.dotdot(ino) : parent}>` });
      break;
    }
    ino = parent;
    if (loopPass) loopDetect!.set(ino);
    else if (depth++ > 2048) {
      // A path deeper than 2048 is taken to be a loop: start again from the
      // top with loop detection on, as e2fsck does.
      loopPass = true;
      loopDetect = new Bitmap(ctx.g.inodesCount + 1);
      ino = dir;
    }
  }
  const dotdot = ctx.dotdot(dir);
  const parent = ctx.parent(dir);
  if (dotdot !== parent)
    ctx.report("BAD_DOTDOT", { ino: dir, str: `<${dir}>`, num: dotdot, num2: parent });
}

/** /lost+found should exist and be a directory (e2fsck -n reports nothing; these are notes). */
function checkLostFound(ctx: CheckContext): void {
  // The root's entries were counted in pass 2; find lost+found by a quiet scan.
  const lf = ctx.lostFound;
  if (lf === 0) ctx.report("NO_LOST_FOUND");
  else if ((ctx.istate[lf]! & IS.DIR) === 0) ctx.report("LOST_FOUND_NOT_DIR", { ino: lf });
}

/** Runs pass 4. */
export function pass4(ctx: CheckContext): void {
  const first = ctx.g.firstIno;
  for (let ino = 1; ino <= ctx.g.inodesCount; ino++) {
    if (ino === 1 || (ino > ROOT_INO && ino < first)) continue;
    const st = ctx.istate[ino]!;
    if ((st & IS.USED) === 0 || (st & IS.SPECIAL) !== 0) continue;
    const linkCount = ctx.linkCount[ino]!;
    let counted = ctx.refs(ino);
    // Pass 4 re-reads the inode (checksum verified) before it reports; e2fsck
    // stops on an inode whose checksum fails there.
    const rereadFails = ctx.badCsum?.test(ino) === true;
    if (rereadFails && (counted === 0 || counted !== linkCount)) {
      ctx.report("INODE_REREAD", { ino });
      return;
    }
    if (counted === 0) {
      if ((st & IS.BAD) !== 0) processBadInode(ctx, ino, { ino, entry: "", str: `<${ino}>` });
      const raw = ctx.readInode(ino);
      if (raw !== null) {
        const inode = decodeInode(ino, raw);
        const mode = typeOf(inode.mode);
        const extra = raw.length > 128 ? viewOf(raw).u16(128) : 0;
        const eaMagic =
          raw.length >= 128 + extra + 4 && raw.length > 128 ? viewOf(raw).u32(128 + extra) : 0;
        if (
          inode.blocks === 0 &&
          eaMagic !== 0xea020000 &&
          (mode === S_IFREG || mode === S_IFDIR) &&
          (inode.flags & FL.INLINE_DATA) === 0
        ) {
          ctx.report("UNATTACHED_ZERO_LEN", { ino });
        } else {
          ctx.report("UNATTACHED_INODE", { ino });
        }
      } else {
        ctx.report("UNATTACHED_INODE", { ino });
      }
      continue;
    }
    if ((st & IS.DIR) !== 0 && counted > LINK_MAX) counted = 1;
    if (counted !== linkCount) ctx.report("BAD_REF_COUNT", { ino, num: linkCount, num2: counted });
  }
}
