// Bundles the batch path of ext4-debug (dist/cli/run.js and everything it
// imports: the shell, the commands, the core, the cache) into one module,
// dist/bundle/batch.mjs, which bin/run.js loads for `-R`/`-f` command lines.
//
// Why: a short request is mostly start-up, and most of the start-up was the
// module loader resolving, reading and linking ~200 files (package.json
// lookups, stats, one compile-cache entry each). One module halves it (see
// the README's ext4-debug figures). Run after `tsc -b` (the package's build
// script does).
//
// Beside it, dist/bundle/batch.json lists the `.tsbuildinfo` of every
// workspace package whose compiled code went into the bundle (relative to
// this package), taken from the bundle's own modules: bin/run.js falls back
// to dist/ when the bundle is older than any of them.
//
// Kept out: Node's built-ins and @node-rs/crc32, whose native binding is
// loaded from node_modules as usual.
import { writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { rolldown } from "rolldown";

const pkg = fileURLToPath(new URL("..", import.meta.url));
const bundle = await rolldown({
  input: `${pkg}dist/cli/run.js`,
  platform: "node",
  external: [/^node:/, "@node-rs/crc32"],
  logLevel: "warn",
});
const { output } = await bundle.write({
  file: `${pkg}dist/bundle/batch.mjs`,
  format: "esm",
  sourcemap: true,
});
await bundle.close();

// Module ids are real paths (workspace links resolved): <package>/dist/<file>.
const built = new Set();
for (const id of output[0].moduleIds) {
  const at = id.lastIndexOf("/dist/");
  if (at >= 0 && !id.includes("/node_modules/")) {
    built.add(relative(pkg, `${id.slice(0, at)}/dist/.tsbuildinfo`));
  }
}
if (!built.has("dist/.tsbuildinfo")) throw new Error("bundle.mjs: no module of this package");
writeFileSync(
  `${dirname(fileURLToPath(new URL("../dist/bundle/batch.mjs", import.meta.url)))}/batch.json`,
  `${JSON.stringify([...built].sort())}\n`,
);
