/**
 * The field names of set_super_value / set_inode_field / set_block_group
 * against the real debugfs's own lists (`-l`), and the value parsers
 * against what debugfs writes for the same text.
 */
import { execFileSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { Session } from "../session.js";
import { debugfsRequest, debugfsWrite, mkfs } from "../test-support/images.js";
import {
  cUnsigned,
  findField,
  groupFields,
  INODE_FIELDS,
  listFields,
  parseHashAlg,
  parseUuid,
  SUPER_FIELDS,
  stringToTime,
} from "./fields.js";
import { parseCString } from "./xattr.js";

process.env.TZ = "UTC";

let image64: string;
let image32: string;

beforeAll(() => {
  image64 = mkfs({ size: 8 << 20 });
  image32 = mkfs({ size: 8 << 20, args: ["-O", "^64bit"] });
});

/** The names debugfs's `-l` prints, as given on a command line (arrays with index 0). */
function debugfsNames(image: string, request: string): string[] {
  const out = execFileSync("debugfs", ["-R", request, image], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "ignore"],
  });
  return out
    .split("\n")
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[0] ?? "")
    .filter((n) => n !== "")
    .map((n) => n.replace("[_hi|_lo]", "").replace(/\[\d*\]$/, "[0]"));
}

// Hurd-only aliases of Linux fields (osd1/osd2): not offered, since they only rename bytes
// whose Linux names are settable.
const HURD = new Set(["translator", "frag", "fsize", "author"]);

describe("field names", () => {
  it("accepts every name debugfs lists for set_super_value", () => {
    const names = debugfsNames(image64, "ssv -l");
    expect(names.length).toBeGreaterThan(80);
    const missing = names.filter((n) => findField(SUPER_FIELDS, n) === null);
    expect(missing).toEqual([]);
  });

  it("accepts every Linux name debugfs lists for set_inode_field", () => {
    const names = debugfsNames(image64, "sif -l").filter((n) => !HURD.has(n));
    expect(names).toContain("block[IND]");
    const missing = names.filter((n) => findField(INODE_FIELDS, n) === null);
    expect(missing).toEqual([]);
  });

  it("accepts every name debugfs lists for set_block_group, for 64- and 32-byte descriptors", () => {
    for (const [image, size] of [
      [image64, 64],
      [image32, 32],
    ] as const) {
      const names = debugfsNames(image, "set_bg -l");
      const missing = names.filter((n) => findField(groupFields(size), n) === null);
      expect(missing, `desc size ${size}`).toEqual([]);
    }
    // A 32-byte descriptor has no high halves to name.
    expect(findField(groupFields(32), "free_blocks_count_hi")).toBeNull();
    expect(findField(groupFields(64), "free_blocks_count_hi")?.half).toBe("hi");
  });

  it("strips the kernel prefix and the _lo/_hi suffix, reads indexes, refuses the rest", () => {
    expect(findField(SUPER_FIELDS, "s_blocks_count_lo")).toMatchObject({
      def: { lo: "s_blocks_count_lo", hi: "s_blocks_count_hi" },
      half: "lo",
    });
    expect(findField(SUPER_FIELDS, "mmp_update_interval")?.def.name).toBe("mmp_interval");
    expect(findField(SUPER_FIELDS, "jnl_blocks[16]")?.index).toBe(16);
    expect(findField(SUPER_FIELDS, "jnl_blocks[17]")).toBeNull();
    expect(findField(SUPER_FIELDS, "jnl_blocks")).toBeNull();
    expect(findField(SUPER_FIELDS, "magic")).toBeNull();
    expect(findField(SUPER_FIELDS, "state_hi")).toBeNull();
    expect(findField(INODE_FIELDS, "i_block[0x3]")?.index).toBe(3);
    expect(findField(INODE_FIELDS, "block[TIND]")?.def.slot).toEqual({ offset: 56, width: 4 });
    expect(findField(INODE_FIELDS, "bmap[1000]")?.def.kind).toBe("bmap");
    expect(findField(INODE_FIELDS, "mtime")?.def).toMatchObject({
      kind: "time",
      hi: "i_mtime_extra",
    });
  });

  it("lists in debugfs's layout", () => {
    const ours = listFields(SUPER_FIELDS).split("\n");
    expect(ours[0]).toBe("Superblock fields supported by the set_super_value command:");
    expect(ours).toContain("\tblocks_count[_hi|_lo]    \tunsigned integer");
    expect(ours).toContain("\tjnl_blocks[17]           \tunsigned integer");
    const s = new Session();
    expect(s.run("sif -l").text).toBe(listFields(INODE_FIELDS));
    expect(s.run("set_bg -l").text).toBe(listFields(groupFields(32)));
  });
});

describe("value parsers", () => {
  it("read numbers as strtoull does", () => {
    expect(cUnsigned("0x10")).toBe(16n);
    expect(cUnsigned("010")).toBe(8n);
    expect(cUnsigned("1234567890")).toBe(1234567890n);
    expect(cUnsigned("18446744073709551615")).toBe(2n ** 64n - 1n);
    expect(cUnsigned("18446744073709551616")).toBeNull();
    expect(cUnsigned("-1")).toBe(2n ** 64n - 1n);
    expect(cUnsigned("12x")).toBeNull();
  });

  it("read dates as debugfs's string_to_time does", () => {
    expect(stringToTime("now", 42)).toBe(42);
    expect(stringToTime("@1234567890", 0)).toBe(1234567890);
    expect(stringToTime("20200102030405", 0)).toBe(1577934245);
    expect(stringToTime("202001020304", 0)).toBe(1577934240);
    expect(stringToTime("5000000000", 0)).toBe(5000000000);
    expect(stringToTime("garbage", 0)).toBeNull();
  });

  it("read UUIDs, hash names and C strings", () => {
    expect(parseUuid("6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0")?.[0]).toBe(0x6f);
    expect(parseUuid("6f1e2d3c4b5a49688776a5b4c3d2e1f0")).toBeNull();
    expect(parseHashAlg("TEA")).toBe(2);
    expect(parseHashAlg("siphash")).toBe(6);
    expect(parseHashAlg("md5")).toBeNull();
    expect(Buffer.from(parseCString('a\\tb\\x41\\101\\\\z"rest')).toString("latin1")).toBe(
      "a\tbAA\\z",
    );
  });

  it("set dates, negative integers and UUIDs to the bytes debugfs sets", () => {
    const image = mkfs({ size: 8 << 20 });
    const theirs = mkfs({ size: 8 << 20 });
    const cmds = [
      "sif <2> mtime 20200102030405",
      "sif <2> atime @-5",
      "sif <2> crtime 5000000000",
      "sif <2> uid 0x12345678",
      "ssv max_mnt_count -1",
      "ssv journal_uuid 6f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
      "ssv def_hash_version tea",
    ];
    const s = new Session();
    s.openImage(image, { writable: true });
    try {
      for (const c of cmds) expect(s.run(c).ok, c).toBe(true);
    } finally {
      s.closeImage("test");
    }
    debugfsWrite(theirs, cmds);
    expect(debugfsRequest(image, "id <2>").toString()).toBe(
      debugfsRequest(theirs, "id <2>").toString(),
    );
    const header = (img: string) =>
      execFileSync("dumpe2fs", ["-h", img], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      })
        .split("\n")
        .filter((l) => /^(Maximum mount count|Journal UUID|Default directory hash):/.test(l))
        .join("\n");
    expect(header(image)).toBe(header(theirs));
    expect(header(image)).toContain("tea");
  });
});
