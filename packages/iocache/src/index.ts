/** Block devices and a bounded write-back buffer cache. Knows nothing about ext4. */
export { type BlockDevice, IoError } from "./device.js";
