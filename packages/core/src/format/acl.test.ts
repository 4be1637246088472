import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isExt4Error } from "../errors.js";
import {
  ACL_GROUP,
  ACL_GROUP_OBJ,
  ACL_MASK,
  ACL_OTHER,
  ACL_USER,
  ACL_USER_OBJ,
  type AclEntry,
  aclToText,
  decodeExt4Acl,
  decodePosixAclXattr,
  EXT4_ACL_ENTRY,
  EXT4_ACL_ENTRY_SHORT,
  EXT4_ACL_HEADER,
  encodeExt4Acl,
  encodePosixAclXattr,
} from "./acl.js";

const entry: fc.Arbitrary<AclEntry> = fc
  .tuple(
    fc.constantFrom(ACL_USER_OBJ, ACL_USER, ACL_GROUP_OBJ, ACL_GROUP, ACL_MASK, ACL_OTHER),
    fc.nat(7),
    fc.nat(0xffffffff),
  )
  .map(([tag, perm, id]) =>
    tag === ACL_USER || tag === ACL_GROUP ? { tag, perm, id } : { tag, perm },
  );

describe("POSIX ACLs", () => {
  it("have ext4's entry sizes", () => {
    expect([EXT4_ACL_HEADER.size, EXT4_ACL_ENTRY.size, EXT4_ACL_ENTRY_SHORT.size]).toEqual([
      4, 8, 4,
    ]);
  });

  it("round-trip through ext4's disk form and the VFS xattr form", () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 20 }), (entries) => {
        expect(decodeExt4Acl(encodeExt4Acl(entries))).toEqual(entries);
        expect(decodePosixAclXattr(encodePosixAclXattr(entries))).toEqual(entries);
      }),
    );
  });

  it("print like getfacl", () => {
    expect(
      aclToText([
        { tag: ACL_USER_OBJ, perm: 7 },
        { tag: ACL_USER, perm: 5, id: 1000 },
        { tag: ACL_GROUP_OBJ, perm: 0 },
        { tag: ACL_MASK, perm: 5 },
        { tag: ACL_OTHER, perm: 1 },
      ]),
    ).toBe("user::rwx\nuser:1000:r-x\ngroup::---\nmask::r-x\nother::--x");
  });

  it("throw only Ext4Error on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.boolean(), (bytes, v1) => {
        if (bytes.length >= 4) bytes[0] = v1 ? 1 : 2;
        for (const f of [decodeExt4Acl, decodePosixAclXattr]) {
          try {
            f(bytes);
          } catch (e) {
            expect(isExt4Error(e, "Corrupt")).toBe(true);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
