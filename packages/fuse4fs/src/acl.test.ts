/**
 * The mode/ACL coupling: properties over arbitrary valid ACLs, and the
 * kernel's own examples (posix_acl_equiv_mode, posix_acl_update_mode,
 * __posix_acl_chmod).
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
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { aclChmod, aclEquivMode, aclUpdateMode } from "./acl.js";

const perm = fc.integer({ min: 0, max: 7 });

/** A valid ACL: owner, named users, group, named groups, a mask when named entries exist, other. */
const acl: fc.Arbitrary<AclEntry[]> = fc
  .record({
    u: perm,
    g: perm,
    o: perm,
    m: perm,
    users: fc.uniqueArray(fc.integer({ min: 1, max: 60000 }), { maxLength: 3 }),
    groups: fc.uniqueArray(fc.integer({ min: 1, max: 60000 }), { maxLength: 3 }),
    forceMask: fc.boolean(),
    p: perm,
  })
  .map(({ u, g, o, m, users, groups, forceMask, p }) => {
    const out: AclEntry[] = [{ tag: ACL_USER_OBJ, perm: u }];
    for (const id of [...users].sort((a, b) => a - b)) out.push({ tag: ACL_USER, perm: p, id });
    out.push({ tag: ACL_GROUP_OBJ, perm: g });
    for (const id of [...groups].sort((a, b) => a - b)) out.push({ tag: ACL_GROUP, perm: p, id });
    if (users.length + groups.length > 0 || forceMask) out.push({ tag: ACL_MASK, perm: m });
    out.push({ tag: ACL_OTHER, perm: o });
    return out;
  });

describe("ACL and mode", () => {
  it("after chmod, the ACL stands for exactly the new permission bits", () => {
    fc.assert(
      fc.property(acl, fc.integer({ min: 0, max: 0o7777 }), (a, mode) => {
        const c = aclChmod(a, mode);
        expect(aclEquivMode(c).mode).toBe(mode & 0o777);
        // Named entries and the group entry under a mask keep their permissions.
        const named = (x: AclEntry[]) => x.filter((e) => e.tag === ACL_USER || e.tag === ACL_GROUP);
        expect(named(c)).toEqual(named(a));
        if (a.some((e) => e.tag === ACL_MASK)) {
          expect(c.find((e) => e.tag === ACL_GROUP_OBJ)).toEqual(
            a.find((e) => e.tag === ACL_GROUP_OBJ),
          );
        }
      }),
    );
  });

  it("setting an ACL sets the mode; a minimal one is not stored", () => {
    fc.assert(
      fc.property(acl, fc.integer({ min: 0, max: 0o7777 }), fc.boolean(), (a, mode, kill) => {
        const u = aclUpdateMode(0o100000 | mode, a, kill);
        expect(u.mode & 0o777).toBe(aclEquivMode(a).mode);
        expect(u.mode & 0o170000).toBe(0o100000);
        // Set-id and sticky bits stay, except set-group-id when killed.
        expect(u.mode & 0o5000).toBe(mode & 0o5000);
        expect(u.mode & 0o2000).toBe(kill ? 0 : mode & 0o2000);
        expect(u.acl === null).toBe(a.length === 3);
      }),
    );
  });

  it("matches the kernel's worked example (mask limits the group)", () => {
    const a: AclEntry[] = [
      { tag: ACL_USER_OBJ, perm: 7 },
      { tag: ACL_USER, perm: 6, id: 1000 },
      { tag: ACL_GROUP_OBJ, perm: 5 },
      { tag: ACL_MASK, perm: 4 },
      { tag: ACL_OTHER, perm: 0 },
    ];
    expect(aclEquivMode(a)).toEqual({ mode: 0o740, equivalent: false });
    expect(aclChmod(a, 0o751).map((e) => e.perm)).toEqual([7, 6, 5, 5, 1]);
  });
});
