#!/usr/bin/env node
// ext4-debug: the oclif entry point. The command itself is dist/cli/command.js
// (built by `tsc -b`); see src/cli/command.ts.
import { execute } from "@oclif/core";

// A closed pipe (`ext4-debug -R 'cat /big' img | head`) ends the output quietly, as debugfs does.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

await execute({ dir: import.meta.url });
