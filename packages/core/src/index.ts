/**
 * @ext4/core: the only package that knows the ext4 on-disk format.
 * See docs/architecture.md for the module map.
 */
export * from "./brands.js";
export { crc16, crc32cRaw } from "./crc.js";
export * from "./dir/index.js";
export * from "./errors.js";
export * from "./struct.js";
export * from "./view.js";
