/**
 * Opening images (read-only, or read-write for `-w`) and resolving
 * debugfs-style inode arguments (`<N>` or a path) against the open
 * filesystem.
 */
import { Filesystem, isExt4Error, resolvePath } from "@ext4/core";
import { type BlockDevice, FileDevice, IoError, OffsetDevice } from "@ext4/iocache";
import { CommandError } from "./command.js";
import { libext2fsMessage } from "./commands/common.js";
import type { OpenImage, OpenOptions } from "./shell/context.js";

/** Default buffer cache for an inspection session: small, a shell touches little at a time. */
const DEFAULT_CACHE_BYTES = 32 * 1024 * 1024;

/**
 * Opens `path`, optionally at a byte offset, and the filesystem on it.
 * Read-only by default (O_RDONLY, so a 0444 image owned by someone else
 * opens; nothing is ever written). With `writable` (debugfs -w) the device
 * is opened O_RDWR and the filesystem mounted read-write: s_state loses
 * EXT4_VALID_FS until the close marks it clean again, and s_mnt_count and
 * s_mtime are stamped, as a kernel mount does. Catastrophic mode, or a
 * feature this toolkit reads but does not write, opens read-only instead
 * and says why in `warning`. A superblock or group descriptor whose
 * checksum fails is retried with checksum errors ignored, as debugfs does.
 * Throws CommandError with one line naming what is wrong and where: the
 * file cannot be opened, the offset is outside it, or it is not an
 * ext2/3/4 filesystem we can read (the core's Ext4Error message, which
 * carries the block/inode context).
 */
export function openImage(path: string, options: OpenOptions = {}): OpenImage {
  const offset = options.offset ?? 0;
  const catastrophic = options.catastrophic ?? false;
  const warnings: string[] = [];
  let wantWrite = options.writable === true;
  let readOnlyReason: string | null = null;
  if (wantWrite && catastrophic) {
    readOnlyReason = "catastrophic mode opens read-only";
    warnings.push(`${path}: catastrophic mode - opening read-only`);
    wantWrite = false;
  }
  let device: BlockDevice;
  try {
    device = FileDevice.open(path, { readOnly: !wantWrite });
  } catch (e) {
    throw new CommandError(path, describeOpenFailure(e, path), "OPEN_FAILED", { cause: e });
  }
  try {
    if (offset !== 0) {
      try {
        device = new OffsetDevice(device, offset);
      } catch (e) {
        throw new CommandError(
          path,
          `offset ${offset} is outside the ${device.size}-byte image`,
          "BAD_OFFSET",
          { cause: e },
        );
      }
    }
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    // Read-only, the image as it is on disk (as debugfs) unless --replay asks
    // for the recovered view; read-write, the journal is recovered first.
    const journal = wantWrite || options.replay === true ? "replay" : "ignore";
    let fs: Filesystem;
    try {
      fs = Filesystem.open(device, { cacheBytes, writable: wantWrite, journal });
    } catch (e) {
      // debugfs goes on with checksum errors ignored when the superblock or a descriptor fails its checksum.
      if (!(isExt4Error(e) && (e.code === "SB_BAD_CHECKSUM" || e.code === "GD_BAD_CHECKSUM"))) {
        throw e;
      }
      fs = Filesystem.open(device, {
        cacheBytes,
        writable: wantWrite,
        journal,
        verifyChecksums: false,
      });
      warnings.push(
        e.code === "SB_BAD_CHECKSUM"
          ? "Checksum errors in superblock!  Retrying..."
          : "Checksum errors in group descriptors!  Retrying with checksum errors ignored...",
      );
    }
    const rec = fs.recovery;
    if (rec !== null) {
      warnings.push(
        `${path}: journal recovered ${rec.inMemory ? "in memory" : "on the image"}: ${rec.transactions} transactions, ${rec.blocks} blocks`,
      );
    }
    if (wantWrite && !fs.writable) {
      readOnlyReason = fs.readOnlyReason ?? "the filesystem cannot be written";
      warnings.push(`${path}: opened read-only: ${readOnlyReason}`);
    }
    return {
      path,
      offset,
      catastrophic,
      writable: fs.writable,
      readOnlyReason,
      fs,
      warning: warnings.length === 0 ? null : warnings.join("\n"),
    };
  } catch (e) {
    device.close();
    if (e instanceof CommandError) throw e;
    throw new CommandError(
      path,
      describeOpenFailure(e, path),
      isExt4Error(e) ? e.code : "OPEN_FAILED",
      {
        cause: e,
      },
    );
  }
}

/**
 * Why an image did not open, in one line: the system's text for a device
 * error (`No such file or directory (ENOENT)`), the core's message for a
 * filesystem it cannot read (which names the structure and where).
 */
function describeOpenFailure(e: unknown, path = ""): string {
  if (e instanceof IoError) {
    const cause = e.cause instanceof Error ? e.cause.message : "";
    // node:fs messages read "ENOENT: no such file or directory, open 'x'": keep the middle.
    const m = /^[A-Z]+: ([^,]+)/.exec(cause);
    const own = e.message.startsWith(`${path}: `) ? e.message.slice(path.length + 2) : e.message;
    const text = m?.[1] ?? own;
    return `${text.charAt(0).toUpperCase()}${text.slice(1)} (${e.errno})`;
  }
  if (isExt4Error(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Closes the image's filesystem and device; a writable filesystem is
 * flushed first and marked clean. Throws CommandError if writing or closing
 * the device fails.
 */
export function closeImage(image: OpenImage): void {
  try {
    image.fs.close();
  } catch (e) {
    throw new CommandError("close", describeOpenFailure(e), "CLOSE_FAILED", { cause: e });
  }
}

/**
 * debugfs's string_to_inode: `<N>` with 1 ≤ N ≤ s_inodes_count names inode
 * N directly; anything else is a path for ext2fs_namei (from `root` when
 * absolute, from `cwd` otherwise, symlinks followed except in the last
 * component, at most 8 nested links as libext2fs allows). Throws
 * CommandError `spec: <reason>`.
 */
export function resolveInode(fs: Filesystem, spec: string, cwd: number, root: number): number {
  const m = /^<(.+)>$/s.exec(spec);
  if (m !== null && spec.length > 2) {
    const n = parseStrtoul(m[1]!);
    if (n !== null && n <= fs.superblock.inodesCount) {
      if (n === 0) throw new CommandError(spec, "Invalid inode number 0", "BAD_INODE");
      return n;
    }
  }
  try {
    const r = resolvePath(fs, spec, {
      cwd,
      root,
      followFinal: false,
      maxSymlinks: 8,
    });
    return r.ino;
  } catch (e) {
    if (isExt4Error(e) || e instanceof Error) {
      throw new CommandError(spec, libext2fsMessage(e), isExt4Error(e) ? e.code : "LOOKUP_FAILED", {
        cause: e,
      });
    }
    throw e;
  }
}

/** strtoul(s, &end, 0) requiring the whole string, or null. */
function parseStrtoul(s: string): number | null {
  const t = s.trim();
  let v: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) v = Number.parseInt(t.slice(2), 16);
  else if (/^0[0-7]*$/.test(t)) v = t.length > 1 ? Number.parseInt(t.slice(1), 8) : 0;
  else if (/^[1-9][0-9]*$/.test(t)) v = Number(t);
  else return null;
  return Number.isSafeInteger(v) ? v : null;
}
