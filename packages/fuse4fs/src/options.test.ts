/**
 * Option and command-line parsing: every option of the table parses, later
 * ones win, unknown and malformed ones are one-line errors, fuse-style
 * arguments (-o joined or separate, -f, -d, --) parse as libfuse does, and
 * the help lists every option on its own line — through the oclif command
 * as well.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import Fuse4fs from "./cli/command.js";
import Fuse4fsHelp from "./cli/help.js";
import {
  DEFAULT_OPTIONS,
  OPTIONS,
  OptionError,
  parseCommandLine,
  parseOptions,
  parseSize,
  splitOptions,
  usage,
} from "./options.js";

function err(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof OptionError) return e.message;
    throw e;
  }
  return "no error";
}

describe("parseOptions", () => {
  it("keeps the defaults with no options and ignores mount(8)'s generic ones", () => {
    expect(parseOptions([])).toEqual(DEFAULT_OPTIONS);
    expect(
      parseOptions(["defaults,auto,nofail,_netdev,x-systemd.automount,comment=hi,user,async"]),
    ).toEqual(DEFAULT_OPTIONS);
  });

  it("sets what each option says, later ones winning", () => {
    const o = parseOptions([
      "ro,offset=1m,fakeroot,minixdf,errors=remount-ro,cache_size=16m,noatime,noacl,nouser_xattr",
      "threads=4,debug,fsname=disk,subtype=,suid,dev,noexec,sync,dispatch=threads,spin_us=0,writeback_cache",
      "entry_timeout=1.5,attr_timeout=2,negative_timeout=0,readahead_kb=0,nofastpath,runas=nobody:nogroup,rw",
    ]);
    expect(o).toEqual({
      ...DEFAULT_OPTIONS,
      readOnly: false,
      offset: 1 << 20,
      fakeroot: true,
      statfs: "minixdf",
      errors: "remount-ro",
      cacheBytes: 16 << 20,
      atime: "noatime",
      acl: false,
      userXattr: false,
      threads: 4,
      debug: true,
      fsname: "disk",
      subtype: "",
      suid: true,
      dev: true,
      noexec: true,
      sync: true,
      dispatch: "threads",
      spinMicros: 0,
      writebackCache: true,
      entryTimeout: 1.5,
      attrTimeout: 2,
      negativeTimeout: 0,
      readaheadKb: 0,
      fastpath: false,
      runas: "nobody:nogroup",
    });
    expect(parseOptions(["kernel"])).toMatchObject({ allowOther: true, acl: true });
    expect(parseOptions(["noload"]).norecovery).toBe(true);
  });

  it("parses every option of the table", () => {
    const sample: Record<string, string> = {
      "offset=": "4096",
      "errors=": "panic",
      "cache_size=": "1m",
      "threads=": "3",
      "fsname=": "x",
      "subtype=": "y",
      "dispatch=": "threads",
      "spin_us=": "200",
      "entry_timeout=": "5",
      "attr_timeout=": "5",
      "negative_timeout=": "5",
      "readahead_kb=": "128",
      "runas=": "1000",
    };
    for (const spec of OPTIONS) {
      const item = spec.name.endsWith("=") ? `${spec.name}${sample[spec.name]}` : spec.name;
      expect(() => parseOptions([item]), item).not.toThrow();
    }
  });

  it("refuses unknown and malformed options with one line", () => {
    const cases: Array<[string, RegExp]> = [
      ["bogus", /unknown option 'bogus'/],
      ["ro=1", /option ro takes no value/],
      ["offset", /option offset needs a value \(offset=BYTES\)/],
      ["offset=-1", /not a size/],
      ["offset=12q", /not a size/],
      ["errors=ignore", /not one of continue, remount-ro, panic/],
      ["threads=0", /outside 1\.\.64/],
      ["threads=two", /not a whole number/],
      ["cache_size=1k", /at least 64k/],
      ["subtype=a b", /may only use/],
      ["fsname=", /empty name/],
      ["dispatch=fast", /not one of/],
      ["spin_us=1001", /outside 0\.\.1000/],
      ["entry_timeout=-1", /not a number of seconds/],
      ["runas=a;b", /not a user name/],
    ];
    for (const [opt, re] of cases) {
      const m = err(() => parseOptions([opt]));
      expect(m, opt).toMatch(re);
      expect(m.includes("\n"), opt).toBe(false);
    }
  });

  it("splits at commas with backslash escapes (property)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ minLength: 1 }).filter((s) => !s.includes("\\")),
          { maxLength: 6 },
        ),
        (items) => {
          const joined = items.map((s) => s.replace(/,/g, "\\,")).join(",");
          expect(splitOptions([joined])).toEqual(items.filter((s) => s.length > 0));
        },
      ),
    );
  });

  it("parses sizes with binary suffixes", () => {
    expect(parseSize("0x1000", "o")).toBe(4096);
    expect(parseSize("2k", "o")).toBe(2048);
    expect(parseSize("3G", "o")).toBe(3 * 2 ** 30);
    expect(() => parseSize("99999999999t", "o")).toThrow(OptionError);
  });
});

describe("parseCommandLine", () => {
  it("takes fuse-style arguments in any order", () => {
    expect(parseCommandLine(["img", "-o", "ro", "mnt", "-oallow_other", "-f"])).toEqual({
      image: "img",
      mountpoint: "mnt",
      options: ["ro", "allow_other"],
      foreground: true,
      debug: false,
    });
    expect(parseCommandLine(["-d", "--", "-img", "mnt"])).toEqual({
      image: "-img",
      mountpoint: "mnt",
      options: [],
      foreground: true,
      debug: true,
    });
    expect(parseCommandLine(["a", "--help"])).toBe("help");
    expect(parseCommandLine(["-V"])).toBe("version");
  });

  it("refuses a wrong number of arguments and unknown flags", () => {
    expect(err(() => parseCommandLine(["img"]))).toMatch(/an image and a mountpoint are needed/);
    expect(err(() => parseCommandLine(["a", "b", "c"]))).toMatch(/unexpected argument 'c'/);
    expect(err(() => parseCommandLine(["a", "b", "-x"]))).toMatch(/unknown flag '-x'/);
    expect(err(() => parseCommandLine(["a", "b", "-o"]))).toMatch(/-o needs an argument/);
  });
});

describe("help", () => {
  it("lists every option on its own line", () => {
    const lines = usage().split("\n");
    for (const spec of OPTIONS) {
      const line = lines.filter((l) => l.trimStart().startsWith(`-o ${spec.name}`));
      expect(line.length, spec.name).toBe(1);
      expect(line[0]).toContain(spec.help);
    }
  });

  it("is what `fuse4fs --help` prints through oclif", async () => {
    const out: string[] = [];
    const help = new Fuse4fsHelp({} as never);
    (help as unknown as { log: (s: string) => void }).log = (s) => out.push(s);
    await help.showHelp([]);
    expect(out.join("\n")).toBe(usage());
    const printed: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = ((s: string) => {
      printed.push(String(s));
      return true;
    }) as typeof process.stdout.write;
    try {
      await Fuse4fs.run(["--help"], new URL("..", import.meta.url).pathname);
    } finally {
      process.stdout.write = write;
    }
    expect(printed.join("")).toBe(`${usage()}\n`);
  });
});
