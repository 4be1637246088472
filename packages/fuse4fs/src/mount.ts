/**
 * Mounting an image: open and claim it, open the filesystem with the core
 * (refusing what cannot be mounted safely), mount FUSE, optionally drop
 * privileges, serve, and once the kernel has finished the INIT handshake
 * hand back a {@link MountHandle}. The end of the session (unmount,
 * `fusermount3 -u`, abort) flushes everything, closes the filesystem
 * (marking it clean) and releases the image.
 */
import { readFileSync, realpathSync, writeFileSync, writeSync } from "node:fs";
import { availableParallelism } from "node:os";
import { Ext4Error, Filesystem } from "@ext4/core";
import {
  dropPrivileges,
  FuseSession,
  isFuseError,
  type SessionEnd,
  unmount,
} from "@ext4/native-fuse";
import { currentMounts, ImageError, type OpenedImage, openImage } from "./image.js";
import type { ErrorsBehavior, Fuse4fsOptions } from "./options.js";
import { Fuse4fsServer } from "./server.js";

/** Why a mount failed; `message` is one line for the user. */
export class MountError extends Error {
  override readonly name = "MountError";
  constructor(
    /** OPEN, LOCKED, MOUNTED, OFFSET (the image), FILESYSTEM (the core refused it), RECOVERY, READ_ONLY_ONLY, FUSE, PRIVILEGES. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** How a mount ended. */
export interface MountEnd {
  /** The session's end (errno 0: unmounted normally). */
  readonly session: SessionEnd;
  /** Closing the filesystem failed (the image may not be marked clean). */
  readonly closeError: Error | null;
}

/** A mounted image. */
export interface MountHandle {
  readonly image: string;
  readonly mountpoint: string;
  readonly fs: Filesystem;
  readonly server: Fuse4fsServer;
  readonly session: FuseSession;
  /** Resolves once the session ended and the image was closed and released. */
  readonly ended: Promise<MountEnd>;
  /** Unmounts (lazily when asked or when busy) and waits for {@link ended}. Never rejects. */
  unmount(options?: { lazy?: boolean }): Promise<MountEnd>;
}

/** Hooks for the caller (the CLI's logging and its errors=panic exit). */
export interface MountHooks {
  log?: (line: string) => void;
  /** errors=panic met corruption. Default: the mount is aborted (lazily unmounted). */
  onPanic?: (reason: string) => void;
}

/** ext4's s_errors: 1 continue, 2 remount-ro, 3 panic. */
function superblockErrors(v: number): ErrorsBehavior {
  return v === 2 ? "remount-ro" : v === 3 ? "panic" : "continue";
}

interface RunAs {
  uid: number;
  gid: number;
}

function lookupId(file: string, name: string): { id: number; gid: number } | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null;
  }
  for (const line of text.split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f[2] !== undefined) return { id: Number(f[2]), gid: Number(f[3] ?? f[2]) };
  }
  return null;
}

/** Resolves `user[:group]` (names or numbers) through /etc/passwd and /etc/group. Throws MountError(PRIVILEGES). */
export function resolveRunAs(spec: string): RunAs {
  const [user = "", group] = spec.split(":");
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    gid = uid;
  } else {
    const u = lookupId("/etc/passwd", user);
    if (u === null) throw new MountError("PRIVILEGES", `runas: no user '${user}'`);
    uid = u.id;
    gid = u.gid;
  }
  if (group !== undefined) {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const g = lookupId("/etc/group", group);
      if (g === null) throw new MountError("PRIVILEGES", `runas: no group '${group}'`);
      gid = g.id;
    }
  }
  if (uid === 0) throw new MountError("PRIVILEGES", "runas: the user must not be root");
  return { uid, gid };
}

/** Sets the bdi read_ahead_kb of the mount at `mountpoint` (root only). Returns whether it worked. */
export function setReadahead(mountpoint: string, kb: number): boolean {
  const m = currentMounts().find((x) => x.mountpoint === mountpoint);
  if (m === undefined) return false;
  try {
    writeFileSync(`/sys/class/bdi/${m.dev}/read_ahead_kb`, String(kb));
    return true;
  } catch {
    return false;
  }
}

