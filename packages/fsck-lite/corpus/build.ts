/**
 * Builds the corpus: the source tree, one clean base image per profile, and
 * one broken copy per case, each judged by the real `e2fsck -fn`. Used by the
 * corpus test (into a temp dir) and by `pnpm corpus` (into .corpus/).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CaseCtx, type CorpusCase, expandCases } from "./cases.ts";
import { buildTree, copyImage, makeBase, PROFILES, type ProfileName } from "./images.ts";
import { type E2fsckResult, runE2fsck } from "./tools.ts";

/** One built image with the oracle's verdict. */
export interface BuiltCase {
  readonly name: string;
  readonly profile: ProfileName;
  /** What was broken ("" for a clean base image). */
  readonly what: string;
  readonly image: string;
  readonly expected: E2fsckResult;
}

/** Options for {@link buildCorpus}. */
export interface BuildOptions {
  /** Only cases whose name contains one of these strings. */
  readonly filter?: readonly string[];
  /** Write `<case>.e2fsck.json` beside each image. */
  readonly writeExpected?: boolean;
  /** Called after each case (progress). */
  readonly onCase?: (c: BuiltCase) => void;
}

/**
 * Builds every case into `dir` and returns them, clean bases first. Throws
 * if a base image is not clean or a mutation fails to apply (a case that
 * breaks nothing would test nothing).
 */
export function buildCorpus(
  dir: string,
  options: BuildOptions = {},
): { clean: BuiltCase[]; cases: BuiltCase[] } {
  mkdirSync(dir, { recursive: true });
  const tree = join(dir, "tree");
  buildTree(tree);
  const wanted = (name: string) =>
    options.filter === undefined ||
    options.filter.length === 0 ||
    options.filter.some((f) => name.includes(f));
  const cases = expandCases().filter((c) => wanted(c.name));
  const profiles = new Set<ProfileName>(cases.map((c) => c.profile));
  if (options.filter === undefined || options.filter.length === 0) {
    for (const p of Object.keys(PROFILES) as ProfileName[]) profiles.add(p);
  }
  const bases = new Map<ProfileName, string>();
  const clean: BuiltCase[] = [];
  for (const name of profiles) {
    const base = makeBase(PROFILES[name], tree, dir);
    bases.set(name, base);
    const built = {
      name: `clean@${name}`,
      profile: name,
      what: "",
      image: base,
      expected: runE2fsck(base),
    };
    clean.push(built);
    if (options.writeExpected) record(built);
    options.onCase?.(built);
  }
  const out: BuiltCase[] = [];
  for (const c of cases) {
    const built = buildOne(c, bases.get(c.profile)!, dir);
    out.push(built);
    if (options.writeExpected) record(built);
    options.onCase?.(built);
  }
  return { clean, cases: out };
}

function buildOne(c: CorpusCase, base: string, dir: string): BuiltCase {
  const image = join(dir, `${c.name.replace(/[^A-Za-z0-9_.@-]/g, "_")}.img`);
  copyImage(base, image);
  try {
    c.def.apply(new CaseCtx(image, PROFILES[c.profile]));
  } catch (e) {
    throw new Error(`case ${c.name}: mutation failed: ${(e as Error).message}`);
  }
  return { name: c.name, profile: c.profile, what: c.def.what, image, expected: runE2fsck(image) };
}

function record(c: BuiltCase): void {
  writeFileSync(
    c.image.replace(/\.img$/, ".e2fsck.json"),
    `${JSON.stringify({ name: c.name, what: c.what, status: c.expected.status, passes: c.expected.passes, lines: c.expected.lines }, null, 2)}\n`,
  );
}
