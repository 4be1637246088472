/** Package entry point for core; see docs/architecture.md. */
export const packageName = "core";
