// How fast one ext4-debug request runs once the JIT has optimized it: runs
// the same batch request N times in one process (the CLI's runCli, output
// counted and dropped) and prints each run's time. The first run is what a
// fresh process pays on top of start-up; the later ones are the floor the
// code itself sets. Build first (pnpm exec turbo run build).
//   usage: node bench/ext4-debug/warm.mjs IMAGE ['REQUEST'] [RUNS]
//   e.g.   node bench/ext4-debug/warm.mjs /var/tmp/bench-debug/bench-1g.img 'ls -l /big' 8
import { runCli } from "../../packages/debugfs/dist/cli/main.js";

const [image, request = "ls -l /big", runsArg = "8"] = process.argv.slice(2);
if (image === undefined) {
  console.error("usage: node bench/ext4-debug/warm.mjs IMAGE ['REQUEST'] [RUNS]");
  process.exit(2);
}
for (let i = 0; i < Number(runsArg); i++) {
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  const status = await runCli(
    { image, request, json: false },
    {
      stdout: (c) => {
        bytes += c.length;
      },
      stderr: (t) => process.stderr.write(t),
      readStdin: () => "",
    },
  );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(`run ${i + 1}: ${ms.toFixed(1)} ms, ${bytes} bytes out, exit ${status}`);
}
