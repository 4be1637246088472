/** Directories: linear blocks, htree indexes, name hashes, inline directories, path lookup. */
export {};
