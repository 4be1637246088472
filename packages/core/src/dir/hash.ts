/**
 * Directory name hashes, bit for bit as e2fsprogs' `ext2fs_dirhash` and the
 * kernel's `ext4fs_dirhash` compute them: the legacy (dx_hack) hash, the
 * half-MD4 and TEA transforms over a padded name buffer, each in a variant
 * that reads name bytes as signed chars (what x86 compilers did) and one
 * that reads them unsigned. All arithmetic is on u32 (`>>> 0`).
 */
import { fsError } from "../errors.js";

/** dx_root_info.hash_version values (DX_HASH_*); +3 selects the unsigned variant. */
export const DxHashVersion = {
  Legacy: 0,
  HalfMd4: 1,
  Tea: 2,
  LegacyUnsigned: 3,
  HalfMd4Unsigned: 4,
  TeaUnsigned: 5,
  Siphash: 6,
} as const;

/** A name's hash pair. `hash` always has bit 0 clear (it marks collisions in the index). */
export interface DxHash {
  readonly hash: number;
  readonly minorHash: number;
}

/** The seed used when s_hash_seed is all zero (the MD4 initial state). */
const DEFAULT_SEED = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476] as const;

function charAt(name: Uint8Array, i: number, signed: boolean): number {
  // OK to assert: callers index within name.length.
  const b = name[i]!;
  return signed ? (b << 24) >> 24 : b;
}

function dxHackHash(name: Uint8Array, signed: boolean): number {
  let hash0 = 0x12a3fe2d;
  let hash1 = 0x37abe8f9;
  for (let i = 0; i < name.length; i++) {
    const c = charAt(name, i, signed);
    // c * 7152373 fits in an int32 for c in [-128, 255], as it does in C.
    let hash = (hash1 + ((hash0 ^ (c * 7152373)) >>> 0)) >>> 0;
    if (hash & 0x80000000) hash = (hash - 0x7fffffff) >>> 0;
    hash1 = hash0;
    hash0 = hash;
  }
  return (hash0 << 1) >>> 0;
}

/**
 * `str2hashbuf`: packs up to num*4 bytes of the remaining name into `num`
 * words, big-endian-ish (`val = c + (val << 8)`), padding with the remaining
 * length repeated in every byte.
 */
