/**
 * The raw structure tables have the kernel's sizes, and the superblock
 * table reads a real image the way dumpe2fs does.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { viewOf } from "@ext4/core";
import { afterAll, describe, expect, it } from "vitest";
import {
  DIRENT,
  DX_COUNTLIMIT,
  DX_ROOT_INFO,
  EXTENT,
  EXTENT_HEADER,
  EXTENT_INDEX,
  GROUP_DESC,
  INODE,
  JOURNAL_SB,
  SUPERBLOCK,
  XATTR_ENTRY,
  XATTR_HEADER,
} from "./layout.js";

const dir = mkdtempSync(join(tmpdir(), "ext4-check-layout-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("layout tables", () => {
  it("have the kernel's structure sizes", () => {
    expect(SUPERBLOCK.size).toBe(1024);
    expect(GROUP_DESC.size).toBe(64);
    expect(INODE.size).toBe(160);
    expect([EXTENT_HEADER.size, EXTENT.size, EXTENT_INDEX.size]).toEqual([12, 12, 12]);
    expect([DIRENT.size, DX_ROOT_INFO.size, DX_COUNTLIMIT.size]).toEqual([8, 8, 4]);
    expect([XATTR_HEADER.size, XATTR_ENTRY.size]).toEqual([32, 16]);
    expect(JOURNAL_SB.size).toBe(1024);
    expect(SUPERBLOCK.offsetOf("s_checksum")).toBe(1020);
    expect(INODE.offsetOf("i_extra_isize")).toBe(128);
  });

  it("reads a real superblock as dumpe2fs does", () => {
    const img = join(dir, "sb.img");
    execFileSync("truncate", ["-s", "8M", img]);
    execFileSync("mke2fs", ["-q", "-F", "-t", "ext4", "-b", "1024", "-N", "512", img]);
    const out = execFileSync("dumpe2fs", ["-h", img], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(out)?.[1]);
    const v = viewOf(new Uint8Array(readFileSync(img)).subarray(1024, 2048));
    expect(SUPERBLOCK.get(v, "s_inodes_count")).toBe(field("Inode count"));
    expect(SUPERBLOCK.get(v, "s_blocks_count_lo")).toBe(field("Block count"));
    expect(SUPERBLOCK.get(v, "s_inodes_per_group")).toBe(field("Inodes per group"));
    expect(SUPERBLOCK.get(v, "s_first_data_block")).toBe(field("First block"));
    expect(SUPERBLOCK.get(v, "s_inode_size")).toBe(field("Inode size"));
    expect(SUPERBLOCK.get(v, "s_reserved_gdt_blocks")).toBe(field("Reserved GDT blocks"));
    expect(SUPERBLOCK.get(v, "s_magic")).toBe(0xef53);
  });
});
