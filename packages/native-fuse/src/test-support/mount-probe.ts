/**
 * Tries to mount FUSE on a directory and prints the outcome: "mounted" (then
 * unmounts), or the FuseError code. For mount-failure tests that need a
 * different process (another user, a namespace without /dev/fuse).
 *
 *   node --import ./ts-hooks.ts mount-probe.ts MOUNTPOINT [mount|fusermount]
 */
import { isFuseError } from "../errors.js";
import { FuseSession } from "../session.js";

async function main(): Promise<void> {
  const [mp, method] = process.argv.slice(2);
  if (mp === undefined) throw new Error("usage: mount-probe.ts MOUNTPOINT [mount|fusermount]");
  try {
    const s = FuseSession.mount({
      mountpoint: mp,
      method: method === "fusermount" ? "fusermount" : "mount",
    });
    s.serve({});
    await s.unmount();
    await s.ended;
    console.log("mounted");
  } catch (e) {
    console.log(isFuseError(e) ? e.code : String(e));
  }
}

void main();
