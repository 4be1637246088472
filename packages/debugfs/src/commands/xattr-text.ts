/**
 * How debugfs prints extended attribute names and values (debugfs/xattrs.c
 * print_xattr_string and support/cstring.c print_c_string), and how
 * libext2fs presents ACL values (converted from ext4's on-disk form to the
 * POSIX xattr form that getfattr shows).
 */
import { decodeExt4Acl, isExt4Error, POSIX_ACL_XATTR_VERSION, type Xattr } from "@ext4/core";
import { hex, isPrint, latin1 } from "../render/format.js";

/** PRINT_XATTR_* flags of debugfs/xattrs.c. */
export const XATTR_HEX = 0x01;
/** Print the raw bytes. */
export const XATTR_RAW = 0x02;
/** Print as a C string even when mostly unprintable. */
export const XATTR_C = 0x04;
/** The abbreviated form `stat` and `ea_list` use. */
export const XATTR_STATFMT = 0x08;
/** No surrounding quotes. */
export const XATTR_NOQUOTES = 0x10;

/** print_c_string: C escapes for control characters, quotes and backslash; `\ooo` for the rest. */
export function cString(b: Uint8Array): string {
  let s = "";
  for (const ch of b) {
    switch (ch) {
      case 0x07:
        s += "\\a";
        break;
      case 0x08:
        s += "\\b";
        break;
      case 0x0c:
        s += "\\f";
        break;
      case 0x0a:
        s += "\\n";
        break;
      case 0x09:
        s += "\\t";
        break;
      case 0x0b:
        s += "\\v";
        break;
      case 0x5c:
        s += "\\\\";
        break;
      case 0x27:
        s += "\\'";
        break;
      case 0x22:
        s += '\\"';
        break;
      default:
        s += ch < 32 || ch > 126 ? `\\${ch.toString(8).padStart(3, "0")}` : String.fromCharCode(ch);
    }
  }
  return s;
}

/**
 * print_xattr_string: raw bytes with XATTR_RAW; hex (`xx ` per byte) with
 * XATTR_HEX or when no more than 7/8 of the bytes are printable (unless
 * XATTR_C); otherwise a quoted C string. Returns a byte string.
 */
export function xattrString(b: Uint8Array, flags: number): string {
  if ((flags & XATTR_RAW) !== 0) return latin1(b);
  let f = flags;
  if ((f & XATTR_C) === 0) {
    let printable = 0;
    for (const c of b) if (isPrint(c)) printable++;
    if (printable <= Math.floor((b.length * 7) / 8)) f |= XATTR_HEX;
  }
  if ((f & XATTR_HEX) !== 0) {
    let s = "";
    for (const c of b) s += `${hex(c, 2)} `;
    return s;
  }
  const q = (f & XATTR_NOQUOTES) === 0 ? '"' : "";
  return `${q}${cString(b)}${q}`;
}

/**
 * print_xattr: `name (len)` then ` = value` (abbreviated with
 * XATTR_STATFMT: values of 40 bytes or more and system.data are left out),
 * newline-terminated. Returns a byte string.
 */
export function xattrLine(name: string, value: Uint8Array, flags: number): string {
  const nameBytes = Buffer.from(name, "latin1");
  let out = `${xattrString(nameBytes, XATTR_NOQUOTES)} (${value.length})`;
  let len = value.length;
  if ((flags & XATTR_STATFMT) !== 0 && name === "system.data") len = 0;
  if (len !== 0 && ((flags & XATTR_STATFMT) === 0 || len < 40)) {
    out += ` = ${xattrString(value, flags)}`;
  }
  return `${out}\n`;
}

/**
 * An xattr as libext2fs's ext2fs_xattr_get hands it out: the full name as a
 * byte string, and ACLs (system.posix_acl_access/default) converted from
 * ext4's compact form to the POSIX xattr form (version 2, 8-byte entries,
 * e_id 0 where the entry has none, as convert_disk_buffer_to_posix_acl
 * writes it). A value that is not a valid ext4 ACL is shown as stored.
 */
export function presentedXattr(x: Xattr): { name: string; value: Uint8Array } {
  const name = Buffer.from(x.name, "utf8").toString("latin1");
  if (x.name === "system.posix_acl_access" || x.name === "system.posix_acl_default") {
    try {
      const entries = decodeExt4Acl(x.value);
      const out = Buffer.alloc(4 + entries.length * 8);
      out.writeUInt32LE(POSIX_ACL_XATTR_VERSION, 0);
      entries.forEach((e, i) => {
        out.writeUInt16LE(e.tag, 4 + i * 8);
        out.writeUInt16LE(e.perm, 6 + i * 8);
        out.writeUInt32LE(e.id ?? 0, 8 + i * 8);
      });
      return { name, value: out };
    } catch (e) {
      if (!isExt4Error(e)) throw e;
    }
  }
  return { name, value: x.value };
}

/**
 * An xattr as ext2fs_xattrs_iterate hands it to `stat` and `ea_list`: the
 * full name as a byte string and the value exactly as stored (ACLs in
 * ext4's compact on-disk form).
 */
export function storedXattr(x: Xattr): { name: string; value: Uint8Array } {
  return { name: Buffer.from(x.name, "utf8").toString("latin1"), value: x.value };
}
