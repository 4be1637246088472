/**
 * Child process for sys.test.ts: drops privileges to the uid/gid given on
 * the command line and prints what it then has (dropping is irreversible,
 * so it never runs inside the test worker).
 */
import { writeFileSync } from "node:fs";
import { capabilities, dropPrivileges, noNewPrivs } from "../sys.js";

const [uid, gid, probe] = process.argv.slice(2).map((s) => s ?? "");
dropPrivileges({ uid: Number(uid), gid: Number(gid) });
let probeWrite = "ok";
try {
  // A root-only file the dropped process must no longer be able to write.
  writeFileSync(probe ?? "", "x");
} catch (e) {
  probeWrite = (e as { code?: string }).code ?? "error";
}
const caps = capabilities();
process.stdout.write(
  `${JSON.stringify({
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    groups: process.getgroups?.(),
    noNewPrivs: noNewPrivs(),
    effective: caps.effective.toString(16),
    permitted: caps.permitted.toString(16),
    probeWrite,
  })}\n`,
);
