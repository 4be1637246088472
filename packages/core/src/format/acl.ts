/**
 * POSIX ACLs as ext4 stores them in system.posix_acl_access / _default
 * (fs/ext4/acl.h: a version-1 header, then short entries for USER_OBJ,
 * GROUP_OBJ, MASK and OTHER and long entries with an id for USER and GROUP),
 * the VFS xattr form (include/uapi/linux/posix_acl_xattr.h, version 2, every
 * entry 8 bytes) that getxattr(2) returns, and getfacl-like text.
 */
import { corrupt, type Ext4ErrorContext } from "../errors.js";
import { defineStruct, u16, u32 } from "../struct.js";
import { ByteView } from "../view.js";

/** ext4_acl_header. */
export const EXT4_ACL_HEADER = defineStruct("ext4_acl_header", [
  u32("a_version", "EXT4_ACL_VERSION (1)"),
]);
/** ext4_acl_entry: USER and GROUP entries carry an id. */
export const EXT4_ACL_ENTRY = defineStruct("ext4_acl_entry", [
  u16("e_tag", "ACL_USER_OBJ 1, USER 2, GROUP_OBJ 4, GROUP 8, MASK 0x10, OTHER 0x20"),
  u16("e_perm", "rwx bits"),
  u32("e_id", "uid or gid"),
]);
/** ext4_acl_entry_short: the id-less entries. */
export const EXT4_ACL_ENTRY_SHORT = defineStruct("ext4_acl_entry_short", [
  u16("e_tag", "tag"),
  u16("e_perm", "rwx bits"),
]);

/** a_version of the ext4 on-disk form. */
export const EXT4_ACL_VERSION = 1;
/** a_version of the VFS xattr form. */
export const POSIX_ACL_XATTR_VERSION = 2;

/** ACL entry tags. */
export const ACL_USER_OBJ = 0x01;
/** A named user (with e_id). */
export const ACL_USER = 0x02;
/** The owning group. */
export const ACL_GROUP_OBJ = 0x04;
/** A named group (with e_id). */
export const ACL_GROUP = 0x08;
/** The mask of named entries and the group. */
export const ACL_MASK = 0x10;
/** Everyone else. */
export const ACL_OTHER = 0x20;
/** The id of entries without one (ACL_UNDEFINED_ID). */
export const ACL_UNDEFINED_ID = 0xffffffff;

/** One ACL entry. `id` is the uid/gid for USER/GROUP, undefined otherwise. */
export interface AclEntry {
  readonly tag: number;
  readonly perm: number;
  readonly id?: number;
}

const hasId = (tag: number): boolean => tag === ACL_USER || tag === ACL_GROUP;
const KNOWN_TAGS = new Set([ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER]);

/**
 * Decodes ext4's on-disk ACL (ext4_acl_from_disk). The entry count is
 * bounded by the value size; each entry is short or long by its tag. Throws
 * Corrupt (ACL_BAD_VERSION, ACL_BAD_TAG, ACL_TRUNCATED).
 */
export function decodeExt4Acl(value: Uint8Array, ctx: Ext4ErrorContext = {}): AclEntry[] {
  const v = new ByteView(value, ctx);
  if (value.length < EXT4_ACL_HEADER.size)
    throw corrupt("ACL_TRUNCATED", "ACL shorter than its header", ctx);
  const version = EXT4_ACL_HEADER.get(v, "a_version");
  if (version !== EXT4_ACL_VERSION) {
    throw corrupt("ACL_BAD_VERSION", `ACL version ${version}`, ctx);
  }
  const out: AclEntry[] = [];
  let off = EXT4_ACL_HEADER.size;
  while (off < value.length) {
    if (off + EXT4_ACL_ENTRY_SHORT.size > value.length) {
      throw corrupt("ACL_TRUNCATED", "ACL entry runs past the value", { ...ctx, offset: off });
    }
    const s = v.sub(off, EXT4_ACL_ENTRY_SHORT.size);
    const tag = EXT4_ACL_ENTRY_SHORT.get(s, "e_tag");
    const perm = EXT4_ACL_ENTRY_SHORT.get(s, "e_perm");
    if (!KNOWN_TAGS.has(tag)) throw corrupt("ACL_BAD_TAG", `ACL tag 0x${tag.toString(16)}`, ctx);
    if (hasId(tag)) {
      if (off + EXT4_ACL_ENTRY.size > value.length) {
        throw corrupt("ACL_TRUNCATED", "ACL entry runs past the value", { ...ctx, offset: off });
      }
      out.push({ tag, perm, id: EXT4_ACL_ENTRY.get(v.sub(off, EXT4_ACL_ENTRY.size), "e_id") });
      off += EXT4_ACL_ENTRY.size;
    } else {
      out.push({ tag, perm });
      off += EXT4_ACL_ENTRY_SHORT.size;
    }
  }
  return out;
}

