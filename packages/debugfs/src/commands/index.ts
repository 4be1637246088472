/**
 * The command table, in the order `help` lists it (debugfs's request table
 * order, restricted to the requests ext4-debug implements).
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
import { setBlockGroup, setInodeField, setSuperValue } from "./setfields.js";
import { stat } from "./stat.js";
import { stats } from "./stats.js";
import {
  clri,
  copyInode,
  dirty,
  expandDir,
  fallocate,
  freeb,
  freei,
  killFile,
  link,
  mkdir,
  mknod,
  punch,
  rm,
  rmdir,
  setb,
  seti,
  symlink,
  unlink,
  write,
} from "./write.js";
import { eaGet, eaList, eaRm, eaSet } from "./xattr.js";

/** Every command of ext4-debug. */
export const COMMANDS: readonly CommandDef[] = [
  params,
  open,
  close,
  freefrag,
  dirty,
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
  link,
  unlink,
  mkdir,
  rmdir,
  rm,
  killFile,
  copyInode,
  clri,
  freei,
  seti,
  testi,
  freeb,
  setb,
  testb,
  ffb,
  ffi,
  pwd,
  expandDir,
  mknod,
  write,
  dump,
  cat,
  rdump,
  setSuperValue,
  setInodeField,
  setBlockGroup,
  logdump,
  htree,
  dxHashCmd,
  dirsearch,
  bmap,
  fallocate,
  punch,
  symlink,
  imap,
  supported,
  blockDump,
  eaList,
  eaGet,
  eaSet,
  eaRm,
  help,
  quit,
];
