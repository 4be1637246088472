/**
 * POSIX ACL rules the kernel applies on the ext4 side: inheriting a
 * directory's default ACL by new inodes (posix_acl_create and
 * posix_acl_create_masq) and the validity check every ACL written must
 * pass (posix_acl_valid).
 */
import { fsError } from "../errors.js";
import {
  ACL_GROUP,
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_USER,
  ACL_USER_OBJ,
  type AclEntry,
} from "../format/acl.js";

/** What a new inode gets from its parent's default ACL. */
export interface InheritedAcl {
  /** The mode after masking (umask without a default ACL, the ACL's bits with one). */
  readonly mode: number;
  /** The access ACL, or null when the mode says it all. */
  readonly access: AclEntry[] | null;
  /** The default ACL (directories only), or null. */
  readonly default: AclEntry[] | null;
}

/**
 * posix_acl_create: without a default ACL the umask applies; with one, the
 * new inode's access ACL is the default masked by the requested mode (and
 * the mode by it), dropped when it is equivalent to the mode; directories
 * also inherit the default ACL itself.
 */
export function inheritAcl(
  parentDefault: readonly AclEntry[] | null,
  mode: number,
  isDir: boolean,
  umask: number,
): InheritedAcl {
  if (parentDefault === null || parentDefault.length === 0) {
    return { mode: mode & ~umask, access: null, default: null };
  }
  const acl = parentDefault.map((e) => ({ ...e }));
  let m = mode & 0o777;
  let notEquiv = false;
  let groupObj: { perm: number } | null = null;
  let maskObj: { perm: number } | null = null;
  for (const pa of acl) {
    switch (pa.tag) {
      case ACL_USER_OBJ:
        pa.perm &= (m >> 6) & 7;
        m &= (pa.perm << 6) | ~0o700;
        break;
      case ACL_USER:
      case ACL_GROUP:
        notEquiv = true;
        break;
      case ACL_GROUP_OBJ:
        groupObj = pa;
        break;
      case ACL_OTHER:
        pa.perm &= m & 7;
        m &= pa.perm | ~0o007;
        break;
      case ACL_MASK:
        maskObj = pa;
        notEquiv = true;
        break;
      default:
        break;
    }
  }
  const g = maskObj ?? groupObj;
  if (g !== null) {
    g.perm &= (m >> 3) & 7;
    m &= (g.perm << 3) | ~0o070;
  }
  const outMode = (mode & ~0o777) | (m & 0o777);
  return {
    mode: outMode,
    access: notEquiv ? acl : null,
    default: isDir ? parentDefault.map((e) => ({ ...e })) : null,
  };
}

/**
 * posix_acl_valid: tags in order (USER_OBJ, USER..., GROUP_OBJ, GROUP...,
 * MASK, OTHER), exactly one of each object entry, named entries with
 * distinct ascending ids, a MASK when there are named entries. Throws
 * InvalidArgument ACL_INVALID.
 */
export function checkAcl(entries: readonly AclEntry[]): void {
  const bad = (why: string): never => {
    throw fsError("InvalidArgument", "ACL_INVALID", `invalid ACL: ${why}`);
  };
  const order = [ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER];
  let last = -1;
  let lastId = -1;
  const count = new Map<number, number>();
  for (const e of entries) {
    const rank = order.indexOf(e.tag);
    if (rank < 0) bad(`tag 0x${e.tag.toString(16)}`);
    if (rank < last) bad("entries out of order");
    if ((e.perm & ~7) !== 0) bad(`permissions 0${e.perm.toString(8)}`);
    if (e.tag === ACL_USER || e.tag === ACL_GROUP) {
      const id = e.id ?? -1;
      if (rank === last && id <= lastId) bad("named entries not ascending");
      lastId = id;
    } else if ((count.get(e.tag) ?? 0) > 0) {
      bad("duplicate entry");
    }
    if (rank !== last && (e.tag === ACL_USER || e.tag === ACL_GROUP)) lastId = e.id ?? -1;
    count.set(e.tag, (count.get(e.tag) ?? 0) + 1);
    last = rank;
  }
  if (
    count.get(ACL_USER_OBJ) !== 1 ||
    count.get(ACL_GROUP_OBJ) !== 1 ||
    count.get(ACL_OTHER) !== 1
  ) {
    bad("USER_OBJ, GROUP_OBJ and OTHER are required");
  }
  const named = (count.get(ACL_USER) ?? 0) + (count.get(ACL_GROUP) ?? 0);
  if (named > 0 && count.get(ACL_MASK) !== 1) bad("named entries need a MASK");
}