function str2hashbuf(
  name: Uint8Array,
  start: number,
  len: number,
  out: Uint32Array,
  num: number,
  signed: boolean,
): void {
  let pad = (len | (len << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  const n = Math.min(len, num * 4);
  let w = 0;
  for (let i = 0; i < n; i++) {
    val = (charAt(name, start + i, signed) + ((val << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[w++] = val;
      val = pad;
      num--;
    }
  }
  if (--num >= 0) out[w++] = val;
  while (--num >= 0) out[w++] = pad;
}

const rotl = (x: number, s: number): number => ((x << s) | (x >>> (32 - s))) >>> 0;
const F = (x: number, y: number, z: number): number => (z ^ (x & (y ^ z))) >>> 0;
const G = (x: number, y: number, z: number): number => ((x & y) + ((x ^ y) & z)) >>> 0;
const H = (x: number, y: number, z: number): number => (x ^ y ^ z) >>> 0;
const K2 = 0o13240474631;
const K3 = 0o15666365641;

/** The cut-down MD4 transform (`halfMD4Transform`). */
function halfMd4Transform(buf: Uint32Array, inp: Uint32Array): void {
  let a = buf[0]!;
  let b = buf[1]!;
  let c = buf[2]!;
  let d = buf[3]!;
  const x = (i: number): number => inp[i]!;
  const r = (
    f: (x: number, y: number, z: number) => number,
    p: number,
    q: number,
    s: number,
    t: number,
    k: number,
    sh: number,
  ): number => rotl((p + f(q, s, t) + k) >>> 0, sh);

  a = r(F, a, b, c, d, x(0), 3);
  d = r(F, d, a, b, c, x(1), 7);
  c = r(F, c, d, a, b, x(2), 11);
  b = r(F, b, c, d, a, x(3), 19);
  a = r(F, a, b, c, d, x(4), 3);
  d = r(F, d, a, b, c, x(5), 7);
  c = r(F, c, d, a, b, x(6), 11);
  b = r(F, b, c, d, a, x(7), 19);

  a = r(G, a, b, c, d, (x(1) + K2) >>> 0, 3);
  d = r(G, d, a, b, c, (x(3) + K2) >>> 0, 5);
  c = r(G, c, d, a, b, (x(5) + K2) >>> 0, 9);
  b = r(G, b, c, d, a, (x(7) + K2) >>> 0, 13);
  a = r(G, a, b, c, d, (x(0) + K2) >>> 0, 3);
  d = r(G, d, a, b, c, (x(2) + K2) >>> 0, 5);
  c = r(G, c, d, a, b, (x(4) + K2) >>> 0, 9);
  b = r(G, b, c, d, a, (x(6) + K2) >>> 0, 13);

  a = r(H, a, b, c, d, (x(3) + K3) >>> 0, 3);
  d = r(H, d, a, b, c, (x(7) + K3) >>> 0, 9);
  c = r(H, c, d, a, b, (x(2) + K3) >>> 0, 11);
  b = r(H, b, c, d, a, (x(6) + K3) >>> 0, 15);
  a = r(H, a, b, c, d, (x(1) + K3) >>> 0, 3);
  d = r(H, d, a, b, c, (x(5) + K3) >>> 0, 9);
  c = r(H, c, d, a, b, (x(0) + K3) >>> 0, 11);
  b = r(H, b, c, d, a, (x(4) + K3) >>> 0, 15);

  buf[0] = buf[0]! + a;
  buf[1] = buf[1]! + b;
  buf[2] = buf[2]! + c;
  buf[3] = buf[3]! + d;
}

const TEA_DELTA = 0x9e3779b9;

/** TEA in a Davies-Meyer construction (`TEA_transform`), 16 rounds. */
function teaTransform(buf: Uint32Array, inp: Uint32Array): void {
  let sum = 0;
  let b0 = buf[0]!;
  let b1 = buf[1]!;
  const a = inp[0]!;
  const b = inp[1]!;
  const c = inp[2]!;
  const d = inp[3]!;
  for (let n = 0; n < 16; n++) {
    sum = (sum + TEA_DELTA) >>> 0;
    b0 = (b0 + ((((b1 << 4) >>> 0) + a) ^ (b1 + sum) ^ ((b1 >>> 5) + b))) >>> 0;
    b1 = (b1 + ((((b0 << 4) >>> 0) + c) ^ (b0 + sum) ^ ((b0 >>> 5) + d))) >>> 0;
  }
  buf[0] = buf[0]! + b0;
  buf[1] = buf[1]! + b1;
}

/**
 * Hashes a directory entry name like `ext2fs_dirhash(version, name, len,
 * seed)`: versions 0-2 read bytes as signed chars, 3-5 as unsigned; an
 * all-zero (or missing) seed selects the default seed; the legacy hash
 * ignores the seed and has minor hash 0. Returns the major hash with bit 0
 * cleared. Throws NotSupported for siphash (it needs the fscrypt key) and
 * Incompatible for an unknown version.
 */
export function dxHash(version: number, name: Uint8Array, seed?: readonly number[]): DxHash {
  const buf = new Uint32Array(DEFAULT_SEED);
  if (seed !== undefined && seed.length >= 4 && seed.slice(0, 4).some((w) => w !== 0)) {
    for (let i = 0; i < 4; i++) buf[i] = seed[i]!;
  }
  let hash: number;
  let minor = 0;
  switch (version) {
    case DxHashVersion.Legacy:
    case DxHashVersion.LegacyUnsigned:
      hash = dxHackHash(name, version === DxHashVersion.Legacy);
      break;
    case DxHashVersion.HalfMd4:
    case DxHashVersion.HalfMd4Unsigned: {
      const signed = version === DxHashVersion.HalfMd4;
      const inp = new Uint32Array(8);
      for (let p = 0, len = name.length; len > 0; len -= 32, p += 32) {
        str2hashbuf(name, p, len, inp, 8, signed);
        halfMd4Transform(buf, inp);
      }
      minor = buf[2]!;
      hash = buf[1]!;
      break;
    }
    case DxHashVersion.Tea:
    case DxHashVersion.TeaUnsigned: {
      const signed = version === DxHashVersion.Tea;
      const inp = new Uint32Array(4);
      for (let p = 0, len = name.length; len > 0; len -= 16, p += 16) {
        str2hashbuf(name, p, len, inp, 4, signed);
        teaTransform(buf, inp);
      }
      hash = buf[0]!;
      minor = buf[1]!;
      break;
    }
    case DxHashVersion.Siphash:
      throw fsError(
        "NotSupported",
        "DX_HASH_SIPHASH",
        "siphash directory hashes need the encryption key",
      );
    default:
      throw fsError("Incompatible", "DX_HASH_UNKNOWN", `unknown directory hash version ${version}`);
  }
  return { hash: (hash & ~1) >>> 0, minorHash: minor >>> 0 };
}

/**
 * The hash the kernel probes an index with (`ext4fs_dirhash`): like
 * {@link dxHash}, but a major hash equal to the end-of-directory cookie
 * 0xFFFFFFFE is moved to 0xFFFFFFFC. e2fsprogs does not do this.
 */
export function kernelDxHash(version: number, name: Uint8Array, seed?: readonly number[]): DxHash {
  const last = lastKernelHash;
  if (
    last !== null &&
    last.version === version &&
    sameSeed(last.seed, seed) &&
    sameBytes(last.name, name)
  ) {
    return last.result;
  }
  const h = dxHash(version, name, seed);
  const result = h.hash === 0xfffffffe ? { hash: 0xfffffffc, minorHash: h.minorHash } : h;
  lastKernelHash = { version, seed: seed?.slice(0, 4), name: name.slice(), result };
  return result;
}

/**
 * The last {@link kernelDxHash} computed: one operation hashes the same
 * name several times (the existence lookup, the index probe, the leaf
 * search), and the hash is a pure function of its inputs, compared here by
 * value (the seed's first four words, the name's bytes).
 */
let lastKernelHash: {
  readonly version: number;
  readonly seed: readonly number[] | undefined;
  readonly name: Uint8Array;
  readonly result: DxHash;
} | null = null;

function sameSeed(a: readonly number[] | undefined, b: readonly number[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (b.length < 4) return a.length === b.length && a.every((w, i) => w === b[i]);
  return a.length === 4 && a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The hash version actually used for a directory whose dx_root says
 * `rootVersion`: the signed legacy/half_md4/tea versions become their
 * unsigned twins (+3) when the superblock has EXT2_FLAGS_UNSIGNED_HASH
 * (ext4 `dx_probe`, debugfs `htree_dump`).
 */
export function effectiveHashVersion(rootVersion: number, unsignedHash: boolean): number {
  return rootVersion <= DxHashVersion.Tea && unsignedHash ? rootVersion + 3 : rootVersion;
}
