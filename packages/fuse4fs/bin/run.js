#!/usr/bin/env node
// fuse4fs: the oclif entry point. The command itself is dist/cli/command.js
// (built by `tsc -b`); see src/cli/command.ts. A FUSE server must not die
// of a closed stdout or stderr (background mode closes them).
import { execute } from "@oclif/core";

for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", () => undefined);
}

await execute({ dir: import.meta.url });
