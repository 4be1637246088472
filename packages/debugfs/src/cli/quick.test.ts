import * as Flags from "@oclif/core/flags";
import { parse } from "@oclif/core/parser";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import Ext4Debug from "./command.js";
import { parseQuick } from "./quick.js";

/** What the oclif command reads from a command line: its parser, and --json as jsonEnabled sees it. */
async function oclifLine(argv: string[]): Promise<Record<string, unknown> | null> {
  try {
    const { args, flags } = await parse(argv, {
      args: Ext4Debug.args,
      // enableJsonFlag adds --json to the command's flags.
      flags: { ...Ext4Debug.flags, json: Flags.boolean() },
      strict: true,
    });
    const end = argv.indexOf("--");
    const json = argv.indexOf("--json");
    const line: Record<string, unknown> = {
      json: end < 0 ? json >= 0 : json >= 0 && json < end,
      catastrophic: flags.catastrophic ?? false,
      writable: flags.writable ?? false,
      replay: flags.replay ?? false,
    };
    if (args.image !== undefined) line.image = args.image;
    for (const k of ["request", "script", "offset"] as const) {
      if (flags[k] !== undefined) line[k] = flags[k];
    }
    return line;
  } catch {
    return null;
  }
}

const token = fc.constantFrom(
  "-R",
  "-f",
  "--offset",
  "-w",
  "-c",
  "--json",
  "--replay",
  "pwd",
  "ls -l /big",
  "-",
  "img",
  "other.img",
  "0x10",
  "--",
  "-Rpwd",
  "--request=pwd",
  "--request",
  "-x",
  "",
  "-wc",
);

describe("the quick command line", () => {
  // Mostly well-formed lines: flag groups in any order, values from a pool with tricky ones.
  const value = fc.constantFrom("pwd", "ls -l /big", "-", "0x10", "img", "--json", "a=b", " ");
  const group = fc.oneof(
    fc.constantFrom(["-w"], ["-c"], ["--json"], ["--replay"]),
    fc.tuple(fc.constantFrom("-R", "-f", "--offset"), value).map((g) => [...g]),
    fc.constantFrom(["img"], ["other.img"]),
  );
  const line = fc
    .array(group, { maxLength: 6 })
    .chain((groups) => fc.shuffledSubarray(groups, { minLength: groups.length }))
    .map((groups) => groups.flat());

  it("accepts only what oclif parses, and reads it as oclif does", async () => {
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(token, { maxLength: 7 }), line), async (argv) => {
        const quick = parseQuick(argv, {});
        if (quick === null) return;
        accepted++;
        const line = await oclifLine(argv);
        expect(line).not.toBeNull();
        expect({ ...quick }).toEqual(line);
      }),
      { numRuns: 3000 },
    );
    // The token soup must reach the accepting side often enough to mean something.
    expect(accepted).toBeGreaterThan(50);
  });

  it("takes the plain batch forms, and leaves the rest to oclif", () => {
    expect(parseQuick(["-R", "pwd", "img"], {})).toEqual({
      request: "pwd",
      image: "img",
      json: false,
      catastrophic: false,
      writable: false,
      replay: false,
    });
    expect(parseQuick(["-w", "--json", "-f", "-", "img"], {})).toMatchObject({
      script: "-",
      writable: true,
      json: true,
    });
    for (const argv of [
      ["img"],
      [],
      ["-R", "pwd", "-R", "ls", "img"],
      ["-R", "--json", "img"],
      ["-R", "pwd", "img", "--"],
      ["--request=pwd", "img"],
      ["-R"],
      ["-R", "pwd", "a", "b"],
    ]) {
      expect(parseQuick(argv, {}), argv.join(" ")).toBeNull();
    }
  });

  it("leaves the command line to oclif when the environment holds what oclif reads", () => {
    const argv = ["-R", "pwd", "img"];
    expect(parseQuick(argv, { EXT4_DEBUG_CONTENT_TYPE: "json" })).toBeNull();
    expect(parseQuick(argv, { DEBUG: "*" })).toBeNull();
    expect(parseQuick(argv, { HOME: "/root" })).not.toBeNull();
  });
});
