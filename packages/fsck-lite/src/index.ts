/** Package entry point for fsck-lite; see docs/architecture.md. */
export const packageName = "fsck-lite";
