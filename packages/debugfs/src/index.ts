/** Package entry point for debugfs; see docs/architecture.md. */
export const packageName = "debugfs";
