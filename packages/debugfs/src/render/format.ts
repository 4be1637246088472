/**
 * The little printf and libc pieces debugfs output is made of: field
 * padding, asctime(3) dates, and the hex dump of util.c. Dates use the
 * process's local time zone exactly as debugfs's localtime(3) does (both
 * honour TZ), so `TZ=UTC` makes both print UTC.
 */

/** `%*d`-style right alignment to `width` (never truncates). */
export function padStart(v: string | number, width: number): string {
  return String(v).padStart(width, " ");
}

/** `%-*s`-style left alignment to `width` (never truncates). */
export function padEnd(v: string | number, width: number): string {
  return String(v).padEnd(width, " ");
}

/** `%0*x`: lowercase hex zero-padded to `width` digits. */
export function hex(v: number, width = 0): string {
  return (v >>> 0).toString(16).padStart(width, "0");
}

/** `%0*o`: octal zero-padded to `width` digits. */
export function octal(v: number, width = 0): string {
  return v.toString(8).padStart(width, "0");
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
/** English month abbreviations as asctime(3) and debugfs's ls print them. */
export const MONTHS = [
  "Jan",
  "Feb",
  "Mar",
  "Apr",
  "May",
  "Jun",
  "Jul",
  "Aug",
  "Sep",
  "Oct",
  "Nov",
  "Dec",
];

/** Broken-down local time (localtime(3)) of a Unix time in seconds. */
export interface LocalTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  weekday: number;
}

// JavaScript dates cover ±8.64e15 ms; ext4's 34-bit times (up to 2446) fit comfortably.
const MAX_DATE_SECONDS = 8.64e12;

/** localtime(3) of `seconds` (TZ-aware), or null outside the Date range. */
export function localTime(seconds: number): LocalTime | null {
  if (!Number.isFinite(seconds) || Math.abs(seconds) > MAX_DATE_SECONDS) return null;
  const d = new Date(seconds * 1000);
  return {
    year: d.getFullYear(),
    month: d.getMonth(),
    day: d.getDate(),
    hour: d.getHours(),
    minute: d.getMinutes(),
    second: d.getSeconds(),
    weekday: d.getDay(),
  };
}

const two = (n: number): string => String(n).padStart(2, "0");

/**
 * asctime(3) of localtime(`seconds`) without the trailing newline:
 * `Tue Nov 14 22:13:20 2023` (day of month space-padded to 2). This is
 * debugfs's time_to_string.
 */
export function asctime(seconds: number): string {
  const t = localTime(seconds);
  if (t === null) return "(invalid time)";
  return `${DAYS[t.weekday]} ${MONTHS[t.month]}${padStart(t.day, 3)} ${two(t.hour)}:${two(t.minute)}:${two(t.second)} ${t.year}`;
}

/**
 * The time of an inode timestamp as debugfs's inode_time_to_string computes
 * it: the low 32 bits are signed seconds, and the low two bits of the
 * `_extra` word (EXT4_EPOCH_MASK) extend them by multiples of 2^32.
 */
export function inodeTimeSeconds(lo: number, extra: number): number {
  return (lo | 0) + (extra & 3) * 2 ** 32;
}

/** isprint(3) in the C locale. */
export function isPrint(b: number): boolean {
  return b >= 0x20 && b < 0x7f;
}

/**
 * debugfs's do_byte_hexdump (util.c): 16 bytes a line as `%04o` offset, hex
 * in pairs, then the printable characters; a run of lines equal to the one
 * before is collapsed to `*`; ends with an empty line.
 */
export function byteHexdump(buf: Uint8Array): string {
  const out: string[] = [];
  let suppress = -1;
  for (let i = 0; i < buf.length; i += 16) {
    const max = Math.min(16, buf.length - i);
    if (suppress < 0) {
      if (i > 0 && equalRange(buf, i, i - max, max)) {
        suppress = i;
        out.push("*\n");
        continue;
      }
    } else {
      if (equalRange(buf, i, suppress, max)) continue;
      suppress = -1;
    }
    let line = `${octal(i, 4)}  `;
    for (let j = 0; j < 16; j++) {
      line += j < max ? hex(buf[i + j]!, 2) : "  ";
      if (j % 2 === 1) line += " ";
    }
    line += " ";
    for (let j = 0; j < max; j++) {
      const b = buf[i + j]!;
      line += isPrint(b) ? String.fromCharCode(b) : ".";
    }
    out.push(`${line}\n`);
  }
  out.push("\n");
  return out.join("");
}

function equalRange(buf: Uint8Array, a: number, b: number, len: number): boolean {
  for (let k = 0; k < len; k++) if (buf[a + k] !== buf[b + k]) return false;
  return true;
}

/** Bytes as a C string would print with `%s` (Latin-1 transparent: every byte one char). */
export function latin1(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += String.fromCharCode(x);
  return s;
}

/**
 * A Unicode string (a command-line word, a message) as a byte string: its
 * UTF-8 bytes, one char each, the form every stdout chunk takes.
 */
export function byteString(s: string): string {
  return Buffer.from(s, "utf8").toString("latin1");
}

/** Plural suffix the way debugfs chooses it (`n != 1`). */
export function plural(n: number, one: string, many: string): string {
  return n !== 1 ? many : one;
}
