/**
 * The directory block list (e2fsck's dblist): one row per logical block of
 * every directory, holes included, as parallel typed arrays. Pass 1 fills
 * it while it walks each directory's block map anyway (as e2fsck does), so
 * pass 2 neither re-reads the directory inodes nor walks their maps again.
 */

/** Logical blocks past this are never listed (the bound pass 2 has always used). */
export const MAX_DIR_LBLK = (1 << 21) - 1;
/** A single run longer than this is listed only up to it (a corrupt length cannot loop for ever). */
export const MAX_RUN = 1 << 20;

/** The data runs one directory's block map walk reported, in walk order. */
export class DirRuns {
  lblk = new Float64Array(16);
  pblk = new Float64Array(16);
  len = new Float64Array(16);
  count = 0;

  /** Forgets every run (the arrays are kept for the next directory). */
  reset(): void {
    this.count = 0;
  }

  /** Appends a run of `len` blocks from logical `lblk` at physical `pblk`. */
  add(lblk: number, pblk: number, len: number): void {
    if (this.count === this.lblk.length) {
      const n = this.count * 2;
      this.lblk = grow(this.lblk, n);
      this.pblk = grow(this.pblk, n);
      this.len = grow(this.len, n);
    }
    this.lblk[this.count] = lblk;
    this.pblk[this.count] = pblk;
    this.len[this.count] = len;
    this.count++;
  }
}

function grow<T extends Float64Array | Uint32Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** The list itself: directory, logical block, physical block (0 for a hole) and checksum seed per row. */
export class DirBlockList {
  dir = new Uint32Array(1024);
  lblk = new Uint32Array(1024);
  pblk = new Float64Array(1024);
  /** The directory's metadata_csum seed (csum_seed, inode, generation), 0 without metadata_csum. */
  seed = new Uint32Array(1024);
  length = 0;

  /** Appends one row. `lblk` is at most {@link MAX_DIR_LBLK}. */
  push(dir: number, lblk: number, pblk: number, seed: number): void {
    if (this.length === this.dir.length) {
      const n = this.length * 2;
      this.dir = grow(this.dir, n);
      this.lblk = grow(this.lblk, n);
      this.pblk = grow(this.pblk, n);
      this.seed = grow(this.seed, n);
    }
    this.dir[this.length] = dir;
    this.lblk[this.length] = lblk;
    this.pblk[this.length] = pblk;
    this.seed[this.length] = seed;
    this.length++;
  }

  /**
   * Lists directory `dir`'s blocks from the runs its map walk reported:
   * every logical block from 0 to the last one mapped (at most
   * {@link MAX_DIR_LBLK}), a hole as physical block 0, the first mapping of
   * a logical block winning over later ones. A block-mapped directory with
   * no block at all still gets block 0 listed (ext2fs_block_iterate3 hands
   * e2fsck's process_block block 0 so '.' and '..' get checked); an
   * extent-mapped one does not.
   */
  addRuns(dir: number, seed: number, runs: DirRuns, extents: boolean): void {
    let last = -1;
    // Sorted, non-overlapping runs (every sane directory) are listed in one
    // pass; anything else goes through a map with first-seen-wins.
    let sorted = true;
    let next = 0;
    for (let r = 0; r < runs.count; r++) {
      const l = runs.lblk[r]!;
      const n = Math.min(runs.len[r]!, MAX_RUN);
      if (l < next) sorted = false;
      next = l + n;
      if (l + n - 1 > last) last = l + n - 1;
    }
    const end = Math.min(last, MAX_DIR_LBLK);
    if (end < 0) {
      if (!extents) this.push(dir, 0, 0, seed);
      return;
    }
    if (sorted) {
      let l = 0;
      for (let r = 0; r < runs.count && l <= end; r++) {
        const start = runs.lblk[r]!;
        const n = Math.min(runs.len[r]!, MAX_RUN);
        const p = runs.pblk[r]!;
        for (; l < start && l <= end; l++) this.push(dir, l, 0, seed);
        for (; l < start + n && l <= end; l++) this.push(dir, l, p + (l - start), seed);
      }
      for (; l <= end; l++) this.push(dir, l, 0, seed);
      return;
    }
    const map = new Map<number, number>();
    for (let r = 0; r < runs.count; r++) {
      const start = runs.lblk[r]!;
      const n = Math.min(runs.len[r]!, MAX_RUN);
      const p = runs.pblk[r]!;
      for (let k = 0; k < n && start + k <= end; k++) {
        if (!map.has(start + k)) map.set(start + k, p + k);
      }
    }
    for (let l = 0; l <= end; l++) this.push(dir, l, map.get(l) ?? 0, seed);
  }
}
