/**
 * `pnpm corpus [--out DIR] [FILTER...]`: builds the corruption corpus into
 * DIR (default packages/fsck-lite/.corpus, gitignored) with each case's
 * e2fsck verdict beside its image, for inspection by hand.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCorpus } from "./build.ts";

const args = process.argv.slice(2);
let out = join(fileURLToPath(new URL("..", import.meta.url)), ".corpus");
const filter: string[] = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  if (a === "--out") out = args[++i] ?? out;
  else filter.push(a);
}
const { clean, cases } = buildCorpus(out, {
  filter,
  writeExpected: true,
  onCase: (c) =>
    console.log(
      `${c.name.padEnd(48)} e2fsck=${c.expected.status} passes=[${c.expected.passes.join(",")}]`,
    ),
});
console.log(`${clean.length} clean images, ${cases.length} cases in ${out}`);
