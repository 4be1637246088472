/**
 * The CLI run from sources (tests): `node --experimental-transform-types
 * --conditions=source --import <ts-hooks> cli.ts ARGS...`. The same
 * library entry as bin/run.js's oclif command.
 */
import { runFuse4fs } from "../cli/main.js";

process.exit(await runFuse4fs(process.argv.slice(2)));
