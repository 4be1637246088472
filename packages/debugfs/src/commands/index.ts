/**
 * The command table, in the order `help` lists it (debugfs's request table
 * order, restricted to what a read-only inspector offers).
 */
import type { CommandDef } from "../command.js";
import { ffb, ffi, testb, testi } from "./alloc.js";
import { cd, chroot, close, help, open, params, pwd, quit, supported } from "./basic.js";
import { blockDump, freefrag } from "./block.js";
import { blocks } from "./blocklist.js";
import { dirsearch, dxHashCmd, htree } from "./dir.js";
import { cat, dump, rdump } from "./dump.js";
import { dumpExtents } from "./extents.js";
import { logdump } from "./logdump.js";
import { ls } from "./ls.js";
import { bmap, filefrag, icheck, imap, ncheck } from "./map.js";
import { stat } from "./stat.js";
import { stats } from "./stats.js";
import { eaGet, eaList } from "./xattr.js";

/** Every command of ext4-debug. */
export const COMMANDS: readonly CommandDef[] = [
  params,
  open,
  close,
  freefrag,
  stats,
  ncheck,
  icheck,
  chroot,
  cd,
  ls,
  stat,
  dumpExtents,
  blocks,
  filefrag,
  testi,
  testb,
  ffb,
  ffi,
  pwd,
  dump,
  cat,
  rdump,
  logdump,
  htree,
  dxHashCmd,
  dirsearch,
  bmap,
  imap,
  supported,
  blockDump,
  eaList,
  eaGet,
  help,
  quit,
];
