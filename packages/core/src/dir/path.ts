/**
 * Path resolution over a {@link DirHost}, the kernel's way (fs/namei.c): an
 * absolute path starts at the root, a relative one at `cwd`; empty and "."
 * components stay put; ".." at the root stays at the root; symlinks in the
 * middle are always followed, the last one only with `followFinal`; a
 * symlink target that is absolute restarts from the root, a relative one
 * continues from the directory holding the link. Symlink hops are capped
 * (40, like the kernel's MAXSYMLINKS) and every component is bounded.
 */
import { type Ext4ErrorContext, fsError } from "../errors.js";
import { EXT4_NAME_LEN, isDirMode, isSymlinkMode, PATH_MAX, ROOT_INO } from "./constants.js";
import type { DirHost, DirInode } from "./host.js";
import { lookup, nameBytes } from "./read.js";

/** Options of {@link resolvePath}. */
export interface ResolveOptions {
  /** Directory a relative path starts from (default: the root). */
  readonly cwd?: number;
  /** The root ("/" and ".." at the top resolve here; debugfs `chroot` moves it). Default 2. */
  readonly root?: number;
  /** Follow a symlink in the last component (default true). */
  readonly followFinal?: boolean;
  /** Symlink hops allowed before ELOOP (default 40, the kernel's MAXSYMLINKS; e2fsprogs uses 8). */
  readonly maxSymlinks?: number;
}

/** What a path resolved to. */
export interface Resolved {
  readonly ino: number;
  readonly inode: DirInode;
  /** The directory the last component was found in (the start directory for "", ".", "/"). */
  readonly parent: number;
  /** The last component as stored (empty for "/" and ""). */
  readonly name: Uint8Array;
}

/** Splits a path into its non-empty components. */
function components(path: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let s = 0;
  for (let i = 0; i <= path.length; i++) {
    if (i === path.length || path[i] === 0x2f) {
      if (i > s) out.push(path.subarray(s, i));
      s = i + 1;
    }
  }
  return out;
}

const isDot = (c: Uint8Array): boolean => c.length === 1 && c[0] === 0x2e;
const isDotDot = (c: Uint8Array): boolean => c.length === 2 && c[0] === 0x2e && c[1] === 0x2e;

/**
 * Resolves `path` to an inode. Throws NotFound (PATH_NOT_FOUND),
 * NotADirectory (PATH_NOT_A_DIRECTORY: a component before the last, or the
 * last with a trailing slash, is not a directory), NameTooLong
 * (NAME_TOO_LONG for a component over 255 bytes, PATH_TOO_LONG for a path
 * or symlink target over 4096), Loop (SYMLINK_LOOP after `maxSymlinks`
 * hops), and whatever reading directories throws (Corrupt, BadChecksum).
 */
export function resolvePath(
  host: DirHost,
  path: string | Uint8Array,
  options: ResolveOptions = {},
): Resolved {
  const root = options.root ?? ROOT_INO;
  const maxLinks = options.maxSymlinks ?? 40;
  const followFinal = options.followFinal ?? true;
  const bytes = nameBytes(path);
  const ctx: Ext4ErrorContext = {
    path: typeof path === "string" ? path : new TextDecoder().decode(path),
  };
  if (bytes.length > PATH_MAX) {
    throw fsError("NameTooLong", "PATH_TOO_LONG", `path of ${bytes.length} bytes`, ctx);
  }
  const absolute = bytes[0] === 0x2f;
  // A trailing slash demands a directory, which also means following a final symlink.
  const mustBeDir = bytes.length > 0 && bytes[bytes.length - 1] === 0x2f;

  let cur = host.readInode(absolute ? root : (options.cwd ?? root));
  let parent = cur.ino;
  let lastName: Uint8Array = new Uint8Array(0);
  // Pending components, last first (a stack, as symlink bodies are pushed in front of the rest).
  const pending = components(bytes).reverse();
  let hops = 0;

  // Every iteration consumes one component; symlinks add at most PATH_MAX/2 components
  // each and are capped at maxLinks, so the loop is bounded.
  while (pending.length > 0) {
    // OK to assert: the loop condition guarantees an element.
    const comp = pending.pop()!;
    if (!isDirMode(cur.mode)) {
      throw fsError(
        "NotADirectory",
        "PATH_NOT_A_DIRECTORY",
        "a path component is not a directory",
        {
          ...ctx,
          inode: cur.ino,
        },
      );
    }
    if (comp.length > EXT4_NAME_LEN) {
      throw fsError("NameTooLong", "NAME_TOO_LONG", `component of ${comp.length} bytes`, ctx);
    }
    if (isDot(comp)) {
      parent = cur.ino;
      lastName = comp;
      continue;
    }
    let nextIno: number | null;
    if (isDotDot(comp) && cur.ino === root) nextIno = root;
    else nextIno = lookup(host, cur, comp);
    if (nextIno === null) {
      throw fsError("NotFound", "PATH_NOT_FOUND", "no such file or directory", {
        ...ctx,
        inode: cur.ino,
      });
    }
    const next = host.readInode(nextIno);
    const isLast = pending.length === 0;
    if (isSymlinkMode(next.mode) && (!isLast || followFinal || mustBeDir)) {
      if (++hops > maxLinks) {
        throw fsError("Loop", "SYMLINK_LOOP", `more than ${maxLinks} symbolic links`, ctx);
      }
      const target = nameBytes(host.readLink(next));
      if (target.length === 0) {
        throw fsError("NotFound", "PATH_NOT_FOUND", "empty symbolic link", {
          ...ctx,
          inode: next.ino,
        });
      }
      if (target.length > PATH_MAX) {
        throw fsError("NameTooLong", "PATH_TOO_LONG", "symbolic link target too long", ctx);
      }
      if (target[0] === 0x2f) cur = host.readInode(root);
      // A target of only slashes names the root itself.
      for (const c of components(target).reverse()) pending.push(c);
      parent = cur.ino;
      lastName = new Uint8Array(0);
      continue;
    }
    parent = cur.ino;
    lastName = comp;
    cur = next;
  }
  if (mustBeDir && !isDirMode(cur.mode)) {
    throw fsError("NotADirectory", "PATH_NOT_A_DIRECTORY", "not a directory", {
      ...ctx,
      inode: cur.ino,
    });
  }
  return { ino: cur.ino, inode: cur, parent, name: lastName.slice() };
}
