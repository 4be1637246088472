/**
 * Command-line parsing the way debugfs does it: the line is split by the ss
 * library's `ss_parse` (lib/ss/parse.c), and each command reads its options
 * with glibc's `getopt` (which permutes, so `ls /dir -l` works).
 */

/** A line that could not be split (an open double quote). */
export class ParseError extends Error {
  override readonly name = "ParseError";
}

/**
 * Splits one command line into words as `ss_parse` does: words are separated
 * by spaces and tabs; a double quote starts a quoted run that may contain
 * spaces, and `""` inside a quoted run is a literal quote. There is no
 * backslash escaping and no single quoting (ss has neither). Throws
 * {@link ParseError} on an unbalanced quote ("Unbalanced quotes in command
 * line", ss's own message).
 */
export function splitLine(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && (line[i] === " " || line[i] === "\t")) i++;
    if (i >= n) break;
    let word = "";
    let quoted = false;
    while (i < n) {
      const c = line[i]!;
      if (quoted) {
        if (c === '"') {
          if (line[i + 1] === '"') {
            word += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          word += c;
          i++;
        }
      } else if (c === " " || c === "\t") {
        break;
      } else if (c === '"') {
        quoted = true;
        i++;
      } else {
        word += c;
        i++;
      }
    }
    if (quoted) throw new ParseError("Unbalanced quotes in command line");
    words.push(word);
  }
  return words;
}

/** Quotes a word so that {@link splitLine} gives it back unchanged (for completion and history). */
export function quoteWord(word: string): string {
  if (word !== "" && !/[\s"]/.test(word)) return word;
  return `"${word.replaceAll('"', '""')}"`;
}

/** What an option letter takes: nothing, or an argument (`b:` in a getopt string). */
export type OptSpec = Record<string, "flag" | "value">;

/** The result of {@link getopt}: options in the order given, and the remaining operands. */
export interface GetoptResult {
  /** Each option as met; a flag's value is the empty string. */
  readonly opts: ReadonlyArray<{ readonly opt: string; readonly value: string }>;
  /** Operands, with options removed (glibc permutes them to the end). */
  readonly operands: readonly string[];
}

/** An unknown option or a missing option argument; commands answer with their usage line. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/**
 * glibc `getopt` over `argv` (without argv[0]), in its default permuting
 * mode: options may follow operands, `--` ends options, a lone `-` is an
 * operand, clustered flags (`-lp`) and attached values (`-b1024`) are
 * accepted. Throws {@link UsageError} for an unknown option or a missing
 * argument, where getopt would return '?'.
 */
export function getopt(argv: readonly string[], spec: OptSpec): GetoptResult {
  const opts: Array<{ opt: string; value: string }> = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      operands.push(...argv.slice(i + 1));
      break;
    }
    if (arg.length < 2 || !arg.startsWith("-")) {
      operands.push(arg);
      continue;
    }
    for (let j = 1; j < arg.length; j++) {
      const opt = arg[j]!;
      const kind = spec[opt];
      if (kind === undefined) throw new UsageError(`invalid option -- '${opt}'`);
      if (kind === "flag") {
        opts.push({ opt, value: "" });
        continue;
      }
      if (j + 1 < arg.length) {
        opts.push({ opt, value: arg.slice(j + 1) });
      } else {
        const next = argv[i + 1];
        if (next === undefined) throw new UsageError(`option requires an argument -- '${opt}'`);
        opts.push({ opt, value: next });
        i++;
      }
      break;
    }
  }
  return { opts, operands };
}

/** True when option `opt` was given at least once. */
export function hasOpt(r: GetoptResult, opt: string): boolean {
  return r.opts.some((o) => o.opt === opt);
}

/** The last value given for option `opt`, or undefined. */
export function optValue(r: GetoptResult, opt: string): string | undefined {
  let v: string | undefined;
  for (const o of r.opts) if (o.opt === opt) v = o.value;
  return v;
}

/**
 * C's `strtoul(str, &end, 0)` with the requirement that the whole string is
 * consumed (debugfs's parse_ulong): decimal, `0x` hex or leading-0 octal,
 * optional leading whitespace and sign as strtoul allows. Returns null when
 * the string is not entirely a number or the value exceeds 2^53 (we cannot
 * represent it exactly, and no on-disk quantity we address is that large).
 */
export function parseCNumber(str: string): number | null {
  const m = /^[ \t\n\v\f\r]*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(str);
  if (m === null) return null;
  const digits = m[2]!;
  let value: bigint;
  if (/^0[xX]/.test(digits)) value = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith("0")) value = BigInt(`0o${digits.slice(1)}`);
  else value = BigInt(digits);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return null;
  const n = Number(value);
  // strtoul negates in unsigned arithmetic; a negative block or inode number is never meaningful.
  if (m[1] === "-" && n !== 0) return null;
  return n;
}
