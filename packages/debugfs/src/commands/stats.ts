/**
 * `stats` (show_super_stats): the superblock as lib/e2p/ls.c's list_super2
 * prints it, the directory count, and one entry per block group.
 */
import { readFileSync } from "node:fs";
import {
  EXT4_BG_BLOCK_UNINIT,
  EXT4_BG_INODE_UNINIT,
  type Filesystem,
  superblockChecksum,
  uuidString,
} from "@ext4/core";
import { CommandError, defineCommand } from "../command.js";
import { asctime, hex, latin1, padEnd, plural } from "../render/format.js";
import { getopt, hasOpt, UsageError } from "../shell/parse.js";
import {
  encodingName,
  errcodeName,
  errorsText,
  featureList,
  fsStateText,
  hashName,
  mountOptionList,
  osName,
} from "./features.js";

/** One `Label: value` line of the superblock listing. */
export interface SuperLine {
  readonly label: string;
  /** The value as printed (a byte string). */
  readonly value: string;
}

/** One block group's line pair. */
export interface GroupStats {
  readonly group: number;
  readonly blockBitmap: number;
  readonly inodeBitmap: number;
  readonly inodeTable: number;
  readonly freeBlocks: number;
  readonly freeInodes: number;
  readonly usedDirs: number;
  /** bg_itable_unused, with group descriptor checksums. */
  readonly itableUnused: number | null;
  readonly inodeUninit: boolean;
  readonly blockUninit: boolean;
  /** bg_checksum, with group descriptor checksums. */
  readonly checksum: number | null;
}

/** The data of `stats`. */
export interface StatsData {
  readonly superblock: readonly SuperLine[];
  readonly directories: number;
  /** "block" or "cluster" (bigalloc). */
  readonly units: string;
  /** Empty with -h. */
  readonly groups: readonly GroupStats[];
}

