import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  getopt,
  hasOpt,
  optValue,
  ParseError,
  parseCNumber,
  quoteWord,
  splitLine,
  UsageError,
} from "./parse.js";

describe("splitLine (ss_parse)", () => {
  it("splits on spaces and tabs", () => {
    expect(splitLine("  ls   -l\t/dir  ")).toEqual(["ls", "-l", "/dir"]);
    expect(splitLine("")).toEqual([]);
    expect(splitLine(" \t ")).toEqual([]);
  });

  it("keeps quoted runs together and reads a doubled quote as a quote", () => {
    expect(splitLine('stat "/name with spaces"')).toEqual(["stat", "/name with spaces"]);
    expect(splitLine('cat a"b c"d')).toEqual(["cat", "ab cd"]);
    expect(splitLine('echo "say ""hi"""')).toEqual(["echo", 'say "hi"']);
    expect(splitLine('x ""')).toEqual(["x", ""]);
  });

  it("has no backslash escapes and no single quotes, like ss", () => {
    expect(splitLine("cat a\\ b 'c d'")).toEqual(["cat", "a\\", "b", "'c", "d'"]);
  });

  it("refuses an unbalanced quote with ss's message", () => {
    expect(() => splitLine('stat "/open')).toThrow(ParseError);
    expect(() => splitLine('stat "/open')).toThrow("Unbalanced quotes in command line");
  });

  it("inode arguments pass through as words", () => {
    expect(splitLine("stat <12>")).toEqual(["stat", "<12>"]);
  });

  it("quoteWord gives back any word through splitLine", () => {
    fc.assert(
      fc.property(fc.string(), (w) => {
        expect(splitLine(`cmd ${quoteWord(w)}`)).toEqual(["cmd", w]);
      }),
    );
  });

  it("quoting keeps any list of words apart", () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 6 }), (words) => {
        expect(splitLine(words.map(quoteWord).join(" "))).toEqual(words);
      }),
    );
  });
});

describe("getopt (glibc, permuting)", () => {
  const spec = { l: "flag", d: "flag", f: "value" } as const;

  it("finds flags, clusters and values, before or after operands", () => {
    const r = getopt(["/dir", "-ld", "-f", "out", "x", "-fy"], spec);
    expect(r.operands).toEqual(["/dir", "x"]);
    expect(hasOpt(r, "l")).toBe(true);
    expect(hasOpt(r, "d")).toBe(true);
    expect(optValue(r, "f")).toBe("y");
    expect(r.opts.map((o) => o.opt)).toEqual(["l", "d", "f", "f"]);
  });

  it("stops at -- and treats a lone - as an operand", () => {
    const r = getopt(["-l", "--", "-d", "-"], spec);
    expect(r.operands).toEqual(["-d", "-"]);
    expect(hasOpt(r, "d")).toBe(false);
    expect(getopt(["-"], spec).operands).toEqual(["-"]);
  });

  it("refuses unknown options and missing values", () => {
    expect(() => getopt(["-z"], spec)).toThrow(UsageError);
    expect(() => getopt(["-f"], spec)).toThrow(UsageError);
  });
});

describe("parseCNumber (strtoul base 0, whole string)", () => {
  it("reads decimal, hex and octal", () => {
    expect(parseCNumber("42")).toBe(42);
    expect(parseCNumber("0x2A")).toBe(42);
    expect(parseCNumber("052")).toBe(42);
    expect(parseCNumber("0")).toBe(0);
    expect(parseCNumber(" 7")).toBe(7);
  });

  it("refuses trailing junk, negatives and values past 2^53", () => {
    expect(parseCNumber("12abc")).toBeNull();
    expect(parseCNumber("")).toBeNull();
    expect(parseCNumber("-3")).toBeNull();
    expect(parseCNumber("09")).toBeNull();
    expect(parseCNumber("99999999999999999999")).toBeNull();
  });

  it("agrees with BigInt on every safe decimal", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        expect(parseCNumber(String(n))).toBe(n);
        expect(parseCNumber(`0x${n.toString(16)}`)).toBe(n);
      }),
    );
  });
});
