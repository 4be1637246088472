/**
 * The transport's ceiling for bench/fuse4fs/run.sh: the native-fuse example
 * filesystem (an in-memory tree, file data in a backing file, almost no
 * work per request) served exactly as fuse4fs serves by default — JS thread
 * dispatch with 50 µs of polling, 2 fast-path workers, default_permissions,
 * long cache timeouts, the fast path on. Whatever it cannot reach, no
 * server over this transport can.
 *
 *   node --import ./packages/native-fuse/src/test-support/ts-hooks.ts \
 *     bench/fuse4fs/noop-server.ts MOUNTPOINT BACKING_FILE
 *
 * Prints "ready" once mounted; exits when the mount goes away.
 */
import { FuseSession } from "../../packages/native-fuse/src/session.ts";
import { MemFs } from "../../packages/native-fuse/src/test-support/memfs.ts";

const [mountpoint, backing] = process.argv.slice(2);
if (mountpoint === undefined || backing === undefined) {
  console.error("usage: noop-server.ts MOUNTPOINT BACKING_FILE");
  process.exit(2);
}
const fs = new MemFs({ backingPath: backing, timeout: 86400 });
const session = FuseSession.mount({
  mountpoint,
  fsname: "noop",
  subtype: "noop",
  defaultPermissions: true,
});
session.serve(fs.handlers(), {
  dispatch: "inline",
  spinMicros: 50,
  threads: 2,
  log: (l) => console.error(l),
});
fs.attach(session);
session.setDevice(fs.backingFd);
console.log("ready");
void session.ended.then(() => {
  fs.dispose();
  process.exit(0);
});