function isNullUuid(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

/** lib/e2p/ls.c interval_string. */
export function intervalString(secs: number): string {
  if (secs === 0) return "<none>";
  const parts: string[] = [];
  let s = secs;
  const unit = (size: number, name: string): void => {
    if (s >= size) {
      const n = Math.floor(s / size);
      s -= n * size;
      parts.push(`${n} ${name}${n > 1 ? "s" : ""}`);
    }
  };
  unit(86400 * 30, "month");
  unit(86400 * 7, "week");
  unit(86400, "day");
  if (s > 0) {
    const hr = Math.floor(s / 3600);
    s -= hr * 3600;
    const min = Math.floor(s / 60);
    s -= min * 60;
    parts.push(`${hr}:${String(min).padStart(2, "0")}:${String(s).padStart(2, "0")}`);
  }
  return parts.join(", ");
}

let passwdCache: Map<number, string> | null = null;
let groupCache: Map<number, string> | null = null;

/** Names from an /etc/passwd-format file (what getpwuid answers on a files-only system). */
function namesFrom(path: string): Map<number, string> {
  const m = new Map<number, string>();
  try {
    for (const line of readFileSync(path, "utf8").split("\n")) {
      const f = line.split(":");
      const id = Number(f[2]);
      if (f[0] && Number.isInteger(id) && !m.has(id)) m.set(id, f[0]);
    }
  } catch {
    // No such file: every id is "unknown", as getpwuid would say.
  }
  return m;
}

function userText(uid: number): string {
  passwdCache ??= namesFrom("/etc/passwd");
  const n = passwdCache.get(uid);
  return `${uid} ${n === undefined ? "(user unknown)" : `(user ${n})`}`;
}

function groupText(gid: number): string {
  groupCache ??= namesFrom("/etc/group");
  const n = groupCache.get(gid);
  return `${gid} ${n === undefined ? "(group unknown)" : `(group ${n})`}`;
}

const ctimeText = (t: number): string => asctime(t);

/** list_super2 of the open filesystem's superblock, as label/value lines. */
export function superLines(fs: Filesystem): SuperLine[] {
  const sb = fs.superblock;
  const raw = sb.raw;
  const n = (k: keyof typeof raw): number => raw[k] as number;
  const b = (k: keyof typeof raw): Uint8Array => raw[k] as Uint8Array;
  const str = (k: keyof typeof raw): string => {
    const bytes = b(k);
    const end = bytes.indexOf(0);
    return latin1(end < 0 ? bytes : bytes.subarray(0, end));
  };
  const has64 = sb.features.has("64bit");
  const bigalloc = sb.features.has("bigalloc");
  const lines: SuperLine[] = [];
  const add = (label: string, value: string | number): void => {
    lines.push({ label, value: String(value) });
  };
  add("Filesystem volume name", str("s_volume_name") || "<none>");
  add("Last mounted on", str("s_last_mounted") || "<not available>");
  add("Filesystem UUID", uuidString(b("s_uuid")));
  add("Filesystem magic number", `0x${hex(n("s_magic"), 4).toUpperCase()}`);
  const rev = n("s_rev_level");
  add(
    "Filesystem revision #",
    `${rev} ${rev === 0 ? "(original)" : rev === 1 ? "(dynamic)" : "(unknown)"}`,
  );
  const feats = featureList(
    n("s_feature_compat"),
    n("s_feature_incompat"),
    n("s_feature_ro_compat"),
  );
  add("Filesystem features", feats.length === 0 ? "(none)" : feats.join(" "));
  const flags = n("s_flags");
  if (flags !== 0) {
    let f = "";
    if (flags & 1) f += "signed_directory_hash ";
    if (flags & 2) f += "unsigned_directory_hash ";
    if (flags & 4) f += "test_filesystem ";
    add("Filesystem flags", f === "" ? "(none)" : f);
  }
  const mo = mountOptionList(n("s_default_mount_opts"));
  add("Default mount options", mo.length === 0 ? "(none)" : mo.join(" "));
  if (str("s_mount_opts") !== "") add("Mount options", str("s_mount_opts"));
  add("Filesystem state", fsStateText(n("s_state")).slice(1));
  add("Errors behavior", errorsText(n("s_errors")));
  add("Filesystem OS type", osName(n("s_creator_os")));
  add("Inode count", n("s_inodes_count"));
  const join = (lo: keyof typeof raw, hi: keyof typeof raw): number =>
    n(lo) + (has64 ? n(hi) * 2 ** 32 : 0);
  add("Block count", join("s_blocks_count_lo", "s_blocks_count_hi"));
  add("Reserved block count", join("s_r_blocks_count_lo", "s_r_blocks_count_hi"));
  if (n("s_overhead_clusters") !== 0) add("Overhead clusters", n("s_overhead_clusters"));
  add("Free blocks", join("s_free_blocks_count_lo", "s_free_blocks_count_hi"));
  add("Free inodes", n("s_free_inodes_count"));
  add("First block", n("s_first_data_block"));
  add("Block size", sb.blockSize);
  add(bigalloc ? "Cluster size" : "Fragment size", sb.clusterSize);
  if (has64) add("Group descriptor size", n("s_desc_size"));
  if (n("s_reserved_gdt_blocks") !== 0) add("Reserved GDT blocks", n("s_reserved_gdt_blocks"));
  add("Blocks per group", n("s_blocks_per_group"));
  add(bigalloc ? "Clusters per group" : "Fragments per group", n("s_clusters_per_group"));
  add("Inodes per group", n("s_inodes_per_group"));
  add(
    "Inode blocks per group",
    Math.floor((n("s_inodes_per_group") * sb.inodeSize + sb.blockSize - 1) / sb.blockSize),
  );
  if (n("s_raid_stride") !== 0) add("RAID stride", n("s_raid_stride"));
  if (n("s_raid_stripe_width") !== 0) add("RAID stripe width", n("s_raid_stripe_width"));
  if (n("s_first_meta_bg") !== 0) add("First meta block group", n("s_first_meta_bg"));
  if (n("s_log_groups_per_flex") !== 0) {
    add("Flex block group size", 2 ** n("s_log_groups_per_flex"));
  }
  if (sb.mkfsTime !== 0) add("Filesystem created", ctimeText(sb.mkfsTime));
  add("Last mount time", sb.mountTime !== 0 ? ctimeText(sb.mountTime) : "n/a");
  add("Last write time", ctimeText(sb.writeTime));
  add("Mount count", n("s_mnt_count"));
  add("Maximum mount count", (n("s_max_mnt_count") << 16) >> 16);
  add("Last checked", ctimeText(sb.lastCheck));
  const ci = n("s_checkinterval");
  add("Check interval", `${ci} (${intervalString(ci)})`);
  if (ci !== 0) add("Next check after", ctimeText(sb.lastCheck + ci));
  const kb = sb.kbytesWritten;
  if (kb !== 0) {
    const w =
      kb < 2 ** 13
        ? `${kb} kB`
        : kb < 2 ** 23
          ? `${Math.floor((kb + 2 ** 9) / 2 ** 10)} MB`
          : kb < 2 ** 33
            ? `${Math.floor((kb + 2 ** 19) / 2 ** 20)} GB`
            : kb < 2 ** 43
              ? `${Math.floor((kb + 2 ** 29) / 2 ** 30)} TB`
              : `${Math.floor((kb + 2 ** 39) / 2 ** 40)} PB`;
    add("Lifetime writes", w);
  }
  add("Reserved blocks uid", userText(n("s_def_resuid")));
  add("Reserved blocks gid", groupText(n("s_def_resgid")));
  if (rev >= 1) {
    add("First inode", n("s_first_ino"));
    add("Inode size", n("s_inode_size"));
    if (n("s_min_extra_isize") !== 0) add("Required extra isize", n("s_min_extra_isize"));
    if (n("s_want_extra_isize") !== 0) add("Desired extra isize", n("s_want_extra_isize"));
  }
  if (!isNullUuid(b("s_journal_uuid"))) add("Journal UUID", uuidString(b("s_journal_uuid")));
  if (n("s_journal_inum") !== 0) add("Journal inode", n("s_journal_inum"));
  if (n("s_journal_dev") !== 0) add("Journal device", `0x${hex(n("s_journal_dev"), 4)}`);
  if (n("s_last_orphan") !== 0) add("First orphan inode", n("s_last_orphan"));
  if (sb.features.has("dir_index") || n("s_def_hash_version") !== 0) {
    add("Default directory hash", hashName(n("s_def_hash_version")));
  }
  if (!isNullUuid(b("s_hash_seed"))) add("Directory Hash Seed", uuidString(b("s_hash_seed")));
  const jbt = n("s_jnl_backup_type");
  if (jbt !== 0) add("Journal backup", jbt === 1 ? "inode blocks" : `type ${jbt}`);
  const [bg0, bg1] = sb.backupBgs;
  if (bg0 !== 0 || bg1 !== 0) {
    add("Backup block groups", `${bg0 !== 0 ? `${bg0} ` : ""}${bg1 !== 0 ? `${bg1} ` : ""}`);
  }
  if (n("s_snapshot_inum") !== 0) {
    add("Snapshot inode", n("s_snapshot_inum"));
    add("Snapshot ID", n("s_snapshot_id"));
    add("Snapshot reserved blocks", n("s_snapshot_r_blocks_count"));
  }
  if (n("s_snapshot_list") !== 0) add("Snapshot list head", n("s_snapshot_list"));
  if (n("s_error_count") !== 0) add("FS Error count", n("s_error_count"));
  for (const [which, rec] of [
    ["First", sb.firstError],
    ["Last", sb.lastError],
  ] as const) {
    if (rec === null || rec.time === 0) continue;
    add(`${which} error time`, ctimeText(rec.time));
    add(`${which} error function`, rec.func);
    add(`${which} error line #`, rec.line);
    if (rec.ino !== 0) add(`${which} error inode #`, rec.ino);
    if (rec.block !== 0) add(`${which} error block #`, rec.block);
    if (rec.errcode !== 0) add(`${which} error err`, errcodeName(rec.errcode));
  }
  if (sb.features.has("mmp")) {
    add("MMP block number", sb.mmpBlock);
    add("MMP update interval", sb.mmpUpdateInterval);
  }
  if (n("s_usr_quota_inum") !== 0) add("User quota inode", n("s_usr_quota_inum"));
  if (n("s_grp_quota_inum") !== 0) add("Group quota inode", n("s_grp_quota_inum"));
  if (n("s_prj_quota_inum") !== 0) add("Project quota inode", n("s_prj_quota_inum"));
  if (sb.features.metadataCsum) {
    add("Checksum type", n("s_checksum_type") === 1 ? "crc32c" : "unknown");
    add("Checksum", `0x${hex(n("s_checksum"), 8)}`);
  }
  if (!isNullUuid(b("s_encrypt_pw_salt"))) {
    add("Encryption PW Salt", uuidString(b("s_encrypt_pw_salt")));
  }
  if (sb.features.has("metadata_csum_seed")) {
    add("Checksum seed", `0x${hex(n("s_checksum_seed"), 8)}`);
  }
  if (sb.features.has("casefold")) add("Character encoding", encodingName(n("s_encoding")));
  if (sb.features.has("orphan_file")) add("Orphan file inode", n("s_orphan_file_inum"));
  if (sb.features.metadataCsum) {
    const expected = superblockChecksum(sb.bytes);
    if (expected !== n("s_checksum")) add("Expected Checksum", `0x${hex(expected, 8)}`);
  }
  return lines;
}

/** show_super_stats / stats [-h]. */
export const stats = defineCommand<StatsData>({
  name: "show_super_stats",
  aliases: ["stats"],
  usage: "[-h]",
  help: "Show superblock statistics",
  needsFs: true,
  run(shell, argv) {
    const who = argv[0]!;
    let r: ReturnType<typeof getopt>;
    try {
      r = getopt(argv.slice(1), { h: "flag" });
    } catch (e) {
      if (e instanceof UsageError)
        throw new CommandError(who, "Usage: show_super_stats [-h]", "USAGE");
      throw e;
    }
    if (r.operands.length !== 0)
      throw new CommandError(who, "Usage: show_super_stats [-h]", "USAGE");
    const fs = shell.requireFs(who);
    const sb = fs.superblock;
    const csum = sb.features.groupDescCsum;
    const directories = fs.groups.reduce((a, g) => a + g.usedDirsCount, 0);
    const groups: GroupStats[] = hasOpt(r, "h")
      ? []
      : fs.groups.map((g) => ({
          group: g.group,
          blockBitmap: g.blockBitmap,
          inodeBitmap: g.inodeBitmap,
          inodeTable: g.inodeTable,
          freeBlocks: g.freeBlocksCount,
          freeInodes: g.freeInodesCount,
          usedDirs: g.usedDirsCount,
          itableUnused: csum ? g.itableUnused : null,
          inodeUninit: (g.flags & EXT4_BG_INODE_UNINIT) !== 0,
          blockUninit: (g.flags & EXT4_BG_BLOCK_UNINIT) !== 0,
          checksum: csum ? g.checksum : null,
        }));
    return {
      superblock: superLines(fs),
      directories,
      units: sb.features.has("bigalloc") ? "cluster" : "block",
      groups,
    };
  },
  render(d) {
    let out = "";
    for (const l of d.superblock) {
      // ls.c prints these two labels with a tab where the others have spaces.
      if (l.label === "Inode size" || l.label === "Journal device") {
        out += `${l.label}:\t          ${l.value}\n`;
      } else {
        out += `${padEnd(`${l.label}:`, 26)}${l.value}\n`;
      }
    }
    out += `Directories:              ${d.directories}\n`;
    for (const g of d.groups) {
      out += ` Group ${String(g.group).padStart(2)}: block bitmap at ${g.blockBitmap}, inode bitmap at ${g.inodeBitmap}, inode table at ${g.inodeTable}\n`;
      out += `           ${g.freeBlocks} free ${d.units}${g.freeBlocks !== 1 ? "s" : ""}, ${g.freeInodes} free ${plural(g.freeInodes, "inode", "inodes")}, ${g.usedDirs} used ${plural(g.usedDirs, "directory", "directories")}`;
      out += g.itableUnused !== null ? ", " : "\n";
      if (g.itableUnused !== null) {
        out += `${g.itableUnused} unused ${plural(g.itableUnused, "inode", "inodes")}\n`;
      }
      const flags: string[] = [];
      if (g.inodeUninit) flags.push("Inode not init");
      if (g.blockUninit) flags.push("Block not init");
      if (g.checksum !== null) flags.push(`Checksum 0x${hex(g.checksum, 4)}`);
      if (flags.length > 0) out += `           [${flags.join(", ")}]\n`;
    }
    return out;
  },
});
