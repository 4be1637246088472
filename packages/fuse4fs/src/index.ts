/** Package entry point for fuse4fs; see docs/architecture.md. */
export const packageName = "fuse4fs";
