#!/usr/bin/env node
// ext4-check: the oclif entry point (the command lives in dist/cli.js; build first).
import { execute } from "@oclif/core";

await execute({ dir: import.meta.url });
