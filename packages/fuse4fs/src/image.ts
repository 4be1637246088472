/**
 * Getting hold of the image before mounting it: open it read-only or
 * read-write, claim it (flock on the descriptor; O_EXCL for a block device),
 * and refuse it when something already mounts it: a kernel mount of the
 * block device, a loop device backed by the image file that is mounted, or
 * another FUSE mount (fuse2fs, fuse4fs) naming it as its source.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, realpathSync, statSync } from "node:fs";
import { type BlockDevice, FileDevice, IoError, OffsetDevice } from "@ext4/iocache";
import { flock, isFuseError } from "@ext4/native-fuse";

/** Why an image cannot be used; `message` is one line for the user. */
export class ImageError extends Error {
  override readonly name = "ImageError";
  constructor(
    /** OPEN (cannot open), LOCKED (another process holds it), MOUNTED (mounted elsewhere), OFFSET. */
    readonly code: "OPEN" | "LOCKED" | "MOUNTED" | "OFFSET",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One line of /proc/self/mountinfo. */
export interface MountInfo {
  /** "major:minor" of the mounted filesystem. */
  readonly dev: string;
  readonly mountpoint: string;
  readonly fstype: string;
  readonly source: string;
}

function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** Parses /proc/self/mountinfo text (proc(5)); malformed lines are skipped. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-");
    // Fields: id parent major:minor root mountpoint options [optional...] - fstype source superopts
    if (sep < 6 || f.length < sep + 3) continue;
    out.push({
      dev: f[2] ?? "",
      mountpoint: unescapeMount(f[4] ?? ""),
      fstype: f[sep + 1] ?? "",
      source: unescapeMount(f[sep + 2] ?? ""),
    });
  }
  return out;
}

/** The mounts of this process's namespace. */
export function currentMounts(): MountInfo[] {
  return parseMountInfo(readFileSync("/proc/self/mountinfo", "utf8"));
}

/** The loop devices backed by `path` (`losetup -j`), as "major:minor" device numbers. */
export function loopDevicesBacking(path: string): string[] {
  let out: string;
  try {
    out = execFileSync("losetup", ["-j", path], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 10_000,
    });
  } catch {
    // No losetup, or no permission to list: nothing can be said.
    return [];
  }
  const devs: string[] = [];
  for (const line of out.split("\n")) {
    const name = /^(\/dev\/[^:]+):/.exec(line)?.[1];
    if (name === undefined) continue;
    try {
      devs.push(devString(statSync(name).rdev));
    } catch {
      // The device went away between listing and stat.
    }
  }
  return devs;
}

/** major:minor of a device number as the kernel prints it in mountinfo. */
export function devString(rdev: number): string {
  // Linux dev_t: major in bits 8-19, minor in bits 0-7 and 20-31 (glibc gnu_dev_major/minor).
  const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff);
  return `${major}:${minor >>> 0}`;
}

/**
 * Where `image` (a resolved path) is mounted already, or null: a mount
 * whose device is the block device itself or a loop device backed by the
 * image file, or any mount naming the image as its source.
 */
export function findExistingMount(
  image: string,
  isBlockDevice: boolean,
  rdev: number,
  mounts: readonly MountInfo[],
  loopDevs: readonly string[],
): MountInfo | null {
  const devs = new Set(loopDevs);
  if (isBlockDevice) devs.add(devString(rdev));
  for (const m of mounts) {
    if (devs.has(m.dev)) return m;
    if (m.source === image) return m;
  }
  return null;
}

/** An image opened, claimed and ready for the core and the fast path. */
export interface OpenedImage {
  /** The resolved path. */
  readonly path: string;
  /** The device the core uses (the window at the offset). */
  readonly device: BlockDevice;
  /** The image descriptor for the native fast path (device offsets add {@link offset}). */
  readonly fd: number;
  /** Byte offset of the filesystem in the image. */
  readonly offset: number;
  readonly isBlockDevice: boolean;
  readonly readOnly: boolean;
}

/**
 * Opens `image` for mounting: resolves it, refuses it when mounted
 * elsewhere, opens it read-only (`readOnly`) or read-write — a block device
 * with O_EXCL — and takes an exclusive flock on the descriptor (held until
 * the device is closed). Throws ImageError: OPEN (missing, unreadable, not
 * a file or block device; EROFS/EACCES for read-write), MOUNTED, LOCKED,
 * OFFSET (past the end).
 */
export function openImage(
  image: string,
  options: { readOnly: boolean; offset: number },
): OpenedImage {
  let path: string;
  let st: ReturnType<typeof statSync>;
  try {
    path = realpathSync(image);
    st = statSync(path);
  } catch (e) {
    throw new ImageError("OPEN", `cannot open ${image}: ${(e as Error).message}`, { cause: e });
  }
  const isBlockDevice = st.isBlockDevice();
  if (!isBlockDevice && !st.isFile()) {
    throw new ImageError("OPEN", `${image} is neither a regular file nor a block device`);
  }
  const mounted = findExistingMount(
    path,
    isBlockDevice,
    st.rdev,
    currentMounts(),
    isBlockDevice ? [] : loopDevicesBacking(path),
  );
  if (mounted !== null) {
    throw new ImageError(
      "MOUNTED",
      `${image} is already mounted on ${mounted.mountpoint} (${mounted.fstype}); unmount it first`,
    );
  }
  let file: FileDevice;
  try {
    file = FileDevice.open(path, { readOnly: options.readOnly, exclusive: isBlockDevice });
  } catch (e) {
    const errno = e instanceof IoError ? e.errno : "";
    if (errno === "EBUSY") {
      throw new ImageError("MOUNTED", `${image} is busy: mounted or claimed by another program`, {
        cause: e,
      });
    }
    const hint =
      !options.readOnly && (errno === "EACCES" || errno === "EROFS" || errno === "EPERM")
        ? " (mount it with -o ro)"
        : "";
    throw new ImageError("OPEN", `cannot open ${image}: ${(e as Error).message}${hint}`, {
      cause: e,
    });
  }
  try {
    flock(file.fd);
  } catch (e) {
    file.close();
    if (isFuseError(e, "EAGAIN")) {
      throw new ImageError(
        "LOCKED",
        `${image} is in use: another program (a fuse4fs mount?) holds its lock`,
        {
          cause: e,
        },
      );
    }
    throw new ImageError("OPEN", `cannot lock ${image}: ${(e as Error).message}`, { cause: e });
  }
  let inner: BlockDevice = file;
  if (options.offset !== 0) {
    if (options.offset >= file.size) {
      file.close();
      throw new ImageError(
        "OFFSET",
        `offset ${options.offset} is past the end of ${image} (${file.size} bytes)`,
      );
    }
    inner = new OffsetDevice(file, options.offset, file.size - options.offset, {
      closeInner: true,
    });
  }
  return {
    path,
    device: inner,
    fd: file.fd,
    offset: options.offset,
    isBlockDevice,
    readOnly: options.readOnly,
  };
}
