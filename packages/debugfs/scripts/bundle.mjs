// Bundles the batch path of ext4-debug (dist/cli/run.js and everything it
// imports: the shell, the commands, the core, the cache) into one module,
// dist/bundle/batch.mjs, which bin/run.js loads for `-R`/`-f` command lines.
//
// Why: a short request is mostly start-up, and most of the start-up was the
// module loader resolving, reading and linking ~200 files (package.json
// lookups, stats, one compile-cache entry each). One module halves it (see
// the README's ext4-debug figures). Run after `tsc -b` (the package's build
// script does); bin/run.js falls back to dist/ when the bundle is missing or
// older than the compiled code it was made from.
//
// Kept out: Node's built-ins and @node-rs/crc32, whose native binding is
// loaded from node_modules as usual.
import { rolldown } from "rolldown";

const bundle = await rolldown({
  input: new URL("../dist/cli/run.js", import.meta.url).pathname,
  platform: "node",
  external: [/^node:/, "@node-rs/crc32"],
  logLevel: "warn",
});
await bundle.write({
  file: new URL("../dist/bundle/batch.mjs", import.meta.url).pathname,
  format: "esm",
  sourcemap: true,
});
await bundle.close();
