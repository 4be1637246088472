#!/usr/bin/env node
// ext4-check: runs the command class straight away (dist/main.js; build first).
import { main } from "../dist/main.js";

await main(process.argv.slice(2));
