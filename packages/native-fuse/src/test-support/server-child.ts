/**
 * A separate server process for tests that must kill the server or make it
 * slow without blocking the test's own JS thread:
 *
 *   node --import ./ts-hooks.ts server-child.ts MOUNTPOINT BACKING [--delay MS] [--no-fast]
 *
 * Mounts the example filesystem with /hello and /data.bin (1 MiB, byte i =
 * i*7 mod 251), prints "ready", and "ended ERRNO" when the session ends,
 * after which the process exits by itself.
 */
import { FuseSession } from "../session.js";
import { MemFs } from "./memfs.js";

/** The content of /data.bin in the child's filesystem. */
export function childData(): Uint8Array {
  const d = new Uint8Array(1 << 20);
  for (let i = 0; i < d.length; i++) d[i] = (i * 7) % 251;
  return d;
}

function main(): void {
  const [mp, backing, ...rest] = process.argv.slice(2);
  if (mp === undefined || backing === undefined) {
    console.error("usage: server-child.ts MOUNTPOINT BACKING [--delay MS] [--no-fast]");
    process.exit(16);
  }
  const delayAt = rest.indexOf("--delay");
  const fs = new MemFs({ backingPath: backing, fastPath: !rest.includes("--no-fast") });
  fs.delayMs = delayAt >= 0 ? Number(rest[delayAt + 1] ?? 0) : 0;
  fs.writeFile("/hello", Buffer.from("hello from child\n"));
  fs.writeFile("/data.bin", childData());
  const session = FuseSession.mount({ mountpoint: mp, fsname: "child", subtype: "memfs" });
  session.serve(fs.handlers(), { log: (l) => console.error(l) });
  fs.attach(session);
  session.ended.then((e) => {
    console.log(`ended ${e.errno}`);
    fs.dispose();
  });
  process.stdout.write("ready\n");
}

if (process.argv[1]?.endsWith("server-child.ts")) main();
