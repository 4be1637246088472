import { beforeAll, describe, expect, it } from "vitest";
import { Session } from "../session.js";
import { buildTree, mkfs } from "../test-support/images.js";
import { completer, historyPath, PROMPT } from "./repl.js";

let image: string;

beforeAll(() => {
  image = mkfs({ from: buildTree({ bigDirEntries: 3, devices: false }).root });
});

describe("interactive shell", () => {
  it("uses debugfs's prompt and keeps history in the home directory", () => {
    expect(PROMPT).toBe("debugfs:  ");
    expect(historyPath()).toMatch(/\/\.ext4_debug_history$/);
  });

  it("completes command names in the first word", () => {
    const s = new Session();
    const [names, frag] = completer(s, "sta");
    expect(frag).toBe("sta");
    expect(names).toEqual(expect.arrayContaining(["stat", "stats"]));
    expect(names.every((n) => n.startsWith("sta"))).toBe(true);
    // No image: nothing to complete paths from.
    expect(completer(s, "ls /d")).toEqual([[], "/d"]);
  });

  it("completes paths in the image, directories with a slash, odd names quoted", () => {
    const s = new Session();
    s.openImage(image);
    try {
      expect(completer(s, "ls /di")).toEqual([["/dir/"], "/di"]);
      expect(completer(s, "cat /dir/ne")).toEqual([["/dir/nested/"], "/dir/ne"]);
      expect(completer(s, "cat /name")).toEqual([['"/name with spaces"'], "/name"]);
      expect(completer(s, "stat /nope/x")).toEqual([[], "/nope/x"]);
      s.run("cd /dir");
      expect(completer(s, "stat mo")).toEqual([["mode-0600"], "mo"]);
    } finally {
      s.dispose();
    }
  });
});
