/** Block devices and a bounded write-back buffer cache. Knows nothing about ext4. */
export { BufferCache, type BufferCacheOptions, type CacheStats } from "./buffer-cache.js";
export { type BlockDevice, IoError } from "./device.js";
export {
  FaultDevice,
  type FaultIo,
  type FaultOptions,
  type Landing,
  nthCall,
  overlaps,
  type UnflushedWrite,
} from "./fault-device.js";
export { FileDevice, type FileDeviceOptions } from "./file-device.js";
export { MemoryDevice, type MemoryDeviceOptions } from "./memory-device.js";
export { OffsetDevice, type OffsetDeviceOptions } from "./offset-device.js";
