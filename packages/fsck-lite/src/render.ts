/**
 * Renderers: the same {@link CheckResult} as e2fsck-style text (pass
 * headers, one line per problem, the closing summary line) or as JSON for
 * CI systems. Both are pure functions returning strings.
 */
import type { CheckResult } from "./check.js";
import type { Pass, Problem } from "./problems.js";

const PASS_TITLES: Record<Pass, string> = {
  0: "",
  1: "Pass 1: Checking inodes, blocks, and sizes",
  2: "Pass 2: Checking directory structure",
  3: "Pass 3: Checking directory connectivity",
  4: "Pass 4: Checking reference counts",
  5: "Pass 5: Checking group summary information",
};

/** Options of {@link renderHuman}. */
export interface HumanOptions {
  /** Only the problems, each prefixed with the device name (fsck -p style); nothing when clean. */
  quiet?: boolean;
  /** Include info-level notes (not printed by e2fsck). Default true except in quiet mode. */
  info?: boolean;
}

function problemLine(p: Problem): string {
  const tag = p.severity === "error" ? "" : p.severity === "warning" ? "warning: " : "note: ";
  return `${tag}${p.message.charAt(0).toUpperCase()}${p.message.slice(1)} [${p.code}]`;
}

/** e2fsck's closing line: `NAME: used/total files (x% non-contiguous), used/total blocks`. */
export function summaryLine(r: CheckResult): string {
  const s = r.summary;
  return `${s.name}: ${s.inodesUsed}/${s.inodesCount} files (${s.nonContiguousPercent.toFixed(1)}% non-contiguous), ${s.blocksUsed}/${s.blocksCount} blocks`;
}

/** Renders a result as e2fsck-style text (trailing newline included). */
export function renderHuman(r: CheckResult, options: HumanOptions = {}): string {
  const quiet = options.quiet === true;
  const showInfo = options.info ?? !quiet;
  const shown = r.problems.filter((p) => showInfo || p.severity !== "info");
  const out: string[] = [];
  if (r.verdict === "operational-error") {
    out.push(`${r.summary.name}: cannot check: ${r.error?.message ?? "unknown error"}`);
    return `${out.join("\n")}\n`;
  }
  if (quiet) {
    for (const p of shown) out.push(`${r.summary.name}: ${problemLine(p)}`);
    return out.length === 0 ? "" : `${out.join("\n")}\n`;
  }
  const byPass = new Map<Pass, Problem[]>();
  for (const p of shown) {
    const list = byPass.get(p.pass) ?? [];
    list.push(p);
    byPass.set(p.pass, list);
  }
  const rec = r.recovery;
  if (rec !== undefined) {
    out.push(
      `${r.summary.name}: journal recovered in memory: ${rec.transactions} transactions, ${rec.blocks} blocks${rec.skipped > 0 ? `, ${rec.skipped} damaged copies skipped` : ""}`,
    );
  }
  for (const p of byPass.get(0) ?? []) out.push(problemLine(p));
  for (const pass of [1, 2, 3, 4, 5] as const) {
    if (!r.summary.passesRun.includes(pass)) continue;
    out.push(PASS_TITLES[pass]);
    for (const p of byPass.get(pass) ?? []) out.push(problemLine(p));
  }
  if (r.summary.dropped > 0) out.push(`(${r.summary.dropped} further problems not recorded)`);
  if (r.verdict === "errors") {
    const stopped =
      r.summary.passesRun.length < 6 ? " (the check stopped early, as e2fsck -n would)" : "";
    out.push(
      "",
      `${r.summary.name}: ********** WARNING: Filesystem still has errors **********${stopped}`,
      "",
    );
  }
  out.push(summaryLine(r));
  return `${out.join("\n")}\n`;
}

/** The JSON document `--json` prints. */
export interface JsonReport {
  version: 1;
  verdict: CheckResult["verdict"];
  exitCode: number;
  summary: CheckResult["summary"];
  error?: { code: string; message: string };
  /** What `--replay` recovered in memory. */
  recovery?: CheckResult["recovery"];
  problems: Array<{
    code: string;
    pass: Pass;
    severity: string;
    fixable: boolean;
    message: string;
    inode?: number;
    block?: number;
    entry?: string;
    group?: number;
    context: Problem["context"];
  }>;
}

/** Builds the JSON report of a result (every problem with code, pass, severity and location). */
export function toJson(r: CheckResult): JsonReport {
  return {
    version: 1,
    verdict: r.verdict,
    exitCode: r.exitCode,
    summary: r.summary,
    ...(r.error === undefined ? {} : { error: r.error }),
    ...(r.recovery === undefined ? {} : { recovery: r.recovery }),
    problems: r.problems.map((p) => ({
      code: p.code,
      pass: p.pass,
      severity: p.severity,
      fixable: p.fixable,
      message: p.message,
      ...(p.context.ino === undefined ? {} : { inode: p.context.ino }),
      ...(p.context.blk === undefined ? {} : { block: p.context.blk }),
      ...(p.context.entry === undefined ? {} : { entry: p.context.entry }),
      ...(p.context.group === undefined ? {} : { group: p.context.group }),
      context: p.context,
    })),
  };
}

/** Renders a result as pretty JSON (trailing newline included). */
export function renderJson(r: CheckResult): string {
  return `${JSON.stringify(toJson(r), null, 2)}\n`;
}
