/** Test-only assertions shared by the directory tests. */
import { isExt4Error } from "../../errors.js";

/** Runs `f`; passes if it returns or throws an Ext4Error, rethrows anything else. */
export function parsesOrExt4Error(f: () => unknown): void {
  try {
    f();
  } catch (e) {
    if (!isExt4Error(e)) throw e;
  }
}

/** The code of the Ext4Error `f` throws; fails if it returns or throws something else. */
export function codeOf(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isExt4Error(e)) return e.code;
    throw e;
  }
  throw new Error("expected an Ext4Error");
}
