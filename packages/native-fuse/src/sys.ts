/**
 * Process-level helpers a FUSE server needs around its session and that
 * Node lacks: advisory whole-file locks on a descriptor (flock(2)) and the
 * steps of dropping privileges for good (supplementary groups, gid, uid,
 * every capability set, PR_SET_NO_NEW_PRIVS). Generic: nothing here knows
 * a session or a filesystem.
 */
import { FuseError, fromNative } from "./errors.js";
import { native } from "./native.js";

function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e);
  }
}

/**
 * Takes an advisory flock(2) lock on `fd` (exclusive unless `shared`),
 * failing at once when another open file description holds a conflicting
 * lock (unless `wait`). The lock lives as long as the open file description.
 * Throws FuseError: EAGAIN (EWOULDBLOCK: held elsewhere), EBADF, ENOLCK;
 * ERR_FUSE_ARGUMENT for a bad descriptor number.
 */
export function flock(fd: number, options: { shared?: boolean; wait?: boolean } = {}): void {
  call(() => native().flock(fd, options.shared !== true, options.wait !== true));
}

/** Releases a lock taken with {@link flock}. Throws FuseError (EBADF). */
export function funlock(fd: number): void {
  call(() => native().funlock(fd));
}

/**
 * Sets PR_SET_NO_NEW_PRIVS on the calling thread (and the threads and
 * processes it starts afterwards): execve never grants privileges again.
 * Irreversible. Throws FuseError (EINVAL on kernels before 3.5).
 */
export function setNoNewPrivs(): void {
  call(() => native().setNoNewPrivs());
}

/** Whether PR_SET_NO_NEW_PRIVS is set on the calling thread. Throws FuseError. */
export function noNewPrivs(): boolean {
  return call(() => native().getNoNewPrivs());
}

/**
 * The calling thread's effective and permitted capability sets (capget(2))
 * as bigint masks (bit n = capability n). Throws FuseError.
 */
export function capabilities(): { effective: bigint; permitted: bigint } {
  const c = call(() => native().capabilities());
  return { effective: BigInt(`0x${c.effective}`), permitted: BigInt(`0x${c.permitted}`) };
}

/**
 * Empties the ambient and bounding sets (the latter only while CAP_SETPCAP
 * is held) and zeroes the effective, permitted and inheritable sets of the
 * calling thread. Returns how many bounding-set entries stayed (0 when run
 * privileged). Throws FuseError (capset failures).
 */
export function dropCapabilities(): number {
  return call(() => native().dropCapabilities(true));
}

/** Who to become in {@link dropPrivileges}. */
export interface DropTo {
  uid: number;
  gid: number;
  /** Supplementary groups (default none). */
  groups?: readonly number[];
}

/**
 * Gives up privileges for good, in the order that makes each step possible:
 * bounding and ambient capability sets emptied (needs CAP_SETPCAP, so
 * first), supplementary groups replaced, then gid and uid changed (glibc
 * applies them to every thread), the remaining capability sets zeroed, and
 * PR_SET_NO_NEW_PRIVS set. Call it before starting threads that must not
 * keep capabilities: capability sets and no_new_privs are per thread.
 * Throws FuseError: ERR_FUSE_ARGUMENT for a bad id or uid 0 (nothing would
 * be dropped), EPERM when not privileged, ERR_FUSE_PRIVS when the uid
 * could be regained afterwards.
 */
export function dropPrivileges(to: DropTo): void {
  for (const [v, what] of [
    [to.uid, "uid"],
    [to.gid, "gid"],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v > 0xfffffffe) {
      throw new FuseError(
        "ERR_FUSE_ARGUMENT",
        `${what} must be between 0 and 4294967294, got ${v}`,
      );
    }
  }
  if (to.uid === 0)
    throw new FuseError("ERR_FUSE_ARGUMENT", "dropping privileges to uid 0 keeps them");
  const groups = [...(to.groups ?? [])];
  // The bounding set first: emptying it needs CAP_SETPCAP, which setuid takes away.
  call(() => native().dropCapabilities(false));
  const sys = (f: () => void, what: string): void => {
    try {
      f();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      throw new FuseError(
        typeof code === "string" ? code : "EPERM",
        `${what}: ${String(e)}`,
        undefined,
        {
          cause: e,
        },
      );
    }
  };
  sys(() => process.setgroups?.(groups), "setgroups");
  sys(() => process.setgid?.(to.gid), "setgid");
  sys(() => process.setuid?.(to.uid), "setuid");
  // setuid from root cleared the sets on every thread already; this makes sure.
  dropCapabilities();
  setNoNewPrivs();
  // The drop must be permanent: regaining root has to fail now.
  let regained = false;
  try {
    process.setuid?.(0);
    regained = true;
  } catch {
    // Expected: EPERM.
  }
  if (regained || process.getuid?.() !== to.uid || process.getgid?.() !== to.gid) {
    throw new FuseError("ERR_FUSE_PRIVS", "privileges could be regained after dropping them");
  }
}
