/** Package entry point for native-fuse; see docs/architecture.md. */
export const packageName = "native-fuse";
