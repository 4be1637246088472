/**
 * Notifications to the kernel on a real mount with long cache timeouts:
 * changes made behind the kernel's back stay invisible until the matching
 * notification drops the cached attributes or dentry.
 */
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { FUSE_ROOT_ID } from "./abi.js";
import { ERRNO } from "./errors.js";
import {
  canMount,
  DISPATCH_MODES,
  type Mounted,
  mountMemFs,
  teardown,
  useDispatch,
} from "./test-support/harness.js";
import { run } from "./test-support/run.js";

const mountable = canMount();

describe.skipIf(!mountable).each(DISPATCH_MODES)("notifications (dispatch: %s)", (mode) => {
  beforeAll(() => useDispatch(mode));
  let m: Mounted | undefined;
  afterEach(async () => {
    await teardown(m);
    m = undefined;
  });

  it("NOTIFY_INVAL_INODE drops cached attributes", async () => {
    m = mountMemFs({
      fs: { timeout: 600 },
      setup: (fs) => fs.writeFile("/f", Buffer.from("12345")),
    });
    const size = async (): Promise<string> =>
      (await run("stat", ["-c", "%s", `${m?.mp}/f`])).stdout.toString().trim();
    expect(await size()).toBe("5");
    const node = m.fs.writeFile("/f", Buffer.from("1234567890"));
    expect(await size()).toBe("5");
    expect(await m.session.notifyInvalInode(node.id, -1, 0)).toBe(0);
    expect(await size()).toBe("10");
  });

  it("NOTIFY_INVAL_ENTRY drops a cached name; an uncached one answers ENOENT", async () => {
    m = mountMemFs({ fs: { timeout: 600 }, setup: (fs) => fs.writeFile("/a", Buffer.from("A")) });
    expect((await run("cat", [`${m.mp}/a`])).stdout.toString()).toBe("A");
    // Rename behind the kernel's back: the dentry for "a" is still cached.
    const root = m.fs.node(FUSE_ROOT_ID);
    const id = root.children?.get("a");
    if (id === undefined) throw new Error("no /a");
    root.children?.delete("a");
    root.children?.set("b", id);
    expect((await run("stat", ["-c", "%i", `${m.mp}/a`])).code).toBe(0);
    expect(await m.session.notifyInvalEntry(FUSE_ROOT_ID, "a")).toBe(0);
    const gone = await run("stat", [`${m.mp}/a`]);
    expect(gone.stderr).toMatch(/No such file/);
    expect((await run("cat", [`${m.mp}/b`])).stdout.toString()).toBe("A");
    expect(await m.session.notifyInvalEntry(FUSE_ROOT_ID, "never-looked-up")).toBe(ERRNO.ENOENT);
  });

  it("NOTIFY_DELETE removes a cached entry of a deleted node", async () => {
    m = mountMemFs({ fs: { timeout: 600 }, setup: (fs) => fs.writeFile("/d/c", Buffer.from("C")) });
    expect((await run("cat", [`${m.mp}/d/c`])).stdout.toString()).toBe("C");
    const dir = m.fs.resolve("/d");
    const child = m.fs.resolve("/d/c");
    dir.children?.delete("c");
    child.nlink = 0;
    expect((await run("stat", [`${m.mp}/d/c`])).code).toBe(0);
    expect(await m.session.notifyDelete(dir.id, child.id, "c")).toBe(0);
    expect((await run("stat", [`${m.mp}/d/c`])).stderr).toMatch(/No such file/);
  });

  it("can be sent from inside a handler of a request on the same directory (no deadlock)", async () => {
    let notified: Promise<number> | undefined;
    m = mountMemFs({ fs: { timeout: 600 }, setup: (fs) => fs.writeFile("/x", Buffer.from("x")) });
    const { session } = m;
    expect((await run("stat", [`${m.mp}/x`])).code).toBe(0);
    // INVAL_ENTRY takes the directory lock the pending LOOKUP of "y" holds:
    // written from the JS thread it would deadlock; from the notify thread it waits.
    m.fs.onLookup = (name) => {
      if (name === "y") notified = session.notifyInvalEntry(FUSE_ROOT_ID, "x");
    };
    const y = await run("stat", [`${m.mp}/y`], { timeoutMs: 5000 });
    expect(y.stderr).toMatch(/No such file/);
    expect(await notified).toBe(0);
  });
});