/** Encodes entries in ext4's on-disk form (ext4_acl_to_disk). */
export function encodeExt4Acl(entries: readonly AclEntry[]): Uint8Array {
  const size =
    EXT4_ACL_HEADER.size +
    entries.reduce(
      (n, e) => n + (hasId(e.tag) ? EXT4_ACL_ENTRY.size : EXT4_ACL_ENTRY_SHORT.size),
      0,
    );
  const out = new Uint8Array(size);
  const v = new ByteView(out);
  EXT4_ACL_HEADER.set(v, "a_version", EXT4_ACL_VERSION);
  let off = EXT4_ACL_HEADER.size;
  for (const e of entries) {
    const long = hasId(e.tag);
    const s = v.sub(off, long ? EXT4_ACL_ENTRY.size : EXT4_ACL_ENTRY_SHORT.size);
    EXT4_ACL_ENTRY_SHORT.set(s, "e_tag", e.tag);
    EXT4_ACL_ENTRY_SHORT.set(s, "e_perm", e.perm);
    if (long) EXT4_ACL_ENTRY.set(s, "e_id", e.id ?? 0);
    off += s.length;
  }
  return out;
}

/** Encodes entries in the VFS xattr form getxattr(2) returns (version 2, 8-byte entries). */
export function encodePosixAclXattr(entries: readonly AclEntry[]): Uint8Array {
  const out = new Uint8Array(4 + entries.length * 8);
  const v = new ByteView(out);
  v.setU32(0, POSIX_ACL_XATTR_VERSION);
  entries.forEach((e, i) => {
    v.setU16(4 + i * 8, e.tag);
    v.setU16(6 + i * 8, e.perm);
    v.setU32(8 + i * 8, hasId(e.tag) ? (e.id ?? 0) : ACL_UNDEFINED_ID);
  });
  return out;
}

/**
 * Decodes the VFS xattr form (setxattr(2) input). Throws Ext4Error
 * InvalidArgument-like Corrupt codes (ACL_BAD_VERSION, ACL_TRUNCATED, ACL_BAD_TAG).
 */
export function decodePosixAclXattr(value: Uint8Array, ctx: Ext4ErrorContext = {}): AclEntry[] {
  if (value.length < 4 || (value.length - 4) % 8 !== 0) {
    throw corrupt("ACL_TRUNCATED", `ACL xattr of ${value.length} bytes`, ctx);
  }
  const v = new ByteView(value, ctx);
  if (v.u32(0) !== POSIX_ACL_XATTR_VERSION) {
    throw corrupt("ACL_BAD_VERSION", `ACL xattr version ${v.u32(0)}`, ctx);
  }
  const out: AclEntry[] = [];
  for (let off = 4; off < value.length; off += 8) {
    const tag = v.u16(off);
    if (!KNOWN_TAGS.has(tag)) throw corrupt("ACL_BAD_TAG", `ACL tag 0x${tag.toString(16)}`, ctx);
    const perm = v.u16(off + 2);
    out.push(hasId(tag) ? { tag, perm, id: v.u32(off + 4) } : { tag, perm });
  }
  return out;
}

const permText = (p: number): string =>
  `${p & 4 ? "r" : "-"}${p & 2 ? "w" : "-"}${p & 1 ? "x" : "-"}`;

/** getfacl-like text: one `user::rw-` / `user:1000:r--` / `mask::r--` line per entry. */
export function aclToText(entries: readonly AclEntry[]): string {
  return entries
    .map((e) => {
      const id = e.id === undefined ? "" : String(e.id);
      switch (e.tag) {
        case ACL_USER_OBJ:
          return `user::${permText(e.perm)}`;
        case ACL_USER:
          return `user:${id}:${permText(e.perm)}`;
        case ACL_GROUP_OBJ:
          return `group::${permText(e.perm)}`;
        case ACL_GROUP:
          return `group:${id}:${permText(e.perm)}`;
        case ACL_MASK:
          return `mask::${permText(e.perm)}`;
        default:
          return `other::${permText(e.perm)}`;
      }
    })
    .join("\n");
}