function openFilesystem(img: OpenedImage, o: Fuse4fsOptions, image: string): Filesystem {
  const close = (): void => {
    try {
      img.device.close();
    } catch {
      // Nothing was written: closing cannot lose anything.
    }
  };
  let fs: Filesystem;
  try {
    // A journal needing recovery is replayed: on the image when mounting
    // read-write, in memory for a read-only mount (the image is not
    // written); norecovery shows the image as it is on disk, read-only.
    fs = Filesystem.open(img.device, {
      writable: !o.readOnly,
      journal: o.norecovery ? "ignore" : "replay",
      ...(o.cacheBytes === undefined ? {} : { cacheBytes: o.cacheBytes }),
    });
  } catch (e) {
    close();
    if (e instanceof MountError) throw e;
    if (e instanceof Ext4Error) {
      const what =
        e.kind === "Incompatible"
          ? "uses features fuse4fs does not support"
          : e.kind === "ReadOnly"
            ? "cannot be mounted read-write"
            : "is not a usable ext2/3/4 filesystem";
      throw new MountError("FILESYSTEM", `${image} ${what}: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (!o.readOnly && !fs.writable) {
    const reason = fs.readOnlyReason ?? "unknown";
    fs.close();
    throw new MountError(
      "READ_ONLY_ONLY",
      `${image} can only be mounted read-only (${reason}): use -o ro`,
    );
  }
  return fs;
}

/**
 * Mounts `image` on `mountpoint` with options `o` and serves it from this
 * process. Resolves once the kernel has finished the INIT handshake (the
 * mount is usable); file operations on it must then come from other
 * threads or processes (a synchronous call from this JS thread deadlocks).
 * Throws MountError (image, filesystem, FUSE or privilege problems);
 * nothing stays mounted or open after a failure.
 */
export async function mountImage(
  image: string,
  mountpoint: string,
  o: Fuse4fsOptions,
  hooks: MountHooks = {},
): Promise<MountHandle> {
  const log = hooks.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // norecovery means the journal is ignored: only a read-only view is safe (fuse2fs: implies ro).
  // sync: every write must reach the server (and the image) before write(2) returns,
  // which the kernel's writeback cache would defer.
  const opts: Fuse4fsOptions = {
    ...o,
    readOnly: o.readOnly || o.norecovery,
    writebackCache: o.writebackCache && !o.sync,
  };
  let mp: string;
  try {
    mp = realpathSync(mountpoint);
  } catch (e) {
    throw new MountError("FUSE", `mountpoint ${mountpoint}: ${(e as Error).message}`, { cause: e });
  }
  const runAs = opts.runas === undefined ? null : resolveRunAs(opts.runas);
  let img: OpenedImage;
  try {
    img = openImage(image, { readOnly: opts.readOnly, offset: opts.offset });
  } catch (e) {
    if (e instanceof ImageError) throw new MountError(e.code, e.message, { cause: e });
    throw e;
  }
  const fs = openFilesystem(img, opts, image);
  const rec = fs.recovery;
  if (rec !== null) {
    log(
      `fuse4fs: ${image}: journal recovered ${rec.inMemory ? "in memory (read-only mount: the image is not written)" : "on the image"}: ` +
        `${rec.transactions} transactions, ${rec.blocks} blocks${rec.skipped > 0 ? `, ${rec.skipped} damaged copies skipped` : ""}`,
    );
  }
  if (fs.writable) {
    try {
      fs.setLastMounted(mp);
    } catch (e) {
      try {
        fs.close();
      } catch {
        // Reported by the failure below.
      }
      throw new MountError(
        "FILESYSTEM",
        `${image}: cannot write the superblock: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  }
  const fail = (e: unknown): never => {
    try {
      fs.close();
    } catch {
      // Reported by the original failure.
    }
    throw e;
  };
  let session: FuseSession;
  try {
    session = FuseSession.mount({
      mountpoint: mp,
      fsname: opts.fsname ?? img.path,
      subtype: opts.subtype,
      allowOther: opts.allowOther,
      defaultPermissions: true,
      readOnly: opts.readOnly,
      maxRead: 1 << 20,
      suid: opts.suid,
      dev: opts.dev,
      noexec: opts.noexec,
    });
  } catch (e) {
    return fail(
      new MountError("FUSE", `cannot mount on ${mountpoint}: ${(e as Error).message}`, {
        cause: e,
      }),
    );
  }
  const server = new Fuse4fsServer(
    fs,
    {
      readOnly: opts.readOnly,
      errors: opts.errors ?? superblockErrors(fs.superblock.errors),
      atime: opts.atime,
      acl: opts.acl,
      userXattr: opts.userXattr,
      fakeroot: opts.fakeroot,
      statfs: opts.statfs,
      writebackCache: opts.writebackCache,
      entryTimeout: opts.entryTimeout,
      attrTimeout: opts.attrTimeout,
      negativeTimeout: opts.negativeTimeout,
      fastpath: opts.fastpath,
      sync: opts.sync,
      debug: opts.debug,
    },
    img.offset,
    log,
  );
  const abort = async (): Promise<void> => {
    await unmount(mp, { lazy: true }).catch(() => undefined);
  };
  server.onPanic =
    hooks.onPanic ??
    ((reason) => {
      log(`fuse4fs: errors=panic: ${reason}: aborting the mount`);
      void abort();
    });
  try {
    if (opts.fastpath) session.setDevice(img.fd);
    const fd = img.fd;
    server.attach(session, opts.fastpath, (offset, data) => {
      let done = 0;
      while (done < data.length)
        done += writeSync(fd, data, done, data.length - done, offset + done);
    });
  } catch (e) {
    session.close();
    await unmount(mp, { lazy: true }).catch(() => undefined);
    return fail(
      new MountError("FUSE", `cannot set up the fast path: ${(e as Error).message}`, { cause: e }),
    );
  }
  let initDone: () => void = () => {};
  const initialized = new Promise<void>((r) => {
    initDone = r;
  });
  session.serve(server.handlers(), {
    dispatch: opts.dispatch,
    threads: opts.threads,
    // Polling only pays when the client runs on another CPU meanwhile: with one, it
    // would only keep the client from sending its next request.
    spinMicros: availableParallelism() > 1 ? opts.spinMicros : 0,
    // Every handler consumes WRITE data before it returns (the core copies it into
    // its cache or writes it out; nothing keeps it): no fresh copy per request.
    transientWrites: true,
    maxWrite: 1 << 20,
    log: (line) => log(`fuse4fs: ${line}`),
    onInit: () => initDone(),
  });
  if (runAs !== null) {
    // Now that the image and every /dev/fuse descriptor (the reader threads' clones
    // too) are open, and before this thread handles any request. The uid change
    // reaches every thread and empties their capability sets; the bounding set and
    // no_new_privs are per thread and set on this one (the reader threads never exec).
    try {
      dropPrivileges({ uid: runAs.uid, gid: runAs.gid });
    } catch (e) {
      log(`fuse4fs: cannot drop privileges, unmounting: ${(e as Error).message}`);
      await unmount(mp, { lazy: true }).catch(() => undefined);
      await session.ended;
      return fail(
        new MountError("PRIVILEGES", `cannot drop privileges: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
  }
  // Like the kernel's commit interval (commit=5): changes are durable within seconds.
  const commit = setInterval(() => {
    if (!server.dirty) return;
    try {
      server.commit();
    } catch (e) {
      log(`fuse4fs: periodic commit failed: ${(e as Error).message}`);
    }
  }, 5000);
  commit.unref();
  const ended: Promise<MountEnd> = session.ended.then((end) => {
    clearInterval(commit);
    let closeError: Error | null = null;
    try {
      // Unlinked files still open are deleted, the state restored to clean, all flushed.
      fs.close();
    } catch (e) {
      closeError = e as Error;
      log(`fuse4fs: closing the filesystem failed: ${closeError.message}`);
    }
    return { session: end, closeError };
  });
  const timeout = new Promise<"timeout">((r) => setTimeout(() => r("timeout"), 15_000).unref());
  const first = await Promise.race([
    initialized.then(() => "init" as const),
    ended.then(() => "ended" as const),
    timeout,
  ]);
  if (first !== "init") {
    if (first === "timeout") await abort();
    await ended;
    throw new MountError("FUSE", `the kernel did not start the FUSE session on ${mountpoint}`);
  }
  if (opts.readaheadKb > 0 && process.getuid?.() === 0 && runAs === null)
    setReadahead(mp, opts.readaheadKb);
  const handle: MountHandle = {
    image: img.path,
    mountpoint: mp,
    fs,
    server,
    session,
    ended,
    unmount: async (u = {}) => {
      if (session.status === "serving" || session.status === "mounted") {
        try {
          await session.unmount({ lazy: u.lazy === true });
        } catch (e) {
          if (isFuseError(e, "EBUSY")) await session.unmount({ lazy: true }).catch(() => undefined);
          else if (!isFuseError(e, "EINVAL")) await abort();
        }
      }
      return ended;
    },
  };
  return handle;
}
