/**
 * The mode/ACL coupling a FUSE server with FUSE_POSIX_ACL owns (the kernel
 * leaves it to "userspace", fs/fuse/acl.c): setting an access ACL updates
 * the mode and drops an ACL the mode says entirely (posix_acl_update_mode),
 * and chmod rewrites the ACL's owner, mask-or-group and other entries
 * (posix_acl_chmod). Pure functions over decoded entries.
 */
import {
  ACL_GROUP,
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_USER,
  ACL_USER_OBJ,
  type AclEntry,
} from "@ext4/core";

/**
 * posix_acl_equiv_mode: the permission bits an ACL stands for, and whether
 * the mode bits say everything it says (no named entries; a mask only
 * equal to the group entry is not allowed to matter).
 */
export function aclEquivMode(acl: readonly AclEntry[]): { mode: number; equivalent: boolean } {
  let mode = 0;
  let equivalent = true;
  for (const e of acl) {
    switch (e.tag) {
      case ACL_USER_OBJ:
        mode |= (e.perm & 7) << 6;
        break;
      case ACL_GROUP_OBJ:
        mode |= (e.perm & 7) << 3;
        break;
      case ACL_OTHER:
        mode |= e.perm & 7;
        break;
      case ACL_MASK:
        mode = (mode & ~0o070) | ((e.perm & 7) << 3);
        equivalent = false;
        break;
      case ACL_USER:
      case ACL_GROUP:
        equivalent = false;
        break;
      default:
        equivalent = false;
    }
  }
  return { mode, equivalent };
}

/**
 * posix_acl_update_mode: the new mode of an inode whose access ACL is set
 * to `acl`, and the ACL to store (null when the mode bits say it all and
 * the xattr is removed instead). With `killSgid` (FUSE_SETXATTR_ACL_KILL_SGID:
 * the caller is not in the group and lacks CAP_FSETID) the set-group-id bit
 * goes.
 */
export function aclUpdateMode(
  mode: number,
  acl: readonly AclEntry[],
  killSgid: boolean,
): { mode: number; acl: readonly AclEntry[] | null } {
  const eq = aclEquivMode(acl);
  let next = (mode & ~0o777) | eq.mode;
  if (killSgid) next &= ~0o2000;
  return { mode: next, acl: eq.equivalent ? null : acl };
}

/**
 * posix_acl_chmod (__posix_acl_chmod): the ACL after chmod to `mode`: the
 * owner entry takes the owner bits, the mask (or the group entry when
 * there is no mask) the group bits, the other entry the other bits.
 */
export function aclChmod(acl: readonly AclEntry[], mode: number): AclEntry[] {
  const hasMask = acl.some((e) => e.tag === ACL_MASK);
  return acl.map((e) => {
    switch (e.tag) {
      case ACL_USER_OBJ:
        return { ...e, perm: (mode >> 6) & 7 };
      case ACL_MASK:
        return { ...e, perm: (mode >> 3) & 7 };
      case ACL_GROUP_OBJ:
        return hasMask ? e : { ...e, perm: (mode >> 3) & 7 };
      case ACL_OTHER:
        return { ...e, perm: mode & 7 };
      default:
        return e;
    }
  });
}
