import { describe, expect, it } from "vitest";
import { isFuseError } from "./errors.js";
import { planMount } from "./mount-options.js";

describe("planMount", () => {
  it("uses mount(2) as root with fsname as source and fuse.SUBTYPE as type", () => {
    expect(
      planMount(
        { mountpoint: "/m", fsname: "img", subtype: "fuse4fs", allowOther: true, maxRead: 1 << 20 },
        true,
      ),
    ).toEqual({
      method: "mount",
      source: "img",
      fstype: "fuse.fuse4fs",
      readOnly: false,
      kernelOptions: "allow_other,default_permissions,max_read=1048576",
      mountFlags: 0,
      fusermountOptions:
        "fsname=img,subtype=fuse4fs,allow_other,default_permissions,max_read=1048576",
    });
  });

  it("uses fusermount3 when not root, plain fuse without subtype, ro as a flag", () => {
    const p = planMount(
      { mountpoint: "/m", readOnly: true, defaultPermissions: false, options: ["noatime"] },
      false,
    );
    expect(p).toMatchObject({
      method: "fusermount",
      fstype: "fuse",
      readOnly: true,
      kernelOptions: "noatime",
    });
    expect(p.fusermountOptions).toBe("fsname=native-fuse,ro,noatime");
    expect(planMount({ mountpoint: "/m", method: "fusermount" }, true).method).toBe("fusermount");
  });

  it("keeps nosuid,nodev unless suid/dev are asked for; noexec on request", () => {
    expect(planMount({ mountpoint: "/m" }, true).mountFlags).toBe(0);
    const p = planMount({ mountpoint: "/m", suid: true, dev: true, noexec: true }, true);
    expect(p.mountFlags).toBe(7);
    expect(p.fusermountOptions).toBe("fsname=native-fuse,suid,dev,noexec,default_permissions");
    expect(planMount({ mountpoint: "/m", dev: true }, false).mountFlags).toBe(2);
  });

  it("refuses values that would inject options", () => {
    for (const bad of [
      { mountpoint: "" },
      { mountpoint: "/m", fsname: "a,b" },
      { mountpoint: "/m", subtype: "x y" },
      { mountpoint: "/m", options: ["a,b"] },
      { mountpoint: "/m", maxRead: 100 },
      { mountpoint: "/m\0" },
    ]) {
      let err: unknown;
      try {
        planMount(bad, true);
      } catch (e) {
        err = e;
      }
      expect(isFuseError(err, "ERR_FUSE_ARGUMENT")).toBe(true);
    }
  });
});
